"""The catalog shared by several workers: claims, sequence numbers, races between writers.

Every test runs on SQLite and on a real PostgreSQL server (the ``catalog_url`` fixture);
the races use threads, each with its own connections, as separate processes would.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from archive.store.catalog import Catalog, frontier_query
from archive.store.claims import RELEASED, Claims
from archive.store.recheck import RecheckPolicy
from archive.store.textstore import NewVersion, TextStore
from crawler.frontier import Frontier

def _pending(catalog: Catalog, count: int = 10, section: str = "a") -> list[str]:
    """Register ``count`` new articles of outlet ``o`` (pending); their URLs."""
    urls = [f"http://x.example/{section}/{n}" for n in range(count)]
    catalog.register_discovered("o", [(url, None) for url in urls], "feed", "http://x.example/feed")
    return urls


def _new(url: str, data: bytes) -> NewVersion:
    return NewVersion("o", url, data, {"url": url, "fetched_at": "2026-01-01T00:00:00Z"},
                      {"last_checked": "2026-01-01T00:00:00Z", **RELEASED}, RecheckPolicy())


def test_two_workers_never_claim_the_same_article(catalog_url):
    catalog = Catalog(catalog_url)
    urls = _pending(catalog)
    first, second = Claims(catalog, "h-1", 60), Claims(catalog, "h-2", 60)
    query = frontier_query("pending", ["o"], 0)
    mine = first.claim(query, 4)
    theirs = second.claim(query, 100)
    assert [row["url"] for row in mine] == urls[:4]
    assert [row["url"] for row in theirs] == urls[4:]
    assert {row["claimed_by"] for row in mine} == {"h-1"} and {row["claimed_by"] for row in theirs} == {"h-2"}
    assert first.claim(query, 100) == [] and second.lapsed(query, 100) == []
    assert second.held_by_others(query) == 4 and first.held_by_others(query) == 6
    first.release(urls[0])                       # a failed fetch: free for others
    assert [row["url"] for row in second.claim(query, 100)] == [urls[0]]
    assert first.release_all() == 3
    assert second.held_by_others(query) == 0


def test_a_dead_workers_claims_are_taken_over_after_the_lease(catalog_url):
    catalog = Catalog(catalog_url)
    urls = _pending(catalog, 3)
    query = frontier_query("pending", ["o"], None)
    dead = Claims(catalog, "h-dead", -5)        # its lease ended five seconds ago
    assert len(dead.claim(query, 10)) == 3
    alive = Claims(catalog, "h-alive", 60)
    assert alive.held_by_others(query) == 3
    taken = alive.lapsed(query, 10)
    assert [row["url"] for row in taken] == urls and {row["claimed_by"] for row in taken} == {"h-alive"}
    assert alive.lapsed(query, 10) == [] and alive.renew() == 3
    # a live worker's renewed claims do not lapse
    assert Claims(catalog, "h-other", 60).lapsed(query, 10) == []


def test_writing_the_check_ends_the_claim(catalog_url, tmp_path):
    catalog = Catalog(catalog_url)
    urls = _pending(catalog, 2)
    claims = Claims(catalog, "h-1", 60)
    claims.claim(frontier_query("pending", ["o"], 0), 10)
    TextStore(tmp_path, catalog).add_versions([_new(urls[0], b"A\n\nbody\n")])
    catalog.record_unchanged([(urls[1], RecheckPolicy(), {"last_checked": "2026-01-01T00:00:00Z", **RELEASED})])
    assert [catalog.article(url)["claimed_by"] for url in urls] == [None, None]
    assert claims.renew() == 0


def test_claiming_workers_share_a_frontier_without_overlap(catalog_url):
    """Four workers take batches of a pending frontier at once until it is empty: each
    article goes to exactly one of them."""
    urls = _pending(Catalog(catalog_url), 300, "b")
    got: dict[str, list[str]] = {}

    def work(worker: str) -> None:
        own = Catalog(catalog_url)
        frontier = Frontier(own, ["o"], "none", batch_size=7, claims=Claims(own, worker, 60))
        got[worker] = []
        while batch := frontier.next_batch():
            got[worker] += [row["url"] for row, _ in batch]
        own.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, [f"h-{n}" for n in range(4)]))
    everything = [url for urls_of in got.values() for url in urls_of]
    assert sorted(everything) == sorted(urls)


def test_concurrent_writers_never_share_a_sequence_number(catalog_url, tmp_path):
    """Four writers archive versions at once, in batches: every seq is used once, and
    each file name carries its own row's seq."""
    Catalog(catalog_url)
    start = threading.Barrier(4)

    def write(worker: int) -> list[dict]:
        catalog = Catalog(catalog_url)
        store = TextStore(tmp_path, catalog)
        start.wait()
        rows = []
        for batch in range(5):
            rows += store.add_versions([_new(f"http://x.example/{worker}/{batch}/{n}",
                                             f"text {worker} {batch} {n}\n".encode()) for n in range(4)])
        catalog.close()
        return rows

    with ThreadPoolExecutor(4) as pool:
        rows = [row for rows_of in pool.map(write, range(4)) for row in rows_of]
    seqs = [row["seq"] for row in rows]
    assert len(rows) == 80 and len(set(seqs)) == 80
    catalog = Catalog(catalog_url)
    assert sorted(row["seq"] for row in catalog.iter_versions()) == sorted(seqs)
    assert all(row["file"].startswith(f"text/{row['seq']:03d}_") for row in catalog.iter_versions())
    assert all((tmp_path / row["file"]).exists() for row in rows)


