"""Decoding fetched pages to text.

Order of evidence, as a browser does it, with two corrections for the web as it is:

1. a byte-order mark;
2. bytes that are valid UTF-8 and not plain ASCII are UTF-8, whatever the page or the
   server declares (a legacy-encoded page practically never forms valid multi-byte
   UTF-8, while pages mislabelled as ISO-8859-1 or windows-1251 but written in UTF-8
   are common);
3. the HTTP ``Content-Type`` charset, unless it is the generic server default
   (ISO-8859-1 / US-ASCII) and the document declares another charset itself, or
   declares none and its text detects as a non-Latin script (Cyrillic, CJK...); a
   UTF-8 claim that the bytes disprove counts as no claim;
4. the document's own declaration: ``<meta charset>``, ``<meta http-equiv=
   "Content-Type">``, ``<?xml encoding?>``;
5. detection (charset-normalizer) on the page's text, tags and scripts left out so
   that markup does not drown the few non-ASCII bytes;
6. windows-1252, which decodes any byte.

Encoding names go through w3lib's browser-compatible aliases (ISO-8859-1 is read as
windows-1252, GB2312 as GB18030...), and undecodable bytes become U+FFFD.
"""
from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes
from w3lib.encoding import (html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding,
                            to_unicode)

__all__ = ["decode_html", "detect_encoding"]

_SERVER_DEFAULTS = {"cp1252", "latin_1", "iso8859_1", "ascii", "us_ascii"}
_DETECT_BYTES = 65536


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page's bytes to text (see the module docstring for the order of evidence)."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        return to_unicode(body[len(bom):], bom_encoding)
    return to_unicode(body, detect_encoding(body, content_type))


def detect_encoding(body: bytes, content_type: str | None = None) -> str:
    """The Python codec name to decode ``body`` with."""
    bom_encoding, _ = read_bom(body)
    if bom_encoding:
        return bom_encoding
    if _is_utf8(body):
        return "utf-8"
    declared_http = _resolve(http_content_type_encoding(content_type)) if content_type else None
    declared_html = _resolve(html_body_declared_encoding(body))
    if not body.isascii():
        # checked above: these bytes are not UTF-8, whatever is declared
        declared_http = None if declared_http == "utf_8" else declared_http
        declared_html = None if declared_html == "utf_8" else declared_html
    if declared_http and declared_http not in _SERVER_DEFAULTS:
        return declared_http
    if declared_html:
        return declared_html
    detected = _detect(body)
    if declared_http:
        # nothing but the server's default: a page in a non-Latin script is not Latin-1
        if detected and detected not in _SERVER_DEFAULTS and _mostly_non_latin(body, detected):
            return detected
        return declared_http
    return detected or "cp1252"


def _is_utf8(body: bytes) -> bool:
    """Valid UTF-8 with at least one non-ASCII character."""
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        # a page cut in the middle of a character is still UTF-8
        tail = body[-4:]
        try:
            body[:-4].decode("utf-8")
        except UnicodeDecodeError:
            return False
        return any(b >= 0x80 for b in tail)
    return True


def _resolve(name: str | None) -> str | None:
    if not name:
        return None
    try:
        resolved = resolve_encoding(name)
    except LookupError:
        return None
    if not resolved:
        return None
    try:
        return codecs.lookup(resolved).name.replace("-", "_")
    except LookupError:
        return None


_NON_LATIN = re.compile("[\u0370-\u03ff\u0400-\u052f\u0590-\u06ff\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff"
                        "\uac00-\ud7af]")


def _mostly_non_latin(body: bytes, encoding: str) -> bool:
    """Whether most non-ASCII letters of the page's text are in a non-Latin script."""
    text = _text_bytes(body).decode(encoding, "replace")
    non_ascii = sum(1 for ch in text if ord(ch) > 127 and ch.isalpha())
    return non_ascii > 0 and len(_NON_LATIN.findall(text)) >= 0.7 * non_ascii


def _detect(body: bytes) -> str | None:
    """Guess the encoding of undeclared, non-UTF-8 bytes from the page's text."""
    text = _text_bytes(body)
    if text.isascii():
        return None
    best = from_bytes(text).best()
    return _resolve(best.encoding) if best else None


def _text_bytes(body: bytes) -> bytes:
    """The bytes of the page's text (tags, scripts, styles and comments cut), at most 64 KiB.

    A linear scan with ``find`` (an unclosed ``<script`` or ``<!--`` ends the text
    instead of making a regular expression re-scan the rest of the page for each one).
    """
    data = body[:4 * _DETECT_BYTES]
    low = data.lower()
    parts: list[bytes] = []
    size = 0
    pos, end = 0, len(data)
    while pos < end and size < _DETECT_BYTES:
        lt = data.find(b"<", pos)
        if lt < 0:
            parts.append(data[pos:])
            break
        parts.append(data[pos:lt])
        size += lt - pos
        if low.startswith(b"<script", lt) or low.startswith(b"<style", lt):
            close = low.find(b"</script" if low[lt + 1] == ord("s") and low.startswith(b"<script", lt) else b"</style", lt)
            gt = data.find(b">", close) if close >= 0 else -1
        elif data.startswith(b"<!--", lt):
            close = data.find(b"-->", lt + 4)
            gt = close + 2 if close >= 0 else -1
        else:
            gt = data.find(b">", lt)
            following = data.find(b"<", lt + 1)
            if 0 <= following < gt:  # a stray "<": keep it as text
                parts.append(b"<")
                pos = lt + 1
                continue
        if gt < 0:
            break
        parts.append(b" ")
        pos = gt + 1
    return b"".join(parts)[:_DETECT_BYTES]
