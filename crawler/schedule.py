"""The scheduler: crawl every outlet at its ``discovery_interval`` and re-check due articles.

    python -m crawler.schedule [--outlets-file F] [--archive-dir D] [--recheck-interval 15m]
                               [--log-dir D] [-s NAME=VALUE ...] [--once [--job ID ...]]

A long-lived APScheduler 3 ``BlockingScheduler`` with these jobs:

- ``discover:<outlet>``, one per outlet of the outlets file, looking every
  ``discovery_floor`` of that outlet whether its listings are due (adaptive discovery, see
  archive/store/polling.py: the catalog's ``outlet_polling`` row says when); when they
  are: ``scrapy crawl news -a outlet=<outlet> -s RECHECK=none -s DISCOVERY=due`` -- the
  outlet's feeds, sitemaps and sections, new articles, articles a listing announced as
  updated, and articles a killed run left unfetched.  No time-based re-checks.  A look
  that finds the outlet not due starts no crawl and records no run.
- ``recheck``, every ``--recheck-interval`` (default 15m; ``off`` = no such job):
  ``scrapy crawl news -s RECHECK=due -s DISCOVERY=0`` -- all outlets, listings not read:
  every archived article whose next re-check time (the outlet's ``recheck`` list) has
  come, plus articles still pending or announced as updated.

Each job runs the crawl as a subprocess (Twisted's reactor cannot be restarted), from the
repository root, with its output in ``<log dir>/<UTC stamp>-<job id, ':' as '-'>.log``
(e.g. ``logs/20240102T030405Z-discover-tiny.log``), and waits for it.  The crawl records
its own ``crawl`` run in the catalog; the scheduler adds a ``scheduled`` run per job
execution (``detail``: job, command, log file, the crawl's run id and per-outlet counts).

Jobs run one at a time (a thread pool of 1; they share the archive lock anyway), never
twice at once, and missed runs are coalesced into one: a run that could not start within
``--misfire-grace`` (default 10m) or, if longer, one interval of the job, of its time --
laptop asleep, long crawls before it -- is skipped, the next one comes at the next
interval.  (Using at least the interval keeps outlets queued behind other crawls, e.g.
all at once after a start, from being skipped.)  A crawl refused because another run
(e.g. a cron job) holds the archive lock exits 4; the scheduler logs it and moves on.

The schedule lives in ``<archive>/scheduler.sqlite`` (SQLAlchemyJobStore).  At start the
stored jobs are matched with the outlets file: jobs of outlets no longer in it are
removed, new outlets get a job that runs at once, changed intervals are updated, and
unchanged jobs keep their next run time (if it passed while the scheduler was down, they
run at once).  SIGHUP re-reads the outlets file the same way without a restart.

SIGTERM / SIGINT: no new runs start; a running crawl gets SIGINT (Scrapy's graceful stop:
in-flight requests finish, files are closed) and is waited for up to ``--stop-timeout``
(default 2m), then gets SIGTERM (Scrapy's forced stop) and after 10 s more SIGKILL (the
next crawl repairs what a killed one left).  Then the scheduler exits 0.

``--once`` runs every job (or those named by ``--job``) once, now, one after the other,
and exits with the first non-zero crawl exit code (0 if all went well) -- for cron and
tests; it does not touch ``scheduler.sqlite``.

Exit codes: 0 done / stopped by a signal; 2 bad configuration; 4 another scheduler runs
on this archive (or, with ``--once``, a crawl's exit code: 4 = archive locked); 1 error.

``--print-cron`` / ``--print-systemd`` print a crontab line / a systemd unit for this
installation (paths filled in); README.md shows both.

Many workers (a shared PostgreSQL catalog, ``-s CATALOG_URL=postgresql://...``):
``--workers N`` starts N crawl processes for every job run, which share the frontier
through the catalog's claims (each its own log, ``...-w<k>.log``); the job ends when all
have. On several machines sharing ``ARCHIVE_DIR``, run one scheduler per machine: its job
store and lock are then per host (``scheduler-<host>.sqlite``, ``.scheduler-<host>.lock``),
because an APScheduler 3 job store must never be shared between schedulers; runs that
overlap across machines are safe, since the workers claim what they fetch.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from archive.store.catalog import Catalog, catalog_is_shared, catalog_url_for
from archive.store.lock import HOST, LockHeld, release_lock, take_lock
from archive.store.timefmt import format_utc, utc_now
from crawler.outlets import OutletsFileError, format_duration, load_outlets, parse_duration

logger = logging.getLogger("newsarchive.schedule")

REPO_ROOT = Path(__file__).resolve().parent.parent
JOB_FUNC = "crawler.schedule:run_crawl_job"   # textual reference: what the job store keeps
RECHECK_JOB = "recheck"
DISCOVER_PREFIX = "discover:"
JOBSTORE_FILE = "scheduler.sqlite"
SCHEDULER_LOCK_FILE = ".scheduler.lock"
KILL_GRACE = 10.0                             # seconds between SIGTERM and SIGKILL
EXIT_ERROR, EXIT_CONFIG, EXIT_LOCKED = 1, 2, 4
CRAWL_STATUS = {0: "finished", 2: "config-error", 3: "no-outlet-reachable", 4: "locked"}
RESERVED_SETTINGS = {"OUTLETS_FILE": "--outlets-file", "ARCHIVE_DIR": "--archive-dir", "RECHECK": "the job"}
LOG_NAME_RE = re.compile(r"^\d{8}T\d{6}Z-.+\.log$")
LOG_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"


# -- process-wide state (signals, the running crawl) ---------------------------------------

class _Runtime:
    """What the signal handlers and the job thread share."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.stop_signal = ""
        self.stop_requested_at = 0.0
        self.idle = threading.Event()        # set while no job runs
        self.idle.set()


