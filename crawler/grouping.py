"""Extension: after each crawl, group the new texts with their copies at other outlets.

Settings: SYNDICATION_GROUPS (default True; False switches grouping after crawls off, and
``python -m archive groups`` then brings the groups up to date by hand).
"""
from __future__ import annotations

import logging
import time
from contextlib import closing

from scrapy import signals
from scrapy.exceptions import NotConfigured
from sqlalchemy.exc import SQLAlchemyError

from archive.store.catalog import Catalog, catalog_url_for
from crawler.writeerrors import error_line

logger = logging.getLogger(__name__)


class SyndicationGrouping:
    """Updates the catalog's syndication groups when the spider closes (see
    :mod:`archive.store.syndication`): each new article version costs one MinHash and one
    lookup per LSH band. A failure is logged and costs the crawl nothing: the next crawl,
    or ``python -m archive groups``, groups what is left."""

    def __init__(self, archive_dir: str, catalog_url: str):
        self.archive_dir = archive_dir
        self.catalog_url = catalog_url

    @classmethod
    def from_crawler(cls, crawler) -> "SyndicationGrouping":
        settings = crawler.settings
        if not settings.getbool("SYNDICATION_GROUPS", True):
            raise NotConfigured
        extension = cls(settings["ARCHIVE_DIR"], settings.get("CATALOG_URL") or catalog_url_for(settings["ARCHIVE_DIR"]))
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider, reason: str) -> None:
        # imported here: numpy and datasketch stay out of the crawl (and its workers) until now
        from archive.store.syndication import SyndicationError, update_groups

        started = time.monotonic()
        try:
            # (the Catalog creates the syndication tables: a full disk fails here)
            with closing(Catalog(self.catalog_url)) as catalog:
                stats = update_groups(catalog, self.archive_dir, emit=logger.info)
        except (OSError, SQLAlchemyError, SyndicationError) as exc:
            logger.error("syndication groups not updated: %s; run 'python -m archive groups' later",
                         error_line(exc))
            return
        logger.info("syndication groups updated in %.1f s: %s", time.monotonic() - started, stats.summary())
