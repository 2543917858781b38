"""Issue 5: hostile input gives clear errors, nothing is lost, and the crawl goes on.

One crawl of the hostile outlet (``tests/hostile_server.py``: good articles next to every
bad case, each at its own path) with ``DOWNLOAD_TIMEOUT=2``, ``RETRY_TIMES=2`` and
``DOWNLOAD_MAXSIZE=5000000``. For each case the tests check the outcome (archived,
counted under the right error kind, or never requested), a log line that names the URL
and the problem, the count in the run summary (the table in stderr and
``outlet_stats``), and that every good article is archived all the same.

Decisions the assertions encode:
- HTML served as ``application/octet-stream`` or ``text/plain`` is archived: the body
  is clearly HTML, and a mislabelled page is still the article.
- A feed served as ``text/html`` whose body is RSS is read as a feed.
- A malformed feed keeps the items before the breakage; the problem is logged and
  counted (a ``*feed*`` error kind). An empty (0-byte) feed is a ``bad_feed`` error.
- Billion laughs / external entities: the feed may be refused (``bad_feed``) or read
  without expanding them; either way no entity content reaches the archive (catalog,
  text files, manifest, WARC, log) and the external URL is never requested.
- A redirect loop is an error of kind ``redirect_loop``; a 5-hop chain is followed.
- Pages larger than DOWNLOAD_MAXSIZE (declared, chunked, or a gzip bomb) are errors of
  kind ``too_large``; the crawl's peak memory stays well under 400 MB.

Then the configuration cases: broken outlets files, an unwritable archive directory,
and a full disk (a 2 MB tmpfs).
"""
from __future__ import annotations

import gzip
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import FAST_CRAWL, REPO, run_crawl
from tests.demosite import OutletSite
from tests.hostile_server import CYRILLIC_HEADLINE, CYRILLIC_PARAGRAPHS, HostileSite, article_content
from tests.test_crash import archive_problems, catalog_versions, text_problems, verify_available, warc_problems

PEAK_RSS_LIMIT_MB = 400
HOSTILE_SETTINGS = ("-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=2", "-s", "DOWNLOAD_MAXSIZE=5000000",
                    "-s", "DOWNLOAD_WARNSIZE=2000000")
CASES = {case.name: case for case in HostileSite().cases}
SECRET_TOKEN = "XXE-SECRET-6d1c0c2e-file-content"


# ----------------------------------------------------------------------------- the crawl
class Measured:
    """A finished crawl subprocess: exit status, stderr, seconds, peak memory."""

    def __init__(self, returncode: int, stderr: str, seconds: float, peak_rss_mb: float, main_hwm_mb: float):
        self.returncode, self.stderr, self.seconds = returncode, stderr, seconds
        self.peak_rss_mb, self.main_hwm_mb = peak_rss_mb, main_hwm_mb


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# Runs the crawl and reports its ru_maxrss: a small launcher between this test process and
# the crawl, since a child's ru_maxrss also counts the pages it shared with its parent until
# its exec, and this test process holds whatever the suite has imported so far.
LAUNCHER = """
import json, os, subprocess, sys
report, command = sys.argv[1], sys.argv[2:]
proc = subprocess.Popen(command)
open(report + ".pid", "w").write(str(proc.pid))
_, status, usage = os.wait4(proc.pid, 0)
open(report, "w").write(json.dumps({"code": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}))
"""


def run_measured(outlets_file: Path, archive: Path, *extra: str, timeout: float = 120,
                 log_dir: Path | None = None) -> Measured:
    """``scrapy crawl news`` like :func:`run_crawl`, with its peak memory.

    ``peak_rss_mb``: ``ru_maxrss`` that ``wait4`` reports for the crawl (the largest of the
    crawl process and the descendants it reaped, i.e. the extraction workers), taken by a
    small launcher process so that neither this test process nor other tests' children
    count. ``main_hwm_mb``: the crawl process's own VmHWM, sampled from /proc while it runs.
    """
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"OUTLETS_FILE={outlets_file}",
               "-s", f"ARCHIVE_DIR={archive}", *FAST_CRAWL, *extra]
    log = (log_dir or archive.parent) / f"{archive.name}.stderr.log"
    report = log.with_suffix(".rss.json")
    report.unlink(missing_ok=True)
    started = time.monotonic()
    with open(log, "wb") as err:
        launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(report), *command], cwd=REPO,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    hwm, crawl_pid = 0, None
    while launcher.poll() is None:
        if crawl_pid is None and Path(f"{report}.pid").exists():
            crawl_pid = int(Path(f"{report}.pid").read_text() or 0) or None
        if crawl_pid:
            hwm = max(hwm, _vm_hwm_kb(crawl_pid))
        if time.monotonic() - started > timeout:
            os.killpg(launcher.pid, signal.SIGKILL)
            pytest.fail(f"crawl did not finish within {timeout} s (hang?): {log.read_text()[-3000:]}")
        time.sleep(0.05)
    outcome = json.loads(report.read_text())
    return Measured(outcome["code"], log.read_text(encoding="utf-8", errors="replace"), time.monotonic() - started,
                    outcome["maxrss_kb"] / 1024, hwm / 1024)



