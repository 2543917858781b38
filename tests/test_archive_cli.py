"""Issues 3 and 4: `python -m archive` reads, verifies, exports and re-extracts an archive.

The archives here are built without the crawler, the way the crawl builds them: real
WARC response records (some gzip/brotli-encoded) written by WarcWriter, text versions
from archive.text.job.extract_for_archive (on the DECODED payload) stored by TextStore
with the fields crawler/pipelines.py sets.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archive.store.catalog import Catalog, catalog_url_for
from archive.store.manifest import write_manifest
from archive.store.recheck import RecheckPolicy
from archive.store.textstore import TextStore
from archive.text.job import extract_for_archive
from archive.warc.writer import HttpExchange, RevisitOf, WarcWriter

REPO = Path(__file__).resolve().parent.parent
BASE = "http://news.test"

WORDS = ("harbor council bridge village market river teacher museum railway budget station library "
         "garden factory festival hospital mayor committee district highway orchard forest valley").split()


def _paragraph(seed: int) -> str:
    words = [WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(14)]
    return (f"The {words[0]} and the {words[1]} met on day {seed} to discuss the {words[2]} near the "
            f"{words[3]}, and residents said the {words[4]} of the {words[5]} would change the {words[6]} "
            f"for years, while officials from the {words[7]} promised a report on the {words[8]} soon.")


def _page(title: str, paragraphs: list[str], links: tuple[str, ...] = ()) -> bytes:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    related = "".join(f'<li><a href="{href}">Related story {i}</a></li>' for i, href in enumerate(links))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Test News</title>
<meta property="og:title" content="{title}"></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav></header>
<main><article><h1>{title}</h1>
{body}
</article><aside><ul>{related}</ul></aside></main>
<footer><p>Test News, all rights reserved.</p></footer></body></html>""".encode("utf-8")


def _when(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, 0, 0, tzinfo=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body, mtime=0)
    if encoding == "br":
        import brotli
        return brotli.compress(body)
    return body


class Builder:
    """Archives pages exactly as the crawl's middleware + pipeline would."""

    def __init__(self, archive: Path):
        self.archive = archive
        self.writer = WarcWriter(archive, warcinfo={"operator": "tests"})
        self.catalog = Catalog(catalog_url_for(str(archive)))
        self.store = TextStore(archive, self.catalog)
        self.policy = RecheckPolicy()
        self.captures: dict[str, dict] = {}

    def capture(self, outlet: str, url: str, html: bytes, when: datetime, *, article_url: str | None = None,
                encoding: str | None = None, links: list[str] | None = None, text_override=None) -> dict | None:
        article_url = article_url or url
        content_type = "text/html; charset=utf-8"
        headers = [("Content-Type", content_type), ("ETag", f'"{when.day}-{when.hour}"')]
        if encoding:
            headers.append(("Content-Encoding", encoding))
        location = self.writer.write_exchange(HttpExchange(
            url, 200, headers, _encode(html, encoding), [("User-Agent", "tests")], ip_address="127.0.0.1",
            fetched_at=when))
        extracted = extract_for_archive(html, content_type, url)   # the DECODED payload, as the crawl
        assert extracted["text"], f"the extractor found no article in the test page {url}"
        text = text_override(extracted["text"]) if text_override else extracted["text"]
        fetched_at = _iso(when)
        fields = {
            "url": url, "canonical_url": article_url, "title": extracted.get("title"),
            "authors": "; ".join(extracted.get("authors") or []), "published": extracted.get("published"),
            "published_source": extracted.get("published_source"), "modified": extracted.get("modified"),
            "modified_source": extracted.get("modified_source"), "language": extracted.get("language"),
            "section": extracted.get("section"), "fetched_at": fetched_at, "http_status": 200,
            "etag": f'"{when.day}-{when.hour}"', "last_modified": None, "warc_file": location.warc_file,
            "warc_offset": location.offset, "warc_record_id": location.record_id,
            "payload_digest": location.payload_digest, "discovered_via": "feed",
            # explicit links (instead of the extractor's) keep the link-graph assertions simple
            "links": json.dumps(links if links is not None else extracted.get("links") or []),
        }
        check = {"last_checked": fetched_at, "last_status": 200, "fetch_url": url, "etag": fields["etag"],
                 "last_modified": None, "capture_uri": url, "capture_date": location.warc_date,
                 "capture_record_id": location.record_id, "capture_digest": location.payload_digest}
        self.captures[article_url] = {"location": location, "url": url}
        return self.store.add_version(outlet, article_url, text, fields, check, self.policy)

    def revisit(self, url: str, when: datetime) -> None:
        previous = self.captures[url]["location"]
        self.writer.write_revisit(
            HttpExchange(url, 304, [("ETag", '"x"')], b"", fetched_at=when),
            RevisitOf(url, previous.warc_date, previous.record_id, previous.payload_digest), "server-not-modified")

    def close(self) -> None:
        self.writer.close()
        write_manifest(self.archive, self.catalog)
        self.catalog.close()


