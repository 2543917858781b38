"""``manifest.csv``: one row per text file, regenerated from the catalog after each crawl."""
from __future__ import annotations

import csv
import os
from pathlib import Path

from .catalog import MANIFEST_COLUMNS, Catalog

MANIFEST_NAME = "manifest.csv"


def write_manifest(archive_dir: str | os.PathLike, catalog: Catalog) -> Path:
    """Rewrite ``<archive_dir>/manifest.csv`` atomically from the catalog; return its path."""
    path = Path(archive_dir) / MANIFEST_NAME
    tmp = path.with_name(f".{MANIFEST_NAME}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in catalog.iter_versions():
                writer.writerow(row)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the previous manifest.csv stays as it was
        raise
    return path


def remove_stale_manifests(archive_dir: str | os.PathLike) -> int:
    """Delete the temporary manifests of runs that were killed while writing one."""
    stale = list(Path(archive_dir).glob(f".{MANIFEST_NAME}.*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return len(stale)