@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    secret = tmp / "secret.txt"
    secret.write_text(SECRET_TOKEN + "\n")
    site = HostileSite(secret_file=str(secret)).start()
    try:
        outlets = tmp / "outlets.toml"
        outlets.write_text(site.outlets_toml())
        archive = tmp / "archive"
        result = run_measured(outlets, archive, *HOSTILE_SETTINGS)
        print(f"\nhostile crawl: exit {result.returncode} in {result.seconds:.1f} s; peak RSS {result.peak_rss_mb:.0f} MB "
              f"(crawl process VmHWM {result.main_hwm_mb:.0f} MB)")
        yield {"site": site, "archive": archive, "result": result, "secret": secret, "outlets": outlets}
    finally:
        site.stop()


def _db(archive: Path) -> sqlite3.Connection:
    db = sqlite3.connect(archive / "catalog.sqlite")
    db.row_factory = sqlite3.Row
    return db


def last_run_stats(archive: Path, outlet: str = "hostile") -> dict:
    with _db(archive) as db:
        row = db.execute("SELECT s.* FROM outlet_stats s WHERE s.outlet = ? ORDER BY s.run_id DESC LIMIT 1",
                         (outlet,)).fetchone()
    stats = dict(row)
    stats["errors"] = json.loads(stats["errors"] or "{}")
    return stats


def summary_table(stderr: str) -> str:
    match = re.search(r"crawl summary:\n(.*?)\n(?=\d{4}-\d\d-\d\d |\Z)", stderr, re.S)
    assert match, "no crawl summary in stderr"
    return match.group(1)


def log_lines(stderr: str, url: str, *levels: str) -> list[str]:
    levels = levels or ("WARNING", "ERROR")
    return [line for line in stderr.splitlines() if url in line and any(f"] {lvl}:" in line for lvl in levels)]


def assert_logged(stderr: str, url: str, words: tuple[str, ...], *levels: str) -> str:
    """A log line names ``url`` and one of ``words`` (the problem); return it."""
    lines = log_lines(stderr, url, *levels)
    hits = [line for line in lines if any(w.lower() in line.lower() for w in words)]
    assert hits, f"no {'/'.join(levels) or 'WARNING/ERROR'} line names {url} and one of {words}; lines with the URL: " \
                 f"{[l[:300] for l in stderr.splitlines() if url in l][:6]}"
    return hits[0]


