"""Extensions: the run record, progress lines and the end-of-crawl summary."""
from __future__ import annotations

import json
import logging
import math
from collections import defaultdict

from scrapy import signals
from scrapy.exceptions import NotConfigured
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import task

from archive.store.catalog import Catalog, catalog_url_for
from archive.store.manifest import write_manifest
from crawler.writeerrors import CLOSE_REASON as DISK_FULL, UNWRITABLE_REASON, error_line, is_disk_full

logger = logging.getLogger(__name__)

COUNTERS = ("discovered", "fetched", "archived", "new_versions", "unchanged", "gone", "skipped")
EXIT_NO_OUTLET_REACHABLE = 3
EXIT_DISK_FULL = 5
EXIT_WRITE_FAILED = 6
# stats of writes that failed: any of them makes the crawl exit EXIT_WRITE_FAILED
WRITE_ERROR_STATS = ("/errors/archive_write", "warc/write_errors", "/errors/catalog_write")


def outlet_counts(stats: dict, outlets) -> dict[str, dict]:
    """Per-outlet counters from the crawl's ``newsarchive/<outlet>/...`` stats."""
    counts = {name: {**{c: 0 for c in COUNTERS}, "responses": 0, "errors": defaultdict(int),
                     "skipped_by": defaultdict(int)} for name in outlets}
    for key, value in stats.items():
        parts = key.split("/")
        if parts[0] != "newsarchive" or len(parts) < 3 or parts[1] not in counts:
            continue
        entry, name = counts[parts[1]], parts[2]
        if name == "errors" and len(parts) == 4:
            entry["errors"][parts[3]] += value
        elif name == "skipped" and len(parts) == 4:
            entry["skipped"] += value
            entry["skipped_by"][parts[3]] += value
        elif name in entry and len(parts) == 3:
            entry[name] += value
    return counts


