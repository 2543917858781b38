"""Issue 19, end to end: three outlets on 127.0.0.1 carry two wire stories (one identical
and one lightly edited copy of the first, a headline-only variant of the second); a real
`scrapy crawl` groups them as it ends, `python -m archive export --what groups` lists
the groups, and the Parquet exports open in pandas."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, run_crawl
from tests.demosite import OutletSite


def _archive_cli(archive: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archive", "--archive", str(archive), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def _lightly_edited(headline: str, paragraphs: list[str]) -> tuple[str, list[str]]:
    """What an outlet does to wire copy: its own headline, a dateline, a trimmed paragraph,
    a few words changed, a credit line."""
    body = [f"HARBORTON (Wire) \u2014 {paragraphs[0]}", *paragraphs[1:]]
    if len(body) > 4:
        del body[-2]
    words = body[1].split()
    for index in (3, 9, 15):
        words[index] = "reportedly"
    body[1] = " ".join(words)
    return f"{headline.split()[0]} wire story rewritten by the desk", [*body, "Wire reporters contributed to this report."]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    from tests.demosite import SiteServer

    tmp = tmp_path_factory.mktemp("syndication")
    options = {"n_articles": 12, "related_every": 0, "link_only": False, "feed_size": 20}
    alpha, bravo, charlie = (OutletSite("alpha", seed=11, **options), OutletSite("bravo", seed=12, **options),
                             OutletSite("charlie", seed=13, **options))
    story_one = alpha.article_text(3)
    bravo.carry_story(5, alpha, 3)                              # identical copy (with the wire photo)
    charlie.set_article_text(7, *_lightly_edited(*story_one))   # edited copy
    alpha.carry_story(8, bravo, 2)
    alpha.set_article_text(8, "Desk headline for the second wire story", bravo.article_text(2)[1])  # headline only
    server = SiteServer([alpha, bravo, charlie])
    server.start()
    try:
        outlets = tmp / "outlets.toml"
        outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
        archive = tmp / "archive"
        result = run_crawl(outlets, archive)
        urls = {(site.name, i): site.article_url(i, server.base_url(site))
                for site in (alpha, bravo, charlie) for i in site.article_ids()}
        yield {"archive": archive, "result": result, "urls": urls, "tmp": tmp, "outlets": outlets,
               "sites": (alpha, bravo, charlie), "server": server}
    finally:
        server.stop()


def _groups(archive: Path) -> dict[int, list[dict]]:
    done = _archive_cli(archive, "export", "--what", "groups")
    assert done.returncode == 0, done.stderr
    groups: dict[int, list[dict]] = {}
    for row in csv.DictReader(io.StringIO(done.stdout)):
        groups.setdefault(int(row["group_id"]), []).append(row)
    return groups


def test_the_crawl_groups_the_copies_and_the_export_lists_them(crawled):
    result, urls = crawled["result"], crawled["urls"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "syndication groups updated in " in result.stderr and ": 36 texts indexed" in result.stderr
    assert "2 groups of copies with 5 texts" in result.stderr
    groups = _groups(crawled["archive"])
    members = sorted(sorted(row["url"] for row in rows) for rows in groups.values())
    assert members == sorted([sorted([urls["alpha", 3], urls["bravo", 5], urls["charlie", 7]]),
                              sorted([urls["bravo", 2], urls["alpha", 8]])])
    by_url = {row["url"]: row for rows in groups.values() for row in rows}
    # the earliest member is the one published first (alpha 3, bravo 2); the others say how they differ
    first = by_url[urls["alpha", 3]]
    assert (first["member"], first["relation"], first["group_size"], first["group_outlets"]) == ("0", "earliest", "3", "3")
    identical = by_url[urls["bravo", 5]]
    assert (identical["relation"], identical["similarity"], identical["headline_differs"]) == ("identical", "1.0", "False")
    assert identical["words_added"] == identical["words_removed"] == "0"
    edited = by_url[urls["charlie", 7]]
    assert edited["relation"] == "near-copy" and edited["headline_differs"] == "True"
    assert 0.5 <= float(edited["similarity"]) < 1 and 0.4 <= float(edited["estimated_similarity"]) < 1
    assert int(edited["words_added"]) > 0 and int(edited["words_removed"]) > 0
    assert by_url[urls["bravo", 2]]["relation"] == "earliest"
    same_body = by_url[urls["alpha", 8]]
    assert (same_body["relation"], same_body["headline_differs"], same_body["similarity"]) == ("same-body", "True", "1.0")
    assert same_body["group_id"] == by_url[urls["bravo", 2]]["group_id"]
    # only groups with a member at an outlet
    done = _archive_cli(crawled["archive"], "export", "--what", "groups", "--outlet", "charlie", "--format", "jsonl")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3, done.stdout


def test_parquet_exports_open_in_pandas(crawled):
    archive, tmp = crawled["archive"], crawled["tmp"]
    target = tmp / "groups.parquet"
    done = _archive_cli(archive, "export", "--what", "groups", "--format", "parquet", "--with-text", "-o", str(target))
    assert done.returncode == 0, done.stderr
    groups = pd.read_parquet(target)
    assert len(groups) == 5 and groups["group_id"].nunique() == 2
    assert str(groups["similarity"].dtype) == "float64" and str(groups["seq"].dtype) == "int64"
    row = groups[groups["relation"] == "near-copy"].iloc[0]
    assert row["text"].startswith(row["title"]) and "HARBORTON (Wire)" in row["text"]
    assert "text" not in pd.read_csv(io.StringIO(_archive_cli(archive, "export", "--what", "groups").stdout)).columns

    target = tmp / "versions.parquet"
    assert _archive_cli(archive, "export", "--format", "parquet", "-o", str(target)).returncode == 0
    versions = pd.read_parquet(target)
    assert len(versions) == 36 and versions["outlet"].value_counts().to_dict() == {"alpha": 12, "bravo": 12, "charlie": 12}
    assert (archive / versions["file"].iloc[0]).is_file()
    done = _archive_cli(archive, "export", "--format", "parquet")
    assert done.returncode == 2 and "-o FILE" in done.stderr


def test_an_edited_copy_is_grouped_after_the_next_crawl(crawled):
    alpha, bravo, charlie = crawled["sites"]
    archive, urls = crawled["archive"], crawled["urls"]
    assert "0 texts indexed" in _archive_cli(archive, "groups").stdout       # nothing new since the crawl
    charlie.carry_story(10, bravo, 11)                                      # charlie now runs bravo's story
    charlie.edit_article(10, add_sentence=False, new_headline="Charlie runs the wire story too")
    result = run_crawl(crawled["outlets"], archive, "-s", "RECHECK=all")
    assert result.returncode == 0, result.stderr[-3000:]
    assert ": 1 texts indexed (1 matched a copy" in result.stderr
    groups = _groups(archive)
    assert len(groups) == 3
    assert sorted([urls["bravo", 11], urls["charlie", 10]]) in [sorted(r["url"] for r in rows)
                                                                for rows in groups.values()]
    rebuilt = _archive_cli(archive, "groups", "--rebuild")
    assert rebuilt.returncode == 0 and "3 groups of copies with 7 texts" in rebuilt.stdout, rebuilt.stdout
    assert sorted(map(len, _groups(archive).values())) == [2, 2, 3]
