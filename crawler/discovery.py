"""Finding article links in feeds and sitemaps (pure functions of the fetched bytes)."""
from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

import feedparser
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from archive.store.timefmt import format_utc
from archive.store.urls import canonicalize_url


@dataclass(frozen=True)
class Listed:
    """A link found in a listing, with the update time the listing announced for it."""

    url: str
    announced: str | None = None  # UTC ISO 8601


class ListingError(ValueError):
    """A feed or sitemap that yielded nothing usable."""


def _iso_from_struct(value) -> str | None:
    if not value:
        return None
    return format_utc(datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc))


def iso_utc(text: str | None) -> str | None:
    """A W3C/ISO date or datetime as UTC ISO 8601 (``...Z``); None if unparseable."""
    if not text:
        return None
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return format_utc(moment)


def is_json_feed(body: bytes, content_type: str) -> bool:
    """True for a JSON Feed (by media type or by its first character)."""
    return "json" in content_type.lower() or body.lstrip()[:1] == b"{"


ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.I)


def parse_feed(body: bytes, url: str, content_type: str = "") -> tuple[list[Listed], str | None]:
    """(links, problem) of a RSS/Atom/RDF or JSON feed, links absolutised and canonicalised.

    Malformed XML is parsed as far as it goes: the entries before the breakage are kept
    and ``problem`` says what was wrong (None for a well-formed feed). A feed that yields
    no entry at all (empty, not a feed, or broken before its first item) raises
    ListingError. Entries without a link are skipped.
    """
    if is_json_feed(body, content_type):
        return _parse_json_feed(body, url), None
    if not body.strip():
        raise ListingError("empty feed: the response has no content")
    parsed = feedparser.parse(body, response_headers={"content-location": url,
                                                      "content-type": content_type or "application/xml"})
    problems = [f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"] if parsed.bozo else []
    if ENTITY_DECLARATION.search(body, 0, 65536):
        # feedparser drops the DOCTYPE: an entity bomb or an external entity does no harm
        problems.append("it declares XML entities, which were neither expanded nor resolved")
    problem = "; ".join(problems) or None
    if not parsed.entries:
        raise ListingError(f"not a feed ({problem})" if problem and not parsed.version
                           else f"empty feed: no items{f' ({problem})' if problem else ''}")
    found = []
    for entry in parsed.entries:
        link = entry.get("link") or next((l.get("href") for l in entry.get("links", []) if l.get("href")), None)
        canonical = canonicalize_url(link, base=url) if link and link.strip() else None
        if canonical:
            # dict.get: FeedParserDict.get would map a missing "updated" onto "published" with a warning
            announced = _iso_from_struct(dict.get(entry, "updated_parsed") or dict.get(entry, "published_parsed"))
            found.append(Listed(canonical, announced))
    return found, problem


def _parse_json_feed(body: bytes, url: str) -> list[Listed]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ListingError(f"not a JSON feed: {exc}") from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ListingError("JSON feed has no 'items' list")
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        canonical = canonicalize_url(str(item.get("url") or item.get("external_url") or ""), base=url)
        if canonical:
            found.append(Listed(canonical, iso_utc(item.get("date_modified") or item.get("date_published"))))
    return found


GZIP_MAGIC = b"\x1f\x8b"
SITEMAP_MAX_SIZE = 50 * 1024 * 1024  # the sitemap protocol's own limit


def parse_sitemap(body: bytes, url: str) -> tuple[list[str], list[Listed]]:
    """(child sitemaps, article links) of a sitemap index or urlset (news sitemaps too).

    A gzipped sitemap file (``.xml.gz``) is decompressed, up to 50 MB.
    """
    if body[:2] == GZIP_MAGIC:
        try:
            body = gunzip(body, max_size=SITEMAP_MAX_SIZE)
        except (OSError, EOFError, ValueError) as exc:  # too large once decompressed: a ValueError
            raise ListingError(f"gzipped sitemap cannot be decompressed: {exc}") from None
    try:
        sitemap = Sitemap(body)
    except Exception as exc:  # lxml raises several kinds on garbage
        raise ListingError(f"not a sitemap: {exc}") from None
    children, links = [], []
    for entry in sitemap:
        canonical = canonicalize_url(entry.get("loc", ""), base=url)
        if not canonical:
            continue
        if sitemap.type == "sitemapindex":
            children.append(canonical)
        else:
            links.append(Listed(canonical, iso_utc(entry.get("lastmod"))))
    if sitemap.type not in ("sitemapindex", "urlset"):
        raise ListingError(f"not a sitemap (root element {sitemap.type!r})")
    return children, links


def iter_page_links(hrefs: Iterator[str], base: str) -> Iterator[str]:
    """Canonical http(s) URLs of ``hrefs`` (relative ones resolved against ``base``)."""
    for href in hrefs:
        canonical = canonicalize_url(href, base=base)
        if canonical:
            yield canonical


# Pagination of section pages. rel="next" is the standard; many sites only write a "Next"
# or "Older posts" link, a ``next`` class, or just number their pages.
_NEXT_TEXT = re.compile(
    r"^\W*(next|next page|older|older (posts|entries|articles|stories|news)|more (posts|articles|stories|news)"
    r"|load more|show more|weiter|suivant|siguiente|следующая|далее)\W*$|^[»›→>]+$", re.I)
_NEXT_CLASS = re.compile(r"^next$|pag.*next|next.*pag", re.I)  # "next", "pagination__next", "next-page"
_PAGE_NUMBER = re.compile(r"([?&](?:page|paged|pg|p)=|/page/)(\d+)", re.I)


@dataclass
class Anchor:
    """A link of a listing page: its href, its visible text, its ``rel`` and ``class``."""

    href: str
    text: str = ""
    rel: str = ""
    css_class: str = ""


def _page_number(url: str) -> tuple[str, int]:
    """``url`` with its page number blanked out, and that number (1 when there is none)."""
    found = _PAGE_NUMBER.search(url)
    if not found:
        return url, 1
    return url[:found.start(2)] + "#" + url[found.end(2):], int(found.group(2))


def _is_following_page(candidate: str, current: str) -> bool:
    """Whether ``candidate`` is page n+1 of the listing ``current`` (page n) by its URL alone."""
    candidate_key, candidate_number = _page_number(candidate)
    current_key, current_number = _page_number(current)
    if candidate_key == candidate or candidate_number != current_number + 1:
        return False
    if current_key != current:  # both numbered: the same URL but for the number
        return candidate_key == current_key
    # page 1 has no number: page 2 is the same path (or that path + /page/2)
    return candidate_key.split("?")[0].rstrip("/#").removesuffix("/page") == current.split("?")[0].rstrip("/")


def next_page_urls(anchors: list[Anchor], base: str) -> list[str]:
    """Canonical URLs of the next page(s) of the listing at ``base``: links with rel="next",
    a "Next" / "Older posts" text or a ``next`` class, or the URL of page n+1."""
    found: dict[str, None] = {}
    for anchor in anchors:
        url = canonicalize_url(anchor.href, base=base)
        if not url or url == base:
            continue
        if ("next" in anchor.rel.lower().split() or _NEXT_TEXT.match(anchor.text.strip())
                or any(_NEXT_CLASS.search(token) for token in anchor.css_class.split())
                or _is_following_page(url, base)):
            found[url] = None
    return list(found)
