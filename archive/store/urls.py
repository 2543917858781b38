"""URL canonicalisation and outlet origins (no network, no Scrapy)."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
    "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
    "wickedid", "twclid", "ncid", "cmpid", "ocid", "sr_share", "rss", "ref_src", "s_cid",
})
TRACKING_PREFIXES = ("utm_", "pk_", "piwik_", "mtm_", "at_")
DEFAULT_PORTS = {"http": 80, "https": 443}
FETCHABLE_SCHEMES = frozenset({"http", "https"})
_ABSOLUTE_HTTP = re.compile(r"https?://", re.I).match


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the reader, never select content."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str, base: str | None = None) -> str | None:
    """Absolute http(s) URL without fragment, tracking parameters or default port.

    Returns None for anything that is not an http(s) URL (``mailto:``, ``javascript:``,
    ``file:``, ``ftp:``, garbage), so callers never follow such links.
    """
    url = (url or "").strip()
    if base and not _ABSOLUTE_HTTP(url):  # (urljoin leaves an absolute URL as it is, slowly)
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in FETCHABLE_SCHEMES or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = parts.query
    if query:
        query = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not is_tracking_param(k)])
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def origin(url: str) -> str:
    """The origin of ``url``: ``scheme://host:port`` with the port always written."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"
