"""Fake news outlets for tests, ``make demo`` and crawl benchmarks (pure stdlib).

Every outlet is an :class:`OutletSite`: deterministic articles generated from a seed,
served with a realistic news template (nav bar, donation appeal, newsletter box,
"RECENT STORIES", share buttons, cookie banner, footer) plus RSS/Atom/JSON feeds,
a sitemap index with a Google news sitemap and paged article sitemaps, paginated
section pages, ``robots.txt`` and a ``/private/`` area that robots.txt forbids.
:class:`SiteServer` serves each site on its own 127.0.0.1 port.

Ground truth (what a perfect cleaner outputs for an article, see
:meth:`OutletSite.article_text`) is the headline followed by the body paragraphs
(``<p>`` inside ``<div class="story-body">``).  NOT part of it: the byline, the
date line, the figure caption and the in-body "Related article: <headline>" line.

Run ``python -m tests.demosite serve --outlets 2 --articles 20`` for a demo.
"""
from __future__ import annotations

import argparse
import bisect
import gzip as _gzip
import hashlib
import html
import json
import math
import operator
import os
import random
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Sequence
from urllib.parse import parse_qs, quote, urlsplit

# The listings name no format URIs of remote hosts (tests reach 127.0.0.1 only): Atom
# and RSS feeds carry no namespace (an RSS item's author is <author>), JSON feeds no
# "version" URL, and sitemaps URN namespaces of our own; feedparser and crawler.discovery
# read them all the same.

# --------------------------------------------------------------------------- vocabulary
# Plain English words.  None of them may contain a boilerplate phrase (see
# OutletSite.boilerplate_phrases): no "support", "share", "cookie", "read", "most", ...
NOUNS = """council harbor bridge school village market river farmer teacher museum railway
budget station library garden factory festival hospital clinic mayor committee district
highway orchard forest valley island airport stadium theater bakery vineyard harvest election
survey report study project proposal program community neighborhood county province region
coast port ferry tunnel canal reservoir pipeline tower park square street avenue court judge
lawyer witness jury officer engineer scientist researcher doctor nurse student parent worker
driver pilot captain crew union company bank investor shop owner tenant landlord resident
visitor tourist volunteer charity choir band artist painter writer poet novel exhibit gallery
archive season winter summer autumn storm flood drought rainfall wind heat energy battery
turbine water soil crop wheat barley cattle sheep boat fleet price wage rent tax fee loan
grant fund contract agreement treaty border minister senator governor official agency
department ministry parliament assembly ballot candidate debate law reform inquiry audit
review trial verdict route schedule timetable network platform track road lane orchestra
quarry mill lighthouse warehouse""".split()
ADJECTIVES = """new old local regional national rural urban coastal northern southern eastern
western small large busy quiet early late annual public modest sharp steady rising falling
narrow broad wooden historic modern popular rare seasonal temporary permanent careful bold
green bright heavy crowded empty distant nearby ancient younger older""".split()
VERBS = """approved rejected opened closed delayed announced reviewed expanded reduced repaired
inspected visited praised questioned proposed completed launched postponed celebrated measured
recorded reported warned welcomed debated funded restored replaced extended planned studied
examined confirmed denied ordered hired trained moved built painted cleaned counted tested
released weighed doubled halved mapped surveyed""".split()
PREPOSITIONS = "near beside after before during across along behind within toward around against between under over".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
FIRST_NAMES = "Alice Bruno Clara Daniel Elena Farid Grace Hugo Irene Jonas Karin Leo Maya Nils Olga Pavel Rosa Samir Tara Victor".split()
LAST_NAMES = ("Abbott Brennan Castillo Dalton Eriksen Fischer Garner Holloway Ibsen Jansen Kowalski "
              "Lindqvist Moreau Novak Okafor Petrov Quinn Rahman Sorensen Takahashi").split()
SYLLABLES = "ba ce di fo gu ha je ki lo ma ne pi ro su ta ve".split()
DEFAULT_OUTLET_NAMES = ("harbor-daily", "valley-courier", "northern-ledger", "riverside-gazette",
                        "summit-tribune", "lakeside-herald", "prairie-observer", "coastal-chronicle")
DEFAULT_SECTIONS = ("world", "politics", "business")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

TOKEN_SENTENCES = (
    "In {T}, the {A} {N} {V} the {N} {P} the {N}.",
    "Residents of {T} said the {A} {N} was {V} {P} the {N}.",
    "The {N} at {T} {V} a {A} {N} on {D}.",
    "Officials in {T} {V} the {N} and the {A} {N} last {D}.",
)
SENTENCES = (
    "The {A} {N} {V} the {N} {P} the {A} {N}.",
    "According to the {N}, the {N} was {V} {P} the {A} {N} in {M}.",
    "A {N} from the {A} {N} {V} the {N} on {D}.",
    "Several {A} {N} groups {V} the {N} {P} the {N}.",
    "The {N} {V} the {A} {N} while the {N} {V} the {N}.",
    "Local {N} leaders expect the {N} to be {V} by {M}.",
    "The {A} {N} {V} {P} the {N}, and the {N} {V} the {A} {N} {P} the {N}.",
)
HEADLINES = {
    5: "{T} {N} {V} {A} {N}",
    6: "{T} {N} {V} the {A} {N}",
    7: "{T} {N} {V} the {N} {P} {N}",
    8: "{T} {N} {V} the {A} {N} {P} {N}",
    9: "{T} {A} {N} {V} the {A} {N} {P} {N}",
    10: "{T} {A} {N} {V} the {A} {N} {P} the {N}",
}
SLOTS = {"A": ADJECTIVES, "N": NOUNS, "V": VERBS, "P": PREPOSITIONS, "D": WEEKDAYS, "M": MONTHS}
SLOT_RE = re.compile(r"\{([ANVPDMT])\}")

HTML_TYPE = "text/html; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
RSS_TRACKING = "utm_source=rss&utm_medium=feed"
LOGGED_HEADERS = ("user-agent", "accept-encoding", "if-none-match", "if-modified-since", "referer", "host")
SITEMAP_PAGE_RE = re.compile(r"^/sitemaps/articles-(\d+)\.xml$")
SECTION_RE = re.compile(r"^/section/([a-z0-9-]+)$")
CACHE_LIMIT = 50_000
FIXED_ROUTES = {"/": "home", "/robots.txt": "robots", "/rss.xml": "rss", "/atom.xml": "atom",
                "/feed.json": "jsonfeed", "/sitemap.xml": "sitemap_index",
                "/sitemaps/news.xml": "news_sitemap", "/about": "about"}


# --------------------------------------------------------------------------- text generation
def _token(number: int) -> str:
    """A made-up place name, unique for every ``number`` (base-16 syllables).

    Below 16**4 the number is scrambled by a bijection (odd multiplier mod 16**4) and
    written with exactly 4 syllables; larger numbers use 5 or more syllables.
    """
    width = 4
    if number < 16 ** 4:
        number = (number * 40503 + 12345) % 16 ** 4
    else:
        width = 5
    digits: list[str] = []
    while number or len(digits) < width:
        number, digit = divmod(number, 16)
        digits.append(SYLLABLES[digit])
    return "".join(reversed(digits)).capitalize() + "ton"


def _fill(template: str, rng: random.Random, token: str = "") -> str:
    """Replace ``{A}``/``{N}``/... slots with random words, ``{T}`` with ``token``."""
    return SLOT_RE.sub(lambda m: token if m[1] == "T" else rng.choice(SLOTS[m[1]]), template)


