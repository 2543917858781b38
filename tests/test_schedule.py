"""The scheduler (crawler/schedule.py), end to end: real scheduler and crawl subprocesses
against a tiny outlet served from this process (stdlib http.server on 127.0.0.1)."""
from __future__ import annotations

import gzip
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from archive.store.catalog import Catalog, catalog_url_for
from archive.store.lock import ArchiveLock

REPO = Path(__file__).resolve().parent.parent
ARTICLES = {
    f"/2024/01/0{i}/story-{i}": (
        f"Headline number {i}",
        [f"Paragraph {j} of story {i}: the council met on Tuesday to discuss bridge number {i}, "
         f"and residents said they were worried about traffic and noise for many months." for j in range(4)],
    )
    for i in (2, 3, 4)
}
FAST = ["-s", "AUTOTHROTTLE_ENABLED=0", "-s", "EXTRACT_WORKERS=0", "-s", "PROGRESS_INTERVAL=0"]


# -- the outlet ----------------------------------------------------------------------------

class OutletHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        server = self.server
        base = f"http://127.0.0.1:{server.server_address[1]}"
        if self.path == "/robots.txt":
            self._send(b"User-agent: *\nAllow: /\n", "text/plain")
        elif self.path == "/feed.xml":
            items = "".join(f"<item><title>{title}</title><link>{base}{path}</link>"
                            f"<pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate></item>"
                            for path, (title, _) in ARTICLES.items())
            self._send(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                       f"<title>Tiny</title><link>{base}/</link>{items}</channel></rss>".encode(),
                       "application/rss+xml")
        elif self.path in ARTICLES:
            if self.path == server.slow_path:
                server.slow_started.set()
                time.sleep(server.slow_seconds)
            title, paragraphs = ARTICLES[self.path]
            body = "".join(f"<p>{p}</p>" for p in paragraphs)
            self._send(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
                       f"<body><article><h1>{title}</h1>{body}</article></body></html>".encode(),
                       "text/html; charset=utf-8")
        else:
            self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), OutletHandler)
    server.daemon_threads = True
    server.slow_path, server.slow_seconds, server.slow_started = None, 0, threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def write_outlets(path: Path, site, name: str = "tiny", interval: str = "2s") -> Path:
    port = site.server_address[1]
    path.write_text(f'[[outlets]]\nname = "{name}"\nfeeds = ["http://127.0.0.1:{port}/feed.xml"]\n'
                    f'discovery_interval = "{interval}"\ndiscovery_floor = "{interval}"\nrecheck = ["1h"]\n',
                    encoding="utf-8")
    return path


# -- running things ------------------------------------------------------------------------

def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSARCHIVE_")}
    return {**env, "NEWSARCHIVE_EXTRACT_WORKERS": "0", "PYTHONUNBUFFERED": "1"}


