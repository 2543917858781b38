"""When to look at an archived article again: back off while it stays unchanged."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .timefmt import format_utc, parse_iso

DEFAULT_INTERVALS = (15 * 60, 3600, 3 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400)
DEFAULT_STOP_AFTER = 30 * 86400


@dataclass(frozen=True)
class RecheckPolicy:
    """Intervals between checks (seconds), reset to the first one when an edit is found."""

    intervals: tuple[int, ...] = DEFAULT_INTERVALS
    stop_after: int = DEFAULT_STOP_AFTER

    def schedule(self, first_seen: str, step: int, changed: bool, now: str) -> tuple[int, str | None]:
        """(next step, next check time or None when checks stop) after a check at ``now``."""
        step = 0 if changed else min(step + 1, len(self.intervals) - 1)
        moment = parse_iso(now)
        if moment - parse_iso(first_seen) >= timedelta(seconds=self.stop_after):
            return step, None
        return step, format_utc(moment + timedelta(seconds=self.intervals[step]))