STORM = f"{BASE}/2026/01/01/storm"
BUDGET = f"{BASE}/2026/01/01/budget"
BUDGET_AMP = f"{BASE}/amp/2026/01/01/budget"
FERRY = "http://other.test/news/ferry"
STORM_PARAGRAPHS = [_paragraph(i) for i in range(1, 6)]
EDITED = "UPDATE: the council has now confirmed that the bridge stays closed until the spring thaw."


def build_archive(archive: Path) -> dict:
    builder = Builder(archive)
    run_id = builder.catalog.start_run("crawl", {"outlets": ["testnews", "other"]})
    storm_v1 = builder.capture("testnews", STORM, _page("Storm closes the harbor bridge", STORM_PARAGRAPHS),
                               _when(1, 8), encoding="gzip", links=[BUDGET, "http://elsewhere.test/x"])
    budget = builder.capture("testnews", BUDGET_AMP, _page("Council passes the budget",
                                                           [_paragraph(i) for i in range(10, 14)]),
                             _when(1, 9), article_url=BUDGET)
    ferry = builder.capture("other", FERRY, _page("Ferry timetable changes", [_paragraph(i) for i in range(20, 24)]),
                            _when(2, 7), encoding="br", links=[STORM])
    builder.revisit(STORM, _when(2, 8))
    edited = list(STORM_PARAGRAPHS)
    edited[2] = EDITED
    storm_v2 = builder.capture("testnews", STORM, _page("Storm closes the harbor bridge", edited), _when(3, 8),
                               encoding="gzip", links=[BUDGET])
    builder.catalog.finish_run(run_id, "finished", 0, {
        "testnews": {"discovered": 2, "fetched": 4, "archived": 3, "new_versions": 1, "unchanged": 1,
                     "skipped": 0, "errors": {"http_404": 1}},
        "other": {"discovered": 1, "fetched": 1, "archived": 1, "errors": {}},
    })
    builder.close()
    return {"storm_v1": storm_v1, "storm_v2": storm_v2, "budget": budget, "ferry": ferry,
            "last_location": builder.captures[STORM]["location"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    archive = tmp_path_factory.mktemp("cli") / "archive"
    info = build_archive(archive)
    return {"archive": archive, **info}


@pytest.fixture
def copy(built, tmp_path):
    """A private copy of the built archive (for tests that change it)."""
    target = tmp_path / "archive"
    shutil.copytree(built["archive"], target)
    return target


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    stdout_bytes: bytes


def cli(*args: str, archive: Path | None = None, env: dict | None = None) -> Result:
    """``python -m archive ARGS`` in a subprocess, as a user runs it."""
    command = [sys.executable, "-m", "archive", *args]
    if archive is not None:
        command += ["--archive", str(archive)]
    environment = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_ARCHIVE_DIR"}
    environment.update({"PYTHONPATH": str(REPO), **(env or {})})
    done = subprocess.run(command, cwd=REPO, capture_output=True, timeout=120, env=environment)
    return Result(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"), done.stdout)


def run(*args: str, archive: Path | None = None) -> Result:
    """The same command line through ``archive.__main__.main`` in this process (no start-up cost)."""
    from archive.__main__ import main

    argv = [*args, *(["--archive", str(archive)] if archive is not None else [])]
    raw, err = io.BytesIO(), io.StringIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = main(argv)
    except SystemExit as exc:          # argparse usage errors
        code = exc.code
    finally:
        out.flush()
        sys.stdout, sys.stderr = saved
    data = raw.getvalue()
    out.detach()
    return Result(code, data.decode("utf-8"), err.getvalue(), data)


def _versions(archive: Path) -> list[tuple]:
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        return db.execute("SELECT a.url, v.version, v.sha256, v.file, v.reason FROM versions v "
                          "JOIN articles a ON a.id = v.article_id ORDER BY v.seq").fetchall()


# -- list / versions / show ---------------------------------------------------------------

def test_list_and_versions(built):
    archive = built["archive"]
    result = cli("list", archive=archive)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()[1:]
    by_url = {url: next(line for line in lines if f"  {url}  " in line) for url in (STORM, BUDGET, FERRY)}
    assert by_url[STORM].split()[2] == "2" and by_url[BUDGET].split()[2] == "1"
    first_seen, last_checked = by_url[STORM].split()[3:5]
    assert len(first_seen) == 20 and first_seen.endswith("Z") and last_checked == "2026-01-03T08:00:00Z"

    changed = run("list", "--changed", archive=archive)
    assert changed.returncode == 0 and STORM in changed.stdout and BUDGET not in changed.stdout
    other = run("list", "--outlet", "other", archive=archive)
    assert FERRY in other.stdout and STORM not in other.stdout

    versions = cli("versions", STORM, archive=archive)
    assert versions.returncode == 0, versions.stderr
    rows = [line.split() for line in versions.stdout.splitlines() if line.strip().startswith(("0 ", "3 "))]
    v1, v2 = built["storm_v1"], built["storm_v2"]
    assert [r[:5] for r in rows] == [
        [str(v1["seq"]), "1", "2026-01-01T08:00:00Z", "new", v1["file"]],
        [str(v2["seq"]), "2", "2026-01-03T08:00:00Z", "edit", v2["file"]],
    ]
    # by fetched (non-canonical) URL and by article id
    amp = run("versions", BUDGET_AMP, archive=archive)
    assert amp.returncode == 0 and built["budget"]["file"] in amp.stdout and BUDGET in amp.stdout
    by_id = run("versions", str(v1["article_id"]), archive=archive)
    assert by_id.returncode == 0 and v2["file"] in by_id.stdout


def test_show_text_meta_and_payload(built):
    archive, v2 = built["archive"], built["storm_v2"]
    text = (archive / v2["file"]).read_bytes()
    shown = cli("show", str(v2["seq"]), archive=archive)
    assert shown.returncode == 0 and shown.stdout_bytes == text
    meta = run("show", v2["file"], "--meta", archive=archive)
    assert meta.returncode == 0, meta.stderr
    head = meta.stdout.split("\n\n", 1)[0]
    assert f"# url: {STORM}" in head and "# fetched_at: 2026-01-03T08:00:00Z" in head
    assert f"# warc: {v2['warc_file']} @ offset {v2['warc_offset']}" in head
    assert "# version: 2" in head
    assert meta.stdout.endswith(text.decode())
    payload = run("show", os.path.basename(v2["file"]), "--payload", archive=archive)
    assert payload.returncode == 0 and EDITED in payload.stdout and payload.stdout.startswith("<!DOCTYPE html>")


def test_diff_by_paragraph(built):
    archive, v1, v2 = built["archive"], built["storm_v1"], built["storm_v2"]
    result = cli("diff", STORM, archive=archive)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"--- v1 2026-01-01T08:00:00Z {v1['file']}"
    assert lines[1] == f"+++ v2 2026-01-03T08:00:00Z {v2['file']}"
    assert f"-{STORM_PARAGRAPHS[2]}" in lines and f"+{EDITED}" in lines
    assert [line for line in lines[2:] if line[:1] in "+-"] == [f"-{STORM_PARAGRAPHS[2]}", f"+{EDITED}"]
    assert f" {STORM_PARAGRAPHS[1]}" in lines          # unchanged paragraphs are context lines
    by_seq = run("diff", str(v1["seq"]), str(v2["seq"]), archive=archive)
    assert by_seq.returncode == 0 and by_seq.stdout == result.stdout
    explicit = run("diff", STORM, "--from", "1", "--to", "2", "-U", "0", archive=archive)
    body = [line for line in explicit.stdout.splitlines()[2:] if not line.startswith("@@")]
    assert body == [f"-{STORM_PARAGRAPHS[2]}", f"+{EDITED}"]


@pytest.mark.parametrize("args, words", [
    (["versions", "http://news.test/no/such/article"], "no article with URL"),
    (["show", "999"], "no version with sequence number 999"),
    (["show", "not-a-file"], "neither a sequence number nor a text file"),
    (["show", "007_0123456789abcdef.txt"], "no version with text file"),
    (["diff", BUDGET], "only one version"),
    (["diff", STORM, "--to", "5"], "has no version 5"),
    (["export", "--since", "yesterday"], "bad date"),
])
def test_clear_errors_exit_2(built, args, words):
    result = run(*args, archive=built["archive"])
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert words in result.stderr and "Traceback" not in result.stderr


def test_missing_archive_dir_is_a_clear_error(tmp_path):
    # the default archive comes from NEWSARCHIVE_ARCHIVE_DIR
    result = cli("list", env={"NEWSARCHIVE_ARCHIVE_DIR": str(tmp_path / "elsewhere")})
    assert result.returncode == 2, result.stderr
    assert "elsewhere does not exist" in result.stderr and "Traceback" not in result.stderr
    for command in (["list"], ["verify"], ["reextract", "--in-place"], ["export"]):
        result = run(*command, archive=tmp_path / "nowhere")
        assert result.returncode == 2 and "does not exist" in result.stderr
    empty = run("list", archive=tmp_path)
    assert empty.returncode == 2 and "no catalog.sqlite" in empty.stderr and not (tmp_path / "catalog.sqlite").exists()


def test_runs(built):
    result = run("runs", archive=built["archive"])
    assert result.returncode == 0, result.stderr
    assert "crawl  finished (exit 0)" in result.stdout
    testnews = next(line for line in result.stdout.splitlines() if line.strip().startswith("testnews"))
    assert testnews.split()[1:7] == ["2", "4", "3", "1", "1", "0"] and "http_404=1" in testnews


# -- verify -------------------------------------------------------------------------------

def test_verify_clean_archive(built):
    result = cli("verify", archive=built["archive"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: no problems found" in result.stdout and "PROBLEM" not in result.stdout
    assert "WARC records checked: 4" in result.stdout
    quick = run("verify", "--quick", archive=built["archive"])
    assert quick.returncode == 0 and "quick" in quick.stdout


def _flip_byte(archive: Path, info: dict) -> str:
    path = archive / info["storm_v1"]["file"]
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01
    path.write_bytes(bytes(data))
    return info["storm_v1"]["file"]


def _delete(archive: Path, info: dict) -> str:
    (archive / info["budget"]["file"]).unlink()
    return info["budget"]["file"]


def _stray(archive: Path, info: dict) -> str:
    (archive / "text" / "042_0123456789abcdef.txt").write_text("Stray\n\nnot in the catalog\n")
    return "text/042_0123456789abcdef.txt"


def _truncate_warc(archive: Path, info: dict) -> str:
    location = info["last_location"]          # the storm v2 response: the file's last pair of members
    path = archive / location.warc_file
    with open(path, "r+b") as handle:
        handle.truncate(location.offset + location.length // 2)
    return os.path.basename(location.warc_file)


def _leftovers(archive: Path, info: dict) -> str:
    (archive / "text" / ".tmp" / ("ab" * 32 + ".123.tmp")).write_bytes(b"half")
    return ".tmp/" + "ab" * 32 + ".123.tmp"


@pytest.mark.parametrize("damage, kind", [
    (_flip_byte, "hash"), (_delete, "missing"), (_stray, "stray"), (_truncate_warc, "warc-torn"),
    (_leftovers, "leftover"),
])
def test_verify_finds_damage(built, copy, damage, kind):
    name = damage(copy, built)
    result = (cli if damage is _truncate_warc else run)("verify", archive=copy)
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]
    assert any(line.startswith(f"PROBLEM {kind}:") and name in line for line in problems), result.stdout
    assert "FAILED" in result.stdout
    if damage is _truncate_warc:   # the catalog's offset now points at a torn member too
        assert any(line.startswith("PROBLEM warc-record:") and "truncated" in line for line in problems)


# -- export -------------------------------------------------------------------------------

def test_export_csv_jsonl_articles_links(built, tmp_path):
    archive = built["archive"]
    out = tmp_path / "versions.csv"
    result = run("export", "--format", "csv", "-o", str(out), archive=archive)
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    assert {r["file"] for r in rows} == {built[k]["file"] for k in ("storm_v1", "storm_v2", "budget", "ferry")}
    v2 = next(r for r in rows if r["file"] == built["storm_v2"]["file"])
    assert v2["previous_file"] == built["storm_v1"]["file"] and v2["version"] == "2" and v2["url"] == STORM

    jsonl = run("export", "--format", "jsonl", archive=archive)
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(records) == 4 and records[0]["seq"] == 0 and isinstance(records[0]["warc_offset"], int)

    window = run("export", "--format", "jsonl", "--since", "2026-01-02", "--until", "2026-01-02", archive=archive)
    assert [r["url"] for r in map(json.loads, window.stdout.splitlines())] == [FERRY]
    latest = run("export", "--format", "jsonl", "--latest", "--outlet", "testnews", archive=archive)
    assert sorted(r["file"] for r in map(json.loads, latest.stdout.splitlines())) == sorted(
        [built["storm_v2"]["file"], built["budget"]["file"]])

    articles = run("export", "--what", "articles", "--format", "csv", archive=archive)
    article_rows = list(csv.DictReader(articles.stdout.splitlines()))
    assert {r["url"]: r["versions"] for r in article_rows} == {STORM: "2", BUDGET: "1", FERRY: "1"}

    links = run("export", "--what", "links", "--format", "csv", "--latest", archive=archive)
    edges = {(r["source_url"], r["target_url"]) for r in csv.DictReader(links.stdout.splitlines())}
    assert edges == {(STORM, BUDGET), (FERRY, STORM)}


def test_manifest_rewritten_only_when_it_would_change(copy):
    manifest = copy / "manifest.csv"

    def rows() -> list[str]:
        with open(manifest, newline="", encoding="utf-8") as handle:
            return [row["file"] for row in csv.DictReader(handle)]

    builder = Builder(copy)
    written = manifest.stat()
    write_manifest(copy, builder.catalog)  # nothing new: the very same file stays
    assert (manifest.stat().st_ino, manifest.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert len(rows()) == 4

    manifest.write_text(manifest.read_text(encoding="utf-8") + "a row added by hand\n", encoding="utf-8")
    write_manifest(copy, builder.catalog)  # the file is not the one written: written again
    assert len(rows()) == 4 and "by hand" not in manifest.read_text(encoding="utf-8")
    manifest.unlink()
    write_manifest(copy, builder.catalog)
    assert len(rows()) == 4

    added = builder.capture("other", "http://other.test/news/tram", _page("Tram line opens",
                            [_paragraph(i) for i in range(30, 34)]), _when(4, 7))
    before = manifest.stat().st_ino
    builder.close()  # writes the manifest: a version was added since
    assert manifest.stat().st_ino != before and rows()[-1] == added["file"] and len(rows()) == 5


# -- reextract ----------------------------------------------------------------------------

def test_reextract_out_reproduces_texts(built, tmp_path):
    archive, out = built["archive"], tmp_path / "rebuilt"
    result = cli("reextract", "--out", str(out), "--workers", "2", archive=archive)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _versions(out) == _versions(archive)
    for _, _, sha, file, _ in _versions(archive):
        assert (out / file).read_bytes() == (archive / file).read_bytes()
    assert (out / "manifest.csv").exists()
    # the new archive points at the original WARC records and verifies clean
    check = run("verify", archive=out)
    assert check.returncode == 0, check.stdout
    shown = run("show", str(built["storm_v2"]["seq"]), "--payload", archive=out)
    assert EDITED in shown.stdout
    again = run("reextract", "--out", str(out), archive=archive)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_reextract_in_place(built, copy):
    before = _versions(copy)
    result = run("reextract", "--in-place", "--workers", "0", archive=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _versions(copy) == before and "0 articles got a new 'reextract' version" in result.stdout

    # an older extractor left a different text for the budget article: re-extraction adds a version
    builder = Builder(copy)
    old = builder.capture("testnews", BUDGET_AMP, _page("Council passes the budget",
                                                       [_paragraph(i) for i in range(10, 14)]),
                          _when(4, 9), article_url=BUDGET, text_override=lambda t: t + b"\nShare this story\n")
    builder.close()
    dry = run("reextract", "--in-place", "--dry-run", "--workers", "0", archive=copy)
    assert dry.returncode == 0 and f"would change: {BUDGET}" in dry.stdout and len(_versions(copy)) == 5
    result = run("reextract", "--in-place", "--workers", "0", archive=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    after = _versions(copy)
    assert len(after) == 6
    url, version, sha, file, reason = after[-1]
    assert (url, version, reason) == (BUDGET, 3, "reextract") and sha == built["budget"]["sha256"]
    with sqlite3.connect(copy / "catalog.sqlite") as db:
        event = db.execute("SELECT kind, detail FROM events WHERE kind = 'reextracted'").fetchone()
        row = db.execute("SELECT warc_offset, previous_seq FROM versions WHERE file = ?", (file,)).fetchone()
    assert json.loads(event[1])["from_seq"] == old["seq"]
    assert row == (old["warc_offset"], old["seq"])
    assert run("verify", archive=copy).returncode == 0