def _paragraph(rng: random.Random, token: str) -> str:
    """25-70 words: a sentence naming ``token`` then filler sentences."""
    sentences = [_fill(rng.choice(TOKEN_SENTENCES), rng, token)]
    target, count = rng.randint(25, 52), len(sentences[0].split())
    while count < target:
        sentences.append(_fill(rng.choice(SENTENCES), rng))
        count += len(sentences[-1].split())
    return " ".join(sentences)


def _headline(rng: random.Random, token: str) -> str:
    """5-10 words starting with ``token``."""
    return _fill(HEADLINES[rng.randint(5, 10)], rng, token)


def _slug(headline: str) -> str:
    """Lowercase, hyphenated first six words of ``headline``."""
    words = re.findall(r"[a-z0-9]+", headline.lower())
    return "-".join(words[:6])


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _human_date(moment: datetime) -> str:
    return f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year}"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _parse_http_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# --------------------------------------------------------------------------- responses
@dataclass
class Page:
    """One rendered response; ``etag`` is a strong validator of the identity body."""

    status: int
    body: bytes
    content_type: str = HTML_TYPE
    last_modified: datetime | None = None
    location: str | None = None
    etag: str | None = None
    _gzipped: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.status == 200 and self.etag is None:
            self.etag = f'"{hashlib.sha256(self.body).hexdigest()[:32]}"'

    @property
    def etag_gzip(self) -> str | None:
        """The ETag sent with the gzip-encoded body (Apache style ``-gzip`` suffix)."""
        return self.etag[:-1] + '-gzip"' if self.etag else None

    def gzipped(self) -> bytes:
        """The body gzip-compressed (deterministic: mtime 0), computed once."""
        if self._gzipped is None:
            self._gzipped = _gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


