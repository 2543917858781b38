"""Issue 20: several `scrapy crawl news` workers on one PostgreSQL catalog and one archive.

Real crawl processes over a generated outlet on 127.0.0.1, a real PostgreSQL server (the
``postgres`` fixture), a shared ``ARCHIVE_DIR``:

- two workers at once: every article fetched and archived exactly once, no sequence
  number twice, each worker its own WARC files, ``verify`` clean, ``export`` and
  ``reextract`` work on the merged archive;
- ``kill -9`` of one worker mid-run: the other finishes, takes over the killed worker's
  claims once their lease has run out, and a later run repairs what the killed one left.
"""
from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.store.catalog import Catalog
from archive.store.lock import HOST
from archive.store.timefmt import format_utc
from tests.conftest import REPO
from tests.demosite import OutletSite
from tests.test_crash import crawls_at_once, kill_crawl, slow_articles, start_crawl, warc_problems

ARTICLES = 120
# small batches, so that a worker holds few claims at a time and both share the frontier
WORKER = ("-s", "FRONTIER_BATCH=10", "-s", "FRONTIER_LOW_WATER=6", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=3",
          "-s", "EXTRACT_WORKERS=1")


def _site_and_outlets(served, tmp_path: Path, name: str, seed: int, slow: float):
    site = OutletSite(name, n_articles=ARTICLES, seed=seed, link_only=False)
    slow_articles(site, slow)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
    return site, server, outlets


