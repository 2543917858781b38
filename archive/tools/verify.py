"""``verify``: check that an archive's files and catalog agree.

Checks (``quick`` skips the ones marked *):
- every catalog version row's text file exists, its name carries the row's seq and the
  first 16 hex of its SHA-256, and* its bytes hash to the catalog's SHA-256 (a metadata
  version names the file of an earlier version with the same text);
- every file in ``text/`` belongs to a catalog row (anything else is a stray);
- articles' ``latest_*`` columns agree with their versions;
- every WARC location in the catalog: the WARC file exists, and* the gzip member at the
  offset decompresses whole and holds a ``response``/``revisit`` record for the row's URL
  (and record id, when the catalog has one);
- * every ``warc/*.warc.gz`` decompresses to its end (a torn last member is reported);
- leftovers: ``text/.tmp/*`` temporary files and ``warc/*.open`` markers (normal while a
  crawl runs: then they are reported as notes, not problems).
"""
from __future__ import annotations

import hashlib
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from ..store.catalog import Catalog
from ..store.lock import archive_in_use
from ..store.textfile import parse_text_file_name
from ..store.textstore import TEXT_DIR, TMP_DIR
from ..warc.reader import WarcReadError, parse_record, read_member
from ..warc.writer import OPEN_MARKER, complete_members_end
from .reader import Progress

ACCEPTED_RECORD_TYPES = ("response", "revisit")


@dataclass
class VerifyReport:
    """What :func:`verify_archive` found."""

    problems: list[tuple[str, str]] = field(default_factory=list)   # (kind, message)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {
        "catalog_rows": 0, "text_files": 0, "hashed": 0, "warc_records": 0, "warc_files": 0,
        "rows_without_warc": 0})

    @property
    def ok(self) -> bool:
        return not self.problems


class _Handles:
    """A few open WARC files, least recently used closed first."""

    def __init__(self, size: int = 8):
        self.size = size
        self.open: OrderedDict[Path, object] = OrderedDict()

    def get(self, path: Path):
        handle = self.open.pop(path, None)
        if handle is None:
            handle = open(path, "rb")
            if len(self.open) >= self.size:
                _, oldest = self.open.popitem(last=False)
                oldest.close()
        self.open[path] = handle
        return handle

    def close(self) -> None:
        for handle in self.open.values():
            handle.close()
        self.open.clear()


