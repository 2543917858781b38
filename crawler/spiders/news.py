"""The ``news`` spider: outlets' feeds, sitemaps and sections -> article responses.

Listings (feeds, sitemaps, section pages) are fetched first; the article links they
hold are registered in the catalog, which is the crawl frontier: whenever few articles
are left to fetch (and when the engine goes idle), the next batch of articles to fetch
(never archived, or due a re-check) comes from there. Memory therefore does not grow
with the size of a site or of the archive.
The archive pipeline turns article responses into text versions; WarcCaptureMiddleware
writes every exchange into WARC files.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any, AsyncIterator

import scrapy
from scrapy import signals
from scrapy.exceptions import (
    CannotResolveHostError, DontCloseSpider, DownloadCancelledError, DownloadConnectionRefusedError, DownloadFailedError,
    DownloadTimeoutError, IgnoreRequest, ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import task
from twisted.internet.error import (
    ConnectError, ConnectionLost, ConnectionRefusedError, DNSLookupError, TCPTimedOutError,
    TimeoutError as TwistedTimeoutError,
)

from archive.store.catalog import Catalog, catalog_url_for
from archive.store.claims import Claims
from archive.store.lock import worker_id
from archive.store.timefmt import utc_now
from archive.store.urls import canonicalize_url, origin
from crawler.discovery import Anchor, ListingError, iter_page_links, next_page_urls, parse_feed, parse_sitemap
from crawler.frontier import Frontier
from crawler.outlets import Outlet, format_duration, load_outlets
from crawler.scrapy_compat import DECOMPRESSED_TOO_LARGE, FORBIDDEN_BY_ROBOTS, MAX_REDIRECTIONS
from crawler.signals import articles_discovered
from crawler.writeerrors import error_line, stop_if_cannot_write

logger = logging.getLogger(__name__)

RECHECK_MODES = ("due", "all", "none")
LISTING_PRIORITY = 10
# Listings asked for conditionally (If-None-Match / If-Modified-Since): an unchanged feed or
# sitemap holds no link that is not in the catalog already. Not section pages: an unchanged
# first page would hide the pages after it.
CONDITIONAL_LISTINGS = ("feed", "sitemap")
ARTICLE_STATUSES = [304, 404, 410]  # answers the pipeline records (not modified, gone)
PEER_POLL = 1.0  # seconds between looks at what other workers hold, while waiting for them


def stat_key(outlet: str, *parts: str) -> str:
    """Stats key of a per-outlet counter, e.g. ``newsarchive/moscowtimes/archived``."""
    return "/".join(("newsarchive", outlet, *parts))


IGNORED_KINDS = [  # (words in the IgnoreRequest message, counter, kind)
    (FORBIDDEN_BY_ROBOTS, "skipped", "robots"),
    (MAX_REDIRECTIONS, "errors", "redirect_loop"),
    (DECOMPRESSED_TOO_LARGE, "errors", "too_large"),
    ("WARC write failed", "errors", "warc_write"),
]


def error_kind(failure) -> tuple[str, str]:
    """(``"errors"`` or ``"skipped"``, short stable name) for a failed request."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return "errors", f"http_{exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        message = str(exc)
        return next(((counter, kind) for words, counter, kind in IGNORED_KINDS if words in message),
                    ("skipped", "filtered"))
    if isinstance(exc, DownloadCancelledError):  # Scrapy cancels a download only for its size limits
        return "errors", "too_large"
    kinds = [
        ((CannotResolveHostError, DNSLookupError), "dns"),
        ((DownloadConnectionRefusedError, ConnectionRefusedError), "connection_refused"),
        ((DownloadTimeoutError, TwistedTimeoutError, TCPTimedOutError), "timeout"),
        ((ResponseDataLossError, ConnectionLost), "connection_lost"),
        ((DownloadFailedError, ConnectError), "connect"),
    ]
    for types, name in kinds:
        if isinstance(exc, types):
            return "errors", name
    return "errors", type(exc).__name__


class NewsSpider(scrapy.Spider):
    """Discovers articles of the configured outlets and fetches them.

    Arguments: ``-a outlet=NAME`` crawls one outlet. Settings: OUTLETS_FILE, ARCHIVE_DIR,
    CATALOG_URL, RECHECK (due | all | none), DISCOVERY (read listings), CONDITIONAL_LISTINGS
    (ask for feeds and sitemaps read before conditionally), FOLLOW_ARTICLE_LINKS,
    FRONTIER_BATCH, FRONTIER_LOW_WATER, CLAIM_LEASE (seconds; a shared catalog only).

    On a shared catalog (PostgreSQL) the spider is one of several workers: it claims the
    batches it fetches (see archive/store/claims.py), renews its claims while it runs, and
    before it stops waits for the articles other workers still hold: a killed worker's
    are taken over once their lease has run out.
    """

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
        recheck_mode = settings.get("RECHECK", "due").lower()
        if recheck_mode not in RECHECK_MODES:
            raise ValueError(f"RECHECK must be one of {', '.join(RECHECK_MODES)}, got {recheck_mode!r}")
        spider.follow_links = settings.getbool("FOLLOW_ARTICLE_LINKS", True)
        spider.discovery = discovery_mode(settings)
        spider.conditional_listings = settings.getbool("CONDITIONAL_LISTINGS", True)
        spider.claims = None
        if spider.catalog.shared:
            spider.claims = Claims(spider.catalog, worker_id(), settings.getfloat("CLAIM_LEASE", 120))
            spider.claims_renewal = task.LoopingCall(spider.renew_claims)
            crawler.signals.connect(spider.start_renewing_claims, signal=signals.spider_opened)
        spider.peer_watch = task.LoopingCall(spider.watch_peers)
        spider.frontier = Frontier(spider.catalog, list(spider.outlets), recheck_mode,
                                   settings.getint("FRONTIER_BATCH", 500), spider.claims)
        # the next batch is handed out when this few articles are left unanswered, not when
        # the crawl has run dry: waiting for idle left the extraction workers without pages
        # at the end of every batch
        spider.low_water = settings.getint("FRONTIER_LOW_WATER", 2 * settings.getint("CONCURRENT_REQUESTS", 16))
        spider.unanswered = 0      # article requests handed out, not answered yet
        spider.frontier_dry = False  # the last look found nothing: wait for idle to look again
        spider.listings_answered = Counter()  # per outlet: listing responses read this run
        spider.listing_new = Counter()        # per outlet: new articles its listings held
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    # -- start and the frontier ------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Listings first; their article links go to the catalog, the frontier."""
        if not self.discovery:
            logger.info("DISCOVERY is off: no listings are read, only articles the catalog holds")
            return
        due = set(self.outlets)
        if self.discovery == "due":
            due = set(self.catalog.discovery_due(list(self.outlets), utc_now()))
            for name in sorted(set(self.outlets) - due):
                logger.info("outlet %s: listings not due before %s (DISCOVERY=due)", name,
                            self.catalog.polling(name)["next_poll"])
        for outlet in (o for o in self.outlets.values() if o.name in due):
            logger.info("outlet %s: %d feed(s), %d sitemap(s), %d section(s)", outlet.name,
                        len(outlet.feeds), len(outlet.sitemaps), len(outlet.sections))
            for url in outlet.feeds:
                yield self._listing(url, outlet, "feed")
            for url in outlet.sitemaps:
                yield self._listing(url, outlet, "sitemap")
            for url in outlet.sections:
                yield self._listing(url, outlet, "section", page_depth=0)

    def on_idle(self) -> None:
        """Everything in flight is done: schedule the next batch the catalog holds (or, on a
        shared catalog, wait while other workers hold articles)."""
        if self._hand_out_next_batch():
            raise DontCloseSpider
        held = self.frontier.held_by_others()
        if held:
            if not self.peer_watch.running:
                logger.info("frontier: waiting for %d articles other workers hold (taken over if their "
                            "lease runs out)", held)
                self.peer_watch.start(PEER_POLL, now=False)
            raise DontCloseSpider

    def watch_peers(self) -> None:
        """While this worker waits (Scrapy itself looks again only every 5 s): fetch what
        other workers let lapse or registered, and stop as soon as they hold nothing more."""
        if self._hand_out_next_batch():
            self.peer_watch.stop()
        elif not self.frontier.held_by_others() and self.crawler.engine.spider_is_idle():
            self.peer_watch.stop()
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="finished"))

    # -- claims (shared catalog) -----------------------------------------------------

    def start_renewing_claims(self) -> None:
        self.claims_renewal.start(max(self.claims.lease / 3, 0.5), now=False)

    def renew_claims(self) -> None:
        """Extend the lease of this worker's claims (it is alive)."""
        try:
            self.claims.renew()
        except SQLAlchemyError as exc:  # the next renewal may succeed; a lease is several renewals long
            logger.error("cannot renew this worker's claims: %s", error_line(exc))

    def release_claim(self, article_url: str) -> None:
        """The article will not be archived by this run (its fetch failed): free it."""
        if self.claims is None:
            return
        try:
            self.claims.release(article_url)
        except SQLAlchemyError as exc:  # it is freed when this worker stops, or its lease runs out
            logger.error("cannot release the claim on %s: %s", article_url, error_line(exc))

    def _article_answered(self) -> None:
        """An article request got its answer (or failed)."""
        self.unanswered -= 1
        self._refill_if_low()

    def _refill_if_low(self) -> None:
        """Hand out the next batch when few articles are left to fetch (listings still come
        first: their requests have the higher priority)."""
        if self.unanswered < self.low_water and not self.frontier_dry and self._hand_out_next_batch():
            self.crawler.stats.inc_value("newsarchive/frontier_refills_before_idle")

    def _hand_out_next_batch(self) -> bool:
        """Schedule the frontier's next batch; False when it has none."""
        batch = self.frontier.next_batch()
        self.frontier_dry = not batch
        if not batch:
            return False
        logger.info("frontier: %d articles to fetch (%s)", len(batch), batch[0][1])
        for row, via in batch:
            self.crawler.engine.crawl(self._article_request(row, via))
        self.unanswered += len(batch)
        return True

    def _listing(self, url: str, outlet: Outlet, kind: str, **meta: Any) -> scrapy.Request:
        """The request for listing ``url`` of ``kind`` (feed | sitemap | section): conditional
        when it was read before (and CONDITIONAL_LISTINGS is on)."""
        meta = {"outlet": outlet.name, "kind": "listing", "download_slot": origin(url), **meta}
        headers: dict[str, str] = {}
        if kind in CONDITIONAL_LISTINGS and self.conditional_listings:
            meta["listing_url"] = url
            known = self.catalog.listing(url)
            if known:
                headers, meta["previous_capture"] = conditional_request_parts(known)
                meta["handle_httpstatus_list"] = [304]
        return scrapy.Request(url, callback=getattr(self, f"parse_{kind}"), errback=self.on_error,
                              priority=LISTING_PRIORITY, meta=meta, headers=headers)

    # -- listings --------------------------------------------------------------------

    def parse_feed(self, response: Response) -> list:
        outlet = self._answered(response)
        if self._listing_unchanged(outlet, response):
            return []
        content_type = _header(response, b"Content-Type") or ""
        try:
            listed, problem = parse_feed(response.body, response.url, content_type)
        except ListingError as exc:
            return self._listing_error(outlet, response, "bad_feed", exc)
        if problem:
            logger.warning("outlet %s: feed %s is malformed (%s); kept the %d items it could read",
                           outlet.name, response.url, problem, len(listed))
            self.crawler.stats.inc_value(stat_key(outlet.name, "errors", "malformed_feed"))
        if self.register_links(outlet, [(entry.url, entry.announced) for entry in listed], "feed", response.url):
            self._listing_read(outlet, response, "feed")
        return []

    def parse_sitemap(self, response: Response) -> list:
        outlet = self._answered(response)
        if self._listing_unchanged(outlet, response):
            return []
        try:
            children, listed = parse_sitemap(response.body, response.url)
        except ListingError as exc:
            return self._listing_error(outlet, response, "bad_sitemap", exc)
        if self.register_links(outlet, [(entry.url, entry.announced) for entry in listed], "sitemap", response.url):
            # an index is always read in full: an unchanged index can list changed sitemaps
            self._listing_read(outlet, response, "sitemap", conditional=not children)
        return [self._listing(url, outlet, "sitemap") for url in children if outlet.owns(url)]

    def parse_section(self, response: Response) -> list:
        outlet = self._answered(response)
        if not isinstance(response, TextResponse):
            return self._listing_error(outlet, response, "not_html", ValueError("section page is not HTML"))
        anchors = [Anchor(link.attrib["href"], " ".join(link.xpath("string()").get().split()),
                          link.attrib.get("rel", ""), link.attrib.get("class", ""))
                   for link in response.xpath("//a[@href]")]
        links = iter_page_links((anchor.href for anchor in anchors), response.url)
        self.register_links(outlet, [(url, None) for url in links], "section", response.url)
        depth = response.meta.get("page_depth", 0)
        if depth >= outlet.section_depth:
            return []
        anchors += [Anchor(href, rel="next") for href in response.xpath('//link[@rel="next"]/@href').getall()]
        return [self._listing(url, outlet, "section", page_depth=depth + 1)
                for url in next_page_urls(anchors, canonicalize_url(response.url) or response.url)
                if outlet.owns(url)]

    def _listing_unchanged(self, outlet: Outlet, response: Response) -> bool:
        """Whether ``response`` is a listing read before: a 304 to the conditional request, or
        the very payload last read (a WARC revisit record). Its links are in the catalog."""
        if response.status != 304 and not response.meta.get("warc_revisit"):
            return False
        self.crawler.stats.inc_value(stat_key(outlet.name, "listings_unchanged"))
        return True

    def _listing_read(self, outlet: Outlet, response: Response, kind: str, conditional: bool = True) -> None:
        """Note a listing whose links are recorded: its validators and its capture, for a
        conditional request next time (none for a listing to read in full every time)."""
        url = response.meta.get("listing_url")
        if url is None:  # not asked for conditionally (CONDITIONAL_LISTINGS off)
            return
        fields = {"last_read": utc_now(), "etag": None, "last_modified": None, "capture_uri": None,
                  "capture_date": None, "capture_record_id": None, "capture_digest": None}
        warc = response.meta.get("warc_location")  # (not a revisit: that copy was not read again)
        if conditional:
            fields.update(etag=_header(response, b"ETag"), last_modified=_header(response, b"Last-Modified"))
        if conditional and warc:
            fields.update(capture_uri=response.url, capture_date=warc["warc_date"],
                          capture_record_id=warc["record_id"], capture_digest=warc["payload_digest"])
        try:
            self.catalog.record_listing(url, outlet.name, kind, fields)
        except (OSError, SQLAlchemyError) as exc:  # next time it is read in full again: nothing lost
            stop_if_cannot_write(self.crawler, exc)
            self.crawler.stats.inc_value(stat_key(outlet.name, "errors", "catalog_write"))
            logger.error("outlet %s: cannot record the read of %s: %s", outlet.name, url, error_line(exc))

    def _listing_error(self, outlet: Outlet, response: Response, kind: str, exc: Exception) -> list:
        logger.error("outlet %s: %s: %s", outlet.name, response.url, exc)
        self.crawler.stats.inc_value(stat_key(outlet.name, "errors", kind))
        return []

    def register_links(self, outlet: Outlet, listed: list[tuple[str, str | None]], via: str, source_url: str) -> bool:
        """Record article links (with announced update times) in the catalog, the frontier;
        False if the catalog could not record them.

        ``via``: feed | sitemap | section | link (links found in an archived article).
        """
        stats = self.crawler.stats
        # Feeds and sitemaps list articles; links on pages must also look like articles.
        accept = outlet.owns if via in ("feed", "sitemap") else outlet.is_article
        own = [(url, when) for url, when in listed if accept(url)]
        if len(own) < len(listed):
            stats.inc_value(stat_key(outlet.name, "skipped", "not_an_article_link"), len(listed) - len(own))
        if not own:
            return True
        try:
            found = self.catalog.register_discovered(outlet.name, own, via, source_url)
        except (OSError, SQLAlchemyError) as exc:
            stop_if_cannot_write(self.crawler, exc)
            stats.inc_value(stat_key(outlet.name, "errors", "catalog_write"))
            logger.error("outlet %s: cannot record the %d links of %s: %s", outlet.name, len(own), source_url,
                         error_line(exc))
            return False
        stats.inc_value(stat_key(outlet.name, "discovered"), len(found.new))
        if via != "link":
            self.listing_new[outlet.name] += len(found.new)
        if found.new:
            self.crawler.signals.send_catch_log(articles_discovered, outlet=outlet.name, count=len(found.new))
            self.frontier_dry = False
            self._refill_if_low()  # fetching starts while the other listings are still read
        stats.inc_value(stat_key(outlet.name, "skipped", "known"), found.known)
        stats.inc_value(stat_key(outlet.name, "announced_updates"), found.due)
        return True

    # -- articles --------------------------------------------------------------------

    def _article_request(self, row: dict, via: str) -> scrapy.Request:
        archived = bool(row.get("latest_version"))
        url = (row.get("fetch_url") or row["url"]) if archived else row["url"]
        meta = {"outlet": row["outlet"], "kind": "article", "article_url": row["url"], "via": via,
                "follow_links": row.get("discovered_via") != "link" and not archived,
                "download_slot": origin(url), "handle_httpstatus_list": ARTICLE_STATUSES,
                "announced": row.get("announced"), "keep_encoded_body": True, "archived": archived,
                "article_state": row.get("state")}
        headers = {}
        if archived:
            headers, meta["previous_capture"] = conditional_request_parts(row)
        # dont_filter: the catalog already hands out each article once per run; Scrapy's
        # dupefilter would only hide a redirect loop (A -> B -> A) as a silent duplicate
        return scrapy.Request(url, callback=self.parse_article, errback=self.on_error, meta=meta, headers=headers,
                              dont_filter=True)

    def parse_article(self, response: Response) -> list[dict]:
        # a list, not a generator: Scrapy passes a generator's output through its async
        # spider-middleware chain, a cost on every page
        meta = response.meta
        outlet = self._answered(response)
        self._article_answered()
        self.crawler.stats.inc_value(stat_key(outlet.name, "fetched"))
        item = {
            "outlet": outlet.name,
            "article_url": meta["article_url"],
            "url": response.url,
            "status": response.status,
            "fetched_at": utc_now(),
            "etag": _header(response, b"ETag"),
            "last_modified": _header(response, b"Last-Modified"),
            "content_type": _header(response, b"Content-Type"),
            # set when KeepEncodedBodyMiddleware left the body as sent: the pipeline decodes it
            "content_encoding": b", ".join(response.headers.getlist(b"Content-Encoding")).decode("latin-1") or None,
            "via": meta.get("via"),
            "announced": meta.get("announced"),
            "warc": meta.get("warc_location"),
            "revisit": meta.get("warc_revisit"),
            "archived": meta.get("archived", False),
            "article_state": meta.get("article_state"),
            # (URL, status) of each redirect that led here
            "redirects": list(zip(meta.get("redirect_urls", []), meta.get("redirect_reasons", []))),
            "body": b"",
        }
        if response.status in ARTICLE_STATUSES or item["revisit"]:
            return [item]
        if not isinstance(response, TextResponse):  # (hasattr would decode the whole body)
            logger.error("outlet %s: %s is not an HTML page (%s)", outlet.name, response.url, item["content_type"])
            self.crawler.stats.inc_value(stat_key(outlet.name, "errors", "not_html"))
            self.release_claim(meta["article_url"])
            return []
        item["body"] = response.body
        item["follow_links"] = self.follow_links and meta.get("follow_links", False)
        return [item]

    # -- bookkeeping -----------------------------------------------------------------

    def _answered(self, response: Response) -> Outlet:
        """The outlet of ``response``, counted as reachable (whatever the status)."""
        name = response.meta["outlet"]
        self.crawler.stats.inc_value(stat_key(name, "responses"))
        if response.meta.get("kind") == "listing":
            self.listings_answered[name] += 1
        return self.outlets[name]

    def on_error(self, failure) -> None:
        request = failure.request
        outlet = request.meta.get("outlet", "?")
        counter, kind = error_kind(failure)
        if request.meta.get("kind") == "article":
            self._article_answered()
            self.release_claim(request.meta["article_url"])
        stats = self.crawler.stats
        stats.inc_value(stat_key(outlet, counter, kind))
        if failure.check(HttpError):
            stats.inc_value(stat_key(outlet, "responses"))
        what = request.meta.get("kind", "request")
        if counter == "skipped":
            logger.info("outlet %s: skipped %s %s (%s)", outlet, what, request.url, failure.getErrorMessage())
        else:
            logger.error("outlet %s: %s %s failed: %s (%s)", outlet, what, request.url, kind,
                         failure.getErrorMessage())

    def closed(self, reason: str) -> None:
        if self.peer_watch.running:
            self.peer_watch.stop()
        try:
            self._record_polls()
            self._release_claims()
        finally:
            self.catalog.close()

    def _release_claims(self) -> None:
        """End this worker's claims (what it did not get to stays to fetch)."""
        if self.claims is None:
            return
        if self.claims_renewal.running:
            self.claims_renewal.stop()
        try:
            self.claims.release_all()
        except SQLAlchemyError as exc:  # they run out after CLAIM_LEASE
            logger.error("cannot release this worker's claims: %s", error_line(exc))

    def _record_polls(self) -> None:
        """Note each outlet whose listings answered, and when to read them next (adaptive
        discovery: the more new articles, the sooner)."""
        now = utc_now()
        for name in sorted(self.listings_answered):
            try:
                state = self.catalog.record_poll(name, self.listing_new[name], now,
                                                 self.outlets[name].discovery_policy())
            except (OSError, SQLAlchemyError) as exc:  # it is simply read again at the next run
                stop_if_cannot_write(self.crawler, exc)
                self.crawler.stats.inc_value(stat_key(name, "errors", "catalog_write"))
                logger.error("outlet %s: cannot record the read of its listings: %s", name, error_line(exc))
                continue
            logger.info("outlet %s: %d new articles in its listings; next read due %s (every %s)", name,
                        self.listing_new[name], state["next_poll"], format_duration(state["interval_seconds"]))


def discovery_mode(settings) -> bool | str:
    """The DISCOVERY setting: True (read every outlet's listings), False (none), or
    ``"due"`` (only the outlets whose next read has come: see archive.store.polling)."""
    value = settings.get("DISCOVERY", True)
    if isinstance(value, str) and value.strip().lower() == "due":
        return "due"
    try:
        return settings.getbool("DISCOVERY", True)
    except ValueError:
        raise ValueError(f"DISCOVERY must be 1, 0 or due, got {value!r}") from None


def conditional_request_parts(row: dict) -> tuple[dict[str, str], dict]:
    """For a catalog row of something fetched before (article or listing): the headers of a
    conditional request from its validators, and its last full capture (``previous_capture``
    meta: WarcCaptureMiddleware writes a 304 or an identical payload as a revisit of it)."""
    headers = {}
    if row.get("etag"):
        headers["If-None-Match"] = row["etag"]
    if row.get("last_modified"):
        headers["If-Modified-Since"] = row["last_modified"]
    capture = {"uri": row["capture_uri"], "date": row["capture_date"], "record_id": row["capture_record_id"],
               "payload_digest": row["capture_digest"]}
    return headers, capture


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
