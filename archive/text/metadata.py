"""Article metadata from a parsed page: headline, authors, dates, language, canonical URL, section.

Sources, most trusted first:

- JSON-LD (``<script type="application/ld+json">``, ``@graph`` and ``@id`` references
  followed) of an Article-like object (NewsArticle, BlogPosting, ReportageNewsArticle...;
  a WebPage only when there is no article object);
- meta tags: Open Graph / ``article:*``, Dublin Core, ``name="date"``, schema.org
  microdata (``itemprop="datePublished"``) and the like;
- the URL (``/2024/05/17/``, ``/2024-05-17/``, ``/20240517/``, ``/2024/may/17/``).

Dates come out in UTC as ``YYYY-MM-DDTHH:MM:SSZ`` when the source gives a time with a
UTC offset, and as ``YYYY-MM-DD`` when it gives a date only or a time without offset
(a local time of unknown zone is not turned into a wrong UTC time). Each date comes
with the name of its source: ``"jsonld"``, ``"meta"`` or ``"url"``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from ..store.timefmt import ISO_UTC
from .boilerplate import collapse_space, text_key

__all__ = ["Metadata", "extract_metadata", "normalize_date", "date_from_url", "guess_language"]


@dataclass
class Metadata:
    title: str = ""
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    published_source: str | None = None
    modified: str | None = None
    modified_source: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    section: str | None = None
    description: str | None = None
    site_name: str | None = None


# ----------------------------------------------------------------------------- JSON-LD

_ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "reviewnewsarticle", "backgroundnewsarticle", "askpublicnewsarticle", "blogposting", "liveblogposting",
    "socialmediaposting", "scholarlyarticle", "techarticle", "report", "medicalscholarlyarticle", "review",
}
_PAGE_TYPES = {"webpage", "itempage", "collectionpage", "aboutpage"}


def _jsonld_objects(tree) -> list[dict]:
    """All JSON objects of the page's JSON-LD scripts, flattened (``@graph`` included)."""
    objects: list[dict] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        raw = script.text.strip()
        if raw.startswith("<!--"):
            raw = raw[4:]
        if raw.endswith("-->"):
            raw = raw[:-3]
        raw = raw.strip().rstrip(";")
        try:
            data = json.loads(raw)
        except ValueError:
            try:  # control characters inside strings are a common authoring error
                data = json.loads(raw, strict=False)
            except ValueError:
                continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                objects.append(item)
                graph = item.get("@graph")
                if isinstance(graph, (list, dict)):
                    stack.append(graph)
                main = item.get("mainEntity")
                if isinstance(main, (list, dict)):
                    stack.append(main)
    return objects


def _types(obj: dict) -> set[str]:
    kind = obj.get("@type")
    if isinstance(kind, str):
        return {kind.lower()}
    if isinstance(kind, list):
        return {k.lower() for k in kind if isinstance(k, str)}
    return set()


def _ld_article(objects: list[dict]) -> dict | None:
    for obj in objects:
        if _types(obj) & _ARTICLE_TYPES:
            return obj
    for obj in objects:
        if _types(obj) & _PAGE_TYPES and (obj.get("datePublished") or obj.get("headline")):
            return obj
    return None


def _resolve(value, by_id: dict):
    if isinstance(value, dict) and set(value) <= {"@id", "@type"} and value.get("@id") in by_id:
        return by_id[value["@id"]]
    return value


def _ld_names(value, by_id: dict) -> list[str]:
    """Author names of a JSON-LD ``author``; organisations only when no person is named."""
    people, organisations = [], []
    for item in value if isinstance(value, list) else [value]:
        item = _resolve(item, by_id)
        if isinstance(item, str):
            people.append(item)
        elif isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, list):
                name = name[0] if name else None
            if not isinstance(name, str) and (item.get("givenName") or item.get("familyName")):
                name = f"{item.get('givenName') or ''} {item.get('familyName') or ''}"
            if isinstance(name, str):
                (organisations if _types(item) & {"organization", "newsmediaorganization"} else people).append(name)
    return people or organisations