_runtime = _Runtime()


# -- the job -------------------------------------------------------------------------------

def run_crawl_job(job_id: str, outlet: str | None, recheck: str, config: dict) -> int | None:
    """Run one crawl as a subprocess, log and record it; return its exit code.

    Module-level with plain arguments, so APScheduler can keep it in its SQLite job store.
    ``config``: outlets_file, archive_dir, log_dir, catalog_url, crawl_settings (list of
    "NAME=VALUE"), stop_timeout and keep_logs (seconds, 0 = keep all).
    Returns None when the scheduler is stopping and the crawl was not started.
    """
    _runtime.idle.clear()
    try:
        if _runtime.stopping.is_set():
            logger.info("job %s: not started, the scheduler is stopping", job_id)
            return None
        if outlet is not None and not _listings_due(job_id, outlet, config):
            return 0
        return _run_crawl(job_id, outlet, recheck, config)
    finally:
        _runtime.idle.set()


def _listings_due(job_id: str, outlet: str, config: dict) -> bool:
    """Whether the outlet's listings are due a read (adaptive discovery); True when the
    catalog cannot tell (the crawl then reports what is wrong with it)."""
    try:
        catalog = Catalog(config["catalog_url"])
    except Exception:  # noqa: BLE001 - see above
        return True
    try:
        if catalog.discovery_due([outlet], utc_now()):
            return True
        logger.info("job %s: listings of %s not due before %s; no crawl", job_id, outlet,
                    catalog.polling(outlet)["next_poll"])
        return False
    except Exception:  # noqa: BLE001 - see above
        return True
    finally:
        catalog.close()


def crawl_command(outlet: str | None, recheck: str, config: dict) -> list[str]:
    """The ``scrapy crawl news`` command line of a job."""
    argv = [sys.executable, "-m", "scrapy", "crawl", "news",
            "-s", f"OUTLETS_FILE={config['outlets_file']}", "-s", f"ARCHIVE_DIR={config['archive_dir']}",
            "-s", f"RECHECK={recheck}"]
    # the re-check job reads no listings; a discovery job those of its outlet, when due
    argv += ["-s", "DISCOVERY=0" if outlet is None else "DISCOVERY=due"]
    for setting in config.get("crawl_settings", ()):
        argv += ["-s", setting]
    if outlet:
        argv += ["-a", f"outlet={outlet}"]
    return argv


