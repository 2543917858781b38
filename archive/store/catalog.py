"""The catalog: what was fetched, archived and when (SQLAlchemy Core; SQLite by default).

Tables:
- ``articles``: one row per article URL (keyed by canonical URL): discovery, validators,
  last capture, re-check schedule.
- ``versions``: one row per text file (version of an article); ``seq`` is the NNN of the
  file name and is allocated here, so it stays unique with several writers.
- ``runs`` and ``outlet_stats``: one row per crawl, and its summary per outlet.
- ``events``: things that happened to an article (gone, moved, restored, re-extracted).
- ``outlet_polling``: per outlet, how often its listings are read (adaptive discovery).
- ``listings``: one row per feed or sitemap read: its validators and last full capture,
  for conditional requests (an unchanged listing is not read again).
- ``notes``: small facts about the archive itself, by name (what the manifest last held).
- ``syndication_texts``, ``syndication_bands``: copies across outlets, in :mod:`.syndication`.

On PostgreSQL (a catalog shared by several crawl processes) ``seq`` comes from the database
sequence ``versions_seq``, and workers claim the articles they fetch (``articles.claimed_by``
and ``claimed_until``, see :mod:`archive.store.claims`).

Only this module knows the schema; everything else calls its methods.
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import (
    Column, Float, ForeignKey, Index, Integer, MetaData, Sequence, String, Table, Text, UniqueConstraint,
    and_, bindparam, create_engine, event, func, insert, inspect, not_, or_, select, text, update,
)
from sqlalchemy.engine import Connection, Engine

from .conflicts import retry_on_conflict
from .timefmt import utc_now

logger = logging.getLogger(__name__)
metadata = MetaData()

articles = Table(
    "articles", metadata,
    Column("id", Integer, primary_key=True),
    Column("outlet", String, nullable=False),
    Column("url", Text, nullable=False),             # canonical URL: the article's identity
    Column("fetch_url", Text),                       # URL last fetched for it
    Column("discovered_via", String),                # feed | sitemap | section | link | recheck
    Column("discovered_from", Text),
    Column("first_seen", String, nullable=False),
    Column("last_checked", String),
    Column("last_status", Integer),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("latest_version", Integer, nullable=False, default=0),
    Column("latest_seq", Integer),
    Column("latest_sha256", String),
    Column("capture_uri", Text),                     # last full capture, for revisit records
    Column("capture_date", String),
    Column("capture_record_id", String),
    Column("capture_digest", String),
    Column("capture_warc_file", Text),               # where that capture's response record lies
    Column("capture_warc_offset", Integer),
    Column("recheck_step", Integer, nullable=False, default=0),
    Column("next_check", String),
    Column("announced", String),                     # newest update time a feed/sitemap announced
    Column("state", String, nullable=False, default="active"),  # active | alias | gone | moved
    Column("alias_of", Text),                        # canonical URL this URL turned out to be
    Column("claimed_by", String),                    # worker fetching it now (shared catalog)
    Column("claimed_until", String),                 # end of that worker's lease
    UniqueConstraint("url", name="uq_articles_url"),
)
Index("ix_articles_due", articles.c.state, articles.c.next_check)
Index("ix_articles_outlet", articles.c.outlet)
Index("ix_articles_claimed_by", articles.c.claimed_by)
# NNN of the text files on a database with sequences (PostgreSQL); SQLite takes MAX(seq) + 1
versions_seq = Sequence("versions_seq", start=0, minvalue=0, metadata=metadata)

versions = Table(
    "versions", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("previous_seq", Integer),
    Column("reason", String, nullable=False, default="new"),  # new | edit | reextract
    # what differs from the previous version: headline | body | headline+body | metadata
    # (None for a first version); a metadata version has no file of its own (see file)
    Column("change", String),
    # relative to the archive dir: text/NNN_hash.txt; a metadata version names its text's file
    Column("file", Text, nullable=False),
    Column("sha256", String, nullable=False),
    Column("body_sha256", String),                   # of the text after its headline line
    Column("outlet", String, nullable=False),
    Column("url", Text, nullable=False),             # URL fetched
    Column("canonical_url", Text),
    Column("title", Text),
    Column("authors", Text),                         # "; "-separated
    Column("published", String),
    Column("published_source", String),
    Column("modified", String),
    Column("modified_source", String),
    Column("language", String),
    Column("section", Text),
    Column("description", Text),
    Column("fetched_at", String, nullable=False),
    Column("published_delay", Integer),              # v1: seconds from published to this capture
    Column("modified_delay", Integer),               # edits: seconds from the announced change
    Column("http_status", Integer),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("warc_file", Text),
    Column("warc_offset", Integer),
    Column("warc_record_id", String),
    Column("payload_digest", String),
    Column("discovered_via", String),
    Column("links", Text),                           # JSON list of the article's outbound links
    # one version n+1 per article: two writers that both found a new text in the same
    # version n cannot both archive it (the loser tries again, and then finds its text is
    # the latest already, or follows it as n+2)
    UniqueConstraint("article_id", "version", name="uq_versions_article_version"),
)
Index("ix_versions_article", versions.c.article_id)
Index("ix_versions_file", versions.c.file)
Index("ix_versions_body", versions.c.body_sha256)
Index("ix_versions_sha256", versions.c.sha256)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", String, nullable=False),
    Column("ended_at", String),
    Column("kind", String, nullable=False, default="crawl"),
    Column("status", String),                        # running | finished | failed | no-outlet-reachable
    Column("exit_code", Integer),
    Column("detail", Text),                          # JSON: settings, argv, log file
)

outlet_stats = Table(
    "outlet_stats", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("outlet", String, nullable=False),
    Column("discovered", Integer, nullable=False, default=0),
    Column("fetched", Integer, nullable=False, default=0),
    Column("archived", Integer, nullable=False, default=0),
    Column("new_versions", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("errors", Text),                          # JSON {kind: count}
    # seconds from published to first capture, and from an announced change to its capture,
    # of this run's versions: median and 90th percentile
    Column("published_delay_median", Integer),
    Column("published_delay_p90", Integer),
    Column("modified_delay_median", Integer),
    Column("modified_delay_p90", Integer),
    UniqueConstraint("run_id", "outlet", name="uq_outlet_stats"),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id")),
    Column("at", String, nullable=False),
    Column("kind", String, nullable=False),          # gone | moved | restored | reextracted
    Column("detail", Text),                          # JSON
    Column("version", Integer),                      # the article's latest version then
)
Index("ix_events_article", events.c.article_id)

outlet_polling = Table(
    "outlet_polling", metadata,
    Column("outlet", String, primary_key=True),
    Column("interval_seconds", Integer, nullable=False),  # until the next read of its listings
    Column("next_poll", String, nullable=False),
    Column("last_poll", String, nullable=False),
    Column("polls", Integer, nullable=False),
    Column("new_weight", Float, nullable=False),     # new articles seen, decayed by age
    Column("time_weight", Float, nullable=False),    # seconds watched, decayed the same way
)

listings = Table(
    "listings", metadata,
    Column("url", Text, primary_key=True),           # as configured or found in a sitemap index
    Column("outlet", String, nullable=False),
    Column("kind", String, nullable=False),          # feed | sitemap
    Column("etag", Text),                            # validators of the last copy whose links were
    Column("last_modified", Text),                   # recorded (none for a sitemap index)
    Column("last_read", String),
    Column("capture_uri", Text),                     # last full capture, for revisit records
    Column("capture_date", String),
    Column("capture_record_id", String),
    Column("capture_digest", String),
)

notes = Table(
    "notes", metadata,
    Column("name", String, primary_key=True),
    Column("value", Text, nullable=False),           # JSON
)

# Statements of the per-page write path, built once. Values are passed when they are
# executed (``conn.execute(stmt, {...})``), so SQLAlchemy reuses one compiled form per set of
# columns instead of building, coercing and cache-keying a new statement for every page:
# that construction cost more CPU than SQLite itself.
_ARTICLE_COLUMNS = frozenset(c.name for c in articles.columns)
_VERSION_COLUMNS = frozenset(c.name for c in versions.columns)
_LISTING_COLUMNS = frozenset(c.name for c in listings.columns)
_ARTICLE_STATE = (articles.c.id, articles.c.first_seen, articles.c.recheck_step, articles.c.latest_version,
                  articles.c.latest_seq, articles.c.latest_sha256, articles.c.announced)
_URLS = bindparam("_urls", expanding=True)
_STATES_BY_URLS = select(articles.c.url, *_ARTICLE_STATE).where(articles.c.url.in_(_URLS))
# the latest version of each article, as a new text is compared with it (see VersionBatch.latest)
_LATEST = versions.alias("latest")
LATEST_FIELDS = ("title", "body_sha256", "file", "fetched_at", "authors", "description", "published",
                 "published_source", "modified", "modified_source")
_LATEST_BY_URLS = (select(articles.c.url, *(_LATEST.c[name] for name in LATEST_FIELDS))
                   .select_from(articles.join(_LATEST, _LATEST.c.seq == articles.c.latest_seq))
                   .where(articles.c.url.in_(_URLS)))

# articles whose latest text has one of these hashes (whole text or body): a new page with the
# same text is the same story under another URL
_LATEST_WITH_HASHES = (select(articles.c.url, versions.c.outlet, versions.c.sha256, versions.c.body_sha256)
                       .select_from(versions.join(articles, articles.c.latest_seq == versions.c.seq))
                       .where(articles.c.state != "alias",
                              or_(versions.c.sha256.in_(_URLS), versions.c.body_sha256.in_(_URLS)))
                       .order_by(articles.c.id.desc()))
# below this many words a body alone does not make two pages one story ("Watch the video
# above."): their headlines must agree too
SAME_STORY_MIN_WORDS = 40
_ROWS_BY_URLS = select(articles).where(articles.c.url.in_(_URLS))
_UPDATE_ARTICLE = update(articles).where(articles.c.id == bindparam("_article_id"))
_INSERT_ARTICLE = insert(articles)
_INSERT_VERSION = insert(versions)
# a listing announced an update no later than the second of the last check (never NULL)
_ANNOUNCED_DUE = and_(articles.c.announced.is_not(None),
                      or_(articles.c.last_checked.is_(None), articles.c.announced >= articles.c.last_checked))
_NEXT_SEQ = select(func.coalesce(func.max(versions.c.seq), -1) + 1)


def _add_event(conn: Connection, article_id: int | None, kind: str, detail: dict | None, version: int | None) -> None:
    conn.execute(insert(events).values(article_id=article_id, at=utc_now(), kind=kind, version=version,
                                       detail=json.dumps(detail or {}, sort_keys=True)))


def _checked(values: dict[str, Any], columns: frozenset, table: str) -> dict[str, Any]:
    """``values`` if every key is a column of ``table`` (as ``.values(**values)`` would insist)."""
    unknown = values.keys() - columns
    if unknown:
        raise ValueError(f"unknown {table} column(s): {', '.join(sorted(unknown))}")
    return values


def _by_url(conn: Connection, statement, urls: list[str]) -> dict[str, Any]:
    """The rows ``statement`` (selecting ``url``, filtered by ``_urls``) finds for ``urls``, by URL."""
    rows = {}
    for start in range(0, len(urls), 500):  # SQLite allows a limited number of parameters
        rows.update((row["url"], row) for row in conn.execute(statement, {"_urls": urls[start:start + 500]}).mappings())
    return rows


def _one_at_a_time(conn: Connection, key: str) -> None:
    """On PostgreSQL, wait until no other transaction holding ``key`` runs (released at
    commit): writers that would insert the same rows take turns instead of colliding."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))


