"""``reextract``: rebuild text files from the archived WARC responses, without network.

For each version row (``--out``) or each article's latest version (``--in-place``) the
response record at ``(warc_file, warc_offset)`` is read, its Content-Encoding undone as
Scrapy undoes it, and :func:`archive.text.job.extract_for_archive` (the crawl's own
extraction call) is run on the payload in worker processes. The main process writes
files and catalog rows in sequence order, so the output is deterministic: with an
unchanged extractor, ``--out`` reproduces every text file byte for byte (same names).

- ``--out DIR``: a fresh archive in DIR (catalog.sqlite, text/, manifest.csv); its
  articles are copied (same ids), its versions point at the ORIGINAL WARC files by a path
  relative to DIR. Versions whose new text equals the article's previous new text merge.
- ``--in-place``: under the archive's lock, a version with reason ``reextract`` is added
  for every article whose latest text changes, plus an ``reextracted`` event; re-check
  schedules are left alone. ``dry_run`` only reports what would change.
"""
from __future__ import annotations

import os
import sys
from collections import Counter, deque
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TextIO

from ..store.catalog import Catalog, catalog_url_for
from ..store.lock import ArchiveLock, ArchiveLocked
from ..store.manifest import write_manifest
from ..store.textfile import sha256_hex
from ..store.textstore import TextStore
from ..text.job import extracted_fields
from ..text.pool import extraction_executor
from ..warc.reader import WarcReadError, read_record
from .reader import ArchiveError, Progress

PAGE = 500
CHUNK = 8


# -- worker side --------------------------------------------------------------------------

def extract_from_warc(task: tuple[str, int, str] | None) -> dict:
    """``(warc path, offset, url)`` -> ``extract_for_archive`` result, or ``{"error", "message"}``."""
    from ..text.job import extract_for_archive

    if task is None:
        return {"error": "no_warc_record", "message": "version has no WARC location"}
    path, offset, url = task
    try:
        record = read_record(path, offset)
    except WarcReadError as exc:
        return {"error": "warc_unreadable", "message": str(exc)}
    if record.rec_type != "response" or record.http is None:
        return {"error": "not_a_response", "message": f"{path}@{offset} holds a {record.rec_type} record"}
    if record.target_uri != url:
        return {"error": "warc_mismatch", "message": f"{path}@{offset} is a record of {record.target_uri}"}
    try:
        payload = record.decoded_payload()
    except Exception as exc:  # zlib/brotli/zstd errors, missing decoder
        return {"error": "content_encoding", "message": f"cannot undo Content-Encoding: {exc!r}"}
    try:
        return extract_for_archive(payload, record.http_header("Content-Type"), url)
    except Exception as exc:  # an extractor bug on one page must not stop the run
        return {"error": "extraction", "message": repr(exc)}


def _work(tasks: list) -> list[dict]:
    return [extract_from_warc(task) for task in tasks]


# -- main side ----------------------------------------------------------------------------

class KeepSchedule:
    """A RecheckPolicy stand-in that leaves an article's re-check schedule as it was."""

    def __init__(self, next_check: str | None):
        self.next_check = next_check

    def schedule(self, first_seen: str, step: int, changed: bool, now: str) -> tuple[int, str | None]:
        return step, self.next_check


@dataclass
class ReextractStats:
    total: int = 0
    done: int = 0
    written: int = 0          # --out: text files written
    merged: int = 0           # --out: equal to the article's previous new version
    changed: int = 0          # text differs from the original version's
    unchanged: int = 0
    errors: Counter = field(default_factory=Counter)
    per_outlet: dict = field(default_factory=dict)

    def outlet(self, name: str) -> dict:
        return self.per_outlet.setdefault(name, {"fetched": 0, "archived": 0, "new_versions": 0, "unchanged": 0,
                                                 "skipped": 0, "errors": Counter()})


def version_fields(row: dict, extracted: dict, warc_file: str | None, reason: str | None = None) -> dict:
    """Catalog fields of a re-extracted version: capture fields from ``row``, the rest from
    the extraction exactly as the crawl derives them (``archive.text.job.extracted_fields``)."""
    feed_date = row.get("published") if row.get("published_source") == "feed" else None
    fields = {
        **extracted_fields(extracted, feed_published=feed_date),
        "url": row["url"],
        "canonical_url": row.get("canonical_url"),
        "fetched_at": row["fetched_at"],
        "http_status": row.get("http_status"),
        "etag": row.get("etag"),
        "last_modified": row.get("last_modified"),
        "warc_file": warc_file,
        "warc_offset": row.get("warc_offset"),
        "warc_record_id": row.get("warc_record_id"),
        "payload_digest": row.get("payload_digest"),
        "discovered_via": row.get("discovered_via"),
    }
    if reason:
        fields["reason"] = reason
    return fields