def _run_crawl(job_id: str, outlet: str | None, recheck: str, config: dict) -> int:
    argv = crawl_command(outlet, recheck, config)
    log_path = _new_log_path(Path(config["log_dir"]), job_id)
    workers = int(config.get("workers", 1))
    log_paths = [log_path] if workers == 1 else [log_path.with_name(f"{log_path.stem}-w{k}.log")
                                                 for k in range(1, workers + 1)]
    catalog, run_id = _start_record(config, {
        "job": job_id, "outlet": outlet, "recheck": recheck, "argv": argv,
        "log_file": str(log_paths[0]), "scheduler_pid": os.getpid(),
        **({"workers": workers, "log_files": [str(path) for path in log_paths]} if workers > 1 else {})})
    started = time.monotonic()
    interrupted, procs, log_files = None, [], []
    try:
        env = {**os.environ, "SCRAPY_SETTINGS_MODULE": os.environ.get("SCRAPY_SETTINGS_MODULE",
                                                                      "crawler.settings")}
        for path in log_paths:
            log_file = open(path, "ab", buffering=0)
            log_files.append(log_file)
            log_file.write(f"# newsarchive scheduler: job {job_id}, started {utc_now()}\n"
                           f"# {shlex.join(argv)}\n".encode())
            # own session: a Ctrl-C in the terminal reaches the scheduler only, which then
            # stops the crawl with exactly one SIGINT (a second one forces Scrapy down)
            procs.append(subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                          stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True))
            logger.info("job %s: crawl started (pid %d), log %s", job_id, procs[-1].pid, path)
        codes, interrupted = _wait_all(procs, job_id, float(config.get("stop_timeout", 120)))
        for log_file, code in zip(log_files, codes):
            log_file.write(f"\n# exit code {code}, {utc_now()}"
                           f"{', stopped by the scheduler with ' + interrupted if interrupted else ''}\n".encode())
        exit_code = next((code for code in codes if code), 0)
    except BaseException:
        for proc in procs:
            if proc.poll() is None:    # never leave a crawl behind
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=float(config.get("stop_timeout", 120)))
            except subprocess.TimeoutExpired:
                proc.kill()
        _finish_record(catalog, run_id, "failed", EXIT_ERROR, {})
        raise
    finally:
        for log_file in log_files:
            log_file.close()
    seconds = round(time.monotonic() - started, 1)
    crawl = _crawl_run(catalog, run_id) if exit_code not in (EXIT_CONFIG, EXIT_LOCKED) else None
    detail = {"duration_seconds": seconds}
    if workers > 1:
        detail["worker_exit_codes"] = codes
    if crawl:
        detail.update(crawl_run_id=crawl["id"], crawl_status=crawl["status"], counts=crawl["counts"])
    if interrupted:
        detail.update(stopped_with=interrupted, process_exit_code=exit_code)
        if crawl and crawl["status"] == "finished":
            # the crawl was done when the signal came (it hit the exiting interpreter)
            status, exit_code = "finished", crawl["exit_code"]
        else:
            status = "interrupted"
    else:
        status = CRAWL_STATUS.get(exit_code, "failed")
    _finish_record(catalog, run_id, status, exit_code, detail)
    _log_outcome(job_id, exit_code, status, seconds, log_path, crawl)
    _prune_logs(Path(config["log_dir"]), float(config.get("keep_logs", 0)))
    return exit_code


def _wait_all(procs: list[subprocess.Popen], job_id: str, stop_timeout: float) -> tuple[list[int], str | None]:
    """Wait for the crawls (their exit codes); once the scheduler is stopping: SIGINT, then
    SIGTERM, then SIGKILL to those still running."""
    sent = None
    while True:
        codes = [proc.poll() for proc in procs]
        if None not in codes:
            return codes, sent
        time.sleep(0.2)
        if not _runtime.stopping.is_set():
            continue
        running = [proc for proc in procs if proc.poll() is None]
        pids = ", ".join(str(proc.pid) for proc in running)
        waited = time.monotonic() - _runtime.stop_requested_at
        if sent is None:
            logger.info("job %s: %s received: stopping the crawl gracefully (SIGINT to pid %s), "
                        "waiting up to %ds", job_id, _runtime.stop_signal or "stop", pids, stop_timeout)
            sent = "SIGINT"
            for proc in running:
                proc.send_signal(signal.SIGINT)
        elif sent == "SIGINT" and waited > stop_timeout:
            logger.warning("job %s: crawl still running after %ds: SIGTERM (forced stop)", job_id, stop_timeout)
            sent = "SIGTERM"
            for proc in running:
                proc.terminate()
        elif sent == "SIGTERM" and waited > stop_timeout + KILL_GRACE:
            logger.warning("job %s: crawl still running: SIGKILL (the next crawl repairs the archive)", job_id)
            sent = "SIGKILL"
            for proc in running:
                proc.kill()


