"""Issue 2 end to end: generated outlets -> `scrapy crawl news` -> WARC + text + catalog + manifest."""
from __future__ import annotations

import csv
import gzip
import hashlib
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.store.lock import ArchiveLock
from tests.conftest import run_crawl
from tests.demosite import OutletSite

WARCIO = str(Path(sys.executable).with_name("warcio"))
MANIFEST_REQUIRED = ["file", "url", "outlet", "version", "sha256", "fetched_at", "title", "published",
                     "warc_file", "warc_offset"]


def _warc_records(archive: Path):
    for path in sorted((archive / "warc").glob("*.warc.gz")):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                yield path, record.rec_type, record.rec_headers.get_header("WARC-Target-URI")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Three outlets, each through other sources, crawled once."""
    from tests.demosite import SiteServer

    tmp = tmp_path_factory.mktemp("e2e")
    sites = [
        OutletSite("alpha", n_articles=40, seed=1, feed_size=15),               # rss+atom partial, sitemap all
        OutletSite("bravo", n_articles=30, seed=2, gzip=False, amp_every=3),    # amp aliases with canonical
        OutletSite("charlie", n_articles=25, seed=3, page_size=1,              # sections only, 8 pages each, linked
                   pagination="text"),                                         # by "Older stories »", no rel="next"
    ]
    server = SiteServer(sites)
    server.start()
    try:
        toml = "\n".join([
            server.outlets_toml(sources=("rss", "atom", "sitemap")).split("\n[[outlets]]")[0],
            _one(server, sites[1], ("rss", "json", "news", "sections")),
            _one(server, sites[2], ("sections",)),
        ])
        outlets_file = tmp / "outlets.toml"
        outlets_file.write_text(toml)
        archive = tmp / "archive"
        result = run_crawl(outlets_file, archive)
        yield {"sites": sites, "server": server, "archive": archive, "result": result, "outlets_file": outlets_file}
    finally:
        server.stop()


def _one(server, site, sources):
    from tests.demosite import outlets_toml
    return outlets_toml([(site, server.base_url(site))], sources=sources)


def test_crawl_succeeds_with_summary(crawled):
    result = crawled["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "crawl summary" in result.stderr
    assert "newsarchive: crawl finished: 3/3 outlets answered" in result.stderr


def test_every_article_archived_exactly_once(crawled):
    archive, server = crawled["archive"], crawled["server"]
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        rows = db.execute("SELECT outlet, canonical_url, version FROM versions").fetchall()
    archived = Counter(url for _, url, _ in rows)
    assert all(count == 1 for count in archived.values()), [u for u, c in archived.items() if c > 1]
    for site in crawled["sites"]:
        expected = set(site.article_urls(server.base_url(site)))
        got = {url for outlet, url, _ in rows if outlet == site.name}
        reachable = expected
        if site.name == "charlie":  # sections only: 3 sections x (page 1 + 3 more pages) x 1 link, + related links
            assert got <= expected and len(got) >= 3 * 4
            # its "Older stories »" links (no rel="next") were followed to pages 2..4, and no deeper
            # (section_depth = 3)
            followed = {p for p in site.requested_paths() if p.startswith("/section/") and "page=" in p}
            assert {p.split("page=")[1] for p in followed} == {"2", "3", "4"}, sorted(followed)
            continue
        assert got == reachable, (site.name, sorted(expected - got)[:5], sorted(got - expected)[:5])
    link_only = crawled["sites"][0].link_only_article_ids()
    assert link_only, "the generated site must have articles only reachable through links"


def test_robots_and_tracking_parameters_respected(crawled):
    for site in crawled["sites"]:
        paths = site.requested_paths()
        assert "/robots.txt" in paths
        assert not [p for p in paths if p.startswith("/private/")], site.name
        assert not [p for p in paths if "utm_" in p], site.name
    # each article page fetched once per run, however many sources list it
    for site in crawled["sites"]:
        article_paths = Counter(p for p in site.requested_paths() if p.count("/") >= 4 and not p.startswith("/section"))
        assert max(article_paths.values()) == 1, article_paths.most_common(3)


def test_warc_files_are_valid_and_complete(crawled):
    archive = crawled["archive"]
    files = sorted((archive / "warc").glob("*.warc.gz"))
    assert files and not list((archive / "warc").glob("*.open"))
    for path in files:
        assert subprocess.run([WARCIO, "check", str(path)], capture_output=True).returncode == 0
        gzip.decompress(path.read_bytes())  # no torn member anywhere
        index = subprocess.run([WARCIO, "index", str(path)], capture_output=True, text=True).stdout
        assert '"warc-type": "warcinfo"' in index.splitlines()[0]
    records = list(_warc_records(archive))
    responses = Counter(uri for _, kind, uri in records if kind == "response")
    requests = Counter(uri for _, kind, uri in records if kind == "request")
    assert responses == requests
    server = crawled["server"]
    for site in crawled["sites"]:
        base = server.base_url(site)
        assert responses[base + "/robots.txt"] == 1
        if site.name != "charlie":
            assert responses[base + "/rss.xml"] == 1
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        fetched = [row[0] for row in db.execute("SELECT url FROM versions")]
    for url in fetched:
        assert responses[url] == 1, url


def test_texts_are_clean_and_match_ground_truth(crawled):
    archive, server = crawled["archive"], crawled["server"]
    by_url = {}
    for site in crawled["sites"]:
        for article_id in site.article_ids():
            by_url[site.article_url(article_id, server.base_url(site))] = (site, article_id)
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        rows = db.execute("SELECT canonical_url, file FROM versions").fetchall()
    assert rows
    for url, name in rows:
        site, article_id = by_url[url]
        text = (archive / name).read_text(encoding="utf-8")
        headline, paragraphs = site.article_text(article_id)
        lines = text.split("\n")
        assert lines[0] == headline and lines[1] == ""
        assert text.endswith("\n") and "\r" not in text
        for paragraph in paragraphs:
            assert paragraph in text, (name, paragraph[:60])
        for phrase in site.boilerplate_phrases():
            assert phrase not in text, (name, phrase)
        assert text.count(headline) == 1, name


def test_manifest_catalog_files_agree(crawled):
    archive = crawled["archive"]
    with open(archive / "manifest.csv", newline="", encoding="utf-8") as handle:
        manifest = list(csv.DictReader(handle))
    assert set(MANIFEST_REQUIRED) <= set(manifest[0])
    files = sorted(p.name for p in (archive / "text").glob("*.txt"))
    assert sorted(Path(row["file"]).name for row in manifest) == files
    seqs = sorted(int(name.split("_")[0]) for name in files)
    assert seqs == list(range(len(files)))
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*) FROM versions").fetchone()[0] == len(files)
    for row in manifest:
        data = (archive / row["file"]).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert digest == row["sha256"] and Path(row["file"]).name.split("_")[1] == digest[:16] + ".txt"
        with open(archive / row["warc_file"], "rb") as handle:
            handle.seek(int(row["warc_offset"]))
            record = next(iter(ArchiveIterator(handle)))
            assert record.rec_type == "response"
            assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]


def test_second_run_fetches_no_article_again_without_recheck(crawled, tmp_path):
    site = crawled["sites"][0]
    site.clear_requests()
    result = run_crawl(crawled["outlets_file"], crawled["archive"], "-s", "RECHECK=none")
    assert result.returncode == 0, result.stderr[-2000:]
    article_requests = [p for p in site.requested_paths() if p.count("/") >= 4]
    assert article_requests == []
    assert "0 versions archived" in result.stderr


def _count_parallel_articles(site: OutletSite, seconds: float) -> dict:
    """Make ``site`` answer articles after ``seconds``; return a dict whose "max" is the peak parallelism."""
    render, lock, seen = site.render, threading.Lock(), {"now": 0, "max": 0}

    def slow(target: str, base: str | None = None):
        if target.count("/") < 4:
            return render(target, base)
        with lock:
            seen["now"] += 1
            seen["max"] = max(seen["max"], seen["now"])
        try:
            time.sleep(seconds)
            return render(target, base)
        finally:
            with lock:
                seen["now"] -= 1

    site.render = slow
    return seen


def test_per_origin_concurrency_limit_holds(tmp_path, served):
    """CONCURRENT_REQUESTS_PER_DOMAIN caps each outlet's parallel connections (Scrapy 2.19 alone does not)."""
    sites = [OutletSite(name, n_articles=30, seed=seed, link_only=False) for name, seed in (("slowa", 31), ("slowb", 32))]
    parallel = [_count_parallel_articles(site, 0.05) for site in sites]
    server = served(*sites)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("sitemap",)))
    result = run_crawl(outlets, tmp_path / "archive", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "60 versions archived" in result.stderr
    # two per origin, and both origins at once (the limit is per outlet, not global)
    assert [seen["max"] for seen in parallel] == [2, 2]


def test_frontier_refilled_before_the_crawl_runs_dry(tmp_path, served):
    """Small batches, handed out while the last ones are still being fetched: every article
    still comes exactly once."""
    site = OutletSite("refill", n_articles=40, seed=33, link_only=False)
    _count_parallel_articles(site, 0.02)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("sitemap",)))
    result = run_crawl(outlets, tmp_path / "archive", "-s", "FRONTIER_BATCH=6", "-s", "FRONTIER_LOW_WATER=3")
    assert result.returncode == 0, result.stderr[-2000:]
    refills = re.search(r"'newsarchive/frontier_refills_before_idle': (\d+)", result.stderr)
    assert refills and int(refills[1]) >= 3, result.stderr[-3000:]
    with sqlite3.connect(tmp_path / "archive" / "catalog.sqlite") as db:
        urls = [url for (url,) in db.execute("SELECT canonical_url FROM versions")]
    assert sorted(urls) == sorted(set(site.article_urls(server.base_url(site))))
    fetched = Counter(p for p in site.requested_paths() if p.count("/") >= 4)
    assert fetched and max(fetched.values()) == 1, fetched.most_common(3)


