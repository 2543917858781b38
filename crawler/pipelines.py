"""Item pipeline: article responses -> extracted text -> versioned file + catalog row."""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import Executor, Future

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy.exc import SQLAlchemyError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, reactor

from archive.store.catalog import Catalog, catalog_url_for
from archive.store.claims import RELEASED
from archive.store.recheck import RecheckPolicy
from archive.store.textstore import NewVersion, TextStore
from archive.store.urls import canonicalize_url
from archive.text.job import extract_for_archive, extracted_fields
from archive.text.pool import extraction_executor, start_workers
from archive.warc.contentcoding import DecodedTooLarge
from crawler.signals import articles_discovered
from crawler.writeerrors import error_line, stop_if_cannot_write
from crawler.spiders.news import stat_key

logger = logging.getLogger(__name__)

# Checks that found nothing new are written to the catalog in batches: one transaction per
# check cost more CPU than the 304 itself. A crash loses at most these (the articles are
# checked again next run); nothing else waits on them.
UNCHANGED_BATCH = 200
UNCHANGED_MAX_AGE = 5.0  # seconds
# New texts are committed in batches too (one transaction, then the renames), each item
# waiting for its batch: a transaction per page costs the crawl process several times the
# CPU of a batch. A crash loses at most one batch of texts, and those articles are
# fetched again next run.
VERSION_BATCH = 50
VERSION_MAX_AGE = 0.2  # seconds


def deferred_from_future(future: Future) -> defer.Deferred:
    """A Deferred fired in the reactor thread when ``future`` (any thread) completes."""
    deferred: defer.Deferred = defer.Deferred()

    def fire(done: Future) -> None:
        if done.exception() is not None:
            deferred.errback(done.exception())
        else:
            deferred.callback(done.result())

    future.add_done_callback(lambda done: reactor.callFromThread(fire, done))
    return deferred