def _new_log_path(log_dir: Path, job_id: str) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{job_id.replace(':', '-')}"
    path, n = log_dir / f"{stem}.log", 1
    while path.exists():
        n += 1
        path = log_dir / f"{stem}-{n}.log"
    return path


def _start_record(config: dict, detail: dict) -> tuple[Catalog | None, int | None]:
    """A ``scheduled`` run row; the crawl is started even when the catalog is unusable."""
    try:
        catalog = Catalog(config["catalog_url"])
        return catalog, catalog.start_run("scheduled", detail)
    except Exception as exc:  # noqa: BLE001 - the crawl itself will report a broken catalog
        logger.warning("job %s: cannot record the run in the catalog: %s", detail["job"], exc)
        return None, None


def _finish_record(catalog: Catalog | None, run_id: int | None, status: str, exit_code: int,
                   detail: dict) -> None:
    if catalog is None:
        return
    try:
        if run_id is not None:
            if detail:
                catalog.update_run_detail(run_id, detail)
            catalog.finish_run(run_id, status, exit_code)
    except Exception as exc:  # noqa: BLE001
        logger.warning("cannot record the end of scheduled run %s in the catalog: %s", run_id, exc)
    finally:
        catalog.close()


def _crawl_run(catalog: Catalog | None, run_id: int | None) -> dict | None:
    """The ``crawl`` run the job's subprocess recorded: the newest one after our own row."""
    if catalog is None or run_id is None:
        return None
    try:
        crawls = catalog.runs_after(run_id, kind="crawl")
        if not crawls:
            return None
        row = catalog.run(crawls[-1]["id"])
    except Exception as exc:  # noqa: BLE001
        logger.warning("cannot read the crawl's run from the catalog: %s", exc)
        return None
    counts = {}
    for name, stats in row["outlets"].items():
        counts[name] = {k: stats[k] for k in ("discovered", "fetched", "archived", "new_versions",
                                                "unchanged", "skipped")}
        counts[name]["errors"] = _json_or_empty(stats.get("errors"))
    return {"id": row["id"], "status": row["status"], "exit_code": row["exit_code"], "counts": counts}


def _json_or_empty(text: str | None) -> dict:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {}


def _log_outcome(job_id: str, exit_code: int, status: str, seconds: float, log_path: Path,
                 crawl: dict | None) -> None:
    if crawl:
        totals = {k: sum(c[k] for c in crawl["counts"].values()) for k in ("discovered", "fetched", "archived")}
        errors = sum(sum(c["errors"].values()) for c in crawl["counts"].values())
        summary = (f"; crawl run {crawl['id']}: discovered {totals['discovered']}, fetched {totals['fetched']}, "
                   f"archived {totals['archived']}, errors {errors}")
    else:
        summary = ""
    if status == "interrupted":
        logger.info("job %s: crawl stopped by the scheduler, exit code %d, %.1fs%s (log %s)",
                    job_id, exit_code, seconds, summary, log_path)
    elif exit_code == EXIT_LOCKED:
        logger.warning("job %s: crawl refused, the archive is locked by another run (exit code 4); "
                       "this run is skipped. %s (log %s)", job_id, _error_line(log_path) or "", log_path)
    elif exit_code == 0:
        logger.info("job %s: crawl finished, exit code 0, %.1fs%s", job_id, seconds, summary)
    else:
        logger.error("job %s: crawl failed (%s), exit code %d, %.1fs%s: %s (log %s)", job_id, status,
                     exit_code, seconds, summary, _error_line(log_path) or "see the log", log_path)


def _error_line(log_path: Path) -> str | None:
    """The crawl's last error message in its log (``error: ...`` or an ERROR log line)."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 16384))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    found = [line for line in lines if line.startswith("error:") or "] ERROR:" in line]
    return found[-1].strip()[:400] if found else None


def _prune_logs(log_dir: Path, keep_seconds: float) -> None:
    """Delete the scheduler's run logs older than ``keep_seconds`` (0 = keep all)."""
    if keep_seconds <= 0:
        return
    limit = time.time() - keep_seconds
    try:
        for path in log_dir.iterdir():
            if LOG_NAME_RE.match(path.name) and path.stat().st_mtime < limit:
                path.unlink()
    except OSError as exc:
        logger.warning("cannot prune old logs in %s: %s", log_dir, exc)


# -- the jobs wanted -----------------------------------------------------------------------

