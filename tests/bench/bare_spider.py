"""Bare Scrapy spider for the crawl benchmark: fetch every URL of a list, nothing else.

``python -m tests.bench.bare_spider --urls FILE [--extract] --stats-out FILE``

Runs with plain Scrapy defaults (NOT the project's settings: no WARC middleware, no
pipeline, no catalog; only CONCURRENT_ITEMS as the project sets it) and politeness off: robots.txt ignored, AutoThrottle off,
32 concurrent requests (32 per domain), no delay. With ``--extract`` each page's text is
extracted inline with ``trafilatura.extract`` (the "Scrapy + trafilatura" baseline).
At the end the crawl's stats and page counts are written as JSON to ``--stats-out``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, AsyncIterator

import scrapy
from scrapy.crawler import CrawlerProcess

BARE_SETTINGS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": False,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "DOWNLOAD_DELAY": 0,
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "INFO",
    "USER_AGENT": "newsarchive-bench/0.1 (bare scrapy baseline)",
    "RETRY_TIMES": 2,
    "DOWNLOAD_TIMEOUT": 30,
    # The one engine setting the project tunes (crawler/settings.py): Scrapy's default of 100
    # starts 100 asyncio tasks for every response, ~1.5 ms of CPU a page. Set here as well, so
    # the bare spider stays the fastest Scrapy crawler and the comparison stays fair.
    "CONCURRENT_ITEMS": 4,
}


class BareSpider(scrapy.Spider):
    """Fetches each URL once; optionally extracts its text with trafilatura."""

    name = "bare"

    def __init__(self, urls_file: str, extract: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.urls_file = urls_file
        self.extract = extract
        self.pages = 0
        self.text_chars = 0
        self.empty = 0

    async def start(self) -> AsyncIterator[scrapy.Request]:
        with open(self.urls_file, encoding="utf-8") as handle:
            for line in handle:
                url = line.strip()
                if url:
                    yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response):
        if response.status == 200:
            self.pages += 1
        if self.extract:
            import trafilatura

            text = trafilatura.extract(response.text, url=response.url)
            if text:
                self.text_chars += len(text)
            else:
                self.empty += 1
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True, help="file with one URL per line")
    parser.add_argument("--extract", action="store_true", help="trafilatura.extract each page inline")
    parser.add_argument("--stats-out", required=True, help="write pages and Scrapy stats here (JSON)")
    args = parser.parse_args(argv)
    if args.extract:
        importlib.import_module("trafilatura")  # before the clock of the first page
    process = CrawlerProcess(settings=dict(BARE_SETTINGS))
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls_file=args.urls, extract=args.extract)
    process.start()
    spider = crawler.spider
    stats = {k: v for k, v in crawler.stats.get_stats().items() if isinstance(v, (int, float, str))}
    result = {"pages": spider.pages, "text_chars": spider.text_chars, "empty_extractions": spider.empty,
              "stats": stats}
    with open(args.stats_out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
