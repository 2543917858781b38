"""Article extraction: cleaned body text and metadata from one HTML page.

Public functions (stable interface; the pipeline and ``evaluate.py`` call these):
- :func:`decode_html` bytes + Content-Type -> str (:mod:`archive.text.encoding`)
- :func:`article_body` ``(html, url) -> str``: the body exactly as the text file holds it
  after the headline: paragraphs separated by one blank line, whitespace inside a
  paragraph collapsed to single spaces, no headline.
- :func:`extract_article` -> :class:`Article` (headline, body and metadata).

How the body is found (the page is parsed once; every step reads that one tree):

0. what is not the article by its markup leaves the tree (:mod:`archive.text.prune`):
   what a reader cannot see, and forms for the reader's input; once the page context
   and metadata are read, the head and the page's furniture (navigation, footers,
   scripts, styles, drawings, controls, frames) go too;
1. the cheap body: trafilatura's main extractor in its fast, precision-leaning mode
   (:mod:`archive.text.candidates`), with repairs from the page structure (an article
   body split into several same-class containers is put back together; photo captions
   and pull quotes the extractor drops are put back where they stand, a quote that
   repeats the body is not), then the precision filters of
   :mod:`archive.text.boilerplate` (headline repeated, standfirst, bylines and dates,
   link-only teasers and "Related" sections, newsletter / share / follow boxes, donation
   appeals, credits, copyright lines, widget labels);
2. the choice (:mod:`archive.text.choose`): when the cheap body leaves out much of the
   page's prose or is mostly short lines, second opinions are made cheapest first
   (trafilatura's full cascade, then readability-lxml, cleaned by the same filters) and
   the candidate that best covers the page's prose with the fewest other words is kept.

Metadata comes from :mod:`archive.text.metadata` (JSON-LD, then meta tags, then the URL).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HTMLParser, HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction, fromstring

from .boilerplate import Block, PageContext, clean_blocks, collapse_space, index_anchors, text_key, title_keys
from .candidates import readability_blocks, trafilatura_blocks
from .choose import choose, gather_evidence
from .encoding import decode_html
from .metadata import Metadata, extract_metadata, guess_language
from .prune import drop_furniture, prune_page

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
    return PageContext(titles=title_keys(collapse_space(t) for t in titles if t), anchors=index_anchors(anchor_keys),
                       anchor_keys=anchor_keys, descriptions={text_key(d) for d in descriptions if d.strip()},
                       urls=urls)


_ANCHOR_KEY = re.compile(r"[^\w\n]+")


# class names of the containers an article body is commonly split into
_CONTENT_CLASS = re.compile(r"body|content|article|text|story|post|entry", re.I)
_NOT_CONTENT_CLASS = re.compile(r"related|comment|footer|sidebar|\bnav|menu|promo|newsletter|share|social|recirc|"
                                r"teaser|\bad[-_s]|advert|sponsor|widget|card", re.I)
_SPLIT_MAX_SIBLINGS = 4


_SEQUENCE_TAGS = ("p", "h1", "figcaption", "figure")
_PULL_QUOTE = re.compile(r"pull-?quote|pull-?out|quote", re.I)
_PULL_QUOTE_TAGS = ("blockquote", "aside", "div", "figure", "p")
_QUOTE_MARKS = "\"'“”‘’«»„‚ "


def _is_pull_quote(el) -> bool:
    marks = (el.get("class") or "") + " " + (el.get("id") or "")
    return len(marks) > 1 and ("uote" in marks or "UOTE" in marks or "ull" in marks or "ULL" in marks) and (
        _PULL_QUOTE.search(marks) is not None)


class _Index:
    """The page's paragraphs, caption candidates and pull quotes, in document order (one pass)."""

    __slots__ = ("sequence", "paragraphs", "pull_quotes")

    def __init__(self, tree) -> None:
        # (element, normalised text of a <p> / None) for <p>, <h1>, <figcaption>, <figure>
        self.sequence: list[tuple] = []
        # (position in sequence where it stands, element) of each outermost pull quote
        self.pull_quotes: list[tuple] = []
        for el in tree.iter(_SEQUENCE_TAGS + _PULL_QUOTE_TAGS):
            if _is_pull_quote(el) and not (self.pull_quotes and _inside(el, self.pull_quotes[-1][1])):
                self.pull_quotes.append((len(self.sequence), el))
            if el.tag in _SEQUENCE_TAGS:
                self.sequence.append((el, collapse_space(el.text_content()) if el.tag == "p" else None))
        self.paragraphs = [(el, text) for el, text in self.sequence if text is not None]