def versions_by_url(archive: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in catalog_versions(archive):
        for key in {row["url"], row["canonical_url"]}:
            out.setdefault(key, []).append(row)
    return out


def warc_records(archive: Path) -> list[tuple[str, str, int | None]]:
    """(record type, target URI, HTTP status) of every record (payloads not read)."""
    records = []
    for path in sorted((archive / "warc").glob("*.warc.gz")):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                status = None
                if record.rec_type in ("response", "revisit") and record.http_headers:
                    status = int(record.http_headers.get_statuscode())
                records.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"), status))
    return records


def archive_dump(archive: Path) -> str:
    """Everything the archive holds as text: catalog tables, manifest, text files, WARC payloads."""
    parts = []
    with _db(archive) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            parts += [repr(tuple(row)) for row in db.execute(f"SELECT * FROM {table}")]
    if (archive / "manifest.csv").exists():
        parts.append((archive / "manifest.csv").read_text(encoding="utf-8"))
    parts += [p.read_text(encoding="utf-8", errors="replace") for p in (archive / "text").glob("*.txt")]
    for path in (archive / "warc").glob("*.warc.gz"):
        with gzip.open(path, "rb") as handle:
            parts.append(handle.read().decode("latin-1"))
    return "\n".join(parts)


def _passwd_first_line() -> str | None:
    try:
        line = Path("/etc/passwd").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return line if len(line) > 10 else None


# ----------------------------------------------------------------------------- the crawl as a whole
def test_crawl_finishes_cleanly_with_bounded_memory(hostile):
    result = hostile["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("newsarchive: crawl finished:") and "1/1 outlets" in last, last
    assert "Traceback" not in result.stderr, result.stderr[result.stderr.index("Traceback") - 500:][:3000]
    print(f"peak RSS of the crawl (wait4 ru_maxrss): {result.peak_rss_mb:.0f} MB; "
          f"crawl process VmHWM: {result.main_hwm_mb:.0f} MB; {result.seconds:.1f} s")
    assert result.peak_rss_mb < PEAK_RSS_LIMIT_MB
    assert result.main_hwm_mb < PEAK_RSS_LIMIT_MB
    # the slow page costs its retries (3 x 2 s), not the crawl's time
    assert result.seconds < 60


def test_every_good_article_archived_once_with_its_text(hostile):
    site, archive = hostile["site"], hostile["archive"]
    by_url = versions_by_url(archive)
    missing, wrong = [], []
    for path, slug in site.articles_to_archive().items():
        url = site.url(path)
        rows = by_url.get(url, [])
        if len(rows) != 1:
            missing.append((path, len(rows)))
            continue
        text = (archive / rows[0]["file"]).read_text(encoding="utf-8")
        _, paragraphs = article_content(slug)
        wrong += [(path, p[:50]) for p in paragraphs if p not in text]
    assert missing == [], f"good articles not archived exactly once: {missing}"
    assert wrong == [], f"paragraphs missing from texts: {wrong[:5]}"
    stats = last_run_stats(archive)
    assert stats["archived"] == len(catalog_versions(archive))
    assert stats["archived"] >= len(site.articles_to_archive())


def test_archived_texts_start_with_the_headline(hostile):
    """README: line 1 is the headline, then a blank line."""
    site, archive = hostile["site"], hostile["archive"]
    by_url = versions_by_url(archive)
    wrong = []
    for path, slug in site.articles_to_archive().items():
        rows = by_url.get(site.url(path))
        if rows:
            headline = CYRILLIC_HEADLINE if slug == "cp1251" else article_content(slug)[0]
            lines = (archive / rows[0]["file"]).read_text(encoding="utf-8").split("\n")
            if lines[0] != headline or lines[1] != "":
                wrong.append((path, lines[0][:60]))
    assert wrong == [], f"{len(wrong)} texts without their headline on line 1, e.g. {wrong[:3]}"


def test_archive_is_consistent_and_warc_complete(hostile):
    archive = hostile["archive"]
    assert archive_problems(archive) == []  # text files, catalog rows, warcio check, full gunzip, markers
    records = warc_records(archive)
    responses = [(uri, status) for kind, uri, status in records if kind == "response"]
    requests = [uri for kind, uri, _ in records if kind == "request"]
    assert sorted(uri for uri, _ in responses) == sorted(requests)
    if verify_available():
        verify = subprocess.run([sys.executable, "-m", "archive", "verify", "--archive", str(archive)], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]


def test_summary_table_and_catalog_agree(hostile):
    stats = last_run_stats(hostile["archive"])
    table = summary_table(hostile["result"].stderr)
    row = next(line for line in table.splitlines() if line.startswith("hostile "))
    for kind, count in stats["errors"].items():
        assert f"{kind}={count}" in row, (kind, count, row)
    assert stats["errors"], "the hostile crawl must count errors"


# ----------------------------------------------------------------------------- one test per case
ERROR_WORDS = {
    "http_404": ("404",), "http_410": ("410",), "redirect_loop": ("redirect",),
    "timeout": ("timeout", "took longer"), "connection_lost": ("connection_lost", "connection lost", "data loss"),
    "no_article_text": ("no article text", "no_article_text"), "too_large": ("too_large", "max size", "MAXSIZE"),
    "bad_feed": ("feed",), "not_html": ("not an HTML", "not_html"),
}
ERRBACK_KINDS = {"timeout", "connection_lost", "too_large", "redirect_loop"}
EXPECTED_ERROR_COUNTS = {"too_large": 3, "timeout": 1, "connection_lost": 1, "redirect_loop": 1, "http_410": 1,
                         "no_article_text": 1, "not_html": 1}


def test_error_counts_per_kind(hostile):
    """Each hostile page counts once under its kind; no kind is a bare exception class name."""
    errors = last_run_stats(hostile["archive"])["errors"]
    assert {k: errors.get(k) for k in EXPECTED_ERROR_COUNTS} == EXPECTED_ERROR_COUNTS, errors
    assert [k for k in errors if not re.fullmatch(r"[a-z0-9_]+", k)] == [], f"unclassified errors: {errors}"


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.expect == "error"])
def test_error_case_is_logged_and_counted(hostile, name):
    case, site, archive = CASES[name], hostile["site"], hostile["archive"]
    url = site.url(case.path)
    stats = last_run_stats(archive)
    assert stats["errors"].get(case.kind, 0) >= 1, f"{name}: no {case.kind} in errors {stats['errors']}"
    assert f"{case.kind}=" in summary_table(hostile["result"].stderr)
    assert_logged(hostile["result"].stderr, url, ERROR_WORDS[case.kind] + (case.kind,))
    if case.kind in ERRBACK_KINDS:  # the spider's error line attributes the count to this URL
        assert_logged(hostile["result"].stderr, url, (f"failed: {case.kind}",), "ERROR")
    assert url not in versions_by_url(archive), f"{name} must not be archived"


