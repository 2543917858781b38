"""Article extraction: cleaned body text and metadata from one HTML page.

Public functions (stable interface; the pipeline and ``evaluate.py`` call these):
- :func:`decode_html` bytes + Content-Type -> str (:mod:`archive.text.encoding`)
- :func:`article_body` ``(html, url) -> str``: the body exactly as the text file holds it
  after the headline: paragraphs separated by one blank line, whitespace inside a
  paragraph collapsed to single spaces, no headline.
- :func:`extract_article` -> :class:`Article` (headline, body and metadata).

How the body is found (the page is parsed once; every step reads that one tree):

1. trafilatura's main extractor in its fast mode (no readability/jusText comparison:
   on news pages it is both faster and more precise than its default cascade);
2. repairs from the page structure: an article body split into several same-class
   containers (ads between the chunks) is put back together; photo captions, which
   trafilatura always drops, are put back where they stand between the headline and
   the last paragraph;
3. precision filters (:mod:`archive.text.boilerplate`): the headline printed again, the
   standfirst, bylines and dates, link-only teasers and "Related" sections (the page's
   own ``<a>`` texts tell which lines are links), newsletter / share / follow boxes,
   donation appeals, credits, copyright lines, widget labels;
4. when what is left is a menu (mostly one-to-five-word lines), trafilatura's full
   cascade is run instead.

Metadata comes from :mod:`archive.text.metadata` (JSON-LD, then meta tags, then the URL).
"""
from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from urllib.parse import urljoin, urlsplit

import trafilatura
import trafilatura.core
from lxml import etree
from lxml.html import HTMLParser, HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction, fromstring
from trafilatura.settings import Extractor
from trafilatura.utils import DOCTYPE_TAG, is_dubious_html, repair_faulty_html
from trafilatura.xml import xmltotxt

from .boilerplate import Block, PageContext, clean_blocks, index_anchors, text_key, title_keys
from .encoding import decode_html
from .metadata import Metadata, extract_metadata, guess_language

__all__ = ["Article", "article_body", "decode_html", "extract_article"]

@dataclass
class Article(Metadata):
    """What the cleaner found in one page: its metadata (:class:`archive.text.metadata.Metadata`),
    the body as the text file holds it after the headline, and the body's outbound links."""

    body: str = ""
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
    """What the boilerplate filters need to know about the page (one pass over its head)."""
    titles = [tree.findtext(".//title")]
    descriptions: list[str] = []
    urls: set[str] = {url.rstrip("/")} if url else set()
    for el in tree.iter("meta", "link"):
        if el.tag == "link":
            if (el.get("rel") or "").lower() == "canonical" and (el.get("href") or "").strip():
                urls.add(el.get("href").strip().rstrip("/"))
            continue
        name = (el.get("property") or el.get("name") or "").lower()
        content = el.get("content")
        if not content or not name:
            continue
        if name in ("og:title", "twitter:title"):
            titles.append(content)
        elif name in ("description", "og:description", "twitter:description"):
            descriptions.append(content)
        elif name == "og:url" and content.strip():
            urls.add(content.strip().rstrip("/"))
    h1 = next(tree.iter("h1"), None)
    if h1 is not None:
        titles.append(h1.text_content())
    # all link texts at once: one regex pass over the joined texts instead of one per link
    joined = "\n".join(a.text_content() for a in tree.iter("a")).casefold()
    anchor_keys = {x.strip() for x in _ANCHOR_KEY.sub(" ", joined).split("\n")}
    anchor_keys.discard("")
    return PageContext(titles=title_keys(_norm(t) for t in titles if t), anchors=index_anchors(anchor_keys),
                       anchor_keys=anchor_keys, descriptions={text_key(d) for d in descriptions if d.strip()},
                       urls=urls)


_ANCHOR_KEY = re.compile(r"[^\w\n]+")


# trafilatura's options, built once (building them reads its config: ~0.5 ms a page).
# No comments, tables kept, no links (they change what the extractor keeps), no metadata
# (ours is in archive.text.metadata); ``fast`` skips its readability/jusText comparisons. The
# output format is "txt" because only the body tree is read: "python" would also render
# the tree as text, which nothing reads.
_OPTIONS = {fast: Extractor(output_format="txt", fast=fast, comments=False, tables=True) for fast in (True, False)}