def _inside(el, container) -> bool:
    return any(a is container for a in el.iterancestors())


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
            text = collapse_space(el.text_content())
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
            caption_text = _CAPTION_LABEL.sub("", collapse_space(caption.text_content()))
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


def _pull_quotes(blocks: list[Block], index: _Index) -> list[Block]:
    """Pull quotes: kept as the page shows them unless their text really occurs in the body.

    A pull quote (an element of class "pullquote"..., or a quote block) that repeats a
    sentence of the body is dropped: it would count the sentence twice. One the main
    extractor dropped whose text the body does not hold is put back before the body
    paragraph that follows it: an edit made to the quote alone is then a new version.
    """
    if not blocks or (not index.pull_quotes and not any(b.kind == "quote" for b in blocks)):
        return blocks
    keys = [(b.text, text_key(b.text)) for b in blocks]

    def in_rest(text: str) -> bool:
        """Whether the body, this quote's own block aside, holds the quote's text."""
        key = text_key(text.strip(_QUOTE_MARKS))
        return bool(key) and any(key in other_key for other, other_key in keys if other != text)

    repeats = {b.text for b in blocks if b.kind == "quote" and in_rest(b.text)}
    texts = {b.text for b in blocks}
    located = [(i, el, text) for i, (el, text) in enumerate(index.sequence) if text is not None and text in texts]
    before: dict[str, list[str]] = {}
    for position, quote in index.pull_quotes if len(located) >= 2 else ():
        if position <= located[0][0]:
            continue  # above the body
        text = collapse_space(quote.text_content())
        if len(text.split()) < 3:
            continue
        if in_rest(text):
            repeats.add(text)
        elif text not in texts and not any(text in t for t in texts):
            following = next((t for i, el, t in located if i >= position and not _inside(el, quote)), None)
            if following is not None:
                before.setdefault(following, []).append(text)
    if not repeats and not before:
        return blocks
    result: list[Block] = []
    for block in blocks:
        result += [Block(text, "quote") for text in before.pop(block.text, ())]
        if block.text not in repeats:
            result.append(block)
    return result


def _cheap_blocks(tree, index: _Index, ctx: PageContext) -> list[Block]:
    """trafilatura's fast mode, the split-body merge, captions and pull quotes, cleaned."""
    blocks = trafilatura_blocks(tree, fast=True)
    blocks = _merge_split_body(tree, blocks, index)
    blocks = _add_captions(blocks, index)
    blocks = _pull_quotes(blocks, index)
    return clean_blocks(blocks, ctx)


def _costly_blocks(tree, ctx: PageContext) -> list[Callable[[], list[Block]]]:
    """The second opinions, cheapest first, each cleaned by the same filters:
    trafilatura's full cascade, readability-lxml."""
    return [lambda: clean_blocks(trafilatura_blocks(tree, fast=False), ctx),
            lambda: clean_blocks(readability_blocks(tree), ctx)]


def _prepare(tree, url: str | None) -> tuple[PageContext, _Index]:
    """What the filters need to know of the whole page (its headline, its link texts...),
    then the page's furniture goes (:func:`archive.text.prune.drop_furniture`: no
    extractor has to walk it) and the index of what is left."""
    ctx = _page_context(tree, url)
    drop_furniture(tree)
    return ctx, _Index(tree)


