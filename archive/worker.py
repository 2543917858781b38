"""Extraction as one call on a fetched page: what the archive keeps of it.

Runs in worker processes (plain picklable inputs and outputs), and again, byte for
byte the same, when text is re-extracted from WARC records.
"""
from __future__ import annotations

from .extract import decode_html, extract_article
from .textstore import render_text


def extract_for_archive(body: bytes, content_type: str | None, url: str) -> dict:
    """Decode and clean one page: ``{"text": <file bytes>, **article metadata}``."""
    html = decode_html(body, content_type)
    article = extract_article(html, url)
    text = render_text(article.title, article.body) if article.body.strip() else b""
    return {"text": text, **article.as_dict()}