REDIRECTED = {"redirect-chain": "/2024/06/05/chain-5", "meta-refresh": "/2024/06/16/refreshed"}


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.expect == "archived"])
def test_archived_case(hostile, name):
    case, site, archive = CASES[name], hostile["site"], hostile["archive"]
    by_url = versions_by_url(archive)
    if name in REDIRECTED:
        target = REDIRECTED[name]
        rows = by_url.get(site.url(target), []) or by_url.get(site.url(case.path), [])
        slug = site.good[target]
    else:
        rows = by_url.get(site.url(case.path), [])
        slug = site.good.get(case.path)
    assert len(rows) == 1, f"{name}: {len(rows)} versions"
    text = (archive / rows[0]["file"]).read_text(encoding="utf-8")
    paragraphs = CYRILLIC_PARAGRAPHS if name == "windows-1251" else article_content(slug)[1]
    for paragraph in paragraphs:
        assert paragraph in text, (name, paragraph[:60], text[:300])


def test_robots_disallowed_page_skipped_and_counted(hostile):
    site, archive, stderr = hostile["site"], hostile["archive"], hostile["result"].stderr
    path = CASES["robots"].path
    assert site.count(path) == 0
    assert_logged(stderr, site.url(path), ("robots",), "INFO", "WARNING", "ERROR")
    skipped = json.loads(re.search(r"skipped by reason: (\{.*\})", stderr).group(1))
    assert skipped["hostile"].get("robots") == 1, skipped
    assert last_run_stats(archive)["skipped"] >= 1


# ----------------------------------------------------------------------------- pages in detail
def test_503_twice_then_200_is_retried_and_archived(hostile):
    site, archive = hostile["site"], hostile["archive"]
    url = site.url("/2024/06/01/flaky-503")
    assert site.hits("/2024/06/01/flaky-503") == 3
    statuses = [status for kind, uri, status in warc_records(archive) if kind == "response" and uri == url]
    assert statuses == [503, 503, 200], "every attempt is in the WARC files"
    assert "http_503" not in last_run_stats(archive)["errors"]


def test_404_and_410_not_archived_and_marked(hostile):
    site, archive = hostile["site"], hostile["archive"]
    with _db(archive) as db:
        for path, status in (("/2024/06/02/not-found", 404), ("/2024/06/03/gone", 410)):
            row = db.execute("SELECT last_status, latest_version FROM articles WHERE url = ?", (site.url(path),)).fetchone()
            assert row is not None and row["last_status"] == status and row["latest_version"] == 0, (path, row)
            assert site.hits(path) == 1, "4xx is final: no retries"


def test_redirect_loop_is_an_error_and_bounded(hostile):
    site, stderr = hostile["site"], hostile["result"].stderr
    hops = site.hits("/2024/06/04/loop-a") + site.hits("/2024/06/04/loop-b")
    assert hops <= 2 * 21, hops  # at most REDIRECT_MAX_TIMES (+1) per attempt
    assert last_run_stats(hostile["archive"])["errors"].get("redirect_loop") == 1
    assert_logged(stderr, site.url("/2024/06/04/loop-a"), ("redirect",))


def test_five_redirects_then_article(hostile):
    site, archive = hostile["site"], hostile["archive"]
    for hop in range(6):
        assert site.hits(f"/2024/06/05/chain-{hop}") == 1, hop
    records = warc_records(archive)
    statuses = [status for kind, uri, status in records if kind == "response" and "/2024/06/05/chain-" in uri]
    assert sorted(statuses) == [200, 301, 301, 302, 302, 302], "each hop is in the WARC files"