def _in_period(query, column, since: str | None, until: str | None):
    """``query`` limited to ``since <= column < until`` (either bound optional)."""
    if since:
        query = query.where(column >= since)
    if until:
        query = query.where(column < until)
    return query


FRONTIER_KINDS = ("pending", "announced", "recheck")


def frontier_query(kind: str, outlets: list[str], after_id: int | None = 0, now: str | None = None,
                   everything: bool = False):
    """The article rows the frontier hands out as ``kind`` (see crawler/frontier.py), with
    ids above ``after_id`` (None: any):

    - ``pending``: active, discovered but never archived;
    - ``announced``: archived, and a feed or sitemap announced an update since the last check;
    - ``recheck``: archived (active, or gone) and due at ``now`` (``everything``: not
      checked since ``now``), except the announced ones (checked as such, first: not twice, even before their
      check is written).
    """
    query = select(articles).where(articles.c.outlet.in_(outlets))
    if after_id is not None:
        query = query.where(articles.c.id > after_id)
    if kind == "pending":
        return query.where(articles.c.state == "active", articles.c.latest_version == 0)
    if kind == "announced":
        return query.where(articles.c.state == "active", articles.c.latest_version > 0, _ANNOUNCED_DUE)
    # gone ones too: they may come back
    query = query.where(articles.c.state.in_(("active", "gone")), articles.c.latest_version > 0)
    if everything:
        query = query.where((articles.c.last_checked.is_(None)) | (articles.c.last_checked < now))
    else:
        query = query.where(articles.c.next_check.is_not(None), articles.c.next_check <= now)
    return query.where(not_(_ANNOUNCED_DUE))

DELAY_COLUMNS = ("published_delay_median", "published_delay_p90", "modified_delay_median", "modified_delay_p90")


