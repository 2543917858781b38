"""``export``: versions, articles, events or the link graph as CSV or JSON Lines, streamed."""
from __future__ import annotations

import csv
import json
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
WHAT = ("versions", "articles", "events", "links")
FORMATS = ("csv", "jsonl")


def iter_rows(catalog: Catalog, what: str, outlet: str | None = None, since: str | None = None,
              until: str | None = None, latest_only: bool = False, problems: list | None = None
              ) -> tuple[list[str], Iterator[dict]]:
    """(columns, rows) of one export; rows are streamed from the catalog.

    ``since``/``until`` filter versions and links on ``fetched_at``, articles on
    ``first_seen``, events on ``at`` (``until`` exclusive). ``latest_only``: each article's
    latest version only.
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
    raise ValueError(f"unknown export {what!r}")


def event_detail(kind: str, detail: str | None) -> str:
    """An event's detail in one word or URL: ``gone``: the HTTP status, or
    ``redirect-to-index``; ``moved``: the new URL; ``restored``: the HTTP status;
    ``reextracted``: ``seq A -> B``."""
    try:
        values = json.loads(detail or "{}")
    except ValueError:
        return detail or ""
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
