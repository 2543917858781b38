"""Issue 5, crashes: ``kill -9`` of real crawls at random points loses nothing.

A generated outlet is crawled by a real ``scrapy crawl news`` subprocess that is killed
with SIGKILL at seeded random moments, several times; a last run then completes. The
archive must then be exactly what one clean crawl makes: every WARC file complete
(``warcio check`` *and* a full gzip decompression: warcio's iterator takes a torn last
gzip member for a clean end of file), no ``.open`` markers, no temporary text files,
every text file named after its SHA-256 and matching its catalog row, every catalog row
with its file, and every article archived exactly once.

Also: two crawls started at the same moment on one archive: one runs, the other exits
with status 4 and says why.

The helpers (:func:`archive_problems`, :func:`warc_problems`) are shared with
``test_hostile_input.py``.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.conftest import FAST_CRAWL, REPO, run_crawl
from tests.demosite import OutletSite

WARCIO = str(Path(sys.executable).with_name("warcio"))
SEED = 20261123
KILLS = 4
ARTICLES = 150
SLOW_ARTICLE_SECONDS = 0.1  # per article request: at most 20 articles/s with 2 connections, so kills land mid-crawl
CRASH_CRAWL = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")


# ----------------------------------------------------------------------------- archive checks
def gzip_complete(path: Path) -> str | None:
    """None if ``path`` decompresses to its end (every gzip member whole), else the error."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except (OSError, EOFError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def warc_problems(archive: Path, allow_open: bool = False) -> list[str]:
    """What is wrong with the WARC files of ``archive`` (``warcio check``, full gunzip, markers)."""
    problems = []
    warc_dir = archive / "warc"
    files = sorted(warc_dir.glob("*.warc.gz"))
    for path in files:
        error = gzip_complete(path)
        if error:
            problems.append(f"{path.name}: does not decompress to its end ({error})")
        check = subprocess.run([WARCIO, "check", str(path)], capture_output=True, text=True)
        if check.returncode != 0:
            problems.append(f"{path.name}: warcio check failed: {(check.stdout + check.stderr)[-500:]}")
    if not allow_open:
        problems += [f"{marker.name}: .open marker left" for marker in warc_dir.glob("*.open")]
    return problems


def catalog_versions(archive: Path) -> list[dict]:
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM versions ORDER BY seq")]