MANIFEST_COLUMNS = [
    "file", "url", "outlet", "version", "sha256", "fetched_at", "title", "published",
    "warc_file", "warc_offset", "seq", "canonical_url", "authors", "modified", "language",
    "section", "http_status", "etag", "last_modified", "warc_record_id", "payload_digest",
    "discovered_via", "reason", "previous_file", "change",
]


@dataclass
class Registration:
    """What registering a listing's links found."""

    new: list[dict]       # first seen now (the inserted values): to fetch
    pending: int          # seen before, never archived: to fetch
    due: int              # archived, and the listing announced an update since its last check
    known: int            # archived and not due: skip


class VersionBatch:
    """New versions and checks of some articles, sent to the catalog in one go (see
    :meth:`Catalog.version_batch`): one read of the articles' states, one query for the
    batch's sequence numbers, one insert of all version rows, one update per article
    (statements cost SQLAlchemy more CPU than SQLite). A batch may hold an article more
    than once: each step sees the state the earlier ones left.

    Sequence numbers are allocated by :meth:`write`, once the whole batch is built: until
    then a row's ``seq`` (and the ``previous_seq``/``latest_seq`` that refer to it) is a
    negative stand-in, and its ``file`` is None."""

    def __init__(self, conn: Connection, states: dict[str, dict[str, Any]], latest: dict[str, dict[str, Any]],
                 texts: dict[tuple[str, str], str]):
        self.conn = conn
        self.states = states
        self.latest_rows = latest
        self.texts = texts  # (outlet, text or body sha256) -> the article whose latest text has it
        self.rows: list[dict[str, Any]] = []
        self.file_names: list = []
        self.latest_of_rows: list[dict[str, Any]] = []
        self.article_updates: dict[int, dict[str, Any]] = {}

    def state(self, url: str) -> dict[str, Any]:
        """``id``, ``first_seen``, ``recheck_step``, ``latest_version``, ``latest_seq``,
        ``latest_sha256`` and ``announced`` of the article with canonical ``url``, as this
        batch leaves it."""
        return self.states[url]

    def latest(self, url: str) -> dict[str, Any] | None:
        """The :data:`LATEST_FIELDS` of the article's latest version as this batch leaves
        it; None before its first version."""
        return self.latest_rows.get(url)

    def same_story(self, outlet: str, url: str, hashes: tuple[str, str], body_words: int) -> str | None:
        """Another article of ``outlet`` (its canonical URL) whose latest text has the body
        of the new text of ``url`` (``hashes``: of that text and of its body), or its whole
        text for a short body: ``url`` is then the same story under a second address (AMP,
        print, a new slug)."""
        text_sha, body_sha = hashes
        twin = self.texts.get((outlet, body_sha if body_words >= SAME_STORY_MIN_WORDS else text_sha))
        return twin if twin != url else None

    def set_article_fields(self, url: str, values: dict[str, Any]) -> None:
        """Fields to set on the article's row (later calls win)."""
        state = self.states[url]
        self.article_updates.setdefault(state["id"], {}).update(_checked(values, _ARTICLE_COLUMNS, "articles"))
        state.update((key, values[key]) for key in state.keys() & values.keys() if key not in ("id", "url"))

    def add_version(self, url: str, make_file_name, fields: dict[str, Any],
                    article_fields: dict[str, Any] | None = None) -> dict:
        """The next version of the article ``url``: ``make_file_name(seq)`` gives its text
        file's path; ``article_fields`` are set on the article too. Returns the version row
        (its ``seq`` and ``file`` are filled in by :meth:`write`)."""
        state = self.states[url]
        stand_in = -1 - len(self.rows)
        version = (state["latest_version"] or 0) + 1
        row = _checked({"reason": "new" if version == 1 else "edit", **fields, "seq": stand_in,
                        "article_id": state["id"], "version": version, "previous_seq": state["latest_seq"],
                        "file": None}, _VERSION_COLUMNS, "versions")
        self.rows.append(row)
        self.file_names.append(make_file_name)
        self.set_article_fields(url, {**(article_fields or {}), "latest_version": version, "latest_seq": stand_in,
                                      "latest_sha256": row["sha256"]})
        self.latest_rows[url] = {name: row.get(name) for name in LATEST_FIELDS}
        self.latest_of_rows.append(self.latest_rows[url])  # its file is named by write()
        for key in (row.get("body_sha256"), row["sha256"]):
            if key:
                self.texts.setdefault((row["outlet"], key), url)
        return row

    def write(self) -> None:
        """Allocate the sequence numbers, send the batch's rows and updates (the caller's
        transaction commits them)."""
        real = dict(zip(range(-1, -1 - len(self.rows), -1), _allocate_seqs(self.conn, len(self.rows))))
        for row, make_file_name, latest in zip(self.rows, self.file_names, self.latest_of_rows):
            row["seq"] = real[row["seq"]]
            row["previous_seq"] = real.get(row["previous_seq"], row["previous_seq"])
            # (a metadata version's file is its text's: an earlier row's, named just now)
            row["file"] = latest["file"] = make_file_name(row["seq"])
        for values in (*self.article_updates.values(), *self.states.values()):
            if values.get("latest_seq") in real:
                values["latest_seq"] = real[values["latest_seq"]]
        for rows in _grouped_by_columns(self.rows):
            self.conn.execute(_INSERT_VERSION, rows)
        # in id order: two transactions updating the same articles then wait for each other
        # instead of deadlocking
        updates = [{**values, "_article_id": article_id} for article_id, values in sorted(self.article_updates.items())]
        for rows in _grouped_by_columns(updates):
            self.conn.execute(_UPDATE_ARTICLE, rows)
        self.rows, self.file_names, self.latest_of_rows, self.article_updates = [], [], [], {}


def _allocate_seqs(conn: Connection, count: int) -> list[int]:
    """``count`` new sequence numbers, ascending: from ``versions_seq`` where the database
    has sequences (unique however many processes write; a rolled-back batch leaves a gap),
    else MAX(seq) + 1 onwards (unique through ``versions``' primary key: a writer that loses
    the race gets an IntegrityError and tries again)."""
    if not count:
        return []
    if conn.dialect.supports_sequences:
        return sorted(conn.execute(select(versions_seq.next_value())
                                   .select_from(func.generate_series(1, count))).scalars())
    first = conn.execute(_NEXT_SEQ).scalar()
    return list(range(first, first + count))


def _grouped_by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``rows`` grouped by their keys, each group in order (one executemany each)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def catalog_url_for(archive_dir: str) -> str:
    """Default catalog URL: a SQLite file inside the archive directory."""
    return f"sqlite:///{archive_dir}/catalog.sqlite"