@dataclass(frozen=True)
class LoggedRequest:
    """One request a site received: method, path+query, a header subset, final status."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    time: float


def _simple_page(status: int, title: str, text: str, location: str | None = None) -> Page:
    body = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_esc(title)}</title>"
            f"</head><body><h1>{_esc(title)}</h1><p>{_esc(text)}</p></body></html>\n").encode()
    return Page(status, body, location=location)


# --------------------------------------------------------------------------- the site
class OutletSite:
    """One fake outlet: deterministic articles, their state, and every page it serves.

    ``name`` is the outlet id used in the outlets file (lowercase, digits, ``-``, ``_``);
    ``title`` is the display name (default: ``name`` title-cased).  Article ``id`` runs
    from 1; a higher id is a newer article; its dates derive from the id
    (``start + (id - 1) * interval`` plus a few minutes).  ``start=None`` (default)
    anchors the newest initial article about three hours before the current hour, so
    articles look fresh (URLs then depend on the day); pass a fixed ``start`` for fully
    reproducible output.  Runtime mutations use the wall clock: articles added later
    are published "now" (unless their planned date is already past), and an edit sets
    the modified time to now (at least one second later than before).

    Options: ``gzip`` (compress when the client accepts it), ``feed_size`` (items in
    each feed), ``template_variant`` (boilerplate only), ``related_every`` (every Nth
    article carries a "Related article:" line; 0 disables), ``link_only`` (every second
    such line points at an article listed nowhere else), ``amp_every`` (every Nth
    article is advertised in feeds and sections as ``<url>?amp=1``; the page there has
    ``<link rel="canonical" href="<url>">``; 0 disables), ``pagination`` (how section
    pages link their next page: ``"rel"`` a ``rel="next"`` link, ``"text"`` an "Older
    stories »" link without rel, ``"numbers"`` only numbered page links).  Every article
    also answers at ``?amp=1``.  Thread-safe: mutations and rendering share one lock.
    """

    def __init__(self, name: str, n_articles: int = 30, seed: int = 0, gzip: bool = True,
                 feed_size: int = 50, *, title: str | None = None, template_variant: int = 0,
                 related_every: int = 7, link_only: bool = True, amp_every: int = 0,
                 sections: Sequence[str] = DEFAULT_SECTIONS, page_size: int = 20, pagination: str = "rel",
                 sitemap_page_size: int = 500, news_sitemap_size: int = 100,
                 start: datetime | None = None, interval: timedelta = timedelta(hours=5)) -> None:
        if not NAME_RE.match(name):
            raise ValueError(f"outlet name must be a short id like 'harbor-daily', got {name!r}")
        if related_every == 1 or related_every < 0:
            raise ValueError("related_every must be 0 (off) or >= 2")
        self.name, self.title, self.seed, self.gzip = name, title or name.replace("-", " ").title(), seed, gzip
        self.feed_size, self.related_every, self.link_only, self.amp_every = feed_size, related_every, link_only, amp_every
        if pagination not in PAGINATION_STYLES:
            raise ValueError(f"pagination must be one of {PAGINATION_STYLES}, got {pagination!r}")
        self.sections, self.page_size, self.pagination = tuple(sections), page_size, pagination
        self.sitemap_page_size, self.news_sitemap_size = sitemap_page_size, news_sitemap_size
        if start is None:
            newest = _now().replace(minute=0, second=0) - timedelta(hours=3)
            start = newest - max(n_articles - 1, 0) * interval
        self.start, self.interval = start, interval
        self.template_variant = template_variant
        self.base_url: str | None = None
        self._lock = threading.RLock()
        self._articles: dict[int, dict[str, Any]] = {}
        self._paths: dict[str, int] = {}
        self._redirects: dict[str, int] = {}
        self._cache: dict[tuple, Page] = {}
        self._listed: list[int] | None = None
        self._log: list[LoggedRequest] = []
        self._initial = n_articles
        self._create(range(1, n_articles + 1))

    # ---------------------------------------------------------------- state
    def _create(self, ids: Iterable[int]) -> list[int]:
        ids = list(ids)
        last = ids[-1] if ids else 0
        for article_id in ids:
            article = self._generate(article_id)
            article["link_only"] = self._is_link_only_target(article_id, last)
            self._articles[article_id] = article
            self._paths[article["path"]] = article_id
        return ids

    def _generate(self, article_id: int) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:{self.name}:{article_id}")
        headline_token = _token(article_id * 16 + 15)
        headline = _headline(rng, headline_token)
        paragraphs = [_paragraph(rng, _token(article_id * 16 + i)) for i in range(rng.randint(4, 9))]
        published = self._published(article_id)
        caption = _fill("The {A} {N} in {T} on {D}.", rng, headline_token)
        return {
            "id": article_id, "headline": headline, "paragraphs": paragraphs, "slug": _slug(headline),
            "author": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            "photographer": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            "section": self.sections[(article_id - 1) % len(self.sections)],
            "caption": caption, "published": published,
            "modified": published + timedelta(minutes=15 * (article_id % 4)),
            "version": 1, "moves": 0, "status": 200,
            "path": f"/{published:%Y/%m/%d}/{_slug(headline)}-{article_id}",
        }

    def _published(self, article_id: int) -> datetime:
        """Planned date of an id; later additions are never dated in the future."""
        planned = self.start + (article_id - 1) * self.interval + timedelta(minutes=(article_id * 7) % 60)
        previous = self._articles.get(article_id - 1)
        if article_id <= self._initial or previous is None:
            return planned
        return max(previous["published"] + timedelta(seconds=1), min(planned, _now()))

    def _related_offset(self) -> int:
        return (self.related_every + 1) // 2

    def _is_link_only_target(self, article_id: int, last_in_batch: int) -> bool:
        """Targets of every second related line, if their host is in the same batch."""
        if not (self.link_only and self.related_every):
            return False
        host = article_id + self._related_offset()
        return host <= last_in_batch and host % (2 * self.related_every) == 0

    def _mutated(self) -> None:
        self._cache.clear()
        self._listed = None

    def _get(self, article_id: int) -> dict[str, Any]:
        try:
            return self._articles[article_id]
        except KeyError:
            raise KeyError(f"{self.name} has no article {article_id}") from None

    def _listed_ids(self) -> list[int]:
        """Ids in feeds/sitemaps/sections, newest first (not removed, not link-only)."""
        if self._listed is None:
            self._listed = [i for i in sorted(self._articles, reverse=True)
                            if self._articles[i]["status"] == 200 and not self._articles[i]["link_only"]]
        return self._listed

    # ---------------------------------------------------------------- mutations
    def edit_article(self, article_id: int, add_sentence: str | bool | None = None,
                     new_headline: str | None = None) -> int:
        """Change an article's text; returns its new version number.

        ``add_sentence``: a string is appended to the last paragraph; ``True`` appends a
        generated sentence; ``None`` (default) appends one only if ``new_headline`` is not
        given; ``False`` appends nothing.  The URL never changes.  The modified time becomes
        now (at least one second later than before), so Last-Modified, ETag, sitemap
        ``<lastmod>`` and dateModified change.
        """
        with self._lock:
            article = self._get(article_id)
            if add_sentence is None:
                add_sentence = new_headline is None
            if add_sentence is True:
                rng = random.Random(f"{self.seed}:{self.name}:{article_id}:v{article['version']}")
                add_sentence = f"Update: {_fill(rng.choice(SENTENCES), rng)}"
            if add_sentence:
                article["paragraphs"] = article["paragraphs"][:-1] + [f"{article['paragraphs'][-1]} {add_sentence}"]
            if new_headline:
                article["headline"] = new_headline
            article["version"] += 1
            article["modified"] = max(article["modified"] + timedelta(seconds=1), _now())
            self._mutated()
            return article["version"]

    def set_article_text(self, article_id: int, headline: str, paragraphs: Sequence[str]) -> None:
        """Give an article another text before it is published anywhere, e.g. a wire story
        another site carries too (``other.article_text(i)``, as it is or lightly edited).

        Unlike :meth:`edit_article` this is no edit: the version, URL and dates stay.
        """
        with self._lock:
            article = self._get(article_id)
            article["headline"], article["paragraphs"] = headline, list(paragraphs)
            self._mutated()

    def carry_story(self, article_id: int, other: "OutletSite", other_id: int) -> None:
        """Make an article an identical copy of ``other``'s article ``other_id`` (a wire story
        with its photo): headline, paragraphs, caption and photo credit; see :meth:`set_article_text`."""
        with other._lock:
            source = other._get(other_id)
            story = {key: source[key] for key in ("caption", "photographer")}
            headline, paragraphs = source["headline"], list(source["paragraphs"])
        with self._lock:
            self._get(article_id).update(story)
            self.set_article_text(article_id, headline, paragraphs)

    def set_template_variant(self, variant: int) -> None:
        """Change the boilerplate (most-read box, ad slot id, CSRF token) of every page."""
        with self._lock:
            self.template_variant = variant
            self._mutated()

    def set_gzip(self, enabled: bool) -> None:
        """Switch gzip content-encoding on or off for this site."""
        with self._lock:
            self.gzip = enabled

    def add_articles(self, n: int) -> list[int]:
        """Publish ``n`` new articles (newer than all others); returns their ids."""
        with self._lock:
            first = max(self._articles, default=0) + 1
            ids = self._create(range(first, first + n))
            self._mutated()
            return ids

    def remove_article(self, article_id: int, status: int = 404) -> None:
        """Unpublish an article: its URL answers ``status`` (404 or 410) from now on."""
        if status not in (404, 410):
            raise ValueError("status must be 404 or 410")
        with self._lock:
            self._get(article_id)["status"] = status
            self._mutated()

    def redirect_article_home(self, article_id: int, status: int = 301) -> None:
        """Take an article down by sending its URL to the home page (``status`` 301 or 302)."""
        if status not in (301, 302):
            raise ValueError("status must be 301 or 302")
        with self._lock:
            self._get(article_id)["status"] = status
            self._mutated()

    def restore_article(self, article_id: int) -> None:
        """Publish a removed (or home-redirected) article again, as it was, at its URL."""
        with self._lock:
            self._get(article_id)["status"] = 200
            self._mutated()

    def change_byline(self, article_id: int, author: str) -> None:
        """Credit an article to ``author``: its metadata change, its text does not."""
        with self._lock:
            article = self._get(article_id)
            article["author"] = author
            article["modified"] = max(article["modified"] + timedelta(seconds=1), _now())
            self._mutated()

    def move_article(self, article_id: int) -> str:
        """Give an article a new URL; old URLs answer 301 to it.  Returns the new path."""
        with self._lock:
            article = self._get(article_id)
            article["moves"] += 1
            self._redirects[article["path"]] = article_id
            self._paths.pop(article["path"], None)
            article["path"] = f"/{article['published']:%Y/%m/%d}/{article['slug']}-r{article['moves']}-{article_id}"
            self._paths[article["path"]] = article_id
            self._redirects.pop(article["path"], None)
            self._mutated()
            return article["path"]

    # ---------------------------------------------------------------- ground truth
    def _base(self, base: str | None) -> str:
        base = base or self.base_url
        if not base:
            raise ValueError(f"{self.name}: no base URL (start a SiteServer or pass base=)")
        return base.rstrip("/")

    def article_ids(self) -> list[int]:
        """Ids of all published articles (link-only included, removed excluded), ascending."""
        with self._lock:
            return [i for i in sorted(self._articles) if self._articles[i]["status"] == 200]

    def listed_article_ids(self) -> list[int]:
        """Ids that feeds/sitemaps/sections can list (published, not link-only), ascending."""
        with self._lock:
            return sorted(self._listed_ids())  # a copy: callers may not mutate the cache

    def article_path(self, article_id: int) -> str:
        """Current path of an article (after moves)."""
        with self._lock:
            return self._get(article_id)["path"]

    def article_url(self, article_id: int, base: str | None = None) -> str:
        """Clean canonical URL of an article."""
        return self._base(base) + self.article_path(article_id)

    def article_urls(self, base: str | None = None) -> list[str]:
        """Clean canonical URLs of all published articles (incl. link-only), by id."""
        return [self.article_url(i, base) for i in self.article_ids()]

    def article_text(self, article_id: int) -> tuple[str, list[str]]:
        """(headline, body paragraphs) exactly as a perfect cleaner outputs them.

        Body = the ``<p>`` paragraphs of ``div.story-body`` in order.  Excluded: byline,
        date, figure caption (see :meth:`article_meta`) and the "Related article:" line
        (see :meth:`related_line`).
        """
        with self._lock:
            article = self._get(article_id)
            return article["headline"], list(article["paragraphs"])

    def article_meta(self, article_id: int) -> dict[str, Any]:
        """Metadata of an article: author, dates, section, caption, version, flags."""
        with self._lock:
            a = self._get(article_id)
            keys = ("id", "headline", "author", "section", "caption", "published", "modified",
                    "version", "status", "link_only", "path")
            return {k: a[k] for k in keys} | {"related_id": self.related_article_id(article_id)}

    def related_article_id(self, article_id: int) -> int | None:
        """Id the article's "Related article:" line points to, or None."""
        if not self.related_every or article_id % self.related_every:
            return None
        target = article_id - self._related_offset()
        return target if target in self._articles else None

    def related_line(self, article_id: int) -> str | None:
        """Text of the in-body related line ("Related article: <headline>") or None.

        It is not part of :meth:`article_text`; a cleaner may keep or drop it.
        """
        with self._lock:
            target = self.related_article_id(article_id)
            return None if target is None else f"Related article: {self._articles[target]['headline']}"

    def link_only_article_ids(self) -> list[int]:
        """Published ids reachable only through another article's "Related article:" link."""
        with self._lock:
            return [i for i in sorted(self._articles)
                    if self._articles[i]["link_only"] and self._articles[i]["status"] == 200]

    def amp_article_ids(self) -> list[int]:
        """Ids that feeds and sections advertise as ``<url>?amp=1``."""
        with self._lock:
            return sorted(i for i in self._listed_ids() if self._is_amp(i))

    def boilerplate_phrases(self) -> list[str]:
        """Template strings that must never appear in cleaned article text."""
        return [f"Support {self.title}!", "Support", "A Message from", "Dear readers",
                "please support us monthly", "newsletter", "Sign up for our free weekly newsletter",
                "RECENT STORIES", "MOST READ", "Share on Facebook", "Share on Twitter", "Facebook",
                "Twitter", "We use cookies", "cookies", "Accept all cookies", "cookie policy",
                "All rights reserved", "Advertisement", "Skip to main content", "Staff login",
                "Privacy policy", "Subscribe", "Donate now", "Independent news since", "Contact us"]

    # ---------------------------------------------------------------- request log
    def log_request(self, entry: LoggedRequest) -> None:
        """Append one entry to the request log (called by the server)."""
        with self._lock:
            self._log.append(entry)

    def requests(self) -> list[LoggedRequest]:
        """Copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def requested_paths(self) -> list[str]:
        """Path+query of every logged request, oldest first."""
        return [entry.path for entry in self.requests()]

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._log.clear()

    # ---------------------------------------------------------------- routing
    def render(self, target: str, base: str | None = None) -> Page:
        """The response for a request target (path + query), rendered or from cache."""
        base = self._base(base)
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            key = self._route(parts.path or "/", query)
            if key[0] in ("private", "notfound", "gone", "redirect"):
                return self._build(key, base)
            cache_key = (base, self.template_variant) + key
            page = self._cache.get(cache_key)
            if page is None:
                if len(self._cache) > CACHE_LIMIT:
                    self._cache.clear()
                page = self._cache[cache_key] = self._build(key, base)
            return page

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple:
        if path in FIXED_ROUTES:
            return (FIXED_ROUTES[path],)
        if path.startswith("/private/"):
            return ("private", path)
        if match := SITEMAP_PAGE_RE.match(path):
            number = int(match[1])
            return ("sitemap_page", number) if 1 <= number <= self._sitemap_pages() else ("notfound",)
        if match := SECTION_RE.match(path):
            return self._section_route(match[1], query)
        return self._article_route(path, query)

    def _section_route(self, name: str, query: dict[str, list[str]]) -> tuple:
        raw = query.get("page", ["1"])[0]
        number = int(raw) if raw.isdigit() else 0
        if name not in self.sections or not 1 <= number <= self._section_pages(name):
            return ("notfound",)
        return ("section", name, number)

    def _article_route(self, path: str, query: dict[str, list[str]]) -> tuple:
        if path in self._paths:
            article_id = self._paths[path]
            if self._articles[article_id]["status"] != 200:
                return ("gone", article_id)
            return ("article", article_id, "amp" in query)
        if path in self._redirects:
            return ("redirect", self._redirects[path])
        return ("notfound",)

    def _build(self, key: tuple, base: str) -> Page:
        kind, args = key[0], key[1:]
        builders = {
            "home": _render_home, "robots": _render_robots, "rss": _render_rss, "atom": _render_atom,
            "jsonfeed": _render_json_feed, "sitemap_index": _render_sitemap_index,
            "news_sitemap": _render_news_sitemap, "sitemap_page": _render_sitemap_page,
            "about": _render_about, "private": _render_private, "section": _render_section,
            "article": _render_article, "redirect": _render_redirect, "gone": _render_gone,
        }
        if kind not in builders:
            return _simple_page(404, "Page not found", "The page you requested does not exist.")
        return builders[kind](self, base, *args)

    def all_paths(self) -> list[str]:
        """Path+query of every page the site links to or lists (for static dumps)."""
        with self._lock:
            paths = ["/", "/robots.txt", "/rss.xml", "/atom.xml", "/feed.json", "/sitemap.xml",
                     "/sitemaps/news.xml", "/about", "/private/staff"]
            paths += [f"/sitemaps/articles-{n}.xml" for n in range(1, self._sitemap_pages() + 1)]
            for index, name in enumerate(self.sections, start=1):
                paths += [_section_href(name, n) for n in range(1, self._section_pages(name) + 1)]
                paths += [f"/private/draft-{index}", _embargoed_path(index)]
            for article_id in self.article_ids():
                paths.append(self._articles[article_id]["path"])
                if self._is_amp(article_id):
                    paths.append(self._articles[article_id]["path"] + "?amp=1")
            return paths

    def prerender(self, base: str | None = None, gzipped: bool = True) -> int:
        """Render (and gzip) every page of :meth:`all_paths` into the cache; returns the count.

        Benchmarks call this after ``SiteServer.start()`` so rendering is not measured.
        """
        pages = [self.render(target, base) for target in self.all_paths()]
        if gzipped and self.gzip:
            for page in pages:
                page.gzipped()
        return len(pages)

    # ---------------------------------------------------------------- helpers for renderers
    def _is_amp(self, article_id: int) -> bool:
        return bool(self.amp_every) and article_id % self.amp_every == 0

    def _advertised_path(self, article_id: int) -> str:
        """The path listings use: clean, or ``?amp=1`` for amp articles."""
        path = self._articles[article_id]["path"]
        return path + "?amp=1" if self._is_amp(article_id) else path

    def _section_ids(self, name: str) -> list[int]:
        return [i for i in self._listed_ids() if self._articles[i]["section"] == name]

    def _section_pages(self, name: str) -> int:
        return max(1, math.ceil(len(self._section_ids(name)) / self.page_size))

    def _sitemap_pages(self) -> int:
        return max(1, math.ceil(len(self._listed_ids()) / self.sitemap_page_size))

    def _recent_ids(self, article_id: int, count: int = 5) -> list[int]:
        """Stable "recent stories" of a page: nearest older listed ids, then newer ones."""
        listed = self._listed_ids()  # newest (highest id) first
        start = bisect.bisect_right(listed, -article_id, key=operator.neg)  # first id < article_id
        older = listed[start:start + count]
        newer = [i for i in reversed(listed[max(0, start - count - 1):start]) if i != article_id]
        return older + newer[:count - len(older)]

    def _most_read_ids(self, count: int = 3) -> list[int]:
        """Variant-dependent "most read" picks among the initial articles."""
        pool = [i for i in self._listed_ids() if i <= self._initial]
        rng = random.Random(f"{self.seed}:{self.name}:most-read:{self.template_variant}")
        return sorted(rng.sample(pool, min(count, len(pool))), reverse=True)


# --------------------------------------------------------------------------- HTML template
CSS = ("body{font-family:Georgia,serif;margin:0}nav ul{display:flex;gap:1em;list-style:none}"
       ".cookie-banner{position:fixed;bottom:0;background:#222;color:#fff;padding:1em}"
       ".donate,.newsletter,.recent,.most-read{border:1px solid #ccc;margin:1em;padding:1em}"
       "article{max-width:42em;margin:auto}footer{background:#eee;padding:2em}")


def _nav(site: OutletSite) -> str:
    items = ['<li><a href="/">Home</a></li>']
    items += [f'<li><a href="/section/{s}">{s.title()}</a></li>' for s in site.sections]
    items.append('<li><a href="/about">About</a></li>')
    return ('<a class="skip-link" href="#main">Skip to main content</a>\n'
            f'<nav class="site-nav" aria-label="Sections"><ul>{"".join(items)}</ul></nav>\n')


def _header(site: OutletSite) -> str:
    return (f'<header class="site-header"><a class="logo" href="/">{_esc(site.title)}</a>'
            '<p class="tagline">Independent news since 1998</p></header>\n')


def _cookie_banner() -> str:
    return ('<div id="cookie-banner" class="cookie-banner" role="dialog"><p>We use cookies to '
            'improve your experience. By continuing to browse you accept our cookie policy.</p>'
            '<button type="button" onclick="this.parentNode.remove()">Accept all cookies</button></div>\n')


def _ad_slot(site: OutletSite) -> str:
    slot = f"ad-slot-{(site.template_variant * 7919 + 17) % 100000:05d}"
    return f'<div class="ad" id="{slot}" data-slot="{slot}"><span>Advertisement</span></div>\n'


def _footer(site: OutletSite) -> str:
    domain = site.name + ".example"
    return (f'<footer class="site-footer"><p>&copy; 2024 {_esc(site.title)} Media Group. All rights reserved.</p>'
            '<ul><li><a href="/about">About us</a></li><li><a href="/about#privacy">Privacy policy</a></li>'
            f'<li><a href="mailto:newsroom@{domain}">Contact us</a></li>'
            '<li><a href="/private/staff">Staff login</a></li></ul></footer>\n')


def _link_list(site: OutletSite, ids: Iterable[int]) -> str:
    return "".join(f'<li><a href="{_esc(site._articles[i]["path"])}">{_esc(site._articles[i]["headline"])}</a></li>'
                   for i in ids)


def _most_read(site: OutletSite) -> str:
    return (f'<aside class="most-read" data-variant="{site.template_variant}"><h2>MOST READ</h2>'
            f'<ol>{_link_list(site, site._most_read_ids())}</ol></aside>\n')


def _donation(site: OutletSite) -> str:
    title = _esc(site.title)
    return (f'<aside class="donate"><h2>Support {title}!</h2><p>A Message from {title}: Dear readers, '
            'independent journalism costs money and our reporters depend on you. If you value our '
            'coverage, please support us monthly with a small amount.</p>'
            '<a class="button" href="/about#donate">Donate now</a></aside>\n')


def _newsletter(site: OutletSite, page_key: str) -> str:
    token = hashlib.sha256(f"{site.name}|{site.template_variant}|{page_key}".encode()).hexdigest()[:32]
    return ('<aside class="newsletter"><h2>Our newsletter</h2><p>Sign up for our free weekly newsletter '
            'and get the top stories in your inbox every Friday.</p>'
            '<form action="/newsletter" method="post">'
            f'<input type="hidden" name="csrf_token" value="{token}">'
            '<input type="email" name="email" placeholder="Your email address">'
            '<button type="submit">Subscribe</button></form></aside>\n')


def _document(site: OutletSite, title: str, head: str, body: str, body_class: str, amp: bool = False) -> bytes:
    """A full HTML page: head + cookie banner, nav, header, ad, ``body``, footer."""
    page = (f'<!DOCTYPE html>\n<html lang="en"{" amp" if amp else ""}>\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_esc(title)}</title>\n'
            f'{head}<link rel="alternate" type="application/rss+xml" title="{_esc(site.title)}" href="/rss.xml">\n'
            f'<style>{CSS}</style>\n</head>\n<body class="{body_class}">\n{_cookie_banner()}{_nav(site)}'
            f'{_header(site)}{_ad_slot(site)}<main id="main">\n{body}</main>\n{_footer(site)}</body>\n</html>\n')
    return page.encode("utf-8")


# --------------------------------------------------------------------------- article pages
def _article_head(site: OutletSite, a: dict[str, Any], canonical: str) -> str:
    summary = _summary(a)
    ld = {"@type": "NewsArticle", "headline": a["headline"],
          "author": {"@type": "Person", "name": a["author"]}, "datePublished": _iso(a["published"]),
          "dateModified": _iso(a["modified"]), "mainEntityOfPage": canonical,
          "publisher": {"@type": "Organization", "name": site.title}}
    ld_text = json.dumps(ld, ensure_ascii=False).replace("</", "<\\/")
    return (f'<meta name="description" content="{_esc(summary)}">\n'
            f'<meta property="og:title" content="{_esc(a["headline"])}">\n'
            f'<meta property="og:type" content="article">\n<meta property="og:url" content="{_esc(canonical)}">\n'
            f'<meta property="og:site_name" content="{_esc(site.title)}">\n'
            f'<meta name="author" content="{_esc(a["author"])}">\n'
            f'<meta property="article:published_time" content="{_iso(a["published"])}">\n'
            f'<meta property="article:modified_time" content="{_iso(a["modified"])}">\n'
            f'<meta property="article:section" content="{a["section"].title()}">\n'
            f'<link rel="canonical" href="{_esc(canonical)}">\n'
            f'<script type="application/ld+json">{ld_text}</script>\n')


def _summary(a: dict[str, Any]) -> str:
    words = a["paragraphs"][0].split()
    return " ".join(words[:24]) + ("..." if len(words) > 24 else "")


def _story_body(site: OutletSite, base: str, a: dict[str, Any]) -> str:
    paragraphs = [f"<p>{_esc(p)}</p>" for p in a["paragraphs"]]
    related = site.related_article_id(a["id"])
    if related is not None:
        target = site._articles[related]
        line = (f'<p class="related-link"><strong>Related article:</strong> '
                f'<a href="{_esc(base + target["path"])}">{_esc(target["headline"])}</a></p>')
        paragraphs.insert(min(2, len(paragraphs)), line)
    return '<div class="story-body">\n' + "\n".join(paragraphs) + "\n</div>\n"


def _share_buttons(url: str) -> str:
    quoted = quote(url, safe="")
    return ('<div class="share-buttons">'
            f'<a href="https://www.facebook.example/sharer/sharer.php?u={quoted}">Share on Facebook</a> '
            f'<a href="https://twitter.example/intent/tweet?url={quoted}">Share on Twitter</a> '
            f'<a href="mailto:?subject=Story&amp;body={quoted}">Email</a></div>\n')


def _render_article(site: OutletSite, base: str, article_id: int, amp: bool) -> Page:
    a = site._articles[article_id]
    canonical = base + a["path"]
    story = (f'<article class="story" data-article-id="{article_id}">\n<header class="story-header">'
             f'<h1 class="headline">{_esc(a["headline"])}</h1>\n'
             f'<p class="byline">By <span class="author">{_esc(a["author"])}</span> | '
             f'<time datetime="{_iso(a["published"])}">{_human_date(a["published"])}</time></p></header>\n'
             f'<figure class="lead-image"><img src="/images/{article_id}.jpg" alt="{_esc(a["caption"])}" '
             f'width="800" height="450"><figcaption>{_esc(a["caption"])} Photo: {_esc(a["photographer"])}'
             f'</figcaption></figure>\n{_story_body(site, base, a)}{_share_buttons(canonical)}</article>\n')
    boxes = (_donation(site) + _newsletter(site, str(article_id))
             + f'<aside class="recent"><h2>RECENT STORIES</h2><ul>{_link_list(site, site._recent_ids(article_id))}</ul></aside>\n'
             + _most_read(site))
    body = _document(site, f'{a["headline"]} | {site.title}', _article_head(site, a, canonical),
                     story + boxes, "article-page", amp=amp)
    return Page(200, body, last_modified=a["modified"])


def _render_redirect(site: OutletSite, base: str, article_id: int) -> Page:
    location = base + site._articles[article_id]["path"]
    if site._articles[article_id]["status"] != 200:
        return _render_gone(site, base, article_id)
    return _simple_page(301, "Moved Permanently", f"This story has moved to {location}", location=location)


def _render_gone(site: OutletSite, base: str, article_id: int) -> Page:
    status = site._articles[article_id]["status"]
    if status in (301, 302):
        return _simple_page(status, "Moved", "This story is no longer available.", location=f"{base}/")
    title = "Page not found" if status == 404 else "This story has been removed"
    return _simple_page(status, title, "The story you requested is no longer available.")


# --------------------------------------------------------------------------- listing pages
def _teasers(site: OutletSite, ids: Sequence[int]) -> str:
    items = []
    for i in ids:
        a = site._articles[i]
        items.append(f'<article class="teaser"><h2><a href="{_esc(site._advertised_path(i))}">'
                     f'{_esc(a["headline"])}</a></h2><p>{_esc(_summary(a))}</p></article>')
    return "\n".join(items) + "\n"


def _max_modified(site: OutletSite, ids: Iterable[int]) -> datetime | None:
    return max((site._articles[i]["modified"] for i in ids), default=None)


def _section_href(name: str, number: int) -> str:
    return f"/section/{name}" if number == 1 else f"/section/{name}?page={number}"


def _embargoed_path(index: int) -> str:
    return f"/private/2024/03/0{index % 10}/embargoed-story-{index}"


def _extra_links(site: OutletSite, index: int) -> str:
    return ('<aside class="more"><h2>More</h2><ul>'
            '<li><a href="/about">About us</a></li>'
            f'<li><a href="/private/draft-{index}">Draft preview</a></li>'
            f'<li><a href="{_embargoed_path(index)}">Embargoed story</a></li>'
            f'<li><a href="mailto:tips@{site.name}.example">Send us a tip</a></li>'
            '<li><a href="javascript:void(0)" onclick="window.print()">Print this page</a></li>'
            f'<li><a href="https://example.com/partners/{site.name}">Our partners</a></li>'
            '</ul></aside>\n')


PAGINATION_STYLES = ("rel", "text", "numbers")


def _pagination(name: str, number: int, last: int, style: str = "rel") -> str:
    links = []
    if style == "numbers":
        links = [f'<a href="{_section_href(name, n)}">{n}</a>' if n != number else f"<b>{n}</b>"
                 for n in range(1, last + 1)]
    else:
        rel = ' rel="prev"' if style == "rel" else ""
        if number > 1:
            links.append(f'<a{rel} href="{_section_href(name, number - 1)}">Previous</a>')
        if number < last:
            links.append(f'<a rel="next" href="{_section_href(name, number + 1)}">Next</a>' if style == "rel"
                         else f'<a class="older" href="{_section_href(name, number + 1)}">Older stories &raquo;</a>')
    return f'<nav class="pagination">{" ".join(links)} <span>Page {number} of {last}</span></nav>\n'


def _render_section(site: OutletSite, base: str, name: str, number: int) -> Page:
    ids = site._section_ids(name)
    last = max(1, math.ceil(len(ids) / site.page_size))
    chunk = ids[(number - 1) * site.page_size: number * site.page_size]
    index = site.sections.index(name) + 1
    body = (f'<h1 class="section-title">{name.title()}</h1>\n{_teasers(site, chunk)}'
            f'{_pagination(name, number, last, site.pagination)}{_extra_links(site, index)}{_most_read(site)}')
    head = f'<link rel="canonical" href="{_esc(base + _section_href(name, number))}">\n'
    page = _document(site, f"{name.title()} | {site.title}", head, body, "section-page")
    return Page(200, page, last_modified=_max_modified(site, chunk))


def _render_home(site: OutletSite, base: str) -> Page:
    ids = site._listed_ids()[:site.page_size]
    body = f'<h1 class="visually-hidden">{_esc(site.title)}</h1>\n{_teasers(site, ids)}{_most_read(site)}'
    page = _document(site, f"{site.title} - News", f'<link rel="canonical" href="{base}/">\n', body, "home-page")
    return Page(200, page, last_modified=_max_modified(site, ids))


def _render_about(site: OutletSite, base: str) -> Page:
    body = (f'<h1>About {_esc(site.title)}</h1>\n<p>{_esc(site.title)} is a fictional outlet generated for '
            'crawler tests.</p>\n' + _extra_links(site, 1))
    return Page(200, _document(site, f"About | {site.title}", "", body, "about-page"))


def _render_private(site: OutletSite, base: str, path: str) -> Page:
    return _simple_page(200, "Internal page", f"Internal draft area ({path}). Crawlers must not fetch this.")


def _render_robots(site: OutletSite, base: str) -> Page:
    text = f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap.xml\n"
    return Page(200, text.encode(), content_type=TEXT_TYPE)


# --------------------------------------------------------------------------- feeds
def _feed_ids(site: OutletSite) -> list[int]:
    return site._listed_ids()[:site.feed_size]


def _rss_item(site: OutletSite, base: str, i: int) -> str:
    a = site._articles[i]
    advertised = base + site._advertised_path(i)
    link = advertised + ("&" if "?" in advertised else "?") + RSS_TRACKING
    return (f'<item><title>{_esc(a["headline"])}</title><link>{_esc(link)}</link>'
            f'<guid isPermaLink="true">{_esc(base + a["path"])}</guid><pubDate>{_http_date(a["published"])}</pubDate>'
            f'<author>{_esc(a["author"])}</author><category>{a["section"].title()}</category>'
            f'<description>{_esc(_summary(a))}</description></item>\n')


def _render_rss(site: OutletSite, base: str) -> Page:
    ids = _feed_ids(site)
    updated = _max_modified(site, ids) or site.start
    text = ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
            f'<title>{_esc(site.title)}</title><link>{base}/</link><description>Latest news from '
            f'{_esc(site.title)}</description><language>en</language><lastBuildDate>{_http_date(updated)}</lastBuildDate>\n'
            + "".join(_rss_item(site, base, i) for i in ids) + "</channel>\n</rss>\n")
    return Page(200, text.encode(), content_type=RSS_TYPE, last_modified=_max_modified(site, ids))


def _atom_entry(site: OutletSite, base: str, i: int) -> str:
    a = site._articles[i]
    return (f'<entry><title>{_esc(a["headline"])}</title><id>tag:{site.name}.example,2024:article-{i}</id>'
            f'<link rel="alternate" type="text/html" href="{_esc(base + site._advertised_path(i))}"/>'
            f'<published>{_iso(a["published"])}</published><updated>{_iso(a["modified"])}</updated>'
            f'<author><name>{_esc(a["author"])}</name></author><summary>{_esc(_summary(a))}</summary></entry>\n')


def _render_atom(site: OutletSite, base: str) -> Page:
    ids = _feed_ids(site)
    updated = _max_modified(site, ids) or site.start
    text = ('<?xml version="1.0" encoding="utf-8"?>\n<feed>\n'
            f'<title>{_esc(site.title)}</title><id>{base}/</id><updated>{_iso(updated)}</updated>\n'
            f'<link rel="self" type="application/atom+xml" href="{base}/atom.xml"/>'
            f'<link rel="alternate" type="text/html" href="{base}/"/>\n'
            + "".join(_atom_entry(site, base, i) for i in ids) + "</feed>\n")
    return Page(200, text.encode(), content_type=ATOM_TYPE, last_modified=_max_modified(site, ids))


def _render_json_feed(site: OutletSite, base: str) -> Page:
    ids = _feed_ids(site)
    items = [{"id": f"{site.name}-{i}", "url": base + site._advertised_path(i),
              "title": site._articles[i]["headline"], "content_text": _summary(site._articles[i]),
              "summary": _summary(site._articles[i]), "date_published": _iso(site._articles[i]["published"]),
              "date_modified": _iso(site._articles[i]["modified"]),
              "authors": [{"name": site._articles[i]["author"]}], "tags": [site._articles[i]["section"]]}
             for i in ids]
    feed = {"title": site.title, "home_page_url": base + "/",
            "feed_url": base + "/feed.json", "language": "en", "items": items}
    body = json.dumps(feed, ensure_ascii=False, indent=1).encode()
    return Page(200, body, content_type=JSON_FEED_TYPE, last_modified=_max_modified(site, ids))


# --------------------------------------------------------------------------- sitemaps
# namespaces of our own (URNs, no hosts): sitemap readers go by the elements' local names
SITEMAP_NS = "urn:newsarchive:test:sitemap"
NEWS_NS = "urn:newsarchive:test:sitemap-news"


def _render_sitemap_index(site: OutletSite, base: str) -> Page:
    listed = site._listed_ids()
    entries = [(f"{base}/sitemaps/news.xml", _max_modified(site, listed[:site.news_sitemap_size]))]
    ascending = listed[::-1]
    for n in range(1, site._sitemap_pages() + 1):
        chunk = ascending[(n - 1) * site.sitemap_page_size: n * site.sitemap_page_size]
        entries.append((f"{base}/sitemaps/articles-{n}.xml", _max_modified(site, chunk)))
    rows = "".join(f"<sitemap><loc>{loc}</loc>" + (f"<lastmod>{_iso(mod)}</lastmod>" if mod else "") + "</sitemap>\n"
                   for loc, mod in entries)
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SITEMAP_NS}">\n{rows}</sitemapindex>\n'
    return Page(200, text.encode(), content_type=XML_TYPE, last_modified=_max_modified(site, listed))


def _render_news_sitemap(site: OutletSite, base: str) -> Page:
    ids = site._listed_ids()[:site.news_sitemap_size]
    rows = []
    for i in ids:
        a = site._articles[i]
        rows.append(f'<url><loc>{_esc(base + a["path"])}</loc><lastmod>{_iso(a["modified"])}</lastmod>'
                    f'<news:news><news:publication><news:name>{_esc(site.title)}</news:name>'
                    '<news:language>en</news:language></news:publication>'
                    f'<news:publication_date>{_iso(a["published"])}</news:publication_date>'
                    f'<news:title>{_esc(a["headline"])}</news:title></news:news></url>\n')
    text = (f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">\n'
            + "".join(rows) + "</urlset>\n")
    return Page(200, text.encode(), content_type=XML_TYPE, last_modified=_max_modified(site, ids))


def _render_sitemap_page(site: OutletSite, base: str, number: int) -> Page:
    ascending = site._listed_ids()[::-1]
    ids = ascending[(number - 1) * site.sitemap_page_size: number * site.sitemap_page_size]
    rows = "".join(f'<url><loc>{_esc(base + site._articles[i]["path"])}</loc>'
                   f'<lastmod>{_iso(site._articles[i]["modified"])}</lastmod></url>\n' for i in ids)
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}">\n{rows}</urlset>\n'
    return Page(200, text.encode(), content_type=XML_TYPE, last_modified=_max_modified(site, ids))


# --------------------------------------------------------------------------- HTTP
def accepts_gzip(accept_encoding: str | None) -> bool:
    """True if an Accept-Encoding header value allows gzip (``gzip`` or ``*``, q > 0)."""
    allowed: dict[str, float] = {}
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                quality = float(match[1])
            except ValueError:
                quality = 0.0
        allowed[coding.strip().lower()] = quality
    if "gzip" in allowed:
        return allowed["gzip"] > 0
    return allowed.get("x-gzip", allowed.get("*", 0.0)) > 0


def _not_modified(page: Page, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110 conditional GET: If-None-Match (weak compare) wins over If-Modified-Since."""
    if page.status != 200:
        return False
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or page.etag in tags or page.etag_gzip in tags
    if if_modified_since and page.last_modified:
        since = _parse_http_date(if_modified_since)
        return since is not None and page.last_modified.replace(microsecond=0) <= since
    return False


