"""Claims on the frontier of a shared catalog: which worker fetches which article now.

Several crawl processes ("workers") take their batches from the same catalog. A worker
claims a batch in one statement::

    UPDATE articles SET claimed_by = :me, claimed_until = :lease_end
    WHERE id IN (SELECT id FROM articles WHERE <due> AND <not claimed, or lease over>
                 ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING *

so two workers never get the same article: PostgreSQL's row locks decide, and rows
another worker is claiming at that moment are skipped, not waited for. A live worker
renews the lease of its claims (:meth:`Claims.renew`, every third of the lease); a claim
ends when the article's check is written (the pipeline sets :data:`RELEASED` with it),
when its fetch fails (:meth:`Claims.release`), and when the worker stops. The claims of a
worker that was killed run out after the lease, and then any worker takes them
(:meth:`Claims.lapsed`).

On SQLite the same statements work (without ``SKIP LOCKED``: SQLite has one writer at a
time), but a crawl there is alone and does not claim.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select, update

from .catalog import Catalog, articles
from .timefmt import format_utc, utc_now

RELEASED = {"claimed_by": None, "claimed_until": None}  # article fields that end a claim


class Claims:
    """The claims of one worker (``worker``: ``<host>-<pid>``) with a lease of ``lease`` seconds."""

    def __init__(self, catalog: Catalog, worker: str, lease: float):
        self.catalog = catalog
        self.worker = worker
        self.lease = lease

    def _lease_end(self) -> str:
        return format_utc(datetime.now(timezone.utc) + timedelta(seconds=self.lease))

    def claim(self, query, limit: int) -> list[dict]:
        """Claim up to ``limit`` rows of ``query`` (an articles select) that no live claim
        holds, in id order; returns them."""
        now = utc_now()
        free = or_(articles.c.claimed_by.is_(None), articles.c.claimed_until < now)
        return self._take(query.where(free), limit)

    def lapsed(self, query, limit: int) -> list[dict]:
        """Claim up to ``limit`` rows of ``query`` whose claim by another worker ran out
        (that worker died without releasing them)."""
        lapsed = and_(articles.c.claimed_by.is_not(None), articles.c.claimed_by != self.worker,
                      articles.c.claimed_until < utc_now())
        return self._take(query.where(lapsed), limit)

    def _take(self, query, limit: int) -> list[dict]:
        ids = (query.with_only_columns(articles.c.id).order_by(articles.c.id).limit(limit)
               .with_for_update(skip_locked=True))
        statement = (update(articles).where(articles.c.id.in_(ids))
                     .values(claimed_by=self.worker, claimed_until=self._lease_end())
                     .returning(*articles.columns))
        with self.catalog.engine.begin() as conn:
            rows = [dict(row) for row in conn.execute(statement).mappings()]
        return sorted(rows, key=lambda row: row["id"])

    def held_by_others(self, query) -> int:
        """How many rows of ``query`` other workers hold claims on (live or run out)."""
        count = (query.with_only_columns(func.count())
                 .where(articles.c.claimed_by.is_not(None), articles.c.claimed_by != self.worker))
        with self.catalog.engine.connect() as conn:
            return conn.execute(count).scalar() or 0

    def renew(self) -> int:
        """Extend the lease of every claim this worker holds; returns how many it holds."""
        with self.catalog.engine.begin() as conn:
            return conn.execute(update(articles).where(articles.c.claimed_by == self.worker)
                                .values(claimed_until=self._lease_end())).rowcount

    def release(self, url: str) -> None:
        """End this worker's claim on the article with canonical ``url`` (its fetch failed:
        it stays pending or due for the next run)."""
        with self.catalog.engine.begin() as conn:
            conn.execute(update(articles).where(articles.c.url == url, articles.c.claimed_by == self.worker)
                         .values(**RELEASED))

    def release_all(self) -> int:
        """End every claim of this worker (it stops); returns how many there were."""
        with self.catalog.engine.begin() as conn:
            return conn.execute(update(articles).where(articles.c.claimed_by == self.worker)
                                .values(**RELEASED)).rowcount
