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
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in catalog.iter_versions():
            writer.writerow(row)
    os.replace(tmp, path)
    return path
