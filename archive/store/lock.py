"""One crawl at a time per archive: an advisory lock file (``ARCHIVE_DIR/.lock``)."""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


class ArchiveLocked(RuntimeError):
    """Another process holds the archive's lock."""


class ArchiveLock:
    """Exclusive ``flock`` on ``<archive>/.lock``; released when the process dies."""

    def __init__(self, archive_dir: str | os.PathLike):
        self.path = Path(archive_dir) / ".lock"
        self._fd: int | None = None

    def acquire(self, wait_seconds: float = 0.0, poll: float = 0.5) -> None:
        """Take the lock, waiting up to ``wait_seconds``; raise ArchiveLocked if held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    os.close(fd)
                    raise ArchiveLocked(
                        f"archive {self.path.parent} is in use by another run "
                        f"({holder or 'unknown process'}); try again later"
                    ) from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (also happens when the process exits)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ArchiveLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