def negotiate(page: Page, headers: Any, gzip_enabled: bool) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Final (status, body, headers) for ``page`` given the request headers."""
    if _not_modified(page, headers.get("If-None-Match"), headers.get("If-Modified-Since")):
        use_gzip = gzip_enabled and accepts_gzip(headers.get("Accept-Encoding"))
        out = [("ETag", page.etag_gzip if use_gzip else page.etag)]
        if page.last_modified:
            out.append(("Last-Modified", _http_date(page.last_modified)))
        return 304, b"", out
    body, out = page.body, [("Content-Type", page.content_type)]
    etag = page.etag
    if gzip_enabled:
        out.append(("Vary", "Accept-Encoding"))
        if body and accepts_gzip(headers.get("Accept-Encoding")):
            body, etag = page.gzipped(), page.etag_gzip
            out.append(("Content-Encoding", "gzip"))
    if etag:
        out.append(("ETag", etag))
    if page.last_modified and page.status == 200:
        out.append(("Last-Modified", _http_date(page.last_modified)))
    if page.location:
        out.append(("Location", page.location))
    out.append(("Content-Length", str(len(body))))
    return page.status, body, out


class _OutletHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], site: OutletSite) -> None:
        self.site = site
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)
        self.base_url = f"http://{self.server_address[0]}:{self.server_address[1]}"

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self.connections_lock:
            (self.connections.add if alive else self.connections.discard)(conn)

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # client went away, timeouts
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DemoNews/1.0"
    sys_version = ""

    def version_string(self) -> str:
        """``Server:`` header value."""
        return self.server_version
    disable_nagle_algorithm = True
    timeout = 120
    server: _OutletHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default per-request stderr line."""

    def _serve(self, send_body: bool) -> None:
        site = self.server.site
        page = site.render(self.path, self.server.base_url)
        status, body, headers = negotiate(page, self.headers, site.gzip)
        subset = {k: v for k in LOGGED_HEADERS if (v := self.headers.get(k)) is not None}
        # logged before answering, so a client that has its response sees the entry
        site.log_request(LoggedRequest(self.command, self.path, subset, status, time.time()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)


class SiteServer:
    """Serves each :class:`OutletSite` on its own port (0 = ephemeral) in daemon threads."""

    def __init__(self, sites: list[OutletSite], host: str = "127.0.0.1", ports: Sequence[int] | None = None) -> None:
        if ports is not None and len(ports) != len(sites):
            raise ValueError("need one port per site")
        self.sites, self.host = list(sites), host
        self.ports = list(ports) if ports is not None else [0] * len(self.sites)
        self._servers: list[_OutletHTTPServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Bind every site's port and start serving; sets ``site.base_url``."""
        if self._servers:
            return
        try:
            for site, port in zip(self.sites, self.ports):
                server = _OutletHTTPServer((self.host, port), site)
                self._servers.append(server)
                site.base_url = server.base_url
        except OSError:
            self.stop()
            raise
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"demosite-{server.site.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop serving, close listening sockets and open keep-alive connections."""
        for server, thread in zip(self._servers, self._threads):
            server.shutdown()
            thread.join(timeout=5)
        for server in self._servers:
            server.close_connections()
            server.server_close()
        self._servers, self._threads = [], []

    def __enter__(self) -> SiteServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _site(self, site: OutletSite | int | str) -> OutletSite:
        if isinstance(site, int):
            return self.sites[site]
        if isinstance(site, str):
            return next(s for s in self.sites if s.name == site)
        return site

    def base_url(self, site: OutletSite | int | str) -> str:
        """``http://127.0.0.1:PORT`` of a started site (object, index or name)."""
        found = self._site(site)
        if found not in self.sites or not found.base_url:
            raise ValueError(f"site {found.name!r} is not served by this (started) server")
        return found.base_url

    def outlets_toml(self, sources: Sequence[str] = ("rss", "atom", "sitemap", "sections"),
                     sections: Sequence[str] | None = None, extra: dict[str, Any] | None = None) -> str:
        """Outlets-file TOML for all served sites (see :func:`outlets_toml`)."""
        return outlets_toml([(s, self.base_url(s)) for s in self.sites], sources, sections, extra)


# --------------------------------------------------------------------------- outlets file, static dump
SOURCE_KEYS = {"rss": ("feeds", "/rss.xml"), "atom": ("feeds", "/atom.xml"), "json": ("feeds", "/feed.json"),
               "sitemap": ("sitemaps", "/sitemap.xml"), "news": ("sitemaps", "/sitemaps/news.xml")}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def outlets_toml(entries: Sequence[tuple[OutletSite, str]],
                 sources: Sequence[str] = ("rss", "atom", "sitemap", "sections"),
                 sections: Sequence[str] | None = None, extra: dict[str, Any] | None = None) -> str:
    """TOML ``[[outlets]]`` tables for (site, base URL) pairs.

    ``sources`` picks from ``rss``, ``atom``, ``json`` (feeds), ``sitemap``, ``news``
    (sitemaps) and ``sections``; ``sections`` limits the section names (default: all);
    ``extra`` adds fields (e.g. ``{"recheck": ["1m"]}``) to every outlet.
    """
    unknown = set(sources) - set(SOURCE_KEYS) - {"sections"}
    if unknown:
        raise ValueError(f"unknown sources: {sorted(unknown)}")
    chunks = []
    for site, base in entries:
        base = base.rstrip("/")
        fields: dict[str, Any] = {"name": site.name, "feeds": [], "sitemaps": [], "sections": []}
        for source in sources:
            if source == "sections":
                fields["sections"] += [base + f"/section/{n}" for n in (sections or site.sections)]
            else:
                key, path = SOURCE_KEYS[source]
                fields[key].append(base + path)
        lines = ["[[outlets]]"] + [f"{k} = {_toml_value(v)}" for k, v in fields.items() if v]
        lines.append(r"article_pattern = '/\d{4}/\d{2}/\d{2}/'")
        lines += [f"{k} = {_toml_value(v)}" for k, v in (extra or {}).items()]
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)


def static_file_path(target: str) -> str:
    """Relative file name of a path+query in a static dump.

    ``/`` -> ``index.html``; extensionless paths get ``.html``; ``/section/x?page=2`` ->
    ``section/x.page-2.html``; ``?amp=1`` shares the clean article's file.
    """
    parts = urlsplit(target)
    path = parts.path.strip("/") or "index"
    page = parse_qs(parts.query).get("page", [""])[0]
    if page and path.startswith("section/"):
        path = f"{path}.page-{page}"
    return path if os.path.splitext(path)[1] in (".xml", ".json", ".txt") else path + ".html"


NGINX_SNIPPET = """# nginx server block for a static dump of one demo outlet.
server {{
    listen {port};
    root {root};
    default_type text/html;
    charset utf-8;
    gzip on;
    gzip_types application/xml application/rss+xml application/atom+xml application/feed+json text/plain;
    etag on;
    types {{ text/html html; application/xml xml; application/feed+json json; text/plain txt; }}
    location = /rss.xml {{ types {{ }} default_type application/rss+xml; }}
    location = /atom.xml {{ types {{ }} default_type application/atom+xml; }}
    location /section/ {{
        if ($arg_page) {{ rewrite ^(.*)$ $1.page-$arg_page.html break; }}
        try_files $uri.html =404;
    }}
    location = / {{ try_files /index.html =404; }}
    location / {{ try_files $uri $uri.html =404; }}
}}
"""


def write_static_site(site: OutletSite, directory: str, base_url: str) -> None:
    """Write every page, feed and sitemap of ``site`` as files under ``directory``.

    File names follow :func:`static_file_path`; each file's mtime is its Last-Modified.
    Also writes ``nginx.conf.example`` (``root`` = ``directory``, port from ``base_url``).
    """
    base = base_url.rstrip("/")
    for target in site.all_paths():
        page = site.render(target, base)
        if page.status != 200 or "amp=1" in target:
            continue
        file_path = os.path.join(directory, static_file_path(target))
        os.makedirs(os.path.dirname(file_path), exist_ok=True)
        with open(file_path, "wb") as handle:
            handle.write(page.body)
        if page.last_modified:
            stamp = page.last_modified.timestamp()
            os.utime(file_path, (stamp, stamp))
    port = urlsplit(base).port or 80
    with open(os.path.join(directory, "nginx.conf.example"), "w", encoding="utf-8") as handle:
        handle.write(NGINX_SNIPPET.format(port=port, root=os.path.abspath(directory)))


# --------------------------------------------------------------------------- command line
def make_sites(n_outlets: int, n_articles: int, seed: int = 0, **options: Any) -> list[OutletSite]:
    """``n_outlets`` sites with the default names (``outlet-N`` beyond the list)."""
    names = [DEFAULT_OUTLET_NAMES[i] if i < len(DEFAULT_OUTLET_NAMES) else f"outlet-{i + 1}"
             for i in range(n_outlets)]
    return [OutletSite(name, n_articles=n_articles, seed=seed + i, **options) for i, name in enumerate(names)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.demosite", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve fake outlets until Ctrl-C/SIGTERM")
    static = commands.add_parser("static", help="write fake outlets as static files")
    for sub in (serve, static):
        sub.add_argument("--outlets", type=int, default=2)
        sub.add_argument("--articles", type=int, default=20)
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--feed-size", type=int, default=50)
        sub.add_argument("--sources", default="rss,atom,sitemap,sections",
                         help="comma list of rss,atom,json,sitemap,news,sections")
        sub.add_argument("--toml-out", help="write the outlets TOML here")
        sub.add_argument("--start", type=_date_arg, default=None,
                         help="publication date of article 1 (YYYY-MM-DD, UTC); default: recent dates")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port-base", type=int, default=0, help="first port (0 = ephemeral ports)")
    serve.add_argument("--no-gzip", action="store_true")
    static.add_argument("--out", required=True, help="output directory (one subdirectory per outlet)")
    static.add_argument("--port-base", type=int, default=8701)
    static.add_argument("--base-url-template", default="http://127.0.0.1:{port}")
    return parser


def _date_arg(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _write_toml(text: str, path: str | None) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"outlets file: {path}", flush=True)


def _serve_command(args: argparse.Namespace) -> int:
    sites = make_sites(args.outlets, args.articles, args.seed, gzip=not args.no_gzip,
                       feed_size=args.feed_size, start=args.start)
    ports = [args.port_base + i if args.port_base else 0 for i in range(len(sites))]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with SiteServer(sites, host=args.host, ports=ports) as server:
        for site in sites:
            print(f"{site.name}: {server.base_url(site)}", flush=True)
        _write_toml(server.outlets_toml(args.sources.split(",")), args.toml_out)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


def _static_command(args: argparse.Namespace) -> int:
    sites = make_sites(args.outlets, args.articles, args.seed, gzip=False, feed_size=args.feed_size,
                       start=args.start)
    entries = []
    for index, site in enumerate(sites):
        base = args.base_url_template.format(port=args.port_base + index)
        write_static_site(site, os.path.join(args.out, site.name), base)
        entries.append((site, base))
        print(f"{site.name}: {os.path.join(args.out, site.name)} -> {base}", flush=True)
    _write_toml(outlets_toml(entries, args.sources.split(",")), args.toml_out or os.path.join(args.out, "outlets.toml"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``serve`` (live servers) or ``static`` (files for nginx)."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve_command(args)
    return _static_command(args)


if __name__ == "__main__":
    sys.exit(main())
