"""Candidate bodies of a page, each as a list of blocks (one per paragraph-level line).

- :func:`trafilatura_blocks`: trafilatura's main extractor, fast mode or its full cascade;
- :func:`readability_blocks`: readability-lxml's summary.
"""
from __future__ import annotations

from lxml.html import fromstring

from .boilerplate import Block, collapse_space
from .readability_compat import summary_html
from .trafilatura_compat import body_tree, render_lines

__all__ = ["html_blocks", "readability_blocks", "trafilatura_blocks"]

# trafilatura's body vocabulary -> our block kinds
_KIND = {"p": "p", "head": "head", "list": "item", "quote": "quote", "table": "row"}


def trafilatura_blocks(tree, fast: bool = True) -> list[Block]:
    """trafilatura's body of ``tree`` (left intact), one Block per rendered line."""
    body = body_tree(tree, fast)
    blocks: list[Block] = []
    if body is None:
        return blocks
    if body.text and body.text.strip():
        blocks.append(Block(collapse_space(body.text), "p"))
    for child in body:
        if child.tag == "table" and _is_layout_table(child):
            blocks.extend(_cell_blocks(child))
            continue
        kind = _KIND.get(child.tag, "other")
        for line in render_lines(child):
            line = collapse_space(line)
            if line:
                blocks.append(Block(line, kind))
    return blocks


_PARAGRAPH_WORDS = 40


def _is_layout_table(table) -> bool:
    """A table that lays out a page rather than holding data: a cell holds a paragraph's
    worth of running text."""
    return any(len(" ".join(cell.itertext()).split()) >= _PARAGRAPH_WORDS for cell in table.iter("cell"))


def _cell_blocks(table) -> list[Block]:
    """A layout table's cells as paragraphs (a data table's rows stay one line each)."""
    blocks = []
    for cell in table.iter("cell"):
        texts = [cell.text]
        for part in cell:
            texts += ["".join(part.itertext()), part.tail]
        blocks += [Block(collapse_space(text), "p") for text in texts if text and text.strip()]
    return blocks


_BLOCK_TAGS = frozenset(("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "td", "th", "dd", "dt",
                         "figcaption", "pre", "section", "article", "table", "tr", "ul", "ol", "main", "header",
                         "footer", "figure", "aside", "form", "dl", "center", "tbody", "thead", "br", "hr", "address"))
_HTML_KIND = {"h1": "head", "h2": "head", "h3": "head", "h4": "head", "h5": "head", "h6": "head", "li": "item",
              "dd": "item", "dt": "item", "blockquote": "quote"}
_NOT_TEXT = frozenset(("script", "style", "template"))


_CLOSE = object()


def html_blocks(root) -> list[Block]:
    """The lines a browser shows for the HTML element ``root``: the text of each block
    element (a ``<br>`` ends a line too), whitespace collapsed."""
    blocks: list[Block] = []
    parts: list[str] = []

    def flush(kind: str) -> None:
        text = collapse_space("".join(parts))
        parts.clear()
        if text:
            blocks.append(Block(text, kind))

    # iterative walk (hostile pages nest deeper than Python's recursion limit): the stack
    # holds elements to open, (_CLOSE, kind) marks where a block element ends, and tails
    stack: list = [(root, "p")]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        el, kind = item
        if el is _CLOSE:
            flush(kind)
            continue
        tag = el.tag if isinstance(el.tag, str) else ""
        inner = kind
        if el is not root and el.tail:
            stack.append(el.tail)
        if tag in _BLOCK_TAGS:
            flush(kind)
            inner = _HTML_KIND.get(tag, kind)
            stack.append((_CLOSE, inner))
        if tag and tag not in _NOT_TEXT:
            stack.extend((child, inner) for child in reversed(el))
            if el.text:
                parts.append(el.text)
    flush("p")
    return blocks


def readability_blocks(tree) -> list[Block]:
    """readability-lxml's article summary of ``tree`` (left intact), as blocks."""
    summary = summary_html(tree)
    if not summary.strip():
        return []
    return html_blocks(fromstring(summary))
