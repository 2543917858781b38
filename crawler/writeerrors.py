"""Failures to write the archive: one-line messages, and a full disk or an archive that is
not writable (read-only directory or file system) stopping the crawl cleanly instead of
failing every later write one by one."""
from __future__ import annotations

import errno
import logging

from scrapy.utils.defer import deferred_from_coro

logger = logging.getLogger(__name__)

CLOSE_REASON = "disk_full"
UNWRITABLE_REASON = "archive_unwritable"
UNWRITABLE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)


def is_disk_full(exc: BaseException) -> bool:
    """True for "no space left" from the OS or "database or disk is full" from SQLite."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "disk is full" in str(exc) or "No space left" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def is_unwritable(exc: BaseException) -> bool:
    """True for "permission denied" or "read-only file system" from the OS, or SQLite's
    "attempt to write a readonly database"."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in UNWRITABLE_ERRNOS:
            return True
        if "readonly database" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def stop_if_cannot_write(crawler, exc: BaseException) -> str | None:
    """Close the spider when ``exc`` means no later write can succeed either: the disk is
    full (reason ``disk_full``) or the archive is not writable (``archive_unwritable``).

    Returns that reason, or None; the first call logs it, later ones stay quiet.
    """
    if is_disk_full(exc):
        reason, why = CLOSE_REASON, "no space left on the device of %s (%s): stopping the crawl"
        advice = "free some space and run again"
    elif is_unwritable(exc):
        reason, why = UNWRITABLE_REASON, "the archive %s is not writable (%s): stopping the crawl"
        advice = "make it writable (permissions, read-only mount) and run again"
    else:
        return None
    if not getattr(crawler, "newsarchive_write_stopped", None):
        crawler.newsarchive_write_stopped = reason
        logger.error(why + "; what is archived so far stays consistent, " + advice,
                     crawler.settings["ARCHIVE_DIR"], error_line(exc))
        deferred_from_coro(crawler.engine.close_spider_async(reason=reason))
    return reason


def error_line(exc: BaseException) -> str:
    """An exception as one short line (SQLAlchemy's messages carry the SQL and a help URL)."""
    return (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0][:300]