# Two of trafilatura 2.3's steps are switched by module constants, set only for the
# duration of our call, under a lock so that concurrent calls cannot restore them early (the
# crawl and re-extraction call this in worker processes of their own, where nothing else
# uses trafilatura):
# - its "recall escalation" re-renders the whole page (``html2txt``) after every extraction
#   under 3000 characters to decide whether to retry in recall mode. That costs ~10% of our
#   extraction time and changed none of our outputs on the 181-page benchmark: the filters
#   below and the full-cascade fallback for menu-like output cover those pages. Off.
# - its first steps run RAW_TREE_PRUNE_XPATH (infinite-scroll containers of appended
#   articles) and REMOVE_COMMENTS_AND_LISTS_XPATH (comment sections) over the whole raw
#   tree: ~1.2 and ~1.6 ms a page, mostly libxml2 walking every element, where 171 and 84
#   of the 181 benchmark pages have nothing for them. Every element those expressions can
#   select has one of the tags in _RAW_TREE_PREFILTERS and an id or class holding one of
#   its marks, so on a page without one the constant is an empty list for our call. One
#   pass over the page checks both (~0.25 ms); trafilatura's part went from 8.3 to 7.2 ms
#   a page on the benchmark, every output the same.
_SWITCHES_LOCK = threading.Lock()
# trafilatura.core constant -> (the tags, the id/class substrings) of whatever it can select
_RAW_TREE_PREFILTERS = {
    "RAW_TREE_PRUNE_XPATH": (frozenset(("div", "section", "aside")),
                             ("mvp-post-add-", "infinite", "elementor-share-buttons")),
    "REMOVE_COMMENTS_AND_LISTS_XPATH": (frozenset(("div", "list", "section", "details", "ol", "ul")),
                                        ("omment", "comol", "disqus_thread")),
}
# trafilatura's own values of the constants we switch, restored after each call
_SWITCHED = {name: getattr(trafilatura.core, name) for name in ("ESCALATION_MAX_LENGTH", *_RAW_TREE_PREFILTERS)}
_PREFILTER_TAGS = tuple(set().union(*(tags for tags, _ in _RAW_TREE_PREFILTERS.values())))


def _raw_tree_xpaths(tree) -> dict[str, list]:
    """trafilatura's raw-tree expressions for ``tree``: each one, or an empty list where
    it can select nothing."""
    selectable: set[str] = set()
    for el in tree.iter(*_PREFILTER_TAGS):
        values = [value for value in (el.get("class"), el.get("id")) if value]
        if not values:
            continue
        for name, (tags, marks) in _RAW_TREE_PREFILTERS.items():
            if name not in selectable and el.tag in tags and any(mark in v for v in values for mark in marks):
                selectable.add(name)
        if len(selectable) == len(_RAW_TREE_PREFILTERS):
            break
    return {name: _SWITCHED[name] if name in selectable else [] for name in _RAW_TREE_PREFILTERS}


def _trafilatura_blocks(tree, fast: bool = True) -> list[Block]:
    """trafilatura's main extractor (it works on a copy: ``tree`` stays intact)."""
    switches = {"ESCALATION_MAX_LENGTH": 0, **_raw_tree_xpaths(tree)}
    with _SWITCHES_LOCK:
        vars(trafilatura.core).update(switches)
        try:
            document = trafilatura.bare_extraction(tree, options=_OPTIONS[fast])
        finally:
            vars(trafilatura.core).update(_SWITCHED)
    return _blocks(document.body) if document is not None else []


# class names of the containers an article body is commonly split into
_CONTENT_CLASS = re.compile(r"body|content|article|text|story|post|entry", re.I)
_NOT_CONTENT_CLASS = re.compile(r"related|comment|footer|sidebar|\bnav|menu|promo|newsletter|share|social|recirc|"
                                r"teaser|\bad[-_s]|advert|sponsor|widget|card", re.I)
_SPLIT_MAX_SIBLINGS = 4


class _Index:
    """The page's paragraphs and caption candidates, in document order (one pass)."""

    __slots__ = ("sequence", "paragraphs")

    def __init__(self, tree) -> None:
        # (element, normalised text of a <p> / None) for <p>, <h1>, <figcaption>, <figure>
        self.sequence = [(el, _norm(el.text_content()) if el.tag == "p" else None)
                         for el in tree.iter("p", "h1", "figcaption", "figure")]
        self.paragraphs = [(el, text) for el, text in self.sequence if text is not None]


def _merge_split_body(tree, blocks: list[Block], index: _Index) -> list[Block]:
    """Add the rest of an article whose body is split into sibling containers.

    Templates that interleave ads or embeds with the text put the body into several
    containers of one class (``<div class="article-body">`` ... ``<div
    class="article-body">``); the main extractor then keeps the first one only. When the
    paragraphs it kept sit in such a container, the same-class containers nearby that
    hold real text (several paragraphs, few links) are added in document order.
    """
    paragraphs = index.paragraphs
    keys = [b.text for b in blocks]
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
            if text and text not in keyset:
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


