"""Text that holds up on layouts we never tuned on: what a reader cannot see, comment forms,
table layouts, paragraphs without <p>, pull quotes, and the choice among candidates."""
from __future__ import annotations

import html

from lxml.html import fromstring

from archive.text.choose import FITTED, Policy, gather_evidence
from archive.text.extract import _parse, article_body, candidate_texts
from archive.text.prune import prune_page

URL = "https://www.valleyledger.example/2023/05/09/water-board-approves-new-reservoir"
HEADLINE = "Water Board Approves New Reservoir After Two Dry Summers"
PARAGRAPHS = [
    "The regional water board voted on Tuesday to build a reservoir in the upper valley, ending a dispute "
    "that has divided farmers and town residents since the wells ran low two summers ago.",
    "The reservoir will hold enough water for eighteen months of the valley's needs, the board's engineer "
    "said, and its dam will be built on land the board bought from three families last winter.",
    "Farmers had asked for the reservoir since the drought began, while town residents objected to the "
    "cost, which the board now puts at forty million over six years, paid for by a levy on every meter.",
    "Board member Tomas Eriksen, who voted against the plan, said the levy would fall hardest on pensioners "
    "and that the board had not studied whether repairing the old canals would save as much water.",
    "Construction is to begin next spring, after an environmental review that the board expects to "
    "finish in February, and the first water could be stored by the autumn of the following year.",
]
NOTICE = ("Your trial has ended. Create an account or sign in to continue reading this story and every "
          "other story on our site, with full access to the archive, the morning briefing and the puzzles. ")
FORM_LINES = [
    "Your email address will not be published. Required fields are marked with an asterisk and must be filled in.",
    "Comments are reviewed before they appear on the site. Keep your comment civil and on topic, do not post "
    "personal information about others, and remember that what you write may be quoted in print editions.",
    "By submitting a comment you accept that the newspaper may edit it for length and that your display name "
    "will be shown next to it, as described in the privacy statement that governs all reader contributions.",
]


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def page(article: str, *, before: str = "", after: str = "") -> str:
    services = "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in
                       ("Subscribe", "E-edition", "Obituaries", "Classifieds", "Contact", "Advertise"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(HEADLINE)} | Valley Ledger</title>
