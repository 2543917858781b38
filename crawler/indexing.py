"""Extension: keep the archive's CDXJ index (``indexes/index.cdxj``, for pywb) up to date.

When the crawl ends it indexes the WARC files that are complete and not indexed yet (see
:mod:`archive.tools.index`). It runs at ``engine_stopped``, after every ``spider_closed``
handler: the WARC writer closes its last file there (and removes its ``.open`` marker), so
this crawl's files are complete by then. A failed update is logged and changes nothing
else: the archive stays consistent, and the next crawl (or ``python -m archive index``)
indexes what is missing.

Settings: INDEX_ENABLED (default on; off also when WARC_ENABLED is off), ARCHIVE_DIR.
"""
from __future__ import annotations

import logging
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured

from archive.tools.index import format_summary, update_index
from archive.tools.reader import ArchiveError

logger = logging.getLogger(__name__)
LOCK_WAIT = 60.0  # seconds to wait for an 'index' run by hand; then the next crawl does it


class IndexWarcs:
    """Indexes this crawl's complete WARC files once the engine has stopped."""

    def __init__(self, archive_dir: str):
        self.archive_dir = archive_dir

    @classmethod
    def from_crawler(cls, crawler) -> "IndexWarcs":
        settings = crawler.settings
        if not settings.getbool("INDEX_ENABLED", True):
            raise NotConfigured("INDEX_ENABLED is off")
        if not settings.getbool("WARC_ENABLED", True):
            raise NotConfigured("WARC_ENABLED is off: no WARC files to index")
        extension = cls(settings["ARCHIVE_DIR"])
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_stopped(self) -> None:
        started = time.monotonic()
        try:
            report = update_index(self.archive_dir, lock_wait=LOCK_WAIT, emit=logger.error)
        except (ArchiveError, OSError) as exc:
            logger.error("cannot update the CDXJ index of %s: %s; the next crawl or "
                         "'python -m archive index' does it", self.archive_dir, exc)
            return
        if report.written or report.failed or report.waiting:
            logger.info("CDXJ index updated in %.1f s: %s", time.monotonic() - started,
                        format_summary(self.archive_dir, report))
