"""Article bodies stay compressed in the crawl process and are decoded by the extraction
workers: archive.warc.contentcoding, KeepEncodedBodyMiddleware, LazyMetaRefreshMiddleware on
encoded bodies, and extract_for_archive on an encoded body."""
from __future__ import annotations

import gzip
import pickle
import tracemalloc
import zlib

import pytest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler

from archive.text.job import extract_for_archive
from archive.warc.contentcoding import DecodedTooLarge, decode_content, decoded_head
from crawler.middlewares import KeepEncodedBodyMiddleware, LazyMetaRefreshMiddleware
from crawler.settings import DOWNLOADER_MIDDLEWARES

URL = "http://127.0.0.1:8000/2024/05/01/harbour-budget"
PARAGRAPHS = [f"The harbour council met on day {n} to weigh the budget for the new breakwater and its "
              f"maintenance over the next decade, and residents spoke for and against it." for n in range(12)]
PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Harbour budget</title></head><body>"
        "<article><h1>Harbour budget passes</h1>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) +
        "</article></body></html>").encode("utf-8")
REFRESH_PAGE = (b"<html><head><meta http-equiv='refresh' content='0; url=/2024/05/01/moved'></head>"
                b"<body><p>Moved.</p></body></html>")


def _deflate(data: bytes, raw: bool = False) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15 if raw else 15)
    return compressor.compress(data) + compressor.flush()


def _middleware(cls, **settings):
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 1_000_000, **settings})
    return cls.from_crawler(crawler)


def _encoded_response(body: bytes, coding: str = "gzip", content_type: str = "text/html; charset=utf-8",
                      keep: bool = True) -> tuple[Request, Response]:
    request = Request(URL, meta={"keep_encoded_body": True} if keep else {})
    encoded = gzip.compress(body) if coding == "gzip" else _deflate(body)
    # what Scrapy's download handler builds for an encoded body: a plain Response
    response = Response(URL, body=encoded, request=request,
                        headers={"Content-Type": content_type, "Content-Encoding": coding})
    return request, response


# -- archive.warc.contentcoding ----------------------------------------------------------

@pytest.mark.parametrize("coding, encode", [("gzip", gzip.compress), ("x-gzip", gzip.compress),
                                            ("deflate", _deflate), ("deflate", lambda d: _deflate(d, raw=True))])
def test_decode_content_and_its_head(coding, encode):
    encoded = encode(PAGE)
    assert decode_content(encoded, [coding]) == (PAGE, [])
    assert decoded_head(encoded, [coding], 100) == PAGE[:100]


def test_decode_content_stops_early_beyond_max_size():
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(DecodedTooLarge, match=r"exceeds DOWNLOAD_MAXSIZE \(1000000 bytes\)"):
        decode_content(bomb, ["gzip"], max_size=1_000_000)
    assert len(decode_content(bomb, ["gzip"], max_size=6_000_000)[0]) == 5_000_000
    with pytest.raises(DecodedTooLarge):
        decode_content(_deflate(b"\0" * 5_000_000), ["deflate"], max_size=1_000_000)


def test_too_large_pickles_across_processes_unchanged():
    error = pickle.loads(pickle.dumps(DecodedTooLarge(5000)))
    assert isinstance(error, DecodedTooLarge) and str(error) == "decoded body exceeds DOWNLOAD_MAXSIZE (5000 bytes)"


def test_decoded_head_only_for_one_streamed_coding():
    assert decoded_head(gzip.compress(gzip.compress(PAGE)), ["gzip, gzip"], 50) is None
    assert decoded_head(PAGE, ["br"], 50) is None
    assert decoded_head(PAGE, ["gzip"], 50) is None  # not gzip at all
    assert decoded_head(gzip.compress(PAGE), ["gzip", "foo"], 50) is None  # an unknown coding stays applied


def test_unknown_coding_is_kept_as_scrapy_does():
    assert decode_content(gzip.compress(PAGE), ["foo, gzip"]) == (PAGE, ["foo"])


# -- the middlewares -----------------------------------------------------------------------

def test_settings_replace_scrapys_compression_middleware_at_its_priority():
    assert DOWNLOADER_MIDDLEWARES["scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware"] is None
    assert DOWNLOADER_MIDDLEWARES["crawler.middlewares.KeepEncodedBodyMiddleware"] == 590


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_article_body_kept_as_sent_as_an_html_response(coding):
    request, response = _encoded_response(PAGE, coding)
    kept = _middleware(KeepEncodedBodyMiddleware).process_response(request, response)
    assert isinstance(kept, HtmlResponse)
    assert kept.body == response.body != PAGE
    assert kept.headers.get("Content-Encoding") == coding.encode()


def test_mislabelled_html_is_sniffed_from_its_decoded_head():
    request, response = _encoded_response(PAGE, content_type="application/octet-stream")
    kept = _middleware(KeepEncodedBodyMiddleware).process_response(request, response)
    assert isinstance(kept, HtmlResponse) and kept.body == response.body


def test_other_requests_and_binary_bodies_are_decoded_as_scrapy_does():
    middleware = _middleware(KeepEncodedBodyMiddleware)
    request, response = _encoded_response(PAGE, keep=False)
    decoded = middleware.process_response(request, response)
    assert isinstance(decoded, HtmlResponse) and decoded.body == PAGE and not decoded.headers.get("Content-Encoding")
    binary = bytes(range(256)) * 40
    request, response = _encoded_response(binary, content_type="application/octet-stream")
    assert middleware.process_response(request, response).body == binary


def test_meta_refresh_found_in_an_encoded_body():
    keep = _middleware(KeepEncodedBodyMiddleware)
    refresh = _middleware(LazyMetaRefreshMiddleware)
    request, response = _encoded_response(REFRESH_PAGE)
    redirect = refresh.process_response(request, keep.process_response(request, response))
    assert isinstance(redirect, Request) and redirect.url.endswith("/2024/05/01/moved")
    request, response = _encoded_response(PAGE)
    kept = keep.process_response(request, response)
    assert refresh.process_response(request, kept) is kept  # no refresh: passed on, still encoded


# -- the worker ----------------------------------------------------------------------------

def test_worker_extracts_the_same_text_from_an_encoded_body():
    plain = extract_for_archive(PAGE, "text/html; charset=utf-8", URL)
    assert plain["text"].startswith(b"Harbour budget\n\nThe harbour council met on day 0")
    assert extract_for_archive(gzip.compress(PAGE), "text/html; charset=utf-8", URL, "gzip") == plain
    assert extract_for_archive(_deflate(PAGE), "text/html; charset=utf-8", URL, "deflate", 1_000_000) == plain
    with pytest.raises(DecodedTooLarge):
        extract_for_archive(gzip.compress(PAGE), "text/html; charset=utf-8", URL, "gzip", max_size=1000)


def test_meta_refresh_check_never_decodes_a_whole_bomb():
    request, response = _encoded_response(b"\0" * 100_000_000)  # NUL bytes: the check looks further
    response = HtmlResponse(URL, body=response.body, headers=response.headers, request=request)
    tracemalloc.start()
    try:
        passed_on = _middleware(LazyMetaRefreshMiddleware).process_response(request, response)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert passed_on is response
    assert peak < 5_000_000, peak
