"""The fake-outlet generator and server (tests.demosite) against a real 127.0.0.1 server."""
from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import tomllib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import urljoin, urlsplit

import pytest

from tests.demosite import (
    NEWS_NS, SITEMAP_NS, OutletSite, SiteServer, accepts_gzip, main, static_file_path,
    write_static_site,
)

SM, NEWS = (f"{{{ns}}}" for ns in (SITEMAP_NS, NEWS_NS))
ATOM = ""  # the demo's Atom feeds carry no namespace
HREF_RE = re.compile(r'href="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D102
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict | None = None, method: str = "GET"):
    """(status, headers, body) without following redirects or raising on errors."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def clean(url: str) -> str:
    """URL without query (tracking params, ?amp=1)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@pytest.fixture(scope="module")
def served():
    """One big site (3 section pages each) and one small site without gzip."""
    big = OutletSite("harbor-daily", n_articles=130, seed=1, amp_every=5)
    small = OutletSite("valley-courier", n_articles=12, seed=2, gzip=False)
    with SiteServer([big, small]) as server:
        yield server, big, small


@pytest.fixture()
def fresh():
    """A small site of its own, for mutation tests."""
    site = OutletSite("lakeside-herald", n_articles=30, seed=3)
    with SiteServer([site]) as server:
        yield server.base_url(site), site


def test_rss_atom_and_json_feeds_parse(served):
    _, big, _ = served
    base = big.base_url
    status, headers, body = fetch(base + "/rss.xml")
    assert status == 200 and headers["Content-Type"].startswith("application/rss+xml")
    items = ET.fromstring(body).findall("./channel/item")
    assert len(items) == 50
    links = [item.findtext("link") for item in items]
    assert all("utm_source=rss" in link and "utm_medium=feed" in link for link in links)
    assert any("amp=1" in link for link in links)
    newest = big.listed_article_ids()[-1]
    assert clean(links[0]) == big.article_url(newest)

    status, headers, body = fetch(base + "/atom.xml")
    feed = ET.fromstring(body)
    assert status == 200 and feed.tag == ATOM + "feed" and feed.findtext(ATOM + "updated")
    entries = feed.findall(ATOM + "entry")
    assert len(entries) == 50 and all(e.findtext(ATOM + "updated") for e in entries)

    status, headers, body = fetch(base + "/feed.json")
    data = json.loads(body)
    assert status == 200 and isinstance(data["items"], list)
    assert len(data["items"]) == 50 and clean(data["items"][0]["url"]) == big.article_url(newest)


def test_sitemap_index_lists_child_sitemaps(served):
    _, big, _ = served
    base = big.base_url
    index = ET.fromstring(fetch(base + "/sitemap.xml")[2])
    children = [loc.text for loc in index.iter(SM + "loc")]
    assert children == [base + "/sitemaps/news.xml", base + "/sitemaps/articles-1.xml"]
    news = ET.fromstring(fetch(children[0])[2])
    assert len(news.findall(SM + "url")) == 100
    assert all(u.find(f"{NEWS}news/{NEWS}publication_date") is not None and u.findtext(SM + "lastmod")
               for u in news.findall(SM + "url"))
    urls = {loc.text for loc in ET.fromstring(fetch(children[1])[2]).iter(SM + "loc")}
    assert urls == {big.article_url(i) for i in big.listed_article_ids()}
    assert fetch(base + "/sitemaps/articles-2.xml")[0] == 404


def test_sitemap_pages_hold_500_urls():
    site = OutletSite("summit-tribune", n_articles=1100, related_every=0)
    base = "http://127.0.0.1:9"
    index = ET.fromstring(site.render("/sitemap.xml", base).body)
    assert [loc.text for loc in index.iter(SM + "loc")][1:] == [f"{base}/sitemaps/articles-{n}.xml" for n in (1, 2, 3)]
    sizes = [len(ET.fromstring(site.render(f"/sitemaps/articles-{n}.xml", base).body)) for n in (1, 2, 3)]
    assert sizes == [500, 500, 100]