@dataclass(frozen=True)
class JobSpec:
    """One job the outlets file and the options ask for."""

    id: str
    name: str
    seconds: int
    args: tuple

    def describe(self) -> str:
        outlet, recheck = self.args[1], self.args[2]
        what = f"-a outlet={outlet} " if outlet else ""
        return f"{self.name}, every {format_duration(self.seconds)} (scrapy crawl news {what}-s RECHECK={recheck})"


def wanted_jobs(options: argparse.Namespace) -> list[JobSpec]:
    """The jobs for the current outlets file and options (raises OutletsFileError)."""
    config = job_config(options)
    jobs = [JobSpec(f"{DISCOVER_PREFIX}{o.name}", f"discovery of outlet {o.name} when due", o.discovery_floor,
                    (f"{DISCOVER_PREFIX}{o.name}", o.name, "none", config))
            for o in load_outlets(options.outlets_file)]
    if options.recheck_interval:
        jobs.append(JobSpec(RECHECK_JOB, "due re-checks of all outlets (DISCOVERY=0: listings not read)",
                            options.recheck_interval, (RECHECK_JOB, None, "due", config)))
    return jobs


def job_config(options: argparse.Namespace) -> dict:
    settings = dict(s.split("=", 1) for s in options.crawl_setting)
    catalog_url = settings.get("CATALOG_URL") or _default_setting("CATALOG_URL") \
        or catalog_url_for(str(options.archive_dir))
    return {
        "outlets_file": str(options.outlets_file),
        "archive_dir": str(options.archive_dir),
        "log_dir": str(options.log_dir),
        "catalog_url": catalog_url,
        "crawl_settings": list(options.crawl_setting),
        "stop_timeout": options.stop_timeout,
        "keep_logs": options.keep_logs,
        **({"workers": options.workers} if options.workers > 1 else {}),
    }


def _default_setting(name: str):
    from crawler import settings
    return getattr(settings, name, None)


# -- the scheduler -------------------------------------------------------------------------

def build_scheduler(options: argparse.Namespace):
    """A BlockingScheduler with the archive's SQLite job store and a one-thread pool."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler

    return BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{jobstore_path(options)}")},
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults=job_defaults(options),
        timezone=timezone.utc,
    )


def shared_catalog(options: argparse.Namespace) -> bool:
    """Whether the crawls write to a catalog several machines share (PostgreSQL)."""
    return catalog_is_shared(job_config(options)["catalog_url"])


def jobstore_path(options: argparse.Namespace) -> Path:
    """The job store: one per archive, or with a shared catalog one per host (APScheduler 3
    job stores must never be shared between schedulers)."""
    if shared_catalog(options):
        return options.archive_dir / JOBSTORE_FILE.replace(".sqlite", f"-{HOST}.sqlite")
    return options.archive_dir / JOBSTORE_FILE


def job_defaults(options: argparse.Namespace, seconds: int | None = None) -> dict:
    """One run at a time, missed runs coalesced; a run later than the larger of
    ``--misfire-grace`` and the job's interval is skipped (the next one is due anyway)."""
    grace = options.misfire_grace
    if grace and seconds:
        grace = max(grace, seconds)
    return {"max_instances": 1, "coalesce": True, "misfire_grace_time": grace}


def reconcile(scheduler, options: argparse.Namespace) -> tuple[dict[str, list[str]], list[JobSpec]]:
    """Make the job store hold exactly the wanted jobs (see the module docstring).

    Returns what changed (kept/added/updated/removed job ids) and the wanted jobs.
    """
    from apscheduler.triggers.interval import IntervalTrigger

    wanted = wanted_jobs(options)
    stored = {job.id: job for job in scheduler.get_jobs()}
    report: dict[str, list[str]] = {"kept": [], "added": [], "updated": [], "removed": []}
    for job_id in sorted(set(stored) - {spec.id for spec in wanted}):
        scheduler.remove_job(job_id)
        report["removed"].append(job_id)
    now = datetime.now(timezone.utc)
    for spec in wanted:
        defaults = job_defaults(options, spec.seconds)
        old = stored.get(spec.id)
        soon = now + timedelta(seconds=spec.seconds)
        if old is None:
            next_run, change = now, "added"
        else:
            same_interval = getattr(old.trigger, "interval_length", None) == spec.seconds
            same = (same_interval and old.func_ref == JOB_FUNC and tuple(old.args) == spec.args
                    and not old.kwargs and old.name == spec.name
                    and all(getattr(old, key) == value for key, value in defaults.items()))
            next_run = old.next_run_time or now
            if not same_interval:
                next_run = min(next_run, soon)
            next_run = max(next_run, now)              # overdue: run at once
            change = "kept" if same else "updated"
        scheduler.add_job(JOB_FUNC, IntervalTrigger(seconds=spec.seconds, timezone=timezone.utc),
                          id=spec.id, name=spec.name, args=spec.args, next_run_time=next_run,
                          replace_existing=True, **defaults)
        report[change].append(spec.id)
    return report, wanted