def _first_str(value) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    return value.strip() if isinstance(value, str) and value.strip() else None


# ----------------------------------------------------------------------------- dates

_ISO = re.compile(
    r"^\s*(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T\s](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)?)?\s*$", re.I)
_MONTHS = {m: i for i, names in enumerate((
    ("jan", "january", "janvier", "januar", "enero", "gennaio", "janeiro"),
    ("feb", "february", "février", "fevrier", "februar", "febrero", "febbraio", "fevereiro"),
    ("mar", "march", "mars", "märz", "marzo", "março"),
    ("apr", "april", "avril", "abril", "aprile"),
    ("may", "mai", "mayo", "maggio", "maio"),
    ("jun", "june", "juin", "juni", "junio", "giugno", "junho"),
    ("jul", "july", "juillet", "juli", "julio", "luglio", "julho"),
    ("aug", "august", "août", "aout", "agosto"),
    ("sep", "sept", "september", "septembre", "septiembre", "settembre", "setembro"),
    ("oct", "october", "octobre", "oktober", "octubre", "ottobre", "outubro"),
    ("nov", "november", "novembre", "noviembre", "novembro"),
    ("dec", "december", "décembre", "decembre", "dezember", "diciembre", "dicembre", "dezembro"),
), 1) for m in names}
_TEXT_DATE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\.?\s+([^\W\d_]{3,10})\.?,?\s+(\d{4})|"
                        r"([^\W\d_]{3,10})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})", re.U)
_MIN_YEAR = 1990


def _plausible(year: int) -> bool:
    return _MIN_YEAR <= year <= datetime.now(timezone.utc).year + 1


def normalize_date(value) -> str | None:
    """A date/time string -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC) or ``YYYY-MM-DD``; None if unparsable."""
    text = collapse_space(value)
    if not text or len(text) > 80:
        return None
    match = _ISO.match(text)
    if match:
        year, month, day, hour, minute, second, zone = match.groups()
        try:
            day_value = date(int(year), int(month), int(day))
        except ValueError:
            return None
        if not _plausible(day_value.year):
            return None
        if hour is None or zone is None:
            return day_value.isoformat()
        try:
            moment = datetime(day_value.year, day_value.month, day_value.day, int(hour), int(minute),
                              int(second or 0), tzinfo=_zone(zone))
        except ValueError:
            return day_value.isoformat()
        return moment.astimezone(timezone.utc).strftime(ISO_UTC)
    if re.match(r"^\d{10}(?:\d{3})?$", text):  # Unix time (seconds or milliseconds)
        seconds = int(text[:10])
        moment = datetime.fromtimestamp(seconds, timezone.utc)
        return moment.strftime(ISO_UTC) if _plausible(moment.year) else None
    try:  # RFC 2822: "Tue, 19 Nov 2019 08:57:40 GMT"
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is not None and _plausible(moment.year):
        if moment.tzinfo is None:
            return moment.date().isoformat()
        return moment.astimezone(timezone.utc).strftime(ISO_UTC)
    match = _TEXT_DATE.search(text)
    if match:  # "19 November 2019", "Nov. 19, 2019": a date only
        if match.group(1):
            day, month_name, year = match.group(1), match.group(2), match.group(3)
        else:
            month_name, day, year = match.group(4), match.group(5), match.group(6)
        month = _MONTHS.get(month_name.lower())
        if month:
            try:
                day_value = date(int(year), month, int(day))
            except ValueError:
                return None
            return day_value.isoformat() if _plausible(day_value.year) else None
    return None


def _zone(zone: str) -> timezone:
    zone = zone.upper()
    if zone in ("Z", "UTC", "GMT"):
        return timezone.utc
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


_URL_DATES = (
    re.compile(r"/((?:19|20)\d\d)/(\d{1,2})/(\d{1,2})(?:/|$|[-_])"),
    re.compile(r"/((?:19|20)\d\d)-(\d{2})-(\d{2})(?:/|$|[-_.])"),
    re.compile(r"/((?:19|20)\d\d)(\d{2})(\d{2})(?:/|$|[-_.])"),
    re.compile(r"/((?:19|20)\d\d)/([a-z]{3,9})/(\d{1,2})(?:/|$)", re.I),
)


