"""The crawl frontier lives in the catalog: this hands it out in batches."""
from __future__ import annotations

from archive.catalog import Catalog, utc_now


class Frontier:
    """Batches of articles to fetch: first those never archived, then those due a re-check.

    Each kind is paged by article id, so a row is handed out once per run; rows that
    listings or article links register later have higher ids and come in later batches.
    """

    def __init__(self, catalog: Catalog, outlets: list[str], recheck_mode: str, batch_size: int = 500):
        self.catalog = catalog
        self.outlets = outlets
        self.recheck_mode = recheck_mode
        self.batch_size = batch_size
        self.run_started = utc_now()
        self._last_pending = 0
        self._last_due = 0

    def next_batch(self) -> list[tuple[dict, str]]:
        """(article row, how it came to be fetched) pairs; empty when the run is done."""
        rows = self.catalog.pending_articles(self.outlets, self._last_pending, self.batch_size)
        if rows:
            self._last_pending = rows[-1]["id"]
            return [(row, row.get("discovered_via") or "pending") for row in rows]
        if self.recheck_mode == "none":
            return []
        everything = self.recheck_mode == "all"
        now = self.run_started if everything else utc_now()
        rows = self.catalog.due_articles(self.outlets, now, self._last_due, self.batch_size, everything)
        if rows:
            self._last_due = rows[-1]["id"]
        return [(row, "recheck") for row in rows]