def log_schedule(scheduler, options: argparse.Namespace, report: dict[str, list[str]],
                 wanted: list[JobSpec]) -> None:
    logger.info("job store %s: kept %s; added %s; updated %s; removed %s",
                jobstore_path(options), *(", ".join(report[k]) or "none"
                                                       for k in ("kept", "added", "updated", "removed")))
    specs = {spec.id: spec for spec in wanted}
    for job in sorted(scheduler.get_jobs(), key=lambda j: j.id):
        spec = specs.get(job.id)
        when = format_utc(job.next_run_time) if job.next_run_time else "paused"
        logger.info("scheduled job %s: %s; next run %s", job.id, spec.describe() if spec else job.name, when)


def serve(options: argparse.Namespace) -> int:
    """Run the scheduler until SIGTERM/SIGINT."""
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    from apscheduler.schedulers import SchedulerNotRunningError

    lock_fd = _scheduler_lock(options.archive_dir, shared_catalog(options))
    if lock_fd is None:
        return EXIT_LOCKED
    scheduler = build_scheduler(options)
    failure: list[BaseException] = []

    def stop_in_thread() -> None:
        logger.info("%s received: stopping the scheduler (no new runs)", _runtime.stop_signal)
        try:
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass

    def on_stop_signal(signum, _frame) -> None:
        if _runtime.stopping.is_set():
            return
        _runtime.stop_signal = signal.Signals(signum).name
        _runtime.stop_requested_at = time.monotonic()
        _runtime.stopping.set()
        threading.Thread(target=stop_in_thread, name="stop", daemon=True).start()

    def reload_in_thread() -> None:
        logger.info("SIGHUP received: re-reading %s", options.outlets_file)
        try:
            log_schedule(scheduler, options, *reconcile(scheduler, options))
        except OutletsFileError as exc:
            logger.error("outlets file not reloaded, the schedule is unchanged: %s", exc)
        except Exception:  # noqa: BLE001
            logger.exception("reloading the outlets file failed; the schedule is unchanged")

    def on_hup(_signum, _frame) -> None:
        threading.Thread(target=reload_in_thread, name="reload", daemon=True).start()

    def on_started(_event) -> None:
        # the scheduler runs (its job store is open) but its main loop has not begun yet
        try:
            log_schedule(scheduler, options, *reconcile(scheduler, options))
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)
            scheduler.shutdown(wait=False)
            return
        signal.signal(signal.SIGTERM, on_stop_signal)
        signal.signal(signal.SIGINT, on_stop_signal)
        signal.signal(signal.SIGHUP, on_hup)

    scheduler.add_listener(on_started, EVENT_SCHEDULER_STARTED)
    logger.info("scheduler starting: outlets %s, archive %s, logs %s (pid %d)",
                options.outlets_file, options.archive_dir, options.log_dir, os.getpid())
    try:  # the lock goes with this function, whichever way it returns
        scheduler.start()
        if failure:
            if isinstance(failure[0], OutletsFileError):
                logger.error("%s", failure[0])
                return EXIT_CONFIG
            logger.error("cannot set up the schedule", exc_info=failure[0])
            return EXIT_ERROR
        # A job may still run: it has been told to stop, wait for it
        limit = options.stop_timeout + KILL_GRACE + 15
        if not _runtime.idle.wait(limit):
            logger.error("the running job did not end within %ds", limit)
            return EXIT_ERROR
        logger.info("scheduler stopped")
        return 0
    finally:
        release_lock(lock_fd)


