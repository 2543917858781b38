"""newsarchive's on-disk archive: WARC files, versioned text files, catalog, manifest.

This package does not import Scrapy; researchers use it to read an archive::

    from archive import Catalog, catalog_url_for
    catalog = Catalog(catalog_url_for("data/archive"), create=False)
    for row in catalog.iter_versions(outlet="moscowtimes"):
        ...
"""
from .catalog import MANIFEST_COLUMNS, Catalog, catalog_url_for
from .extract import Article, article_body, decode_html, extract_article
from .naming import parse_text_file_name, sha256_hex, text_file_name
from .warc import HttpExchange, RecordLocation, WarcWriter

__all__ = [
    "Article", "Catalog", "HttpExchange", "MANIFEST_COLUMNS", "RecordLocation", "WarcWriter",
    "article_body", "catalog_url_for", "decode_html", "extract_article", "parse_text_file_name",
    "sha256_hex", "text_file_name",
]
