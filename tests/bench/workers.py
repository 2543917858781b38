"""One worker against two on a shared PostgreSQL catalog (``python -m tests.bench.workers``).

The site of ``make bench`` (:class:`tests.bench.crawl.BenchSite`: 3 outlets x N articles,
nginx with real article bodies where available) and a private PostgreSQL server
(:class:`tests.pgserver.PostgresServer`). Each run is a first full crawl (discovery, WARC,
extraction, text files, catalog) into a new archive and a new database:

* ``sqlite, 1 worker``: the embedded default, for reference;
* ``postgresql, 1 worker`` and ``postgresql, 2 workers``: the whole machine for each
  (a worker's extraction processes: EXTRACT_WORKERS, default the CPU count, split
  between the two workers so both runs use as many processes);
* ``... pinned``: the same with each worker and its extraction process pinned to a core
  of its own (``taskset``): one core against two, as on two one-core machines (nginx and
  PostgreSQL are not pinned and take their share of both);
* ``latency-bound``: one generated outlet whose article pages take ``--latency`` seconds
  to answer, crawled with 4 requests per origin per worker (a worker that waits on the
  network, not on its CPU), by one worker and by two.

Wall time runs from the first worker's start to the last one's end; pages are the
articles fetched (the real pages are reused across the site's URLs, and the catalog records
a reused text as another URL of the same story, so there are fewer version rows than
pages); CPU seconds are those of the workers and their extraction
processes. Also measured: what a claim of a frontier batch costs (the coordination a
Redis frontier would replace). Results go to ``bench-results/workers-<UTC time>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from archive.store.catalog import Catalog, articles, frontier_query
from archive.store.claims import Claims
from tests.bench.crawl import POLITENESS_OFF, BenchSite, _clean_env
from tests.pgserver import PostgresServer, postgres_bin

REPO = Path(__file__).resolve().parents[2]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def crawl(site, workdir: Path, name: str, catalog_url: str | None, workers: int,
          pin: bool, log, extra: list[str] = ()) -> dict:
    """One first crawl of ``site`` by ``workers`` processes; its figures."""
    archive = workdir / name.replace(" ", "-").replace(",", "")
    cores = os.cpu_count() or 1
    extract = max(1, cores // workers)
    settings = [*POLITENESS_OFF, "-s", f"OUTLETS_FILE={site.outlets_file}", "-s", f"ARCHIVE_DIR={archive}",
                "-s", f"EXTRACT_WORKERS={1 if pin else extract}", "-s", "LOG_LEVEL=INFO", *extra]
    if catalog_url:
        settings += ["-s", f"CATALOG_URL={catalog_url}"]
    cpu_before, started = _children_cpu(), time.perf_counter()
    procs = []
    for index in range(workers):
        command = [sys.executable, "-m", "scrapy", "crawl", "news", *settings]
        if pin:
            command = ["taskset", "-c", str(index % cores), *command]
        log_file = open(archive.with_suffix(f".w{index}.log"), "wb") if archive.parent.exists() else None
        procs.append((subprocess.Popen(command, cwd=REPO, env=_clean_env(), stdout=subprocess.DEVNULL,
                                       stderr=log_file), log_file))
    codes = []
    for proc, log_file in procs:
        codes.append(proc.wait(timeout=3600))
        log_file.close()
    seconds = time.perf_counter() - started
    catalog = Catalog(catalog_url or f"sqlite:///{archive}/catalog.sqlite")
    with catalog.engine.connect() as conn:  # articles fetched (the site reuses its real pages: many are aliases)
        pages = conn.execute(select(func.count()).select_from(articles).where(articles.c.last_checked.is_not(None))).scalar()
    versions = catalog.count_versions()
    catalog.close()
    result = {"run": name, "workers": workers, "pinned": pin, "extract_workers_each": 1 if pin else extract,
              "pages": pages, "versions": versions, "seconds": round(seconds, 1), "pages_per_s": round(pages / seconds, 1),
              "cpu_seconds": round(_children_cpu() - cpu_before, 1), "exit_codes": codes,
              "load_before": round(os.getloadavg()[0], 2)}
    log(f"{name}: {pages} pages in {seconds:.1f} s = {result['pages_per_s']} pages/s, "
        f"CPU {result['cpu_seconds']} s, exit {codes}")
    shutil.rmtree(archive, ignore_errors=True)
    return result


def latency_bound(workdir: Path, postgres: PostgresServer, articles: int, latency: float, log) -> list[dict]:
    """One worker against two on a site that answers each article after ``latency`` s."""
    from tests.demosite import OutletSite, SiteServer
    from tests.test_crash import slow_articles

    site = OutletSite("slow", n_articles=articles, seed=5, link_only=False)
    slow_articles(site, latency)
    server = SiteServer([site])
    server.start()
    results = []
    try:
        bench = argparse.Namespace(outlets_file=workdir / "slow-outlets.toml")
        bench.outlets_file.write_text(server.outlets_toml(sources=("rss", "sitemap")))
        for workers in (1, 2):
            results.append(crawl(bench, workdir, f"latency-bound, {workers} worker{'s' * (workers > 1)}",
                                 postgres.new_database(), workers, False, log,
                                 ["-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "FRONTIER_BATCH=10",
                                  "-s", "FRONTIER_LOW_WATER=8"]))
    finally:
        server.stop()
    return results


def claim_cost(catalog_url: str, rows: int, batch: int) -> dict:
    """Milliseconds per claim of a ``batch``-row frontier batch, out of ``rows`` pending."""
    catalog = Catalog(catalog_url)
    catalog.register_discovered("o", [(f"http://bench.invalid/{n}", None) for n in range(rows)], "feed",
                                "http://bench.invalid/feed")
    claims = Claims(catalog, "bench-1", 120)
    times = []
    after = 0
    while True:
        started = time.perf_counter()
        taken = claims.claim(frontier_query("pending", ["o"], after), batch)
        times.append(time.perf_counter() - started)
        if not taken:
            break
        after = taken[-1]["id"]
    started = time.perf_counter()
    claims.renew()
    renew = time.perf_counter() - started
    catalog.close()
    return {"rows": rows, "batch": batch, "claims": len(times) - 1,
            "ms_per_claim": round(1000 * sum(times[:-1]) / max(1, len(times) - 1), 2),
            "ms_renew_all": round(1000 * renew, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.workers", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="articles per outlet (3 outlets; default 1000)")
    parser.add_argument("--bodies", choices=("auto", "real", "generated"), default="auto")
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    parser.add_argument("--skip-pinned", action="store_true", help="only the whole-machine runs")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per article of the latency-bound site")
    parser.add_argument("--latency-articles", type=int, default=400, help="articles of the latency-bound site")
    parser.add_argument("--only-latency", action="store_true", help="only the latency-bound runs")
    options = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    bindir = postgres_bin()
    if bindir is None:
        log("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="newsarchive-workers-"))
    workdir.chmod(0o755)
    bodies = options.bodies
    if bodies == "auto":
        from tests.bench.crawl import REAL_PAGES_DIR
        bodies = "real" if REAL_PAGES_DIR.is_dir() else "generated"
    results = []
    try:
        with BenchSite(options.articles, workdir / "site", options.server, bodies, log) as site, \
                PostgresServer(bindir) as postgres:
            log(f"site: 3 x {options.articles} articles, {site.server}, {site.bodies} bodies; "
                f"PostgreSQL on 127.0.0.1:{postgres.port}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
            runs = [("sqlite, 1 worker", False, 1, False), ("postgresql, 1 worker", True, 1, False),
                    ("postgresql, 2 workers", True, 2, False)] if not options.only_latency else []
            if not options.skip_pinned and not options.only_latency and shutil.which("taskset"):
                runs += [("postgresql, 1 worker pinned to 1 core", True, 1, True),
                         ("postgresql, 2 workers pinned to a core each", True, 2, True)]
            for name, shared, workers, pin in runs:
                url = postgres.new_database() if shared else None
                results.append(crawl(site, workdir, name, url, workers, pin, log))
            results += latency_bound(workdir, postgres, options.latency_articles, options.latency, log)
            cost = claim_cost(postgres.new_database(), 3 * options.articles, 500)
            log(f"claims: {cost}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = REPO / "bench-results" / f"workers-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"articles_per_outlet": options.articles, "bodies": bodies, "cpus": os.cpu_count(),
                               "runs": results, "claims": cost}, indent=2))
    print(f"| run | pages | seconds | pages/s | CPU s |\n|---|---|---|---|---|")
    for row in results:
        print(f"| {row['run']} | {row['pages']} | {row['seconds']} | {row['pages_per_s']} | {row['cpu_seconds']} |")
    print(f"\nclaim of a {cost['batch']}-row batch: {cost['ms_per_claim']} ms; results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
