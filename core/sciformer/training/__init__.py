"""Single-process training: recipes, the trainer, objectives, schedules and resumable state."""
