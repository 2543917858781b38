"""Views benchmark (``make bench-views`` = ``python -m tests.bench.views``): the time and peak
memory of the commands that turn an archive into something researchers open.

Builds a 3-outlet x 1000-article archive (``--articles``) with a real crawl of demosite
outlets served on 127.0.0.1 (text extraction on, politeness limits off), then re-checks it
once (``RECHECK=all`` over the unchanged site: 304s, archived as revisit records), unless
``--archive DIR`` names an archive to reuse (built there first when it holds none).

Then runs, each as its own process, and prints wall time and peak RSS (``os.wait4``'s
``ru_maxrss``; the archive is built by a child process, so that this one stays small: a
child's ``ru_maxrss`` starts from its parent's resident set at the fork) of:

* ``python -m archive index --rebuild`` (every WARC file indexed again);
* ``python -m archive index`` with nothing new (what a crawl's end costs when idle);
* ``python -m archive wacz -o all.wacz`` (the whole archive);
* ``python -m archive wacz --outlet O -o one.wacz`` (one outlet's captures copied out);
* ``python -m archive report -o report.html``, when ``python -m archive --help`` lists it.

Results also go to ``bench-results/views-<UTC timestamp>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from tests.demosite import SiteServer, make_sites

REPO = Path(__file__).resolve().parents[2]
POLITENESS_OFF = ["-s", "AUTOTHROTTLE_ENABLED=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32",
                  "-s", "CONCURRENT_REQUESTS=32", "-s", "DOWNLOAD_DELAY=0", "-s", "PROGRESS_INTERVAL=0"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measured(command: Sequence[str], log_path: Path) -> dict:
    """Run ``command`` (from the repository root); its exit code, wall time and peak RSS."""
    with open(log_path, "wb") as output:
        started = time.perf_counter()
        proc = subprocess.Popen(list(command), cwd=REPO, stdout=output, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"returncode": proc.returncode, "seconds": round(seconds, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "log": str(log_path)}


def build_archive(archive: Path, n_articles: int, workdir: Path) -> dict:
    """Crawl 3 x ``n_articles`` demosite articles into ``archive``, then re-check them all."""
    sites = make_sites(3, n_articles, seed=19, link_only=False)
    server = SiteServer(sites)
    server.start()
    try:
        outlets = workdir / "outlets.toml"
        outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
        crawl = [sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"OUTLETS_FILE={outlets}",
                 "-s", f"ARCHIVE_DIR={archive}", *POLITENESS_OFF]
        log(f"crawling 3 x {n_articles} articles into {archive} ...")
        first = measured(crawl, workdir / "crawl-1.log")
        log(f"  first crawl: {first['seconds']} s")
        second = measured(crawl + ["-s", "RECHECK=all"], workdir / "crawl-2.log")
        log(f"  re-check crawl: {second['seconds']} s")
    finally:
        server.stop()
    for name, run in (("crawl", first), ("recheck", second)):
        if run["returncode"] != 0:
            raise SystemExit(f"the {name} failed (exit {run['returncode']}): see {run['log']}")
    return {"crawl": first, "recheck": second}


def archive_facts(archive: Path) -> dict:
    import sqlite3

    with sqlite3.connect(archive / "catalog.sqlite") as db:
        versions = db.execute("SELECT count(*) FROM versions").fetchone()[0]
        outlets = [row[0] for row in db.execute("SELECT DISTINCT outlet FROM versions ORDER BY outlet")]
    warcs = list((archive / "warc").glob("*.warc.gz"))
    index = archive / "indexes" / "index.cdxj"
    return {"versions": versions, "outlets": outlets, "warc_files": len(warcs),
            "warc_mb": round(sum(p.stat().st_size for p in warcs) / 1e6, 1),
            "index_lines": sum(1 for _ in open(index)) if index.exists() else 0}


def has_report_command() -> bool:
    help_text = subprocess.run([sys.executable, "-m", "archive", "--help"], cwd=REPO, capture_output=True,
                               text=True).stdout
    return any(line.split()[:1] == ["report"] for line in help_text.splitlines())


def run(archive: Path | None, n_articles: int, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="views-", dir=out_dir))
    built = None
    if archive is None:
        archive = workdir / "archive"
    if not (archive / "catalog.sqlite").exists():
        build = subprocess.run([sys.executable, "-m", "tests.bench.views", "--build-only", "--archive", str(archive),
                                "--articles", str(n_articles), "--out", str(workdir)], cwd=REPO)
        if build.returncode != 0:
            raise SystemExit(f"building the archive failed (exit {build.returncode})")
        built = json.loads((workdir / "built.json").read_text())
    facts = archive_facts(archive)
    log(f"archive {archive}: {facts['versions']} versions, {facts['warc_files']} WARC files "
        f"({facts['warc_mb']} MB)")
    cli = [sys.executable, "-m", "archive", "--archive", str(archive)]
    steps = [("index --rebuild", cli + ["index", "--rebuild"]),
             ("index (nothing new)", cli + ["index"]),
             ("wacz -o (all)", cli + ["wacz", "-o", str(workdir / "all.wacz")]),
             (f"wacz --outlet {facts['outlets'][0]} -o", cli + ["wacz", "--outlet", facts["outlets"][0],
                                                               "-o", str(workdir / "one.wacz")])]
    if has_report_command():
        steps.append(("report -o", cli + ["report", "-o", str(workdir / "report.html")]))
    else:
        log("no 'report' command in 'python -m archive --help': not measured")
    results = {}
    for number, (name, command) in enumerate(steps):
        result = measured(command, workdir / f"step-{number}.log")
        results[name] = result
        log(f"  {name:<34} {result['seconds']:>7.2f} s  {result['peak_rss_mb']:>7.1f} MB"
            + ("" if result["returncode"] == 0 else f"  FAILED (exit {result['returncode']}, {result['log']})"))
    for name, path in (("all.wacz", workdir / "all.wacz"), ("one.wacz", workdir / "one.wacz")):
        if path.exists():
            facts[f"{name}_mb"] = round(path.stat().st_size / 1e6, 1)
    facts["index_lines"] = archive_facts(archive)["index_lines"]
    return {"when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "archive": str(archive),
            "articles_per_outlet": n_articles, "built": built, "facts": facts, "results": results,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}


def format_table(report: dict) -> str:
    facts = report["facts"]
    lines = [f"archive: {facts['versions']} article versions, {facts['warc_files']} WARC files "
             f"({facts['warc_mb']} MB), index {facts['index_lines']} lines",
             f"{'command':<36} {'wall s':>8} {'peak RSS MB':>12}"]
    for name, result in report["results"].items():
        status = "" if result["returncode"] == 0 else f"  (exit {result['returncode']})"
        lines.append(f"{name:<36} {result['seconds']:>8.2f} {result['peak_rss_mb']:>12.1f}{status}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="reuse this archive (built here first if it has none)")
    parser.add_argument("--articles", "-n", type=int, default=1000, help="articles per outlet (default 1000)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results", help="results directory")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_only:
        built = build_archive(args.archive.resolve(), args.articles, args.out)
        (args.out / "built.json").write_text(json.dumps(built))
        return 0
    report = run(args.archive.resolve() if args.archive else None, args.articles, args.out)
    path = args.out / f"views-{report['when'].replace(':', '')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(format_table(report))
    print(f"results: {path}")
    return 0 if all(r["returncode"] == 0 for r in report["results"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
