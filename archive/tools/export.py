"""``export``: versions, articles, events, the link graph or the syndication groups as CSV,
JSON Lines or Parquet, streamed (Parquet in row groups of :data:`PARQUET_BATCH` rows)."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator, TextIO

from ..store.catalog import MANIFEST_COLUMNS, Catalog

VERSION_COLUMNS = [*MANIFEST_COLUMNS, "article_id", "published_source", "modified_source", "description",
                   "body_sha256", "published_delay", "modified_delay"]
ARTICLE_COLUMNS = [
    "id", "outlet", "url", "state", "alias_of", "versions", "first_seen", "last_checked", "last_status",
    "latest_seq", "latest_file", "latest_title", "latest_fetched_at", "latest_sha256", "discovered_via",
    "discovered_from", "fetch_url", "next_check", "announced",
]
LINK_COLUMNS = ["source_url", "target_url", "outlet", "seq", "version", "fetched_at"]
EVENT_COLUMNS = ["at", "outlet", "url", "event", "detail", "version"]
WHAT = ("versions", "articles", "events", "links", "groups")
FORMATS = ("csv", "jsonl", "parquet")
# the column naming each row's text file, for --with-text
TEXT_FILE_COLUMN = {"versions": "file", "articles": "latest_file", "groups": "file"}
PARQUET_BATCH = 10_000
# Parquet column types; any other column is a string
INT_COLUMNS = {"seq", "version", "warc_offset", "http_status", "article_id", "id", "versions", "last_status",
               "latest_seq", "group_id", "group_size", "group_outlets", "member", "words", "words_added",
               "words_removed", "published_delay", "modified_delay"}
FLOAT_COLUMNS = {"similarity", "estimated_similarity"}
BOOL_COLUMNS = {"headline_differs"}


def iter_rows(catalog: Catalog, what: str, outlet: str | None = None, since: str | None = None,
              until: str | None = None, latest_only: bool = False, problems: list | None = None,
              archive_dir: str | Path | None = None) -> tuple[list[str], Iterator[dict]]:
    """(columns, rows) of one export; rows are streamed from the catalog.

    ``since``/``until`` filter versions and links on ``fetched_at``, articles on
    ``first_seen``, events on ``at`` (``until`` exclusive), groups on their members'
    ``fetched_at``. ``latest_only``: each article's latest version only. ``groups`` reads the
    members' text files in ``archive_dir`` (see :func:`archive.store.syndication.iter_group_members`).
    """
    if what == "versions":
        return VERSION_COLUMNS, catalog.iter_versions(outlet, since, until, latest_only)
    if what == "articles":
        rows = catalog.iter_article_summaries(outlet=outlet, archived=False, since=since, until=until)
        return ARTICLE_COLUMNS, ({**row, "versions": row["latest_version"]} for row in rows)
    if what == "events":
        return EVENT_COLUMNS, ({**row, "event": row["kind"], "detail": event_detail(row["kind"], row["detail"])}
                               for row in catalog.iter_event_rows(outlet, since, until))
    if what == "links":
        return LINK_COLUMNS, _links(catalog.iter_versions(outlet, since, until, latest_only), problems)
    if what == "groups":
        from ..store.syndication import MEMBER_COLUMNS, iter_group_members  # loads numpy and datasketch

        if archive_dir is None:
            raise ValueError("the groups export reads text files: give archive_dir")
        return MEMBER_COLUMNS, iter_group_members(catalog, archive_dir, outlet, since, until, problems)
    raise ValueError(f"unknown export {what!r}")


def event_detail(kind: str, detail: str | None) -> str:
    """An event's detail in one word or URL: ``gone``: the HTTP status, or
    ``redirect-to-index``; ``moved``: the new URL; ``restored``: the HTTP status;
    ``reextracted``: ``seq A -> B``."""
    try:
        values = json.loads(detail or "{}")
    except ValueError:
        return detail or ""
    if not isinstance(values, dict):   # not a detail this code wrote: shown as it is
        return detail
    if kind == "moved":
        return values.get("url", "")
    if kind == "reextracted":
        return f"seq {values.get('from_seq')} -> {values.get('seq')}"
    return str(values.get("reason") or values.get("status") or "")


def _links(rows: Iterator[dict], problems: list | None) -> Iterator[dict]:
    for row in rows:
        try:
            targets = json.loads(row.get("links") or "[]")
        except ValueError:
            if problems is not None:
                problems.append(f"seq {row['seq']}: links column is not JSON")
            continue
        source = row.get("article_url") or row.get("canonical_url") or row["url"]
        for target in targets if isinstance(targets, list) else []:
            if isinstance(target, dict):
                target = target.get("url") or target.get("href")
            if target:
                yield {"source_url": source, "target_url": str(target), "outlet": row["outlet"],
                       "seq": row["seq"], "version": row["version"], "fetched_at": row["fetched_at"]}


def with_text(what: str, columns: list[str], rows: Iterator[dict], archive_dir: str | Path,
              problems: list | None = None) -> tuple[list[str], Iterator[dict]]:
    """``columns`` and ``rows`` plus a ``text`` column: each row's text file, read as it is
    streamed (None, and a problem noted, when a file cannot be read)."""
    if what not in TEXT_FILE_COLUMN:
        raise ValueError(f"--with-text goes with {', '.join(TEXT_FILE_COLUMN)}, not {what}")
    column, base = TEXT_FILE_COLUMN[what], Path(archive_dir)

    def read(row: dict) -> str | None:
        if not row.get(column):
            return None
        try:
            return (base / row[column]).read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            if problems is not None:
                problems.append(f"cannot read {row[column]}: {exc.strerror or exc}")
            return None

    return [*columns, "text"], ({**row, "text": read(row)} for row in rows)


def parquet_schema(columns: list[str]):
    """The Parquet schema of an export's columns (see INT_COLUMNS, FLOAT_COLUMNS, BOOL_COLUMNS)."""
    import pyarrow as pa

    def kind(name: str):
        if name in INT_COLUMNS:
            return pa.int64()
        if name in FLOAT_COLUMNS:
            return pa.float64()
        if name in BOOL_COLUMNS:
            return pa.bool_()
        return pa.string()

    return pa.schema([(name, kind(name)) for name in columns])


def write_parquet(path: str | Path, columns: list[str], rows: Iterator[dict], batch: int = PARQUET_BATCH) -> int:
    """Write ``rows`` (only ``columns``) to a Parquet file, one row group per ``batch`` rows
    (never the whole table in memory); return the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(columns)
    count = 0
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        chunk: list[dict] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                writer.write_batch(_record_batch(pa, schema, chunk))
                count, chunk = count + len(chunk), []
        if chunk or not count:
            writer.write_batch(_record_batch(pa, schema, chunk))
            count += len(chunk)
    return count


def _record_batch(pa, schema, rows: list[dict]):
    arrays = []
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if pa.types.is_string(field.type):
            values = [None if v is None else v if isinstance(v, str)
                      else json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def write_rows(handle: TextIO, fmt: str, columns: list[str], rows: Iterator[dict]) -> int:
    """Write ``rows`` (only ``columns``) as CSV with a header, or JSON Lines; return the row count."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            handle.write(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n")
            count += 1
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count
