"""Naming, URL canonicalisation, text store and catalog."""
import os
import subprocess
import sys

import pytest

from archive.store.catalog import Catalog, catalog_url_for, upgrade_schema
from archive.store.recheck import RecheckPolicy
from archive.store.textfile import parse_text_file_name, render_text, sha256_hex, text_file_name
from archive.store.textstore import NewVersion, TextStore, recover_pending
from archive.store.urls import canonicalize_url, origin


def test_text_file_name():
    data = b"Headline\n\nBody\n"
    name = text_file_name(7, data)
    assert name == f"007_{sha256_hex(data)[:16]}.txt"
    assert text_file_name(1234, data).startswith("1234_")
    assert parse_text_file_name(name) == (7, sha256_hex(data)[:16])
    assert parse_text_file_name("7_abc.txt") is None


@pytest.mark.parametrize("raw, expected", [
    ("HTTP://News.Example.test:80/a?utm_source=x&id=3#frag", "http://news.example.test/a?id=3"),
    ("https://127.0.0.1:8443/p?fbclid=1", "https://127.0.0.1:8443/p"),
    ("javascript:alert(1)", None),
    ("mailto:a@b.example", None),
    ("file:///etc/passwd", None),
    ("ftp://example.com/x", None),
])
def test_canonicalize(raw, expected):
    assert canonicalize_url(raw) == expected


def test_relative_and_origin():
    assert canonicalize_url("../b?gclid=4", base="http://127.0.0.1:8001/x/y/z") == "http://127.0.0.1:8001/x/b"
    assert origin("http://127.0.0.1:8001/a") != origin("http://127.0.0.1:8002/a")
    assert origin("https://example.com/a") == "https://example.com:443"


def test_render_text_format():
    assert render_text("  A   headline ", "P1\r\n\r\nP2\n") == "A headline\n\nP1\n\nP2\n".encode()


def test_extraction_workers_do_not_load_the_catalog():
    # each worker process imports these at start: SQLAlchemy would add ~0.18 s to every one
    code = "import sys, archive.text.job, archive.text.pool, archive.text.extract; print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'archive.store.catalog'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def _store(tmp_path, catalog_url):
    catalog = Catalog(catalog_url)  # SQLite, then PostgreSQL (the catalog_url fixture)
    return catalog, TextStore(tmp_path, catalog)


def _version(store, url, text, when="2026-01-01T00:00:00Z"):
    fields = {"url": url, "fetched_at": when}
    check = {"last_checked": when}
    return store.add_version("o", url, text, fields, check, RecheckPolicy())


def test_versions_sequence_and_unchanged_text(tmp_path, catalog_url):
    catalog, store = _store(tmp_path, catalog_url)
    first = _version(store, "http://x.example/1", b"A\n\nbody\n")
    second = _version(store, "http://x.example/2", b"B\n\nbody\n")
    assert (first["seq"], second["seq"]) == (0, 1)
    assert first["file"].startswith("text/000_") and second["file"].startswith("text/001_")
    assert _version(store, "http://x.example/1", b"A\n\nbody\n") is None
    edited = _version(store, "http://x.example/1", b"A\n\nbody, edited\n")
    assert (edited["version"], edited["previous_seq"], edited["reason"]) == (2, 0, "edit")
    for row in catalog.iter_versions():
        data = (tmp_path / row["file"]).read_bytes()
        assert sha256_hex(data) == row["sha256"] and row["file"].endswith(sha256_hex(data)[:16] + ".txt")
    assert not list((tmp_path / "text" / ".tmp").iterdir())


def _new(url, text, when="2026-01-01T00:00:00Z", **fields):
    return NewVersion("o", url, text, {"url": url, "fetched_at": when, **fields}, {"last_checked": when},
                      RecheckPolicy())


def test_a_batch_of_versions_in_one_transaction(tmp_path, catalog_url):
    catalog, store = _store(tmp_path, catalog_url)
    same = b"Wire story\n\nthe same text on two articles\n"
    rows = store.add_versions([
        _new("http://x.example/1", same),
        _new("http://x.example/2", same),                      # same text, other URL: the same story
        _new("http://x.example/1", same),                      # unchanged within the batch
        _new("http://x.example/1", b"Wire story\n\nedited\n"),  # edited within the batch
        _new("http://x.example/3", b"Other story\n\nedited\n"),  # a short body alone is no match
    ])
    assert rows[1] == {"alias_of": "http://x.example/1"} and rows[2] is None
    assert [(r["seq"], r["version"]) for r in (rows[0], rows[3], rows[4])] == [(0, 1), (1, 2), (2, 1)]
    assert rows[3]["previous_seq"] == 0 and rows[3]["change"] == "body"
    article = catalog.article("http://x.example/1")  # one row update per article, the last state
    assert (article["latest_version"], article["latest_seq"], article["latest_sha256"]) == (2, 1, rows[3]["sha256"])
    alias = catalog.article("http://x.example/2")
    assert (alias["state"], alias["alias_of"], alias["latest_version"]) == ("alias", "http://x.example/1", 0)
    for row in catalog.iter_versions():
        assert sha256_hex((tmp_path / row["file"]).read_bytes()) == row["sha256"]
    assert catalog.count_versions() == 3
    assert not list((tmp_path / "text" / ".tmp").iterdir())


