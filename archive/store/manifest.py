"""``manifest.csv``: one row per text file, regenerated from the catalog after each crawl
that added versions (metadata versions, which have no text file of their own, are in the
catalog and in ``export --what versions``)."""
from __future__ import annotations

import csv
import os
from pathlib import Path

from .catalog import MANIFEST_COLUMNS, Catalog
from .lock import owner_of_temporary, worker_id

MANIFEST_NAME = "manifest.csv"
WRITTEN_NOTE = "manifest_written"  # the catalog's versions mark and the file's size and mtime


def write_manifest(archive_dir: str | os.PathLike, catalog: Catalog) -> Path:
    """Rewrite ``<archive_dir>/manifest.csv`` atomically from the catalog; return its path.

    Skipped when the file is the one written last time (same size and mtime) and the
    catalog has no version since: a re-check run that finds nothing new does not rewrite a
    manifest that grows with the archive (its cost grows with every row).
    """
    path = Path(archive_dir) / MANIFEST_NAME
    mark = catalog.versions_mark()
    if catalog.note(WRITTEN_NOTE) == {**mark, **_file_mark(path)}:
        return path
    tmp = path.with_name(f".{MANIFEST_NAME}.{worker_id()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in catalog.iter_versions(text_files_only=True):
                writer.writerow(row)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the previous manifest.csv stays as it was
        raise
    # the mark predates the rows read: a version added meanwhile is in the file, not in the
    # mark, so the next call writes the file again
    catalog.save_note(WRITTEN_NOTE, {**mark, **_file_mark(path)})
    return path


def _file_mark(path: Path) -> dict:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {"size": None}
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def remove_stale_manifests(archive_dir: str | os.PathLike, live_workers: frozenset[str] = frozenset()) -> int:
    """Delete the temporary manifests of runs that were killed while writing one (not
    those of ``live_workers``)."""
    stale = [tmp for tmp in Path(archive_dir).glob(f".{MANIFEST_NAME}.*.tmp")
             if owner_of_temporary(tmp.name.removeprefix(f".{MANIFEST_NAME}")) not in live_workers]
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return len(stale)