class CrawlSummary:
    """Records the run in the catalog, logs progress, and at the end logs a per-outlet
    summary, stores it, and rewrites ``manifest.csv``.

    Sets ``crawler.newsarchive_exit_code``: 3 when no outlet could be reached, 5 when the
    crawl stopped on a full disk, 6 when it could not write what it fetched (a read-only
    archive, or any other failed write).
    Settings: SUMMARY_ENABLED, PROGRESS_INTERVAL (seconds, 0 = off).
    """

    def __init__(self, crawler, catalog: Catalog):
        self.crawler = crawler
        self.catalog = catalog
        self.archive_dir = crawler.settings["ARCHIVE_DIR"]
        self.interval = crawler.settings.getfloat("PROGRESS_INTERVAL", 30.0)
        self.run_id: int | None = None
        self.seq_before: int | None = None  # versions with a higher seq are this run's
        self.progress: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler) -> "CrawlSummary":
        settings = crawler.settings
        if not settings.getbool("SUMMARY_ENABLED", True):
            raise NotConfigured
        catalog = Catalog(settings.get("CATALOG_URL") or catalog_url_for(settings["ARCHIVE_DIR"]))
        extension = cls(crawler, catalog)
        crawler.newsarchive_exit_code = 0
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider) -> None:
        settings = self.crawler.settings
        detail = {"outlets_file": settings.get("OUTLETS_FILE"), "outlets": sorted(spider.outlets),
                  "recheck": settings.get("RECHECK"), "user_agent": settings.get("USER_AGENT")}
        self.run_id = self.catalog.start_run("crawl", detail)
        self.seq_before = self.catalog.max_seq()
        if self.interval > 0:
            self.progress = task.LoopingCall(self.log_progress)
            self.progress.start(self.interval, now=False)

    def log_progress(self) -> None:
        totals = defaultdict(int)
        for counts in outlet_counts(self.crawler.stats.get_stats(), self.crawler.spider.outlets).values():
            for name in ("discovered", "fetched", "archived", "unchanged"):
                totals[name] += counts[name]
            totals["errors"] += sum(counts["errors"].values())
        logger.info("progress: discovered %(discovered)d, fetched %(fetched)d, archived %(archived)d, "
                    "unchanged %(unchanged)d, errors %(errors)d", totals)

    def spider_closed(self, spider, reason: str) -> None:
        if self.progress and self.progress.running:
            self.progress.stop()
        counts = outlet_counts(self.crawler.stats.get_stats(), spider.outlets)
        reachable = [name for name, c in counts.items() if c["responses"] > 0]
        attempted = reachable or any(c["errors"] for c in counts.values())
        self._log_summary(counts)
        exit_code, status = 0, "finished" if reason == "finished" else reason
        write_errors = sum(value for key, value in self.crawler.stats.get_stats().items()
                           if isinstance(value, int) and key.endswith(WRITE_ERROR_STATS))
        if reason == DISK_FULL:
            exit_code = EXIT_DISK_FULL
        elif reason == UNWRITABLE_REASON or write_errors:
            exit_code = EXIT_WRITE_FAILED
            logger.error("%d writes to the archive %s failed: this run did not archive all it fetched; "
                         "the next run fetches it again", write_errors, self.archive_dir)
        elif attempted and not reachable:
            exit_code, status = EXIT_NO_OUTLET_REACHABLE, "no-outlet-reachable"
            logger.error("no outlet could be reached (%s): check the network, the URLs in the outlets file, "
                         "and the errors above", ", ".join(sorted(counts)))
        self.crawler.newsarchive_exit_code = exit_code
        try:
            self._add_delays(counts)
            self.catalog.finish_run(self.run_id, status, exit_code, counts)
            path = write_manifest(self.archive_dir, self.catalog)
            total = self.catalog.count_versions()
        except (OSError, SQLAlchemyError) as exc:
            # the crawl's own records are safe; only its summary row or the manifest is missing
            logger.error("cannot record the end of the run in %s: %s", self.archive_dir, error_line(exc))
            if not is_disk_full(exc):
                raise
            self.crawler.newsarchive_exit_code = EXIT_DISK_FULL
            path, total = None, self.catalog.count_versions()
        finally:
            self.catalog.close()
        logger.info("archive %s: %d text files; manifest %s", self.archive_dir, total, path)
        self.crawler.newsarchive_verdict = self._verdict(counts, reachable, status, total, path)

    def _add_delays(self, counts: dict[str, dict]) -> None:
        """Median and 90th percentile of this run's capture delays, per outlet (logged, and
        kept with the run's outlet stats)."""
        lines = []
        for outlet, delays in sorted(self.catalog.capture_delays(self.seq_before).items()):
            entry = counts.setdefault(outlet, {})
            cells = []
            for name, values in delays.items():  # published_delay, then modified_delay
                median, p90 = entry[f"{name}_median"], entry[f"{name}_p90"] = percentile(values, 50), percentile(values, 90)
                cells += [str(len(values)), _hours(median), _hours(p90)]
            lines.append(f"{outlet:<20} " + " ".join(f"{cell:>8}" for cell in cells))
        if lines:
            header = f"{'outlet':<20} {'new':>8} {'median':>8} {'p90':>8} {'edits':>8} {'median':>8} {'p90':>8}"
            logger.info("capture delays (hours) from published to first capture (new), and from the announced "
                        "change to the capture of an edit (edits):\n%s", "\n".join([header, *lines]))

    def _verdict(self, counts: dict[str, dict], reachable: list[str], status: str, total: int, path) -> str:
        """The last line of the crawl, for whoever reads the cron mail."""
        code = self.crawler.newsarchive_exit_code
        archived = sum(c["archived"] for c in counts.values())
        errors = sum(sum(c["errors"].values()) for c in counts.values())
        if code == EXIT_NO_OUTLET_REACHABLE:
            return (f"newsarchive: no outlet could be reached ({len(counts)} tried): is this machine online? "
                    f"Nothing was archived; see the errors above.")
        if code == EXIT_DISK_FULL:
            return (f"newsarchive: crawl stopped: no space left on the device of {self.archive_dir} (disk full). "
                    f"{archived} versions were archived before it filled up and the archive is consistent; "
                    f"free some space and run again to finish.")
        if code == EXIT_WRITE_FAILED:
            return (f"newsarchive: crawl {status}: could not write to the archive {self.archive_dir} "
                    f"(read-only or not writable?); {archived} versions archived, {errors} errors; what is "
                    f"archived is consistent: fix the cause (see the errors above) and run again.")
        return (f"newsarchive: crawl {status}: {len(reachable)}/{len(counts)} outlets answered, {archived} versions "
                f"archived, {errors} errors; archive {self.archive_dir} now holds {total} text files "
                f"(manifest: {path}).")

    @staticmethod
    def _log_summary(counts: dict[str, dict]) -> None:
        header = f"{'outlet':<20} {'discovered':>10} {'fetched':>8} {'archived':>8} {'new ver.':>8} " \
                 f"{'unchanged':>9} {'skipped':>8}  errors"
        lines = [header, "-" * len(header)]
        for name, c in sorted(counts.items()):
            errors = ", ".join(f"{k}={v}" for k, v in sorted(c["errors"].items())) or "none"
            lines.append(f"{name:<20} {c['discovered']:>10} {c['fetched']:>8} {c['archived']:>8} "
                         f"{c['new_versions']:>8} {c['unchanged']:>9} {c['skipped']:>8}  {errors}")
        logger.info("crawl summary:\n%s", "\n".join(lines))
        skipped = {name: dict(c["skipped_by"]) for name, c in counts.items() if c["skipped_by"]}
        if skipped:
            logger.info("skipped by reason: %s", json.dumps(skipped, sort_keys=True))


def percentile(values: list[int], share: float) -> int | None:
    """The ``share``-th percentile of ``values`` (nearest rank), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


def _hours(seconds: int | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}"


class _DropNetworkTracebacks(logging.Filter):
    """Keep the one-line message of an expected network failure, drop its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            chain, exc = [], record.exc_info[1]
            while exc is not None and len(chain) < 10:
                chain.append(exc)
                exc = exc.__cause__ or exc.__context__
            if any(isinstance(e, (OSError, ConnectionError)) or type(e).__module__.startswith("twisted.internet.error")
                   or type(e).__name__ in NETWORK_ERROR_NAMES for e in chain):
                record.exc_info = None
                record.exc_text = None
        return True


NETWORK_ERROR_NAMES = {"CannotResolveHostError", "DownloadConnectionRefusedError", "DownloadFailedError",
                       "DownloadTimeoutError", "ResponseDataLossError", "DNSLookupError", "TimeoutError"}
QUIET_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.core.scraper", "scrapy.core.engine")


class QuietNetworkErrors:
    """Logs an unreachable host as one line, not a stack trace (QUIET_NETWORK_ERRORS)."""

    def __init__(self):
        self.filter = _DropNetworkTracebacks()
        for name in QUIET_LOGGERS:
            logging.getLogger(name).addFilter(self.filter)

    @classmethod
    def from_crawler(cls, crawler) -> "QuietNetworkErrors":
        if not crawler.settings.getbool("QUIET_NETWORK_ERRORS", True):
            raise NotConfigured
        return cls()
