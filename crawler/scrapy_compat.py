"""Every place the crawler relies on Scrapy internals, in one module.

Checked against the pinned Scrapy 2.19.0. Each workaround below says which upstream
behaviour it works around, and when it can go; ``tests/test_library_seams_scrapy.py``
has a test per workaround that fails when the name or behaviour it relies on changes.
Rule: no other module imports a private name of Scrapy (or reads a private attribute of
one of its objects).
"""
from __future__ import annotations

from typing import Any, Coroutine

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

SCRAPY_CHECKED = "2.19.0"


# -- 1. per-origin concurrency under asyncio ---------------------------------------------
# Upstream behaviour: Scrapy 2.19 counts a request as transferring (``Slot.transferring``)
# only once the task that downloads it starts (``Downloader._download``); under the asyncio
# reactor tasks start on the next loop iteration, after ``Downloader._process_queue`` has
# already handed out every queued request of the slot, so CONCURRENT_REQUESTS_PER_DOMAIN
# limits nothing (a slow test outlet saw 25 parallel connections with a limit of 2).
# No upstream issue found. Relies on: the private ``Downloader._wait_for_download(slot,
# request, queue_dfd)`` being what ``_process_queue`` schedules, and ``_download`` adding
# the request to ``slot.transferring`` itself (so adding it earlier is idempotent).
# Can go when Scrapy counts the request in ``_process_queue``: when test_crawl_e2e's
# test_per_origin_concurrency_limit_holds passes with DOWNLOADER back at Scrapy's default.

class PoliteDownloader(Downloader):
    """:class:`scrapy.core.downloader.Downloader` that never exceeds a slot's concurrency:
    the request counts as transferring from the moment it is handed out."""

    def _wait_for_download(self, slot: Slot, request: Request, queue_dfd: Deferred) -> Coroutine[Any, Any, None]:
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)


# -- 2. requests waiting for a site's robots.txt -------------------------------------------
# Upstream behaviour: since the async ``RobotsTxtMiddleware.robot_parser`` (scrapy/scrapy
# PR #6802) every request that waits for a site's robots.txt awaits the one pending
# Deferred in ``RobotsTxtMiddleware._parsers`` through ``maybe_deferred_to_future``, whose
# callback returns ``None`` down the chain: the first waiter gets the parser, every later
# one ``None`` ("no robots.txt") and is let through. No upstream issue found. Relies on: the
# private ``_parsers`` dict (netloc -> parser, pending ``Deferred`` or ``None``).
# Can go, with crawler.middlewares.WaitingRobotsTxtMiddleware, when Scrapy hands the parser
# to every waiter: when test_crawl_e2e's test_robots_txt_obeyed_by_every_request_waiting_for_it
# passes with Scrapy's own RobotsTxtMiddleware.

def pending_robots_txt(middleware: RobotsTxtMiddleware, request: Request) -> Deferred | None:
    """The Deferred of the robots.txt download ``request``'s site is waiting for, if any."""
    pending = middleware._parsers.get(urlparse_cached(request).netloc)
    return pending if isinstance(pending, Deferred) else None


# -- 3. kinds of ignored requests, told apart by Scrapy's messages --------------------------
# Upstream behaviour: Scrapy raises a bare ``IgnoreRequest`` for a page forbidden by
# robots.txt (RobotsTxtMiddleware), for a redirect loop (RedirectMiddleware) and for a body
# too large once decompressed (HttpCompressionMiddleware); only the message tells them
# apart. Relies on: words of those messages. Can go when Scrapy raises distinct exception
# subclasses (or sets an attribute) for them.
FORBIDDEN_BY_ROBOTS = "robots.txt"            # "Forbidden by robots.txt"
MAX_REDIRECTIONS = "max redirections"         # "max redirections reached"
DECOMPRESSED_TOO_LARGE = "DOWNLOAD_MAXSIZE"   # "... exceeded DOWNLOAD_MAXSIZE (N B) during decompression."