def _pages(catalog: Catalog, max_seq: int | None, latest_only: bool, outlet: str | None) -> Iterator[dict]:
    after = -1
    while True:
        page = catalog.version_page(after, PAGE, max_seq=max_seq, latest_only=latest_only, outlet=outlet)
        if not page:
            return
        yield from page
        after = page[-1]["seq"]


def _ordered(executor: Executor, rows: Iterator[dict], task_of: Callable[[dict], object],
             inflight: int) -> Iterator[tuple[dict, dict]]:
    """(row, result) in input order, with at most ``inflight`` chunks submitted ahead."""
    pending: deque = deque()

    def drain_one():
        batch, future = pending.popleft()
        try:
            results = future.result()
        except BrokenProcessPool:
            raise ArchiveError("a re-extraction worker process died (out of memory, or a crash in a "
                               "native library); run again with --workers 0 to find the page") from None
        return zip(batch, results)

    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            pending.append((batch, executor.submit(_work, [task_of(r) for r in batch])))
            batch = []
            while len(pending) > inflight:
                yield from drain_one()
    if batch:
        pending.append((batch, executor.submit(_work, [task_of(r) for r in batch])))
    while pending:
        yield from drain_one()


def _task_for(archive_dir: Path):
    def task_of(row: dict):
        if not row.get("warc_file") or row.get("warc_offset") is None:
            return None
        return (str(archive_dir / row["warc_file"]), int(row["warc_offset"]), row["url"])
    return task_of


def _extractor_detail() -> dict:
    detail = {}
    try:
        from importlib.metadata import version
        for package in ("trafilatura", "lxml", "htmldate"):
            try:
                detail[package] = version(package)
            except Exception:
                pass
    except ImportError:
        pass
    return detail


def reextract(archive_dir: str | os.PathLike, catalog: Catalog, *, out_dir: str | os.PathLike | None = None,
              in_place: bool = False, dry_run: bool = False, workers: int | None = None, outlet: str | None = None,
              emit: Callable[[str], None] | None = None, progress_stream: TextIO | None = None) -> ReextractStats:
    """Re-extract an archive into ``out_dir`` or in place; see the module docstring."""
    if bool(out_dir) == bool(in_place):
        raise ArchiveError("give exactly one of --out DIR or --in-place")
    if dry_run and not in_place:
        raise ArchiveError("--dry-run goes with --in-place")
    archive_dir = Path(archive_dir)
    workers = (os.cpu_count() or 1) if workers is None else workers
    emit = emit or (lambda line: None)
    if in_place:
        return _in_place(archive_dir, catalog, dry_run, workers, outlet, emit, progress_stream)
    return _to_out(archive_dir, catalog, Path(out_dir), workers, outlet, emit, progress_stream)


def _prepare_out(archive_dir: Path, out_dir: Path) -> None:
    if out_dir.resolve() == archive_dir.resolve():
        raise ArchiveError("--out must be a new directory, not the archive itself (use --in-place)")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ArchiveError(f"--out {out_dir} exists and is not a directory")
        if any(out_dir.iterdir()):
            raise ArchiveError(f"--out {out_dir} is not empty: give a new or empty directory")
    out_dir.mkdir(parents=True, exist_ok=True)


def _to_out(archive_dir: Path, source: Catalog, out_dir: Path, workers: int, outlet: str | None,
            emit: Callable[[str], None], progress_stream) -> ReextractStats:
    _prepare_out(archive_dir, out_dir)
    target = Catalog(catalog_url_for(str(out_dir)))
    stats = ReextractStats()
    run_id = target.start_run("reextract", {"source": str(archive_dir.resolve()), "mode": "out",
                                            "outlet": outlet, "workers": workers, **_extractor_detail()})
    status, exit_code = "interrupted", 130
    try:
        batch = []
        for article in source.iter_articles(outlet):
            batch.append(article)
            if len(batch) >= 1000:
                target.copy_articles(batch)
                batch = []
        if batch:
            target.copy_articles(batch)
        store = TextStore(out_dir, target)
        for row, result, counts in _extracted(source, archive_dir, False, outlet, workers, stats, emit,
                                              progress_stream):
            warc_file = os.path.relpath(archive_dir / row["warc_file"], out_dir) if row.get("warc_file") else None
            reason = "reextract" if row.get("reason") == "reextract" and row["version"] > 1 else None
            written = store.add_version(row["outlet"], row["article_url"], result["text"],
                                        version_fields(row, result, warc_file, reason), {},
                                        KeepSchedule(row["article_next_check"]))
            if sha256_hex(result["text"]) == row["sha256"]:
                stats.unchanged += 1
                counts["unchanged"] += 1
            else:
                stats.changed += 1
                emit(f"changed: seq {row['seq']} {row['file']} ({row['url']})")
            if written is None or written.get("alias_of"):  # same text as a version or another article
                stats.merged += 1
            else:
                stats.written += 1
                counts["archived"] += 1
                counts["new_versions"] += int(written["version"] > 1)
        write_manifest(out_dir, target)
        status, exit_code = "finished", (1 if stats.errors else 0)
    except ArchiveError:
        status, exit_code = "failed", 2
        raise
    finally:
        target.finish_run(run_id, status, exit_code, _run_stats(stats))
        target.close()
    return stats


