"""``scrapy crawl``, with the archive's lock, crash recovery and meaningful exit codes.

Exit codes: 0 done; 2 bad configuration (outlets file, archive directory); 3 no outlet
could be reached; 4 the archive is locked by another run; 5 the disk filled up; 6 the
archive could not be written (read-only); 1 Scrapy failed to start.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from archive.store.catalog import Catalog, catalog_is_shared, catalog_url_for
from archive.store.lock import ArchiveLock, ArchiveLocked, WorkerLock, live_workers
from archive.store.manifest import remove_stale_manifests
from archive.store.textstore import recover_pending
from archive.warc.writer import repair_open_files
from crawler.outlets import OutletsFileError, load_outlets

logger = logging.getLogger(__name__)

EXIT_CONFIG, EXIT_LOCKED = 2, 4


class Command(ScrapyCrawlCommand):
    """Run a spider; for ``news``: lock the archive, repair it after a crash, then crawl.

    With a shared catalog (PostgreSQL) this process is one of several workers: it locks
    only itself (see :class:`WorkerLock`) and repairs only what dead workers left."""

    def run(self, args: list[str], opts) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name: scrapy crawl news")
        if args[0] != "news":
            return super().run(args, opts)
        settings = self.settings
        archive_dir = Path(settings["ARCHIVE_DIR"]).expanduser()
        settings.set("ARCHIVE_DIR", str(archive_dir), priority="cmdline")
        try:
            load_outlets(settings["OUTLETS_FILE"], opts.spargs.get("outlet"))
            _prepare_archive_dir(archive_dir)
        except (OutletsFileError, OSError) as exc:
            return self._fail(EXIT_CONFIG, f"error: {exc}")
        catalog_url = settings.get("CATALOG_URL") or catalog_url_for(str(archive_dir))
        lock = WorkerLock(archive_dir) if catalog_is_shared(catalog_url) else ArchiveLock(archive_dir)
        try:
            lock.acquire(wait_seconds=settings.getfloat("LOCK_WAIT", 0))
        except ArchiveLocked as exc:
            return self._fail(EXIT_LOCKED, f"error: {exc}")
        try:
            _recover(archive_dir, catalog_url, live_workers(archive_dir))
            crawler = self._create_crawler(args[0])
            self.crawler_process.crawl(crawler, **opts.spargs)
            self.crawler_process.start()
            if self.crawler_process.bootstrap_failed:
                self.exitcode = 1
            else:
                self.exitcode = getattr(crawler, "newsarchive_exit_code", 0)
                print(getattr(crawler, "newsarchive_verdict", ""), file=sys.stderr)
        finally:
            lock.release()

    def _fail(self, code: int, message: str) -> None:
        print(message, file=sys.stderr)
        self.exitcode = code


def _prepare_archive_dir(archive_dir: Path) -> None:
    try:
        archive_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only parent, a path through a regular file, ...
        existing = next(p for p in (archive_dir, *archive_dir.parents) if p.exists() or p.is_symlink())
        why = f"{existing} is a file, not a directory" if not existing.is_dir() else \
            f"cannot create it in {existing}: {exc.strerror}"
        raise PermissionError(f"archive directory {archive_dir} is not writable ({why})") from None
    if not os.access(archive_dir, os.W_OK | os.X_OK):
        raise PermissionError(f"archive directory {archive_dir} is not writable")


def _recover(archive_dir: Path, catalog_url: str, live: frozenset[str]) -> None:
    """Undo what a killed run left half-done, before anything new is written (but what
    the ``live`` workers, this one included, are writing)."""
    for path, old, new in repair_open_files(archive_dir, live):
        if old != new:
            logger.warning("WARC %s was torn by a crash: cut from %d to %d bytes", path, old, new)
    catalog = Catalog(catalog_url)
    try:
        report = recover_pending(archive_dir, catalog, live)
    finally:
        catalog.close()
    report["stale manifests"] = remove_stale_manifests(archive_dir, live)
    if any(report.values()):
        logger.warning("after a crash: %(completed)d text files completed, %(discarded)d discarded, "
                       "%(stale manifests)d half-written manifests removed", report)
