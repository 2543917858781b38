"""Undoing an HTTP ``Content-Encoding`` the way Scrapy's HttpCompressionMiddleware does.

The crawl hands article bodies to the extraction workers as the server sent them, and
the workers decode them here; re-extraction decodes archived payloads here too. Same
order and same tolerance as Scrapy (codings undone from the last one listed, an unknown
coding stops decoding, a truncated gzip stream yields what it holds), so the text is the
same whichever process decoded the page.
"""
from __future__ import annotations

import io
import struct
import zlib
from gzip import GzipFile

_CHUNK = 1 << 16
# What Scrapy's HttpCompressionMiddleware decodes (ACCEPTED_ENCODINGS + x-gzip).
SUPPORTED_ENCODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd")
# What :func:`decoded_head` reads without decoding the whole body.
STREAMED_ENCODINGS = ("gzip", "x-gzip", "deflate")


class ContentDecodingError(ValueError):
    """A body cannot be decoded (missing decoder)."""


class DecodedTooLarge(ContentDecodingError):
    """A body decodes to more than the size allowed (a decompression bomb, say)."""

    def __init__(self, max_size: int):
        super().__init__(max_size)  # its only argument: the exception pickles across processes
        self.max_size = max_size

    def __str__(self) -> str:
        return f"decoded body exceeds DOWNLOAD_MAXSIZE ({self.max_size} bytes)"


def split_encodings(values: list[str]) -> tuple[list[str], list[str]]:
    """(encodings to undo, outermost first; encodings left in place), like Scrapy does."""
    to_keep = [e.strip().lower() for value in values for e in value.split(",")]
    to_decode: list[str] = []
    while to_keep:
        encoding = to_keep.pop()
        if encoding not in SUPPORTED_ENCODINGS:
            to_keep.append(encoding)
            break
        to_decode.append(encoding)
    return to_decode, to_keep


def decode_content(body: bytes, content_encoding: list[str], max_size: int = 0) -> tuple[bytes, list[str]]:
    """Undo ``Content-Encoding`` values (as listed in the headers); return (body, kept).

    Codings are undone from the last one listed, and an unknown coding stops decoding
    (the rest stays applied and is returned in ``kept``). ``max_size`` (0: no limit)
    bounds the decoded size: beyond it :class:`DecodedTooLarge` is raised, early.
    """
    to_decode, kept = split_encodings(content_encoding)
    for encoding in to_decode:
        body = _decode_one(body, encoding, max_size)
    return body, kept


def decoded_head(body: bytes, content_encoding: list[str], size: int) -> bytes | None:
    """The first ``size`` decoded bytes of a gzip or deflate body without decoding the
    rest; None for other codings and for a body that cannot be decoded."""
    to_decode, kept = split_encodings(content_encoding)
    if kept or len(to_decode) != 1 or to_decode[0] not in STREAMED_ENCODINGS:
        return None
    attempts = (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS) if to_decode[0] == "deflate" else (zlib.MAX_WBITS | 16,)
    for wbits in attempts:
        try:
            return zlib.decompressobj(wbits).decompress(body, size)
        except zlib.error:
            continue
    return None


def _decode_one(body: bytes, encoding: str, max_size: int) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        return _gunzip(body, max_size)
    if encoding == "deflate":
        return _inflate(body, max_size)
    if encoding == "br":
        decoded = _unbrotli(body)
        if max_size and len(decoded) > max_size:
            raise DecodedTooLarge(max_size)
        return decoded
    if encoding == "zstd":
        return _unzstd(body, max_size)
    return body  # pragma: no cover  (split_encodings only returns supported ones)


def _append(output: io.BytesIO, chunk: bytes, max_size: int) -> None:
    output.write(chunk)
    if max_size and output.tell() > max_size:
        raise DecodedTooLarge(max_size)


def _gunzip(data: bytes, max_size: int) -> bytes:
    """Gunzip, returning as much as possible of a truncated or CRC-broken stream (as Scrapy)."""
    stream = GzipFile(fileobj=io.BytesIO(data))
    output = io.BytesIO()
    chunk = b"."
    while chunk:
        try:
            chunk = stream.read1(_CHUNK)
        except (OSError, EOFError, struct.error):
            if output.tell() > 0:
                break
            raise
        _append(output, chunk, max_size)
    return output.getvalue()


def _inflate(data: bytes, max_size: int) -> bytes:
    """zlib-wrapped deflate, or raw deflate as some servers send it (as Scrapy)."""
    decompressor = zlib.decompressobj()
    try:
        first = decompressor.decompress(data, _CHUNK)
    except zlib.error:
        decompressor = zlib.decompressobj(wbits=-15)
        first = decompressor.decompress(data, _CHUNK)
    output = io.BytesIO()
    _append(output, first, max_size)
    while decompressor.unconsumed_tail and not decompressor.eof:
        _append(output, decompressor.decompress(decompressor.unconsumed_tail, _CHUNK), max_size)
    return output.getvalue()


def _unbrotli(data: bytes) -> bytes:
    try:
        import brotli
    except ImportError:
        try:
            import brotlicffi as brotli
        except ImportError:
            raise ContentDecodingError("payload is brotli-encoded (br) but neither brotli nor brotlicffi "
                                       "is installed") from None
    return brotli.Decompressor().process(data)


def _unzstd(data: bytes, max_size: int) -> bytes:
    try:
        from compression import zstd  # Python >= 3.14
    except ImportError:
        try:
            from backports import zstd
        except ImportError:
            raise ContentDecodingError("payload is zstd-encoded but no zstd module is installed "
                                       "(pip install backports.zstd)") from None
    reader = zstd.ZstdFile(io.BytesIO(data))
    output = io.BytesIO()
    chunk = b"."
    while chunk:
        try:
            chunk = reader.read(_CHUNK)
        except EOFError:
            break
        _append(output, chunk, max_size)
    return output.getvalue()
