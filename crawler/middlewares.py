"""Downloader middlewares: WARC capture of every HTTP exchange; article bodies left
compressed for the extraction workers; meta-refresh redirects without decoding every page;
robots.txt obeyed by every request that waits for it."""
from __future__ import annotations

import logging
import platform
import socket
from datetime import datetime, timezone

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.responsetypes import responsetypes
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import threads
from twisted.internet.defer import Deferred

from archive.warc.contentcoding import decoded_head
from archive.warc.writer import HttpExchange, RenderedRecords, RevisitOf, WarcWriter, sha1_digest, stores_payload
from crawler.scrapy_compat import pending_robots_txt
from crawler.writeerrors import error_line, stop_if_cannot_write

logger = logging.getLogger(__name__)

# Rendering a record (digests, gzip member) runs on the reactor when it is cheap: a thread
# hand-off costs more than it saves for a payload that is stored without deflating it
# (already compressed) or a small one. Only deflating a large payload goes to a thread.
INLINE_RENDER_MAX = 32 * 1024


def _headers(headers) -> list[tuple[str, str]]:
    # dict.items: Scrapy's Headers.items() normalises each (already normalised) name again
    # through getlist, a good part of what a 304 exchange costs here
    return [(name.decode("latin-1"), value.decode("latin-1"))
            for name, values in dict.items(headers) for value in values]


def exchange_of(request: Request, response: Response) -> HttpExchange:
    """The archive's view of a Scrapy request/response pair (body as received)."""
    return HttpExchange(
        url=response.url,
        method=request.method,
        request_headers=_headers(request.headers),
        request_body=request.body or b"",
        status=response.status,
        response_headers=_headers(response.headers),
        body=response.body,
        protocol=response.protocol or "HTTP/1.1",
        ip_address=str(response.ip_address) if response.ip_address else None,
        fetched_at=datetime.now(timezone.utc),
    )