def run_once(options: argparse.Namespace) -> int:
    """Run the jobs once, now, serially; the first non-zero crawl exit code, else 0."""
    jobs = wanted_jobs(options)
    if options.job:
        unknown = sorted(set(options.job) - {spec.id for spec in jobs})
        if unknown:
            logger.error("unknown job(s) %s (jobs: %s)", ", ".join(unknown), ", ".join(s.id for s in jobs))
            return EXIT_CONFIG
        jobs = [spec for spec in jobs if spec.id in options.job]

    def on_stop_signal(signum, _frame) -> None:
        if not _runtime.stopping.is_set():
            _runtime.stop_signal = signal.Signals(signum).name
            _runtime.stop_requested_at = time.monotonic()
            _runtime.stopping.set()

    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)
    result = 0
    for spec in jobs:
        if _runtime.stopping.is_set():
            logger.info("%s received: remaining jobs not run", _runtime.stop_signal)
            break
        logger.info("job %s: %s", spec.id, spec.describe())
        code = run_crawl_job(*spec.args)
        if code and not result and not _runtime.stopping.is_set():
            result = code
    return result


def _scheduler_lock(archive_dir: Path, per_host: bool = False) -> int | None:
    """One scheduler per archive (``per_host``: per machine): ``flock`` on
    ``<archive>/.scheduler.lock`` (``.scheduler-<host>.lock``); None if held."""
    try:
        name = SCHEDULER_LOCK_FILE.replace(".lock", f"-{HOST}.lock") if per_host else SCHEDULER_LOCK_FILE
        return take_lock(archive_dir / name)
    except LockHeld as exc:
        logger.error("another scheduler runs on archive %s (%s)", archive_dir, exc.holder or "unknown process")
        return None


# -- command line --------------------------------------------------------------------------

def _duration(value: str) -> int:
    """Seconds in "15m", "2h", "1d", "30s" or a plain number of seconds; "off"/"0" is 0."""
    text = str(value).strip().lower()
    if text in ("off", "0", "none"):
        return 0
    if text.isdigit():
        return int(text)
    try:
        return parse_duration(text, "duration")
    except OutletsFileError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration like '30s', '15m', '3h', '1d' or 'off'") \
            from None


def _crawl_setting(value: str) -> str:
    name, sep, _ = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=VALUE")
    if name.strip() in RESERVED_SETTINGS:
        raise argparse.ArgumentTypeError(f"{name} is set by {RESERVED_SETTINGS[name.strip()]}, not -s")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.schedule",
        description="Crawl each outlet at its discovery_interval and re-check due articles, "
                    "as scrapy subprocesses; the schedule is kept in <archive>/scheduler.sqlite.",
        epilog="Settings also come from the environment (NEWSARCHIVE_OUTLETS_FILE, NEWSARCHIVE_ARCHIVE_DIR, "
               "NEWSARCHIVE_RECHECK_INTERVAL, and every NEWSARCHIVE_* crawl setting, which the crawls inherit).")
    parser.add_argument("--outlets-file", type=Path, default=None,
                        help="outlets TOML (default: OUTLETS_FILE of crawler.settings / NEWSARCHIVE_OUTLETS_FILE)")
    parser.add_argument("--archive-dir", type=Path, default=None,
                        help="archive directory "
                             "(default: ARCHIVE_DIR of crawler.settings / NEWSARCHIVE_ARCHIVE_DIR)")
    parser.add_argument("--recheck-interval", type=_duration,
                        default=os.environ.get("NEWSARCHIVE_RECHECK_INTERVAL", "15m"),
                        help="how often the 'recheck' job crawls all outlets with RECHECK=due "
                             "(default 15m; 'off' = no such job)")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="where each run's log file goes (default: <archive>/logs)")
    parser.add_argument("-s", "--crawl-setting", "--crawl-arg", dest="crawl_setting", type=_crawl_setting,
                        action="append", default=[], metavar="NAME=VALUE",
                        help="extra Scrapy setting for every crawl (repeatable), e.g. -s AUTOTHROTTLE_ENABLED=0")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("NEWSARCHIVE_WORKERS", 1)), metavar="N",
                        help="crawl processes per job run, sharing the frontier (default 1; more than one needs a "
                             "shared catalog: -s CATALOG_URL=postgresql://...)")
    parser.add_argument("--once", action="store_true",
                        help="run every job once now, one after the other, and exit (for cron and tests)")
    parser.add_argument("--job", action="append", default=[], metavar="ID",
                        help="with --once: run only this job (repeatable), e.g. --job recheck")
    parser.add_argument("--misfire-grace", type=_duration, default="10m",
                        help="skip a run that could not start within this time (or the job's interval, if longer) "
                             "of its schedule (default 10m; 'off' = never skip)")
    parser.add_argument("--stop-timeout", type=_duration, default="2m",
                        help="on SIGTERM/SIGINT, how long a crawl may take to stop gracefully "
                             "before it is forced (default 2m)")
    parser.add_argument("--keep-logs", type=_duration, default="30d",
                        help="delete run logs older than this (default 30d; 'off' keeps them all)")
    parser.add_argument("--print-cron", action="store_true", help="print a crontab example and exit")
    parser.add_argument("--print-systemd", action="store_true", help="print a systemd unit and exit")
    return parser


