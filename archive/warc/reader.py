"""Reading single WARC records back by location, without Scrapy and without network.

The catalog stores, for every version, ``(warc_file, warc_offset)``: the byte offset of
the gzip member holding the response record. :func:`read_record` seeks there and
decompresses exactly one member (a torn or corrupt member raises :class:`WarcReadError`
instead of being silently skipped, as warcio's iterator would).

:meth:`WarcRecord.decoded_payload` undoes the payload's ``Content-Encoding`` with
:func:`archive.warc.contentcoding.decode_content`, the function the crawl's extraction uses.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

from warcio.statusandheaders import StatusAndHeaders

from .contentcoding import decode_content

_CHUNK = 1 << 16


class WarcReadError(Exception):
    """The bytes at a location are not a complete, readable WARC record."""


@dataclass
class WarcRecord:
    """One WARC record: its WARC headers, and for HTTP records the HTTP message split up."""

    rec_type: str
    headers: list[tuple[str, str]]
    http: StatusAndHeaders | None = None
    payload: bytes = b""            # HTTP entity body as archived (still content-encoded)
    block: bytes = field(default=b"", repr=False)  # the whole record block, for non-HTTP records

    def header(self, name: str) -> str | None:
        """First WARC header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def target_uri(self) -> str | None:
        return self.header("WARC-Target-URI")

    @property
    def record_id(self) -> str | None:
        return self.header("WARC-Record-ID")

    def http_header(self, name: str) -> str | None:
        """The LAST value of HTTP header ``name`` (what Scrapy's ``headers.get`` returns)."""
        if self.http is None:
            return None
        lowered = name.lower()
        found = None
        for key, value in self.http.headers:
            if key.lower() == lowered:
                found = value
        return found

    def http_header_values(self, name: str) -> list[str]:
        """Every value of HTTP header ``name``, in order."""
        if self.http is None:
            return []
        lowered = name.lower()
        return [value for key, value in self.http.headers if key.lower() == lowered]

    @property
    def status(self) -> int | None:
        if self.http is None:
            return None
        try:
            return int(self.http.get_statuscode())
        except (TypeError, ValueError):
            return None

    def decoded_payload(self) -> bytes:
        """The payload with its Content-Encoding undone, as the crawl's extractor saw it."""
        body, _ = decode_content(self.payload, self.http_header_values("Content-Encoding"))
        return body


# -- gzip members -----------------------------------------------------------------------

def iter_members(handle: BinaryIO, offset: int = 0, chunk_size: int = _CHUNK,
                 keep: bool = True) -> Iterator[tuple[int, bytes]]:
    """Each complete gzip member of ``handle`` from ``offset`` on, as (end offset, its
    decompressed bytes, or ``b""`` unless ``keep``), until the end of the file.

    Raises :class:`WarcReadError` at the first member that is torn (the file ends inside
    it) or corrupt, after the complete ones before it; a caller that wants only the first
    member stops iterating, and nothing after that member is read.
    """
    handle.seek(offset)
    start = position = offset          # where the current member and ``pending`` begin
    decompressor = zlib.decompressobj(zlib.MAX_WBITS + 16)
    parts: list[bytes] = []
    pending = b""
    while True:
        if not pending:
            pending = handle.read(chunk_size)
            if not pending:
                if position == start:
                    return
                raise WarcReadError(f"the gzip member at offset {start} is truncated (torn record)")
            if position == offset and not b"\x1f\x8b".startswith(pending[:2]):
                raise WarcReadError(f"no gzip member starts at offset {offset}")
        try:
            data = decompressor.decompress(pending)
        except zlib.error as exc:
            raise WarcReadError(f"the gzip member at offset {start} is corrupt ({exc})") from None
        if keep:
            parts.append(data)
        if decompressor.eof:
            position += len(pending) - len(decompressor.unused_data)
            pending = decompressor.unused_data
            yield position, b"".join(parts)
            start = position
            decompressor = zlib.decompressobj(zlib.MAX_WBITS + 16)
            parts = []
        else:
            position += len(pending)
            pending = b""


def read_member(handle: BinaryIO, offset: int) -> bytes:
    """Decompress the one gzip member that starts at ``offset`` of ``handle``."""
    for _end, data in iter_members(handle, offset):
        return data
    raise WarcReadError(f"offset {offset} is at or beyond the end of the file")


# -- records ----------------------------------------------------------------------------

def _split_head(data: bytes, start: int = 0) -> tuple[bytes, int] | None:
    """(head, body start) of an HTTP-style message: head ends at the first blank line."""
    crlf = data.find(b"\r\n\r\n", start)
    lf = data.find(b"\n\n", start)
    if crlf < 0 and lf < 0:
        return None
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return data[start:crlf], crlf + 4
    return data[start:lf], lf + 2


def _header_lines(head: bytes) -> list[str]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:   # obsolete line folding
            lines[-1] += " " + line.strip()
        elif line:
            lines.append(line)
    return lines


def _parse_headers(lines: list[str]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return headers


def parse_record(data: bytes) -> WarcRecord:
    """Parse one uncompressed WARC record (e.g. a decompressed gzip member)."""
    if not data.startswith(b"WARC/"):
        raise WarcReadError("not a WARC record (no WARC/ version line)")
    split = _split_head(data)
    if split is None:
        raise WarcReadError("WARC record headers never end")
    head, block_start = split
    lines = _header_lines(head)
    headers = _parse_headers(lines[1:])
    record = WarcRecord(rec_type="", headers=headers)
    record.rec_type = (record.header("WARC-Type") or "").strip().lower()
    length_text = record.header("Content-Length")
    try:
        length = int(length_text) if length_text is not None else len(data) - block_start
    except ValueError:
        raise WarcReadError(f"bad WARC Content-Length {length_text!r}") from None
    block = data[block_start:block_start + length]
    if len(block) < length:
        raise WarcReadError(f"WARC record block is truncated ({len(block)} of {length} bytes)")
    content_type = (record.header("Content-Type") or "").lower()
    if record.rec_type in ("response", "revisit", "request") and "application/http" in content_type:
        http_split = _split_head(block)
        if http_split is None:        # a revisit may hold headers without the blank line
            http_head, payload = block, b""
        else:
            http_head, body_start = http_split
            payload = block[body_start:]
        http_lines = _header_lines(http_head)
        if http_lines:
            status_line = http_lines[0]
            protocol, _, rest = status_line.partition(" ")
            record.http = StatusAndHeaders(rest, _parse_headers(http_lines[1:]), protocol=protocol)
        record.payload = payload
    else:
        record.block = block
    return record


def read_record(path: str | os.PathLike, offset: int, handle: BinaryIO | None = None) -> WarcRecord:
    """The WARC record in the gzip member at ``offset`` of ``path`` (or of an open ``handle``)."""
    if handle is not None:
        return parse_record(read_member(handle, offset))
    try:
        with open(path, "rb") as opened:
            return parse_record(read_member(opened, offset))
    except FileNotFoundError:
        raise WarcReadError(f"WARC file {path} does not exist") from None


def resolve_warc_path(archive_dir: str | os.PathLike, warc_file: str) -> Path:
    """A catalog ``warc_file`` (relative to the archive dir, or absolute) as a path."""
    return Path(archive_dir) / warc_file
