"""newsarchive's on-disk archive: WARC files, versioned text files, catalog, manifest.

This package does not import Scrapy; researchers use it to read an archive::

    from archive import ArchiveReader
    with ArchiveReader("data/archive") as reader:
        for article in reader.articles(outlet="moscowtimes", changed=True):
            versions = reader.versions(article["id"])
            print(reader.diff(versions[-2]["seq"], versions[-1]["seq"]))

Names are imported on first use, so ``python -m archive`` and catalog access do not
pay for loading the extractor.
"""
from importlib import import_module

_EXPORTS = {
    "ArchiveReader": "reader", "Catalog": "catalog", "MANIFEST_COLUMNS": "catalog", "catalog_url_for": "catalog",
    "Article": "extract", "article_body": "extract", "decode_html": "extract", "extract_article": "extract",
    "parse_text_file_name": "naming", "sha256_hex": "naming", "text_file_name": "naming",
    "HttpExchange": "warc", "RecordLocation": "warc", "WarcWriter": "warc",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'archive' has no attribute {name!r}")
