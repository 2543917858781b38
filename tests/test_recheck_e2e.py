"""Issue 3 end to end: re-checks find every real edit, and cost nothing when nothing changed."""
from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.demosite import OutletSite
from tests.conftest import run_crawl


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
    server = served(site)
    base = server.base_url(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
    archive = tmp_path / "archive"

    first = run_crawl(outlets, archive)
    assert first.returncode == 0, first.stderr[-2000:]
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

    # third run, nothing changed: validators answer 304, archived as revisits, no new versions
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