def date_from_url(url: str | None) -> str | None:
    """``YYYY-MM-DD`` from a URL path like ``/2024/05/17/slug`` (None if there is none)."""
    if not url:
        return None
    path = urlsplit(url).path
    for pattern in _URL_DATES:
        match = pattern.search(path)
        if not match:
            continue
        year, month, day = match.groups()
        month_number = int(month) if month.isdigit() else _MONTHS.get(month.lower())
        if not month_number:
            continue
        try:
            value = date(int(year), month_number, int(day))
        except ValueError:
            continue
        if _plausible(value.year):
            return value.isoformat()
    return None


# ----------------------------------------------------------------------------- meta tags

_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "og:published_time", "article:published",
    "published_time", "datepublished", "date", "pubdate", "publishdate", "publish-date", "publish_date",
    "publication_date", "publication-date", "sailthru.date", "parsely-pub-date", "dc.date", "dc.date.issued",
    "dc.date.created", "dcterms.date", "dcterms.issued", "dcterms.created", "citation_publication_date",
    "citation_date", "article.published", "article_date_original", "original-publish-date",
    "rnews:datepublished", "cxenseparse:recs:publishtime", "date.release", "dc.date.published",
)
_MODIFIED_META = (
    "article:modified_time", "og:article:modified_time", "article:updated_time", "og:updated_time",
    "modified_time", "datemodified", "last-modified", "lastmod", "dcterms.modified", "dc.date.modified",
    "article.updated", "sailthru.lastmodified", "revised", "updated_time",
)
_AUTHOR_META = ("author", "article:author", "byl", "parsely-author", "sailthru.author", "dc.creator",
                "dcterms.creator", "citation_author", "og:article:author", "twitter:creator:name")
_SECTION_META = ("article:section", "og:article:section", "section", "parsely-section", "sailthru.section",
                 "article.section", "cxenseparse:recs:articlesection")


_AUTHOR_XPATH = ('//*[@rel="author"] | //*[@itemprop="author"]//*[@itemprop="name"]'
                 ' | //*[@itemprop="author"][not(.//*[@itemprop="name"])]')
_BYLINE_XPATH = ('//*[contains(concat(" ", normalize-space(@class), " "), " byline ")]//a'
                 ' | //*[contains(@class, "author-name") or contains(@class, "author__name")]')


def _meta_map(tree) -> dict[str, list[str]]:
    """``<meta>`` name/property/itemprop/http-equiv (lowercased) -> contents, in page order."""
    metas: dict[str, list[str]] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content is None or not content.strip():
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = meta.get(attr)
            if key:
                metas.setdefault(key.strip().lower(), []).append(content.strip())
    return metas


def _first_meta(metas: dict[str, list[str]], names) -> str | None:
    for name in names:
        for value in metas.get(name, ()):
            if value:
                return value
    return None


def _itemprop_date(tree, prop: str) -> str | None:
    for el in tree.xpath(f'//*[@itemprop="{prop}"]'):
        value = el.get("datetime") or el.get("content") or el.text_content()
        normalized = normalize_date(value)
        if normalized:
            return normalized
    return None


# ----------------------------------------------------------------------------- titles, authors

_TITLE_SEPARATORS = re.compile(r"(\s+(?:\||–|—|-|::|·|•|»|/)\s+)")


