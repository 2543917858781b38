"""Scrapy's downloader with its per-origin concurrency limit enforced under asyncio.

Scrapy 2.19 counts a request as transferring only once the task that downloads it
starts; under the asyncio reactor tasks start on the next loop iteration, after
``_process_queue`` has already handed out every queued request of the slot. The
result is that ``CONCURRENT_REQUESTS_PER_DOMAIN`` stops limiting anything: a test
outlet answering slowly saw 25 parallel connections with a limit of 2. For a crawler
that promises politeness to news sites this matters, so the request is counted at the
moment it is handed out (``Downloader._download`` adds it again, idempotently, and
removes it when the response arrives).
"""
from __future__ import annotations

from typing import Any, Coroutine

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from twisted.internet.defer import Deferred


class PoliteDownloader(Downloader):
    """:class:`scrapy.core.downloader.Downloader` that never exceeds a slot's concurrency."""

    def _wait_for_download(self, slot: Slot, request: Request, queue_dfd: Deferred) -> Coroutine[Any, Any, None]:
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
