"""Text files of article versions: ``text/NNN_<hash>.txt``, written once, atomically.

Write order, so that a crash at any point leaves catalog and files consistent:
1. the bytes go to ``text/.tmp/<sha256>.<host>-<pid>.<serial>.tmp``;
2. one catalog transaction allocates the sequence number and inserts the version row
   (or the rows of a batch of versions);
3. the temporary file is renamed to its final name.
:func:`recover_pending` (run before each crawl) finishes step 3 for rows whose file is
missing and deletes temporary files no row refers to.
"""
from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy.exc import DBAPIError

from .catalog import Catalog
from .changes import capture_delays, metadata_changes, text_change
from .conflicts import is_conflict
from .lock import owner_of_temporary, worker_id
from .textfile import body_of, sha256_hex, text_file_name

logger = logging.getLogger(__name__)

_TMP_SERIAL = itertools.count()  # temporary files of one process never share a name
TEXT_DIR = "text"
TMP_DIR = ".tmp"
SEQ_RETRIES = 5


@dataclass(frozen=True)
class NewVersion:
    """A page's text to archive as the next version of the article with canonical ``url``.

    ``fields``: the version row's fields; ``check`` (validators, capture) updates the article
    row whether or not the text is new; ``policy`` (a RecheckPolicy) sets its next check.
    """

    outlet: str
    url: str
    data: bytes
    fields: dict[str, Any]
    check: dict[str, Any]
    policy: Any


