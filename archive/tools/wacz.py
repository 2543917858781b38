"""``wacz``: the archive, or a selection of it, as a WACZ package for ReplayWeb.page.

Built with Webrecorder's ``wacz`` package (py-wacz), which writes the package's index,
page list and ``datapackage.json`` (every file with its SHA-256). The package holds:

- ``archive/*.warc.gz``: without a filter, the archive's complete WARC files as they are
  (a file still being written is left out); with ``outlet``/``since``/``until``, one WARC
  file of the selected captures only: for each selected article version, the gzip members
  of its response record and of the request record written with it, copied byte for byte
  (no other record of those files is read or copied);
- ``indexes/index.cdx.gz`` and ``index.idx``: py-wacz's CDXJ index of those WARC files;
- ``pages/pages.jsonl``: one page per archived article version (a version made by
  re-extraction shares its capture with the version before it): its URL, the capture's
  time (the response record's ``WARC-Date``) and the version's title.

``since``/``until`` select versions by ``fetched_at``, as ``export`` does.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from warcio.warcwriter import WARCWriter

from ..store.catalog import Catalog
from ..warc.reader import WarcReadError, iter_members, parse_record, read_record
from .index import complete_warcs
from .reader import ArchiveError

SELECTION_NAME = "newsarchive-selection.warc.gz"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Article versions"}
_COPY_CHUNK = 1 << 20


@dataclass
class WaczReport:
    """What :func:`build_wacz` put into the package."""

    pages: int = 0
    versions: int = 0                 # versions selected (with a WARC location)
    warc_files: int = 0
    records: int = 0                  # records copied into the selection file (filtered only)
    filtered: bool = False
    size: int = 0
    no_warc: int = 0                  # selected versions archived without a WARC record
    problems: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)   # WARC files left out: still being written


def build_wacz(archive_dir: str | os.PathLike, catalog: Catalog, output: str | os.PathLike,
               outlet: str | None = None, since: str | None = None, until: str | None = None,
               title: str | None = None) -> WaczReport:
    """Write the WACZ package ``output`` (replaced whole, never left half-written); what is
    left out is in the report's ``problems``."""
    archive_dir, output = Path(archive_dir), Path(output)
    report = WaczReport(filtered=bool(outlet or since or until))
    captures: dict[tuple[str, int], dict] = {}
    for row in catalog.iter_versions(outlet, since, until):
        if row.get("warc_file") and row.get("warc_offset") is not None:
            captures.setdefault((row["warc_file"], int(row["warc_offset"])),  # what a page needs, no more
                                {"seq": row["seq"], "url": row["url"], "title": row.get("title")})
        else:
            report.no_warc += 1
    report.versions = len(captures)
    if not captures:
        raise ArchiveError("no archived article version with a WARC record matches"
                           + _describe(outlet, since, until, prefix=": "))
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".wacz-", dir=output.parent))
    try:
        if report.filtered:
            warcs = [work / SELECTION_NAME]
            pages = _copy_selection(archive_dir, captures, warcs[0], report)
        else:
            warcs, pages = _whole_files(archive_dir, captures, report)
        if not pages:
            raise ArchiveError("none of the selected versions' WARC records could be read")
        pages_file = work / "pages.jsonl"
        with open(pages_file, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(PAGES_HEADER) + "\n")
            for page in pages:
                handle.write(json.dumps(page, ensure_ascii=False) + "\n")
        package = work / "package.wacz"
        _create(warcs, pages_file, package,
                title or f"newsarchive {archive_dir.resolve().name}" + _describe(outlet, since, until, prefix=": "),
                f"{len(pages)} article versions archived by newsarchive"
                + _describe(outlet, since, until, prefix=", "))
        report.pages = _count_pages(package)
        if report.pages != len(pages):
            report.problems.append(f"py-wacz matched {report.pages} of {len(pages)} pages to a capture")
        report.warc_files = len(warcs)
        report.size = package.stat().st_size
        os.replace(package, output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def _describe(outlet: str | None, since: str | None, until: str | None, prefix: str) -> str:
    parts = ([f"outlet {outlet}"] if outlet else []) + ([f"from {since}"] if since else []) + \
            ([f"before {until}"] if until else [])
    return prefix + ", ".join(parts) if parts else ""


def _page(row: dict, record) -> dict:
    url = record.target_uri or row["url"]
    return {"id": f"version-{row['seq']}", "url": url, "ts": record.header("WARC-Date"),
            "title": row.get("title") or url}


def _whole_files(archive_dir: Path, captures: dict[tuple[str, int], dict],
                 report: WaczReport) -> tuple[list[Path], list[dict]]:
    """All complete WARC files (re-checks, feeds and robots.txt too), and a page for each
    selected capture in them."""
    complete, report.waiting = complete_warcs(archive_dir)
    pages = []
    for warc_file, offsets in _by_file(captures).items():
        name = Path(warc_file).name
        path = archive_dir / warc_file
        if name not in complete or path.parent != archive_dir / "warc":
            report.problems.append(f"{warc_file}: {len(offsets)} versions left out "
                                   f"({'still being written' if name in report.waiting else 'no such complete file'})")
            continue
        with open(path, "rb") as handle:
            for offset in offsets:
                try:
                    record = read_record(path, offset, handle)
                except WarcReadError as exc:
                    report.problems.append(f"{warc_file}@{offset}: {exc}")
                    continue
                pages.append(_page(captures[(warc_file, offset)], record))
    return [archive_dir / "warc" / name for name in sorted(complete)], pages


def _copy_selection(archive_dir: Path, captures: dict[tuple[str, int], dict], target: Path,
                    report: WaczReport) -> list[dict]:
    """Copy each capture's response and request members into ``target``; its pages."""
    pages = []
    with open(target, "wb") as out:
        _warcinfo(out, target.name, len(captures))
        for warc_file, offsets in _by_file(captures).items():
            path = archive_dir / warc_file
            try:
                handle = open(path, "rb")
            except OSError as exc:
                report.problems.append(f"{warc_file}: {len(offsets)} versions left out ({exc.strerror or exc})")
                continue
            with handle:
                for offset in offsets:
                    try:
                        end, record, records = _capture_members(handle, offset)
                    except WarcReadError as exc:
                        report.problems.append(f"{warc_file}@{offset}: {exc}")
                        continue
                    _copy_range(handle, offset, end, out)
                    report.records += records
                    pages.append(_page(captures[(warc_file, offset)], record))
    return pages


def _capture_members(handle, offset: int):
    """(end, response record, 1 or 2): where the response member at ``offset`` and the
    request member written right after it (when it is that response's) end."""
    members = iter_members(handle, offset)
    try:
        end, data = next(members)
    except StopIteration:
        raise WarcReadError(f"offset {offset} is at or beyond the end of the file") from None
    record = parse_record(data)
    if record.rec_type not in ("response", "revisit"):
        raise WarcReadError(f"holds a {record.rec_type or 'untyped'} record, not a response")
    try:
        request_end, request_data = next(members)
        request = parse_record(request_data)
    except (StopIteration, WarcReadError):
        return end, record, 1
    if request.rec_type == "request" and request.header("WARC-Concurrent-To") == record.record_id:
        return request_end, record, 2
    return end, record, 1


def _copy_range(handle, start: int, end: int, out) -> None:
    handle.seek(start)
    left = end - start
    while left > 0:
        chunk = handle.read(min(left, _COPY_CHUNK))
        if not chunk:
            raise WarcReadError(f"file ends before byte {end}")
        out.write(chunk)
        left -= len(chunk)


def _warcinfo(out, name: str, count: int) -> None:
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    info = {"software": "newsarchive (python -m archive wacz)", "format": "WARC File Format 1.1",
            "description": f"selection of {count} article captures (response and request records "
                           f"copied unchanged from the archive's WARC files)"}
    writer.write_record(writer.create_warcinfo_record(name, info))


def _by_file(captures: dict[tuple[str, int], dict]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = defaultdict(list)
    for warc_file, offset in sorted(captures):
        grouped[warc_file].append(offset)
    return grouped


def _create(warcs: list[Path], pages_file: Path, package: Path, title: str, desc: str) -> None:
    """py-wacz's ``wacz create -p PAGES -o PACKAGE WARC...`` (its progress lines kept quiet)."""
    from wacz.main import create_wacz

    options = argparse.Namespace(
        inputs=[str(path) for path in warcs], output=str(package), pages=str(pages_file), copy_pages=False,
        extra_pages=None, detect_pages=False, text=False, hash_type="sha256", log_directory=None,
        split_seeds=False, ts=None, url=None, date=None, title=title, desc=desc,
        signing_url=None, signing_token=None)
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):
        code = create_wacz(options)
    if code:
        raise ArchiveError(f"py-wacz could not create the package: {chatter.getvalue().strip()[-500:]}")


def _count_pages(package: Path) -> int:
    with zipfile.ZipFile(package) as archive:
        try:
            with archive.open("pages/pages.jsonl") as handle:
                return sum(1 for line in handle if line.strip()) - 1
        except KeyError:
            return 0


def format_summary(output: str | os.PathLike, report: WaczReport) -> str:
    """The closing lines of ``wacz``."""
    what = (f"{report.records} records of the selected captures" if report.filtered
            else f"{report.warc_files} WARC files")
    lines = [f"wrote {output}: {report.pages} pages (article versions), {what}, "
             f"{report.size / 1e6:.1f} MB"]
    if report.no_warc:
        lines.append(f"  {report.no_warc} selected versions have no WARC record (WARC capture was off)")
    for problem in report.problems:
        lines.append(f"  left out: {problem}")
    return "\n".join(lines)
