"""Reading an archive: articles, their versions, texts, diffs and archived HTTP responses.

::

    from archive.tools.reader import ArchiveReader
    with ArchiveReader("data/archive") as archive:
        for article in archive.articles(outlet="meduza", changed=True):
            versions = archive.versions(article["id"])
            print(archive.diff(versions[-2], versions[-1]))
        headers, html = archive.warc_record(versions[-1])

Versions can be given as a version row (dict), a sequence number (``int`` or digits) or a
text file name (``text/NNN_hash.txt``, ``NNN_hash.txt`` or a path to the file); articles
as an article row, an id, or a URL (canonical, fetched, or any URL that canonicalises to it).
Lookups that find nothing raise :class:`NotFound`; a missing or foreign archive raises
:class:`ArchiveError`.
"""
from __future__ import annotations

import difflib
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy.exc import SQLAlchemyError
from warcio.statusandheaders import StatusAndHeaders

from ..store.catalog import Catalog, catalog_url_for
from ..store.textfile import parse_text_file_name
from ..store.timefmt import format_utc
from ..store.urls import canonicalize_url
from ..warc.reader import WarcReadError, WarcRecord, read_record

DEFAULT_ARCHIVE_DIR = os.path.join("data", "archive")
ARCHIVE_ENV = "NEWSARCHIVE_ARCHIVE_DIR"
CATALOG_ENV = "NEWSARCHIVE_CATALOG_URL"


class ArchiveError(Exception):
    """The archive cannot be used as asked (missing directory, not an archive, bad input)."""


class NotFound(ArchiveError):
    """No article or version matches what was asked for."""


def default_archive_dir() -> str:
    """``$NEWSARCHIVE_ARCHIVE_DIR``, else ``./data/archive``."""
    return os.environ.get(ARCHIVE_ENV) or DEFAULT_ARCHIVE_DIR


def open_catalog(archive_dir: str | os.PathLike, catalog_url: str | None = None) -> Catalog:
    """The catalog of an existing archive (never creates one); ArchiveError if there is none."""
    archive_dir = Path(archive_dir)
    if not archive_dir.is_dir():
        raise ArchiveError(f"archive directory {archive_dir} does not exist "
                           f"(give --archive DIR or set {ARCHIVE_ENV})")
    url = catalog_url or os.environ.get(CATALOG_ENV) or catalog_url_for(str(archive_dir))
    if not catalog_url and not os.environ.get(CATALOG_ENV) and not (archive_dir / "catalog.sqlite").is_file():
        raise ArchiveError(f"{archive_dir} is not a newsarchive archive: it has no catalog.sqlite")
    catalog = Catalog(url, create=False)
    try:
        catalog.count_versions()
    except SQLAlchemyError as exc:
        catalog.close()
        raise ArchiveError(f"cannot read the catalog {url}: {exc.__class__.__name__}: "
                           f"{str(exc).splitlines()[0]}") from None
    return catalog