def test_the_same_new_text_found_twice_at_once_is_archived_once(catalog_url, tmp_path):
    """Two writers archive the same edit of one article at the same moment: the
    (article, version) constraint lets one win; the other finds the text is the latest."""
    store = TextStore(tmp_path, Catalog(catalog_url))
    url = "http://x.example/1"
    store.add_versions([_new(url, b"A\n\nfirst\n")])
    start = threading.Barrier(2)

    def write(_: int):
        own = TextStore(tmp_path, Catalog(catalog_url))
        start.wait()
        return own.add_versions([_new(url, b"A\n\nedited\n")])[0]

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(write, range(2)))
    assert sum(row is not None for row in results) == 1
    versions = store.catalog.versions_of(store.catalog.article(url)["id"])
    assert [row["version"] for row in versions] == [1, 2]


def test_workers_register_the_same_links_at_once(catalog_url):
    """Every worker reads the same feed: their inserts of the same new URLs collide, and
    the losers try again instead of failing."""
    Catalog(catalog_url)
    urls = [f"http://x.example/c/{n}" for n in range(200)]
    start = threading.Barrier(4)

    def register(worker: int):
        catalog = Catalog(catalog_url)
        start.wait()
        listed = [(url, None) for url in (urls if worker % 2 else urls[::-1])]
        found = catalog.register_discovered("o", listed, "feed", "http://x.example/feed")
        catalog.record_listing("http://x.example/feed", "o", "feed", {"last_read": "2026-01-01T00:00:00Z"})
        catalog.save_note("seen", worker)
        catalog.close()
        return len(found.new)

    with ThreadPoolExecutor(4) as pool:
        new = list(pool.map(register, range(4)))
    catalog = Catalog(catalog_url)
    assert sum(1 for _ in catalog.iter_articles()) == 200
    assert 200 <= sum(new)  # each URL was new to whoever inserted it
    assert catalog.listing("http://x.example/feed")["last_read"] == "2026-01-01T00:00:00Z"


def test_workers_opening_a_new_catalog_at_once(postgres):
    """Workers started together create the schema once (an advisory lock orders them)."""
    catalog_url = postgres.new_database()
    start = threading.Barrier(4)

    def open_catalog(_: int) -> int:
        start.wait()
        catalog = Catalog(catalog_url)
        count = catalog.count_versions()
        catalog.close()
        return count

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_catalog, range(4))) == [0] * 4


def test_an_older_catalog_gets_the_claim_columns(tmp_path):
    url = f"sqlite:///{tmp_path}/catalog.sqlite"
    catalog = Catalog(url)
    urls = _pending(catalog, 2)
    with catalog.engine.begin() as conn:  # as a catalog from before claims
        conn.execute(text("DROP INDEX ix_articles_claimed_by"))
        conn.execute(text("ALTER TABLE articles DROP COLUMN claimed_by"))
        conn.execute(text("ALTER TABLE articles DROP COLUMN claimed_until"))
    catalog.close()
    reopened = Catalog(url)
    assert reopened.article(urls[0])["claimed_by"] is None
    assert len(Claims(reopened, "h-1", 60).claim(frontier_query("pending", ["o"], 0), 10)) == 2


def test_the_sequence_starts_above_the_rows_a_catalog_holds(postgres, tmp_path):
    url = postgres.new_database()
    store = TextStore(tmp_path, Catalog(url))
    store.add_versions([_new("http://x.example/1", b"A\n")])
    with store.catalog.engine.begin() as conn:  # rows copied in from elsewhere, the sequence behind them
        conn.execute(text("UPDATE versions SET seq = 41"))
        conn.execute(text("UPDATE articles SET latest_seq = 41"))
    assert TextStore(tmp_path, Catalog(url)).add_versions([_new("http://x.example/2", b"B\n")])[0]["seq"] == 42
