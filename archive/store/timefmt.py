"""Times as the archive writes them: UTC ISO 8601 with whole seconds and a ``Z``.

The catalog, the lock files, the listings and the scheduler's logs all use this one
format (``2026-01-31T12:00:00Z``), so that times compare as strings.
"""
from __future__ import annotations

from datetime import datetime, timezone

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> str:
    """Current time as UTC ISO 8601 with seconds and a ``Z``."""
    return datetime.now(timezone.utc).strftime(ISO_UTC)


def format_utc(moment: datetime) -> str:
    """``moment`` in UTC as ISO 8601 with seconds and a ``Z``; a naive time counts as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(ISO_UTC)