def test_robots_txt_obeyed_by_every_request_waiting_for_it(tmp_path, served):
    """Several first requests to a site, all forbidden by its robots.txt, go out while it is
    fetched: none of them may reach the site (Scrapy 2.19 let all but the first waiter through)."""
    site = OutletSite("waiting", n_articles=5, seed=34)
    server = served(site)
    base = server.base_url(site)
    forbidden = [f"{base}/private/feed-{n}.xml" for n in range(1, 6)]
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(f'[[outlets]]\nname = "waiting"\nfeeds = {forbidden + [base + "/rss.xml"]!r}\n'.replace("'", '"'))
    result = run_crawl(outlets, tmp_path / "archive", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8")
    assert result.returncode == 0, result.stderr[-2000:]
    paths = site.requested_paths()
    assert paths[0] == "/robots.txt" and "/rss.xml" in paths, paths[:10]
    assert not [p for p in paths if p.startswith("/private/")], paths
    assert "'robotstxt/forbidden': 5" in result.stderr


def test_unreachable_outlets_exit_nonzero_with_message(tmp_path):
    outlets = tmp_path / "outlets.toml"
    outlets.write_text('[[outlets]]\nname = "gone"\nfeeds = ["http://127.0.0.1:9/rss.xml"]\n')
    result = run_crawl(outlets, tmp_path / "archive")
    assert result.returncode == 3
    assert "no outlet could be reached" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_outlets_file_and_lock(tmp_path):
    outlets = tmp_path / "outlets.toml"
    outlets.write_text('[[outlets]]\nname = "x"\nfeeds = ["notaurl"]\n')
    result = run_crawl(outlets, tmp_path / "archive")
    assert result.returncode == 2 and "outlet 'x'" in result.stderr and "feeds" in result.stderr
    outlets.write_text('[[outlets]]\nname = "x"\nfeeds = ["http://127.0.0.1:9/rss.xml"]\n')
    lock = ArchiveLock(tmp_path / "archive")
    lock.acquire()
    try:
        result = run_crawl(outlets, tmp_path / "archive")
    finally:
        lock.release()
    assert result.returncode == 4 and "in use by another run" in result.stderr