def clean_title(title: str, site_names: set[str]) -> str:
    """Strip " | Site name" (or "Site name - ", " | Section | Site") from a headline."""
    title = collapse_space(title)
    pieces = _TITLE_SEPARATORS.split(title)  # part, separator, part, ...
    if len(pieces) < 3:
        return title
    parts, seps = pieces[0::2], pieces[1::2]
    keys = set()
    for name in site_names:
        if name:
            keys.add(text_key(name))
            keys.add(text_key(name).replace(" ", ""))

    def is_site(part: str) -> bool:
        key = text_key(part)
        return key in keys or key.replace(" ", "") in keys

    changed = True
    while len(parts) > 1 and changed:
        changed = False
        if is_site(parts[-1]):
            parts, seps, changed = parts[:-1], seps[:-1], True
        elif is_site(parts[0]):
            parts, seps, changed = parts[1:], seps[1:], True
        elif seps and seps[-1].strip() == "|" and len(parts[-1].split()) <= 4 and len(" ".join(parts[:-1]).split()) >= 4:
            parts, seps, changed = parts[:-1], seps[:-1], True  # "Headline | Section | Site"
    result = parts[0]
    for sep, part in zip(seps, parts[1:]):
        result += sep + part
    return result.strip() or title


_BY = re.compile(r"^\s*(?:(?:analysis|opinion|commentary|story|text|words|reporting|interview)\s+)?"
                 r"(?:by|von|par|por|di|door|от|автор:?)\s+", re.I)
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\||&|\band\b|\bund\b|\bet\b|\bи\b)\s*", re.I)
_ROLE = re.compile(r"\b(?:writer|editor|correspondent|reporter|staff|contributor|columnist|at-large|journalist|"
                   r"producer|photographer|analyst|chief|bureau|senior|desk|news|press|wire|agency)\b", re.I)


def clean_authors(names, site_names: set[str] | None = None) -> list[str]:
    """Author names: "By " and job titles dropped, lists split, URLs left out, deduplicated."""
    sites = {text_key(s) for s in site_names or () if s}
    result: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = _BY.sub("", collapse_space(raw))
        if not name or "://" in name or ("@" in name and " " not in name):
            continue
        candidates = []
        for part in _AUTHOR_SPLIT.split(name):
            pieces = [p.strip() for p in part.split(",")]
            if len(pieces) == 2 and all(len(p.split()) == 1 for p in pieces):
                candidates.append(part)  # "Doe, Jane"
                continue
            # "Jane Doe, AP Sports Writer", "Jane Doe, CNN": a name, then a role or an outlet
            people = [p for p in pieces if p and len(p.split()) >= 2 and not _ROLE.search(p)
                      and not any(text_key(p) == s or text_key(p).startswith(s + " ") for s in sites)]
            candidates.extend(people or pieces[:1])
        for candidate in candidates:
            candidate = _BY.sub("", candidate).strip(" ,;|-–—")
            if not candidate or len(candidate) > 80 or any(ch.isdigit() for ch in candidate):
                continue
            if candidate.isupper() and len(candidate) > 3:
                candidate = candidate.title()
            key = candidate.casefold()
            if key not in seen:
                seen.add(key)
                result.append(candidate)
    return result


# ----------------------------------------------------------------------------- language

def _lang_code(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].split(",")[0].strip().lower()
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


_SCRIPT_LANGUAGES = (
    (re.compile(r"[\u3040-\u30ff]"), "ja"), (re.compile(r"[\uac00-\ud7af]"), "ko"),
    (re.compile(r"[\u4e00-\u9fff]"), "zh"), (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u0370-\u03ff]"), "el"), (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0600-\u06ff]"), "ar"), (re.compile(r"[\u0900-\u097f]"), "hi"),
    (re.compile(r"[\u0530-\u058f]"), "hy"), (re.compile(r"[\u10a0-\u10ff]"), "ka"),
)
_STOPLIST_LANGUAGES = {
    "English": "en", "German": "de", "French": "fr", "Spanish": "es", "Italian": "it", "Portuguese": "pt",
    "Dutch": "nl", "Swedish": "sv", "Danish": "da", "Norwegian_Bokmal": "nb", "Finnish": "fi", "Polish": "pl",
    "Czech": "cs", "Slovak": "sk", "Hungarian": "hu", "Romanian": "ro", "Turkish": "tr", "Indonesian": "id",
    "Malay": "ms", "Croatian": "hr", "Serbian": "sr", "Slovenian": "sl", "Lithuanian": "lt", "Latvian": "lv",
    "Estonian": "et", "Catalan": "ca", "Russian": "ru", "Ukrainian": "uk", "Bulgarian": "bg", "Vietnamese": "vi",
    "Tagalog": "tl", "Swahili": "sw", "Afrikaans": "af", "Icelandic": "is", "Galician": "gl", "Basque": "eu",
}
_STOPLISTS: dict[str, frozenset] | None = None