class TextStore:
    """Writes version files and their catalog rows together."""

    def __init__(self, archive_dir: str | os.PathLike, catalog: Catalog, fsync: bool = False):
        self.archive_dir = Path(archive_dir)
        self.text_dir = self.archive_dir / TEXT_DIR
        self.tmp_dir = self.text_dir / TMP_DIR
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = catalog
        self.fsync = fsync

    def add_version(self, outlet: str, url: str, data: bytes, fields: dict[str, Any],
                    check: dict[str, Any], policy) -> dict | None:
        """Archive ``data`` as the next version of the article ``url`` (see :class:`NewVersion`).

        Returns the new version row (``change`` says what changed; a ``metadata`` version
        names the unchanged text's file and writes none); ``{"alias_of": URL}`` when ``url``,
        never archived, holds the same body as the latest text of another article of the
        outlet (it becomes an alias of that story); or None when nothing changed.
        """
        return self.add_versions([NewVersion(outlet, url, data, fields, check, policy)])[0]

    def add_versions(self, versions: list[NewVersion]) -> list[dict | None]:
        """Archive several versions in one catalog transaction, in order; one result each,
        as :meth:`add_version` returns it. All are written or none (an error is raised)."""
        hashes = [_hashes(version.data) for version in versions]  # (text, body) of each
        for attempt in range(SEQ_RETRIES):
            tmp_paths: list[tuple[Path, dict]] = []
            try:
                with self.catalog.engine.begin() as conn:
                    batch = self.catalog.version_batch(conn, [(version.outlet, version.url) for version in versions],
                                                       _by_article(versions, hashes))
                    rows = [self._add_in(batch, version, hashed, tmp_paths)
                            for version, hashed in zip(versions, hashes)]
                    batch.write()
            except DBAPIError as exc:
                # Another writer took the same sequence number (SQLite) or archived the same
                # version of an article first, or PostgreSQL broke a deadlock: try again
                _discard(path for path, _ in tmp_paths)
                if attempt == SEQ_RETRIES - 1 or not is_conflict(exc):
                    raise
                continue
            except BaseException:
                _discard(path for path, _ in tmp_paths)
                raise
            for tmp_path, row in tmp_paths:
                os.replace(tmp_path, self.archive_dir / row["file"])
            return rows
        return [None] * len(versions)

    def _add_in(self, batch, version: NewVersion, hashes: tuple[str, str],
                tmp_paths: list[tuple[Path, dict]]) -> dict | None:
        """One version in the catalog ``batch`` (``hashes``: of its text and of its body);
        its text goes to a temporary file (added to ``tmp_paths`` with its row), renamed to
        the row's file once the batch's transaction commits."""
        url, data = version.url, version.data
        sha, body_sha = hashes
        state, latest = batch.state(url), batch.latest(url)
        fields = {**version.fields, "outlet": version.outlet, "sha256": sha, "body_sha256": body_sha}
        if latest is None:
            twin = batch.same_story(version.outlet, url, hashes, len(body_of(data).split()))
            if twin is not None:
                batch.set_article_fields(url, {**version.check, "state": "alias", "alias_of": twin})
                return {"alias_of": twin}
        elif state["latest_sha256"] == sha:
            checked = self.catalog.check_fields(state, False, version.policy, version.check)
            if not metadata_changes(latest, version.fields):
                batch.set_article_fields(url, checked)
                return None
            fields.update(change="metadata", **capture_delays(version.fields, latest, state.get("announced")))
            return batch.add_version(url, lambda seq: latest["file"], fields, article_fields=checked)
        else:
            fields["change"] = text_change(latest, version.fields.get("title"), body_sha, self._body_sha(latest))
        fields.update(capture_delays(version.fields, latest, state.get("announced")))
        checked = self.catalog.check_fields(state, True, version.policy, version.check)
        tmp_path = self.tmp_dir / f"{sha}.{worker_id()}.{next(_TMP_SERIAL)}.tmp"
        self._write_tmp(tmp_path, data)
        try:
            row = batch.add_version(url, lambda seq: f"{TEXT_DIR}/{text_file_name(seq, data)}", fields,
                                    article_fields=checked)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        tmp_paths.append((tmp_path, row))  # its file is named when the batch is written
        return row

    def _body_sha(self, latest: dict[str, Any]) -> str | None:
        """The body hash of an article's latest text (read from its file when the catalog,
        written by an earlier release, lacks it)."""
        if latest.get("body_sha256") or not latest.get("file"):
            return latest.get("body_sha256")
        try:
            return sha256_hex(body_of((self.archive_dir / latest["file"]).read_bytes()))
        except OSError:
            return None

    def _write_tmp(self, path: Path, data: bytes) -> None:
        try:
            with open(path, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError:
            path.unlink(missing_ok=True)  # a full disk leaves no partial file behind
            raise


def _by_article(versions: list[NewVersion], hashes: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """The text and body hashes of ``versions``, per article URL."""
    found: dict[str, tuple[str, ...]] = {}
    for version, pair in zip(versions, hashes):
        found[version.url] = found.get(version.url, ()) + pair
    return found


def _hashes(data: bytes) -> tuple[str, str]:
    """SHA-256 of a text file's bytes and of its body."""
    return sha256_hex(data), sha256_hex(body_of(data))


def _discard(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def recover_pending(archive_dir: str | os.PathLike, catalog: Catalog,
                    live_workers: frozenset[str] = frozenset()) -> dict[str, int]:
    """Finish renames a crash interrupted and drop uncommitted temporary files, but those
    of ``live_workers`` (crawl processes still writing into a shared archive directory)."""
    tmp_dir = Path(archive_dir) / TEXT_DIR / TMP_DIR
    report = {"completed": 0, "discarded": 0}
    if not tmp_dir.is_dir():
        return report
    for tmp in sorted(tmp_dir.glob("*.tmp")):
        sha, owner = tmp.name.split(".", 1)[0], owner_of_temporary(tmp.name)
        if owner in live_workers:
            continue
        target = _committed_file_for(catalog, sha, Path(archive_dir))
        if target is not None and not target.exists():
            os.replace(tmp, target)
            report["completed"] += 1
            logger.warning("recovered %s from an interrupted write", target.name)
        else:
            tmp.unlink()
            report["discarded"] += 1
    return report


def _committed_file_for(catalog: Catalog, sha: str, archive_dir: Path) -> Path | None:
    for name in catalog.files_with_sha256(sha):
        if not (archive_dir / name).exists():
            return archive_dir / name
    return None
