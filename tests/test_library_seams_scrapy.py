"""The crawler's seams to Scrapy internals (crawler/scrapy_compat.py): one test per
workaround, failing when the private name or the upstream behaviour it relies on changes.

Also: no module but the compat module imports a private name of Scrapy or Twisted.
"""
from __future__ import annotations

import ast
import gzip
import inspect
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.utils.gz import gunzip
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred

from crawler import scrapy_compat
from crawler.scrapy_compat import (
    DECOMPRESSED_TOO_LARGE, FORBIDDEN_BY_ROBOTS, MAX_REDIRECTIONS, PoliteDownloader, pending_robots_txt,
)

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO / "crawler" / "scrapy_compat.py"


def test_scrapy_is_the_version_the_workarounds_were_checked_against():
    import scrapy
    assert scrapy.__version__ == scrapy_compat.SCRAPY_CHECKED, (
        "Scrapy changed: re-check each workaround in crawler/scrapy_compat.py, then update SCRAPY_CHECKED")


# -- 1. PoliteDownloader -------------------------------------------------------------------

def test_downloader_hands_out_requests_through_wait_for_download():
    """PoliteDownloader overrides the private ``Downloader._wait_for_download(slot, request,
    queue_dfd)``: it must exist with that signature, be what ``_process_queue`` schedules,
    and ``_download`` must add the request to ``slot.transferring`` itself."""
    method = Downloader.__dict__.get("_wait_for_download")
    assert method is not None, "Downloader._wait_for_download is gone"
    assert list(inspect.signature(method).parameters) == ["self", "slot", "request", "queue_dfd"]
    assert "self._wait_for_download(slot, request, queue_dfd)" in inspect.getsource(Downloader._process_queue)
    assert "slot.transferring.add(request)" in inspect.getsource(Downloader._download)
    assert "slot.transferring.remove(request)" in inspect.getsource(Downloader._download)
    assert isinstance(Slot(concurrency=1, delay=0).transferring, set)
    assert PoliteDownloader._wait_for_download is not Downloader._wait_for_download


def test_polite_downloader_counts_the_request_when_handing_it_out():
    slot = Slot(concurrency=1, delay=0)
    request = Request("https://example.org/a")
    handed: list = []

    class Probe(Downloader):  # Scrapy's _wait_for_download, not run: only what it was given
        def _wait_for_download(self, slot, request, queue_dfd):
            handed.append((slot, request, queue_dfd))
            return "coroutine"

    class Polite(PoliteDownloader, Probe):
        pass

    polite = Polite.__new__(Polite)  # no crawler: only the override runs
    assert polite._wait_for_download(slot, request, Deferred()) == "coroutine"
    assert slot.transferring == {request} and slot.free_transfer_slots() == 0
    assert handed and handed[0][1] is request


# -- 2. robots.txt waiters -----------------------------------------------------------------

def test_robots_middleware_keeps_pending_downloads_in_parsers():
    """``pending_robots_txt`` reads the private ``RobotsTxtMiddleware._parsers``: a dict
    netloc -> parser | pending Deferred | None, holding a Deferred while robots.txt is
    being fetched."""
    crawler = get_crawler(settings_dict={"ROBOTSTXT_OBEY": True})

    class Engine:  # a robots.txt download that never answers
        async def download_async(self, request):
            import asyncio
            await asyncio.Future()

    crawler.engine = Engine()
    middleware = RobotsTxtMiddleware(crawler)
    assert isinstance(middleware._parsers, dict) and not middleware._parsers
    request = Request("https://example.org/page")
    waiting = middleware.robot_parser(request)
    waiting.send(None)  # runs up to the robots.txt download, which never answers
    try:
        assert isinstance(middleware._parsers.get("example.org"), Deferred)
        assert pending_robots_txt(middleware, request) is middleware._parsers["example.org"]
        assert pending_robots_txt(middleware, Request("https://other.example/")) is None
        middleware._parsers["example.org"] = None  # robots.txt failed: nothing pending
        assert pending_robots_txt(middleware, request) is None
    finally:
        waiting.close()


# -- 3. IgnoreRequest messages -------------------------------------------------------------

def test_forbidden_by_robots_message():
    crawler = get_crawler(settings_dict={"ROBOTSTXT_OBEY": True})
    crawler.stats = type("Stats", (), {"inc_value": lambda *a, **k: None})()
    middleware = RobotsTxtMiddleware(crawler)

    class Forbidding:
        def allowed(self, url, user_agent):
            return False

    with pytest.raises(IgnoreRequest) as raised:
        middleware.process_request_2(Forbidding(), Request("https://example.org/private"))
    assert FORBIDDEN_BY_ROBOTS in str(raised.value)


def test_max_redirections_message():
    middleware = RedirectMiddleware.from_crawler(get_crawler(settings_dict={"REDIRECT_MAX_TIMES": 1}))
    request = Request("https://example.org/a", meta={"redirect_times": 1})
    response = Response("https://example.org/a", status=302, headers={"Location": "/b"}, request=request)
    with pytest.raises(IgnoreRequest) as raised:
        middleware.process_response(request, response)
    assert MAX_REDIRECTIONS in str(raised.value)


def test_decompressed_too_large_message():
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 1000, "DOWNLOAD_WARNSIZE": 0})
    crawler.stats = type("Stats", (), {"inc_value": lambda *a, **k: None})()
    middleware = HttpCompressionMiddleware.from_crawler(crawler)
    request = Request("https://example.org/a")
    response = HtmlResponse("https://example.org/a", body=gzip.compress(b"x" * 100_000),
                            headers={"Content-Encoding": "gzip"}, request=request)
    with pytest.raises(IgnoreRequest) as raised:
        middleware.process_response(request, response)
    assert DECOMPRESSED_TOO_LARGE in str(raised.value)


# -- the dropped workaround: no private exception needed ------------------------------------

def test_gunzip_beyond_max_size_raises_a_value_error():
    """crawler.discovery catches ValueError for a sitemap too large once decompressed."""
    with pytest.raises(ValueError):
        gunzip(gzip.compress(b"x" * 100_000), max_size=1000)


# -- the rule ------------------------------------------------------------------------------

def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("scrapy", "twisted"):
            names = [node.module] + [alias.name for alias in node.names]
            if any(part.startswith("_") for name in names for part in name.split(".")):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in ("scrapy", "twisted") and any(p.startswith("_") for p in parts):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_only_the_compat_module_imports_private_names():
    files = [p for folder in ("crawler", "archive") for p in (REPO / folder).rglob("*.py") if p != COMPAT]
    assert [hit for path in files for hit in _private_imports(path)] == []