def test_meta_refresh_is_followed_once(hostile):
    site, archive = hostile["site"], hostile["archive"]
    assert site.hits("/2024/06/16/refresh") == 1 and site.hits("/2024/06/16/refreshed") == 1
    statuses = [status for kind, uri, status in warc_records(archive)
                if kind == "response" and "/2024/06/16/refresh" in uri]
    assert sorted(statuses) == [200, 200], "the refresh page and the article are both in the WARC files"


def test_slow_server_times_out_without_holding_up_the_crawl(hostile):
    site, stderr = hostile["site"], hostile["result"].stderr
    assert 1 <= site.hits("/2024/06/06/slow") <= 3  # the first try and at most RETRY_TIMES retries
    assert_logged(stderr, site.url("/2024/06/06/slow"), ("timeout", "took longer"), "ERROR")
    # everything else was fetched while the slow page was waited for
    timed = site.requests_timed()
    good_done = max(t for p, t in timed if p.startswith("/2024/05/0"))
    slow_first = min(t for p, t in timed if p == "/2024/06/06/slow")
    assert good_done < slow_first + site.slow_seconds, "good articles waited for the slow page"


def test_connection_reset_mid_body_is_connection_lost(hostile):
    site, stderr = hostile["site"], hostile["result"].stderr
    url = site.url("/2024/06/07/reset")
    assert last_run_stats(hostile["archive"])["errors"].get("connection_lost") == 1
    assert_logged(stderr, url, ("connection_lost",), "ERROR")


def test_mislabelled_html_is_archived(hostile):
    """HTML served as application/octet-stream or text/plain is archived (the body is clearly HTML)."""
    site, archive = hostile["site"], hostile["archive"]
    by_url = versions_by_url(archive)
    for path in ("/2024/06/09/octet", "/2024/06/10/plain"):
        rows = by_url.get(site.url(path), [])
        assert len(rows) == 1, path
        text = (archive / rows[0]["file"]).read_text(encoding="utf-8")
        assert "<p>" not in text and "<h1>" not in text, "markup must not leak into the text"
        assert not log_lines(hostile["result"].stderr, site.url(path)), "no warning or error for a mislabelled page"


def test_too_large_pages_stopped_early(hostile):
    site, archive, result = hostile["site"], hostile["archive"], hostile["result"]
    stats = last_run_stats(archive)
    assert stats["errors"].get("too_large") == 3, stats["errors"]
    for path in ("/2024/06/11/huge", "/2024/06/12/huge-chunked", "/2024/06/13/gzip-bomb"):
        assert_logged(result.stderr, site.url(path), ("too_large", "max size", "MAXSIZE"), "ERROR")
        assert site.url(path) not in versions_by_url(archive)
    # retries would only download the same too-large body again
    assert site.hits("/2024/06/11/huge") == 1 and site.hits("/2024/06/12/huge-chunked") == 1
    total_warc = sum(p.stat().st_size for p in (archive / "warc").glob("*.warc.gz"))
    assert total_warc < 8_000_000, "no 50 MB body may reach the WARC files"
    assert result.peak_rss_mb < PEAK_RSS_LIMIT_MB, f"peak RSS {result.peak_rss_mb:.0f} MB"


def test_windows_1251_page_becomes_utf8_cyrillic(hostile):
    site, archive = hostile["site"], hostile["archive"]
    rows = versions_by_url(archive).get(site.url("/2024/06/14/cp1251"), [])
    assert len(rows) == 1
    raw = (archive / rows[0]["file"]).read_bytes()
    text = raw.decode("utf-8")  # strict: the file is UTF-8
    for paragraph in CYRILLIC_PARAGRAPHS:
        assert paragraph in text
    assert "Ð" not in text and "Ñ" not in text, "mojibake"


def test_empty_200_is_no_article_text(hostile):
    site, archive = hostile["site"], hostile["archive"]
    assert last_run_stats(archive)["errors"].get("no_article_text") == 1
    assert_logged(hostile["result"].stderr, site.url("/2024/06/08/empty"), ("no article text",))