def _body_blocks(tree, ctx: PageContext, index: _Index) -> list[Block]:
    """The article's blocks: the cheap body, or a second opinion where it looks wrong."""
    cheap = _cheap_blocks(tree, index, ctx)
    return choose(tree, cheap, _costly_blocks(tree, ctx))


def _html_parser() -> HTMLParser:
    """An HTML parser without comments and processing instructions, whose element
    classes are looked up in C.

    lxml.html's own lookup calls a Python function each time code touches an element
    only to give form fields classes of their own, which extraction never uses: every
    element here is a plain ``HtmlElement``.
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


# characters no XML tree can hold (lxml refuses or drops the page around them)
_INVALID_XML_CHARS = tuple(map(chr, (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)))
_DROP_INVALID = dict.fromkeys(map(ord, _INVALID_XML_CHARS))
_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>", re.I)
_SELF_CLOSED_HTML = re.compile(r"(<html\b[^>]*?)\s*/>", re.I)  # <html lang="en"/>: lxml then drops the page


def _parse(html: str | bytes):
    """The page's visible tree (see :mod:`archive.text.prune`), or None when it is
    not HTML at all."""
    if isinstance(html, bytes):
        html = decode_html(html)
    if not html or not html.strip():
        return None
    if any(char in html for char in _INVALID_XML_CHARS):  # one fast scan each: a regex is slower
        html = html.translate(_DROP_INVALID)
    head = html[:4096]
    if "/>" in head and _SELF_CLOSED_HTML.search(head):
        html = _SELF_CLOSED_HTML.sub(r"\1>", head, count=1) + html[4096:]
    tree = _tree_of(html)
    if tree is None or len(tree) < 1:  # lxml refuses a str that declares its encoding
        tree = _tree_of(_DOCTYPE.sub("", html, count=1).encode("utf8", "surrogatepass"))
    if tree is None or ("html" not in html[:50].lower() and len(tree) < 2):
        return None  # text with a tag or two in it, not a page
    prune_page(tree)
    return tree


def article_body(html: str, url: str | None = None) -> str:
    """Cleaned article body: paragraphs separated by blank lines, no headline."""
    tree = _parse(html)
    if tree is None:
        return ""
    return "\n\n".join(b.text for b in _body_blocks(tree, *_prepare(tree, url)))


def extract_article(html: str, url: str | None = None) -> Article:
    """Headline, body and metadata of an article page (a plain function of its inputs)."""
    tree = _parse(html)
    if tree is None:
        return Article()
    meta = extract_metadata(tree, url)  # from the whole page: breadcrumbs live in navigation
    base = _base_url(tree, url or meta.canonical_url)
    ctx, index = _prepare(tree, url)
    blocks = _body_blocks(tree, ctx, index)
    body = "\n\n".join(b.text for b in blocks)
    article = Article(**vars(meta), body=body,
                      links=_body_links(tree, blocks, index, base))
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


def candidate_texts(html: str, url: str | None = None):
    """Every candidate body of a page, and the evidence the choice reads (for the
    extraction benchmark, which refits :data:`archive.text.choose.FITTED`).

    Returns ``(evidence, texts)``: ``texts[0]`` is the cheap body, ``texts[1:]`` the
    costly ones, as :func:`article_body` would write each; ``evidence.pick(policy)``
    says which one a policy keeps when ``evidence.doubtful(policy)``.
    """
    tree = _parse(html)
    if tree is None:
        return gather_evidence(etree.Element("html"), []), [""]
    ctx, index = _prepare(tree, url)
    cheap = _cheap_blocks(tree, index, ctx)
    costly = [make() for make in _costly_blocks(tree, ctx)]
    evidence = gather_evidence(tree, cheap, costly)
    return evidence, ["\n\n".join(b.text for b in blocks) for blocks in (cheap, *costly)]
