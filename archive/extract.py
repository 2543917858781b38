"""Article extraction: cleaned body text and metadata from one HTML page.

Public functions (stable interface; the pipeline and ``evaluate.py`` call these):
- :func:`decode_html` bytes + Content-Type -> str
- :func:`article_body` ``(html, url) -> str``: the body exactly as the text file holds it
  after the headline: paragraphs separated by one blank line.
- :func:`extract_article` -> :class:`Article` (headline, body and metadata).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import trafilatura
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from .boilerplate import Block, PageContext, clean_blocks, text_key, title_keys
from .encoding import decode_html

__all__ = ["Article", "article_body", "decode_html", "extract_article"]

_DEV_NO_FILTER = bool(os.environ.get("NEWSARCHIVE_NO_FILTER"))


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


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


_KIND = {"p": "p", "head": "head", "list": "item", "quote": "quote", "table": "row"}


def _blocks(body) -> list[Block]:
    """trafilatura's output tree -> one Block per rendered line."""
    blocks = []
    if body is None:
        return blocks
    if body.text and body.text.strip():
        blocks.append(Block(_norm(body.text), "p"))
    for child in body:
        kind = _KIND.get(child.tag, "other")
        for line in xmltotxt(child, False).split("\n"):
            line = _norm(line)
            if line:
                blocks.append(Block(line, kind))
    return blocks


def _page_context(tree) -> PageContext:
    titles = [tree.findtext(".//title")]
    titles += tree.xpath('//meta[@property="og:title" or @name="og:title" or @name="twitter:title"'
                         ' or @property="twitter:title"]/@content')
    titles += [h.text_content() for h in tree.iter("h1")]
    anchors = set()
    for a in tree.iter("a"):
        key = text_key(a.text_content())
        if key:
            anchors.add(key)
    return PageContext(titles=title_keys(_norm(t) for t in titles if t), anchors=anchors)


def _body_blocks(tree, url: str | None) -> list[Block]:
    document = trafilatura.bare_extraction(tree, url=url, fast=True, include_comments=False, include_tables=True)
    if document is None:
        return []
    blocks = _blocks(document.body)
    if _DEV_NO_FILTER:
        return blocks
    return clean_blocks(blocks, _page_context(tree))


def article_body(html: str, url: str | None = None) -> str:
    """Cleaned article body: paragraphs separated by blank lines, no headline."""
    tree = load_html(html)
    if tree is None:
        return ""
    return "\n\n".join(b.text for b in _body_blocks(tree, url))


def extract_article(html: str, url: str | None = None) -> Article:
    """Headline, body and metadata of an article page."""
    tree = load_html(html)
    if tree is None:
        return Article()
    blocks = _body_blocks(tree, url)
    return Article(body="\n\n".join(b.text for b in blocks))
