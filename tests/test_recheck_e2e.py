"""Issue 3 end to end: re-checks find every real edit, and cost nothing when nothing changed."""
from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.conftest import run_crawl, serve_and_crawl
from tests.demosite import OutletSite


def _versions(archive: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        rows = db.execute("SELECT canonical_url, version, file, reason, previous_seq FROM versions ORDER BY seq").fetchall()
    by_url: dict[str, list[tuple]] = {}
    for url, version, file, reason, previous in rows:
        by_url.setdefault(url, []).append((version, file, reason, previous))
    return by_url


def _revisits(archive: Path) -> Counter:
    profiles = Counter()
    for path in (archive / "warc").glob("*.warc.gz"):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "revisit":
                    profiles[record.rec_headers.get_header("WARC-Profile").rsplit("/", 1)[-1]] += 1
    return profiles


def test_edits_make_exactly_one_new_version_and_template_changes_none(tmp_path, served):
    site = OutletSite("delta", n_articles=24, seed=5, link_only=False)
    base, outlets, archive, first = serve_and_crawl(tmp_path, served, site)
    before = _versions(archive)
    assert len(before) == 24

    ids = site.article_ids()
    sentence_edits = ids[0:3]
    headline_edits = ids[3:5]
    for article_id in sentence_edits:
        site.edit_article(article_id, add_sentence="A correction was appended to this story later.")
    for article_id in headline_edits:
        site.edit_article(article_id, new_headline=f"Changed headline number {article_id}")
    site.set_template_variant(1)          # every page's boilerplate changes, no text changes
    new_ids = site.add_articles(3)

    second = run_crawl(outlets, archive, "-s", "RECHECK=all")
    assert second.returncode == 0, second.stderr[-2000:]
    after = _versions(archive)
    edited = {site.article_url(i, base) for i in sentence_edits + headline_edits}
    for url, versions in after.items():
        if url in edited:
            assert [v[0] for v in versions] == [1, 2], url
            assert versions[1][2] == "edit" and versions[1][3] is not None
        else:
            assert len(versions) == 1, (url, versions)
    for article_id in new_ids:
        assert site.article_url(article_id, base) in after
    for article_id in sentence_edits:
        text = (archive / after[site.article_url(article_id, base)][1][1]).read_text()
        assert "A correction was appended to this story later." in text
    for article_id in headline_edits:
        text = (archive / after[site.article_url(article_id, base)][1][1]).read_text()
        assert text.startswith(f"Changed headline number {article_id}\n\n")

    # third run, at once, nothing changed: validators answer 304, archived as revisits, no
    # new versions (every article, also one the second run checked in the second this run starts)
    site.clear_requests()
    third = run_crawl(outlets, archive, "-s", "RECHECK=all")
    assert third.returncode == 0, third.stderr[-2000:]
    assert _versions(archive) == after
    article_statuses = Counter(r.status for r in site.requests() if r.path.count("/") >= 4)
    assert article_statuses == Counter({304: len(after)}), article_statuses
    assert _revisits(archive)["server-not-modified"] >= len(after)
    # the first run extracted pages; the unchanged run sent none to the extraction workers
    # (which start at the first page, so this run started none)
    assert "'extraction/pages': 24" in first.stderr
    assert "extraction/pages" not in third.stderr


def test_announced_update_is_rechecked_without_recheck_all(tmp_path, served):
    site = OutletSite("echo", n_articles=10, seed=6, link_only=False)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("atom", "sitemap")))
    archive = tmp_path / "archive"
    assert run_crawl(outlets, archive).returncode == 0
    target = site.article_ids()[-1]
    site.edit_article(target, add_sentence="An update announced by the feed.")
    site.clear_requests()
    result = run_crawl(outlets, archive, "-s", "RECHECK=none")  # only announced updates are due
    assert result.returncode == 0, result.stderr[-2000:]
    article_paths = [p for p in site.requested_paths() if p.count("/") >= 4]
    assert article_paths == [site.article_path(target)]
    versions = _versions(archive)[site.article_url(target, server.base_url(site))]
    assert [v[0] for v in versions] == [1, 2]


