"""Plugin commands listed by name and help, their modules imported only when the command runs."""

from __future__ import annotations

from typing import Any

import click

from sciformer.lazy import import_object


class LazyCommand(click.Command):
    """The click command (or group) `package.module:name`, shown in `sciformer --help` without importing it.

    Running it, or asking for its own `--help`, imports the module and hands the arguments to the
    real command, so a plugin's torch-heavy tools cost nothing to list.
    """

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name, help=help, add_help_option=False)
        self.target = target
        self._command: click.Command | None = None

    def load(self) -> click.Command:
        """The real command (imported once)."""
        if self._command is None:
            command = import_object(self.target)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.target} is a {type(command).__name__}, not a click command")
            self._command = command
        return self._command

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        """The real command's context: its options, subcommands and help apply."""
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the real command."""
        return self.load().invoke(ctx)