def catalog_is_shared(url: str) -> bool:
    """Whether the catalog at ``url`` is a database server several crawl processes share
    (anything but SQLite): they then claim what they fetch and lock only themselves."""
    return not url.startswith("sqlite")


def engine_url(url: str) -> str:
    """``url`` with its SQLAlchemy driver: ``postgresql://`` (and ``postgres://``) mean psycopg 3."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


SCHEMA_LOCK = 0x6E657773  # PostgreSQL advisory lock key: one process creates or upgrades the schema at a time


def _create_schema(engine: Engine, url: str) -> None:
    """Upgrade an older catalog (:func:`upgrade_schema`) and create what is missing, in one
    transaction (on PostgreSQL under an advisory lock: workers start together)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        for change in upgrade_schema(conn):
            logger.warning("catalog %s upgraded: %s", url, change)
        metadata.create_all(conn)
        if conn.dialect.supports_sequences:
            # after a copy of older rows, say: the sequence starts above every seq in use
            conn.execute(text("SELECT setval('versions_seq', m) FROM (SELECT max(seq) AS m FROM versions) AS top "
                              "WHERE m IS NOT NULL AND m >= (SELECT CASE WHEN is_called THEN last_value "
                              "ELSE last_value - 1 END FROM versions_seq)"))


def upgrade_schema(bind: Engine | Connection) -> list[str]:
    """Bring a catalog written by an earlier release to this schema, in one transaction
    (``bind``'s, when it is a connection): add the columns and indexes it lacks, and drop
    the uniqueness of ``versions.file`` (a metadata version names the file of its
    unchanged text). Returns what was done (empty when nothing was needed)."""
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return upgrade_schema(conn)
    conn = bind
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    done: list[str] = []
    quote = conn.dialect.identifier_preparer.quote
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                conn.execute(text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} "
                                  f"{column.type.compile(conn.dialect)}"))
                done.append(f"added {table.name}.{column.name}")
    if "versions" in existing and any(constraint["name"] == "uq_versions_file"
                                      for constraint in inspector.get_unique_constraints("versions")):
        _drop_unique_file(conn, conn.dialect.name)
        done.append("dropped the uniqueness of versions.file")
    for table in metadata.sorted_tables:  # (create_all makes the indexes of new tables only)
        if table.name in existing:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
    return done


def _drop_unique_file(conn: Connection, dialect: str) -> None:
    if dialect != "sqlite":
        conn.execute(text("ALTER TABLE versions DROP CONSTRAINT uq_versions_file"))
        return
    # SQLite cannot drop a constraint: the table is built again and its rows copied over
    columns = ", ".join(f'"{column.name}"' for column in versions.columns)
    conn.execute(text("ALTER TABLE versions RENAME TO versions_before_upgrade"))
    for index in versions.indexes:
        conn.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
    versions.create(conn)
    conn.execute(text(f"INSERT INTO versions ({columns}) SELECT {columns} FROM versions_before_upgrade"))
    conn.execute(text("DROP TABLE versions_before_upgrade"))


