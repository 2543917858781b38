"""The seams to trafilatura and readability-lxml: each test fails when the upstream name or
behaviour our compat modules rely on changes (then re-run ``make bench-extract``)."""
from __future__ import annotations

import copy
from importlib.metadata import version

from lxml import etree
from lxml.html import fromstring

from archive.text import readability_compat, trafilatura_compat

PARAGRAPH = ("The harbour master said on Monday that the new breakwater would be finished before the winter "
             "storms, two years later than first promised and at twice the original cost to the town.")
PAGE = (f"<html><head><title>Breakwater</title></head><body><nav><a href='/'>Home</a></nav><article>"
        f"<h1>Breakwater finished</h1><p>{PARAGRAPH}</p><h2>Costs</h2><ul><li>Stone: four million</li>"
        f"<li>Labour: two million</li></ul><p>{PARAGRAPH}</p><blockquote><p>We are done, at last, "
        f"said the harbour master to the crowd.</p></blockquote><p>{PARAGRAPH}</p></article>"
        f"<footer>Town Gazette</footer></body></html>")


def test_pinned_versions_are_the_checked_ones():
    assert version("trafilatura") == trafilatura_compat.CHECKED_VERSION
    assert version("readability-lxml") == readability_compat.CHECKED_VERSION


def test_trafilatura_body_tree_vocabulary_and_input_left_intact():
    tree = fromstring(PAGE)
    before = etree.tostring(tree)
    for fast in (True, False):
        body = trafilatura_compat.body_tree(tree, fast)
        assert etree.tostring(tree) == before, "trafilatura edited the tree it was given"
        assert body is not None and body.tag == "body"
        tags = [child.tag for child in body]
        assert "p" in tags and "list" in tags and "quote" in tags, tags
        assert all(item.tag == "item" for item in body.find("list"))


def test_trafilatura_renders_lines_as_we_read_them():
    body = trafilatura_compat.body_tree(fromstring(PAGE), True)
    lines = [line for child in body for line in trafilatura_compat.render_lines(child) if line.strip()]
    assert lines[0] == "Breakwater finished" and lines[1] == PARAGRAPH
    assert "- Stone: four million" in lines and "- Labour: two million" in lines
    assert any("We are done, at last" in line for line in lines)


def test_trafilatura_finds_nothing_in_an_empty_page():
    assert trafilatura_compat.body_tree(fromstring("<html><body><div></div></body></html>"), True) is None


def test_readability_takes_a_tree_and_leaves_it_intact():
    tree = fromstring(PAGE)
    before = etree.tostring(tree)
    summary = readability_compat.summary_html(tree)
    assert etree.tostring(tree) == before, "readability edited the tree it was given"
    assert PARAGRAPH in " ".join(fromstring(summary).text_content().split())
    assert "Home" not in fromstring(summary).text_content()
    # it takes the tree as parsed (no second parse of a string): a copy scores the same
    assert readability_compat.summary_html(copy.deepcopy(tree)) == summary


def test_readability_gives_no_text_for_an_empty_page():
    summary = readability_compat.summary_html(fromstring("<html><body><div></div></body></html>"))
    assert not summary.strip() or not fromstring(summary).text_content().strip()
