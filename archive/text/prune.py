"""What is not the article by its markup leaves the tree before any extractor sees it.

- What a reader cannot see: the ``hidden`` attribute, ``aria-hidden="true"``, an inline
  ``display:none`` or ``visibility:hidden``, ``<template>`` and ``<noscript>`` (the one a
  script fills in, the other a copy for browsers without scripts).
- Forms for the reader's input (a ``<form>`` holding a text box): comment, login,
  newsletter and search forms, with their instructions and policy lines.

An element that is the page itself, not a box on it, stays: one that holds the page's own
``<h1>``, ``<article>`` or ``<main>``, or at least half of both its text and its links (an
old layout without those elements). That is a page a script reveals, or a site that wraps
every page in one form.

:func:`drop_furniture` is a later step (the page's link texts and breadcrumbs are read
first): navigation, footers, scripts, styles, drawings, controls and frames.
"""
from __future__ import annotations

import re

from lxml import etree

__all__ = ["drop_furniture", "prune_page"]

_HIDING_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\s*(?:!important\s*)?(?:;|$)",
                           re.I)
_NEVER_DROPPED = frozenset(("html", "body", "head"))
_ALWAYS_INVISIBLE = ("template", "noscript")
_PAGE_MARKERS = ("h1", "article", "main")
_TEXT_INPUTS = frozenset(("", "text", "email", "search", "password", "url", "tel"))


def _is_hidden(el) -> bool:
    if el.get("hidden") is not None:
        return True
    if (el.get("aria-hidden") or "").strip().lower() == "true":
        return True
    style = el.get("style")
    return bool(style) and ("none" in style or "hidden" in style) and _HIDING_STYLE.search(style) is not None


def _is_input_form(form) -> bool:
    if next(form.iter("textarea"), None) is not None:
        return True
    return any((field.get("type") or "").strip().lower() in _TEXT_INPUTS for field in form.iter("input"))


class _Page:
    """The whole page's text length and link count, measured once and only if asked."""

    def __init__(self, tree) -> None:
        self.tree = tree
        self._size: tuple[int, int] | None = None

    def held_by(self, el) -> bool:
        """Whether ``el`` is the page itself rather than a box on it."""
        if next(el.iter(*_PAGE_MARKERS), None) is not None:
            return True
        if self._size is None:
            self._size = (len(self.tree.text_content()), sum(1 for _ in self.tree.iter("a")))
        text, links = self._size
        return 2 * len(el.text_content()) >= text and 2 * sum(1 for _ in el.iter("a")) >= links


# the attributes that can hide an element, each as a (smart) string that knows its element
_HIDING_ATTRIBUTES = etree.XPath("//@hidden|//@aria-hidden|//@style")


def prune_page(tree) -> int:
    """Remove from ``tree`` (in place) what is not the article by its markup; returns how
    many elements went (their tails, text that follows them, stay)."""
    doomed = list(tree.iter(_ALWAYS_INVISIBLE))
    doomed += [form for form in tree.iter("form") if _is_input_form(form)]
    for attribute in _HIDING_ATTRIBUTES(tree):
        el = attribute.getparent()
        if el.tag not in _NEVER_DROPPED and _is_hidden(el):
            doomed.append(el)
    page = _Page(tree)
    dropped = 0
    for el in doomed:
        if el.getparent() is None or (el.tag not in _ALWAYS_INVISIBLE and page.held_by(el)):
            continue
        el.drop_tree()
        dropped += 1
    return dropped


# the page's furniture: in no template is any of it the article (the head is read before)
_FURNITURE = ("head", "nav", "footer", "script", "style", "svg", "select", "button", "iframe")


def drop_furniture(tree) -> None:
    """Remove the head, navigation, footers, scripts, styles, drawings, controls and frames
    from ``tree`` (in place; the text that follows each stays). Every extractor drops them
    anyway; without them there is a third less of a news page for each to walk."""
    etree.strip_elements(tree, *_FURNITURE, with_tail=False)
