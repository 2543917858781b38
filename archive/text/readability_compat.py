"""The one place newsarchive touches readability-lxml (checked against readability-lxml 0.9).

``Document(...).summary(html_partial=True)`` is its public API. ``Document`` also takes a
parsed lxml tree (it skips its own parse then) and edits that tree while it works, so we
hand it a copy. ``tests/test_library_seams.py`` checks both, so an upgrade that changes
them fails there first.
"""
from __future__ import annotations

import copy

__all__ = ["CHECKED_VERSION", "summary_html"]

CHECKED_VERSION = "0.9"


def summary_html(tree) -> str:
    """readability-lxml's article summary of ``tree`` (left intact), as an HTML fragment
    ("" when it finds nothing or cannot read the page)."""
    from readability import Document  # imported on first use: most pages never need it
    try:
        return Document(copy.deepcopy(tree)).summary(html_partial=True) or ""
    except ValueError:  # its Unparseable, for pages it cannot score
        return ""
