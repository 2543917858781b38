"""Stress variants of the extraction benchmark's pages: the failure modes seen on news
sites we never tuned on, injected into real pages whose true body is known.

Each variant keeps the page's true body and changes what surrounds it or how it is marked
up (all texts below are ours):

- ``hidden``: a long account/subscription notice the reader cannot see (``hidden``,
  ``aria-hidden="true"`` or inline ``display:none``) placed before the first paragraph;
- ``form``: a comment form (instructions, comment policy, privacy line) after the body;
- ``table``: an old table layout: the paragraphs become ``<br><br>``-separated text in a
  ``<td>``;
- ``divs``: paragraphs marked up as ``<div>``s instead of ``<p>``s.

A page gets a variant only where at least two of its ``<p>`` elements hold text of the
true body (the variants need to find the body to rearrange it).
"""
from __future__ import annotations

import random
import re
from typing import Iterator

import lxml.html
from lxml import etree

__all__ = ["VARIANTS", "variant"]

VARIANTS = ("hidden", "form", "table", "divs")

_NOTICE = (
    "You have reached your limit of free articles this month. Create a free account or log in to keep reading. "
    "Subscribers get unlimited access to every story, the daily briefing, the crossword and the archive going back "
    "decades. Your subscription supports the reporters and editors who produce this work. Already a member? Sign in "
    "with the email address you used when you registered. If you believe you are seeing this message in error, please "
    "contact customer care, available every day from seven in the morning until ten at night. Cancel anytime.")
_FORM = (
    "Leave a Reply",
    "Your email address will not be published. Required fields are marked *",
    "We welcome thoughtful comments from readers. Please keep comments on topic, be respectful of other readers and "
    "avoid personal attacks, profanity and links to commercial websites. Comments are moderated and may take some time "
    "to appear. By posting a comment you agree that we may publish it, edit it for length and clarity, and display "
    "your name alongside it in print and online.",
    "Save my name, email, and website in this browser for the next time I comment.",
    "This site reduces spam with an automated filter. Learn how your comment data is processed and stored, for how "
    "long, and who can read it.")
_HIDING = ({"hidden": "hidden"}, {"style": "display: none"}, {"aria-hidden": "true"})
_WORDS = re.compile(r"\w+")


def _key(text: str) -> str:
    return " ".join(_WORDS.findall(text.casefold()))


def _body_paragraphs(tree, truth: str) -> list:
    truth_key = _key(truth)
    return [p for p in tree.iter("p")
            if len(_key(p.text_content()).split()) >= 6 and _key(p.text_content()) in truth_key]


def _common_ancestor(elements: list):
    shared = set(elements[0].iterancestors())
    for el in elements[1:]:
        shared &= set(el.iterancestors())
    return next(a for a in elements[0].iterancestors() if a in shared)


def variant(html: str, truth: str, kind: str, rng: random.Random) -> str | None:
    """The page with the ``kind`` failure mode injected, or None where it cannot be."""
    tree = lxml.html.fromstring(html)
    paragraphs = _body_paragraphs(tree, truth)
    if len(paragraphs) < 2:
        return None
    if kind == "hidden":
        box = etree.Element("div", {"class": "account-gate", **rng.choice(_HIDING)})
        for _ in range(3):
            etree.SubElement(box, "p").text = _NOTICE
        paragraphs[0].addprevious(box)
    elif kind == "form":
        box = etree.Element("div", id="reply-box")
        etree.SubElement(box, "h3").text = _FORM[0]
        form = etree.SubElement(box, "form", action="/comments", method="post")
        for line in _FORM[1:]:
            etree.SubElement(form, "p").text = line
        etree.SubElement(form, "textarea", name="comment")
        _common_ancestor(paragraphs).addnext(box)
    elif kind == "table":
        table = etree.Element("table", width="100%")
        cell = etree.SubElement(etree.SubElement(table, "tr"), "td", width="80%")
        paragraphs[0].addprevious(table)
        for p in paragraphs:
            font = etree.SubElement(cell, "font", size="2")
            font.text = p.text
            font.extend(list(p))
            etree.SubElement(cell, "br")
            etree.SubElement(cell, "br")
            p.getparent().remove(p)
    elif kind == "divs":
        for p in paragraphs:
            p.tag = "div"
    else:
        raise ValueError(f"unknown variant {kind!r}")
    return lxml.html.tostring(tree, encoding="unicode", doctype="<!DOCTYPE html>")


def variants(pages, seed: int = 7) -> Iterator[tuple[str, object, str]]:
    """(kind, page, html) for every variant of every page that can have it."""
    rng = random.Random(seed)
    for kind in VARIANTS:
        for page in pages:
            html = variant(page.html, page.truth, kind, rng)
            if html is not None:
                yield kind, page, html
