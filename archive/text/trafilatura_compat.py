"""The one place newsarchive touches trafilatura (checked against trafilatura 2.3.1).

Everything here is trafilatura's public API: ``bare_extraction`` with an ``Extractor``
(the options object its signature takes) and ``xmltotxt`` (how ``extract`` renders its
XML body as text). ``tests/test_library_seams.py`` pins the behaviour we rely on: the input
tree is left intact, the body tree uses trafilatura's XML vocabulary (``p``, ``head``,
``list``/``item``, ``quote``, ``table``/``row``/``cell``), and the text rendering of a
known body. An upgrade that changes any of it fails those tests before it can change our
text files; re-run ``make bench-extract`` and update ``CHECKED_VERSION`` then.
"""
from __future__ import annotations

import trafilatura
from trafilatura.settings import Extractor
from trafilatura.xml import xmltotxt

__all__ = ["CHECKED_VERSION", "body_tree", "render_lines"]

CHECKED_VERSION = "2.3.1"

# Built once: building options reads trafilatura's config each time. No comments,
# tables kept, no links or metadata (ours is archive.text.metadata). The fast mode (the
# cheap candidate) skips the readability/jusText comparison and favours precision, which
# also skips trafilatura's recall retry: our own check of the page's prose coverage
# (archive.text.choose) decides when a body may be missing text. The full cascade (a
# second opinion) is trafilatura's default, balanced one.
_OPTIONS = {True: Extractor(output_format="txt", fast=True, precision=True, comments=False, tables=True),
            False: Extractor(output_format="txt", comments=False, tables=True)}


def body_tree(tree, fast: bool = True):
    """trafilatura's article body of ``tree`` (an lxml.html tree, left intact) as its XML
    body element, or None when it finds nothing."""
    document = trafilatura.bare_extraction(tree, options=_OPTIONS[fast])
    return document.body if document is not None else None


def render_lines(element) -> list[str]:
    """The text lines trafilatura renders for one element of its body tree."""
    return xmltotxt(element, False).split("\n")