def test_a_failing_batch_writes_nothing(tmp_path, catalog_url):
    catalog, store = _store(tmp_path, catalog_url)
    with pytest.raises(ValueError, match="no_such_column"):
        store.add_versions([_new("http://x.example/1", b"A\n\nbody\n"),
                            _new("http://x.example/2", b"B\n\nbody\n", no_such_column=1)])
    assert catalog.count_versions() == 0
    assert not list((tmp_path / "text").glob("*.txt"))
    assert not list((tmp_path / "text" / ".tmp").iterdir())
    assert store.add_versions([_new("http://x.example/1", b"A\n\nbody\n")])[0]["seq"] == 0


def test_recover_pending_finishes_or_discards(tmp_path, catalog_url):
    catalog, store = _store(tmp_path, catalog_url)
    row = _version(store, "http://x.example/1", b"A\n\nbody\n")
    final = tmp_path / row["file"]
    # a crash after the commit but before the rename
    os.replace(final, tmp_path / "text" / ".tmp" / f"{row['sha256']}.999.tmp")
    # a crash before the commit
    (tmp_path / "text" / ".tmp" / f"{'0' * 64}.999.tmp").write_bytes(b"orphan")
    assert recover_pending(tmp_path, catalog) == {"completed": 1, "discarded": 1}
    assert final.exists() and not list((tmp_path / "text" / ".tmp").iterdir())


def test_recheck_policy_backs_off_and_stops():
    policy = RecheckPolicy((60, 3600), stop_after=86400)
    assert policy.schedule("2026-01-01T00:00:00Z", 0, False, "2026-01-01T00:01:00Z") == (1, "2026-01-01T01:01:00Z")
    assert policy.schedule("2026-01-01T00:00:00Z", 1, True, "2026-01-01T02:00:00Z") == (0, "2026-01-01T02:01:00Z")
    assert policy.schedule("2026-01-01T00:00:00Z", 1, False, "2026-01-02T00:00:00Z") == (1, None)


def test_announcement_in_the_second_of_the_last_check_makes_the_article_due(tmp_path, catalog_url):
    """Listings and checks have one-second resolution: an edit announced for the second of
    the last check may have come after it, so it must be fetched (found flaky in CI)."""
    catalog, store = _store(tmp_path, catalog_url)
    url = "http://x.example/1"
    catalog.register_discovered("o", [(url, "2026-01-01T00:00:00Z")], "feed", "http://x.example/feed")
    _version(store, url, b"A\n\nbody\n", when="2026-01-01T00:00:05Z")
    older = catalog.register_discovered("o", [(url, "2026-01-01T00:00:04Z")], "feed", "http://x.example/feed")
    assert (older.due, older.known) == (0, 1)
    assert catalog.announced_articles(["o"]) == []
    same_second = catalog.register_discovered("o", [(url, "2026-01-01T00:00:05Z")], "feed", "http://x.example/feed")
    assert same_second.due == 1
    assert [row["url"] for row in catalog.announced_articles(["o"])] == [url]
    # handed out as announced, it is not handed out again among the re-checks of the run
    assert catalog.due_articles(["o"], "2026-01-02T00:00:00Z", everything=True) == []


def test_unchanged_checks_recorded_in_one_batch(tmp_path, catalog_url):
    catalog, store = _store(tmp_path, catalog_url)
    urls = [f"http://x.example/{n}" for n in range(3)]
    for url in urls:
        _version(store, url, f"{url}\n\nbody\n".encode())
    checks = [(url, RecheckPolicy(), {"last_checked": "2026-01-01T06:00:00Z", "last_status": 304})
              for url in urls[:2]]
    checks.append((urls[2], RecheckPolicy(), {"last_checked": "2026-01-01T06:00:00Z", "last_status": 200,
                                              "etag": '"e2"', "last_modified": None}))
    checks.append(("http://x.example/unknown", RecheckPolicy(), {"last_checked": "2026-01-01T06:00:00Z"}))
    assert catalog.record_unchanged(checks) == 3
    rows = [catalog.article(url) for url in urls]
    assert [row["last_checked"] for row in rows] == ["2026-01-01T06:00:00Z"] * 3
    assert [row["last_status"] for row in rows] == [304, 304, 200] and rows[2]["etag"] == '"e2"'
    assert all(row["next_check"] > "2026-01-01T06:00:00Z" for row in rows)
    assert catalog.due_articles(["o"], "2026-01-01T06:00:00Z", everything=True) == []


