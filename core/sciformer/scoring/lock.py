"""One writer per output: an exclusive `flock` on `OUT.lock`, held for the whole run.

The operating system releases the lock when its process ends, however it ends, so a run killed with
SIGKILL never leaves a stale lock behind: the file may remain, but the next run takes it. The owner
removes the file while still holding the lock; a run that locked a file some other run had just
removed notices that the path no longer names its file and tries again.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType

from typing_extensions import Self

from sciformer.errors import OutputError


class OutputLock:
    """Exclusive ownership of `output` by this process; a second owner is refused in one line."""

    def __init__(self, output: Path, advice: str = "choose another --output") -> None:
        self.output = Path(output)
        self.advice = advice
        self.path = self.output.with_name(self.output.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise OutputError naming the process that holds it."""
        while self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise OutputError(f"cannot write beside {self.output}: {error.strerror} ({self.path})") from error
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 256, 0).decode("utf-8", "replace").strip() or "an unknown process"
                os.close(fd)
                raise OutputError(f"{self.output} is being written by another run ({holder}); wait for it to finish or {self.advice}") from None
            if _same_file(fd, self.path):
                self._fd = fd
            else:  # the previous owner removed the file between our open and our lock
                os.close(fd)
        owner = f"pid {os.getpid()} on {socket.gethostname()}, since {dt.datetime.now().isoformat(timespec='seconds')}"
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, owner.encode(), 0)

    def release(self) -> None:
        """Remove the lock file, then give the lock up."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
