"""Adaptive discovery: listings are read as often as an outlet publishes, within its floor
and ceiling, with the state in the catalog (issue 21).

The week-long comparison runs the scheduler's own decision (``Catalog.discovery_due``,
looked at every floor, as ``python -m crawler.schedule`` does) and the catalog's polling
state over a clock the test controls; the crawl test shows a real crawl recording it and
``DISCOVERY=due`` honouring it.
"""
from __future__ import annotations

import random
import sqlite3
import statistics
from datetime import datetime, timedelta, timezone

from archive.store.catalog import Catalog
from archive.store.polling import DiscoveryPolicy
from archive.store.timefmt import format_utc
from tests.conftest import run_crawl
from tests.demosite import OutletSite

START = datetime(2026, 3, 2, tzinfo=timezone.utc)
WEEK = timedelta(days=7)
FLOOR = timedelta(minutes=10)


def publication_times(per_day: float, seed: int) -> list[datetime]:
    """An outlet's publication times over the week: a Poisson process (seeded)."""
    rng, moment, times = random.Random(seed), START, []
    while True:
        moment += timedelta(days=rng.expovariate(per_day))
        if moment >= START + WEEK:
            return times
        times.append(moment)


def simulate(published: list[datetime], due, record) -> tuple[int, list[float]]:
    """Read the listing whenever ``due(now)`` says so, looking every FLOOR: (reads, delays in
    seconds from each article's publication to the read that found it)."""
    reads, seen, delays, now = 0, 0, [], START
    while now < START + WEEK:
        if due(now):
            reads += 1
            new = [t for t in published[seen:] if t <= now]
            delays += [(now - t).total_seconds() for t in new]
            seen += len(new)
            record(now, len(new))
        now += FLOOR
    return reads, delays


def adaptive(catalog: Catalog, name: str, policy: DiscoveryPolicy):
    def due(now: datetime) -> bool:
        return bool(catalog.discovery_due([name], format_utc(now)))

    def record(now: datetime, new: int) -> None:
        catalog.record_poll(name, new, format_utc(now), policy)
    return due, record


def hourly():
    return (lambda now: now.minute == 0 and (now - START) % timedelta(hours=1) == timedelta(0)), (lambda *_: None)


def test_a_week_of_polling_follows_each_outlets_pace(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.sqlite")
    policy = DiscoveryPolicy()                              # the defaults: floor 10 min, ceiling 24 h
    fast, slow = publication_times(20, seed=1), publication_times(1 / 7, seed=2) or [START + timedelta(days=3)]
    fixed_fast, fixed_fast_delays = simulate(fast, *hourly())
    fixed_slow, _ = simulate(slow, *hourly())
    fast_reads, fast_delays = simulate(fast, *adaptive(catalog, "fast", policy))
    slow_reads, slow_delays = simulate(slow, *adaptive(catalog, "slow", policy))
    print(f"\nfast outlet ({len(fast)} articles): {fast_reads} reads (hourly {fixed_fast}), median delay "
          f"{statistics.median(fast_delays) / 60:.1f} min (hourly {statistics.median(fixed_fast_delays) / 60:.1f})\n"
          f"slow outlet ({len(slow)} articles): {slow_reads} reads (hourly {fixed_slow}), delays {slow_delays}")

    assert fixed_fast == fixed_slow == 168
    assert slow_reads <= 0.2 * fixed_slow                   # at least 80 % fewer listing requests
    assert len(slow_delays) == len(slow)                    # ... and its articles are still found
    assert len(fast_delays) == len(fast)
    assert statistics.median(fast_delays) <= FLOOR.total_seconds()
    state = catalog.polling("fast")
    assert policy.floor <= state["interval_seconds"] <= 2 * 3600 and state["polls"] == fast_reads


def test_unchanged_listings_back_off_and_news_brings_the_floor():
    policy = DiscoveryPolicy(floor=600, ceiling=86400, start=3600)
    state = policy.after_poll(None, 40, "2026-03-02T00:00:00Z")           # the backlog says nothing
    assert state["interval_seconds"] == 3600 and state["next_poll"] == "2026-03-02T01:00:00Z"
    intervals = []
    for _ in range(6):                                                     # 304s / nothing new
        state = policy.after_poll(state, 0, state["next_poll"])
        intervals.append(state["interval_seconds"])
    assert intervals[-1] == 86400 and intervals == sorted(intervals)
    for _ in range(3):                                                     # a burst of news
        state = policy.after_poll(state, 12, format_utc(datetime.fromisoformat(state["last_poll"])
                                                        + timedelta(minutes=30)))
    assert state["interval_seconds"] == 600


def test_a_crawl_records_its_reads_and_discovery_due_skips_outlets_not_due(tmp_path, served):
    site = OutletSite("pace", n_articles=6, seed=4, link_only=False)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss",)) + 'discovery_interval = "2h"\n')
    archive = tmp_path / "archive"
    first = run_crawl(outlets, archive, "-s", "DISCOVERY=due")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "outlet pace: 6 new articles in its listings; next read due" in first.stderr
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        [(interval, polls)] = db.execute("SELECT interval_seconds, polls FROM outlet_polling").fetchall()
        delays = db.execute("SELECT published_delay FROM versions").fetchall()
        [(median,)] = db.execute("SELECT published_delay_median FROM outlet_stats").fetchall()
    assert (interval, polls) == (7200, 1)
    assert len(delays) == 6 and all(d is not None and d >= 0 for d, in delays) and median is not None
    assert "capture delays (hours)" in first.stderr

    site.add_articles(2)
    second = run_crawl(outlets, archive, "-s", "DISCOVERY=due")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "outlet pace: listings not due before" in second.stderr
    assert "feed.xml" not in second.stderr.split("listings not due before", 1)[1]   # no listing was read
    third = run_crawl(outlets, archive)                     # DISCOVERY on (the default): read now
    assert "outlet pace: 2 new articles in its listings" in third.stderr
