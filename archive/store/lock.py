"""Advisory lock files (``flock``): one crawl at a time per archive (``ARCHIVE_DIR/.lock``),
and the same helpers for the scheduler's own lock and for asking whether a lock is held.

With a shared catalog (PostgreSQL) many crawl processes ("workers", on one machine or on
several sharing ``ARCHIVE_DIR``) write into one archive: each then holds ``.lock`` shared
(a re-extraction in place, or a crawl with its own SQLite catalog, still excludes them all)
and its own ``.workers/<host>-<pid>.lock``, which tells the others that its temporary
files and open WARC files are still being written.

A lock file holds ``pid N since TIME`` of its holder, for the message another process gives.
The kernel releases a ``flock`` when its holder dies, so no stale lock is left behind.
"""
from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from .timefmt import utc_now


ARCHIVE_LOCK_FILE = ".lock"
WORKERS_DIR = ".workers"
HOST = socket.gethostname().split(".")[0] or "host"  # as in WARC file names


def worker_id() -> str:
    """This process as a worker: ``<host>-<pid>`` (the end of its WARC file names)."""
    return f"{HOST}-{os.getpid()}"


def owner_of_temporary(name: str) -> str:
    """The worker that wrote temporary file ``name`` (``<key>.<host>-<pid>[.<n>].tmp``)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 else ""


class LockHeld(RuntimeError):
    """Another process holds the lock file; ``holder`` is what it wrote there."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by {holder or 'unknown process'}")
        self.path = path
        self.holder = holder


class ArchiveLocked(RuntimeError):
    """Another process holds the archive's lock."""


def take_lock(path: Path, wait_seconds: float = 0.0, poll: float = 0.5, shared: bool = False) -> int:
    """Exclusive (or ``shared``) ``flock`` on ``path`` (created if missing), waiting up to
    ``wait_seconds``.

    Returns the open file descriptor (give it to :func:`release_lock`); raises
    :class:`LockHeld` if another process still holds the lock (exclusively, for ``shared``).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                os.close(fd)
                raise LockHeld(path, holder) from None
            time.sleep(poll)
    if shared:  # the file names whoever holds it exclusively
        return fd
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} since {utc_now()}".encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    """Give up a lock from :func:`take_lock` (also happens when the process exits)."""
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def lock_held(path: Path) -> bool:
    """True while another process holds an exclusive lock on ``path`` (missing file: False)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # missing (or unreadable): nobody can hold it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


class ArchiveLock:
    """Exclusive ``flock`` on ``<archive>/.lock``; released when the process dies."""

    def __init__(self, archive_dir: str | os.PathLike):
        self.path = Path(archive_dir) / ARCHIVE_LOCK_FILE
        self._fd: int | None = None

    def acquire(self, wait_seconds: float = 0.0, poll: float = 0.5) -> None:
        """Take the lock, waiting up to ``wait_seconds``; raise ArchiveLocked if held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fd = take_lock(self.path, wait_seconds, poll)
        except LockHeld as exc:
            raise ArchiveLocked(
                f"archive {self.path.parent} is in use by another run "
                f"({exc.holder or 'unknown process'}); try again later"
            ) from None

    def release(self) -> None:
        """Give the lock up (also happens when the process exits)."""
        if self._fd is not None:
            release_lock(self._fd)
            self._fd = None

    def __enter__(self) -> "ArchiveLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def live_workers(archive_dir: str | os.PathLike) -> frozenset[str]:
    """The workers (``<host>-<pid>``) that hold their lock in ``archive_dir`` now."""
    directory = Path(archive_dir) / WORKERS_DIR
    if not directory.is_dir():
        return frozenset()
    return frozenset(path.stem for path in directory.glob("*.lock") if lock_held(path))


def archive_in_use(archive_dir: str | os.PathLike) -> bool:
    """Whether a crawl or a re-extraction runs on ``archive_dir`` (one alone, or workers)."""
    return lock_held(Path(archive_dir) / ARCHIVE_LOCK_FILE) or bool(live_workers(archive_dir))


class WorkerLock:
    """One worker's locks on an archive shared by several: ``.lock`` shared, and its own
    ``.workers/<host>-<pid>.lock`` (removed when it is released). Raises ArchiveLocked while
    a process holds ``.lock`` exclusively."""

    def __init__(self, archive_dir: str | os.PathLike):
        self.archive_lock = Path(archive_dir) / ARCHIVE_LOCK_FILE
        self.path = Path(archive_dir) / WORKERS_DIR / f"{worker_id()}.lock"
        self._fds: list[int] = []

    def acquire(self, wait_seconds: float = 0.0, poll: float = 0.5) -> None:
        """Take both locks, waiting up to ``wait_seconds`` for an exclusive holder of ``.lock``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fds.append(take_lock(self.archive_lock, wait_seconds, poll, shared=True))
        except LockHeld as exc:
            raise ArchiveLocked(
                f"archive {self.archive_lock.parent} is in use by a run that needs it alone "
                f"({exc.holder or 'unknown process'}); try again later"
            ) from None
        self._fds.append(take_lock(self.path))

    def release(self) -> None:
        """Give both locks up (also happens when the process exits)."""
        if len(self._fds) == 2:
            self.path.unlink(missing_ok=True)
        while self._fds:
            release_lock(self._fds.pop())
