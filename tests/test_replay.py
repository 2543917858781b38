"""Issue 19: a real pywb replays the archive through the index the crawl keeps.

pywb runs from its own virtualenv (``make pywb``: .venv-pywb, pinned in
requirements-pywb.txt; ``make test`` makes it) on a free port of 127.0.0.1, over a
collection whose ``archive/`` and ``indexes/`` are symlinks to the archive's ``warc/`` and
``indexes/``: nothing but our index tells it where the records are. ``NEWSARCHIVE_PYWB``
may name another ``wayback`` executable.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path

import lxml.html
import pytest
from warcio.timeutils import iso_date_to_timestamp

from archive.tools.index import iter_entries
from archive.warc.reader import read_record
from tests.conftest import REPO
from tests.pgserver import free_port
from tests.replay_archive import make_recrawled_archive

WAYBACK = Path(os.environ.get("NEWSARCHIVE_PYWB") or REPO / ".venv-pywb" / "bin" / "wayback")
COLLECTION = "news"


@pytest.fixture(scope="module")
def recrawled(tmp_path_factory):
    made = make_recrawled_archive(tmp_path_factory.mktemp("replayed"))
    yield made
    made.server.stop()


@pytest.fixture(scope="module")
def pywb(recrawled, tmp_path_factory):
    """Base URL of a pywb serving the archive as collection ``news``; stopped afterwards."""
    if not WAYBACK.exists():
        pytest.fail(f"pywb is not installed at {WAYBACK}: run 'make pywb' (make test does)")
    root = tmp_path_factory.mktemp("pywb")
    collection = root / "collections" / COLLECTION
    collection.mkdir(parents=True)
    (collection / "archive").symlink_to(recrawled.archive / "warc")
    (collection / "indexes").symlink_to(recrawled.archive / "indexes")
    port = free_port()
    log = open(root / "wayback.log", "w+")
    server = subprocess.Popen([str(WAYBACK), "--bind", "127.0.0.1", "--port", str(port), "-d", str(root)],
                              cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"pywb exited with {server.returncode}: {log.read()[-3000:]}")
            try:
                if _get(f"{base}/{COLLECTION}/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("pywb did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _text(html: bytes) -> str:
    return " ".join(lxml.html.fromstring(html).text_content().split())


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def _memento_ts(headers: dict[str, str]) -> str:
    return parsedate_to_datetime(headers["memento-datetime"]).strftime("%Y%m%d%H%M%S")


def test_every_archived_version_replays_with_its_text(recrawled, pywb):
    versions = recrawled.versions()
    assert len(versions) == 12
    texts_of_edited = []
    for version in versions:
        record = read_record(recrawled.archive / version["warc_file"], version["warc_offset"])
        ts = iso_date_to_timestamp(record.header("WARC-Date"))
        status, headers, body = _get(f"{pywb}/{COLLECTION}/{ts}mp_/{version['url']}")
        assert status == 200, (version["url"], ts, status, body[:300])
        assert _memento_ts(headers) == ts                  # this capture, not a neighbour
        page = _text(body)
        text = (recrawled.archive / version["file"]).read_text(encoding="utf-8")
        for paragraph in _paragraphs(text):
            assert paragraph in page, (version["url"], ts, paragraph)
        if version["url"] == recrawled.edited_url:
            texts_of_edited.append(page)
    # the edited article: each capture replays its own text
    before, after = texts_of_edited
    marker = "A correction was added to this story later."
    assert marker not in before and marker in after


def test_a_304_recheck_replays_the_capture_it_confirmed(recrawled, pywb):
    revisits = [(ts, entry) for _, ts, entry in iter_entries(recrawled.archive) if "revisit" in entry
                and entry["url"].rsplit("/", 1)[-1][-1:].isdigit()]      # article pages
    assert len(revisits) >= 4
    for ts, entry in revisits:
        own = entry["revisit"]
        revisit = read_record(recrawled.archive / "warc" / own["filename"], int(own["offset"]))
        assert revisit.rec_type == "revisit" and revisit.status == 304
        assert iso_date_to_timestamp(revisit.header("WARC-Date")) == ts
        original = read_record(recrawled.archive / "warc" / entry["filename"], int(entry["offset"]))
        assert original.rec_type == "response" and original.record_id == revisit.header("WARC-Refers-To")
        # the revisit's moment replays the original payload (id_: not rewritten)
        status, headers, body = _get(f"{pywb}/{COLLECTION}/{ts}id_/{entry['url']}")
        assert status == 200, (entry["url"], ts, status)
        assert body == original.decoded_payload()      # (pywb undoes the gzip for a client without it)
        assert _memento_ts(headers) == iso_date_to_timestamp(original.header("WARC-Date")) <= ts  # (to the second)
        status, _, page = _get(f"{pywb}/{COLLECTION}/{ts}mp_/{entry['url']}")
        assert status == 200 and len(_text(page)) > 200
    # pywb's own CDX API lists the 304 re-check as a capture of its own
    url = revisits[0][1]["url"]
    status, _, body = _get(f"{pywb}/{COLLECTION}/cdx?output=json&url={urllib.request.quote(url, safe='')}")
    captures = [json.loads(line) for line in body.decode().splitlines()]
    assert status == 200 and revisits[0][0] in {c["timestamp"] for c in captures} and len(captures) >= 2

