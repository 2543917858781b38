"""A small archive made by real crawls, for the index, WACZ and replay tests.

Two outlets on 127.0.0.1. The first crawl archives every article; then one article of
``alpha`` is edited and ``bravo`` publishes two more, and a second crawl re-checks
everything (``RECHECK=all``): the edit makes a new version, the new articles their first,
and every unchanged article answers 304 to its conditional request, archived as a
``server-not-modified`` revisit record.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import run_crawl
from tests.demosite import OutletSite, SiteServer


@dataclass
class RecrawledArchive:
    archive: Path
    server: SiteServer
    sites: dict[str, OutletSite]
    edited_url: str
    first_crawl_warcs: list[str]      # WARC files of the first crawl
    second_crawl_started: str         # fetched_at of the second crawl's first new version

    def versions(self) -> list[dict]:
        with sqlite3.connect(self.archive / "catalog.sqlite") as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM versions ORDER BY seq")]


def make_recrawled_archive(tmp: Path) -> RecrawledArchive:
    sites = {"alpha": OutletSite("alpha", n_articles=5, seed=21, link_only=False),
             "bravo": OutletSite("bravo", n_articles=4, seed=22, link_only=False)}
    server = SiteServer(list(sites.values()))
    server.start()
    try:
        outlets = tmp / "outlets.toml"
        outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
        archive = tmp / "archive"
        first = run_crawl(outlets, archive)
        assert first.returncode == 0, first.stderr[-3000:]
        first_warcs = sorted(p.name for p in (archive / "warc").glob("*.warc.gz"))
        alpha = sites["alpha"]
        edited = alpha.article_ids()[1]
        alpha.edit_article(edited, add_sentence="A correction was added to this story later.")
        sites["bravo"].add_articles(2)
        second = run_crawl(outlets, archive, "-s", "RECHECK=all")
        assert second.returncode == 0, second.stderr[-3000:]
    except BaseException:
        server.stop()
        raise
    return RecrawledArchive(archive, server, sites, alpha.article_url(edited, server.base_url(alpha)),
                            first_warcs, _second_crawl_started(archive, first_warcs))


def _second_crawl_started(archive: Path, first_warcs: list[str]) -> str:
    """The earliest fetched_at of a version outside the first crawl's WARC files."""
    marks = ",".join("?" * len(first_warcs))
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        (started,) = db.execute(f"SELECT min(fetched_at) FROM versions WHERE warc_file NOT IN ({marks})",
                                [f"warc/{name}" for name in first_warcs]).fetchone()
    return started