# accessibility labels and gallery counters in front of caption texts
_CAPTION_LABEL = re.compile(r"^(?:(?:image|media|photo|video) caption:?\s*|caption:\s*|\d+\s*(?:of|/)\s*\d+\s*)", re.I)
_NOT_ARTICLE_ANCESTORS = frozenset(("nav", "aside", "footer", "form", "button", "a"))


def _is_caption(el) -> bool:
    return el.tag == "figcaption" or "caption" in (el.get("class") or "") or el.get("itemprop") == "caption"


def _add_captions(blocks: list[Block], index: _Index) -> list[Block]:
    """Put back the photo captions of the article (the main extractor drops every caption).

    A caption (``<figcaption>``, or an element of class "caption" in a ``<figure>`` or
    a ``<p class="wp-caption-text">``) belongs to the article when it stands between the
    headline (or the first paragraph of the body) and the last paragraph of the body,
    outside navigation, asides, links and teaser boxes; it goes before the first body
    paragraph that follows it.
    """
    if not blocks:
        return blocks
    texts = {b.text for b in blocks}
    sequence = index.sequence
    located = [i for i, (el, text) in enumerate(sequence) if text is not None and text in texts]
    if not located:
        return blocks
    first, last = located[0], located[-1]
    start = first
    for i in range(first - 1, -1, -1):
        if sequence[i][0].tag == "h1":
            start = i
            break
    found: list[tuple[int, str]] = []
    seen = set(texts)
    for i in range(start + 1, last):
        el, text = sequence[i]
        if el.tag == "figure":
            if el.find(".//figcaption") is not None:
                continue
            candidates = [d for d in el.iterdescendants() if isinstance(d.tag, str) and _is_caption(d)][:1]
        elif el.tag == "figcaption" or (el.tag == "p" and text not in texts and _is_caption(el)):
            candidates = [el]
        else:
            continue
        for caption in candidates:
            if any(a.tag in _NOT_ARTICLE_ANCESTORS or _NOT_CONTENT_CLASS.search(a.get("class") or "")
                   for a in caption.iterancestors()):
                continue
            caption_text = _CAPTION_LABEL.sub("", _norm(caption.text_content()))
            if (len(caption_text.split()) < 3 or caption_text in seen or any(caption_text in t for t in texts)
                    or any(caption_text in f or f in caption_text for _, f in found)):
                continue  # a caption given twice (with and without its credit) counts once
            seen.add(caption_text)
            found.append((i, caption_text))
    if not found:
        return blocks
    block_position = {}
    for i in located:
        block_position.setdefault(sequence[i][1], i)
    result: list[Block] = []
    for block in blocks:
        position = block_position.get(block.text)
        while found and position is not None and found[0][0] < position:
            result.append(Block(found.pop(0)[1], "caption"))
        result.append(block)
    return result


def _is_dump(blocks: list[Block]) -> bool:
    """Output that is mostly one-or-two-word lines: a menu or archive list, not an article."""
    if len(blocks) < 20:
        return False
    short = sum(1 for b in blocks if len(b.text.split()) <= 5)
    return short >= 0.8 * len(blocks)


def _body_blocks(tree, url: str | None, index: _Index | None = None) -> list[Block]:
    """The article's blocks: main extractor, split-body merge, captions, boilerplate filters."""
    blocks = _trafilatura_blocks(tree)
    ctx = _page_context(tree, url)
    if index is None:
        index = _Index(tree)
    blocks = _merge_split_body(tree, blocks, index)
    blocks = _add_captions(blocks, index)
    kept = clean_blocks(blocks, ctx)
    if _is_dump(kept):
        # the fast extractor fell back to the whole page: run trafilatura's full cascade
        # (its readability and jusText comparisons), kept if it finds an article
        alternative = clean_blocks(_trafilatura_blocks(tree, fast=False), ctx)
        if alternative and not _is_dump(alternative):
            kept = alternative
    return kept


def _html_parser() -> HTMLParser:
    """trafilatura's HTML parser settings, with element classes looked up in C.

    lxml.html's own lookup calls a Python function each time code touches an element
    (~2000 times a news page, ~1 ms) only to give form fields classes of their own,
    which extraction never uses: every element here is a plain ``HtmlElement``.
    """
    parser = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                        remove_pis=True)
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))
    return parser


_HTML_PARSER = _html_parser()


def _tree_of(markup: str | bytes):
    try:
        return fromstring(markup, parser=_HTML_PARSER)
    except (ValueError, etree.LxmlError):
        return None


# The characters trafilatura's repair_faulty_html strips from the whole page (its
# INVALID_XML_CHARS). Its regex pass costs ~0.7 ms on a news page even when there is
# nothing to strip; 31 ``in`` scans (memchr) tell that in ~0.25 ms.
_INVALID_XML_CHARS = tuple(map(chr, (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)))


