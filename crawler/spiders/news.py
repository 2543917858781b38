"""The ``news`` spider: outlets' feeds, sitemaps and sections -> article responses.

Discovery only: every article link is registered in the catalog (which decides what is
new, pending or due) and fetched; the archive pipeline turns article responses into
text versions. WARC records of every exchange are written by WarcCaptureMiddleware.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Iterable

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectError, ConnectionLost, ConnectionRefusedError, DNSLookupError, TCPTimedOutError,
    TimeoutError as TwistedTimeoutError,
)

from archive.catalog import Catalog, catalog_url_for, utc_now
from archive.urls import canonicalize_url, origin
from crawler.discovery import ListingError, iter_page_links, parse_feed, parse_sitemap
from crawler.outlets import Outlet, load_outlets

logger = logging.getLogger(__name__)

RECHECK_MODES = ("due", "all", "none")
LISTING_PRIORITY = 10
RECHECK_STATUSES = [304, 404, 410]


def stat_key(outlet: str, *parts: str) -> str:
    """Stats key of a per-outlet counter, e.g. ``newsarchive/moscowtimes/archived``."""
    return "/".join(("newsarchive", outlet, *parts))


def error_kind(failure) -> str:
    """Short, stable name for the kind of a download failure."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    kinds = [
        (DNSLookupError, "dns"), (ConnectionRefusedError, "connection_refused"),
        ((TwistedTimeoutError, TCPTimedOutError), "timeout"), (ConnectionLost, "connection_lost"),
        (ConnectError, "connect"),
    ]
    for types, name in kinds:
        if isinstance(exc, types):
            return name
    return type(exc).__name__