def verify_archive(archive_dir: str | os.PathLike, catalog: Catalog, quick: bool = False,
                   emit: Callable[[str], None] | None = None, progress_stream: TextIO | None = None) -> VerifyReport:
    """Run every check; ``emit`` receives each problem line as it is found."""
    archive_dir = Path(archive_dir)
    report = VerifyReport()
    running = archive_in_use(archive_dir)  # a crawl (or its workers) or an in-place re-extraction
    stream = progress_stream or sys.stderr

    def problem(kind: str, message: str) -> None:
        report.problems.append((kind, message))
        if emit:
            emit(f"PROBLEM {kind}: {message}")

    def note(message: str) -> None:
        report.notes.append(message)
        if emit:
            emit(f"note: {message}")

    if running:
        note("another run (crawl or re-extraction) holds the archive's lock: "
             "files being written now may show up below")

    # -- files on disk in text/ --------------------------------------------------------
    text_dir = archive_dir / TEXT_DIR
    on_disk: set[str] = set()
    if text_dir.is_dir():
        with os.scandir(text_dir) as entries:
            for entry in entries:
                if entry.name == TMP_DIR and entry.is_dir():
                    continue
                if entry.is_file() and parse_text_file_name(entry.name):
                    on_disk.add(entry.name)
                else:
                    problem("stray", f"{TEXT_DIR}/{entry.name}: not a version text file (NNN_<hash>.txt)")
    else:
        note(f"no {TEXT_DIR}/ directory")
    report.counts["text_files"] = len(on_disk)

    # -- catalog rows: text files and WARC locations -------------------------------------
    total = catalog.count_versions()
    progress = Progress("verify: versions", total, stream=stream)
    handles = _Handles()
    missing_warcs: dict[str, int] = {}
    try:
        for row in catalog.iter_versions():
            report.counts["catalog_rows"] += 1
            _check_text(archive_dir, row, on_disk, quick, report, problem)
            if row.get("warc_file") and row.get("warc_offset") is not None:
                _check_warc_location(archive_dir, row, quick, handles, missing_warcs, report, problem)
            else:
                report.counts["rows_without_warc"] += 1
            progress.update()
    finally:
        handles.close()
        progress.finish()
    for name, rows in sorted(missing_warcs.items()):
        problem("warc-missing", f"{name}: WARC file does not exist ({rows} catalog rows point into it)")
    if report.counts["rows_without_warc"]:
        note(f"{report.counts['rows_without_warc']} versions have no WARC location (WARC capture was off)")

    for name in sorted(on_disk, key=lambda n: parse_text_file_name(n)[0]):
        problem("stray", f"{TEXT_DIR}/{name}: text file has no catalog row")

    for row in catalog.iter_article_inconsistencies():
        problem("catalog", f"article {row['id']} ({row['url']}): " + "; ".join(_article_mismatches(row)))

    # -- leftovers ------------------------------------------------------------------
    tmp_dir = text_dir / TMP_DIR
    if tmp_dir.is_dir():
        for path in sorted(tmp_dir.iterdir()):
            name = f"{TEXT_DIR}/{TMP_DIR}/{path.name}"
            if running:
                note(f"{name}: temporary file of a write in progress")
            else:
                problem("leftover", f"{name}: leftover temporary file of an interrupted write "
                                    f"(the next crawl completes or removes it)")

    warc_dir = archive_dir / "warc"
    open_files: set[str] = set()
    if warc_dir.is_dir():
        for marker in sorted(warc_dir.glob(f"*{OPEN_MARKER}")):
            target = marker.name[: -len(OPEN_MARKER)]
            open_files.add(target)
            if running:
                note(f"warc/{marker.name}: WARC file being written")
            else:
                problem("open-marker", f"warc/{marker.name}: WARC file left open by a killed crawl "
                                       f"(the next crawl cuts its torn tail and removes the marker)")
        warc_files = sorted(warc_dir.glob("*.warc.gz"))
        report.counts["warc_files"] = len(warc_files)
        if not quick:
            sizes = sum(path.stat().st_size for path in warc_files)
            scan = Progress("verify: WARC files (MB)", max(sizes >> 20, 1), stream=stream, min_total=500)
            for path in warc_files:
                size = path.stat().st_size
                end = complete_members_end(path)
                if end != size:
                    message = (f"warc/{path.name}: torn or corrupt after byte {end} of {size} "
                               f"({size - end} bytes are not a complete gzip member)")
                    if running and path.name in open_files:
                        note(message + " - file is being written")
                    else:
                        problem("warc-torn", message)
                scan.update(size >> 20)
            scan.finish()
    return report


def _article_mismatches(row: dict) -> list[str]:
    found = []
    if row["n_versions"] != row["latest_version"]:
        found.append(f"latest_version is {row['latest_version']} but it has {row['n_versions']} versions")
    if row["latest_seq"] is None:
        if row["latest_version"]:
            found.append("latest_seq is empty")
    elif row["row_seq"] is None:
        found.append(f"latest_seq {row['latest_seq']} has no version row")
    else:
        if row["row_article_id"] != row["id"]:
            found.append(f"latest_seq {row['latest_seq']} is a version of article {row['row_article_id']}")
        if row["row_version"] != row["latest_version"]:
            found.append(f"latest_seq {row['latest_seq']} is version {row['row_version']}, "
                         f"not {row['latest_version']}")
        if (row["latest_sha256"] or "") != row["row_sha256"]:
            found.append(f"latest_sha256 {(row['latest_sha256'] or '-')[:16]} differs from seq "
                         f"{row['latest_seq']}'s {row['row_sha256'][:16]}")
    return found or ["latest_* columns disagree with its versions"]


