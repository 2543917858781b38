"""newsarchive's on-disk archive: WARC files, versioned text files, catalog, manifest.

This package does not import Scrapy; researchers use it to read an archive::

    from archive import ArchiveReader
    with ArchiveReader("data/archive") as reader:
        for article in reader.articles(outlet="moscowtimes", changed=True):
            versions = reader.versions(article["id"])
            print(reader.diff(versions[-2]["seq"], versions[-1]["seq"]))

The subpackages follow a page's path through the archive: ``warc/`` (response -> WARC
records), ``text/`` (the page's text and metadata, the extraction workers), ``store/``
(versioned text files + catalog, manifest, lock) and ``tools/`` (reading API, verify,
re-extract, export; ``python -m archive`` is the command line over them).

Names are imported on first use, so ``python -m archive`` and catalog access do not
pay for loading the extractor.
"""
from importlib import import_module

_EXPORTS = {
    "ArchiveReader": "tools.reader",
    "Catalog": "store.catalog", "MANIFEST_COLUMNS": "store.catalog", "catalog_url_for": "store.catalog",
    "Article": "text.extract", "article_body": "text.extract", "decode_html": "text.extract",
    "extract_article": "text.extract",
    "parse_text_file_name": "store.textfile", "sha256_hex": "store.textfile", "text_file_name": "store.textfile",
    "HttpExchange": "warc.writer", "RecordLocation": "warc.writer", "WarcWriter": "warc.writer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'archive' has no attribute {name!r}")