def test_non_http_links_never_followed(hostile):
    site, archive = hostile["site"], hostile["archive"]
    raw = site.raw_request_lines()
    assert raw and all(re.match(r"^(GET|HEAD) /\S* HTTP/1\.[01]$", line) for line in raw), \
        [line for line in raw if not line.startswith(("GET /", "HEAD /"))][:5]
    assert not [p for p in site.requested() if "ftp-article" in p or "passwd" in p or "javascript" in p]
    uris = [uri for kind, uri, _ in warc_records(archive) if kind != "warcinfo"]
    assert all(uri.startswith(site.base_url) for uri in uris), [u for u in uris if not u.startswith("http")][:5]
    with _db(archive) as db:
        urls = [row[0] for row in db.execute("SELECT url FROM articles")]
    assert all(url.startswith("http://") for url in urls), urls
    # links from good-1 to an article listed nowhere are followed (http ones only)
    assert site.hits("/2024/05/11/linked-only") == 1


# ----------------------------------------------------------------------------- feeds in detail
def test_malformed_feed_keeps_items_before_the_breakage_and_is_counted(hostile):
    site, archive, stderr = hostile["site"], hostile["archive"], hostile["result"].stderr
    by_url = versions_by_url(archive)
    for path in ("/2024/05/02/malformed-1", "/2024/05/02/malformed-2"):
        assert len(by_url.get(site.url(path), [])) == 1, path
    assert_logged(stderr, site.url("/feeds/malformed.xml"), ("malformed", "not well-formed", "mismatched"))
    errors = last_run_stats(archive)["errors"]
    feed_problems = sum(count for kind, count in errors.items() if "feed" in kind)
    # the empty feed is one; the malformed one (recovered or not) must count too
    assert feed_problems >= 2, f"a malformed feed must be counted in the summary: {errors}"


def test_feed_entries_without_a_link_are_not_articles(hostile):
    """An item without <link> must not turn the feed's own URL into an 'article'."""
    site, archive = hostile["site"], hostile["archive"]
    feed_urls = {site.url(path) for path in site.feeds.values()}
    with _db(archive) as db:
        urls = {row[0] for row in db.execute("SELECT url FROM articles")}
    assert not urls & feed_urls, sorted(urls & feed_urls)


def test_entity_bomb_feed_is_harmless(hostile):
    site, archive, result = hostile["site"], hostile["archive"], hostile["result"]
    feed = site.url("/feeds/bomb.xml")
    assert site.count("/feeds/bomb.xml") == 1
    refused = last_run_stats(archive)["errors"].get("bad_feed", 0) >= 2  # the empty feed is one
    archived = site.url("/2024/05/03/bomb-1") in versions_by_url(archive)
    assert archived or refused
    assert_logged(result.stderr, feed, ("entit", "malformed", "amplification", "not a feed", "syntax"))
    assert "lollollollol" not in archive_dump(archive)
    assert result.peak_rss_mb < PEAK_RSS_LIMIT_MB


def test_external_entities_never_resolved(hostile):
    site, archive, result = hostile["site"], hostile["archive"], hostile["result"]
    assert site.count("/xxe-probe") == 0, "the external entity's URL was requested"
    dump = archive_dump(archive) + result.stderr
    assert SECRET_TOKEN not in dump, "the content of a local file reached the archive or the log"
    passwd = _passwd_first_line()
    if passwd:
        assert passwd not in dump
    assert_logged(result.stderr, site.url("/feeds/xxe.xml"), ("entit", "malformed", "not a feed", "syntax"))


def test_atom_with_escaped_html(hostile):
    site, archive = hostile["site"], hostile["archive"]
    assert site.count("/2024/05/05/atom-1?page=1&lang=en") == 1, [p for p in site.requested() if "atom" in p]
    assert not [p for p in site.requested() if "&amp;" in p or "amp;" in p]
    assert site.hits("/2024/05/05/from-content") == 0, "links inside feed content are not listings"
    assert len(versions_by_url(archive).get(site.url("/2024/05/05/atom-2"), [])) == 1


def test_feed_served_as_text_html_is_read(hostile):
    site, archive = hostile["site"], hostile["archive"]
    assert len(versions_by_url(archive).get(site.url("/2024/05/06/as-html-1"), [])) == 1


def test_empty_feed_is_a_bad_feed(hostile):
    site, archive, stderr = hostile["site"], hostile["archive"], hostile["result"].stderr
    assert last_run_stats(archive)["errors"].get("bad_feed", 0) >= 1, last_run_stats(archive)["errors"]
    assert_logged(stderr, site.url("/feeds/empty.xml"), ("feed", "empty"))