def resolve_options(options: argparse.Namespace) -> argparse.Namespace:
    from crawler import settings

    options.outlets_file = Path(options.outlets_file or settings.OUTLETS_FILE).expanduser().resolve()
    options.archive_dir = Path(options.archive_dir or settings.ARCHIVE_DIR).expanduser().resolve()
    options.log_dir = Path(options.log_dir or options.archive_dir / "logs").expanduser().resolve()
    if options.misfire_grace <= 0:
        options.misfire_grace = None
    return options


def cron_text(options: argparse.Namespace) -> str:
    command = _self_command(options, ["--once", "--job", RECHECK_JOB])
    return (f"# newsarchive: due re-checks of all outlets every 15 minutes (crontab -e); listings are not\n"
            f"# read (DISCOVERY=0): --once without --job also runs each outlet's discovery.\n"
            f"# A run that finds the previous one still busy exits 4 and is skipped.\n"
            f"# Per-run logs: {options.log_dir}; runs: the catalog's runs table.\n"
            f"*/15 * * * * cd {shlex.quote(str(REPO_ROOT))} && {command} "
            f">>{shlex.quote(str(options.log_dir / 'cron.log'))} 2>&1\n")


def systemd_text(options: argparse.Namespace) -> str:
    stop = int(options.stop_timeout + KILL_GRACE + 40)
    return f"""# /etc/systemd/system/newsarchive.service
# systemctl daemon-reload && systemctl enable --now newsarchive
# journalctl -u newsarchive -f     (each crawl's own log: {options.log_dir})
[Unit]
Description=newsarchive crawl scheduler
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User={_user()}
WorkingDirectory={REPO_ROOT}
ExecStart={_self_command(options, [])}
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM to the scheduler only: it stops the running crawl itself (SIGINT, graceful)
# and waits for it; with the default KillMode the crawl would get a second signal.
KillMode=mixed
TimeoutStopSec={stop}
Restart=on-failure
RestartSec=30
RestartPreventExitStatus=2 4

[Install]
WantedBy=multi-user.target
"""


def _self_command(options: argparse.Namespace, extra: list[str]) -> str:
    argv = [sys.executable, "-m", "crawler.schedule", "--outlets-file", str(options.outlets_file),
            "--archive-dir", str(options.archive_dir), *extra]
    if options.workers > 1:
        argv += ["--workers", str(options.workers)]
    for setting in options.crawl_setting:
        argv += ["-s", setting]
    return shlex.join(argv)


def _user() -> str:
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return "newsarchive"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = resolve_options(parser.parse_args(argv))
    if options.print_cron or options.print_systemd:
        texts = [cron_text(options)] * options.print_cron + [systemd_text(options)] * options.print_systemd
        sys.stdout.write("\n".join(texts))
        return 0
    if options.job and not options.once:
        parser.error("--job only goes with --once")
    if options.workers < 1 or (options.workers > 1 and not shared_catalog(options)):
        parser.error("--workers N: N >= 1, and more than one worker needs a shared catalog "
                     "(-s CATALOG_URL=postgresql://...)")
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        load_outlets(options.outlets_file)
        options.archive_dir.mkdir(parents=True, exist_ok=True)
        options.log_dir.mkdir(parents=True, exist_ok=True)
    except OutletsFileError as exc:
        logger.error("%s", exc)
        return EXIT_CONFIG
    except OSError as exc:
        logger.error("cannot create the archive or log directory: %s", exc)
        return EXIT_CONFIG
    return run_once(options) if options.once else serve(options)


if __name__ == "__main__":
    # Run the importable module, not ``__main__``: the jobs' function reference and the
    # signal state must be those of ``crawler.schedule``.
    from crawler.schedule import main as _main
    sys.exit(_main())
