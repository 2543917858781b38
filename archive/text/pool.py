"""The extraction worker processes that run :mod:`archive.text.job` for the crawl and
for re-extraction (or an inline stand-in with 0 workers)."""
from __future__ import annotations

import importlib
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor


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
    importlib.import_module("archive.text.extract")