def test_duplicate_items_fetched_once(hostile):
    site, archive = hostile["site"], hostile["archive"]
    assert site.hits("/2024/05/07/dup-1") == 1
    assert site.hits("/2024/05/01/good-1") == 1  # in two feeds
    with _db(archive) as db:
        rows = db.execute("SELECT url FROM articles WHERE url LIKE '%dup-1%'").fetchall()
    assert [r[0] for r in rows] == [site.url("/2024/05/07/dup-1")]


def test_relative_links_resolved_against_the_feed(hostile):
    site = hostile["site"]
    assert site.hits("/2024/05/08/relative-1") == 1
    assert site.hits("/2024/05/08/relative-2") == 1


def test_tracking_parameters_dropped(hostile):
    site, archive = hostile["site"], hostile["archive"]
    tracked = [p for p in site.requested() if re.search(r"utm_|fbclid|gclid", p)]
    assert tracked == []
    assert site.count("/2024/05/09/tracked-3?id=7") == 1, "content parameters stay"
    with _db(archive) as db:
        urls = [row[0] for row in db.execute("SELECT url FROM articles")]
    assert not [u for u in urls if re.search(r"utm_|fbclid|gclid", u)]
    for n in (1, 2):
        assert site.hits(f"/2024/05/09/tracked-{n}") == 1


# ----------------------------------------------------------------------------- configuration
BROKEN_OUTLETS = [
    ('[[outlets]]\nname = "bad-regex"\nfeeds = ["http://127.0.0.1:9/rss.xml"]\narticle_pattern = "(["\n',
     "bad-regex", "article_pattern"),
    ('[[outlets]]\nname = "local-file"\nfeeds = ["file:///etc/passwd"]\n', "local-file", "feeds"),
    ('[[outlets]]\nname = "ok"\nfeeds = ["http://127.0.0.1:9/rss.xml"]\n\n'
     '[[outlets]]\nname = "bad-recheck"\nsitemaps = ["http://127.0.0.1:9/s.xml"]\nrecheck = ["soon"]\n',
     "bad-recheck", "recheck"),
    ('[[outlets]]\nname = "typo"\nfeed = ["http://127.0.0.1:9/rss.xml"]\n', "typo", "feed"),
]


@pytest.mark.parametrize("toml,outlet,field", BROKEN_OUTLETS, ids=[b[1] for b in BROKEN_OUTLETS])
def test_broken_outlets_file_exit_2_names_outlet_and_field(tmp_path, toml, outlet, field):
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(toml)
    result = run_crawl(outlets, tmp_path / "archive", timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    assert f"'{outlet}'" in message and field in message, message
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "archive").exists(), "nothing may be written before the configuration is valid"