class WarcCaptureMiddleware:
    """Writes each exchange as WARC request + response (or revisit) records.

    Place it near the downloader (priority above HttpCompressionMiddleware's 590) so it
    sees bodies as the server sent them, and every redirect, retry and robots.txt.
    The response record's location goes into ``request.meta["warc_location"]``.
    Settings: ARCHIVE_DIR, WARC_ENABLED, WARC_PREFIX, WARC_MAX_SIZE, WARC_GZIP_LEVEL,
    WARC_OPERATOR, WARC_FSYNC.
    """

    def __init__(self, writer: WarcWriter, crawler):
        self.writer = writer
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler) -> "WarcCaptureMiddleware":
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED", True):
            raise NotConfigured("WARC_ENABLED is off")
        warcinfo = {
            "software": f"newsarchive (Scrapy {scrapy.__version__}; Python {platform.python_version()})",
            "hostname": socket.gethostname(),
            "operator": settings.get("WARC_OPERATOR") or "unknown operator",
            "http-header-user-agent": settings.get("USER_AGENT"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "description": f"news crawl of {settings.get('OUTLETS_FILE')}",
        }
        writer = WarcWriter(
            settings["ARCHIVE_DIR"],
            prefix=settings.get("WARC_PREFIX", "NEWSARCHIVE"),
            max_size=settings.getint("WARC_MAX_SIZE", 1_000_000_000),
            gzip_level=settings.getint("WARC_GZIP_LEVEL", 3),
            warcinfo=warcinfo,
            fsync=settings.getbool("WARC_FSYNC", False),
        )
        middleware = cls(writer, crawler)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def process_response(self, request: Request, response: Response) -> Response:
        exchange = exchange_of(request, response)
        previous = request.meta.get("previous_capture") or {}
        profile = self._revisit_profile(exchange, previous)
        try:
            if profile or len(exchange.body) <= INLINE_RENDER_MAX or stores_payload(exchange):
                rendered = self._render(exchange, previous, profile)
            else:  # deflating a large payload releases the GIL: let another core do it
                rendered = await maybe_deferred_to_future(
                    threads.deferToThread(self._render, exchange, previous, profile))
            location = self.writer.write_rendered(rendered)
        except OSError as exc:
            self.stats.inc_value("warc/write_errors")
            logger.error("cannot write WARC record for %s: %s", response.url, error_line(exc))
            stop_if_cannot_write(self.crawler, exc)
            raise IgnoreRequest(f"WARC write failed: {exc}") from exc
        if profile:
            request.meta["warc_revisit"] = profile
            self.stats.inc_value(f"warc/revisit/{profile}")
        else:
            request.meta.pop("warc_revisit", None)
        request.meta["warc_location"] = dict(vars(location))  # (dataclasses.asdict deep-copies)
        self.stats.inc_value("warc/records", 2)
        return response

    def _render(self, exchange: HttpExchange, previous: dict, profile: str | None) -> RenderedRecords:
        if profile:
            return self.writer.render_revisit(exchange, RevisitOf(**previous), profile)
        return self.writer.render_exchange(exchange)

    @staticmethod
    def _revisit_profile(exchange: HttpExchange, previous: dict) -> str | None:
        if not previous.get("uri"):
            return None
        if exchange.status == 304:
            return "server-not-modified"
        if exchange.status == 200 and previous.get("payload_digest") == sha1_digest(exchange.body):
            return "identical-payload-digest"
        return None

    def spider_closed(self) -> None:
        self.writer.close()
        logger.info("WARC files written: %s", ", ".join(self.writer.files_written) or "none")


# Scrapy looks for a refresh in a page's first 4096 characters: at most 4 bytes each in UTF-8
META_REFRESH_PREFIX = 4 * 4096
# Scrapy sniffs the type of a response without a telling Content-Type from its first bytes
SNIFFED_PREFIX = 5000


class KeepEncodedBodyMiddleware(HttpCompressionMiddleware):
    """Scrapy's HttpCompressionMiddleware, except for responses whose request asks to keep
    the body as sent (``meta["keep_encoded_body"]``, set on article requests).

    Such a text body in gzip or deflate stays compressed, and keeps its Content-Encoding
    header, which marks it as still encoded: the extraction workers decode it
    (:func:`archive.text.job.extract_for_archive`, with DOWNLOAD_MAXSIZE as the limit), and
    a crawl that extracts no text never decodes it. Decoding on the reactor cost the crawl
    process's CPU on every news page. The response gets the class Scrapy would give
    the decoded body (an HTML page is an HtmlResponse; its ``.text`` is not the page).
    Other codings (br, zstd), other content and all other requests are decoded as usual.
    Same settings: COMPRESSION_ENABLED, DOWNLOAD_MAXSIZE, DOWNLOAD_WARNSIZE.
    """

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("keep_encoded_body") and request.method != "HEAD":
            encoding = _content_encoding(response)
            response_class = self._decoded_class(response, encoding) if encoding else None
            if response_class is not None and issubclass(response_class, TextResponse):
                return response.replace(cls=response_class)
        return super().process_response(request, response)

    @staticmethod
    def _decoded_class(response: Response, encoding: list[str]) -> type[Response] | None:
        """The class Scrapy gives the decoded body: by its Content-Type, else sniffed from the
        decoded head (None: a coding that is not streamed, or a body that does not decode)."""
        head = decoded_head(response.body, encoding, SNIFFED_PREFIX)
        if head is None:
            return None
        content_type = response.headers.get("Content-Type")
        by_type = responsetypes.from_content_type(content_type) if content_type else Response
        return by_type if by_type is not Response else responsetypes.from_args(url=response.url, body=head)


def _content_encoding(response: Response) -> list[str]:
    return [value.decode("latin-1") for value in response.headers.getlist("Content-Encoding")]


class LazyMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's ``<meta http-equiv="refresh">`` redirects, minus the decoding of every page.

    Scrapy's own check decodes the whole body (``response.text``) to read its first 4096
    characters: CPU on the reactor for every news page, though pages almost never hold a
    refresh. A page whose first bytes do not contain the word cannot hold one, so it is
    passed on untouched; the rest (and pages in UTF-16/32, where the word is not a plain
    byte string) get Scrapy's full check. Same settings: METAREFRESH_ENABLED,
    METAREFRESH_MAXDELAY, METAREFRESH_IGNORE_TAGS.
    """

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if not isinstance(response, HtmlResponse):
            return super().process_response(request, response)
        encoding = _content_encoding(response)
        if not encoding:
            head = response.body[:META_REFRESH_PREFIX]
            if b"\x00" not in head and b"refresh" not in head.lower():
                return response
            return super().process_response(request, response)
        # still as sent (KeepEncodedBodyMiddleware): Scrapy reads the first 4096 characters
        # only, so the decoded head is all the check needs (never the whole body: a bomb)
        head = decoded_head(response.body, encoding, META_REFRESH_PREFIX)
        if head is None or (b"\x00" not in head and b"refresh" not in head.lower()):
            return response
        redirect = super().process_response(request, response.replace(body=head))
        return response if isinstance(redirect, Response) else redirect


class WaitingRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, with every request that waits for a site's robots.txt
    checked against it.

    Scrapy 2.19 has each waiting request await the site's one pending Deferred through an
    asyncio future, and Twisted's ``Deferred.asFuture`` passes ``None`` down the chain: the
    first waiter gets the parser, every later one gets ``None``, which Scrapy reads as "no
    robots.txt" and lets through. Three concurrent first requests to a site whose robots.txt
    forbids them fetched the third. Here each waiter waits on a Deferred of its own, fed
    the parser without consuming it (the pending one comes from crawler.scrapy_compat). Same
    settings: ROBOTSTXT_OBEY, ROBOTSTXT_PARSER, ROBOTSTXT_USER_AGENT.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = pending_robots_txt(self, request)
        if pending is None:
            return await super().robot_parser(request)
        own: Deferred = Deferred()
        pending.addBoth(_hand_on, own)
        return await maybe_deferred_to_future(own)


def _hand_on(result, waiter: Deferred):
    """Fire ``waiter`` with ``result`` and leave ``result`` to the next callback."""
    waiter.callback(result)
    return result