<link rel="canonical" href="{URL}"></head>
<body><header><a href="/">Valley Ledger</a><nav><ul>{services}</ul></nav></header>
{before}<main><h1>{esc(HEADLINE)}</h1>{article}</main>{after}
<footer><p>Valley Ledger, 12 Mill Street. All rights reserved.</p></footer></body></html>"""


def paragraphs_html() -> str:
    return "".join(f"<p>{esc(p)}</p>" for p in PARAGRAPHS)


def assert_is_the_article(body: str) -> None:
    for paragraph in PARAGRAPHS:
        assert paragraph in body, (paragraph[:40], body[:300])


def test_hidden_paywall_notice_longer_than_the_article_is_not_the_article():
    for hiding in ('hidden', 'aria-hidden="true"', 'style="display: none"', 'style="visibility:hidden;"'):
        notice = f'<div class="gate" {hiding}>' + "".join(f"<p>{esc(NOTICE * 3)}</p>" for _ in range(6)) + "</div>"
        assert len(notice) > 2 * len(paragraphs_html())
        body = article_body(page(f"<article>{notice}{paragraphs_html()}</article>"), URL)
        assert_is_the_article(body)
        assert "trial has ended" not in body, hiding
    # <template> and <noscript> copies are not the article either
    body = article_body(page(f"<article><noscript><p>{esc(NOTICE * 4)}</p></noscript>{paragraphs_html()}"
                             f"<template><p>{esc(NOTICE * 4)}</p></template></article>"), URL)
    assert_is_the_article(body)
    assert "trial has ended" not in body


def test_a_page_a_script_reveals_keeps_its_text():
    # the whole article hidden until a script shows it: that is the article, not a notice
    body = article_body(page(f'<div id="app" style="display:none"><article>{paragraphs_html()}</article></div>'), URL)
    assert_is_the_article(body)


def test_pruning_keeps_the_text_around_what_it_drops():
    tree = fromstring('<html><body><p>before <span hidden>secret</span>after</p><p aria-hidden="false">shown</p>'
                      '<form action="/search"><input type="search" name="q"><button>Find</button></form>'
                      '<form action="/vote"><button name="v" value="1">Vote</button></form></body></html>')
    assert prune_page(tree) == 2
    assert tree.text_content() == "before after" + "shown" + "Vote"


def test_comment_form_after_the_article_is_not_kept():
    form = ('<div id="respond"><h3>Leave a Reply</h3><form action="/comments" method="post">'
            + "".join(f"<p>{esc(line)}</p>" for line in FORM_LINES)
            + '<textarea name="comment"></textarea><p><input type="submit" value="Post"></p></form></div>')
    body = article_body(page(f"<article>{paragraphs_html()}</article>", after=form), URL)
    assert_is_the_article(body)
    assert not any(line[:30] in body for line in FORM_LINES)
    # and a page where the article is one paragraph and the form holds more text
    short = article_body(page(f"<article><p>{esc(PARAGRAPHS[0])}</p></article>", after=form), URL)
    assert PARAGRAPHS[0] in short
    assert not any(line[:30] in short for line in FORM_LINES)


def test_table_layout_page():
    cell = "".join(f'<font face="Arial" size="2">{esc(p)}</font><br><br>' for p in PARAGRAPHS)
    menu = "".join(f'<a href="/s{i}">Section {i}</a><br>' for i in range(12))
    layout = (f'<table width="760"><tr><td width="160" valign="top">{menu}</td>'
              f'<td width="600" valign="top"><b>{esc(HEADLINE)}</b><br><br>{cell}</td></tr></table>')
    old = (f"<html><head><title>{esc(HEADLINE)}</title></head><body bgcolor=\"#ffffff\">{layout}"
           f"<center><font size=\"1\">Copyright Valley Ledger</font></center></body></html>")
    body = article_body(old, URL)
    assert_is_the_article(body)
    assert "Section 3" not in body


def test_paragraphs_marked_up_as_divs():
    divs = "".join(f'<div class="para">{esc(p)}</div>' for p in PARAGRAPHS)
    teasers = "".join(f"<p>{esc(t)}</p>" for t in (
        "Read the morning briefing every weekday for the valley's news in five minutes or less.",
        "The Ledger's photographers pick their favourite pictures of the month in a new weekly gallery."))
    body = article_body(page(f'<div class="story">{divs}</div>', after=f"<aside>{teasers}</aside>"), URL)
    assert_is_the_article(body)


def test_pull_quote_kept_unless_the_body_holds_its_text():
    quote = "The levy will fall hardest on pensioners"
    edited = quote + ", and we have not even looked at the canals"
    said = PARAGRAPHS[:3] + [f'"{quote}," board member Tomas Eriksen said after the vote on Tuesday.'] + PARAGRAPHS[3:]

    def with_pull_quote(text: str, tag: str) -> str:
        ps = [f"<p>{esc(p)}</p>" for p in said]
        ps.insert(2, f'<{tag} class="pullquote"><p>{esc(text)}</p></{tag}>')
        return page(f"<article>{''.join(ps)}</article>")

    for tag in ("blockquote", "aside", "div"):
        repeated = article_body(with_pull_quote(quote, tag), URL)
        assert repeated.count(quote) == 1, tag  # the repeat of the body is not counted twice
        changed = article_body(with_pull_quote(edited, tag), URL)
        assert edited in changed, tag  # an edit to the quote alone shows in the text
        assert changed.index(edited) < changed.index(said[2])


def test_the_choice_escalates_only_on_doubt_and_picks_the_prose():
    good = _parse(page(f"<article>{paragraphs_html()}</article>"))
    evidence, texts = candidate_texts(page(f"<article>{paragraphs_html()}</article>"), URL)
    assert not evidence.doubtful(FITTED) and evidence.pick(FITTED) == 0
    assert_is_the_article(texts[0])
    # a body that leaves out most of the page's prose is doubtful; the candidate that
    # holds the prose wins
    from archive.text.boilerplate import Block
    menu = [Block(w) for w in ("Subscribe", "E-edition", "Obituaries", "Classifieds")]
    article = [Block(p) for p in PARAGRAPHS]
    doubtful = gather_evidence(good, menu, [article])
    assert doubtful.doubtful(FITTED) and doubtful.pick(FITTED) == 1
    # a policy that never escalates keeps the cheap body
    assert not doubtful.doubtful(Policy(outside_share=1.0, short_share=1.0, margin=0.0)) or doubtful.cheap.words == 0


def test_an_old_page_wrapped_in_one_form_or_hidden_until_a_script_runs_keeps_its_text():
    # no <h1>, <article> or <main>: the wrapper holds most of the page's text and links
    cell = "".join(f"{esc(p)}<br><br>" for p in PARAGRAPHS)
    menu = "".join(f'<a href="/s{i}">Section {i}</a><br>' for i in range(8))
    layout = (f'<table><tr><td>{menu}</td><td><b>{esc(HEADLINE)}</b><br><br>{cell}</td></tr></table>'
              '<p><a href="/about">About us</a> <a href="/contact">Contact</a></p>')
    wrapped = f'<form name="aspnetForm" method="post" action="story.aspx"><input type="text" name="q">{layout}</form>'
    for page_html in (wrapped, f'<div id="page" style="display:none">{layout}</div>'):
        body = article_body(f"<html><head><title>{esc(HEADLINE)}</title></head><body>{page_html}</body></html>", URL)
        assert_is_the_article(body)