# the versions table as releases before the change column wrote it (file unique)
OLD_VERSIONS_DDL = """CREATE TABLE versions (
    seq INTEGER NOT NULL, article_id INTEGER NOT NULL, version INTEGER NOT NULL, previous_seq INTEGER,
    reason VARCHAR NOT NULL, file TEXT NOT NULL, sha256 VARCHAR NOT NULL, outlet VARCHAR NOT NULL,
    url TEXT NOT NULL, canonical_url TEXT, title TEXT, authors TEXT, published VARCHAR, published_source VARCHAR,
    modified VARCHAR, modified_source VARCHAR, language VARCHAR, section TEXT, fetched_at VARCHAR NOT NULL,
    http_status INTEGER, etag TEXT, last_modified TEXT, warc_file TEXT, warc_offset INTEGER,
    warc_record_id VARCHAR, payload_digest VARCHAR, discovered_via VARCHAR, links TEXT, PRIMARY KEY (seq),
    CONSTRAINT uq_versions_article_version UNIQUE (article_id, version),
    CONSTRAINT uq_versions_file UNIQUE (file), FOREIGN KEY(article_id) REFERENCES articles (id))"""


def test_an_older_catalog_is_upgraded_in_place_and_keeps_its_rows(tmp_path):
    import sqlite3

    path = tmp_path / "catalog.sqlite"
    Catalog(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:                      # make it look like an older release's
        db.execute("DROP TABLE versions")
        db.execute(OLD_VERSIONS_DDL)
        db.execute("CREATE INDEX ix_versions_article ON versions (article_id)")
        db.execute("ALTER TABLE events DROP COLUMN version")
        db.execute("INSERT INTO articles (id, outlet, url, first_seen, latest_version, latest_seq, latest_sha256, "
                   "recheck_step, state) VALUES (1, 'o', 'http://x.example/1', '2026-01-01T00:00:00Z', 1, 0, 'ab', 0, "
                   "'active')")
        db.execute("INSERT INTO versions (seq, article_id, version, reason, file, sha256, outlet, url, fetched_at) "
                   "VALUES (0, 1, 1, 'new', 'text/000_ab.txt', 'ab', 'o', 'http://x.example/1', '2026-01-01T00:00:00Z')")
    catalog = Catalog(f"sqlite:///{path}")
    rows = list(catalog.iter_versions())
    assert [(r["seq"], r["file"], r["change"]) for r in rows] == [(0, "text/000_ab.txt", None)]
    catalog.add_event(1, "gone", {"status": 404}, version=1)
    assert [e["version"] for e in catalog.iter_events()] == [1]
    with catalog.engine.begin() as conn:                   # a metadata version names its text's file
        batch = catalog.version_batch(conn, [("o", "http://x.example/1")])
        batch.add_version("http://x.example/1", lambda seq: "text/000_ab.txt",
                          {"outlet": "o", "url": "http://x.example/1", "sha256": "ab", "fetched_at": "2026-01-02T00:00:00Z",
                           "change": "metadata"})
        batch.write()
    assert [r["file"] for r in catalog.iter_versions()] == ["text/000_ab.txt"] * 2
    assert [r["seq"] for r in catalog.iter_versions(text_files_only=True)] == [0]
    assert upgrade_schema(catalog.engine) == []              # nothing left to do the second time


def test_metadata_changes_only_for_what_the_page_itself_says():
    from archive.store.changes import metadata_changes

    latest = {"body_sha256": "b", "authors": "A. Writer", "description": "Lede", "published": "2026-01-01T08:00:00Z",
              "published_source": "json-ld", "modified": "2026-01-01T09:00:00Z", "modified_source": "json-ld"}
    same = {**latest, "fetched_at": "2026-01-03T00:00:00Z"}
    assert metadata_changes(latest, same) == []
    assert metadata_changes(latest, {**same, "authors": "B. Writer"}) == ["authors"]
    assert metadata_changes(latest, {**same, "modified": "2026-01-02T10:00:00Z"}) == ["modified"]
    # a modified time stamped at the fetch itself, or a feed's date standing in: no change
    assert metadata_changes(latest, {**same, "modified": "2026-01-02T23:59:30Z"}) == []
    assert metadata_changes(latest, {**same, "published": "2026-01-02T10:00:00Z", "published_source": "feed"}) == []
    # an older release's version recorded no description: a description now is no change
    assert metadata_changes({**latest, "body_sha256": None, "description": None}, same) == []