def test_rechecks_not_due_fetch_nothing(tmp_path, served):
    site = OutletSite("foxtrot", n_articles=6, seed=7, link_only=False)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss",)))
    archive = tmp_path / "archive"
    assert run_crawl(outlets, archive).returncode == 0
    site.clear_requests()
    assert run_crawl(outlets, archive).returncode == 0  # RECHECK=due: first check is 15 min away
    assert [p for p in site.requested_paths() if p.count("/") >= 4] == []


def _listing_records(archive: Path) -> list[tuple[str, str, str | None]]:
    """(record type, target URI, status) of every listing response/revisit record, in order."""
    found = []
    for path in sorted((archive / "warc").glob("*.warc.gz")):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type in ("response", "revisit") and (uri.endswith(".xml") or "sitemap" in uri):
                    status = record.http_headers.get_statuscode() if record.http_headers else None
                    found.append((record.rec_type, uri, status))
    return found


def test_unchanged_feeds_and_sitemaps_are_not_read_again(tmp_path, served):
    """Feeds and sitemaps read before are asked for conditionally: unchanged, they answer 304
    (a revisit record in the WARC) and are not parsed; changed, they are read in full. A
    sitemap index is read in full every time: an unchanged index can list changed sitemaps."""
    site = OutletSite("golf", n_articles=30, seed=8, link_only=False, sitemap_page_size=20)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
    archive = tmp_path / "archive"
    assert run_crawl(outlets, archive).returncode == 0
    listings = {"/rss.xml", "/sitemaps/news.xml", "/sitemaps/articles-1.xml", "/sitemaps/articles-2.xml"}
    first_reads = {r.path for r in site.requests() if r.path in listings and r.status == 200}
    assert first_reads == listings

    site.clear_requests()
    second = run_crawl(outlets, archive, "-s", "RECHECK=none")
    assert second.returncode == 0, second.stderr[-2000:]
    answers = {r.path: (r.status, "if-none-match" in r.headers) for r in site.requests() if r.path.endswith(".xml")}
    assert answers == {"/sitemap.xml": (200, False), **{path: (304, True) for path in listings}}, answers
    assert "'newsarchive/golf/listings_unchanged': 4" in second.stderr
    records = _listing_records(archive)
    revisits = [uri for kind, uri, status in records if kind == "revisit" and status == "304"]
    assert sorted(uri.split("/", 3)[3] for uri in revisits) == sorted(path[1:] for path in listings)

    # new stories change the feed, the news sitemap and the last article sitemap: read in full,
    # and their new articles found; the unchanged first article sitemap is not read again
    new_ids = site.add_articles(3)
    site.clear_requests()
    third = run_crawl(outlets, archive, "-s", "RECHECK=none")
    assert third.returncode == 0, third.stderr[-2000:]
    answers = {r.path: r.status for r in site.requests() if r.path.endswith(".xml")}
    assert answers == {"/sitemap.xml": 200, "/rss.xml": 200, "/sitemaps/news.xml": 200,
                       "/sitemaps/articles-1.xml": 304, "/sitemaps/articles-2.xml": 200}, answers
    archived = _versions(archive)
    assert all(site.article_url(i, server.base_url(site)) in archived for i in new_ids)

    # CONDITIONAL_LISTINGS=0 reads every listing in full
    site.clear_requests()
    fourth = run_crawl(outlets, archive, "-s", "RECHECK=none", "-s", "CONDITIONAL_LISTINGS=0")
    assert fourth.returncode == 0, fourth.stderr[-2000:]
    answers = {r.path: (r.status, "if-none-match" in r.headers) for r in site.requests() if r.path.endswith(".xml")}
    assert answers == {path: (200, False) for path in listings | {"/sitemap.xml"}}, answers