def _archive_cli(catalog_url: str, archive: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archive", "--archive", str(archive), "--catalog", catalog_url, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def _verify(catalog_url: str, archive: Path) -> subprocess.CompletedProcess:
    """``python -m archive verify`` of the shared archive, which must pass."""
    verify = _archive_cli(catalog_url, archive, "verify")
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    return verify


def _writer(warc_file: str) -> str:
    """``<host>-<pid>`` of the worker that wrote ``warc_file``."""
    return warc_file.removesuffix(".warc.gz").split("-", 3)[3]


def _article_fetches(site: OutletSite) -> Counter:
    return Counter(r.path for r in site.requests() if r.path.count("/") >= 4 and r.status != 304)


def test_two_workers_share_one_archive(tmp_path, served, postgres):
    site, server, outlets = _site_and_outlets(served, tmp_path, "shared", 31, 0.03)
    catalog_url = postgres.new_database()
    archive = tmp_path / "archive"
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    procs, errors = crawls_at_once(outlets, archive, logs, "-s", f"CATALOG_URL={catalog_url}", *WORKER, timeout=240)
    assert [proc.returncode for proc in procs] == [0, 0], [e[-2000:] for e in errors]
    assert not any("Traceback" in e for e in errors), [e[-3000:] for e in errors]
    # nothing the workers do at their end failed on the shared catalog (polls, groups, index, manifest)
    assert not any(" ERROR: " in e for e in errors), [line for e in errors for line in e.splitlines() if " ERROR: " in line]

    catalog = Catalog(catalog_url)
    rows = list(catalog.iter_versions())
    expected = set(site.article_urls(server.base_url(site)))
    archived = Counter(row["canonical_url"] for row in rows)
    assert set(archived) == expected and set(archived.values()) == {1}
    assert len({row["seq"] for row in rows}) == len(rows) == ARTICLES
    # each article page was fetched once, by one of the two
    fetches = _article_fetches(site)
    assert len(fetches) == ARTICLES and set(fetches.values()) == {1}, fetches.most_common(3)
    # each worker wrote its own WARC files, and both archived articles
    pids = {str(proc.pid) for proc in procs}
    writers = Counter(_writer(row["warc_file"]) for row in rows)
    assert set(writers) == {f"{HOST}-{pid}" for pid in pids}, writers
    warc_files = sorted(p.name for p in (archive / "warc").glob("*.warc.gz"))
    assert {_writer(name) for name in warc_files} == set(writers)
    assert warc_problems(archive) == []
    assert all(row["claimed_by"] is None for row in catalog.iter_articles())
    assert not list((archive / ".workers").glob("*.lock"))
    catalog.close()

    assert "OK: no problems found" in _verify(catalog_url, archive).stdout
    export = _archive_cli(catalog_url, archive, "export", "--format", "csv")
    assert export.returncode == 0, export.stderr[-2000:]
    assert len(list(csv.DictReader(io.StringIO(export.stdout)))) == ARTICLES
    reextract = _archive_cli(catalog_url, archive, "reextract", "--in-place", "--dry-run", "--workers", "0")
    assert reextract.returncode == 0, reextract.stdout[-2000:] + reextract.stderr[-2000:]
    print(f"two workers: archived {dict(writers)}; {len(warc_files)} WARC files")


def test_a_killed_workers_claims_are_taken_over(tmp_path, served, postgres):
    site, server, outlets = _site_and_outlets(served, tmp_path, "killed", 32, 0.1)
    catalog_url = postgres.new_database()
    archive = tmp_path / "archive"
    worker = ("-s", f"CATALOG_URL={catalog_url}", "-s", "CLAIM_LEASE=3", *WORKER)
    survivor = start_crawl(outlets, archive, tmp_path / "survivor.log", *worker)
    victim = start_crawl(outlets, archive, tmp_path / "victim.log", *worker)
    victim_id = f"{HOST}-{victim.pid}"
    catalog = Catalog(catalog_url)
    try:
        deadline = time.monotonic() + 120
        held: list[str] = []
        while time.monotonic() < deadline and victim.poll() is None:
            versions = list(catalog.iter_versions())
            held = [row["url"] for row in catalog.iter_articles() if row["claimed_by"] == victim_id]
            if len([v for v in versions if _writer(v["warc_file"]) == victim_id]) >= 5 and held:
                break
            time.sleep(0.05)
        assert victim.poll() is None and held, "the victim never held claims after archiving something"
        kill_crawl(victim)
        killed_at = datetime.now(timezone.utc)
        held = [row["url"] for row in catalog.iter_articles() if row["claimed_by"] == victim_id]
        code = survivor.wait(timeout=240)
    finally:
        for proc in (survivor, victim):
            if proc.poll() is None:
                kill_crawl(proc)
    log = (tmp_path / "survivor.log").read_text()
    assert code == 0, log[-3000:]

    rows = list(catalog.iter_versions())
    by_url = {row["canonical_url"]: row for row in rows}
    expected = set(site.article_urls(server.base_url(site)))
    assert set(by_url) == expected and len(rows) == ARTICLES
    assert len({row["seq"] for row in rows}) == ARTICLES
    # what the victim held when it died (claims end with the commit of the article's text)
    # was fetched and archived by the survivor, after the lease
    taken_over = [url for url in held if _writer(by_url[url]["warc_file"]) == f"{HOST}-{survivor.pid}"]
    assert taken_over == held
    assert all(by_url[url]["fetched_at"] >= format_utc(killed_at + timedelta(seconds=1)) for url in held)
    assert all(row["claimed_by"] is None for row in catalog.iter_articles())
    catalog.close()

    # the killed worker's open WARC file: the next worker (it is dead) repairs it
    assert list((archive / "warc").glob("*.open"))
    after = start_crawl(outlets, archive, tmp_path / "after.log", *worker, "-s", "RECHECK=none")
    assert after.wait(timeout=120) == 0, (tmp_path / "after.log").read_text()[-2000:]
    assert warc_problems(archive) == []
    _verify(catalog_url, archive)
    print(f"kill -9: the victim held {len(held)} claims; {len(taken_over)} taken over by the survivor")


def test_the_scheduler_starts_two_workers_per_run(tmp_path, served, postgres):
    site, server, outlets = _site_and_outlets(served, tmp_path, "scheduled", 33, 0.02)
    catalog_url = postgres.new_database()
    archive = tmp_path / "archive"
    settings = [arg for setting in (f"CATALOG_URL={catalog_url}", "AUTOTHROTTLE_ENABLED=0", "PROGRESS_INTERVAL=0",
                                    "FRONTIER_BATCH=10", "FRONTIER_LOW_WATER=6", "EXTRACT_WORKERS=1",
                                    "RETRY_TIMES=0", "CONCURRENT_REQUESTS_PER_DOMAIN=3")
                for arg in ("-s", setting)]
    command = [sys.executable, "-m", "crawler.schedule", "--outlets-file", str(outlets), "--archive-dir",
               str(archive), "--once", "--job", "discover:scheduled", "--workers", "2", *settings]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    logs = sorted((archive / "logs").glob("*-w[12].log"))
    assert len(logs) == 2 and all("crawl finished" in log.read_text() for log in logs)
    catalog = Catalog(catalog_url)
    rows = list(catalog.iter_versions())
    assert Counter(row["canonical_url"] for row in rows) == Counter(set(site.article_urls(server.base_url(site))))
    assert len({_writer(row["warc_file"]) for row in rows}) == 2
    scheduled = [run for run in catalog.list_runs() if run["kind"] == "scheduled"]
    assert len(scheduled) == 1 and '"worker_exit_codes": [0, 0]' in scheduled[0]["detail"]
    catalog.close()
    # more than one worker needs a shared catalog
    refused = subprocess.run([sys.executable, "-m", "crawler.schedule", "--outlets-file", str(outlets),
                              "--archive-dir", str(tmp_path / "other"), "--once", "--workers", "2"],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "needs a shared catalog" in refused.stderr


def test_recovery_leaves_a_live_workers_files_alone(tmp_path):
    """A worker starting up repairs what dead workers left in the shared directory, never
    the open WARC file, temporary texts or manifest of one still running."""
    from archive.store.lock import WorkerLock, archive_in_use, live_workers
    from archive.store.manifest import remove_stale_manifests
    from archive.store.textstore import recover_pending
    from archive.warc.writer import repair_open_files

    archive = tmp_path / "archive"
    (archive / "warc").mkdir(parents=True)
    (archive / "text" / ".tmp").mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom archive.store.lock import WorkerLock\n"
                               f"WorkerLock({str(archive)!r}).acquire()\nprint('held', flush=True)\ntime.sleep(60)"],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        live_id, dead_id = f"{HOST}-{holder.pid}", f"{HOST}-999999"
        for owner in (live_id, dead_id):
            warc = archive / "warc" / f"NEWSARCHIVE-20260101000000-00000-{owner}.warc.gz"
            warc.write_bytes(b"\x1f\x8b torn")  # not even one whole gzip member
            (archive / "warc" / f"{warc.name}.open").touch()
            (archive / "text" / ".tmp" / f"{'0' * 64}.{owner}.0.tmp").write_bytes(b"text")
            (archive / f".manifest.csv.{owner}.tmp").write_text("file\n")
        live = live_workers(archive)
        assert live == {live_id} and archive_in_use(archive)
        assert [Path(path).name for path, _, _ in repair_open_files(archive, live)] == [
            f"NEWSARCHIVE-20260101000000-00000-{dead_id}.warc.gz"]
        catalog = Catalog(f"sqlite:///{tmp_path}/catalog.sqlite")
        assert recover_pending(archive, catalog, live) == {"completed": 0, "discarded": 1}
        assert remove_stale_manifests(archive, live) == 1
        left = {p.name for p in archive.rglob("*") if p.is_file() and ".workers" not in p.parts} - {".lock"}
        dead_warc = archive / "warc" / f"NEWSARCHIVE-20260101000000-00000-{dead_id}.warc.gz"
        assert left - {dead_warc.name} == {
            f"NEWSARCHIVE-20260101000000-00000-{live_id}.warc.gz",
            f"NEWSARCHIVE-20260101000000-00000-{live_id}.warc.gz.open",
            f"{'0' * 64}.{live_id}.0.tmp", f".manifest.csv.{live_id}.tmp"}
        assert dead_warc.stat().st_size == 0   # cut after its last whole record: none
        assert (archive / "warc" / f"NEWSARCHIVE-20260101000000-00000-{live_id}.warc.gz").stat().st_size == 7
        # a run that needs the archive alone is refused while the worker runs
        from archive.store.lock import ArchiveLock, ArchiveLocked
        with pytest.raises(ArchiveLocked):
            ArchiveLock(archive).acquire()
        second = WorkerLock(archive)   # another worker is welcome
        second.acquire()
        second.release()
    finally:
        holder.kill()
        holder.wait()
    assert live_workers(archive) == frozenset() and not archive_in_use(archive)