class ArchivePipeline:
    """Extracts article text in worker processes and archives each new version.

    Settings: ARCHIVE_DIR, CATALOG_URL, EXTRACT_WORKERS (default: CPU count; 0 runs
    extraction inline), TEXT_ENABLED, TEXT_FSYNC; DOWNLOAD_MAXSIZE bounds the bodies the
    workers decompress.
    """

    def __init__(self, crawler, catalog: Catalog, store: TextStore, workers: int):
        self.crawler = crawler
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")  # bodies the workers decode
        self.stats = crawler.stats
        self.catalog = catalog
        self.store = store
        self.workers = workers
        self.executor: Executor | None = None
        self.workers_started = False
        self.policies: dict[str, RecheckPolicy] = {}
        self.unchanged: list[tuple[str, RecheckPolicy, dict]] = []
        self.unchanged_since = 0.0
        self.versions: list[tuple[NewVersion, defer.Deferred]] = []
        self.versions_timer = None

    @classmethod
    def from_crawler(cls, crawler) -> "ArchivePipeline":
        settings = crawler.settings
        if not settings.getbool("TEXT_ENABLED", True):
            raise NotConfigured("TEXT_ENABLED is off")
        archive_dir = settings["ARCHIVE_DIR"]
        catalog = Catalog(settings.get("CATALOG_URL") or catalog_url_for(archive_dir))
        store = TextStore(archive_dir, catalog, fsync=settings.getbool("TEXT_FSYNC", False))
        workers = settings.getint("EXTRACT_WORKERS", os.cpu_count() or 1)
        pipeline = cls(crawler, catalog, store, workers)
        crawler.signals.connect(pipeline.start_workers, signal=articles_discovered)
        # a worker of a shared catalog waiting for its peers must not keep its unchanged
        # checks (and so its claims on them) to itself
        crawler.signals.connect(pipeline._flush_unchanged, signal=signals.spider_idle)
        return pipeline

    def open_spider(self) -> None:
        self.executor = extraction_executor(self.workers)
        outlets = self.crawler.spider.outlets
        self.policies = {name: RecheckPolicy(o.recheck_intervals, o.recheck_stop_after) for name, o in outlets.items()}

    def start_workers(self) -> None:
        """Start the extraction workers ahead of the first page (once new articles are known:
        a run that finds none never starts them)."""
        if self.executor is not None and not self.workers_started:
            self.workers_started = True
            start_workers(self.executor, self.workers)

    def close_spider(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        self._flush_versions()
        self._flush_unchanged()
        self.catalog.close()

    # -- items -----------------------------------------------------------------------

    async def process_item(self, item: dict) -> dict:
        body = item.pop("body", b"")  # pages stay out of item logs and of memory beyond this call
        try:
            return await self._archive(item, body)
        except DropItem:
            self.crawler.spider.release_claim(item["article_url"])
            raise
        except (OSError, SQLAlchemyError) as exc:
            # the text file or the catalog cannot be written; a full disk stops the crawl
            self.crawler.spider.release_claim(item["article_url"])
            kind = stop_if_cannot_write(self.crawler, exc) or "archive_write"
            self.stats.inc_value(stat_key(item["outlet"], "errors", kind))
            logger.error("outlet %s: cannot archive %s: %s", item["outlet"], item["url"], error_line(exc))
            raise _Dropped(f"archive write failed for {item['url']}") from exc

    async def _archive(self, item: dict, body: bytes) -> dict:
        outlet = item["outlet"]
        if item["status"] in (404, 410):
            return self._gone(item, {"status": item["status"]})
        redirect, target = self._redirect(item)
        if redirect == "index":
            return self._gone(item, {"status": item["redirects"][0][1], "reason": "redirect-to-index", "url": target})
        if redirect == "moved":
            self._moved(item, target, {"status": item["redirects"][-1][1]})
        if item["status"] == 304 or item.get("revisit"):
            self._note_unchanged(item["article_url"], self.policies[outlet], self._check_fields(item))
            self.stats.inc_value(stat_key(outlet, "unchanged"))
            self._restored(item)
            return _summary(item, "unchanged")
        # the first submits start the worker processes unless discovery did (start_workers):
        # a run that only finds unchanged articles (304s, identical pages) never pays their
        # start-up (a process and its imports each)
        self.stats.inc_value("extraction/pages")
        future = self.executor.submit(extract_for_archive, body, item.get("content_type"), item["url"],
                                      item.get("content_encoding"), self.max_size)
        try:
            extracted = await maybe_deferred_to_future(deferred_from_future(future))
        except DecodedTooLarge as exc:  # a decompression bomb, say (logged as the spider logs its kind)
            self.stats.inc_value(stat_key(outlet, "errors", "too_large"))
            logger.error("outlet %s: article %s failed: too_large (%s)", outlet, item["url"], exc)
            raise _Dropped(f"{item['url']} is too large") from exc
        except Exception as exc:  # a worker crash, an undecodable body, an extractor bug: this page only
            self.stats.inc_value(stat_key(outlet, "errors", "extraction"))
            logger.error("outlet %s: extraction of %s failed: %r", outlet, item["url"], exc)
            raise _Dropped(f"extraction failed for {item['url']}") from exc
        return await self._store(extracted, item)

    async def _store(self, extracted: dict, item: dict) -> dict:
        outlet = item["outlet"]
        self._follow(extracted, item)
        if not extracted["text"]:
            self.stats.inc_value(stat_key(outlet, "errors", "no_article_text"))
            logger.warning("outlet %s: no article text found in %s", outlet, item["url"])
            raise _Dropped(f"no article text in {item['url']}")
        row = await self._add_version(NewVersion(outlet, item["article_url"], extracted["text"],
                                                 self._version_fields(item, extracted), self._check_fields(item),
                                                 self.policies[outlet]))
        self._restored(item)
        if row is None:
            self.stats.inc_value(stat_key(outlet, "unchanged"))
            return _summary(item, "unchanged")
        if row.get("alias_of"):
            self.stats.inc_value(stat_key(outlet, "same_story"))
            logger.info("outlet %s: %s holds the same text as %s: recorded as another URL of that story",
                        outlet, item["url"], row["alias_of"])
            return _summary(item, "alias")
        self.stats.inc_value(stat_key(outlet, "archived"))
        if row["version"] > 1:
            self.stats.inc_value(stat_key(outlet, "new_versions"))
            logger.info("outlet %s: new version %d of %s (%s) -> %s", outlet, row["version"], item["article_url"],
                        row["change"], row["file"])
        return _summary(item, "archived", row["file"])

    def _follow(self, extracted: dict, item: dict) -> None:
        """Apply the page's canonical URL (same outlet only) and register its article links."""
        spider = self.crawler.spider
        outlet = spider.outlets[item["outlet"]]
        canonical = canonicalize_url(extracted.get("canonical_url") or "", base=item["url"])
        if canonical and canonical != item["article_url"] and outlet.owns(canonical):
            if not item.get("archived"):
                self.catalog.mark_alias(item["article_url"], canonical)
                item["article_url"] = canonical
            elif not outlet.is_index(canonical, from_url=item["article_url"]):  # it keeps its identity
                self._moved(item, canonical, {"canonical": True})
        if item.get("follow_links"):
            # the extractor's links are absolute: most lead off the outlet, and an origin check
            # costs a tenth of a canonicalisation
            links = (canonicalize_url(link) for link in extracted.get("links") or [] if outlet.owns(link))
            spider.register_links(outlet, [(url, None) for url in dict.fromkeys(links)
                                           if url and url != item["article_url"]], "link", item["url"])

    async def _add_version(self, version: NewVersion) -> dict | None:
        """Queue ``version`` for the next batch; its row (None: text unchanged) once committed."""
        written: defer.Deferred = defer.Deferred()
        self.versions.append((version, written))
        if len(self.versions) >= VERSION_BATCH:
            self._flush_versions()
        elif self.versions_timer is None:
            self.versions_timer = reactor.callLater(VERSION_MAX_AGE, self._flush_versions)
        return await maybe_deferred_to_future(written)

    def _flush_versions(self) -> None:
        """Commit the queued versions; each waiting item gets its row or the error."""
        if self.versions_timer is not None and self.versions_timer.active():
            self.versions_timer.cancel()
        self.versions_timer = None
        batch, self.versions = self.versions, []
        if not batch:
            return
        try:
            rows = self.store.add_versions([version for version, _ in batch])
        except Exception as exc:  # each item logs it (process_item): nothing of the batch is written
            for _, written in batch:
                written.errback(exc)
            return
        for row, (_, written) in zip(rows, batch):
            written.callback(row)

    def _note_unchanged(self, url: str, policy: RecheckPolicy, fields: dict) -> None:
        if not self.unchanged:
            self.unchanged_since = time.monotonic()
        self.unchanged.append((url, policy, fields))
        if len(self.unchanged) >= UNCHANGED_BATCH or time.monotonic() - self.unchanged_since > UNCHANGED_MAX_AGE:
            self._flush_unchanged()

    def _flush_unchanged(self) -> None:
        checks, self.unchanged = self.unchanged, []
        if not checks:
            return
        try:
            self.catalog.record_unchanged(checks)
        except (OSError, SQLAlchemyError) as exc:
            # only check times are lost: these articles are simply checked again next run
            stop_if_cannot_write(self.crawler, exc)
            self.stats.inc_value("newsarchive/errors/catalog_write")
            logger.error("cannot record %d unchanged checks in the catalog: %s", len(checks), error_line(exc))

    def _redirect(self, item: dict) -> tuple[str | None, str]:
        """(kind, where the redirects led): ``index`` when the article was redirected to
        another site, the outlet's home or a section page (a takedown); ``moved`` when an
        archived article was redirected for good (301/308) to another article URL of the
        outlet; else None."""
        redirects = item.get("redirects")
        if not redirects:  # (most pages: no canonicalisation for them)
            return None, item["url"]
        target = canonicalize_url(item["url"]) or item["url"]
        if self.crawler.spider.outlets[item["outlet"]].is_index(target, from_url=redirects[0][0]):
            return "index", target
        permanent = all(reason in (301, 308) for _, reason in redirects)
        same = target.partition(":")[2] == item["article_url"].partition(":")[2]  # (only https now)
        return ("moved" if item.get("archived") and permanent and not same else None), target

    def _moved(self, item: dict, new_url: str, detail: dict) -> None:
        if self.catalog.record_moved(item["article_url"], new_url, detail):
            self.stats.inc_value(stat_key(item["outlet"], "moved"))
            logger.warning("outlet %s: archived article %s moved to %s", item["outlet"], item["article_url"], new_url)

    def _restored(self, item: dict) -> None:
        if item.get("article_state") == "gone" and self.catalog.record_restored(item["article_url"], item["status"]):
            self.stats.inc_value(stat_key(item["outlet"], "restored"))
            logger.warning("outlet %s: archived article %s, gone before, is back", item["outlet"], item["article_url"])

    def _gone(self, item: dict, detail: dict) -> dict:
        outlet, status = item["outlet"], detail["status"]
        if detail.get("reason"):
            why = f"redirected to the outlet's home, a section or another site: {item['url']}"
            kind = "redirect_to_index"
        else:
            why, kind = f"HTTP {status}, {'not found' if status == 404 else 'gone'}", f"http_{status}"
        fields = {"last_checked": item["fetched_at"], "last_status": status}
        if self.catalog.record_gone(item["article_url"], self.policies[outlet], fields, detail):
            self.crawler.spider.release_claim(item["article_url"])
            self.stats.inc_value(stat_key(outlet, "gone"))
            logger.warning("outlet %s: archived article %s is gone (%s)", outlet, item["article_url"], why)
            return _summary(item, "gone")
        self.stats.inc_value(stat_key(outlet, "errors", kind))
        logger.warning("outlet %s: article %s not archived (%s)", outlet, item["article_url"], why)
        raise _Dropped(f"{why} for {item['url']}")

    def _check_fields(self, item: dict) -> dict:
        fields = {"last_checked": item["fetched_at"], "last_status": item["status"], "fetch_url": item["url"]}
        if self.catalog.shared:  # the check written ends this worker's claim on the article
            fields.update(RELEASED)
        if item["status"] != 304:
            fields.update(etag=item.get("etag"), last_modified=item.get("last_modified"))
        warc = item.get("warc")
        if warc and not item.get("revisit"):
            fields.update(capture_uri=item["url"], capture_date=warc["warc_date"],
                          capture_record_id=warc["record_id"], capture_digest=warc["payload_digest"],
                          capture_warc_file=warc["warc_file"], capture_warc_offset=warc["offset"])
        return fields

    @staticmethod
    def _version_fields(item: dict, extracted: dict) -> dict:
        warc = item.get("warc") or {}
        return {
            **extracted_fields(extracted, feed_published=item.get("announced")),
            "url": item["url"],
            "canonical_url": item["article_url"],
            "fetched_at": item["fetched_at"],
            "http_status": item["status"],
            "etag": item.get("etag"),
            "last_modified": item.get("last_modified"),
            "warc_file": warc.get("warc_file"),
            "warc_offset": warc.get("offset"),
            "warc_record_id": warc.get("record_id"),
            "payload_digest": warc.get("payload_digest"),
            "discovered_via": item.get("via"),
        }


class _Dropped(DropItem):
    """An item not archived; the pipeline has already logged why, so Scrapy logs it quietly."""

    def __init__(self, message: str):
        super().__init__(message, log_level="DEBUG")


def _summary(item: dict, outcome: str, file: str | None = None) -> dict:
    """What leaves the pipeline: the item without its page body."""
    return {"outlet": item["outlet"], "url": item["url"], "article_url": item["article_url"],
            "status": item["status"], "outcome": outcome, "file": file}
