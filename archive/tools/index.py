"""``index``: a CDXJ index of the archive's WARC files, in the form pywb reads.

``ARCHIVE_DIR/indexes/index.cdxj`` has one line per response and revisit record, made by
Webrecorder's ``cdxj-indexer`` and sorted (pywb binary-searches it)::

    SURT TIMESTAMP {"url": ..., "mime": ..., "status": ..., "digest": ..., "length": ...,
                    "offset": ..., "filename": "NEWSARCHIVE-....warc.gz"}

``filename`` is relative to ``warc/``: a pywb collection whose ``archive/`` is the archive's
``warc/`` and whose ``indexes/`` is this directory replays the archive (see README).

Incremental: ``indexes/indexed.tsv`` lists the WARC files whose lines are in the index (name,
size). An update indexes only the complete WARC files not listed there (one with an ``.open``
marker beside it is still being written, or was left by a killed crawl, and waits for a later
update) and merges their lines into the index in one streaming pass. The index and the list
are each replaced whole (temporary file, fsync, rename) under ``indexes/.lock``, so a crash
leaves the previous index (and temporary files, which the next update removes); a crash
between the two renames makes the next update index those files again, and the merge drops
the lines it already has.

One thing differs from cdxj-indexer's lines. pywb (2.10) replays a ``server-not-modified``
revisit (the 304 of a re-check) with the revisit's own HTTP headers, i.e. as an empty 304,
where a researcher asking for that moment wants the page the 304 confirmed. So the line of a
304 revisit whose original capture (same URL, same payload digest, earlier) is in the index
points at that original response record, with its type and status, and keeps the revisit
record's own location under ``"revisit"``. ReplayWeb.page resolves such revisits itself (a
WACZ carries cdxj-indexer's lines unchanged).
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from cdxj_indexer.main import CDXJIndexer, SortingWriter

from ..store.lock import LockHeld, release_lock, take_lock
from ..warc.writer import OPEN_MARKER
from .reader import ArchiveError

INDEX_DIR = "indexes"
INDEX_FILE = "index.cdxj"
STATE_FILE = "indexed.tsv"      # pywb reads only *.cdx / *.cdxj files from indexes/
LOCK_FILE = ".lock"
LOCK_WAIT = 300.0               # seconds an update waits for another one to finish
RECORDS = "response,revisit"    # explicit: importing py-wacz adds warcinfo to cdxj-indexer's default
_NOT_MODIFIED = ('"mime": "warc/revisit"', '"status": "304"')


@dataclass
class IndexReport:
    """What one :func:`update_index` did."""

    indexed: list[str] = field(default_factory=list)     # WARC files indexed now
    waiting: list[str] = field(default_factory=list)     # still being written (.open marker)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, error): not indexed
    dropped: list[str] = field(default_factory=list)     # gone or changed files whose old lines went
    lines_added: int = 0
    lines: int = 0                                       # lines in the index now
    resolved: int = 0                                    # 304 revisits pointing at their original
    unresolved: int = 0                                  # 304 revisits whose original is not indexed
    files: int = 0                                       # complete WARC files in warc/
    rebuilt: bool = False
    written: bool = False                                # the index file was replaced


def index_path(archive_dir: str | os.PathLike) -> Path:
    return Path(archive_dir) / INDEX_DIR / INDEX_FILE


def read_state(archive_dir: str | os.PathLike) -> dict[str, int]:
    """The WARC files in the index, with the size each had when it was indexed."""
    path = Path(archive_dir) / INDEX_DIR / STATE_FILE
    state: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return state
    for line in text.splitlines():
        name, _, size = line.partition("\t")
        if name and size.isdigit():
            state[name] = int(size)
    return state


def complete_warcs(archive_dir: str | os.PathLike) -> tuple[dict[str, int], list[str]]:
    """({name: size} of the complete ``warc/*.warc.gz`` files, [names still being written])."""
    warc_dir = Path(archive_dir) / "warc"
    complete: dict[str, int] = {}
    waiting: list[str] = []
    if not warc_dir.is_dir():
        return complete, waiting
    for path in sorted(warc_dir.glob("*.warc.gz")):
        if path.with_name(path.name + OPEN_MARKER).exists():
            waiting.append(path.name)
        else:
            try:
                complete[path.name] = path.stat().st_size
            except FileNotFoundError:
                continue
    return complete, waiting


def update_index(archive_dir: str | os.PathLike, rebuild: bool = False, lock_wait: float = LOCK_WAIT,
                 emit: Callable[[str], None] | None = None) -> IndexReport:
    """Bring ``indexes/index.cdxj`` up to date with the complete WARC files (all of them
    again with ``rebuild``)."""
    archive_dir = Path(archive_dir)
    index_dir = archive_dir / INDEX_DIR
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = take_lock(index_dir / LOCK_FILE, wait_seconds=lock_wait)
    except LockHeld as exc:
        raise ArchiveError(f"the index of {archive_dir} is being updated by another process "
                           f"({exc.holder or 'unknown'}); try again later") from None
    try:
        return _update(archive_dir, index_dir, rebuild, emit or (lambda line: None))
    finally:
        release_lock(lock)


def _update(archive_dir: Path, index_dir: Path, rebuild: bool, emit: Callable[[str], None]) -> IndexReport:
    for leftover in index_dir.glob(".*.tmp"):   # of an update that was killed (we hold the lock)
        leftover.unlink(missing_ok=True)
    index = index_dir / INDEX_FILE
    report = IndexReport(rebuilt=rebuild or not index.exists())
    state = {} if report.rebuilt else read_state(archive_dir)
    complete, report.waiting = complete_warcs(archive_dir)
    todo = [name for name, size in complete.items() if state.get(name) != size]
    drop = {name for name in state if name not in complete or complete[name] != state[name]}
    report.dropped = sorted(drop)
    report.files = len(complete)
    if not todo and not drop and not report.rebuilt:
        return report

    tmp_new = index_dir / f".new.{os.getpid()}.tmp"
    tmp_index = index_dir / f".{INDEX_FILE}.{os.getpid()}.tmp"
    try:
        with open(tmp_new, "w", encoding="utf-8") as new_lines:
            sorter = SortingWriter(new_lines)
            for name in todo:
                try:
                    lines = _index_file(archive_dir / "warc" / name)
                except Exception as exc:  # a corrupt file must not stop the others being indexed
                    report.failed.append((name, f"{exc.__class__.__name__}: {exc}"))
                    emit(f"cannot index warc/{name}: {exc.__class__.__name__}: {exc}")
                    continue
                for line in lines:
                    sorter.write(line)
                report.lines_added += len(lines)
                report.indexed.append(name)
            sorter.flush()
        with (open(tmp_new, encoding="utf-8") as new_lines,
              contextlib.nullcontext(iter(())) if report.rebuilt else open(index, encoding="utf-8") as old_lines):
            old = _without_files(old_lines, drop) if drop else old_lines
            with open(tmp_index, "w", encoding="utf-8") as out:
                for line in _resolved(_unique(heapq.merge(old, new_lines))):
                    out.write(line)
                    report.lines += 1
                    if '"revisit": {' in line:
                        report.resolved += 1
                    elif all(part in line for part in _NOT_MODIFIED):
                        report.unresolved += 1
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp_index, index)
        report.written = True
        indexed = {name: size for name, size in state.items() if name not in drop}
        indexed.update((name, complete[name]) for name in report.indexed)
        _write_state(index_dir, indexed)
        _fsync_dir(index_dir)
    finally:
        for path in (tmp_new, tmp_index):
            path.unlink(missing_ok=True)
    return report


def _index_file(path: Path) -> list[str]:
    """cdxj-indexer's lines (unsorted) for one WARC file."""
    collected = _Lines()
    CDXJIndexer(collected, [str(path)], records=RECORDS).process_all()
    return collected.lines


class _Lines:
    """A write() target collecting lines (always true: cdxj-indexer tests its output with ``if``)."""

    def __init__(self):
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        pass


def _unique(lines: Iterable[str]) -> Iterator[str]:
    previous = None
    for line in lines:
        if line != previous and line.strip():
            yield line if line.endswith("\n") else line + "\n"
        previous = line


def _without_files(lines: Iterable[str], names: set[str]) -> Iterator[str]:
    """Old lines minus those of WARC files gone or changed; a 304 line whose original's file
    went becomes the plain revisit line again."""
    for line in lines:
        urlkey, ts, text = line.split(" ", 2)
        entry = json.loads(text)
        own = entry.get("revisit", entry)
        if own.get("filename") in names:
            continue
        if "revisit" in entry and entry.get("filename") in names:
            entry = _unresolve(entry)
            line = f"{urlkey} {ts} {json.dumps(entry)}\n"
        yield line


def _resolved(lines: Iterable[str]) -> Iterator[str]:
    """The lines, sorted as they came, with 304 revisits pointed at their original capture."""
    for _urlkey, group in itertools.groupby(lines, key=lambda line: line.split(" ", 1)[0]):
        group = list(group)
        if any(all(part in line for part in _NOT_MODIFIED) for line in group):
            group = _resolve_group(group)
        yield from group


def _resolve_group(lines: list[str]) -> list[str]:
    """One URL's lines (in time order): each unresolved 304 revisit points at the latest
    earlier capture with its payload digest."""
    latest: dict[str, dict] = {}
    out = []
    for line in lines:
        urlkey, ts, text = line.split(" ", 2)
        entry = json.loads(text)
        if entry.get("mime") == "warc/revisit":
            original = latest.get(entry.get("digest") or "")
            if entry.get("status") == "304" and original is not None:
                entry = {**entry, "mime": original.get("mime"), "status": original.get("status"),
                         "length": original["length"], "offset": original["offset"],
                         "filename": original["filename"],
                         "revisit": {"status": entry.get("status"), "length": entry.get("length"),
                                     "offset": entry.get("offset"), "filename": entry.get("filename")}}
                line = f"{urlkey} {ts} {json.dumps(entry)}\n"
        elif entry.get("digest"):
            latest[entry["digest"]] = entry
        out.append(line)
    return sorted(set(out))  # a file indexed again after a crash: its lines are now the old ones


def _unresolve(entry: dict) -> dict:
    """A resolved 304 line's entry as cdxj-indexer wrote it."""
    own = entry["revisit"]
    plain = {key: value for key, value in entry.items() if key != "revisit"}
    plain.update(mime="warc/revisit", status=own.get("status"), length=own.get("length"),
                 offset=own.get("offset"), filename=own.get("filename"))
    return plain


def record_location(entry: dict) -> tuple[str, int, int]:
    """(filename, offset, length) of the WARC record an index line stands for (for a 304
    revisit pointed at its original: the revisit record's own)."""
    own = entry.get("revisit", entry)
    return own["filename"], int(own["offset"]), int(own["length"])


def iter_entries(archive_dir: str | os.PathLike) -> Iterator[tuple[str, str, dict]]:
    """(urlkey, timestamp, fields) of each line of the index."""
    path = index_path(archive_dir)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            urlkey, ts, text = line.rstrip("\n").split(" ", 2)
            yield urlkey, ts, json.loads(text)


def _write_state(index_dir: Path, indexed: dict[str, int]) -> None:
    path = index_dir / STATE_FILE
    tmp = index_dir / f".{STATE_FILE}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("".join(f"{name}\t{size}\n" for name, size in sorted(indexed.items())))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def format_summary(archive_dir: str | os.PathLike, report: IndexReport) -> str:
    """The closing lines of ``index``."""
    path = index_path(archive_dir)
    lines = []
    if report.written:
        what = "rebuilt" if report.rebuilt else "updated"
        lines.append(f"index {path} {what}: {len(report.indexed)} WARC files indexed "
                     f"({report.lines_added} lines added), {report.lines} lines in all")
    else:
        lines.append(f"index {path} is up to date ({report.files} WARC files indexed)")
    if report.resolved or report.unresolved:
        lines.append(f"  304 re-checks pointed at the capture they confirmed: {report.resolved}"
                     + (f"; original not in the index: {report.unresolved}" if report.unresolved else ""))
    if report.dropped:
        lines.append(f"  lines dropped for {len(report.dropped)} WARC files gone or changed: "
                     + ", ".join(report.dropped))
    if report.waiting:
        lines.append(f"  not indexed yet, still being written (or left open by a killed crawl): "
                     + ", ".join(report.waiting))
    for name, error in report.failed:
        lines.append(f"  FAILED warc/{name}: {error}")
    return "\n".join(lines)