def _check_text(archive_dir: Path, row: dict, on_disk: set[str], quick: bool, report: VerifyReport,
                problem: Callable[[str, str], None]) -> None:
    file = row["file"] or ""
    seq, sha = row["seq"], row["sha256"] or ""
    directory, _, name = file.rpartition("/")
    parsed = parse_text_file_name(name)
    # a metadata version names the file of its unchanged text, written by an earlier version
    own_file = row.get("change") != "metadata"
    if directory != TEXT_DIR or parsed is None:
        problem("catalog", f"seq {seq}: file {file!r} is not text/NNN_<hash>.txt")
    elif parsed[1] != sha[:16] or (parsed[0] != seq if own_file else parsed[0] >= seq):
        problem("name", f"{file}: name does not match catalog row seq {seq}, sha256 {sha[:16]}...")
    if not own_file:
        if not (archive_dir / file).is_file():
            problem("missing", f"{file}: text file of seq {seq} ({row['url']}, a metadata version) does not exist")
        return
    if directory == TEXT_DIR and name in on_disk:
        on_disk.discard(name)
        path = archive_dir / file
    else:
        path = archive_dir / file
        if not path.is_file():
            problem("missing", f"{file}: text file of seq {seq} ({row['url']}) does not exist")
            return
    if quick:
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem("unreadable", f"{file}: {exc}")
        return
    report.counts["hashed"] += 1
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha:
        problem("hash", f"{file}: content sha256 {actual[:16]}... differs from the catalog's {sha[:16]}... "
                        f"(seq {seq}, {row['url']})")
    elif parsed is not None and parsed[1] != actual[:16]:
        problem("hash", f"{file}: content sha256 {actual[:16]}... differs from the hash in its name")


def _check_warc_location(archive_dir: Path, row: dict, quick: bool, handles: _Handles, missing: dict[str, int],
                         report: VerifyReport, problem: Callable[[str, str], None]) -> None:
    warc_file, offset = row["warc_file"], int(row["warc_offset"])
    path = archive_dir / warc_file
    if warc_file in missing:
        missing[warc_file] += 1
        return
    if not path.is_file():
        missing[warc_file] = 1
        return
    where = f"{warc_file}@{offset} (seq {row['seq']}, {row['file']})"
    if quick:
        if offset >= path.stat().st_size:
            problem("warc-offset", f"{where}: offset is beyond the end of the file")
        return
    report.counts["warc_records"] += 1
    try:
        record = parse_record(read_member(handles.get(path), offset))
    except (WarcReadError, OSError) as exc:
        problem("warc-record", f"{where}: {exc}")
        return
    if record.rec_type not in ACCEPTED_RECORD_TYPES:
        problem("warc-record", f"{where}: holds a {record.rec_type or 'untyped'} record, not a response")
    elif record.target_uri != row["url"]:
        problem("warc-record", f"{where}: record is for {record.target_uri}, catalog says {row['url']}")
    elif row.get("warc_record_id") and record.record_id != row["warc_record_id"]:
        problem("warc-record", f"{where}: record id {record.record_id} differs from the catalog's "
                               f"{row['warc_record_id']}")
    elif (row.get("payload_digest") and record.header("WARC-Payload-Digest")
          and record.header("WARC-Payload-Digest") != row["payload_digest"]):
        problem("warc-record", f"{where}: payload digest differs from the catalog's")


def format_summary(archive_dir: str | os.PathLike, report: VerifyReport, quick: bool) -> str:
    """The closing summary lines of ``verify``."""
    c = report.counts
    kinds: dict[str, int] = {}
    for kind, _ in report.problems:
        kinds[kind] = kinds.get(kind, 0) + 1
    lines = [
        f"archive {archive_dir}{' (quick check)' if quick else ''}:",
        f"  catalog versions: {c['catalog_rows']}; text files in {TEXT_DIR}/: {c['text_files']}; "
        f"re-hashed: {c['hashed']}",
        f"  WARC records checked: {c['warc_records']}; WARC files: {c['warc_files']}"
        + ("" if quick else " (all read to the end)"),
    ]
    if report.ok:
        lines.append("OK: no problems found")
    else:
        detail = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        lines.append(f"FAILED: {len(report.problems)} problems ({detail})")
    return "\n".join(lines)
