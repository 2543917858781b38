"""The crawl frontier lives in the catalog: this hands it out in batches."""
from __future__ import annotations

import time

from archive.store.catalog import FRONTIER_KINDS, Catalog, frontier_query
from archive.store.claims import Claims
from archive.store.timefmt import utc_now


class Frontier:
    """Batches of articles to fetch, in this order:

    1. ``pending``: discovered but never archived (new now, or left by an earlier run);
    2. ``announced``: archived, and a feed or sitemap announced an update since the last
       check (fetched whatever RECHECK says: it is news of an edit);
    3. ``recheck``: archived and due by the re-check policy (RECHECK=due), or every
       archived article (RECHECK=all); none with RECHECK=none.

    Each kind is paged by article id, so a row is handed out once per run; rows that
    listings or article links register later have higher ids and come in later batches.

    With ``claims`` (a catalog shared by several workers) each batch is claimed: rows
    other workers hold are skipped, and once this worker has none left it takes the rows
    whose claims ran out (a killed worker's), whatever their id.
    """

    def __init__(self, catalog: Catalog, outlets: list[str], recheck_mode: str, batch_size: int = 500,
                 claims: Claims | None = None):
        self.catalog = catalog
        self.claims = claims
        self.outlets = outlets
        self.recheck_mode = recheck_mode
        self.batch_size = batch_size
        self.kinds = [kind for kind in FRONTIER_KINDS if kind != "recheck" or recheck_mode != "none"]
        self.run_started = self._start_time()
        self._after = {"pending": 0, "announced": 0, "recheck": 0}

    def _start_time(self) -> str:
        """Now, in a later second than every earlier check when every archived article is
        due (RECHECK=all takes those last checked before the run started, and check times
        are kept to the second: a run started in the second the previous one last checked
        would skip what it checked then). Waits a second at most."""
        started = utc_now()
        if self.recheck_mode != "all":
            return started
        last = self.catalog.last_check()
        deadline = time.monotonic() + 1.5  # bounded: a clock set back must not stall the crawl
        while last is not None and started <= last and time.monotonic() < deadline:
            time.sleep(0.05)
            started = utc_now()
        return started

    def next_batch(self) -> list[tuple[dict, str]]:
        """(article row, why it is fetched) pairs; empty when the run is done."""
        for lapsed in (False, True) if self.claims else (False,):
            for kind in self.kinds:
                rows = self._rows(kind, lapsed)
                if rows:
                    if not lapsed:
                        self._after[kind] = rows[-1]["id"]
                    return [(row, row.get("discovered_via") if kind == "pending" else kind) for row in rows]
        return []

    def held_by_others(self) -> int:
        """How many articles this run would fetch are claimed by other workers now (0
        without claims): once their claims end or run out, there may be more to do."""
        if not self.claims:
            return 0
        return sum(self.claims.held_by_others(self._query(kind, None)) for kind in self.kinds)

    def _query(self, kind: str, after: int | None):
        everything = self.recheck_mode == "all"
        now = self.run_started if everything else utc_now()
        return frontier_query(kind, self.outlets, after, now, everything)

    def _rows(self, kind: str, lapsed: bool = False) -> list[dict]:
        if lapsed:
            return self.claims.lapsed(self._query(kind, None), self.batch_size)
        query = self._query(kind, self._after[kind])
        if self.claims:
            return self.claims.claim(query, self.batch_size)
        return self.catalog.frontier_batch(query, self.batch_size)
