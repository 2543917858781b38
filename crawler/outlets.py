"""The outlets file (TOML): which outlets to crawl and where their articles are listed."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from urllib.parse import urlsplit

from archive.store.polling import DEFAULT_CEILING, DEFAULT_FLOOR, DiscoveryPolicy
from archive.store.urls import canonicalize_url, origin

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULT_ARTICLE_PATTERN = r"/\d{4}/\d{2}/\d{2}/"
DEFAULT_RECHECK = ["15m", "1h", "3h", "12h", "1d", "3d", "7d"]
DURATION_RE = re.compile(r"^(\d+)\s*([smhd])$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class OutletsFileError(ValueError):
    """The outlets file is unreadable or invalid; the message names outlet and field."""


@dataclass(frozen=True)
class Outlet:
    """One outlet: its name, where its articles are listed, and how to treat them."""

    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    article_pattern: re.Pattern = re.compile(DEFAULT_ARTICLE_PATTERN)
    origins: frozenset[str] = frozenset()
    section_depth: int = 3
    discovery_interval: int = 3600
    discovery_floor: int = DEFAULT_FLOOR
    discovery_ceiling: int = DEFAULT_CEILING
    recheck_intervals: tuple[int, ...] = ()
    recheck_stop_after: int = 30 * 86400
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def owns(self, url: str) -> bool:
        """True if ``url`` lies on one of the outlet's origins."""
        return origin(url) in self.origins

    def is_article(self, url: str) -> bool:
        """True if ``url`` is an article URL of this outlet."""
        return self.owns(url) and bool(self.article_pattern.search(url))

    def is_index(self, url: str, from_url: str | None = None) -> bool:
        """True if ``url``, where an article (``from_url``) led, is no article page of this
        outlet: another site, its home page, one of its listings, or a URL its article
        pattern does not match when ``from_url`` did (a section page, say)."""
        canonical = canonicalize_url(url) or url
        if not self.owns(canonical) and not self.owns(_other_scheme(canonical)):
            return True
        if urlsplit(canonical).path in ("", "/"):
            return True
        if canonical in {canonicalize_url(u) for u in (*self.feeds, *self.sitemaps, *self.sections)}:
            return True
        return bool(from_url and self.article_pattern.search(from_url)) and not self.article_pattern.search(canonical)

    def discovery_policy(self) -> DiscoveryPolicy:
        """How often this outlet's listings are read (adaptive, within floor and ceiling)."""
        return DiscoveryPolicy(floor=self.discovery_floor, ceiling=self.discovery_ceiling,
                               start=self.discovery_interval)


def _other_scheme(url: str) -> str:
    """``url`` over https if it is http, and over http if it is https (default ports):
    an outlet moving to https stays the same site."""
    parts = urlsplit(url)
    if parts.port is not None or parts.scheme not in ("http", "https"):
        return url
    return parts._replace(scheme="https" if parts.scheme == "http" else "http").geturl()