class Scheduler:
    """``python -m crawler.schedule`` as a subprocess, its stderr in a file."""

    def __init__(self, tmp_path: Path, outlets: Path, archive: Path, *args: str, tag: str = "s"):
        self.stderr_path = tmp_path / f"scheduler-{tag}.err"
        self.argv = [sys.executable, "-m", "crawler.schedule", "--outlets-file", str(outlets),
                     "--archive-dir", str(archive), *FAST, *args]
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=child_env(), stdin=subprocess.DEVNULL,
                                     stdout=self._err, stderr=subprocess.STDOUT)

    @property
    def output(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output
            if len(re.findall(pattern, text)) >= count:
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise AssertionError(f"no {count}x {pattern!r} in the scheduler's output:\n{self.output}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._err.close()


def run(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=timeout)


def stored_jobs(archive: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(archive / "scheduler.sqlite") as db:
        return sorted(db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall())


def runs(archive: Path) -> list[dict]:
    catalog = Catalog(catalog_url_for(str(archive)), create=False)
    try:
        rows = catalog.list_runs(limit=1000)
    finally:
        catalog.close()
    for row in rows:
        row["detail"] = json.loads(row["detail"] or "{}")
    return rows[::-1]


def text_files(archive: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((archive / "text").glob("*.txt"))}


def assert_three_articles(archive: Path) -> None:
    texts = text_files(archive)
    assert len(texts) == 3, texts
    joined = "\n".join(texts.values())
    for paragraphs in (paragraphs for _, paragraphs in ARTICLES.values()):
        assert paragraphs[0] in joined and paragraphs[-1] in joined


def assert_no_children_left(output: str) -> None:
    for pid in map(int, re.findall(r"crawl started \(pid (\d+)\)", output)):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# -- tests ---------------------------------------------------------------------------------

def test_scheduler_runs_crawls_and_stops_cleanly(tmp_path, site):
    archive = tmp_path / "archive"
    outlets = write_outlets(tmp_path / "outlets.toml", site, interval="2s")
    scheduler = Scheduler(tmp_path, outlets, archive, "--recheck-interval", "3s")
    output = scheduler.wait_for(r"crawl finished, exit code 0", count=3, timeout=40)
    assert scheduler.stop() == 0
    output = scheduler.output

    # what is scheduled is logged at start
    assert re.search(r"scheduled job discover:tiny: .*every 2s.*RECHECK=none\); next run \d{4}-", output)
    assert re.search(r"scheduled job recheck: .*every 3s.*RECHECK=due\); next run \d{4}-", output)
    assert "scheduler stopped" in output
    assert_no_children_left(output)

    assert_three_articles(archive)
    assert not list((archive / "text" / ".tmp").glob("*")), "temporary text files left"
    with ArchiveLock(archive):                                   # the lock was released
        pass

    rows = runs(archive)
    scheduled = [r for r in rows if r["kind"] == "scheduled"]
    crawls = {r["id"]: r for r in rows if r["kind"] == "crawl"}
    finished = [r for r in scheduled if r["status"] == "finished"]
    assert len(finished) >= 3
    assert {r["detail"]["job"] for r in finished} == {"discover:tiny", "recheck"}
    for row in scheduled:
        assert row["ended_at"], row                               # every run was closed
        assert Path(row["detail"]["log_file"]).is_file()
    for row in finished:
        assert row["exit_code"] == 0
        crawl = crawls[row["detail"]["crawl_run_id"]]           # linked to the crawl's own row
        assert crawl["status"] == "finished" and crawl["detail"]["recheck"] == row["detail"]["recheck"]
        assert "tiny" in row["detail"]["counts"]
    first = min(finished, key=lambda r: r["id"])
    assert first["detail"]["counts"]["tiny"]["archived"] == 3
    assert sum(r["detail"]["counts"]["tiny"]["archived"] for r in finished) == 3
    assert all(r["status"] in ("finished", "interrupted") for r in scheduled)

    logs = sorted((archive / "logs").glob("*.log"))
    assert len(logs) == len(scheduled)
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-(discover-tiny|recheck)(-\d+)?\.log", p.name) for p in logs)
    first_log = Path(first["detail"]["log_file"]).read_text(encoding="utf-8")
    assert "# newsarchive scheduler: job" in first_log and "Spider closed (finished)" in first_log
    assert "# exit code 0" in first_log

    assert [job for job, _ in stored_jobs(archive)] == ["discover:tiny", "recheck"]


def test_restart_keeps_the_schedule_and_follows_the_outlets_file(tmp_path, site):
    archive = tmp_path / "archive"
    outlets = write_outlets(tmp_path / "outlets.toml", site, interval="1h")
    first = Scheduler(tmp_path, outlets, archive, "--recheck-interval", "off", tag="1")
    text = first.wait_for(r"crawl finished, exit code 0")
    assert "kept none; added discover:tiny; updated none; removed none" in text
    assert first.stop() == 0
    before = stored_jobs(archive)
    assert [job for job, _ in before] == ["discover:tiny"]
    assert before[0][1] > time.time() + 3000                       # next run an hour away

    # same outlets file: the same job, the same next run time, nothing runs now
    second = Scheduler(tmp_path, outlets, archive, "--recheck-interval", "off", tag="2")
    second.wait_for(r"scheduled job discover:tiny: .*; next run")
    time.sleep(0.5)
    assert second.stop() == 0
    text = second.output
    assert "kept discover:tiny; added none; updated none; removed none" in text
    assert "crawl started" not in text
    assert stored_jobs(archive) == before

    # changed interval: the job is updated, its next run comes no later than the new interval
    write_outlets(outlets, site, interval="30m")
    third = Scheduler(tmp_path, outlets, archive, "--recheck-interval", "off", tag="3")
    third.wait_for(r"scheduled job discover:tiny: .*every 30m.*; next run")
    assert third.stop() == 0
    assert "kept none; added none; updated discover:tiny; removed none" in third.output
    [(job, when)] = stored_jobs(archive)
    assert job == "discover:tiny" and time.time() + 1700 < when < time.time() + 1801

    # outlet renamed and a re-check job wanted: the old job is removed, the new ones added
    write_outlets(outlets, site, name="tiny2", interval="30m")
    fourth = Scheduler(tmp_path, outlets, archive, "--recheck-interval", "2h", tag="4")
    fourth.wait_for(r"scheduled job recheck: .*every 2h")
    assert fourth.stop() == 0
    text = fourth.output
    assert "kept none; added discover:tiny2, recheck; updated none; removed discover:tiny" in text
    assert [job for job, _ in stored_jobs(archive)] == ["discover:tiny2", "recheck"]
    assert_no_children_left(text)
    assert all(r["ended_at"] for r in runs(archive))


def test_archive_lock_refuses_crawl_and_scheduled_run(tmp_path, site):
    archive = tmp_path / "archive"
    outlets = write_outlets(tmp_path / "outlets.toml", site)
    lock = ArchiveLock(archive)
    lock.acquire()
    try:
        crawl = run([sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"OUTLETS_FILE={outlets}",
                     "-s", f"ARCHIVE_DIR={archive}", *FAST])
        assert crawl.returncode == 4, crawl.stderr[-2000:]
        assert f"error: archive {archive} is in use by another run (pid {os.getpid()}" in crawl.stderr

        once = run([sys.executable, "-m", "crawler.schedule", "--once", "--job", "discover:tiny",
                    "--outlets-file", str(outlets), "--archive-dir", str(archive), *FAST])
        assert once.returncode == 4, once.stderr[-2000:]
        assert re.search(r"job discover:tiny: crawl refused, the archive is locked by another run "
                         r"\(exit code 4\); this run is skipped\. error: archive .* is in use", once.stderr)
    finally:
        lock.release()
    [row] = runs(archive)
    assert (row["kind"], row["status"], row["exit_code"]) == ("scheduled", "locked", 4)
    assert "is in use by another run" in Path(row["detail"]["log_file"]).read_text(encoding="utf-8")
    assert not text_files(archive)


def test_sigterm_during_a_crawl_lets_it_finish_in_flight_requests(tmp_path, site):
    archive = tmp_path / "archive"
    outlets = write_outlets(tmp_path / "outlets.toml", site, interval="1h")
    site.slow_path, site.slow_seconds = "/2024/01/04/story-4", 3
    site.slow_started.clear()
    try:
        scheduler = Scheduler(tmp_path, outlets, archive, "--recheck-interval", "off")
        assert site.slow_started.wait(30), scheduler.output
        time.sleep(0.3)
        started = time.monotonic()
        assert scheduler.stop() == 0
        assert time.monotonic() - started >= 2                    # it waited for the crawl
    finally:
        site.slow_path = None
    output = scheduler.output
    assert "stopping the crawl gracefully (SIGINT to pid" in output
    assert_no_children_left(output)
    assert_three_articles(archive)                               # the in-flight article too
    for warc in (archive / "warc").glob("*.warc.gz"):
        assert gzip.decompress(warc.read_bytes())                  # complete gzip members
    rows = runs(archive)
    crawl = next(r for r in rows if r["kind"] == "crawl")
    assert crawl["status"] == "shutdown" and crawl["exit_code"] == 0
    scheduled = next(r for r in rows if r["kind"] == "scheduled")
    assert scheduled["status"] == "interrupted" and scheduled["detail"]["stopped_with"] == "SIGINT"
    assert scheduled["detail"]["crawl_run_id"] == crawl["id"]
    assert not list((archive / "text" / ".tmp").glob("*")), "temporary text files left"
    assert Path(scheduled["detail"]["log_file"]).read_text(encoding="utf-8").rstrip().endswith(
        "stopped by the scheduler with SIGINT")


def test_cli_texts_and_bad_configuration(tmp_path, site, capsys):
    outlets = write_outlets(tmp_path / "outlets.toml", site)
    from crawler.schedule import main

    assert main(["--print-cron", "--print-systemd", "--outlets-file", str(outlets),
                 "--archive-dir", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^\*/15 \* \* \* \* cd .* -m crawler\.schedule .*--once --job recheck", printed, re.M)
    assert "KillMode=mixed" in printed and "ExecStart=" in printed
    bad = tmp_path / "bad.toml"
    bad.write_text("[[outlets]]\nname = 'x'\n", encoding="utf-8")
    result = run([sys.executable, "-m", "crawler.schedule", "--outlets-file", str(bad),
                  "--archive-dir", str(tmp_path / "a")])
    assert result.returncode == 2 and "needs at least one of" in result.stderr


def test_serve_releases_its_lock_when_the_running_job_outlives_the_stop_timeout(tmp_path, monkeypatch):
    """The timeout path of ``serve`` (a job that did not end after the stop) returns 1 and
    still releases the scheduler lock."""
    from crawler import schedule

    class Scheduler:  # started, then stopped at once
        def add_listener(self, *args):
            pass

        def start(self):
            pass

    class NeverIdle:
        def wait(self, timeout):
            return False

    monkeypatch.setattr(schedule, "build_scheduler", lambda options: Scheduler())
    monkeypatch.setattr(schedule._runtime, "idle", NeverIdle())
    options = schedule.resolve_options(schedule.build_parser().parse_args(
        ["--archive-dir", str(tmp_path), "--outlets-file", str(tmp_path / "outlets.toml")]))
    assert schedule.serve(options) == schedule.EXIT_ERROR
    fd = schedule._scheduler_lock(tmp_path)
    assert fd is not None, "serve left the scheduler lock held"
    os.close(fd)
