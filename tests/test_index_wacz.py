"""Issue 19: the CDXJ index (kept up to date by the crawl) and WACZ packages, on an archive
made by two real crawls (see tests/replay_archive.py)."""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_timestamp

import archive.tools.index as index_module
from archive.tools.index import INDEX_DIR, INDEX_FILE, STATE_FILE, read_state, record_location, update_index
from tests.conftest import REPO, run_crawl
from tests.demosite import OutletSite
from tests.replay_archive import make_recrawled_archive


@pytest.fixture(scope="module")
def recrawled(tmp_path_factory):
    made = make_recrawled_archive(tmp_path_factory.mktemp("recrawled"))
    yield made
    made.server.stop()


def cli(archive: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archive", "--archive", str(archive), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def index_lines(archive: Path) -> list[str]:
    return (archive / INDEX_DIR / INDEX_FILE).read_text(encoding="utf-8").splitlines()


def warc_records(archive: Path) -> dict[tuple[str, int], dict]:
    """Every response/revisit record of the WARC files: (file, offset) -> what it is."""
    found = {}
    for path in sorted((archive / "warc").glob("*.warc.gz")):
        with open(path, "rb") as handle:
            records = ArchiveIterator(handle)
            for record in records:
                if record.rec_type in ("response", "revisit"):
                    offset = records.get_record_offset()
                    found[(path.name, offset)] = {
                        "type": record.rec_type, "uri": record.rec_headers.get_header("WARC-Target-URI"),
                        "date": record.rec_headers.get_header("WARC-Date"),
                        "digest": record.rec_headers.get_header("WARC-Payload-Digest"),
                        "status": record.http_headers.get_statuscode() if record.http_headers else None}
                    records.read_to_end()
                    found[(path.name, offset)]["length"] = records.get_record_length()
    return found


def read_at(archive: Path, name: str, offset: int):
    """The record at ``offset`` read back with warcio, and its status line."""
    with open(archive / "warc" / name, "rb") as handle:
        handle.seek(offset)
        records = ArchiveIterator(handle)
        record = next(records)
        payload = record.content_stream().read()
        records.read_to_end()
        return record, records.get_record_length(), payload


def test_crawls_leave_a_sorted_index_of_every_response_and_revisit(recrawled):
    archive = recrawled.archive
    lines = index_lines(archive)
    assert lines == sorted(lines, key=lambda line: line.encode("utf-8")), "index.cdxj is not sorted"
    assert len(lines) == len(set(lines))
    assert set(read_state(archive)) == {p.name for p in (archive / "warc").glob("*.warc.gz")}
    records = warc_records(archive)
    indexed = {}
    for line in lines:
        urlkey, ts, text = line.split(" ", 2)
        entry = json.loads(text)
        name, offset, length = record_location(entry)
        assert (name, offset) not in indexed, f"record {name}@{offset} indexed twice"
        indexed[(name, offset)] = (ts, entry, length)
    assert set(indexed) == set(records)          # every response/revisit record, nothing else
    revisits = resolved = 0
    for (name, offset), (ts, entry, length) in indexed.items():
        truth = records[(name, offset)]
        assert length == truth["length"], (name, offset)
        assert ts == iso_date_to_timestamp(truth["date"]) and entry["url"] == truth["uri"]
        record, read_length, _ = read_at(archive, name, offset)  # read back at the index's offset
        assert record.rec_type == truth["type"] and read_length == length
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        if truth["type"] == "revisit":
            revisits += 1
            assert truth["status"] == "304"
            # pywb's line: the original response record, with the revisit's own location kept
            assert entry["revisit"] == {"status": "304", "length": str(length), "offset": str(offset),
                                        "filename": name}
            original, _, _ = read_at(archive, entry["filename"], int(entry["offset"]))
            assert original.rec_type == "response" and entry["status"] == "200"
            assert original.rec_headers.get_header("WARC-Target-URI") == entry["url"]
            assert original.rec_headers.get_header("WARC-Payload-Digest") == entry["digest"] == truth["digest"]
            assert iso_date_to_timestamp(original.rec_headers.get_header("WARC-Date")) <= ts  # (to the second)
            resolved += 1
        else:
            assert "revisit" not in entry and entry["digest"] == truth["digest"]
    # alpha's unchanged articles answered the re-check with 304 (bravo's pages changed: its
    # new articles are in every page's list of recent stories)
    alpha = recrawled.sites["alpha"]
    unchanged = {alpha.article_url(i, recrawled.server.base_url(alpha)) for i in alpha.article_ids()} - \
        {recrawled.edited_url}
    assert len(unchanged) == 4
    resolved_urls = {entry["url"] for _, entry, _ in indexed.values() if "revisit" in entry}
    assert unchanged <= resolved_urls
    assert revisits == resolved >= 4


def test_update_indexes_only_new_complete_files_and_equals_a_rebuild(recrawled, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(recrawled.archive, archive)
    whole = index_lines(archive)
    first, later = recrawled.first_crawl_warcs, sorted(set(read_state(archive)) - set(recrawled.first_crawl_warcs))
    assert later, "the second crawl wrote no WARC file"
    # the index as the first crawl left it; the second crawl's files: one still being written
    (archive / INDEX_DIR / INDEX_FILE).unlink()
    (archive / "warc" / f"{later[0]}.open").touch()
    for name in later[1:]:
        (archive / "warc" / name).rename(tmp_path / name)
    report = update_index(archive)
    assert report.indexed == first and report.waiting == [later[0]]
    assert set(read_state(archive)) == set(first)
    assert all(json.loads(line.split(" ", 2)[2]).get("filename") in first for line in index_lines(archive))
    for name in later[1:]:
        (tmp_path / name).rename(archive / "warc" / name)
    (archive / "warc" / f"{later[0]}.open").unlink()
    done = cli(archive, "index")
    assert done.returncode == 0, done.stderr
    assert f"{len(later)} WARC files indexed" in done.stdout   # not the first crawl's again
    assert index_lines(archive) == whole
    again = cli(archive, "index")
    assert again.returncode == 0 and "up to date" in again.stdout
    rebuilt = cli(archive, "index", "--rebuild")
    assert rebuilt.returncode == 0 and "rebuilt" in rebuilt.stdout
    assert index_lines(archive) == whole


def test_a_crash_never_leaves_a_torn_or_doubled_index(recrawled, tmp_path, monkeypatch):
    archive = tmp_path / "archive"
    shutil.copytree(recrawled.archive, archive)
    index = archive / INDEX_DIR / INDEX_FILE
    whole = index.read_bytes()
    state = (archive / INDEX_DIR / STATE_FILE).read_text()

    def crash_midway(lines):
        for number, line in enumerate(lines):
            if number == 5:
                raise OSError(28, "No space left on device")
            yield line

    monkeypatch.setattr(index_module, "_resolved", crash_midway)
    with pytest.raises(OSError):
        update_index(archive, rebuild=True)
    monkeypatch.undo()
    assert index.read_bytes() == whole
    assert sorted(p.name for p in (archive / INDEX_DIR).iterdir()) == [".lock", INDEX_FILE, STATE_FILE]

    # killed between the index's rename and the list's: the next update indexes the last
    # file again and must not double its lines
    last = sorted(read_state(archive))[-1]
    (archive / INDEX_DIR / STATE_FILE).write_text("".join(line + "\n" for line in state.splitlines()
                                                          if not line.startswith(last)))
    killed = archive / INDEX_DIR / f".{INDEX_FILE}.99999.tmp"      # what a killed update leaves
    killed.write_text(whole.decode()[:100])
    report = update_index(archive)
    assert report.indexed == [last]
    assert index.read_bytes() == whole
    assert not killed.exists()


def test_wacz_of_the_whole_archive_validates_and_lists_every_version(recrawled, tmp_path):
    from wacz.main import main as wacz_main

    output = tmp_path / "all.wacz"
    result = cli(recrawled.archive, "wacz", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert _validates(output)
    with zipfile.ZipFile(output) as package:
        names = package.namelist()
        assert sorted(n for n in names if n.startswith("archive/")) == \
            sorted(f"archive/{p.name}" for p in (recrawled.archive / "warc").glob("*.warc.gz"))
        for name in names:
            if name.startswith("archive/"):   # the WARC files, byte for byte and stored, not deflated
                assert package.getinfo(name).compress_type == zipfile.ZIP_STORED
                assert package.read(name) == (recrawled.archive / "warc" / name.split("/", 1)[1]).read_bytes()
        pages = _pages(package)
        datapackage = json.loads(package.read("datapackage.json"))
    assert {r["path"] for r in datapackage["resources"]} == set(names) - {"datapackage.json", "datapackage-digest.json"}
    versions = recrawled.versions()
    assert len(pages) == len(versions) == 5 + 4 + 1 + 2
    _check_pages(recrawled.archive, pages, versions)
    assert wacz_main(["validate", "-f", str(output)]) == 0


def test_wacz_filtered_holds_only_the_selected_captures(recrawled, tmp_path):
    since = recrawled.second_crawl_started
    output = tmp_path / "second.wacz"
    result = cli(recrawled.archive, "wacz", "--since", since, "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert _validates(output)
    selected = [v for v in recrawled.versions() if v["fetched_at"] >= since]
    assert len(selected) == 1 + 2                     # the edit and bravo's two new articles
    with zipfile.ZipFile(output) as package:
        warcs = [n for n in package.namelist() if n.startswith("archive/")]
        assert len(warcs) == 1
        records = list(ArchiveIterator(io.BytesIO(package.read(warcs[0]))))
        pages = _pages(package)
        cdx = gzip.decompress(package.read("indexes/index.cdx.gz")).decode().splitlines()
    kinds = [r.rec_type for r in records]
    assert kinds == ["warcinfo"] + ["response", "request"] * len(selected)
    responses = [r for r in records if r.rec_type == "response"]
    assert sorted(r.rec_headers.get_header("WARC-Record-ID") for r in responses) == \
        sorted(v["warc_record_id"] for v in selected)
    requests = [r for r in records if r.rec_type == "request"]
    assert {r.rec_headers.get_header("WARC-Concurrent-To") for r in requests} == \
        {v["warc_record_id"] for v in selected}
    assert len(cdx) == len(selected)
    _check_pages(recrawled.archive, pages, selected)
    assert recrawled.edited_url in {p["url"] for p in pages}

    by_outlet = tmp_path / "bravo.wacz"
    result = cli(recrawled.archive, "wacz", "--outlet", "bravo", "--until", since, "-o", str(by_outlet))
    assert result.returncode == 0, result.stderr
    assert _validates(by_outlet)
    with zipfile.ZipFile(by_outlet) as package:
        pages = _pages(package)
    _check_pages(recrawled.archive, pages,
                 [v for v in recrawled.versions() if v["outlet"] == "bravo" and v["fetched_at"] < since])
    assert len(pages) == 4

    nothing = cli(recrawled.archive, "wacz", "--outlet", "nosuch", "-o", str(tmp_path / "none.wacz"))
    assert nothing.returncode == 2 and "no archived article version" in nothing.stderr
    assert not (tmp_path / "none.wacz").exists()


def test_crawl_with_index_disabled_writes_no_index(tmp_path, served):
    site = OutletSite("charlie", n_articles=3, seed=23, link_only=False)
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=("rss",)))
    result = run_crawl(outlets, tmp_path / "archive", "-s", "INDEX_ENABLED=0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (tmp_path / "archive" / INDEX_DIR).exists()
    assert cli(tmp_path / "archive", "index").returncode == 0
    assert len(index_lines(tmp_path / "archive")) >= 4   # robots.txt, the feed, three articles


def _validates(path: Path) -> bool:
    """py-wacz's own validator, every check it has (as ``wacz validate`` runs them)."""
    from wacz.validate import Validation

    with contextlib.redirect_stdout(io.StringIO()):
        check = Validation(str(path))
        return all(step() is not False for step in (
            check.check_required_contents, check.frictionless_validate, check.check_file_paths,
            check.check_file_hashes, check.check_data_package_hash_and_sig))


def _pages(package: zipfile.ZipFile) -> list[dict]:
    lines = package.read("pages/pages.jsonl").decode().splitlines()
    assert json.loads(lines[0])["format"] == "json-pages-1.0"
    return [json.loads(line) for line in lines[1:]]


def _check_pages(archive: Path, pages: list[dict], versions: list[dict]) -> None:
    """One page per version: its URL, its capture's time (the record's WARC-Date), its title."""
    expected = {}
    for version in versions:
        record, _, _ = read_at(archive, version["warc_file"].split("/", 1)[1], version["warc_offset"])
        date = record.rec_headers.get_header("WARC-Date")
        expected[(version["url"], iso_date_to_timestamp(date))] = version["title"]
    got = {(page["url"], iso_date_to_timestamp(page["ts"])): page["title"] for page in pages}
    assert got == expected
