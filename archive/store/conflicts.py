"""Transactions that lost a race with another writer of a shared catalog, tried again.

Several crawl processes on one PostgreSQL catalog insert the same article URLs, the same
listings and the same notes, and update the same article rows. The database decides who
wins: the loser gets a unique-constraint violation (``IntegrityError``), or, when two
transactions wait for each other's rows, PostgreSQL aborts one (deadlock, SQLSTATE 40P01;
serialization failure, 40001). Run again, the loser's transaction sees the winner's rows.
"""
from __future__ import annotations

import functools
import logging
import random
import time

from sqlalchemy.exc import DBAPIError, IntegrityError

logger = logging.getLogger(__name__)

RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock detected
ATTEMPTS = 5


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost race that the same transaction run again can win."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RETRY_SQLSTATES


def retry_on_conflict(method):
    """Run ``method`` (one transaction) again, up to ``ATTEMPTS`` times, after a conflict."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return method(*args, **kwargs)
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not is_conflict(exc):
                    raise
                logger.debug("%s lost a race with another writer (%s); trying again", method.__name__,
                             type(exc.orig).__name__)
                time.sleep(random.uniform(0, 0.05 * attempt))  # the two do not collide again at once

    return wrapper
