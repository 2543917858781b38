"""Issue 21 end to end: takedowns, moves, restorations and what each edit changed.

A generated outlet is crawled, then changed as outlets change their stories (removed with
404 and 410, moved with 301s to new slugs, sent to the home page, headline-only and
body-only rewrites, a new byline), re-checked with RECHECK=all, then one removed story
comes back. The events export and the version rows must say exactly that.
"""
from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_crawl, serve_and_crawl
from tests.demosite import OutletSite


def archive_cli(archive: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archive", "--archive", str(archive), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def events(archive: Path) -> list[dict]:
    result = archive_cli(archive, "export", "--what", "events", "--format", "csv")
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def changes(archive: Path) -> dict[str, list[str | None]]:
    """Article URL -> the ``change`` of each of its versions, oldest first."""
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        rows = db.execute("SELECT a.url, v.change FROM versions v JOIN articles a ON a.id = v.article_id "
                          "ORDER BY v.seq").fetchall()
    by_url: dict[str, list[str | None]] = {}
    for url, change in rows:
        by_url.setdefault(url, []).append(change)
    return by_url


def articles(archive: Path) -> dict[str, tuple]:
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        return {url: (state, alias_of, versions) for url, state, alias_of, versions
                in db.execute("SELECT url, state, alias_of, latest_version FROM articles")}


def test_gone_moved_restored_and_what_changed(tmp_path, served):
    site = OutletSite("echo", n_articles=24, seed=11, link_only=False)
    base, outlets, archive, first = serve_and_crawl(tmp_path, served, site)
    assert len(changes(archive)) == 24 and all(c == [None] for c in changes(archive).values())

    ids = site.article_ids()
    url = {i: site.article_url(i, base) for i in ids}
    gone_404, gone_410, moved, sent_home = ids[0:2], ids[2:4], ids[4:6], ids[6:8]
    headline_only, body_only, byline = ids[8:10], ids[10:12], ids[12]
    for i in gone_404:
        site.remove_article(i, 404)
    for i in gone_410:
        site.remove_article(i, 410)
    new_url = {i: base + site.move_article(i) for i in moved}
    for i in sent_home:
        site.redirect_article_home(i)
    old_headline = {i: site.article_meta(i)["headline"] for i in headline_only}
    for i in headline_only:
        site.edit_article(i, add_sentence=False, new_headline=f"A rewritten headline for story {i}")
    for i in body_only:
        site.edit_article(i, add_sentence="This paragraph was corrected after publication.")
    site.change_byline(byline, "Jordan Example")

    second = run_crawl(outlets, archive, "-s", "RECHECK=all")
    assert second.returncode == 0, second.stderr[-2000:]
    found = sorted((e["url"], e["event"], e["detail"]) for e in events(archive))
    expected = sorted([*((url[i], "gone", "404") for i in gone_404), *((url[i], "gone", "410") for i in gone_410),
                       *((url[i], "moved", new_url[i]) for i in moved),
                       *((url[i], "gone", "redirect-to-index") for i in sent_home)])
    assert found == expected

    after = changes(archive)
    assert len(after) == 24, "a moved article was counted as a new article"
    for i in ids:
        want = {**{j: [None, "headline"] for j in headline_only}, **{j: [None, "body"] for j in body_only},
                byline: [None, "metadata"]}.get(i, [None])
        assert after[url[i]] == want, (i, after[url[i]])
    rows = articles(archive)
    for i in moved:                                         # the new address is an alias, never an article
        assert rows[new_url[i]] == ("alias", url[i], 0)
    assert all(rows[url[i]][0] == "gone" for i in gone_404 + gone_410 + sent_home)

    diff = archive_cli(archive, "diff", url[headline_only[0]])
    assert diff.stdout.splitlines()[:3] == ["headline changed:", f"- {old_headline[headline_only[0]]}",
                                            f"+ A rewritten headline for story {headline_only[0]}"]
    metadata_diff = archive_cli(archive, "diff", url[byline])
    assert "byline: " in metadata_diff.stdout and "-> Jordan Example" in metadata_diff.stdout
    manifest = list(csv.DictReader(open(archive / "manifest.csv", encoding="utf-8")))
    assert len(manifest) == 24 + 4 and {row["change"] for row in manifest} == {"", "headline", "body"}
    verify = archive_cli(archive, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    site.restore_article(gone_404[0])                       # a third epoch: one story comes back
    third = run_crawl(outlets, archive, "-s", "RECHECK=all")
    assert third.returncode == 0, third.stderr[-2000:]
    last = events(archive)
    assert len(last) == len(expected) + 1
    assert (last[-1]["url"], last[-1]["event"], last[-1]["detail"], last[-1]["version"]) == \
           (url[gone_404[0]], "restored", "200", "1")
    assert articles(archive)[url[gone_404[0]]][0] == "active" and changes(archive)[url[gone_404[0]]] == [None]
    assert [e["at"] for e in last] == sorted(e["at"] for e in last)
