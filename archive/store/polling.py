"""How often to read an outlet's listings: as often as it publishes, within a floor and a ceiling.

After each read of an outlet's feeds, sitemaps and sections, its publishing rate is
estimated from the new articles they yielded over the time watched, both weighted by age
(half-life ``half_life``: what an outlet did a week ago counts little). The next read comes
when ``target`` new articles are expected (0.1: about ten reads between two articles, so a
new one waits about a twentieth of the gap on average), never sooner than ``floor`` and never later
than ``ceiling``. Unchanged listings (304) and listings with nothing new back off; a
burst of news brings the reads down to the floor. The first read of an outlet says nothing
about its rate (its listings hold its backlog): the second comes after ``start``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .timefmt import format_utc, parse_iso

DEFAULT_FLOOR = 10 * 60
DEFAULT_CEILING = 24 * 3600


@dataclass(frozen=True)
class DiscoveryPolicy:
    """Seconds between reads of one outlet's listings (see the module docstring)."""

    floor: int = DEFAULT_FLOOR
    ceiling: int = DEFAULT_CEILING
    start: int = 3600
    half_life: int = 86400
    target: float = 0.1

    def clamp(self, seconds: float) -> int:
        """``seconds`` within [floor, ceiling]."""
        return int(min(max(seconds, self.floor), self.ceiling))

    def after_poll(self, state: dict[str, Any] | None, new_articles: int, now: str) -> dict[str, Any]:
        """The outlet's polling state after a read at ``now`` that found ``new_articles``
        (``state``: the one before, None for the first read)."""
        if state is None:
            return self._state(now, self.clamp(self.start), polls=1, new_weight=0.0, time_weight=0.0)
        elapsed = max(0.0, (parse_iso(now) - parse_iso(state["last_poll"])).total_seconds())
        decay = 0.5 ** (elapsed / self.half_life)
        new_weight = state["new_weight"] * decay + new_articles
        time_weight = state["time_weight"] * decay + elapsed
        rate = new_weight / time_weight if time_weight > 0 else 0.0
        interval = self.clamp(self.target / rate) if rate > 0 else self.ceiling
        return self._state(now, interval, polls=state["polls"] + 1, new_weight=new_weight, time_weight=time_weight)

    @staticmethod
    def _state(now: str, interval: int, **counts: Any) -> dict[str, Any]:
        return {"interval_seconds": interval, "last_poll": now,
                "next_poll": format_utc(parse_iso(now) + timedelta(seconds=interval)), **counts}