def test_archive_dir_below_a_regular_file_exit_2(tmp_path):
    outlets = tmp_path / "outlets.toml"
    outlets.write_text('[[outlets]]\nname = "x"\nfeeds = ["http://127.0.0.1:9/rss.xml"]\n')
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    archive = blocker / "archive"
    result = run_crawl(outlets, archive, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    assert str(blocker) in message and "not writable" in message and "is a file" in message, message
    assert "[Errno" not in message and "Traceback" not in result.stderr


@pytest.fixture
def tmpfs(tmp_path):
    """Mount tmpfs file systems below tmp_path (root only); unmounted afterwards."""
    mounted = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); needs root")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_archive_dir_on_read_only_mount_exit_2(tmp_path, tmpfs):
    outlets = tmp_path / "outlets.toml"
    outlets.write_text('[[outlets]]\nname = "x"\nfeeds = ["http://127.0.0.1:9/rss.xml"]\n')
    archive = tmpfs("ro", "ro,size=1m")
    result = run_crawl(outlets, archive, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    assert str(archive) in message and ("not writable" in message or "Read-only" in message), message
    assert "Traceback" not in result.stderr


def test_new_archive_dir_under_a_read_only_parent_exit_2(tmp_path, tmpfs):
    """A read-only parent (a read-only mount: chmod does not stop root) gets the same clear
    message as a read-only archive directory, not a raw [Errno 13] / [Errno 30]."""
    outlets = tmp_path / "outlets.toml"
    outlets.write_text('[[outlets]]\nname = "x"\nfeeds = ["http://127.0.0.1:9/rss.xml"]\n')
    archive = tmpfs("ro", "ro,size=1m") / "new" / "archive"
    result = run_crawl(outlets, archive, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    assert str(archive) in message and "not writable" in message, message
    assert "[Errno" not in message and "Traceback" not in result.stderr


def test_read_only_text_dir_exits_non_zero_and_next_run_repairs(tmp_path, tmpfs, served):
    """text/ on a read-only mount: the crawl cannot write what it fetched, so it stops and
    exits 6 (not 0); once writable again, the next run archives everything."""
    site = OutletSite("ro", n_articles=12, seed=5, gzip=False, link_only=False)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss",)))
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "text").mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(archive / "text")],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); needs root")
    (archive / "text" / ".tmp").mkdir()  # as an earlier run left it
    subprocess.run(["mount", "-o", "remount,ro", str(archive / "text")], check=True)
    try:
        first = run_crawl(outlets, archive, timeout=120)
    finally:
        subprocess.run(["umount", "-l", str(archive / "text")], capture_output=True)
    tail = "\n".join(first.stderr.strip().splitlines()[-5:])
    assert first.returncode == 6, f"a crawl that could not write its archive must not exit 0:\n{tail}"
    assert "could not write to the archive" in tail, tail
    assert "Traceback" not in first.stderr, first.stderr[first.stderr.index("Traceback") - 300:][:2500]
    second = run_crawl(outlets, archive, timeout=120)
    assert second.returncode == 0, second.stderr[-3000:]
    assert archive_problems(archive) == []
    assert {row["canonical_url"] for row in catalog_versions(archive)} == set(site.article_urls(server.base_url(site)))


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory):
    """A crawl into a 2 MB tmpfs that fills up; then, with more room, the next run."""
    from tests.demosite import SiteServer

    tmp = tmp_path_factory.mktemp("fulldisk")
    mount = tmp / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); needs root")
    site = OutletSite("filler", n_articles=300, seed=21, gzip=False, link_only=False)  # well over 2 MB archived
    server = SiteServer([site])
    server.start()
    try:
        outlets = tmp / "outlets.toml"
        outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
        archive = mount / "archive"
        first = run_measured(outlets, archive, timeout=120, log_dir=tmp)  # the log must not go to the full disk
        fitted = len(list((archive / "text").glob("*.txt")))
        print(f"\nfull disk: exit {first.returncode} after {first.seconds:.1f} s; {fitted} text files fit")
        after_first = {"texts": text_problems(archive, allow_tmp=True), "warc": warc_problems(archive, allow_open=True),
                       "tmp": sorted(p.name for p in (archive / "text" / ".tmp").glob("*")),
                       "manifest_tmp": sorted(p.name for p in archive.glob(".manifest*.tmp"))}
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        second = run_crawl(outlets, archive, "-s", "RECHECK=none", timeout=120)
        yield {"first": first, "after_first": after_first, "second": second, "archive": archive,
               "expected": set(site.article_urls(server.base_url(site)))}
    finally:
        server.stop()
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_full_disk_leaves_a_consistent_archive(full_disk):
    """Right after the full-disk run: no partial text file, no row without its file (or its
    pending bytes), every WARC file decompresses to its end."""
    state = full_disk["after_first"]
    assert state["texts"] == []
    assert state["warc"] == []


def test_full_disk_ends_with_a_clear_error(full_disk):
    first = full_disk["first"]
    tail = "\n".join(first.stderr.strip().splitlines()[-5:])
    assert first.seconds < 100, "not a hang"
    assert first.returncode != 0, f"a crawl that could not write its archive must not exit 0:\n{tail}"
    assert re.search(r"no space|disk (is )?full|space left", tail, re.I), f"the last lines must say the disk is full:\n{tail}"


def test_full_disk_errors_are_lines_not_tracebacks(full_disk):
    log = full_disk["first"].stderr
    assert full_disk["after_first"]["manifest_tmp"] == [], "a half-written manifest was left in the archive"
    assert "Traceback" not in log, log[log.index("Traceback") - 300:][:2500]


def test_full_disk_next_run_repairs_and_completes(full_disk):
    second, archive = full_disk["second"], full_disk["archive"]
    assert second.returncode == 0, second.stderr[-3000:]
    assert archive_problems(archive) == []
    rows = catalog_versions(archive)
    assert {row["canonical_url"] for row in rows} == full_disk["expected"]
    assert len(rows) == len(full_disk["expected"])
    if verify_available():
        verify = subprocess.run([sys.executable, "-m", "archive", "verify", "--archive", str(archive)], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    assert not list(archive.glob(".manifest*.tmp")), "the full-disk run's half-written manifest is still there"
