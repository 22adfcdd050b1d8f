"""Training: recipes, the trainer (one process or several under torchrun, DDP or FSDP), objectives,
schedules, resumable state, metrics logs and curves."""
