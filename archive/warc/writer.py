"""WARC/1.1 writing: one gzip member per record, size-rotated files, crash repair.

Records are serialised here (warcio reads them back: tests and ``warcio check``), each
in its own gzip member at a configurable zlib level: warcio's writer hard-codes level 9,
which cost the crawl most of its CPU, and its record objects cost more than the bytes and
the digests themselves take. HTTP headers are stored byte for byte as they
came (latin-1 round trip of Scrapy's bytes), not percent-encoded. A payload
that is already compressed (``Content-Encoding: gzip`` and the like, or an image, video
or archive format) is stored in its gzip member without deflating it again: deflating it
saved almost no space for most of the WARC CPU time. Each record is written with a
single ``write`` and flushed before its location is returned, so a location handed to
the catalog always points at a complete record.

File names follow the IIPC convention ``PREFIX-TIMESTAMP-SERIAL-HOST-PID.warc.gz``.
While a file is being written a marker ``<name>.open`` lies beside it; a run that
finds such a marker (the writer was killed) cuts the file after its last complete
record with :func:`repair_open_files`.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from .reader import WarcReadError, iter_members

logger = logging.getLogger(__name__)

WARC_VERSION = "WARC/1.1"
OPEN_MARKER = ".open"
# Hop-by-hop framing that no longer describes the stored payload.
FRAMING_HEADERS = frozenset({"transfer-encoding", "content-length"})
# Payloads deflate cannot shrink: stored (level 0) in the record's gzip member.
COMPRESSED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress"})
COMPRESSED_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "video/", "audio/",
                    "application/zip", "application/gzip", "application/x-gzip", "application/zstd",
                    "application/x-7z-compressed", "font/woff")
STORE_MIN_SIZE = 1024  # below this, deflating the record's headers is worth more than it costs
SMALL_RECORD = 4096    # records below this are compressed with a small zlib state
MIN_WINDOW_BITS = 10   # smallest gzip window zlib writes well (9 is bumped to 10 with a worse stream)


@dataclass
class HttpExchange:
    """One HTTP request and its response, as sent and received on the wire."""

    url: str
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes  # entity body as received (still content-encoded)
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    method: str = "GET"
    request_body: bytes = b""
    protocol: str = "HTTP/1.1"
    ip_address: str | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass(frozen=True)
class RecordLocation:
    """Where a response (or revisit) record lies, and what it holds."""

    warc_file: str  # path relative to the archive directory, e.g. ``warc/NA-....warc.gz``
    offset: int
    length: int
    record_id: str
    payload_digest: str | None
    warc_date: str


@dataclass(frozen=True)
class RenderedRecords:
    """A main record (response or revisit) and its request record, compressed, unwritten."""

    data: bytes
    main_length: int
    record_id: str
    payload_digest: str | None
    warc_date: str


@dataclass(frozen=True)
class RevisitOf:
    """The earlier capture a revisit record refers to."""

    uri: str
    date: str
    record_id: str | None = None
    payload_digest: str | None = None


def _stored_headers(headers: Iterable[tuple[str, str]], body_length: int) -> list[tuple[str, str]]:
    """Response headers made consistent with a stored, de-chunked payload."""
    kept = [(k, v) for k, v in headers if k.lower() not in FRAMING_HEADERS]
    kept.append(("Content-Length", str(body_length)))
    return kept


def payload_is_compressed(headers: Iterable[tuple[str, str]]) -> bool:
    """Whether a response with ``headers`` carries an already-compressed payload."""
    for name, value in headers:
        name = name.lower()
        if name == "content-encoding":
            if any(token.strip().lower() in COMPRESSED_ENCODINGS for token in value.split(",")):
                return True
        elif name == "content-type" and value.strip().lower().startswith(COMPRESSED_TYPES):
            return True
    return False


def stores_payload(exchange: "HttpExchange") -> bool:
    """Whether :meth:`WarcWriter.render_exchange` stores this payload without deflating it
    (an already-compressed payload large enough for that to pay)."""
    return len(exchange.body) >= STORE_MIN_SIZE and payload_is_compressed(exchange.response_headers)


def _status_line(status: int) -> str:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return f"{status} {reason}"


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


# base32 of ten bits at a time: a SHA-1 (160 bits) is 16 lookups, where base64.b32encode
# (pure Python in 3.11) was a noticeable part of rendering an exchange's two records
_BASE32_PAIRS = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"]


def sha1_digest(data: bytes | Iterable[bytes]) -> str:
    """A WARC digest (``sha1:`` + base32) of ``data`` or of its pieces in order."""
    digest = hashlib.sha1()
    for piece in ((data,) if isinstance(data, (bytes, bytearray, memoryview)) else data):
        digest.update(piece)
    bits = int.from_bytes(digest.digest(), "big")
    return "sha1:" + "".join([_BASE32_PAIRS[(bits >> shift) & 1023] for shift in range(150, -1, -10)])


EMPTY_DIGEST = sha1_digest(b"")


def _header_bytes(first_line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """An HTTP header block. Names and values came from the wire as latin-1 text, so they
    go back as the very bytes received; other text is written as UTF-8."""
    text = first_line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


@dataclass(frozen=True)
class _Record:
    """A serialised WARC record: its header block and its content block, in pieces."""

    head: bytes
    block: tuple[bytes, ...]
    record_id: str
    warc_date: str
    payload_digest: str | None

    @property
    def length(self) -> int:
        return len(self.head) + sum(len(piece) for piece in self.block) + 4


def _record(warc_type: str, warc_date: str, fields: list[tuple[str, str]], block: tuple[bytes, ...],
            content_type: str, payload_digest: str | None = None) -> _Record:
    """A WARC/1.1 record of ``block`` (its pieces in order), with its id and block digest.

    ``fields`` come after WARC-Type, WARC-Record-ID and WARC-Date; ``payload_digest`` is
    written when given.
    """
    record_id = f"<urn:uuid:{uuid.uuid4()}>"
    length = sum(len(piece) for piece in block)
    head = [("WARC-Type", warc_type), ("WARC-Record-ID", record_id), ("WARC-Date", warc_date), *fields]
    if payload_digest:
        head.append(("WARC-Payload-Digest", payload_digest))
    head += [("WARC-Block-Digest", sha1_digest(block)), ("Content-Type", content_type),
             ("Content-Length", str(length))]
    text = WARC_VERSION + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in head) + "\r\n"
    return _Record(text.encode("utf-8"), block, record_id, warc_date, payload_digest)


class _CaptureOf:
    """The WARC fields every record of one exchange shares (its date is formatted once)."""

    def __init__(self, exchange: HttpExchange):
        self.date = _warc_date(exchange.fetched_at)
        self.fields = [("WARC-Target-URI", exchange.url)]
        if exchange.ip_address:
            self.fields.append(("WARC-IP-Address", exchange.ip_address))


def _response_head(exchange: HttpExchange) -> bytes:
    """The response's status line and headers, made consistent with the stored payload."""
    return _header_bytes(f"{exchange.protocol} {_status_line(exchange.status)}",
                         _stored_headers(exchange.response_headers, len(exchange.body)))