def normalize_time(text: str, end: bool = False) -> str:
    """A user's DATE or timestamp as the catalog's ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).

    A bare date given as an end (``end=True``, ``--until``) means the end of that day,
    i.e. the start of the next one (bounds are exclusive).
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return format_utc(day + timedelta(days=1) if end else day)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ArchiveError(f"bad date {text!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]") from None
    return format_utc(moment)


# metadata a diff shows when it changed: (label, version column)
DIFF_METADATA = (("byline", "authors"), ("description", "description"), ("published", "published"),
                 ("modified", "modified"))


def paragraphs(text: str) -> list[str]:
    """A text file's paragraphs: the headline (possibly empty), then each body paragraph.

    A line break inside a paragraph (not produced by the extractor) is shown as `` ↵ ``
    so that every paragraph stays one diff line.
    """
    text = text.replace("\r\n", "\n").rstrip("\n")
    if not text:
        return []
    headline, _, body = text.partition("\n\n")
    body_paragraphs = [p.strip("\n") for p in body.split("\n\n")] if body else []
    return [p.replace("\n", " \u21b5 ") for p in [headline] + [p for p in body_paragraphs if p]]


class ArchiveReader:
    """Read-only access to one archive directory (catalog, text files, WARC files)."""

    def __init__(self, archive_dir: str | os.PathLike | None = None, catalog_url: str | None = None):
        self.archive_dir = Path(archive_dir if archive_dir is not None else default_archive_dir())
        self.catalog = open_catalog(self.archive_dir, catalog_url)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> "ArchiveReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- articles --------------------------------------------------------------------

    def articles(self, outlet: str | None = None, changed: bool = False, all_articles: bool = False,
                 since: str | None = None, until: str | None = None) -> Iterator[dict]:
        """Article rows (streamed), each with ``latest_version`` (= number of versions),
        ``latest_title``, ``latest_file``, ``first_seen`` and ``last_checked``.

        By default only archived articles (>= 1 version); ``changed``: more than one
        version; ``all_articles``: also those discovered but never archived.
        """
        return self.catalog.iter_article_summaries(outlet=outlet, changed=changed, archived=not all_articles,
                                                   since=since, until=until)

    def article(self, key: int | str | dict) -> dict:
        """The article row for an id, a URL or a row; follows an alias to its canonical article."""
        if isinstance(key, dict):
            key = key.get("article_id", key.get("id"))
        row = None
        if isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit()):
            row = self.catalog.article_by_id(int(key))
            if row is None:
                raise NotFound(f"no article with id {key}")
        else:
            url = str(key).strip()
            row = self.catalog.find_article(url)
            canonical = canonicalize_url(url)
            if row is None and canonical and canonical != url:
                row = self.catalog.find_article(canonical)
            if row is None:
                raise NotFound(f"no article with URL {url} in the catalog")
        seen = {row["id"]}
        while row["state"] == "alias" and row.get("alias_of"):
            target = self.catalog.article(row["alias_of"])
            if target is None or target["id"] in seen:
                break
            seen.add(target["id"])
            row = target
        return row

    def versions(self, article: int | str | dict) -> list[dict]:
        """All versions of an article (id, URL or row), oldest first."""
        return self.catalog.versions_of(self.article(article)["id"])

    # -- versions --------------------------------------------------------------------

    def version(self, ref: int | str | dict) -> dict:
        """A version row from a row, a sequence number or a text file name/path."""
        if isinstance(ref, dict):
            if "seq" in ref and "file" in ref:
                return ref
            raise ArchiveError(f"not a version row: {ref!r}")
        if isinstance(ref, int) or str(ref).strip().isdigit():
            seq = int(ref)
            row = self.catalog.version(seq)
            if row is None:
                raise NotFound(f"no version with sequence number {seq}")
            return row
        name = os.path.basename(str(ref).strip())
        if parse_text_file_name(name) is None:
            raise ArchiveError(f"{ref!r} is neither a sequence number nor a text file name (NNN_<hash>.txt)")
        row = self.catalog.version_by_file(f"text/{name}")
        if row is None:
            raise NotFound(f"no version with text file {name} in the catalog")
        return row

    def text_path(self, ref: int | str | dict) -> Path:
        """Where a version's text file lies."""
        return self.archive_dir / self.version(ref)["file"]

    def text_bytes(self, ref: int | str | dict) -> bytes:
        """A version's text file, as stored."""
        row = self.version(ref)
        path = self.archive_dir / row["file"]
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"text file {row['file']} of version seq {row['seq']} is missing "
                               f"(run `verify`)") from None

    def text(self, ref: int | str | dict) -> str:
        """A version's text: headline, blank line, body paragraphs separated by blank lines."""
        return self.text_bytes(ref).decode("utf-8")

    def diff(self, a: int | str | dict, b: int | str | dict, context: int = 3) -> str:
        """Unified diff of two versions BY PARAGRAPH: each paragraph is one diff line.

        Headers: ``--- v<version> <fetched_at> <file>``. A changed headline comes first
        (``headline changed:``, then ``- old`` and ``+ new``; the paragraph diff is then of
        the bodies), then changed metadata (``byline: old -> new``, description, dates).
        Empty when texts and metadata are equal.
        """
        old, new = self.version(a), self.version(b)
        old_paragraphs, new_paragraphs = paragraphs(self.text(old)), paragraphs(self.text(new))
        preamble = []
        if old_paragraphs[:1] != new_paragraphs[:1]:
            preamble = ["headline changed:", *(f"{sign} {paragraph[0] if paragraph else ''}" for sign, paragraph
                                                in (("-", old_paragraphs), ("+", new_paragraphs)))]
            old_paragraphs, new_paragraphs = old_paragraphs[1:], new_paragraphs[1:]
        for label, column in DIFF_METADATA:
            if (old.get(column) or "") != (new.get(column) or ""):
                preamble.append(f"{label}: {old.get(column) or '-'} -> {new.get(column) or '-'}")
        lines = difflib.unified_diff(
            old_paragraphs, new_paragraphs,
            fromfile=f"v{old['version']} {old['fetched_at']} {old['file']}",
            tofile=f"v{new['version']} {new['fetched_at']} {new['file']}",
            n=context, lineterm="")
        out = "\n".join([*preamble, *lines])
        return out + "\n" if out else ""

    # -- WARC ------------------------------------------------------------------------

    def warc_path(self, ref: int | str | dict) -> Path:
        row = self.version(ref)
        if not row.get("warc_file") or row.get("warc_offset") is None:
            raise ArchiveError(f"version seq {row['seq']} has no WARC record (WARC capture was off)")
        return self.archive_dir / row["warc_file"]

    def warc_full_record(self, ref: int | str | dict) -> WarcRecord:
        """The archived WARC record of a version (WARC headers, HTTP headers, raw payload)."""
        row = self.version(ref)
        path = self.warc_path(row)
        try:
            return read_record(path, int(row["warc_offset"]))
        except WarcReadError as exc:
            raise ArchiveError(f"cannot read the WARC record of version seq {row['seq']} "
                               f"({row['warc_file']}@{row['warc_offset']}): {exc}") from None

    def warc_record(self, ref: int | str | dict, decode: bool = True) -> tuple[StatusAndHeaders, bytes]:
        """(HTTP status line + headers, payload) of a version's archived response.

        ``decode``: undo the Content-Encoding (the bytes the extractor saw); the headers
        are returned as archived either way.
        """
        record = self.warc_full_record(ref)
        if record.http is None:
            raise ArchiveError(f"the WARC record of version seq {self.version(ref)['seq']} is a "
                               f"{record.rec_type or 'non-HTTP'} record without an HTTP response")
        return record.http, (record.decoded_payload() if decode else record.payload)

    # -- runs ------------------------------------------------------------------------

    def runs(self, limit: int = 10) -> list[dict]:
        """The newest runs, newest first, each with its per-outlet stats under ``"outlets"``."""
        return [self.catalog.run(row["id"]) for row in self.catalog.list_runs(limit)]


