"""Decoding fetched pages to text (placeholder; see decode_html)."""
from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page: HTTP charset, then BOM / ``<meta>`` charset, then detection."""
    _, text = html_to_unicode(content_type, body, auto_detect_fun=_detect)
    return text


def _detect(body: bytes) -> str | None:
    best = from_bytes(body[:65536]).best()
    return best.encoding if best else None
