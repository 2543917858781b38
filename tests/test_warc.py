"""WARC writing: records readable by warcio, digests right, torn files repaired."""
import base64
import gzip
import hashlib
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc.writer import (
    EMPTY_DIGEST, HttpExchange, RevisitOf, WarcWriter, complete_members_end, repair_open_files, sha1_digest,
)
from archive.warc.reader import WarcReadError, read_member

WARCIO = str(Path(sys.executable).with_name("warcio"))


def _exchange(path="/a", body=b"<html>hello</html>", **kw):
    headers = [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")]
    return HttpExchange(f"http://127.0.0.1:9/{path.lstrip('/')}", 200, headers, gzip.compress(body),
                        [("User-Agent", "t")], ip_address="127.0.0.1", **kw)


def _records(path):
    with open(path, "rb") as handle:
        return [(r.rec_type, r.rec_headers, r.http_headers, r.raw_stream.read())
                for r in ArchiveIterator(handle)]


def test_exchange_records_pass_warcio_check_and_keep_raw_payload(tmp_path):
    writer = WarcWriter(tmp_path, warcinfo={"operator": "tests"})
    location = writer.write_exchange(_exchange())
    writer.close()
    warc = tmp_path / location.warc_file
    assert subprocess.run([WARCIO, "check", str(warc)]).returncode == 0
    records = _records(warc)
    assert [r[0] for r in records] == ["warcinfo", "response", "request"]
    _, rec_headers, http_headers, payload = records[1]
    assert rec_headers["WARC-IP-Address"] == "127.0.0.1"
    assert http_headers.get_header("Transfer-Encoding") is None
    assert http_headers.get_header("Content-Encoding") == "gzip"
    assert int(http_headers.get_header("Content-Length")) == len(gzip.compress(b"<html>hello</html>"))
    assert gzip.decompress(payload) == b"<html>hello</html>"
    assert records[2][1]["WARC-Concurrent-To"] == rec_headers["WARC-Record-ID"]
    # the recorded offset points at the response record
    with open(warc, "rb") as handle:
        handle.seek(location.offset)
        first = next(iter(ArchiveIterator(handle)))
        assert first.rec_headers["WARC-Record-ID"] == location.record_id


def test_revisit_refers_to_original(tmp_path):
    writer = WarcWriter(tmp_path)
    original = writer.write_exchange(_exchange())
    refers = RevisitOf("http://127.0.0.1:9/a", original.warc_date, original.record_id, original.payload_digest)
    revisit = writer.write_revisit(_exchange(), refers, "identical-payload-digest")
    writer.close()
    records = _records(tmp_path / revisit.warc_file)
    rec = [r for r in records if r[0] == "revisit"][0][1]
    assert rec["WARC-Refers-To"] == original.record_id
    assert rec["WARC-Profile"].endswith("identical-payload-digest")
    assert rec["WARC-Payload-Digest"] == original.payload_digest


def test_rotation_at_size_limit(tmp_path):
    writer = WarcWriter(tmp_path, max_size=3000)
    for i in range(10):
        writer.write_exchange(_exchange(f"/p{i}", body=bytes(range(256)) * 8))
    writer.close()
    files = sorted((tmp_path / "warc").glob("*.warc.gz"))
    assert len(files) > 1
    assert not list((tmp_path / "warc").glob("*.open"))
    for path in files:
        assert _records(path)[0][0] == "warcinfo"


def test_torn_last_record_is_cut(tmp_path):
    writer = WarcWriter(tmp_path)
    writer.write_exchange(_exchange("/1"))
    location = writer.write_exchange(_exchange("/2"))
    writer._file.flush()
    path = tmp_path / location.warc_file
    good_size = path.stat().st_size
    with open(path, "ab") as handle:  # half a record, as a kill -9 mid-write leaves it
        member = zlib.compressobj(6, zlib.DEFLATED, 31)
        torn = member.compress(b"WARC/1.1\r\n" + b"x" * 5000) + member.flush()
        handle.write(torn[: len(torn) // 2])
    assert complete_members_end(path) == good_size
    repaired = repair_open_files(tmp_path)
    assert repaired == [(str(path), good_size + len(torn) // 2, good_size)]
    assert path.stat().st_size == good_size
    gzip.decompress(path.read_bytes())  # the whole file decompresses: nothing torn remains
    assert subprocess.run([WARCIO, "check", str(path)]).returncode == 0


def test_member_walk_is_the_same_at_any_chunk_size(tmp_path):
    """complete_members_end and read_member share one gzip-member walker: member ends found
    across chunk boundaries, and each of its failures named."""
    writer = WarcWriter(tmp_path)
    first = writer.write_exchange(_exchange("/1"))
    second = writer.write_exchange(_exchange("/2"))
    writer._file.flush()
    path = tmp_path / first.warc_file
    good_size = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(gzip.compress(b"WARC/1.1\r\n" + b"x" * 5000)[:40])
    for chunk_size in (1, 7, 4096, 1 << 20):
        assert complete_members_end(path, chunk_size=chunk_size) == good_size
    with open(path, "rb") as handle:
        assert read_member(handle, second.offset).startswith(b"WARC/1.1")
        with pytest.raises(WarcReadError, match="truncated"):
            read_member(handle, good_size)
        with pytest.raises(WarcReadError, match="no gzip member starts"):
            read_member(handle, second.offset + 1)
        with pytest.raises(WarcReadError, match="beyond the end"):
            read_member(handle, good_size + 40)


def test_records_of_every_size_decompress_whole(tmp_path):
    """Each record's gzip member is sized to the record (window, state): every size from a
    few bytes to megabytes, deflated or stored, must read back whole with warcio and gzip."""
    writer = WarcWriter(tmp_path)
    rng = __import__("random").Random(5)
    bodies = [b"", b"x", bytes(rng.randrange(256) for _ in range(900)), b"<p>word</p>" * 300,
              b"<p>" + b"".join(rng.choice([b"alpha ", b"beta ", b"gamma\n"]) for _ in range(60000)) + b"</p>",
              bytes(rng.randrange(256) for _ in range(2_000_000))]
    locations = []
    for index, body in enumerate(bodies):
        exchange = HttpExchange(f"http://127.0.0.1:9/{index}", 200, [("Content-Type", "text/html")], body,
                                [("User-Agent", "t")], ip_address="127.0.0.1")
        locations.append(writer.write_exchange(exchange))
    writer.close()
    warc = tmp_path / locations[0].warc_file
    assert subprocess.run([WARCIO, "check", str(warc)]).returncode == 0
    payloads = [payload for kind, _, _, payload in _records(warc) if kind == "response"]
    assert payloads == bodies
    whole = gzip.decompress(warc.read_bytes())  # every member, to the last byte
    assert whole.count(b"WARC/1.1\r\n") == 1 + 2 * len(bodies)


def test_http_headers_stored_byte_for_byte(tmp_path):
    # header values arrive as bytes and are handled as latin-1 text: a UTF-8 value (or any
    # other bytes) goes back into the record exactly as it came, not percent-encoded
    raw_value = "Caf\u00e9 \u2014 Kyiv".encode("utf-8")
    headers = [("Content-Type", "text/html"), ("X-Headline", raw_value.decode("latin-1"))]
    writer = WarcWriter(tmp_path)
    location = writer.write_exchange(HttpExchange("http://127.0.0.1:9/h", 200, headers, b"<p>x</p>" * 200,
                                                  [("User-Agent", "t")], ip_address="127.0.0.1"))
    writer.close()
    warc = tmp_path / location.warc_file
    assert b"\r\nX-Headline: " + raw_value + b"\r\n" in gzip.decompress(warc.read_bytes())
    assert subprocess.run([WARCIO, "check", str(warc)]).returncode == 0


def test_sha1_digest_is_the_standard_base32_form():
    for data in [b"", b"a", os.urandom(1000), bytes(range(256)) * 99]:
        assert sha1_digest(data) == "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")
    assert sha1_digest([b"ab", b"c"]) == sha1_digest(b"abc")
    assert EMPTY_DIGEST == sha1_digest(b"") == "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"