def test_conditional_requests_get_304(served):
    _, big, _ = served
    url = big.article_url(20)
    status, headers, body = fetch(url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag.startswith('"') and modified
    status, headers304, body304 = fetch(url, {"If-None-Match": etag})
    assert status == 304 and body304 == b"" and headers304["ETag"] == etag
    assert fetch(url, {"If-Modified-Since": modified})[0] == 304
    earlier = format_datetime(big.article_meta(20)["modified"] - timedelta(seconds=1), usegmt=True)
    assert fetch(url, {"If-Modified-Since": earlier})[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110)
    assert fetch(url, {"If-None-Match": '"other"', "If-Modified-Since": modified})[0] == 200
    feed_etag = fetch(big.base_url + "/rss.xml")[1]["ETag"]
    assert fetch(big.base_url + "/rss.xml", {"If-None-Match": feed_etag})[0] == 304


def test_gzip_when_asked_and_switchable(served):
    _, big, small = served
    url = big.article_url(3)
    _, plain_headers, plain = fetch(url)
    assert plain_headers.get("Content-Encoding") is None
    status, headers, body = fetch(url, {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == plain and int(headers["Content-Length"]) == len(body)
    assert fetch(url, {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})[0] == 304
    assert fetch(url, {"Accept-Encoding": "gzip;q=0, identity"})[1].get("Content-Encoding") is None
    assert fetch(small.article_url(3), {"Accept-Encoding": "gzip"})[1].get("Content-Encoding") is None
    assert accepts_gzip("br, *;q=0.5") and not accepts_gzip("") and not accepts_gzip("deflate")


def test_robots_private_about_and_404(served):
    _, big, _ = served
    status, headers, body = fetch(big.base_url + "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body.decode() == f"User-agent: *\nDisallow: /private/\n\nSitemap: {big.base_url}/sitemap.xml\n"
    assert fetch(big.base_url + "/private/draft-1")[0] == 200
    assert fetch(big.base_url + "/about")[0] == 200
    assert fetch(big.base_url + "/no/such/page")[0] == 404
    assert fetch(big.base_url + "/section/sports")[0] == 404
    assert fetch(big.article_url(5), method="HEAD")[0] == 200


def _crawl_section(base: str, name: str) -> tuple[int, set[str], list[str]]:
    """Follow rel=next from page 1; (pages, article links, all hrefs)."""
    url, pages, articles, hrefs = f"{base}/section/{name}", 0, set(), []
    while url:
        status, headers, body = fetch(url)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        text = body.decode()
        pages += 1
        found = HREF_RE.findall(text)
        hrefs += found
        articles |= {clean(urljoin(base, h)) for h in found if re.match(r"/\d{4}/\d{2}/\d{2}/", h)}
        nxt = re.search(r'<a rel="next" href="([^"]+)">Next</a>', text)
        url = urljoin(base, nxt[1].replace("&amp;", "&")) if nxt else None
    return pages, articles, hrefs


def test_section_pagination_ends_and_lists_other_links(served):
    _, big, _ = served
    pages, articles, hrefs = _crawl_section(big.base_url, "world")
    listed_world = [i for i in big.listed_article_ids() if big.article_meta(i)["section"] == "world"]
    assert pages == 3 == -(-len(listed_world) // 20)
    assert fetch(f"{big.base_url}/section/world?page=4")[0] == 404
    assert fetch(f"{big.base_url}/section/world?page=0")[0] == 404
    assert {big.article_url(i) for i in listed_world} <= articles
    for expected in ("/about", "/private/draft-1", "mailto:", "javascript:", "https://example.com/"):
        assert any(h.startswith(expected) for h in hrefs), expected


def test_link_only_articles_are_not_listed_anywhere(served):
    _, big, _ = served
    link_only = big.link_only_article_ids()
    assert link_only and set(link_only).isdisjoint(big.listed_article_ids())
    base = big.base_url
    listed_bodies = [fetch(base + p)[2].decode() for p in ("/rss.xml", "/atom.xml", "/feed.json", "/sitemap.xml",
                                                           "/sitemaps/news.xml", "/sitemaps/articles-1.xml", "/")]
    for name in big.sections:
        listed_bodies += [fetch(base + f"/section/{name}?page={n}")[2].decode() for n in (1, 2, 3)]
    for article_id in link_only:
        path = big.article_path(article_id)
        assert not any(path in body for body in listed_bodies)
        hosts = [i for i in big.article_ids() if big.related_article_id(i) == article_id]
        assert hosts and all(i in big.listed_article_ids() for i in hosts)
        host_page = fetch(big.article_url(hosts[0]))[2].decode()
        assert f'Related article:</strong> <a href="{big.article_url(article_id)}">' in host_page
        assert fetch(big.article_url(article_id))[0] == 200


def test_article_page_and_ground_truth(served):
    _, big, _ = served
    article_id = 10  # amp_every=5: advertised as ?amp=1
    url = big.article_url(article_id)
    page = fetch(url + "?amp=1&utm_source=rss")[2].decode()
    assert f'<link rel="canonical" href="{url}">' in page and "<html lang=\"en\" amp>" in page
    headline, paragraphs = big.article_text(article_id)
    assert f'<h1 class="headline">{headline}</h1>' in page
    assert all(f"<p>{p}</p>" in page for p in paragraphs)
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page)[1])
    assert ld["@type"] == "NewsArticle" and ld["headline"] == headline and ld["dateModified"]
    for marker in ('<meta name="description"', '<meta property="og:title"', '<meta name="author"',
                   '<meta property="article:published_time"', '<span class="author">', "<time datetime=",
                   "<figcaption>", "Share on Facebook", "RECENT STORIES", "Dear readers", "cookie-banner"):
        assert marker in page, marker
    assert big.article_meta(article_id)["caption"] not in " ".join(paragraphs)


def test_generated_text_shape_and_no_boilerplate():
    site = OutletSite("prairie-observer", n_articles=200, seed=7)
    phrases = [p.lower() for p in site.boilerplate_phrases()]
    seen: set[str] = set()
    for article_id in site.article_ids():
        headline, paragraphs = site.article_text(article_id)
        assert 5 <= len(headline.split()) <= 10 and 4 <= len(paragraphs) <= 9
        for paragraph in paragraphs:
            assert 25 <= len(paragraph.split()) <= 70
            assert paragraph not in seen
            seen.add(paragraph)
        text = "\n".join([headline, *paragraphs]).lower()
        assert not any(p in text for p in phrases)
    again = OutletSite("prairie-observer", n_articles=200, seed=7)
    assert again.article_text(77) == site.article_text(77)


def test_mutations_change_validators(fresh):
    base, site = fresh
    url = site.article_url(8)
    _, headers, _ = fetch(url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    old_text = site.article_text(8)

    site.set_template_variant(1)  # boilerplate only
    _, headers, body = fetch(url)
    assert headers["ETag"] != etag and headers["Last-Modified"] == modified
    assert site.article_text(8) == old_text and 'data-variant="1"' in body.decode()
    assert fetch(url, {"If-None-Match": etag})[0] == 200
    etag = headers["ETag"]

    site.edit_article(8, add_sentence="A brand new closing sentence.")
    _, headers, body = fetch(url)
    assert headers["ETag"] != etag and headers["Last-Modified"] != modified
    assert site.article_text(8)[1][-1].endswith("A brand new closing sentence.")
    assert "A brand new closing sentence." in body.decode()
    site.edit_article(8, new_headline="A different headline for this story")
    assert site.article_text(8)[0] == "A different headline for this story"
    assert site.article_url(8) == url


def test_add_remove_move(fresh):
    base, site = fresh
    new_ids = site.add_articles(3)
    assert new_ids == [31, 32, 33]
    first = ET.fromstring(fetch(base + "/rss.xml")[2]).find("./channel/item/link").text
    assert clean(first) == site.article_url(33)

    site.remove_article(5, status=410)
    site.remove_article(6)
    assert fetch(base + site.article_path(5))[0] == 410
    assert fetch(base + site.article_path(6))[0] == 404
    assert site.article_path(5) not in fetch(base + "/sitemaps/articles-1.xml")[2].decode()

    old_url = site.article_url(9)
    new_path = site.move_article(9)
    status, headers, _ = fetch(old_url)
    assert status == 301 and headers["Location"] == base + new_path
    assert fetch(base + new_path)[0] == 200 and site.article_url(9) == base + new_path
    assert old_url not in site.article_urls() and base + new_path in site.article_urls()


def test_request_log_and_keep_alive(fresh):
    base, site = fresh
    site.clear_requests()
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        for path in ("/rss.xml", site.article_path(2), "/missing"):
            conn.request("GET", path, headers={"User-Agent": "demo-test", "Accept-Encoding": "identity"})
            response = conn.getresponse()
            assert response.getheader("Content-Length") is not None
            response.read()
    finally:
        conn.close()
    log = site.requests()
    assert [(e.method, e.path, e.status) for e in log] == [
        ("GET", "/rss.xml", 200), ("GET", site.article_path(2), 200), ("GET", "/missing", 404)]
    assert log[0].headers["user-agent"] == "demo-test"
    assert not any(p.startswith("/private/") for p in site.requested_paths())


def test_outlets_toml(served):
    server, big, small = served
    text = server.outlets_toml(sources=("rss", "json", "sitemap", "sections"), sections=["world"],
                               extra={"recheck": ["1m", "5m"]})
    outlets = tomllib.loads(text)["outlets"]
    assert [o["name"] for o in outlets] == ["harbor-daily", "valley-courier"]
    assert outlets[0]["feeds"] == [big.base_url + "/rss.xml", big.base_url + "/feed.json"]
    assert outlets[0]["sitemaps"] == [big.base_url + "/sitemap.xml"]
    assert outlets[0]["sections"] == [big.base_url + "/section/world"]
    assert outlets[0]["article_pattern"] == r"/\d{4}/\d{2}/\d{2}/" and outlets[0]["recheck"] == ["1m", "5m"]
    assert "atom" not in text


def test_static_dump(tmp_path):
    site = OutletSite("coastal-chronicle", n_articles=25)
    base = "http://127.0.0.1:8799"
    write_static_site(site, str(tmp_path), base)
    assert (tmp_path / "rss.xml").is_file() and (tmp_path / "sitemaps" / "articles-1.xml").is_file()
    article_file = tmp_path / static_file_path(site.article_path(4))
    assert article_file.read_bytes() == site.render(site.article_path(4), base).body
    assert int(os.path.getmtime(article_file)) == int(site.article_meta(4)["modified"].timestamp())
    assert static_file_path("/section/world?page=2") == "section/world.page-2.html"
    assert (tmp_path / "nginx.conf.example").is_file()
    assert main(["static", "--outlets", "2", "--articles", "5", "--out", str(tmp_path / "cli")]) == 0
    assert tomllib.loads((tmp_path / "cli" / "outlets.toml").read_text())["outlets"][1]["name"] == "valley-courier"


def test_dates_fixed_start_reproducible_and_recent_by_default():
    from datetime import datetime, timezone
    start = datetime(2024, 1, 1, 6, tzinfo=timezone.utc)
    one, two = OutletSite("harbor-daily", n_articles=40, start=start), OutletSite("harbor-daily", n_articles=40, start=start)
    assert one.article_urls("http://h.test") == two.article_urls("http://h.test")
    assert one.article_path(1).startswith("/2024/01/01/")
    assert one.render("/rss.xml", "http://h.test").body == two.render("/rss.xml", "http://h.test").body
    recent = OutletSite("harbor-daily", n_articles=40)
    now = datetime.now(timezone.utc)
    newest = recent.article_meta(40)
    assert now - timedelta(hours=4) < newest["published"] <= newest["modified"] < now
    added = recent.add_articles(2)
    assert all(recent.article_meta(i)["published"] <= now + timedelta(seconds=5) for i in added)
    assert recent.prerender("http://h.test") == len(recent.all_paths())