class NewsSpider(scrapy.Spider):
    """Discovers articles of the configured outlets and fetches them."""

    name = "news"

    def __init__(self, *args: Any, outlet: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.only_outlet = outlet

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "NewsSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.outlets = {o.name: o for o in load_outlets(settings["OUTLETS_FILE"], spider.only_outlet)}
        spider.catalog = Catalog(settings.get("CATALOG_URL") or catalog_url_for(settings["ARCHIVE_DIR"]))
        spider.recheck_mode = settings.get("RECHECK", "due").lower()
        if spider.recheck_mode not in RECHECK_MODES:
            raise ValueError(f"RECHECK must be one of {', '.join(RECHECK_MODES)}, got {spider.recheck_mode!r}")
        spider.follow_links = settings.getbool("FOLLOW_ARTICLE_LINKS", True)
        return spider

    # -- start -----------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for outlet in self.outlets.values():
            logger.info("outlet %s: %d feed(s), %d sitemap(s), %d section(s)", outlet.name,
                        len(outlet.feeds), len(outlet.sitemaps), len(outlet.sections))
            for url in outlet.feeds:
                yield self._listing(url, outlet, self.parse_feed)
            for url in outlet.sitemaps:
                yield self._listing(url, outlet, self.parse_sitemap)
            for url in outlet.sections:
                yield self._listing(url, outlet, self.parse_section, page_depth=0)
        for row in self._rows_to_resume():
            yield self._article_request(row, via="resume")

    def _rows_to_resume(self) -> Iterable[dict]:
        only = self.only_outlet
        yield from self.catalog.pending_articles(only)
        if self.recheck_mode != "none":
            everything = self.recheck_mode == "all"
            for row in self.catalog.due_articles(utc_now(), only, everything=everything):
                if row["outlet"] in self.outlets:
                    yield row

    def _listing(self, url: str, outlet: Outlet, callback, **meta: Any) -> scrapy.Request:
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, priority=LISTING_PRIORITY,
            meta={"outlet": outlet.name, "kind": "listing", "download_slot": origin(url), **meta},
        )

    # -- listings --------------------------------------------------------------------

    def parse_feed(self, response: Response):
        outlet = self.outlets[response.meta["outlet"]]
        self._count_response(outlet.name)
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        try:
            listed = parse_feed(response.body, response.url, content_type)
        except ListingError as exc:
            return self._listing_error(outlet, response, "bad_feed", exc)
        return self._register(outlet, [(l.url, l.announced) for l in listed], "feed", response.url)

    def parse_sitemap(self, response: Response):
        outlet = self.outlets[response.meta["outlet"]]
        self._count_response(outlet.name)
        try:
            children, listed = parse_sitemap(response.body, response.url)
        except ListingError as exc:
            return self._listing_error(outlet, response, "bad_sitemap", exc)
        requests = [self._listing(url, outlet, self.parse_sitemap) for url in children if outlet.owns(url)]
        return requests + self._register(outlet, [(l.url, l.announced) for l in listed], "sitemap", response.url)

    def parse_section(self, response: Response):
        outlet = self.outlets[response.meta["outlet"]]
        self._count_response(outlet.name)
        if not hasattr(response, "text"):
            return self._listing_error(outlet, response, "not_html", ValueError("section page is not HTML"))
        links = list(iter_page_links(response.css("a::attr(href)").getall(), response.url))
        articles = [(url, None) for url in links if outlet.is_article(url)]
        requests = self._register(outlet, articles, "section", response.url)
        depth = response.meta.get("page_depth", 0)
        if depth < outlet.section_depth:
            for url in self._next_pages(response, outlet):
                requests.append(self._listing(url, outlet, self.parse_section, page_depth=depth + 1))
        return requests

    def _next_pages(self, response: Response, outlet: Outlet) -> list[str]:
        hrefs = response.xpath('//a[@rel="next"]/@href | //link[@rel="next"]/@href').getall()
        return [url for url in iter_page_links(hrefs, response.url) if outlet.owns(url)]

    def _listing_error(self, outlet: Outlet, response: Response, kind: str, exc: Exception) -> list:
        logger.error("outlet %s: %s: %s", outlet.name, response.url, exc)
        self.crawler.stats.inc_value(stat_key(outlet.name, "errors", kind))
        return []

    def _register(self, outlet: Outlet, listed: list[tuple[str, str | None]], via: str,
                  source_url: str, depth: int = 0) -> list[scrapy.Request]:
        stats = self.crawler.stats
        # Feeds and sitemaps list articles; links on pages must also look like articles.
        accept = outlet.owns if via in ("feed", "sitemap") else outlet.is_article
        own = [(url, when) for url, when in listed if accept(url)]
        if len(own) < len(listed):
            stats.inc_value(stat_key(outlet.name, "skipped", "not_outlet_article"), len(listed) - len(own))
        if not own:
            return []
        found = self.catalog.register_discovered(outlet.name, own, via, source_url)
        stats.inc_value(stat_key(outlet.name, "discovered"), len(found.new))
        stats.inc_value(stat_key(outlet.name, "skipped", "known"), found.known)
        requests = [self._article_request(row, via=via, depth=depth) for row in found.new + found.pending]
        if self.recheck_mode != "none":
            requests += [self._article_request(row, via="announced", depth=depth) for row in found.due]
        return requests

    # -- articles --------------------------------------------------------------------

    def _article_request(self, row: dict, via: str, depth: int = 0) -> scrapy.Request:
        url = row["fetch_url"] or row["url"] if row.get("latest_version") else row["url"]
        meta = {"outlet": row["outlet"], "kind": "article", "article_url": row["url"], "via": via,
                "link_depth": depth, "download_slot": origin(url), "handle_httpstatus_list": RECHECK_STATUSES,
                "announced": row.get("announced")}
        headers = {}
        if row.get("latest_version"):
            meta["previous_capture"] = {
                "uri": row["capture_uri"], "date": row["capture_date"],
                "record_id": row["capture_record_id"], "payload_digest": row["capture_digest"],
            }
            if row.get("etag"):
                headers["If-None-Match"] = row["etag"]
            if row.get("last_modified"):
                headers["If-Modified-Since"] = row["last_modified"]
        return scrapy.Request(url, callback=self.parse_article, errback=self.on_error, meta=meta, headers=headers)

    def parse_article(self, response: Response):
        meta = response.meta
        outlet = self.outlets[meta["outlet"]]
        self._count_response(outlet.name)
        self.crawler.stats.inc_value(stat_key(outlet.name, "fetched"))
        article_url = meta["article_url"]
        item = {
            "outlet": outlet.name,
            "article_url": article_url,
            "url": response.url,
            "status": response.status,
            "fetched_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "etag": _header(response, b"ETag"),
            "last_modified": _header(response, b"Last-Modified"),
            "content_type": _header(response, b"Content-Type"),
            "via": meta.get("via"),
            "announced": meta.get("announced"),
            "warc": meta.get("warc_location"),
            "revisit": meta.get("warc_revisit"),
            "body": b"",
        }
        if response.status in (404, 410) or response.status == 304 or item["revisit"]:
            yield item
            return
        if not hasattr(response, "text"):
            logger.error("outlet %s: %s is not an HTML page (%s)", outlet.name, response.url, item["content_type"])
            self.crawler.stats.inc_value(stat_key(outlet.name, "errors", "not_html"))
            return
        canonical = self._canonical(response, outlet)
        if canonical and canonical != article_url:
            self.catalog.mark_alias(article_url, canonical)
            item["article_url"] = canonical
        item["body"] = response.body
        item["encoding"] = response.encoding
        yield item
        if self.follow_links and meta.get("link_depth", 0) == 0:
            links = iter_page_links(response.css("a::attr(href)").getall(), response.url)
            yield from self._register(outlet, [(url, None) for url in links if url != item["article_url"]],
                                      "link", response.url, depth=1)

    def _canonical(self, response: Response, outlet: Outlet) -> str | None:
        href = response.xpath('//link[@rel="canonical"]/@href').get()
        canonical = canonicalize_url(href, base=response.url) if href else None
        return canonical if canonical and outlet.owns(canonical) else None

    # -- errors ----------------------------------------------------------------------

    def on_error(self, failure) -> None:
        request = failure.request
        outlet = request.meta.get("outlet", "?")
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            self.crawler.stats.inc_value(stat_key(outlet, "skipped", "robots_or_filtered"))
            logger.info("outlet %s: skipped %s (%s)", outlet, request.url, failure.value or "forbidden by robots.txt")
            return
        if failure.check(HttpError):
            self._count_response(outlet)
        kind = error_kind(failure)
        self.crawler.stats.inc_value(stat_key(outlet, "errors", kind))
        logger.error("outlet %s: %s %s failed: %s (%s)", outlet, request.meta.get("kind", "request"),
                     request.url, kind, failure.getErrorMessage())

    def _count_response(self, outlet: str) -> None:
        """The outlet answered (whatever the status): it is reachable."""
        self.crawler.stats.inc_value(stat_key(outlet, "responses"))

    def closed(self, reason: str) -> None:
        self.catalog.close()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
