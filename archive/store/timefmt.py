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


def parse_iso(text: str) -> datetime:
    """A catalog time (UTC ISO 8601, ``...Z``) as an aware datetime."""
    moment = datetime.fromisoformat(text)  # (far faster than strptime; reads the Z as UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def seconds_between(start: str | None, end: str) -> int | None:
    """Whole seconds from ``start`` (an ISO 8601 time with a time of day, as pages and feeds
    give them, any offset) to ``end`` (a catalog time); None when ``start`` is missing, has
    no time of day (a bare date would make the delay up to a day wrong) or lies after ``end``."""
    if not start or "T" not in start:
        return None
    try:
        seconds = (parse_iso(end) - parse_iso(start.strip())).total_seconds()
    except ValueError:
        return None
    return int(seconds) if seconds >= 0 else None
