"""Article extraction: clean bodies, decoding, metadata, links (archive.text.extract and helpers).

Every page here is generated in this file: templates that carry each kind of boilerplate
the old crawler let through (see ../shared/examples: donation appeals, newsletter boxes,
"RECENT STORIES" lists, the headline printed twice, "Read more" / "Continue" / "×",
share buttons, bylines, photo credits), around invented article text.
"""
from __future__ import annotations

import html
import pickle
import re

import pytest

from archive.text.boilerplate import Block, PageContext, classify_blocks, index_anchors, link_coverage, text_key
from archive.text.encoding import decode_html, detect_encoding
from archive.text.extract import Article, article_body, extract_article
from archive.text.metadata import clean_authors, clean_title, date_from_url, guess_language, normalize_date

OUTLET = "The Harbour Times"
HEADLINE = "Port Authority Rejects Ferry Fare Proposal After Winter Storms"
PARAGRAPHS = [
    "The port authority on Friday turned down a proposal to raise ferry fares by a fifth, saying the winter "
    "storms had already cost island residents enough and that the operator must find savings elsewhere.",
    "Board chair Miriam Okafor told reporters that the operator's request arrived only two weeks before the "
    "new timetable, leaving no room for the public consultation that the harbour charter requires.",
    "The operator, Northsound Ferries, says fuel and repair costs rose sharply after three vessels were "
    "damaged in January, and that without higher fares it would have to cancel the late evening crossings.",
    "Island councillors welcomed the decision but warned that cancelled crossings would hurt nurses, "
    "students and shift workers who rely on the last boat home, and asked the authority to cover the gap.",
    "A revised proposal is expected in March, when the authority will also publish an audit of the "
    "operator's maintenance spending since the contract was renewed in 2019.",
]
CAPTION = "Passengers board the morning ferry at the north pier on Tuesday. Lena Marsh / Harbour Photo Agency"
RELATED = "Storm Damage Leaves Three Ferries Out of Service"
URL = "https://www.harbourtimes.example/2024/02/16/port-authority-rejects-ferry-fare-proposal"