class Catalog:
    """Thin access layer over the catalog database."""

    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        self.shared = catalog_is_shared(url)
        options = {"pool_pre_ping": True} if self.shared else {}
        self.engine: Engine = create_engine(engine_url(url), future=True, **options)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if create or inspect(self.engine).has_table("versions"):
            _create_schema(self.engine, url)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @contextmanager
    def one_at_a_time(self, key: str) -> Iterator[None]:
        """On PostgreSQL, hold the advisory lock ``key`` (waiting for it) while the block
        runs: work several workers would otherwise do at once and at odds (elsewhere: no-op,
        a SQLite catalog has one process)."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            lock = func.hashtext(key)
            conn.execute(select(func.pg_advisory_lock(lock)))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(lock)))
                conn.commit()

    # -- articles --------------------------------------------------------------------

    def article(self, url: str) -> dict | None:
        """The article row for canonical ``url``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.url == url)).mappings().first()
        return dict(row) if row else None

    def article_by_id(self, article_id: int) -> dict | None:
        """The article row with ``article_id``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).mappings().first()
        return dict(row) if row else None

    def known_urls(self, urls: list[str]) -> set[str]:
        """Which of ``urls`` are already articles in the catalog."""
        if not urls:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(select(articles.c.url).where(articles.c.url.in_(urls)))
            return {row[0] for row in rows}

    @staticmethod
    def _insert_article(conn: Connection, outlet: str, url: str, fields: dict[str, Any]) -> int:
        values = {"outlet": outlet, "url": url, "first_seen": utc_now(), "latest_version": 0,
                  "recheck_step": 0, "state": "active", **fields}
        return conn.execute(_INSERT_ARTICLE, _checked(values, _ARTICLE_COLUMNS, "articles")).inserted_primary_key[0]

    def version_batch(self, conn: Connection, articles_of: list[tuple[str, str]],
                      hashes: dict[str, tuple[str, ...]] | None = None) -> "VersionBatch":
        """Versions and checks of the articles ``articles_of`` ((outlet, canonical URL) pairs),
        written inside ``conn``'s transaction with a few statements for the whole batch;
        articles not in the catalog yet are inserted. ``hashes``: per article URL, the
        SHA-256 of its new texts and bodies, for :meth:`VersionBatch.same_story` (looked up
        for the articles never archived only)."""
        urls = list(dict.fromkeys(url for _, url in articles_of))
        states = {url: dict(row) for url, row in _by_url(conn, _STATES_BY_URLS, urls).items()}
        for outlet, url in articles_of:
            if url not in states:
                first_seen = utc_now()
                article_id = self._insert_article(conn, outlet, url, {"first_seen": first_seen})
                states[url] = {"url": url, "id": article_id, "first_seen": first_seen, "recheck_step": 0,
                               "latest_version": 0, "latest_seq": None, "latest_sha256": None, "announced": None}
        archived = [url for url in urls if states[url]["latest_version"]]
        latest = {url: dict(row) for url, row in _by_url(conn, _LATEST_BY_URLS, archived).items()} if archived else {}
        texts = {}
        unique = list(dict.fromkeys(h for url, pair in (hashes or {}).items() if not states[url]["latest_version"]
                                    for h in pair))
        for start in range(0, len(unique), 250):  # (each hash is compared with two columns)
            for row in conn.execute(_LATEST_WITH_HASHES, {"_urls": unique[start:start + 250]}):
                texts.update({(row.outlet, row.sha256): row.url, (row.outlet, row.body_sha256): row.url})
        return VersionBatch(conn, states, latest, texts)

    def update_article(self, article_id: int, **fields: Any) -> None:
        """Set fields of an article row."""
        if fields:
            with self.engine.begin() as conn:
                values = _checked(fields, _ARTICLE_COLUMNS, "articles")
                conn.execute(_UPDATE_ARTICLE, {**values, "_article_id": article_id})

    def _stream(self, query) -> Iterator[dict]:
        """The rows of ``query`` as dicts, fetched 500 at a time."""
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=500).execute(query).mappings():
                yield dict(row)

    def iter_articles(self, outlet: str | None = None) -> Iterator[dict]:
        """Every article row (streamed), optionally of one outlet."""
        query = select(articles).order_by(articles.c.id)
        if outlet:
            query = query.where(articles.c.outlet == outlet)
        yield from self._stream(query)

    @retry_on_conflict
    def register_discovered(self, outlet: str, listed: list[tuple[str, str | None]], via: str,
                            source_url: str) -> "Registration":
        """Record article links found in a listing, in one transaction.

        ``listed`` holds (canonical URL, announced update time or None).
        """
        urls = list(dict.fromkeys(url for url, _ in listed))
        announced = {}
        for url, when in listed:
            if when and (announced.get(url) or "") < when:
                announced[url] = when
        result = Registration([], 0, 0, 0)
        now = utc_now()
        with self.engine.begin() as conn:
            _one_at_a_time(conn, f"register {outlet}")  # workers reading the same listings
            rows = _by_url(conn, _ROWS_BY_URLS, urls)
            for url in urls:
                row = rows.get(url)
                if row is None:
                    result.new.append({"outlet": outlet, "url": url, "first_seen": now, "latest_version": 0,
                                       "recheck_step": 0, "state": "active", "discovered_via": via,
                                       "discovered_from": source_url, "announced": announced.get(url)})
                elif not row["latest_version"] and row["state"] in ("active", "gone"):
                    if row["state"] == "gone":  # listed again after a 404: try once more
                        conn.execute(_UPDATE_ARTICLE, {"state": "active", "_article_id": row["id"]})
                    result.pending += 1
                elif (row["state"] == "active" and announced.get(url)
                      and announced[url] >= (row["last_checked"] or "")  # same second: order unknown
                      and announced[url] > (row["announced"] or "")):
                    conn.execute(_UPDATE_ARTICLE, {"announced": announced[url], "_article_id": row["id"]})
                    result.due += 1
                else:
                    result.known += 1
            if result.new:  # one executemany, in listing order (the frontier goes by id)
                conn.execute(_INSERT_ARTICLE, result.new)
        return result

    @staticmethod
    def check_fields(state: dict[str, Any], changed: bool, policy, fields: dict[str, Any]) -> dict[str, Any]:
        """The article fields a check of an archived article sets: ``fields`` (validators,
        capture) plus the re-check schedule from the article's ``state`` (see
        :meth:`article_state`)."""
        now = fields.get("last_checked") or utc_now()
        step, next_check = policy.schedule(state["first_seen"], state["recheck_step"], changed, now)
        return {**fields, "recheck_step": step, "next_check": next_check}

    @retry_on_conflict
    def record_unchanged(self, checks: list[tuple[str, Any, dict[str, Any]]]) -> int:
        """Checks that found no change (304, identical payload), in one transaction.

        ``checks`` holds ``(canonical URL, RecheckPolicy, check fields)`` triples; each sets
        the article's check fields and next check. Returns how many URLs were known.
        """
        urls = list(dict.fromkeys(url for url, _, _ in checks))
        updates = []
        with self.engine.begin() as conn:
            states = _by_url(conn, _STATES_BY_URLS, urls)
            for url, policy, fields in checks:
                state = states.get(url)
                if state is not None:
                    values = _checked(self.check_fields(state, False, policy, fields), _ARTICLE_COLUMNS, "articles")
                    updates.append({**values, "_article_id": state["id"]})
            for rows in _grouped_by_columns(sorted(updates, key=lambda values: values["_article_id"])):
                conn.execute(_UPDATE_ARTICLE, rows)
        return len(updates)

    def record_gone(self, url: str, policy, fields: dict[str, Any], detail: dict[str, Any]) -> bool:
        """The outlet no longer serves the article ``url``: it answered 404/410, or sent it
        to its home or a section page. An archived article keeps its versions, gets a
        ``gone`` event (``detail``: status, reason) when it was not gone already, and is
        still checked on its back-off schedule (``policy``), so that a return is seen.
        ``fields``: ``last_checked`` and ``last_status``. Returns False for an article never
        archived: it is not asked for again until a listing names it."""
        row = self.article(url)
        if row is None:
            return False
        with self.engine.begin() as conn:
            if not row["latest_version"]:
                conn.execute(_UPDATE_ARTICLE, {**fields, "state": "gone", "_article_id": row["id"]})
                return False
            checked = self.check_fields(row, False, policy, fields)
            conn.execute(_UPDATE_ARTICLE, {**checked, "state": "gone", "_article_id": row["id"]})
            if row["state"] != "gone":
                _add_event(conn, row["id"], "gone", detail, row["latest_version"])
        return True

    def record_moved(self, url: str, new_url: str, detail: dict[str, Any]) -> bool:
        """The archived article ``url`` now lives at ``new_url`` (a permanent redirect or a
        changed canonical link): ``new_url`` becomes an alias of it (never an article of
        its own) and its address for later checks. Returns True when this is news (a
        ``moved`` event was added), False when that move was recorded before."""
        with self.engine.begin() as conn:
            rows = _by_url(conn, _ROWS_BY_URLS, [url, new_url])
            article, target = rows.get(url), rows.get(new_url)
            if article is None or not article["latest_version"] or new_url == url:
                return False
            if target is None:
                self._insert_article(conn, article["outlet"], new_url, {
                    "state": "alias", "alias_of": url, "discovered_via": "moved", "discovered_from": url})
            elif target["state"] != "alias" or target["alias_of"] != url:
                conn.execute(_UPDATE_ARTICLE, {"state": "alias", "alias_of": url, "_article_id": target["id"]})
            conn.execute(_UPDATE_ARTICLE, {"fetch_url": new_url, "_article_id": article["id"]})
            last = conn.execute(select(events.c.detail).where(events.c.article_id == article["id"],
                                                              events.c.kind == "moved")
                                .order_by(events.c.id.desc()).limit(1)).scalar()
            if last is not None and json.loads(last).get("url") == new_url:
                return False
            _add_event(conn, article["id"], "moved", {**detail, "url": new_url}, article["latest_version"])
        return True

    def record_restored(self, url: str, status: int) -> bool:
        """An article marked gone answered with the article again: active again, with a
        ``restored`` event. False when it was not gone."""
        with self.engine.begin() as conn:
            row = conn.execute(select(articles.c.id, articles.c.latest_version)
                               .where(articles.c.url == url, articles.c.state == "gone")).first()
            if row is None:
                return False
            conn.execute(_UPDATE_ARTICLE, {"state": "active", "_article_id": row.id})
            _add_event(conn, row.id, "restored", {"status": status}, row.latest_version)
        return True

    def pending_articles(self, outlets: list[str], after_id: int = 0, limit: int = 500) -> list[dict]:
        """Next batch of active articles discovered but never archived, in id order."""
        return self._batch(frontier_query("pending", outlets, after_id), limit)

    def mark_alias(self, url: str, canonical_url: str) -> None:
        """Record that article URL ``url`` is another address of ``canonical_url``."""
        with self.engine.begin() as conn:
            conn.execute(update(articles).where(articles.c.url == url, articles.c.url != canonical_url)
                         .values(state="alias", alias_of=canonical_url))

    def last_check(self) -> str | None:
        """The latest time any article was checked (None: never)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(articles.c.last_checked))).scalar()

    def due_articles(self, outlets: list[str], now: str, after_id: int = 0, limit: int = 500,
                     everything: bool = False) -> list[dict]:
        """Next batch of archived articles (active, or gone: they may come back) due for a
        re-check at ``now``, in id order.

        With ``everything``, every such article not yet checked since ``now``.
        """
        return self._batch(frontier_query("recheck", outlets, after_id, now, everything), limit)

    def announced_articles(self, outlets: list[str], after_id: int = 0, limit: int = 500) -> list[dict]:
        """Next batch of archived articles whose feed or sitemap announced an update since their last check."""
        return self._batch(frontier_query("announced", outlets, after_id), limit)

    def frontier_batch(self, query, limit: int) -> list[dict]:
        """Up to ``limit`` rows of ``query`` (see :func:`frontier_query`), in id order."""
        return self._batch(query, limit)

    def _batch(self, query, limit: int) -> list[dict]:
        """Up to ``limit`` rows of ``query`` (articles), in id order."""
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(articles.c.id).limit(limit)).mappings().all()
        return [dict(row) for row in rows]

    # -- versions --------------------------------------------------------------------

    def version(self, seq: int) -> dict | None:
        """The version row with sequence number ``seq``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(versions).where(versions.c.seq == seq)).mappings().first()
        return dict(row) if row else None

    def versions_of(self, article_id: int) -> list[dict]:
        """All versions of one article, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(versions).where(versions.c.article_id == article_id)
                                .order_by(versions.c.version)).mappings()
            return [dict(row) for row in rows]

    def files_with_sha256(self, sha: str) -> list[str]:
        """Text files (relative paths) whose catalog SHA-256 is ``sha``."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(versions.c.file).where(versions.c.sha256 == sha)).scalars())

    def count_versions(self) -> int:
        """How many version rows (text files) the catalog holds."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(versions)).scalar()

    # -- runs and events -------------------------------------------------------------

    def start_run(self, kind: str = "crawl", detail: dict | None = None) -> int:
        """Record the start of a run; return its id."""
        with self.engine.begin() as conn:
            return conn.execute(insert(runs).values(
                started_at=utc_now(), kind=kind, status="running",
                detail=json.dumps(detail or {}))).inserted_primary_key[0]

    def finish_run(self, run_id: int, status: str, exit_code: int, stats: dict[str, dict] | None = None) -> None:
        """Record the end of a run and its per-outlet summary."""
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(
                ended_at=utc_now(), status=status, exit_code=exit_code))
            for outlet, counts in (stats or {}).items():
                conn.execute(insert(outlet_stats).values(
                    run_id=run_id, outlet=outlet,
                    errors=json.dumps(counts.get("errors", {}), sort_keys=True),
                    **{k: counts.get(k, 0) for k in ("discovered", "fetched", "archived", "new_versions",
                                                      "unchanged", "skipped")},
                    **{k: counts.get(k) for k in DELAY_COLUMNS}))

    def run(self, run_id: int) -> dict | None:
        """A run row with its outlet stats under ``"outlets"``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            if not row:
                return None
            stats = conn.execute(select(outlet_stats).where(outlet_stats.c.run_id == run_id)).mappings()
            return {**dict(row), "outlets": {s["outlet"]: dict(s) for s in stats}}

    def list_runs(self, limit: int = 20) -> list[dict]:
        """The newest runs, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit)).mappings()
            return [dict(row) for row in rows]

    def add_event(self, article_id: int | None, kind: str, detail: dict | None = None,
                  version: int | None = None) -> None:
        """Record something that happened to an article (gone, moved, re-extracted...)."""
        with self.engine.begin() as conn:
            _add_event(conn, article_id, kind, detail, version)

    def iter_event_rows(self, outlet: str | None = None, since: str | None = None,
                        until: str | None = None) -> Iterator[dict]:
        """Events in time order (streamed) with their article's ``outlet`` and ``url``."""
        query = (select(events.c.at, events.c.kind, events.c.detail, events.c.version, articles.c.outlet,
                        articles.c.url)
                 .select_from(events.join(articles, articles.c.id == events.c.article_id))
                 .order_by(events.c.at, events.c.id))
        if outlet:
            query = query.where(articles.c.outlet == outlet)
        yield from self._stream(_in_period(query, events.c.at, since, until))

    def iter_events(self, article_id: int | None = None) -> Iterator[dict]:
        """Events, oldest first, optionally of one article."""
        query = select(events).order_by(events.c.id)
        if article_id is not None:
            query = query.where(events.c.article_id == article_id)
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                yield dict(row)

    # -- scheduler --
    # Used by crawler/schedule.py: a "scheduled" run row per job execution, linked to the
    # "crawl" run row its subprocess created.

    def update_run_detail(self, run_id: int, detail: dict) -> None:
        """Merge ``detail`` into the JSON ``detail`` of run ``run_id``."""
        with self.engine.begin() as conn:
            current = conn.execute(select(runs.c.detail).where(runs.c.id == run_id)).scalar()
            merged = {**json.loads(current or "{}"), **detail}
            conn.execute(update(runs).where(runs.c.id == run_id).values(detail=json.dumps(merged)))

    def runs_after(self, run_id: int, kind: str | None = None) -> list[dict]:
        """Runs recorded after run ``run_id`` (higher ids), oldest first, optionally of one ``kind``."""
        query = select(runs).where(runs.c.id > run_id).order_by(runs.c.id)
        if kind:
            query = query.where(runs.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    # -- reading API (cli) --
    # Read-only queries (plus one bulk insert) for archive/tools/reader.py and ``python -m archive``.

    def find_article(self, url: str) -> dict | None:
        """The article ``url`` names: its canonical URL, a URL a version was fetched from, or its fetch URL."""
        queries = (
            select(articles).where(articles.c.url == url),
            select(articles).join(versions, versions.c.article_id == articles.c.id)
            .where(versions.c.url == url).order_by(versions.c.seq.desc()).limit(1),
            select(articles).where(articles.c.fetch_url == url).order_by(articles.c.id).limit(1),
        )
        with self.engine.connect() as conn:
            for query in queries:
                row = conn.execute(query).mappings().first()
                if row:
                    return dict(row)
        return None

    def version_by_file(self, file: str) -> dict | None:
        """The version row whose text file is ``file`` (``text/NNN_hash.txt``)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(versions).where(versions.c.file == file)).mappings().first()
        return dict(row) if row else None

    def iter_article_summaries(self, outlet: str | None = None, changed: bool = False, archived: bool = True,
                               since: str | None = None, until: str | None = None) -> Iterator[dict]:
        """Articles (streamed, by id) with ``latest_title``, ``latest_file``, ``latest_fetched_at``.

        ``latest_version`` is the article's number of versions. ``changed``: only articles
        with more than one version; ``archived``: only articles with at least one;
        ``since``/``until`` filter on ``first_seen`` (``until`` exclusive).
        """
        latest = versions.alias("latest")
        query = (select(articles, latest.c.title.label("latest_title"), latest.c.file.label("latest_file"),
                        latest.c.fetched_at.label("latest_fetched_at"))
                 .select_from(articles.outerjoin(latest, latest.c.seq == articles.c.latest_seq))
                 .order_by(articles.c.id))
        if outlet:
            query = query.where(articles.c.outlet == outlet)
        if changed:
            query = query.where(articles.c.latest_version > 1)
        elif archived:
            query = query.where(articles.c.latest_version > 0)
        yield from self._stream(_in_period(query, articles.c.first_seen, since, until))

    def iter_versions(self, outlet: str | None = None, since: str | None = None, until: str | None = None,
                      latest_only: bool = False, text_files_only: bool = False) -> Iterator[dict]:
        """Every version row in sequence order (streamed), with ``previous_file`` and
        ``article_url``; ``latest_only``: only each article's latest version;
        ``text_files_only``: not the metadata versions (one row per text file)."""
        previous = versions.alias("previous")
        query = (select(versions, previous.c.file.label("previous_file"), articles.c.url.label("article_url"))
                 .select_from(versions.join(articles, articles.c.id == versions.c.article_id)
                              .outerjoin(previous, previous.c.seq == versions.c.previous_seq))
                 .order_by(versions.c.seq))
        if latest_only:
            query = query.where(versions.c.seq == articles.c.latest_seq)
        if text_files_only:
            query = query.where(or_(versions.c.change.is_(None), versions.c.change != "metadata"))
        if outlet:
            query = query.where(versions.c.outlet == outlet)
        yield from self._stream(_in_period(query, versions.c.fetched_at, since, until))

    def _version_work_query(self, columns, max_seq: int | None, latest_only: bool, outlet: str | None):
        query = select(*columns).select_from(versions.join(articles, articles.c.id == versions.c.article_id))
        if max_seq is not None:
            query = query.where(versions.c.seq <= max_seq)
        if latest_only:
            query = query.where(versions.c.seq == articles.c.latest_seq)
        if outlet:
            query = query.where(versions.c.outlet == outlet)
        return query

    def version_page(self, after_seq: int, limit: int, *, max_seq: int | None = None, latest_only: bool = False,
                     outlet: str | None = None) -> list[dict]:
        """Up to ``limit`` version rows with ``seq > after_seq`` in seq order, each with its
        article's ``article_url``, ``article_next_check`` and ``article_recheck_step``.

        Paging by seq keeps no read transaction open, so callers may write between pages.
        """
        columns = (versions, articles.c.url.label("article_url"), articles.c.next_check.label("article_next_check"),
                   articles.c.recheck_step.label("article_recheck_step"))
        query = (self._version_work_query(columns, max_seq, latest_only, outlet)
                 .where(versions.c.seq > after_seq).order_by(versions.c.seq).limit(limit))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def count_version_rows(self, *, max_seq: int | None = None, latest_only: bool = False,
                           outlet: str | None = None) -> int:
        """How many rows :meth:`version_page` would page through."""
        query = self._version_work_query([func.count()], max_seq, latest_only, outlet)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def listing(self, url: str) -> dict | None:
        """The ``listings`` row of feed or sitemap ``url``, or None if it was never read."""
        with self.engine.connect() as conn:
            row = conn.execute(select(listings).where(listings.c.url == url)).mappings().first()
        return dict(row) if row else None

    @retry_on_conflict
    def record_listing(self, url: str, outlet: str, kind: str, fields: dict[str, Any]) -> None:
        """Note that listing ``url`` was read and its links recorded (``fields``: validators,
        ``last_read``, and the capture columns when this copy was captured in full)."""
        values = _checked(fields, _LISTING_COLUMNS, "listings")
        with self.engine.begin() as conn:
            if not conn.execute(update(listings).where(listings.c.url == url).values(**values)).rowcount:
                conn.execute(insert(listings).values(url=url, outlet=outlet, kind=kind, **values))

    def max_seq(self) -> int | None:
        """The highest version sequence number, or None for an empty catalog."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(versions.c.seq))).scalar()

    def versions_mark(self) -> dict:
        """``{"versions": row count, "max_seq": highest seq}``: version rows are only ever
        added, so an unchanged mark means unchanged version rows."""
        with self.engine.connect() as conn:
            count, top = conn.execute(select(func.count(), func.max(versions.c.seq))).one()
        return {"versions": count, "max_seq": top}

    # -- adaptive discovery ----------------------------------------------------------

    def polling(self, outlet: str) -> dict | None:
        """The outlet's ``outlet_polling`` row (None before its listings were first read)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(outlet_polling).where(outlet_polling.c.outlet == outlet)).mappings().first()
        return dict(row) if row else None

    def discovery_due(self, outlets: list[str], now: str) -> list[str]:
        """Which of ``outlets`` are due for a read of their listings at ``now`` (never read: due)."""
        with self.engine.connect() as conn:
            later = set(conn.execute(select(outlet_polling.c.outlet).where(
                outlet_polling.c.outlet.in_(outlets), outlet_polling.c.next_poll > now)).scalars())
        return [name for name in outlets if name not in later]

    @retry_on_conflict
    def record_poll(self, outlet: str, new_articles: int, now: str, policy) -> dict:
        """Note a read of the outlet's listings at ``now`` that found ``new_articles``;
        ``policy`` (a DiscoveryPolicy) sets the next one. Returns the new polling row."""
        with self.engine.begin() as conn:
            row = conn.execute(select(outlet_polling).where(outlet_polling.c.outlet == outlet)).mappings().first()
            state = policy.after_poll(dict(row) if row else None, new_articles, now)
            if row:
                conn.execute(update(outlet_polling).where(outlet_polling.c.outlet == outlet).values(**state))
            else:
                conn.execute(insert(outlet_polling).values(outlet=outlet, **state))
        return {"outlet": outlet, **state}

    def capture_delays(self, after_seq: int | None) -> dict[str, dict[str, list[int]]]:
        """Per outlet, the ``published_delay`` and ``modified_delay`` values of the versions
        with ``seq > after_seq`` (a run's versions)."""
        query = select(versions.c.outlet, versions.c.published_delay, versions.c.modified_delay)
        if after_seq is not None:
            query = query.where(versions.c.seq > after_seq)
        delays: dict[str, dict[str, list[int]]] = {}
        for row in self._stream(query):
            entry = delays.setdefault(row["outlet"], {"published_delay": [], "modified_delay": []})
            for name in ("published_delay", "modified_delay"):
                if row[name] is not None:
                    entry[name].append(row[name])
        return delays

    def note(self, name: str) -> Any:
        """The value last saved under ``name`` by :meth:`save_note`, or None."""
        with self.engine.connect() as conn:
            value = conn.execute(select(notes.c.value).where(notes.c.name == name)).scalar()
        return None if value is None else json.loads(value)

    @retry_on_conflict
    def save_note(self, name: str, value: Any) -> None:
        """Save a JSON-serialisable ``value`` under ``name`` (replacing any earlier one)."""
        with self.engine.begin() as conn:
            if not conn.execute(update(notes).where(notes.c.name == name).values(value=json.dumps(value))).rowcount:
                conn.execute(insert(notes).values(name=name, value=json.dumps(value)))

    def iter_article_inconsistencies(self) -> Iterator[dict]:
        """Articles whose ``latest_version``/``latest_seq``/``latest_sha256`` disagree with their versions."""
        from sqlalchemy import and_, or_

        counts = (select(versions.c.article_id, func.count().label("n_versions"))
                  .group_by(versions.c.article_id).subquery())
        latest = versions.alias("latest")
        query = (select(articles.c.id, articles.c.url, articles.c.latest_version, articles.c.latest_seq,
                        articles.c.latest_sha256, func.coalesce(counts.c.n_versions, 0).label("n_versions"),
                        latest.c.seq.label("row_seq"), latest.c.article_id.label("row_article_id"),
                        latest.c.version.label("row_version"), latest.c.sha256.label("row_sha256"))
                 .select_from(articles.outerjoin(counts, counts.c.article_id == articles.c.id)
                              .outerjoin(latest, latest.c.seq == articles.c.latest_seq))
                 .where(or_(func.coalesce(counts.c.n_versions, 0) != articles.c.latest_version,
                            and_(articles.c.latest_version > 0, articles.c.latest_seq.is_(None)),
                            and_(articles.c.latest_seq.is_not(None),
                                 or_(latest.c.seq.is_(None), latest.c.article_id != articles.c.id,
                                     latest.c.version != articles.c.latest_version,
                                     func.coalesce(articles.c.latest_sha256, "") != latest.c.sha256))))
                 .order_by(articles.c.id))
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                yield dict(row)

    # -- report (archive/tools/report.py) --
    # Streamed reads for the HTML report; it keeps per-outlet aggregates only.

    def iter_article_facts(self, outlet: str | None = None) -> Iterator[dict]:
        """Archived articles (streamed, by id): ``id``, ``outlet``, ``url``, ``state``,
        ``first_seen``, ``last_checked``, ``next_check``, ``latest_version``, and of the
        article's version 1 ``first_published`` and ``first_fetched_at``; ``captured``: its
        versions that are captures (not re-extractions)."""
        first = versions.alias("first")
        captured = (select(func.count()).where(versions.c.article_id == articles.c.id,
                                               versions.c.reason != "reextract")
                    .correlate(articles).scalar_subquery())
        query = (select(articles.c.id, articles.c.outlet, articles.c.url, articles.c.state, articles.c.first_seen,
                        articles.c.last_checked, articles.c.next_check, articles.c.latest_version,
                        first.c.published.label("first_published"), first.c.fetched_at.label("first_fetched_at"),
                        captured.label("captured"))
                 .select_from(articles.outerjoin(first, and_(first.c.article_id == articles.c.id,
                                                             first.c.version == 1)))
                 .where(articles.c.latest_version > 0).order_by(articles.c.id))
        if outlet:
            query = query.where(articles.c.outlet == outlet)
        yield from self._stream(query)

    def iter_edits(self, outlet: str | None = None) -> Iterator[dict]:
        """Versions after an article's first that are not re-extractions (streamed, by seq):
        every version column but ``links``, plus ``first_published`` and ``first_fetched_at``
        of the article's version 1."""
        first = versions.alias("first")
        query = (select(*[c for c in versions.columns if c.name != "links"],
                        first.c.published.label("first_published"), first.c.fetched_at.label("first_fetched_at"))
                 .select_from(versions.outerjoin(first, and_(first.c.article_id == versions.c.article_id,
                                                             first.c.version == 1)))
                 .where(versions.c.version > 1, versions.c.reason != "reextract").order_by(versions.c.seq))
        if outlet:
            query = query.where(versions.c.outlet == outlet)
        yield from self._stream(query)

    def iter_run_outlet_stats(self, kind: str | None = "crawl", outlet: str | None = None) -> Iterator[dict]:
        """Per-outlet stats of each run (streamed, oldest run first): the ``outlet_stats`` row
        with the run's ``started_at``, ``ended_at``, ``kind`` and ``status``."""
        query = (select(outlet_stats, runs.c.started_at, runs.c.ended_at, runs.c.kind, runs.c.status)
                 .select_from(outlet_stats.join(runs, runs.c.id == outlet_stats.c.run_id))
                 .order_by(runs.c.id, outlet_stats.c.outlet))
        if kind:
            query = query.where(runs.c.kind == kind)
        if outlet:
            query = query.where(outlet_stats.c.outlet == outlet)
        yield from self._stream(query)

    def outlet_names(self) -> list[str]:
        """Outlets that have articles in the catalog."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(articles.c.outlet).distinct().order_by(articles.c.outlet)).scalars())

    def copy_articles(self, rows: list[dict]) -> None:
        """Insert article rows taken from another catalog (ids kept, no version yet)."""
        keep = {c.name for c in articles.columns} - {"latest_version", "latest_seq", "latest_sha256",
                                                     "claimed_by", "claimed_until"}
        with self.engine.begin() as conn:
            conn.execute(insert(articles), [{**{k: v for k, v in row.items() if k in keep},
                                             "latest_version": 0, "latest_seq": None, "latest_sha256": None}
                                            for row in rows])
