"""Article extraction: cleaned body text and metadata from one HTML page.

Public functions (stable interface; the pipeline and ``evaluate.py`` call these):
- :func:`decode_html` bytes + Content-Type -> str
- :func:`article_body` ``(html, url) -> str``: the body exactly as the text file holds it
  after the headline: paragraphs separated by one blank line.
- :func:`extract_article` -> :class:`Article` (headline, body and metadata).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import trafilatura
from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode


@dataclass
class Article:
    """What the cleaner found in one page."""

    title: str = ""
    body: str = ""
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    published_source: str | None = None
    modified: str | None = None
    modified_source: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    section: str | None = None
    links: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain dict (picklable across processes, JSON-able)."""
        return asdict(self)


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page: HTTP charset, then BOM / ``<meta>`` charset, then detection."""
    _, text = html_to_unicode(content_type, body, auto_detect_fun=_detect)
    return text


def _detect(body: bytes) -> str | None:
    best = from_bytes(body[:65536]).best()
    return best.encoding if best else None


def article_body(html: str, url: str | None = None) -> str:
    """Cleaned article body: paragraphs separated by blank lines, no headline."""
    return extract_article(html, url).body


def extract_article(html: str, url: str | None = None) -> Article:
    """Headline, body and metadata of an article page."""
    document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                           include_tables=True)
    if document is None:
        return Article()
    data = document.as_dict()
    text = data.get("text") or ""
    paragraphs = [" ".join(line.split()) for line in text.split("\n")]
    return Article(
        title=data.get("title") or "",
        body="\n\n".join(p for p in paragraphs if p),
        authors=[a.strip() for a in (data.get("author") or "").split(";") if a.strip()],
        published=data.get("date"),
        published_source="trafilatura" if data.get("date") else None,
        language=data.get("language"),
        canonical_url=data.get("url"),
        section=(data.get("categories") or [None])[0] if isinstance(data.get("categories"), list) else None,
    )
