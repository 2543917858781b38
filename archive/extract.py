"""Article extraction: cleaned body text and metadata from one HTML page.

Public functions (stable interface; the pipeline and ``evaluate.py`` call these):
- :func:`decode_html` bytes + Content-Type -> str
- :func:`article_body` ``(html, url) -> str``: the body exactly as the text file holds it
  after the headline: paragraphs separated by one blank line.
- :func:`extract_article` -> :class:`Article` (headline, body and metadata).
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field

import trafilatura
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from .boilerplate import Block, PageContext, clean_blocks, index_anchors, text_key, title_keys
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


def _page_context(tree, url: str | None = None) -> PageContext:
    titles = [tree.findtext(".//title")]
    titles += tree.xpath('//meta[@property="og:title" or @name="og:title" or @name="twitter:title"'
                         ' or @property="twitter:title"]/@content')
    h1 = next(tree.iter("h1"), None)
    if h1 is not None:
        titles.append(h1.text_content())
    # all link texts at once: one regex pass over the joined texts instead of one per link
    joined = "\n".join(a.text_content() for a in tree.iter("a")).casefold()
    anchors = index_anchors(set(x.strip() for x in _ANCHOR_KEY.sub(" ", joined).split("\n")))
    descriptions = tree.xpath('//meta[@name="description" or @property="og:description" or @name="og:description"'
                              ' or @name="twitter:description"]/@content')
    urls = set(u.strip().rstrip("/") for u in tree.xpath('//link[@rel="canonical"]/@href'
                                                         ' | //meta[@property="og:url"]/@content') if u.strip())
    if url:
        urls.add(url.rstrip("/"))
    return PageContext(titles=title_keys(_norm(t) for t in titles if t), anchors=anchors,
                       descriptions={text_key(d) for d in descriptions if d.strip()}, urls=urls)


_ANCHOR_KEY = re.compile(r"[^\w\n]+")


def _trafilatura_blocks(tree, url: str | None, fast: bool = True) -> list[Block]:
    """trafilatura's main extractor (it works on a copy: ``tree`` stays intact)."""
    document = trafilatura.bare_extraction(tree, url=url, fast=fast, include_comments=False, include_tables=True)
    return _blocks(document.body) if document is not None else []


# class names of the containers an article body is commonly split into
_CONTENT_CLASS = re.compile(r"body|content|article|text|story|post|entry", re.I)
_NOT_CONTENT_CLASS = re.compile(r"related|comment|footer|sidebar|\bnav|menu|promo|newsletter|share|social|recirc|"
                                r"teaser|\bad[-_s]|advert|sponsor|widget|card", re.I)
_SPLIT_MAX_SIBLINGS = 4


def _paragraph_index(tree) -> list[tuple[object, str]]:
    return [(p, text_key(p.text_content())) for p in tree.iter("p")]


def _merge_split_body(tree, blocks: list[Block], paragraphs) -> list[Block]:
    """Add the rest of an article whose body is split into sibling containers.

    Templates that interleave ads or embeds with the text put the body into several
    containers of one class (``<div class="article-body">`` ... ``<div
    class="article-body">``); the main extractor then keeps the first one only. When the
    paragraphs it kept sit in such a container, the same-class containers nearby that
    hold real text (several paragraphs, few links) are added in document order.
    """
    keys = [text_key(b.text) for b in blocks]
    keyset = set(keys)
    hits: dict = {}
    for p, key in paragraphs:
        if key and key in keyset:
            parent = p.getparent()
            hits[parent] = hits.get(parent, 0) + 1
    if not hits:
        return blocks
    container = max(hits, key=hits.get)
    cls = container.get("class")
    if hits[container] < 2 or not cls or not _CONTENT_CLASS.search(cls) or _NOT_CONTENT_CLASS.search(cls):
        return blocks
    same = [el for el in tree.iter(container.tag) if el.get("class") == cls and el is not container]
    if not same or len(same) > _SPLIT_MAX_SIBLINGS:
        return blocks
    ancestors = set(container.iterancestors())
    near = list(container.iterancestors())[:4]
    extra_before: list[Block] = []
    extra_after: list[Block] = []
    for other in same:
        if other in ancestors or any(a is container for a in other.iterancestors()):
            continue
        if not any(a in near for a in other.iterancestors()):
            continue  # not in the same part of the page
        if any(_NOT_CONTENT_CLASS.search(a.get("class") or "") for a in other.iterancestors()
               if a not in ancestors):
            continue
        new = []
        for el in other.iter("p", "h2", "h3", "h4"):
            text = _norm(el.text_content())
            if text and text_key(text) not in keyset:
                new.append(Block(text, "head" if el.tag != "p" else "p"))
        words = sum(len(b.text.split()) for b in new if b.kind == "p")
        link_chars = sum(len(a.text_content()) for a in other.iter("a"))
        text_chars = len(other.text_content()) or 1
        if sum(1 for b in new if b.kind == "p") < 2 or words < 50 or link_chars > 0.3 * text_chars:
            continue
        precedes = _precedes(other, container)
        (extra_before if precedes else extra_after).extend(new)
    if not extra_before and not extra_after:
        return blocks
    inside = {key for p, key in paragraphs if key and p.getparent() is container}
    positions = [i for i, key in enumerate(keys) if key in inside]
    first, last = positions[0], positions[-1]
    return blocks[:first] + extra_before + blocks[first:last + 1] + extra_after + blocks[last + 1:]


def _precedes(a, b) -> bool:
    """Whether element ``a`` comes before element ``b`` in document order."""
    chain_a = [a] + list(a.iterancestors())
    chain_b = [b] + list(b.iterancestors())
    in_b = set(chain_b)
    common = next(x for x in chain_a if x in in_b)
    child_a = chain_a[chain_a.index(common) - 1]
    child_b = chain_b[chain_b.index(common) - 1]
    return common.index(child_a) < common.index(child_b)


def _is_dump(blocks: list[Block]) -> bool:
    """Output that is mostly one-or-two-word lines: a menu or archive list, not an article."""
    if len(blocks) < 20:
        return False
    short = sum(1 for b in blocks if len(b.text.split()) <= 5)
    return short >= 0.8 * len(blocks)


def _body_blocks(tree, url: str | None) -> list[Block]:
    blocks = _trafilatura_blocks(tree, url)
    if _DEV_NO_FILTER:
        return blocks
    ctx = _page_context(tree, url)
    blocks = _merge_split_body(tree, blocks, _paragraph_index(tree))
    kept = clean_blocks(blocks, ctx)
    if _is_dump(kept):
        # the fast extractor fell back to the whole page: run trafilatura's full cascade
        # (its readability and jusText comparisons), kept if it finds an article
        alternative = clean_blocks(_trafilatura_blocks(tree, url, fast=False), ctx)
        if alternative and not _is_dump(alternative):
            kept = alternative
    return kept


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
