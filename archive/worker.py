"""Extraction as one call on a fetched page: what the archive keeps of it.

Runs in worker processes (plain picklable inputs and outputs), and again, byte for
byte the same, when text is re-extracted from WARC records.
"""
from __future__ import annotations

import importlib
import json
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from .contentcoding import decode_content
from .naming import render_text


class InlineExecutor(Executor):
    """Runs each call at once in this process (0 workers: debugging, tiny runs)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future


def extraction_executor(workers: int) -> Executor:
    """Worker processes for extraction (``spawn``: safe beside threads and a running reactor).

    Workers start at the first :meth:`~Executor.submit` calls (one per call while none is
    idle) and load the extractor as they start.
    """
    if workers <= 0:
        return InlineExecutor()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_load_extractor)


def start_workers(executor: Executor, workers: int) -> None:
    """Start ``executor``'s worker processes now (each loads the extractor as it starts),
    rather than at the first pages it is given."""
    for _ in range(workers):
        executor.submit(os.getpid)


def _load_extractor() -> None:
    """Worker initializer: import the extraction code before the first page comes."""
    importlib.import_module("archive.extract")


def extract_for_archive(body: bytes, content_type: str | None, url: str, content_encoding: str | None = None,
                        max_size: int = 0) -> dict:
    """Decode and clean one page: ``{"text": <file bytes>, **article metadata}``.

    ``content_encoding``: the body is still as the server sent it (gzip, say), and is
    decoded here, to at most ``max_size`` bytes (0: no limit; beyond it
    :class:`~archive.contentcoding.DecodedTooLarge`).
    """
    from .extract import decode_html, extract_article  # loaded by the worker processes only

    if content_encoding:
        body, _ = decode_content(body, [content_encoding], max_size)
    html = decode_html(body, content_type)
    article = extract_article(html, url)
    text = render_text(article.title, article.body) if article.body.strip() else b""
    return {"text": text, **article.as_dict()}


def extracted_fields(extracted: dict, feed_published: str | None = None) -> dict:
    """Catalog version fields that come from the extraction (the crawl and re-extraction
    both use this, so their rows agree). The feed's date stands in for a page without one."""
    published, published_source = extracted.get("published"), extracted.get("published_source")
    if not published and feed_published:
        published, published_source = feed_published, "feed"
    return {
        "title": extracted.get("title"),
        "authors": "; ".join(extracted.get("authors") or []),
        "published": published,
        "published_source": published_source,
        "modified": extracted.get("modified"),
        "modified_source": extracted.get("modified_source"),
        "language": extracted.get("language"),
        "section": extracted.get("section"),
        "links": json.dumps(extracted.get("links") or []),
    }