def _request_record(exchange: HttpExchange, capture: _CaptureOf, concurrent_to: _Record) -> _Record:
    host = urlsplit(exchange.url).netloc
    headers = [("Host", host)] + [(k, v) for k, v in exchange.request_headers if k.lower() != "host"]
    head = _header_bytes(f"{exchange.method} {_request_target(exchange.url)} HTTP/1.1", headers)
    return _record("request", capture.date, capture.fields + [("WARC-Concurrent-To", concurrent_to.record_id)],
                   (head, exchange.request_body), "application/http; msgtype=request",
                   sha1_digest(exchange.request_body) if exchange.request_body else EMPTY_DIGEST)


class WarcWriter:
    """Writes request/response/revisit records into rotating ``.warc.gz`` files."""

    def __init__(
        self,
        archive_dir: str | os.PathLike,
        *,
        prefix: str = "NEWSARCHIVE",
        max_size: int = 1_000_000_000,
        gzip_level: int = 3,
        warcinfo: dict[str, str] | None = None,
        fsync: bool = False,
    ):
        self.archive_dir = Path(archive_dir)
        self.warc_dir = self.archive_dir / "warc"
        self.warc_dir.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_size = max_size
        self.gzip_level = gzip_level
        self.warcinfo = dict(warcinfo or {})
        self.fsync = fsync
        self._file: io.BufferedWriter | None = None
        self._path: Path | None = None
        self._serial = 0
        self._host = socket.gethostname().split(".")[0] or "host"
        self._stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
        self.files_written: list[str] = []

    # -- public API ------------------------------------------------------------------

    def write_exchange(self, exchange: HttpExchange) -> RecordLocation:
        """Write the response and request records of ``exchange``; locate the response."""
        return self.write_rendered(self.render_exchange(exchange))

    def write_revisit(self, exchange: HttpExchange, refers_to: RevisitOf, profile: str) -> RecordLocation:
        """Write a ``revisit`` record (``server-not-modified`` or ``identical-payload-digest``)."""
        return self.write_rendered(self.render_revisit(exchange, refers_to, profile))

    def render_exchange(self, exchange: HttpExchange) -> "RenderedRecords":
        """Response + request records as gzip members, not yet written.

        Thread-safe and the costly part (digests, compression: both release the GIL),
        so callers can run it off their main thread and keep :meth:`write_rendered` there.
        """
        capture = _CaptureOf(exchange)
        response = _record("response", capture.date, capture.fields, (_response_head(exchange), exchange.body),
                           "application/http; msgtype=response", sha1_digest(exchange.body))
        return self._rendered(response, _request_record(exchange, capture, response), store=stores_payload(exchange))

    def render_revisit(self, exchange: HttpExchange, refers_to: RevisitOf, profile: str) -> "RenderedRecords":
        """A revisit record (+ its request record), not yet written; thread-safe.

        It holds the response's HTTP headers only; its payload digest is the original's.
        """
        capture = _CaptureOf(exchange)
        fields = capture.fields + [
            ("WARC-Profile", _profile_uri(profile)),
            ("WARC-Refers-To-Target-URI", refers_to.uri),
            ("WARC-Refers-To-Date", refers_to.date),
        ]
        if refers_to.record_id:
            fields.append(("WARC-Refers-To", refers_to.record_id))
        record = _record("revisit", capture.date, fields, (_response_head(exchange),),
                         "application/http; msgtype=response", refers_to.payload_digest)
        return self._rendered(record, _request_record(exchange, capture, record))

    def write_rendered(self, rendered: "RenderedRecords") -> RecordLocation:
        """Append rendered records to the current file (one writer thread only)."""
        self._ensure_file(len(rendered.data))
        offset = self._append(rendered.data)
        return RecordLocation(
            warc_file=self.files_written[-1],  # the current file, relative to the archive
            offset=offset,
            length=rendered.main_length,
            record_id=rendered.record_id,
            payload_digest=rendered.payload_digest,
            warc_date=rendered.warc_date,
        )

    def close(self) -> None:
        """Finish the current file: sync it and remove its ``.open`` marker."""
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        _marker(self._path).unlink(missing_ok=True)
        self._path = None

    # -- records ---------------------------------------------------------------------

    def _render(self, record: _Record, store: bool = False) -> bytes:
        """One record as a complete gzip member (``store``: without deflating it)."""
        # zlib's state is sized to the record: setting up its default (memLevel 8, 32 KB
        # window) costs more than deflating a small request or revisit record, and memLevel 4
        # with a window no larger than the record is the cheapest (memLevel 1 is slower, and
        # its output larger). Any gzip reader inflates a stream made with a smaller window.
        # A stored record needs no window: zlib copies it fastest with the smallest one.
        length = record.length
        mem_level = 1 if store else 4 if length < SMALL_RECORD else 8
        window_bits = MIN_WINDOW_BITS if store else min(zlib.MAX_WBITS, max(MIN_WINDOW_BITS, length.bit_length()))
        compressor = zlib.compressobj(0 if store else self.gzip_level, zlib.DEFLATED, window_bits + 16, mem_level)
        return compressor.compress(b"".join((record.head, *record.block, b"\r\n\r\n"))) + compressor.flush()

    def _rendered(self, main: _Record, request: _Record, store: bool = False) -> "RenderedRecords":
        main_bytes = self._render(main, store)
        return RenderedRecords(
            data=main_bytes + self._render(request),
            main_length=len(main_bytes),
            record_id=main.record_id,
            payload_digest=main.payload_digest,
            warc_date=main.warc_date,
        )

    # -- files -----------------------------------------------------------------------

    def _append(self, data: bytes) -> int:
        """Append ``data`` whole or not at all; return its offset."""
        offset = self._file.tell()
        try:
            self._file.write(data)
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
        except OSError:
            # A failed write (disk full) must not leave half a record behind.
            self._file = _reopen_truncated(self._file, self._path, offset)
            raise
        return offset

    def _ensure_file(self, incoming: int) -> None:
        if self._file is not None and self._file.tell() + incoming > self.max_size and self._file.tell() > 0:
            self.close()
        if self._file is None:
            self._open_next()

    def _open_next(self) -> None:
        while True:
            name = f"{self.prefix}-{self._stamp}-{self._serial:05d}-{self._host}-{os.getpid()}.warc.gz"
            self._serial += 1
            path = self.warc_dir / name
            if not path.exists():
                break
        _marker(path).touch()
        self._file = open(path, "xb")
        self._path = path
        self.files_written.append(str(path.relative_to(self.archive_dir)))
        fields = {"software": "newsarchive", "format": "WARC File Format 1.1",
                  "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                  **self.warcinfo}
        block = "".join(f"{name}: {value}\r\n" for name, value in fields.items()).encode("utf-8")
        info = _record("warcinfo", _warc_date(datetime.now(timezone.utc)), [("WARC-Filename", name)], (block,),
                       "application/warc-fields")
        self._append(self._render(info))


def _profile_uri(profile: str) -> str:
    if profile.startswith("http"):
        return profile
    return f"http://netpreserve.org/warc/1.1/revisit/{profile}"


def _warc_date(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _marker(path: Path) -> Path:
    return path.with_name(path.name + OPEN_MARKER)


def _reopen_truncated(handle, path: Path, size: int):
    try:
        handle.close()
    except OSError:
        pass
    with open(path, "r+b") as fixed:
        fixed.truncate(size)
    return open(path, "ab")


def complete_members_end(path: str | os.PathLike, chunk_size: int = 1 << 20) -> int:
    """Byte offset just after the last complete gzip member of ``path``.

    Unlike warcio's reader, this notices a torn last member: the whole file is
    decompressed member by member, and a member that never reaches its end (or a
    corrupt one) marks where the good part of the file stops.
    """
    good_end = 0
    with open(path, "rb") as handle:
        try:
            for good_end, _ in iter_members(handle, 0, chunk_size, keep=False):
                pass
        except WarcReadError:
            pass
    return good_end


def repair_open_files(archive_dir: str | os.PathLike,
                      live_writers: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:
    """Cut every WARC left open by a killed writer after its last complete record; files
    of ``live_writers`` (``<host>-<pid>``, the end of their names) are being written.

    Returns (file, old size, new size) for each file repaired.
    """
    repaired = []
    warc_dir = Path(archive_dir) / "warc"
    if not warc_dir.is_dir():
        return repaired
    for marker in sorted(warc_dir.glob(f"*{OPEN_MARKER}")):
        path = marker.with_name(marker.name[: -len(OPEN_MARKER)])
        if any(path.name.endswith(f"-{writer}.warc.gz") for writer in live_writers):
            continue
        if path.exists():
            size = path.stat().st_size
            end = complete_members_end(path)
            if end != size:
                with open(path, "r+b") as handle:
                    handle.truncate(end)
                    os.fsync(handle.fileno())
                logger.warning("repaired %s: cut torn record at byte %d (was %d bytes)", path.name, end, size)
            repaired.append((str(path), size, end))
        marker.unlink()
    return repaired