class Progress:
    """Progress on stderr: a self-overwriting line on a terminal, else a line per 5 %."""

    def __init__(self, label: str, total: int | None, stream=None, enabled: bool = True, min_total: int = 200):
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = enabled and (self.tty or not total or total >= min_total)
        self.done = 0
        self._last_time = 0.0
        self._last_step = -1
        self._shown = False

    def _line(self, extra: str) -> str:
        if self.total:
            return f"{self.label}: {self.done}/{self.total} ({100 * self.done // self.total}%){extra}"
        return f"{self.label}: {self.done}{extra}"

    def update(self, n: int = 1, extra: str = "") -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if now - self._last_time >= 0.2:
                self.stream.write("\r" + self._line(extra) + "\033[K")
                self.stream.flush()
                self._last_time, self._shown = now, True
            return
        step = (20 * self.done // self.total) if self.total else self.done // 1000
        if step != self._last_step and (self.total or self.done % 1000 == 0):
            self._last_step = step
            self.stream.write(self._line(extra) + "\n")
            self.stream.flush()
            self._shown = True

    def finish(self, extra: str = "") -> None:
        if not self.enabled or not self._shown:
            return
        if self.tty:
            self.stream.write("\r" + self._line(extra) + "\033[K\n")
        elif not self.total or self.done != self.total or self._last_step != 20:
            self.stream.write(self._line(extra) + "\n")
        self.stream.flush()