def _needs_repair(html: str, beginning: str) -> bool:
    """Whether trafilatura's ``repair_faulty_html`` would change ``html`` at all: invalid
    characters, a doctype it rewrites (or a one-line page, which it ends with a newline),
    or a self-closing ``<html/>`` in the first lines."""
    if any(char in html for char in _INVALID_XML_CHARS):
        return True
    if "doctype" in beginning:
        end_of_line = html.find("\n")
        if end_of_line < 0 or DOCTYPE_TAG.search(html[:end_of_line]):
            return True
    return any("<html" in line and line.endswith("/>") for line in html[:4096].splitlines()[:4])


def _parse(html: str | bytes):
    """The page's tree, or None; trafilatura's ``load_html`` steps, with our parser."""
    if isinstance(html, bytes):
        html = decode_html(html)
    if not html or not html.strip():
        return None
    beginning = html[:50].lower()
    if _needs_repair(html, beginning):
        html = repair_faulty_html(html, beginning)
    tree = _tree_of(html)
    if tree is None or len(tree) < 1:  # lxml refuses a str that declares its encoding
        tree = _tree_of(html.encode("utf8", "surrogatepass"))
    if tree is None or (is_dubious_html(beginning) and len(tree) < 2):
        return None  # not (well-formed) HTML at all
    return tree


def article_body(html: str, url: str | None = None) -> str:
    """Cleaned article body: paragraphs separated by blank lines, no headline."""
    tree = _parse(html)
    if tree is None:
        return ""
    return "\n\n".join(b.text for b in _body_blocks(tree, url))


def extract_article(html: str, url: str | None = None) -> Article:
    """Headline, body and metadata of an article page (a plain function of its inputs)."""
    tree = _parse(html)
    if tree is None:
        return Article()
    index = _Index(tree)
    blocks = _body_blocks(tree, url, index)
    body = "\n\n".join(b.text for b in blocks)
    meta = extract_metadata(tree, url)
    article = Article(**vars(meta), body=body,
                      links=_body_links(tree, blocks, index, _base_url(tree, url or meta.canonical_url)))
    article.language = meta.language or guess_language(body)
    return article


# ----------------------------------------------------------------------------- links

_BLOCK_TAGS = frozenset(("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "td", "th", "dd", "dt",
                         "figcaption", "pre", "div", "section", "article", "table", "ul", "ol", "main", "body"))
_OUTSIDE_TAGS = frozenset(("nav", "aside", "footer", "header", "form", "menu"))


def _base_url(tree, url: str | None) -> str | None:
    base = next((h.strip() for h in tree.xpath("//base/@href") if h.strip()), None)
    return urljoin(url or "", base) if base else url


def _body_links(tree, blocks: list[Block], index: _Index, base: str | None) -> list[str]:
    """Absolute http(s) URLs of the links in the article's part of the page, in order, deduplicated.

    That part is the stretch of the page from the first to the last paragraph of the
    extracted body, navigation, asides and forms left out (so an inline "Related article"
    link between two paragraphs counts, the "Recent stories" list after the text does
    not), plus the links inside any other extracted block.
    """
    if not blocks:
        return []
    texts = {b.text for b in blocks}
    located = {el for el, text in index.paragraphs if text in texts}
    # the links between the first and the last located paragraph (inside it included)
    in_range: set = set()
    if located:
        pending: list = []
        started = False
        for el in tree.iter("p", "a"):
            if el.tag == "a":
                if started:
                    pending.append(el)
            elif el in located:
                started = True
                in_range.update(pending)
                pending = []
        # after the last located paragraph: only the links inside it
        in_range.update(a for a in pending if any(p in located for p in a.iterancestors("p")))
    body = "".join("".join(b.text.split()) for b in blocks)
    own = (base or "").split("#")[0]
    in_body: dict = {}
    links: list[str] = []
    seen: set[str] = set()
    for a in tree.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        inside = a in in_range and not any(x.tag in _OUTSIDE_TAGS for x in a.iterancestors())
        if not inside:
            block = a.getparent()
            while block is not None and block.tag not in _BLOCK_TAGS:
                block = block.getparent()
            if block is None:
                continue
            inside = in_body.get(block)
            if inside is None:
                text = "".join(block.text_content().split())
                inside = len(text) >= 20 and text in body
                in_body[block] = inside
            if not inside:
                continue
        link = urljoin(base or "", href)
        if urlsplit(link).scheme not in ("http", "https") or link.split("#")[0] == own:
            continue
        if link not in seen:
            seen.add(link)
            links.append(link)
    return links
