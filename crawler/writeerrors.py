"""Failures to write the archive: one-line messages, and a full disk that stops the crawl
cleanly instead of failing every later write one by one."""
from __future__ import annotations

import errno
import logging

from scrapy.utils.defer import deferred_from_coro

logger = logging.getLogger(__name__)

CLOSE_REASON = "disk_full"


def is_disk_full(exc: BaseException) -> bool:
    """True for "no space left" from the OS or "database or disk is full" from SQLite."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "disk is full" in str(exc) or "No space left" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def stop_if_disk_full(crawler, exc: BaseException) -> bool:
    """Close the spider (reason ``disk_full``) when ``exc`` means the disk is full.

    Returns whether it did; the first call logs the reason, later ones stay quiet.
    """
    if not is_disk_full(exc):
        return False
    if not getattr(crawler, "newsarchive_disk_full", False):
        crawler.newsarchive_disk_full = True
        logger.error("no space left on the device of %s (%s): stopping the crawl; what is archived so far "
                     "stays consistent, free some space and run again", crawler.settings["ARCHIVE_DIR"], exc)
        deferred_from_coro(crawler.engine.close_spider_async(reason=CLOSE_REASON))
    return True


def error_line(exc: BaseException) -> str:
    """An exception as one short line (SQLAlchemy's messages carry the SQL and a help URL)."""
    return (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0][:300]