def _stoplists() -> dict[str, frozenset]:
    global _STOPLISTS
    if _STOPLISTS is None:
        lists: dict[str, frozenset] = {}
        try:
            from justext import get_stoplist
        except ImportError:  # pragma: no cover - justext comes with trafilatura
            get_stoplist = None
        for name, code in _STOPLIST_LANGUAGES.items():
            try:
                lists[code] = frozenset(get_stoplist(name)) if get_stoplist else frozenset()
            except (ValueError, OSError):
                continue
        _STOPLISTS = lists
    return _STOPLISTS


def guess_language(text: str) -> str | None:
    """A rough guess from the text: the script, then the share of each language's stop words."""
    sample = text[:3000]
    if not sample.strip():
        return None
    letters = sum(1 for ch in sample if ch.isalpha())
    if not letters:
        return None
    kana = len(_SCRIPT_LANGUAGES[0][0].findall(sample))
    for pattern, code in _SCRIPT_LANGUAGES:
        count = len(pattern.findall(sample))
        if code == "zh" and kana:
            continue  # Japanese mixes kanji with kana
        if count >= 0.2 * letters:
            return code
    words = re.findall(r"[^\W\d_]+", sample.casefold())[:400]
    if len(words) < 5:
        return None
    best, best_hits = None, 0
    for code, stops in _stoplists().items():
        hits = sum(1 for w in words if w in stops)
        if hits > best_hits:
            best, best_hits = code, hits
    return best if best_hits >= 0.15 * len(words) else None


# ----------------------------------------------------------------------------- main

