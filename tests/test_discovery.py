"""Feed and sitemap parsing: links absolutised, canonicalised, dated."""
import gzip
import json

import pytest

from crawler.discovery import Anchor, ListingError, next_page_urls, parse_feed, parse_sitemap
from tests.demosite import SITEMAP_NS

BASE = "http://127.0.0.1:8001/rss.xml"


def test_rss_relative_links_tracking_and_duplicates():
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><link>/2024/01/01/a?utm_source=rss&amp;id=2</link><pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>
<item><link>http://127.0.0.1:8001/2024/01/01/a?id=2#c</link></item>
<item><link>javascript:alert(1)</link></item></channel></rss>"""
    listed, problem = parse_feed(body, BASE, "application/rss+xml")
    assert problem is None
    assert [l.url for l in listed] == ["http://127.0.0.1:8001/2024/01/01/a?id=2"] * 2
    assert listed[0].announced == "2024-01-01T10:00:00Z"


def test_atom_updated_and_json_feed():
    atom = b"""<feed><title>t</title>
<entry><title>x</title><link href="/2024/02/03/b"/><updated>2024-02-03T04:05:06+01:00</updated></entry></feed>"""
    [entry], _ = parse_feed(atom, BASE)
    assert entry.url == "http://127.0.0.1:8001/2024/02/03/b"
    assert entry.announced == "2024-02-03T03:05:06Z"
    feed = json.dumps({"items": [
        {"url": "/2024/03/04/c?fbclid=9", "date_modified": "2024-03-04T00:00:00Z"}, "junk"]}).encode()
    listed, _ = parse_feed(feed, BASE, "application/feed+json")
    assert [(l.url, l.announced) for l in listed] == [("http://127.0.0.1:8001/2024/03/04/c", "2024-03-04T00:00:00Z")]


def test_garbage_is_a_listing_error():
    with pytest.raises(ListingError):
        parse_feed(b"<html><body>not a feed", BASE, "text/html")
    with pytest.raises(ListingError):
        parse_feed(b"{not json", BASE, "application/json")
    with pytest.raises(ListingError):
        parse_sitemap(b"\x1f\x8bgarbage", BASE)


def test_malformed_feed_keeps_items_before_the_breakage_and_says_why():
    body = b"""<rss version="2.0"><channel><title>t</title>
<item><link>/2024/01/01/a</link></item>
<item><title>no link at all</title></item>
<item><link>/2024/01/01/b</link></item>
<item><link>/2024/01/01/c</link><title>broken & </wrong></item></channel></rss>"""
    listed, problem = parse_feed(body, BASE)
    assert [l.url.rsplit("/", 1)[1] for l in listed][:2] == ["a", "b"]
    assert BASE not in [l.url for l in listed], "an item without a link is not the feed's own URL"
    assert problem and "SAXParseException" in problem


def test_entities_are_never_expanded_or_resolved_and_are_reported():
    body = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY x SYSTEM "file:///etc/hostname">]><rss version="2.0"><channel><title>&b;&x;</title>
<item><title>&b;</title><link>/2024/05/03/bomb-1</link></item></channel></rss>"""
    listed, problem = parse_feed(body, BASE)
    assert [l.url for l in listed] == ["http://127.0.0.1:8001/2024/05/03/bomb-1"]
    assert "entities" in problem


@pytest.mark.parametrize("body", [b"", b"  \n", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                  b"</channel></rss>"])
def test_empty_feed_is_a_listing_error(body):
    with pytest.raises(ListingError, match="empty feed"):
        parse_feed(body, BASE, "application/rss+xml")


def test_sitemap_index_urlset_and_gzip():
    index = f"""<sitemapindex xmlns="{SITEMAP_NS}">
<sitemap><loc>/sitemaps/news.xml</loc></sitemap></sitemapindex>""".encode()
    assert parse_sitemap(index, BASE) == (["http://127.0.0.1:8001/sitemaps/news.xml"], [])
    urlset = f"""<urlset xmlns="{SITEMAP_NS}">
<url><loc>http://127.0.0.1:8001/2024/01/01/x</loc><lastmod>2024-01-02</lastmod></url></urlset>""".encode()
    children, listed = parse_sitemap(gzip.compress(urlset), BASE)
    assert children == [] and listed[0].url.endswith("/2024/01/01/x") and listed[0].announced == "2024-01-02T00:00:00Z"


SECTION = "http://127.0.0.1:8001/news/"


@pytest.mark.parametrize("anchors, base, expected", [
    ([Anchor("/news/b", "Next", rel="next"), Anchor("/news/a", "Previous", rel="prev")], SECTION, ["/news/b"]),
    ([Anchor("/news/page/2/", "« Older posts"), Anchor("/news/x", "Newer posts »")], SECTION, ["/news/page/2/"]),
    ([Anchor("/news/b", "Next ›")], SECTION, ["/news/b"]),
    ([Anchor("/news?paged=2", "", css_class="next page-numbers")], SECTION, ["/news?paged=2"]),
    # numbered pages only: page n+1 of the same listing, nothing else
    ([Anchor("/news/?page=2", "2"), Anchor("/news/?page=3", "3"), Anchor("/sport/?page=2", "2")], SECTION,
     ["/news/?page=2"]),
    ([Anchor("/news/page/1/", "1"), Anchor("/news/page/3/", "3"), Anchor("/news/page/4/", "4")],
     SECTION + "page/2/", ["/news/page/3/"]),
    # not pagination: "next article" links, a site menu's "More", the page itself
    ([Anchor("/2026/01/02/story", "The next big thing", css_class="nav-next-article")], SECTION, []),
    ([Anchor("/more", "More"), Anchor("/news/", "Next")], SECTION, []),
])
def test_next_page_of_a_section(anchors, base, expected):
    assert next_page_urls(anchors, base) == ["http://127.0.0.1:8001" + path for path in expected]
