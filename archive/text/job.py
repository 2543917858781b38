"""Extraction as one call on a fetched page: what the archive keeps of it.

Runs in worker processes (plain picklable inputs and outputs), and again, byte for
byte the same, when text is re-extracted from WARC records. The processes themselves
are in :mod:`archive.text.pool`.
"""
from __future__ import annotations

import json

from ..store.textfile import render_text
from ..warc.contentcoding import decode_content


def extract_for_archive(body: bytes, content_type: str | None, url: str, content_encoding: str | None = None,
                        max_size: int = 0) -> dict:
    """Decode and clean one page: ``{"text": <file bytes>, **article metadata}``.

    ``content_encoding``: the body is still as the server sent it (gzip, say), and is
    decoded here, to at most ``max_size`` bytes (0: no limit; beyond it
    :class:`~archive.warc.contentcoding.DecodedTooLarge`).
    """
    from .extract import decode_html, extract_article  # loaded by the worker processes only

    if content_encoding:
        body, _ = decode_content(body, [content_encoding], max_size)
    html = decode_html(body, content_type)
    article = extract_article(html, url)
    text = render_text(article.title, article.body) if article.body.strip() else b""
    return {"text": text, **article.as_dict()}


def extracted_fields(extracted: dict, feed_published: str | None = None) -> dict:
    """Catalog version fields that come from the extraction (the crawl and re-extraction
    both use this, so their rows agree). The feed's date stands in for a page without one."""
    published, published_source = extracted.get("published"), extracted.get("published_source")
    if not published and feed_published:
        published, published_source = feed_published, "feed"
    return {
        "title": extracted.get("title"),
        "authors": "; ".join(extracted.get("authors") or []),
        "published": published,
        "published_source": published_source,
        "modified": extracted.get("modified"),
        "modified_source": extracted.get("modified_source"),
        "language": extracted.get("language"),
        "section": extracted.get("section"),
        "description": extracted.get("description"),
        "links": json.dumps(extracted.get("links") or []),
    }