def extract_metadata(tree, url: str | None = None) -> Metadata:
    """Everything but the body, from a parsed page (an lxml.html tree, left unchanged)."""
    meta = Metadata()
    metas = _meta_map(tree)
    objects = _jsonld_objects(tree)
    by_id = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str)}
    article = _ld_article(objects)

    # canonical URL (also the base for relative URLs when no page URL is given)
    base = url
    canonical = next((h.strip() for h in tree.xpath('//link[@rel="canonical"]/@href') if h.strip()), None)
    if canonical is None:
        canonical = _first_meta(metas, ("og:url",))
    if canonical:
        canonical = urljoin(base or "", canonical)
        if urlsplit(canonical).scheme in ("http", "https"):
            meta.canonical_url = canonical
    base = base or meta.canonical_url

    # site name and description
    site_names = set()
    publisher = _resolve(article.get("publisher"), by_id) if article else None
    for value in (_first_meta(metas, ("og:site_name",)), _first_meta(metas, ("application-name",)),
                  _first_meta(metas, ("twitter:site",)),
                  _first_str(publisher.get("name")) if isinstance(publisher, dict) else None):
        if value:
            site_names.add(value.lstrip("@"))
    host = urlsplit(base or "").hostname or ""
    if host:
        labels = [x for x in host.split(".") if x not in ("www", "m", "amp", "edition", "news")]
        if labels:
            site_names.add(labels[0])
    meta.site_name = _first_meta(metas, ("og:site_name",))
    meta.description = _first_meta(metas, ("og:description", "description", "twitter:description"))

    # headline: og:title, JSON-LD headline, first <h1>, twitter:title, <title>
    h1 = next(tree.iter("h1"), None)
    h1_text = collapse_space(h1.text_content()) if h1 is not None else ""
    title_tag = collapse_space(tree.findtext(".//title"))
    candidates = [
        _first_meta(metas, ("og:title",)),
        _first_str(article.get("headline") or article.get("name")) if article else None,
        h1_text if h1_text and (not title_tag or text_key(h1_text) in text_key(title_tag)
                                or len(h1_text.split()) >= 4) else None,
        _first_meta(metas, ("twitter:title",)),
        title_tag,
    ]
    for candidate in candidates:
        if candidate and collapse_space(candidate):
            meta.title = clean_title(candidate, site_names)
            break

    # authors
    authors: list[str] = []
    if article and article.get("author"):
        authors = clean_authors(_ld_names(article["author"], by_id), site_names)
    if not authors:
        values = []
        for name in _AUTHOR_META:
            values.extend(metas.get(name, ()))
        authors = clean_authors(values, site_names)
    if not authors:
        authors = clean_authors([collapse_space(el.text_content()) for el in tree.xpath(_AUTHOR_XPATH)[:5]], site_names)
    if not authors:
        authors = clean_authors([collapse_space(el.text_content()) for el in tree.xpath(_BYLINE_XPATH)[:3]], site_names)
    meta.authors = authors

    # dates: JSON-LD, meta tags, the URL
    for attr, ld_key, meta_names, prop in (("published", "datePublished", _PUBLISHED_META, "datePublished"),
                                           ("modified", "dateModified", _MODIFIED_META, "dateModified")):
        value = source = None
        if article:
            value = normalize_date(_first_str(article.get(ld_key)))
            if value is None and attr == "published":
                value = normalize_date(_first_str(article.get("dateCreated")))
            source = "jsonld" if value else None
        if value is None:
            for name in meta_names:
                for raw in metas.get(name, ()):
                    value = normalize_date(raw)
                    if value:
                        break
                if value:
                    break
            if value is None:
                value = _itemprop_date(tree, prop)
            source = "meta" if value else None
        if value is None and attr == "published":
            value = date_from_url(url) or date_from_url(meta.canonical_url)
            source = "url" if value else None
        setattr(meta, attr, value)
        setattr(meta, f"{attr}_source", source)

    # language: <html lang>, og:locale, Content-Language (the body's text is the caller's fallback)
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    meta.language = (_lang_code(root.get("lang") or root.get("xml:lang")
                                or root.get("{http://www.w3.org/XML/1998/namespace}lang"))
                     or _lang_code(_first_meta(metas, ("og:locale",)))
                     or _lang_code(_first_meta(metas, ("content-language", "language", "dc.language")))
                     or (_lang_code(_first_str(article.get("inLanguage"))) if article else None))

    # section: article:section, JSON-LD articleSection, breadcrumb
    section = _first_meta(metas, _SECTION_META)
    if not section and article:
        section = _first_str(article.get("articleSection"))
    if not section:
        section = _breadcrumb_section(objects, tree, meta.title, meta.canonical_url or url)
    meta.section = collapse_space(section) or None
    return meta


def _breadcrumb_section(objects: list[dict], tree, title: str, page_url: str | None) -> str | None:
    names: list[tuple[str, str | None]] = []
    for obj in objects:
        if "breadcrumblist" in _types(obj):
            items = obj.get("itemListElement") or []
            if isinstance(items, dict):
                items = [items]
            ordered = sorted((i for i in items if isinstance(i, dict)),
                             key=lambda i: i.get("position") if isinstance(i.get("position"), int) else 0)
            for item in ordered:
                target = item.get("item")
                name = item.get("name") or (target.get("name") if isinstance(target, dict) else None)
                link = target.get("@id") if isinstance(target, dict) else target if isinstance(target, str) else None
                if isinstance(name, str) and name.strip():
                    names.append((collapse_space(name), link))
            break
    if not names:
        for crumbs in tree.xpath('//*[contains(@class, "breadcrumb") or contains(@itemtype, "BreadcrumbList")]')[:1]:
            names = [(collapse_space(a.text_content()), a.get("href")) for a in crumbs.iter("a") if collapse_space(a.text_content())]
    title_key = text_key(title) if title else ""
    page = (page_url or "").rstrip("/")
    names = [(n, link) for n, link in names
             if text_key(n) not in ("home", "homepage", "start", "главная", "accueil", "inicio", "startseite")
             and not (title_key and text_key(n) == title_key) and not (link and page and link.rstrip("/") == page)]
    return names[-1][0] if names else None