# the boilerplate of ../shared/examples, in this outlet's words
BOILERPLATE = [
    f"Support {OUTLET}!",
    "Sign up for our free weekly newsletter",
    f"Our weekly newsletter brings a hand-picked selection of news, features and analysis from {OUTLET}. "
    "It lands in your mailbox every Friday.",
    "Subscribers agree to the Privacy Policy",
    f"A Message from {OUTLET}:",
    "Dear readers,",
    "Independent reporting on the islands has never been harder to fund, and the storms this winter have "
    "cut our advertising income by half.",
    "Your support, no matter how small, makes a world of difference. If you can, please support us monthly "
    "starting from just $2. It's quick to set up, and every contribution counts.",
    f"By supporting {OUTLET}, you're defending independent journalism. Thank you for standing with us.",
    "Not ready to support today?",
    "Remind me later.",
    "paiment methods",
    "RECENT STORIES",
    "Share on Facebook",
    "Read more",
]
LAYOUT_WORDS = ["Once", "Monthly", "Annual", "Continue", "×", "Tweet"]
RECENT = [
    "Lighthouse Keepers Return To The Outer Rocks For The First Time In Forty Years...",
    "Council Approves New Cycle Lane Along The Harbour Wall",
    "Fishing Fleet Stays In Port As Gale Warnings Extend Into The Weekend",
]


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def story_page(*, neutral: bool = False, inline: bool = False) -> str:
    """A news article in the template of the old crawler's examples.

    ``neutral``: class names that say nothing (no "newsletter", "related"...), so the
    boilerplate must be recognised by its text. ``inline``: every box inside the
    article's own container, between and after the paragraphs.
    """
    def cls(semantic: str, plain: str) -> str:
        return plain if neutral else semantic

    body = "".join(f"<p>{esc(p)}</p>" for p in PARAGRAPHS[:2])
    body += (f'<p>Related article: <a href="/2024/02/02/storm-damage-ferries">{esc(RELATED)}</a></p>'
             f'<p>{esc(PARAGRAPHS[2][:40])}<a href="https://www.northsound.example/notices/fares">'
             f'{esc(PARAGRAPHS[2][40:90])}</a>{esc(PARAGRAPHS[2][90:])}</p>')
    body += "".join(f"<p>{esc(p)}</p>" for p in PARAGRAPHS[3:])
    share = (f'<div class="{cls("share-buttons", "u5")}"><a href="https://facebook.example/share">Share on Facebook</a>'
             f' <a href="https://twitter.example/share">Tweet</a></div>')
    newsletter = (f'<div class="{cls("newsletter-box", "q9")}"><h3>{esc(BOILERPLATE[1])}</h3><p>{esc(BOILERPLATE[2])}'
                  f' <a href="/newsletter/preview">Preview</a></p><form><input type="email"><button>Go</button></form>'
                  f'<p>Subscribers agree to the <a href="/privacy">Privacy Policy</a></p></div>')
    appeal = (f'<div class="{cls("contribute", "z4")}"><p><b>{esc(BOILERPLATE[4])}</b></p><p>{esc(BOILERPLATE[5])}</p>'
              + "".join(f"<p>{esc(t)}</p>" for t in BOILERPLATE[6:9])
              + '<div><a href="#once">Once</a> <a href="#monthly">Monthly</a> <a href="#annual">Annual</a></div>'
              + '<p><a href="/contribute">Continue</a></p><p>paiment methods</p>'
              + '<p>Not ready to support today?<br><a href="#later">Remind me later.</a></p></div>')
    recent = (f'<div class="{cls("recent-stories", "r2")}"><h3>RECENT STORIES</h3><ul>'
              + "".join(f'<li><a href="/2024/02/1{i}/story-{i}">{esc(t)}</a><p>{esc(t)}</p></li>'
                        for i, t in enumerate(RECENT))
              + "</ul></div>")
    boxes = share + newsletter + appeal + '<p>×</p><p><a href="/news">Read more</a></p>' + recent
    if inline:
        container = f'<div class="{cls("story-body", "t3")}">{body}{boxes}</div>'
        after = ""
    else:
        container = f'<div class="{cls("story-body", "t3")}">{body}</div>'
        after = boxes
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(HEADLINE)} - {OUTLET}</title>
<meta property="og:site_name" content="{OUTLET}">
<meta name="description" content="{esc(PARAGRAPHS[0])}">
</head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/business">Business</a></nav>
<div class="{cls('support-banner', 'b7')}"><a href="/contribute">{esc(BOILERPLATE[0])}</a></div></header>
<main><article class="{cls('article', 'a1')}">
<h1>{esc(HEADLINE)}</h1>
<h2>{esc(HEADLINE)}</h2>
<div class="{cls('byline', 'm2')}">By <a href="/authors/jane-doe">Jane Doe</a> | Updated: Friday, February 16, 2024, 05:06 PM</div>
<figure><img src="/img/ferry.jpg" alt="article-image"><figcaption>{esc(CAPTION)}</figcaption></figure>
{container}{after}
</article></main>
<footer><p>© 2024 {OUTLET}. All rights reserved.</p><a href="/about">About us</a></footer>
</body></html>"""


def assert_clean(body: str) -> None:
    for phrase in BOILERPLATE + RECENT:
        assert phrase not in body, phrase
    lines = body.split("\n\n")
    for word in LAYOUT_WORDS:
        assert word not in lines, word
    assert "article-image" not in body and "Jane Doe" not in body and "Updated:" not in body
    assert "All rights reserved" not in body and RELATED not in body
    assert HEADLINE not in body


@pytest.mark.parametrize("neutral", [False, True], ids=["semantic-classes", "neutral-classes"])
@pytest.mark.parametrize("inline", [False, True], ids=["boxes-after", "boxes-inside"])
def test_story_template_comes_out_clean(neutral, inline):
    body = article_body(story_page(neutral=neutral, inline=inline), URL)
    assert_clean(body)
    assert body.split("\n\n") == [CAPTION] + PARAGRAPHS


def test_body_format_one_blank_line_between_paragraphs():
    page = story_page().replace(esc(PARAGRAPHS[1]), "Board chair  Miriam\n   Okafor\ttold reporters that the request came late.")
    body = article_body(page, URL)
    assert "\n\n\n" not in body and not body.startswith("\n") and not body.endswith("\n")
    assert "Board chair Miriam Okafor told reporters that the request came late." in body.split("\n\n")


def test_headline_printed_twice_and_lead_repeated_as_teaser():
    """The Free Press Journal rendering: headline twice, the lead as a standfirst, byline glued to a date."""
    lead = PARAGRAPHS[0]
    page = f"""<html><head><title>{esc(HEADLINE)} | Free Coast Journal</title>
    <meta name="description" content="{esc(lead)}"></head><body><div class="w">
    <h1>{esc(HEADLINE)}</h1><p>{esc(HEADLINE)}</p>
    <p>{esc(lead)}</p>
    <p>Coast News Service<span>Updated: Friday, February 16, 2024, 05:06 PM IST</span></p>
    <p>article-image</p><p>Photo by Lena Marsh from Pexels</p>
    <p>HARBOURTON: {esc(lead)}</p>{"".join(f"<p>{esc(p)}</p>" for p in PARAGRAPHS[1:])}
    <p>RECENT STORIES</p>{"".join(f'<div><a href="/s/{i}">{esc(t)}</a></div><div>{esc(t)}</div>' for i, t in enumerate(RECENT))}
    </div></body></html>"""
    body = article_body(page, "https://coastjournal.example/world/ferry-fares")
    assert body.split("\n\n") == [f"HARBOURTON: {lead}"] + PARAGRAPHS[1:]


def test_donation_box_before_the_headline():
    page = f"""<html><head><title>{esc(HEADLINE)}</title></head><body><div class="c1">
    <p>×</p><p>Enjoying ad-free content?</p>
    <p>Since March 2023 we have switched off all ads to make reading easier.</p>
    <p>This commitment costs us $8,000 a month. Your support can help us fill the gap.</p>
    <p><a href="/give">Support us</a></p>
    <p>Our reporting is blocked on the mainland. We need your help to keep it going.</p>
    <h1>{esc(HEADLINE)}</h1>{"".join(f"<p>{esc(p)}</p>" for p in PARAGRAPHS)}
    <p>… we have a small favor to ask. For thirty years {OUTLET} has reported from the islands without a
    sponsor, and this winter has been the hardest yet for a small newsroom like ours.</p>
    <p>{esc(BOILERPLATE[7])}</p><p>paiment methods</p><p>Not ready to support today?</p>
    <p>Remind me later.</p><p><a href="/news">Read more</a></p></div></body></html>"""
    assert article_body(page, URL).split("\n\n") == PARAGRAPHS


def test_caption_and_body_kept_credit_only_line_dropped():
    page = story_page().replace(esc(CAPTION), "Photo by Lena Marsh from Pexels")
    body = article_body(page, URL)
    assert "Pexels" not in body and body.split("\n\n") == PARAGRAPHS


def test_classify_blocks_reasons():
    ctx = PageContext(titles={text_key(HEADLINE)}, anchors=index_anchors([text_key(RECENT[0]), text_key(RECENT[1])]), anchor_keys={text_key(RECENT[0]), text_key(RECENT[1])})
    blocks = [Block(HEADLINE, "head"), Block("By Jane Doe and John Roe"), Block(PARAGRAPHS[0]),
              Block("READ MORE: Storm damage leaves ferries out of service"), Block(PARAGRAPHS[1]),
              Block("Sign up for our free weekly newsletter"), Block("Follow us on Twitter and Facebook"),
              Block("© 2024 The Harbour Times. All rights reserved."), Block("Getty Images"),
              Block("Updated: Feb. 16, 2024 5:06 PM"), Block("Related stories", "head"),
              Block(RECENT[0], "item"), Block(RECENT[1], "item")]
    reasons = classify_blocks(blocks, ctx)
    assert reasons[0] == "headline" and reasons[1] == "byline" and reasons[2] is None and reasons[4] is None
    assert reasons[3] == "teaser" and reasons[5] == "cta" and reasons[6] == "cta"
    assert reasons[7] == "copyright" and reasons[8] == "credit" and reasons[9] == "byline"
    assert all(reasons[10:])


def test_ordinary_sentences_about_subscriptions_and_dates_are_kept():
    ctx = PageContext()
    keep = ["The streaming service said its subscriber numbers rose by a tenth in the last quarter of 2023.",
            "Residents can sign up for the ferry discount scheme at the harbour office until March.",
            "On 16 February 2024 the board met for the third time this year.",
            "The newsletter industry has grown quickly, with writers leaving newspapers to publish on their own.",
            "4:14 p.m.", "| 29 November 2018 | 20 January 2019 |"]
    blocks = [Block(t, "row" if t.startswith("|") else "p") for t in keep]
    assert classify_blocks(blocks, ctx) == [None] * len(keep)


def test_link_coverage():
    anchors = index_anchors([text_key("Storm damage"), text_key("three ferries")])
    assert link_coverage(text_key("Storm damage"), anchors) == 1.0
    assert 0.3 < link_coverage(text_key("Storm damage leaves three ferries idle"), anchors) < 1.0
    assert link_coverage(text_key("Nothing linked here"), anchors) == 0.0


# --------------------------------------------------------------------------- non-English

RU_TITLE = "Городской совет утвердил новый маршрут парома"
RU_PARAGRAPHS = [
    "Городской совет в пятницу утвердил новый маршрут парома между северным причалом и островом, "
    "несмотря на возражения части депутатов, которые требовали сначала провести общественные слушания.",
    "По словам председателя совета Марины Орловой, новый маршрут сократит время в пути почти на двадцать "
    "минут и позволит перевозчику отказаться от одного из двух ночных рейсов.",
    "Перевозчик обещает запустить маршрут в апреле, когда завершится ремонт причала, пострадавшего от "
    "зимних штормов, и будет опубликован новый график движения.",
]


def russian_page(charset_tag: str = '<meta charset="utf-8">') -> str:
    return f"""<html><head>{charset_tag}<title>{RU_TITLE} — Островные новости</title></head><body>
    <nav><a href="/">Главная</a> <a href="/news">Новости</a></nav><article><h1>{RU_TITLE}</h1>
    <p>Автор: Иван Петров</p>
    {"".join(f"<p>{p}</p>" for p in RU_PARAGRAPHS[:2])}
    <p>Читайте также: <a href="/2024/02/10/staryi-parom">Старый паром отправили на ремонт</a></p>
    <p>{RU_PARAGRAPHS[2]}</p>
    <p>Подписывайтесь на наш канал в Telegram</p>
    <p>Поделиться</p></article><footer>© 2024 Островные новости. Все права защищены.</footer></body></html>"""


def test_russian_page_clean_and_language():
    article = extract_article(russian_page(), "https://ostrov.example/2024/02/16/novyi-marshrut")
    assert article.body.split("\n\n") == RU_PARAGRAPHS
    assert article.title == RU_TITLE
    assert article.language == "ru"  # no lang attribute: guessed from the text


CJK_PAGES = {
    "ja": ("港湾局、フェリー運賃の値上げ案を却下", [
        "港湾局は金曜日、冬の嵐で島の住民はすでに十分な負担を強いられているとして、フェリー運賃を二割引き上げる案を却下した。",
        "運航会社は燃料費と修理費が大幅に増えたと説明しているが、理事会は他の方法で経費を削減するよう求めた。",
        "改定案は三月に提出される見通しで、港湾局は同時に運航会社の整備費に関する監査結果も公表する予定だ。"]),
    "zh": ("港务局否决渡轮票价上涨方案", [
        "港务局周五否决了将渡轮票价上调两成的方案，称冬季风暴已经让岛上居民承受了足够的负担。",
        "运营公司表示燃料和维修费用大幅上涨，但理事会要求其通过其他途径节省开支。",
        "修订后的方案预计将于三月提交，届时港务局还将公布对运营公司维修支出的审计结果。"]),
    "ko": ("항만청, 여객선 요금 인상안 거부", [
        "항만청은 금요일 겨울 폭풍으로 섬 주민들이 이미 충분한 부담을 지고 있다며 여객선 요금을 20퍼센트 올리는 안을 거부했다.",
        "운영사는 연료비와 수리비가 크게 늘었다고 설명했지만 이사회는 다른 방법으로 비용을 줄이라고 요구했다.",
        "수정안은 3월에 제출될 예정이며 항만청은 운영사의 정비 비용에 대한 감사 결과도 함께 발표할 계획이다."]),
}


@pytest.mark.parametrize("language", sorted(CJK_PAGES))
def test_cjk_pages(language):
    title, paragraphs = CJK_PAGES[language]
    page = (f"<html><head><meta charset='utf-8'><title>{title} | 島ニュース</title></head><body><article>"
            f"<h1>{title}</h1>{''.join(f'<p>{p}</p>' for p in paragraphs)}</article></body></html>")
    article = extract_article(page, f"https://news.example/{language}/2024/02/16/ferry")
    assert article.body.split("\n\n") == paragraphs
    assert article.title == title and article.language == language


# --------------------------------------------------------------------------- decoding

def test_windows_1251_charset_only_in_meta_charset():
    raw = russian_page('<meta charset="windows-1251">').encode("cp1251")
    for content_type in (None, "text/html", "text/html; charset=ISO-8859-1"):
        text = decode_html(raw, content_type)
        assert RU_PARAGRAPHS[0] in text, content_type
    assert extract_article(decode_html(raw, "text/html"), "https://ostrov.example/a").body.split("\n\n") == RU_PARAGRAPHS


def test_windows_1251_charset_only_in_meta_http_equiv():
    tag = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
    raw = russian_page(tag).encode("cp1251")
    assert RU_PARAGRAPHS[1] in decode_html(raw, None)
    assert RU_PARAGRAPHS[1] in decode_html(raw, "text/html")


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251", "koi8-r"])
def test_page_without_any_charset(encoding):
    raw = russian_page("").replace("—", "-").replace("©", "(c)").encode(encoding)
    for content_type in (None, "text/html", "text/html; charset=iso-8859-1"):
        assert RU_PARAGRAPHS[0] in decode_html(raw, content_type), (encoding, content_type)


def test_declarations_that_the_bytes_contradict():
    utf8_with_wrong_meta = russian_page('<meta charset="windows-1251">').encode("utf-8")
    assert RU_PARAGRAPHS[2] in decode_html(utf8_with_wrong_meta, "text/html; charset=windows-1251")
    cp1251_with_wrong_claim = russian_page('<meta charset="utf-8">').encode("cp1251")
    assert RU_PARAGRAPHS[2] in decode_html(cp1251_with_wrong_claim, "text/html; charset=utf-8")


def test_decoding_boms_and_legacy_encodings():
    assert decode_html("\ufeff<p>héllo</p>".encode("utf-8")) == "<p>héllo</p>"
    assert decode_html("<p>héllo</p>".encode("utf-16")) == "<p>héllo</p>"
    latin = "<html><head><meta charset='iso-8859-1'></head><body><p>Le président a déclaré</p></body></html>"
    assert "président" in decode_html(latin.encode("latin-1"))
    assert "président" in decode_html(latin.replace("<meta charset='iso-8859-1'>", "").encode("latin-1"))
    sjis = "<html><head><meta charset='shift_jis'></head><body><p>港湾局のニュース</p></body></html>"
    assert "港湾局のニュース" in decode_html(sjis.encode("shift_jis"))
    assert detect_encoding(b"<p>plain ascii</p>", "text/html; charset=utf-8") == "utf_8"


# --------------------------------------------------------------------------- metadata

JSONLD_PAGE = """<html lang="en-GB"><head><title>Ferry fares frozen | Harbour Times</title>
<meta property="og:title" content="Ferry fares frozen for another year">
<meta property="article:published_time" content="2024-02-01T10:00:00+00:00">
<link rel="canonical" href="/2024/02/16/ferry-fares-frozen">
<script type="application/ld+json">{"@graph": [
 {"@type": "WebSite", "@id": "#site", "name": "Harbour Times"},
 {"@type": "Person", "@id": "#jane", "name": "Jane Doe"},
 {"@type": "NewsArticle", "headline": "Ferry fares frozen for another year",
  "datePublished": "2024-02-16T09:30:00+01:00", "dateModified": "2024-02-16T14:05:10Z",
  "author": [{"@id": "#jane"}, {"@type": "Person", "name": "JOHN ROE, Transport Correspondent"},
             {"@type": "Organization", "name": "Harbour Times"}],
  "articleSection": ["Transport", "Islands"]},
 {"@type": "BreadcrumbList", "itemListElement": [
  {"@type": "ListItem", "position": 1, "name": "Home", "item": "https://harbourtimes.example/"},
  {"@type": "ListItem", "position": 2, "name": "Business", "item": "https://harbourtimes.example/business"}]}
]}</script></head><body><article><h1>Ferry fares frozen for another year</h1>
<p>The port authority froze ferry fares for another year on Friday, citing the storm damage.</p>
<p>It is the third year in a row that fares stay the same on every island route.</p></article></body></html>"""


def test_metadata_from_json_ld():
    article = extract_article(JSONLD_PAGE, "https://harbourtimes.example/2024/02/16/ferry-fares-frozen?utm=x")
    assert article.title == "Ferry fares frozen for another year"
    assert article.authors == ["Jane Doe", "John Roe"]
    assert (article.published, article.published_source) == ("2024-02-16T08:30:00Z", "jsonld")
    assert (article.modified, article.modified_source) == ("2024-02-16T14:05:10Z", "jsonld")
    assert article.section == "Transport"
    assert article.language == "en"
    assert article.canonical_url == "https://harbourtimes.example/2024/02/16/ferry-fares-frozen"


META_PAGE = """<html><head><title>Council approves cycle lane - Harbour Times</title>
<meta property="og:site_name" content="Harbour Times">
<meta property="og:locale" content="de_DE">
<meta name="author" content="By Anna Schmidt and Max Weber">
<meta property="article:published_time" content="2024-03-05T18:45:00-05:00">
<meta property="article:modified_time" content="2024-03-06">
<meta property="article:section" content="Local">
<link rel="canonical" href="https://harbourtimes.example/local/cycle-lane">
</head><body><nav class="breadcrumb"><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Council approves cycle lane</h1>
<p>Der Rat hat am Dienstag den neuen Radweg entlang der Hafenmauer genehmigt, der im Sommer fertig sein soll.</p>
<p>Die Kosten von zwei Millionen Euro teilen sich die Stadt und das Land, wie der Bürgermeister mitteilte.</p>
</article></body></html>"""


def test_metadata_from_meta_tags_only():
    article = extract_article(META_PAGE, "https://harbourtimes.example/local/cycle-lane?ref=rss")
    assert article.title == "Council approves cycle lane"
    assert article.authors == ["Anna Schmidt", "Max Weber"]
    assert (article.published, article.published_source) == ("2024-03-05T23:45:00Z", "meta")
    assert (article.modified, article.modified_source) == ("2024-03-06", "meta")
    assert article.section == "Local" and article.language == "de"
    assert article.canonical_url == "https://harbourtimes.example/local/cycle-lane"


def test_metadata_from_the_url_when_the_page_has_none():
    page = f"""<html><head><title>{esc(HEADLINE)} | {OUTLET}</title></head><body>
    <div class="crumbs"><a href="/">Home</a></div><div class="breadcrumb"><a href="/">Home</a> <a href="/islands">Islands</a></div>
    <article>{"".join(f"<p>{esc(p)}</p>" for p in PARAGRAPHS)}</article></body></html>"""
    article = extract_article(page, URL)
    assert article.title == HEADLINE
    assert (article.published, article.published_source) == ("2024-02-16", "url")
    assert (article.modified, article.modified_source) == (None, None)
    assert article.authors == [] and article.canonical_url is None
    assert article.section == "Islands" and article.language == "en"
    assert article.body.split("\n\n") == PARAGRAPHS


def test_no_date_anywhere():
    page = "<html><body><article>" + "".join(f"<p>{esc(p)}</p>" for p in PARAGRAPHS) + "</article></body></html>"
    article = extract_article(page, "https://harbourtimes.example/news/ferry-fares")
    assert article.published is None and article.published_source is None


@pytest.mark.parametrize("value, expected", [
    ("2024-02-16T09:30:00+01:00", "2024-02-16T08:30:00Z"),
    ("2024-02-16T23:30:00-05:00", "2024-02-17T04:30:00Z"),
    ("2024-02-16T09:30:00.123Z", "2024-02-16T09:30:00Z"),
    ("2024-02-16T09:30:00+0100", "2024-02-16T08:30:00Z"),
    ("2024-02-16 09:30:00", "2024-02-16"),  # local time of unknown zone: the date only
    ("2024-02-16", "2024-02-16"),
    ("20240216", "2024-02-16"),
    ("Fri, 16 Feb 2024 09:30:00 GMT", "2024-02-16T09:30:00Z"),
    ("February 16, 2024", "2024-02-16"),
    ("16 février 2024", "2024-02-16"),
    ("1708075800", "2024-02-16T09:30:00Z"),
    ("not a date", None), ("2024-13-45", None), ("0000-00-00", None),
])
def test_normalize_date(value, expected):
    assert normalize_date(value) == expected


@pytest.mark.parametrize("url, expected", [
    ("https://a.example/2024/02/16/slug", "2024-02-16"),
    ("https://a.example/news/2024-02-16-slug", "2024-02-16"),
    ("https://a.example/20240216/slug-123.html", "2024-02-16"),
    ("https://a.example/stories/2024/feb/16/slug/", "2024-02-16"),
    ("https://a.example/2024/02/slug", None), ("https://a.example/2024/13/40/slug", None), (None, None),
])
def test_date_from_url(url, expected):
    assert date_from_url(url) == expected


def test_clean_title_and_authors():
    sites = {"The Harbour Times", "harbourtimes"}
    assert clean_title(f"{HEADLINE} - The Harbour Times", sites) == HEADLINE
    assert clean_title(f"The Harbour Times | {HEADLINE}", sites) == HEADLINE
    assert clean_title(f"{HEADLINE} | Islands | Harbour", set()) == HEADLINE
    assert clean_title("Brexit - what happens next for the islands", sites) == "Brexit - what happens next for the islands"
    assert clean_authors(["By JANE DOE, AP Transport Writer", "https://social.example/jane", "Doe, Jane"]) == \
        ["Jane Doe", "Doe, Jane"]


def test_guess_language():
    assert guess_language(" ".join(PARAGRAPHS)) == "en"
    assert guess_language(" ".join(RU_PARAGRAPHS)) == "ru"
    assert guess_language("") is None


# --------------------------------------------------------------------------- links

def test_links_of_the_article_only():
    article = extract_article(story_page(neutral=True, inline=True), URL)
    assert article.links == ["https://www.harbourtimes.example/2024/02/02/storm-damage-ferries",
                             "https://www.northsound.example/notices/fares"]


def test_links_absolute_deduplicated_in_order():
    page = f"""<html><head><base href="https://www.harbourtimes.example/news/"></head><body>
    <nav><a href="/">Home</a><a href="/sport">Sport</a></nav><article><h1>{esc(HEADLINE)}</h1>
    <p>{esc(PARAGRAPHS[0][:50])} <a href="../reports/fares.pdf">the report</a> {esc(PARAGRAPHS[0][50:])}</p>
    <p>{esc(PARAGRAPHS[1][:50])} <a href="https://b.example/x#top">source</a> and <a href="../reports/fares.pdf">again</a>
    and <a href="mailto:desk@harbourtimes.example">mail</a> {esc(PARAGRAPHS[1][50:])}</p>
    <p>{esc(PARAGRAPHS[2])} <a href="javascript:void(0)">print</a> <a href="ftp://files.example/a">ftp</a></p>
    </article><aside><a href="https://ads.example/">Sponsored</a></aside></body></html>"""
    assert extract_article(page, URL).links == ["https://www.harbourtimes.example/reports/fares.pdf",
                                                "https://b.example/x#top"]


# --------------------------------------------------------------------------- interface

def test_article_is_picklable_and_deterministic():
    page = story_page(neutral=True)
    first, second = extract_article(page, URL), extract_article(page, URL)
    assert first == second and pickle.loads(pickle.dumps(first)) == first
    data = first.as_dict()
    assert set(data) == {"title", "body", "authors", "published", "published_source", "modified",
                         "modified_source", "language", "canonical_url", "section", "description", "site_name",
                         "links"}
    assert first.body == article_body(page, URL)
    assert first.title == HEADLINE


def test_page_as_str_with_an_xml_encoding_declaration():
    # lxml refuses a str that declares its encoding: the page is parsed from its bytes
    page = '<?xml version="1.0" encoding="utf-8"?>\n' + story_page(neutral=True)
    assert article_body(page, URL) == article_body(story_page(neutral=True), URL)
    assert extract_article(page, URL).title == HEADLINE


def test_forms_in_the_page_are_plain_elements():
    # the parser gives every element lxml.html's plain class (form fields included), and a
    # search form beside the article changes nothing of it
    from lxml.html import HtmlElement

    from archive.text.extract import _parse

    form = ('<form action="/search"><label for="q">Search</label><input id="q" name="q" value="ferry">'
            '<select name="s"><option>All</option></select><textarea name="t">x</textarea></form>')
    page = story_page(neutral=True).replace("<body>", "<body>" + form, 1)
    assert form in page
    tree = _parse(page.replace("<textarea", "<b", 1).replace('<input id="q" name="q" value="ferry">', "", 1))
    assert [el.tag for el in tree.iter("form")] == ["form"]  # not a form for input: not pruned
    assert {type(el) for el in tree.iter("form", "select", "label", "b")} == {HtmlElement}
    assert article_body(page, URL) == article_body(story_page(neutral=True), URL)


@pytest.mark.parametrize("page", ["", "   ", "<html></html>", "not html at all", "<p>x</p>" * 3,
                                  "<html><body><script>var a = 1;</script></body></html>"])
def test_degenerate_pages(page):
    article = extract_article(page, None)
    assert isinstance(article, Article) and isinstance(article.body, str)
    assert article_body(page) == article.body
    assert not re.search(r"\n{3,}", article.body)


def test_bench_script_without_the_benchmark_data(tmp_path, capsys):
    from tests.bench.extraction import command, main

    assert main(["--bench-dir", str(tmp_path / "missing")]) == 2
    assert "evaluate.py" in capsys.readouterr().err
    cmd = command(tmp_path, ["--worst", "3"])
    assert "archive.text.extract:article_body" in " ".join(cmd) and cmd[-2:] == ["--worst", "3"]


def test_pages_trafilatura_used_to_repair_still_extract():
    # invalid XML characters, an XHTML doctype, a one-line page, a self-closing <html/>
    page = story_page()
    xhtml = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN">'
    cases = [page.replace("<p>", "<p>\x0b", 1), page.replace("</p>", "\ufffe</p>", 1),
             page.replace("<!DOCTYPE html>", xhtml, 1), page.replace("\n", " "),
             page.replace('<html lang="en">', '<html lang="en"/>\n', 1)]
    for case in cases:
        body = article_body(case, URL)
        assert PARAGRAPHS[0] in body and PARAGRAPHS[-1] in body, case[:80]
        assert "\x0b" not in body and "\ufffe" not in body


def test_appended_infinite_scroll_stories_are_pruned():
    appended = "".join(f"<p>{esc(p)}</p>" for p in RECENT * 3)
    page = story_page().replace("</main>", f'</main><div class="infinite-scroll">{appended}</div>', 1)
    body = article_body(page, URL)
    assert PARAGRAPHS[0] in body and not any(t in body for t in RECENT)
