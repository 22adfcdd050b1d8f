"""The exception hierarchy: every user-facing failure is a SciformerError with one clear message."""

from __future__ import annotations


class SciformerError(Exception):
    """Base of every error sciformer raises on purpose; the CLI prints it as one line."""


class ConfigError(SciformerError, ValueError):
    """A configuration, recipe or option has an invalid value."""


class PluginError(SciformerError):
    """A plugin is missing, failed to load, or answered a hook wrongly."""


class InputFileError(SciformerError):
    """A whole input or output file cannot be used (missing, unreadable, wrong layout)."""


class CheckpointError(SciformerError):
    """A checkpoint directory is missing files or does not match its configuration."""


class BadRecordError(SciformerError, ValueError):
    """One record cannot be used; names the record and the reason. Other records go on."""

    def __init__(self, record_id: str, reason: str) -> None:
        super().__init__(f"record {record_id!r}: {reason}")
        self.record_id = record_id
        self.reason = reason


class OutputError(SciformerError):
    """The results file cannot be written: another run owns it, its folder is not writable, the disk is full."""


class TrainingDiverged(SciformerError):
    """The training loss stopped being a finite number: the run stops rather than save what follows."""