def _in_place(archive_dir: Path, catalog: Catalog, dry_run: bool, workers: int, outlet: str | None,
              emit: Callable[[str], None], progress_stream) -> ReextractStats:
    lock = ArchiveLock(archive_dir)
    if not dry_run:
        try:
            lock.acquire()
        except ArchiveLocked as exc:
            raise ArchiveError(str(exc)) from None
    stats = ReextractStats()
    run_id = None if dry_run else catalog.start_run(
        "reextract", {"mode": "in-place", "outlet": outlet, "workers": workers, **_extractor_detail()})
    status, exit_code = "interrupted", 130
    try:
        store = None if dry_run else TextStore(archive_dir, catalog)
        for row, result, counts in _extracted(catalog, archive_dir, True, outlet, workers, stats, emit,
                                              progress_stream):
            if sha256_hex(result["text"]) == row["sha256"]:
                stats.unchanged += 1
                counts["unchanged"] += 1
            elif dry_run:
                stats.changed += 1
                emit(f"would change: {row['article_url']} (latest seq {row['seq']} {row['file']})")
            else:
                written = store.add_version(row["outlet"], row["article_url"], result["text"],
                                            version_fields(row, result, row.get("warc_file"), "reextract"),
                                            {}, KeepSchedule(row["article_next_check"]))
                if written is None:      # cannot happen under the lock; be safe
                    stats.unchanged += 1
                    counts["unchanged"] += 1
                    continue
                stats.changed += 1
                stats.written += 1
                counts["archived"] += 1
                counts["new_versions"] += 1
                catalog.add_event(row["article_id"], "reextracted", {
                    "from_seq": row["seq"], "seq": written["seq"], "version": written["version"],
                    "sha256_before": row["sha256"], "sha256": written["sha256"]})
                emit(f"changed: {row['article_url']}: seq {row['seq']} -> {written['seq']} {written['file']}")
        if not dry_run and stats.written:
            write_manifest(archive_dir, catalog)
        status, exit_code = "finished", (1 if stats.errors else 0)
    except ArchiveError:
        status, exit_code = "failed", 2
        raise
    finally:
        if run_id is not None:
            catalog.finish_run(run_id, status, exit_code, _run_stats(stats))
        lock.release()
    return stats


def _extracted(catalog: Catalog, archive_dir: Path, latest_only: bool, outlet: str | None, workers: int,
               stats: ReextractStats, emit: Callable[[str], None], progress_stream) -> Iterator[tuple[dict, dict, dict]]:
    """(version row, extraction result, the outlet's counts) for each version to re-extract,
    in sequence order, extracted on ``workers`` processes; failures are counted and
    reported here and not yielded. Shows progress."""
    max_seq = catalog.max_seq()
    stats.total = catalog.count_version_rows(max_seq=max_seq, latest_only=latest_only, outlet=outlet)
    progress = Progress("reextract", stats.total, stream=progress_stream)
    executor = extraction_executor(workers)
    try:
        rows = _pages(catalog, max_seq, latest_only, outlet)
        for row, result in _ordered(executor, rows, _task_for(archive_dir), max(2, 3 * workers)):
            stats.done += 1
            counts = stats.outlet(row["outlet"])
            if "error" in result or not result.get("text"):
                kind = result.get("error", "no_article_text")
                _error(stats, counts, kind, row, result.get("message", "no article text found"), emit)
            else:
                yield row, result, counts
            progress.update(extra=f", {stats.changed} changed, {sum(stats.errors.values())} errors")
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        progress.finish()


def _error(stats: ReextractStats, counts: dict, kind: str, row: dict, message: str,
           emit: Callable[[str], None]) -> None:
    stats.errors[kind] += 1
    counts["errors"][kind] += 1
    counts["skipped"] += 1
    print(f"reextract: seq {row['seq']} ({row['url']}): {kind}: {message}", file=sys.stderr)


def _run_stats(stats: ReextractStats) -> dict:
    return {name: {**counts, "errors": dict(counts["errors"])} for name, counts in stats.per_outlet.items()}


def format_summary(stats: ReextractStats, out_dir: str | os.PathLike | None, in_place: bool, dry_run: bool) -> str:
    errors = ", ".join(f"{k} {v}" for k, v in sorted(stats.errors.items())) or "none"
    if in_place:
        verb = "would get" if dry_run else "got"
        return (f"re-extracted {stats.done} latest versions: {stats.changed} articles {verb} a new "
                f"'reextract' version, {stats.unchanged} unchanged; errors: {errors}")
    return (f"re-extracted {stats.done} versions into {out_dir}: {stats.written} text files written "
            f"({stats.unchanged} identical to the original, {stats.changed} different, "
            f"{stats.merged} merged into the previous version); errors: {errors}")