def parse_duration(value: str | int, where: str) -> int:
    """Seconds in ``"15m"``, ``"3h"``, ``"1d"`` or a plain number of seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = DURATION_RE.match(str(value).strip())
    if not match:
        raise OutletsFileError(f"{where}: {value!r} is not a duration like '15m', '3h', '1d'")
    return int(match[1]) * DURATION_UNITS[match[2]]


def format_duration(seconds: int) -> str:
    """``3600`` -> ``1h``; ``5400`` -> ``1h30m`` (what :func:`parse_duration` reads, by unit)."""
    parts = []
    for unit, size in reversed(DURATION_UNITS.items()):
        if seconds >= size or (unit == "s" and not parts):
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


def load_outlets(path: str | Path, only: str | None = None) -> list[Outlet]:
    """Read and validate the outlets file; ``only`` keeps the outlet of that name."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutletsFileError(f"outlets file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutletsFileError(f"outlets file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise OutletsFileError(f"outlets file {path} is not valid TOML: {exc}") from None
    entries = data.get("outlets")
    if not isinstance(entries, list) or not entries:
        raise OutletsFileError(f"outlets file {path} has no [[outlets]] entries")
    outlets = [_outlet(entry, index, path) for index, entry in enumerate(entries)]
    names = [o.name for o in outlets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise OutletsFileError(f"outlets file {path}: outlet name(s) used twice: {', '.join(duplicates)}")
    if only is not None:
        outlets = [o for o in outlets if o.name == only]
        if not outlets:
            raise OutletsFileError(f"outlet {only!r} is not in {path} (known: {', '.join(names)})")
    return outlets


KNOWN_FIELDS = {"name", "feeds", "sitemaps", "sections", "article_pattern", "origins", "section_depth",
                "discovery_interval", "discovery_floor", "discovery_ceiling", "recheck", "recheck_stop_after",
                "extraction"}


def _outlet(entry: object, index: int, path: Path) -> Outlet:
    if not isinstance(entry, dict):
        raise OutletsFileError(f"{path}: outlet #{index + 1} is not a table")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise OutletsFileError(f"{path}: outlet #{index + 1}: field 'name' must be a short id "
                               f"(lowercase letters, digits, '-', '_'), got {name!r}")
    where = f"{path}: outlet {name!r}"
    unknown = sorted(set(entry) - KNOWN_FIELDS)
    if unknown:
        raise OutletsFileError(f"{where}: unknown field(s) {', '.join(unknown)} "
                               f"(known: {', '.join(sorted(KNOWN_FIELDS))})")
    sources = {key: _url_list(entry, key, where) for key in ("feeds", "sitemaps", "sections")}
    if not any(sources.values()):
        raise OutletsFileError(f"{where}: needs at least one of 'feeds', 'sitemaps', 'sections'")
    pattern_text = entry.get("article_pattern", DEFAULT_ARTICLE_PATTERN)
    try:
        pattern = re.compile(pattern_text)
    except (re.error, TypeError) as exc:
        raise OutletsFileError(f"{where}: field 'article_pattern' is not a valid regular expression: {exc}") from None
    extra_origins = {origin(u) for u in _url_list(entry, "origins", where)}
    all_urls = [u for urls in sources.values() for u in urls]
    interval = parse_duration(entry.get("discovery_interval", "1h"), f"{where}: field 'discovery_interval'")
    # an outlet asked to be read every few minutes may be read that often
    floor = parse_duration(entry.get("discovery_floor", min(DEFAULT_FLOOR, interval)),
                           f"{where}: field 'discovery_floor'")
    ceiling = parse_duration(entry.get("discovery_ceiling", DEFAULT_CEILING), f"{where}: field 'discovery_ceiling'")
    if floor > ceiling:
        raise OutletsFileError(f"{where}: field 'discovery_floor' ({floor} s) is longer than "
                               f"'discovery_ceiling' ({ceiling} s)")
    recheck = entry.get("recheck", DEFAULT_RECHECK)
    if not isinstance(recheck, list) or not recheck:
        raise OutletsFileError(f"{where}: field 'recheck' must be a non-empty list of durations")
    return Outlet(
        name=name,
        feeds=tuple(sources["feeds"]),
        sitemaps=tuple(sources["sitemaps"]),
        sections=tuple(sources["sections"]),
        article_pattern=pattern,
        origins=frozenset({origin(u) for u in all_urls} | extra_origins),
        section_depth=_positive_int(entry, "section_depth", 3, where),
        discovery_interval=interval,
        discovery_floor=floor,
        discovery_ceiling=ceiling,
        recheck_intervals=tuple(parse_duration(v, f"{where}: field 'recheck'") for v in recheck),
        recheck_stop_after=parse_duration(entry.get("recheck_stop_after", "30d"),
                                          f"{where}: field 'recheck_stop_after'"),
        extra={"extraction": entry.get("extraction", {})},
    )


def _url_list(entry: dict, key: str, where: str) -> list[str]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OutletsFileError(f"{where}: field {key!r} must be a list of URLs")
    urls = []
    for raw in value:
        url = canonicalize_url(raw)
        if url is None:
            raise OutletsFileError(f"{where}: field {key!r}: {raw!r} is not an http(s) URL")
        urls.append(raw.strip())
    return urls


def _positive_int(entry: dict, key: str, default: int, where: str) -> int:
    value = entry.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise OutletsFileError(f"{where}: field {key!r} must be a whole number >= 0, got {value!r}")
    return value