def text_problems(archive: Path, allow_tmp: bool = False) -> list[str]:
    """Text files vs catalog rows.

    Always: every ``text/*.txt`` hashes to its name and has a catalog row with that
    SHA-256. With ``allow_tmp`` (right after a crash, before the next run's recovery) a
    catalog row may still lack its file if ``text/.tmp`` holds its bytes; without it,
    every row has its file and ``text/.tmp`` is empty.
    """
    problems = []
    rows = catalog_versions(archive) if (archive / "catalog.sqlite").exists() else []
    by_file = {row["file"]: row for row in rows}
    text_dir = archive / "text"
    tmp_dir = text_dir / ".tmp"
    for path in sorted(text_dir.glob("*.txt")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        seq, _, rest = path.name.partition("_")
        if rest != digest[:16] + ".txt":
            problems.append(f"{path.name}: content hashes to {digest[:16]} (partial or corrupt file)")
        row = by_file.get(f"text/{path.name}")
        if row is None:
            problems.append(f"{path.name}: no catalog row")
        elif row["sha256"] != digest:
            problems.append(f"{path.name}: catalog sha256 {row['sha256'][:16]} != file {digest[:16]}")
    pending = {p.name.split(".", 1)[0] for p in tmp_dir.glob("*")} if tmp_dir.is_dir() else set()
    for row in rows:
        if not (archive / row["file"]).exists():
            if allow_tmp and row["sha256"] in pending:
                continue
            problems.append(f"catalog row seq {row['seq']} ({row['url']}): file {row['file']} missing")
    if not allow_tmp and pending:
        problems.append(f"text/.tmp leftovers: {sorted(os.listdir(tmp_dir))[:5]}")
    return problems


def archive_problems(archive: Path, after_crash: bool = False) -> list[str]:
    """Everything :func:`warc_problems` and :func:`text_problems` find."""
    problems = text_problems(archive, allow_tmp=after_crash)
    if not after_crash:  # a torn last member is legal until the next run repairs it
        problems += warc_problems(archive)
    return problems


def verify_available() -> bool:
    probe = subprocess.run([sys.executable, "-m", "archive", "verify", "--help"], cwd=REPO,
                           capture_output=True, text=True)
    return probe.returncode == 0


# ----------------------------------------------------------------------------- crawls
def crawl_command(outlets_file: Path, archive: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"OUTLETS_FILE={outlets_file}",
            "-s", f"ARCHIVE_DIR={archive}", *FAST_CRAWL, *extra]


def start_crawl(outlets_file: Path, archive: Path, log: Path, *extra: str) -> subprocess.Popen:
    """A crawl in its own session (so the extraction workers can be killed with it)."""
    with open(log, "wb") as err:
        return subprocess.Popen(crawl_command(outlets_file, archive, *extra), cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)


def kill_crawl(proc: subprocess.Popen) -> int:
    """SIGKILL the crawl, then whatever of its process group (extraction workers) is left."""
    os.kill(proc.pid, signal.SIGKILL)
    code = proc.wait(timeout=30)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return code


def crawls_at_once(outlets_file: Path, archive: Path, logs: list[Path], *extra: str,
                   timeout: float = 120) -> tuple[list[subprocess.Popen], list[str]]:
    """One crawl per log file, all started at once and waited for (killed if one is left):
    the finished processes (``returncode``, ``pid``) and their logs."""
    procs = [start_crawl(outlets_file, archive, log, *extra) for log in logs]
    try:
        for proc in procs:
            proc.wait(timeout=timeout)
    finally:
        for proc in procs:
            if proc.poll() is None:
                kill_crawl(proc)
    return procs, [log.read_text() for log in logs]


def _wait_for(condition, proc: subprocess.Popen, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def slow_articles(site: OutletSite, seconds: float) -> None:
    """Make ``site`` answer article pages after ``seconds`` (server side, test process only)."""
    render = site.render

    def slow(target: str, base: str | None = None):
        if target.count("/") >= 4:
            time.sleep(seconds)
        return render(target, base)

    site.render = slow


# ----------------------------------------------------------------------------- tests
def test_kill_9_at_random_points_then_complete(tmp_path, served):
    started = time.monotonic()
    rng = random.Random(SEED)
    site = OutletSite("crashy", n_articles=ARTICLES, seed=11, link_only=False)
    slow_articles(site, SLOW_ARTICLE_SECONDS)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
    archive = tmp_path / "archive"
    warc_dir, text_dir = archive / "warc", archive / "text"
    report = []
    # Where each kill's delay counts from: process start (lands in start-up or in the crash
    # recovery of the previous kill), this run's first article request (fetching, WARC
    # writes), its first new text file (archiving: text files and catalog rows).
    anchors = ["start", "fetch", "text", "text"]
    for attempt in range(KILLS):
        delay = rng.uniform(0.3, 2.5)
        anchor = anchors[attempt % len(anchors)]
        texts_before = set(text_dir.glob("*.txt")) if text_dir.exists() else set()
        markers_before = set(warc_dir.glob("*.open")) if warc_dir.exists() else set()
        requests_before = len(site.requests())
        proc = start_crawl(outlets, archive, tmp_path / f"kill{attempt}.log", *CRASH_CRAWL)
        if anchor == "start":
            anchored = True
        elif anchor == "warc":
            anchored = _wait_for(lambda: warc_dir.exists() and set(warc_dir.glob("*.open")) - markers_before, proc, 30)
        elif anchor == "fetch":
            anchored = _wait_for(lambda: any(r.path.count("/") >= 4 for r in site.requests()[requests_before:]), proc, 30)
        else:
            anchored = _wait_for(lambda: text_dir.exists() and set(text_dir.glob("*.txt")) - texts_before, proc, 30)
        time.sleep(delay)
        alive = proc.poll() is None
        code = kill_crawl(proc) if alive else proc.returncode
        texts_after = set(text_dir.glob("*.txt")) if text_dir.exists() else set()
        tmp_files = list((text_dir / ".tmp").glob("*")) if (text_dir / ".tmp").exists() else []
        report.append(f"kill {attempt + 1} at {time.monotonic() - started:.1f} s: {delay:.2f} s after first {anchor} "
                      f"(anchored={anchored}), "
                      f"{'killed' if alive else f'already exited with {code}'}; "
                      f"+{len(texts_after - texts_before)} texts, {len(tmp_files)} in text/.tmp, "
                      f"{len(list(warc_dir.glob('*.open')))} .open markers")
        # right after the crash nothing is lost yet: every row has its file or its pending bytes
        assert text_problems(archive, allow_tmp=True) == [], report[-1]
    print("\n".join(report))
    assert sum("killed" in line for line in report) >= KILLS - 1, report

    final_started = time.monotonic()
    final = run_crawl(outlets, archive, *CRASH_CRAWL, timeout=120)
    report.append(f"final run: {time.monotonic() - final_started:.1f} s")
    assert final.returncode == 0, final.stderr[-3000:]
    assert "Traceback" not in final.stderr, final.stderr[-3000:]

    assert archive_problems(archive) == []
    rows = catalog_versions(archive)
    per_article = Counter(row["canonical_url"] for row in rows)
    expected = set(site.article_urls(server.base_url(site)))
    assert set(per_article) == expected, (sorted(expected - set(per_article))[:5], sorted(set(per_article) - expected)[:5])
    assert [url for url, count in per_article.items() if count != 1] == []
    assert all(row["version"] == 1 for row in rows)
    assert sorted(p.name for p in text_dir.glob("*.txt")) == sorted(Path(row["file"]).name for row in rows)
    # the .open markers of the killed runs are gone, and no run left a half-written manifest
    assert not list(warc_dir.glob("*.open"))
    assert not list(archive.glob(".manifest*.tmp"))
    if verify_available():
        verify = subprocess.run([sys.executable, "-m", "archive", "verify", "--archive", str(archive)], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    print(f"crash test: {len(rows)} articles, {len(list(warc_dir.glob('*.warc.gz')))} WARC files, "
          f"{time.monotonic() - started:.1f} s; " + "; ".join(report[-1:]))


def test_two_runs_started_at_once_one_exits_4(tmp_path, served):
    site = OutletSite("twins", n_articles=40, seed=12, link_only=False)
    slow_articles(site, SLOW_ARTICLE_SECONDS)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
    archive = tmp_path / "archive"
    procs, errors = crawls_at_once(outlets, archive, [tmp_path / "first.log", tmp_path / "second.log"], *CRASH_CRAWL)
    codes = [proc.returncode for proc in procs]
    assert sorted(codes) == [0, 4], (codes, [e[-1500:] for e in errors])
    loser = errors[codes.index(4)]
    assert "in use by another run" in loser and str(archive) in loser, loser[-1500:]
    assert "Traceback" not in loser
    winner = errors[codes.index(0)]
    assert "crawl finished" in winner
    assert archive_problems(archive) == []
    assert len(catalog_versions(archive)) == 40
