"""A hostile news outlet on 127.0.0.1 for tests (stdlib only).

One outlet, :class:`HostileSite`, whose feeds list a few good articles next to every
kind of bad input a crawler meets in the wild: broken, malicious and odd feeds, and
pages that fail in every way a server can fail (5xx, 4xx, redirect loops, long redirect
chains, a server that answers too late, a connection reset in the middle of the body,
empty and mislabelled pages, a 50 MB page, a gzip bomb, a windows-1251 page with its
charset only in ``<meta>``, and links with other schemes than http(s)).

Every case has its own path; :attr:`HostileSite.cases` says what a well-behaved crawler
does with it (the tests assert exactly that). Good articles are a ``<h1>`` and three
``<p>`` paragraphs of distinct sentences; :meth:`HostileSite.expected_text` gives their
ground truth.

Big bodies are streamed in 64 KiB chunks; the gzip bomb (about 1 MB of gzip that
inflates to 1 GiB) is built once per process from one repeated deflate block.
"""
from __future__ import annotations

import random
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit


CHUNK = 64 * 1024
BIG_BYTES = 50 * 1024 * 1024
BOMB_INFLATED = 1 << 30
SLOW_SECONDS = 10.0
ROBOTS = "User-agent: *\nDisallow: /private/\n"
REFRESH_PAGE = ("<!DOCTYPE html><html><head><title>Moved</title>"
                "<META HTTP-EQUIV=\"Refresh\" CONTENT=\"0; URL=/2024/06/16/refreshed\"></head>"
                "<body><p>This story has moved.</p></body></html>")

# ----------------------------------------------------------------------------- text
_SUBJECTS = """harbor council|village school|county library|river ferry|railway museum|coastal clinic|
northern orchard|valley bakery|city orchestra|island airport|district court|regional hospital|
old lighthouse|public garden|wheat farmers|station workers|local choir|tenant union""".replace("\n", "").split("|")
_VERBS = """approved|postponed|inspected|celebrated|questioned|expanded|repaired|reviewed|welcomed|
measured|restored|mapped|funded|debated|rejected|announced""".replace("\n", "").split("|")
_OBJECTS = """a new timetable|the winter budget|a longer platform|the flood barrier|an evening market|
the reading room|a wider bridge|the harvest festival|a second turbine|the parking fees|
the summer schedule|a small exhibition|the old warehouse|a quieter road|the water pipeline""".replace("\n", "").split("|")
_WHEN = """on Monday|after a long debate|before the storm|during the spring audit|late on Friday|
after the election|ahead of the holidays|within a week|despite the rain|at a crowded meeting""".replace("\n", "").split("|")
_TAILS = """and residents asked for a second vote|while the mayor promised a review|so the work may finish by autumn|
although several tenants disagreed|and the report will be public next month|after engineers counted the costs|
while volunteers painted the fences|and the numbers surprised the committee""".replace("\n", "").split("|")


def _sentence(rng: random.Random, token: str) -> str:
    return (f"The {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_WHEN)} "
            f"{rng.choice(_TAILS)} (ref {token}).")


def article_content(slug: str) -> tuple[str, list[str]]:
    """(headline, three paragraphs) of the good article ``slug``; distinct per slug."""
    rng = random.Random(slug)
    token = f"{slug}-{rng.randrange(10**6):06d}"
    headline = f"{rng.choice(_SUBJECTS).title()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} ({slug})"
    paragraphs = [" ".join(_sentence(rng, f"{token}-{i}{j}") for j in range(3)) for i in range(3)]
    return headline, paragraphs


CYRILLIC_HEADLINE = "Совет гавани утвердил новое расписание паромов"
CYRILLIC_PARAGRAPHS = [
    "Совет гавани во вторник утвердил новое расписание паромов после долгого обсуждения зимних переправ. "
    "Депутаты спорили почти три часа.",
    "Жители острова просили о более раннем утреннем рейсе, чтобы школьники успевали к началу занятий. "
    "Их поддержали учителя и врачи поликлиники.",
    "Новое расписание начнёт действовать в следующем месяце, а весной совет снова посчитает пассажиров. "
    "Цены на билеты не изменятся.",
]

NON_HTTP_LINKS = ("javascript:alert(document.cookie)", "mailto:desk@hostile.example",
                  "file:///etc/passwd", "ftp://127.0.0.1:{port}/2024/05/10/ftp-article")


def article_html(headline: str, paragraphs: list[str], extra: str = "", charset: str = "utf-8",
                 meta_charset: bool = True) -> str:
    meta = f'<meta charset="{charset}">' if meta_charset else ""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html>\n<html><head>{meta}<title>{escape(headline)}</title></head>\n"
            f"<body>\n<h1>{escape(headline)}</h1>\n{body}\n{extra}</body></html>\n")


# ----------------------------------------------------------------------------- gzip bomb
_BOMB: bytes | None = None
_BOMB_LOCK = threading.Lock()


def gzip_bomb() -> bytes:
    """About 1 MB of gzip (one member) that inflates to 1 GiB of zero bytes."""
    global _BOMB
    with _BOMB_LOCK:
        if _BOMB is None:
            mib = bytes(1 << 20)
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            # after a full flush the compressor restarts from scratch: every MiB of zeros
            # compresses to the same bytes, so one block repeated makes the whole stream
            block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
            end = compressor.flush(zlib.Z_FINISH)
            crc = 0
            for _ in range(BOMB_INFLATED >> 20):
                crc = zlib.crc32(mib, crc)
            header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
            _BOMB = header + block * (BOMB_INFLATED >> 20) + end + struct.pack("<II", crc, BOMB_INFLATED & 0xFFFFFFFF)
        return _BOMB


# ----------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One hostile (or good) input and what a well-behaved crawler does with it.

    ``expect``: ``archived`` (a text version exists), ``error`` (counted under
    ``kind`` in the run's errors), ``skipped`` (counted under ``kind`` in skipped),
    ``not_followed`` (never requested), ``archived_or_refused`` (either the listed
    articles are archived, or the feed is refused as ``kind``).
    """

    name: str
    path: str            # path (and query) of the page or feed
    expect: str
    kind: str | None = None
    listed_in: str = "good"  # which feed lists it ("" for feeds themselves)
    note: str = ""


class HostileSite:
    """Serves the hostile outlet; records every request (method, path, time)."""

    def __init__(self, secret_file: str | None = None, slow_seconds: float = SLOW_SECONDS,
                 big_bytes: int = BIG_BYTES, host: str = "127.0.0.1"):
        self.secret_file = secret_file
        self.slow_seconds = slow_seconds
        self.big_bytes = big_bytes
        self.host = host
        self.base_url = ""
        self.port = 0
        self._log: list[tuple[str, str, float]] = []
        self._raw: list[str] = []
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler, str], None]] = {}
        self.good: dict[str, str] = {}  # path -> slug of every good article the site serves
        self.cases: list[Case] = []
        self._define()

    # ------------------------------------------------------------------ definition
    def _article(self, path: str, slug: str | None = None, **options) -> str:
        slug = slug or path.rstrip("/").rsplit("/", 1)[-1]
        self.good[path] = slug
        self.routes[path] = lambda h, target, s=slug, o=options: self._send_article(h, s, **o)
        return path

    def _define(self) -> None:
        add, article = self.cases.append, self._article
        self.routes["/robots.txt"] = lambda h, t: self._send(h, 200, ROBOTS.encode(), "text/plain")
        # -- good articles; good-1 links to an article listed nowhere (followed) and to non-http URLs
        for n in range(1, 5):
            add(Case(f"good-{n}", article(f"/2024/05/01/good-{n}", links=(n == 1)), "archived"))
        add(Case("linked-only", article("/2024/05/11/linked-only"), "archived", listed_in="",
                 note="listed nowhere, linked from good-1"))
        add(Case("robots", "/private/2024/05/01/secret", "skipped", "robots"))
        self.routes["/private/2024/05/01/secret"] = lambda h, t: self._send_article(h, "private")
        # -- pages
        add(Case("flaky-503", article("/2024/06/01/flaky-503", fail_first=2), "archived",
                 note="503 twice, then 200"))
        add(Case("not-found", "/2024/06/02/not-found", "error", "http_404"))
        self.routes["/2024/06/02/not-found"] = lambda h, t: self._send(h, 404, b"<html><body><h1>Not found</h1></body></html>")
        add(Case("gone", "/2024/06/03/gone", "error", "http_410"))
        self.routes["/2024/06/03/gone"] = lambda h, t: self._send(h, 410, b"<html><body><h1>Gone</h1></body></html>")
        add(Case("redirect-loop", "/2024/06/04/loop-a", "error", "redirect_loop"))
        self.routes["/2024/06/04/loop-a"] = lambda h, t: self._redirect(h, "/2024/06/04/loop-b")
        self.routes["/2024/06/04/loop-b"] = lambda h, t: self._redirect(h, "/2024/06/04/loop-a")
        add(Case("redirect-chain", "/2024/06/05/chain-0", "archived", note="5 redirects, then the article"))
        for hop in range(5):
            self.routes[f"/2024/06/05/chain-{hop}"] = (
                lambda h, t, nxt=f"/2024/06/05/chain-{hop + 1}", code=301 if hop % 2 else 302:
                self._redirect(h, nxt, code))
        article("/2024/06/05/chain-5")
        add(Case("slow", "/2024/06/06/slow", "error", "timeout", note=f"answers after {self.slow_seconds:g} s"))
        self.routes["/2024/06/06/slow"] = self._send_slow
        add(Case("reset", "/2024/06/07/reset", "error", "connection_lost",
                 note="Content-Length 5000, 100 bytes, then RST"))
        self.routes["/2024/06/07/reset"] = self._send_reset
        add(Case("empty-200", "/2024/06/08/empty", "error", "no_article_text"))
        self.routes["/2024/06/08/empty"] = lambda h, t: self._send(h, 200, b"", "text/html; charset=utf-8")
        add(Case("octet-stream", article("/2024/06/09/octet", content_type="application/octet-stream"), "archived",
                 note="HTML served as application/octet-stream"))
        add(Case("text-plain", article("/2024/06/10/plain", content_type="text/plain; charset=utf-8"), "archived",
                 note="HTML served as text/plain"))
        add(Case("binary", "/2024/06/15/binary", "error", "not_html", note="a PNG image where an article was listed"))
        self.routes["/2024/06/15/binary"] = lambda h, t: self._send(
            h, 200, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "image/png")
        add(Case("huge", "/2024/06/11/huge", "error", "too_large", note="50 MB with Content-Length"))
        self.routes["/2024/06/11/huge"] = lambda h, t: self._send_big(h, chunked=False)
        add(Case("huge-chunked", "/2024/06/12/huge-chunked", "error", "too_large", note="50 MB, chunked"))
        self.routes["/2024/06/12/huge-chunked"] = lambda h, t: self._send_big(h, chunked=True)
        add(Case("gzip-bomb", "/2024/06/13/gzip-bomb", "error", "too_large", note="1 MB gzip -> 1 GiB"))
        self.routes["/2024/06/13/gzip-bomb"] = self._send_bomb
        add(Case("windows-1251", "/2024/06/14/cp1251", "archived", note="charset only in <meta>"))
        self.routes["/2024/06/14/cp1251"] = self._send_cp1251
        add(Case("meta-refresh", "/2024/06/16/refresh", "archived",
                 note='a page whose <meta http-equiv="Refresh"> sends the reader to the article'))
        self.routes["/2024/06/16/refresh"] = lambda h, t: self._send(h, 200, REFRESH_PAGE.encode())
        article("/2024/06/16/refreshed")
        # -- feeds (each its own URL in the outlets file)
        feeds = {
            "good": "/feeds/good.xml", "malformed": "/feeds/malformed.xml", "bomb": "/feeds/bomb.xml",
            "xxe": "/feeds/xxe.xml", "atom-escaped": "/feeds/atom-escaped.xml", "as-html": "/feeds/as-html",
            "empty": "/feeds/empty.xml", "duplicates": "/feeds/duplicates.xml", "relative": "/feeds/relative.xml",
            "tracking": "/feeds/tracking.xml", "schemes": "/feeds/schemes.xml",
        }
        self.feeds = feeds
        for name, path in feeds.items():
            self.routes[path] = lambda h, t, n=name: self._send_feed(h, n)
        add(Case("malformed-before", article("/2024/05/02/malformed-1"), "archived", listed_in="malformed",
                 note="items before the breakage"))
        article("/2024/05/02/malformed-2")
        article("/2024/05/02/malformed-3")  # after the breakage: recovered or not, both fine
        add(Case("bomb", article("/2024/05/03/bomb-1"), "archived_or_refused", "bad_feed", listed_in="bomb"))
        add(Case("xxe", article("/2024/05/04/xxe-1"), "archived_or_refused", "bad_feed", listed_in="xxe"))
        self.routes["/xxe-probe"] = lambda h, t: self._send(h, 200, b"XXE-PROBE-FETCHED", "text/plain")
        add(Case("atom-escaped", article("/2024/05/05/atom-1?page=1&lang=en", slug="atom-1"), "archived",
                 listed_in="atom-escaped", note="&amp; in the link, escaped HTML in content"))
        article("/2024/05/05/atom-2")
        add(Case("feed-as-html", article("/2024/05/06/as-html-1"), "archived", listed_in="as-html",
                 note="RSS served as text/html"))
        add(Case("empty-feed", feeds["empty"], "error", "bad_feed", listed_in=""))
        add(Case("duplicates", article("/2024/05/07/dup-1"), "archived", listed_in="duplicates",
                 note="listed 3 times (plain, #fragment, ?utm_source=)"))
        add(Case("relative", article("/2024/05/08/relative-1"), "archived", listed_in="relative"))
        article("/2024/05/08/relative-2")
        add(Case("tracking", article("/2024/05/09/tracked-1"), "archived", listed_in="tracking"))
        article("/2024/05/09/tracked-2")
        article("/2024/05/09/tracked-3?id=7", slug="tracked-3")
        add(Case("non-http", "/2024/05/10/ftp-article", "not_followed", listed_in="schemes"))
        article("/2024/05/10/schemes-ok")

    def articles_to_archive(self) -> dict[str, str]:
        """path -> slug of every good article a well-behaved crawler archives."""
        optional = {"/2024/05/02/malformed-3", "/2024/05/03/bomb-1", "/2024/05/04/xxe-1"}
        return {p: s for p, s in self.good.items() if p not in optional}

    # ------------------------------------------------------------------ feeds
    def _items_rss(self, links: list[str]) -> str:
        out = []
        for i, link in enumerate(links):
            out.append(f"<item><title>Item {i}</title><link>{escape(link)}</link>"
                       f"<guid isPermaLink=\"false\">item-{i}-{abs(hash(link)) % 10**8}</guid>"
                       f"<pubDate>Tue, 0{1 + i % 9} Oct 2024 10:00:00 GMT</pubDate></item>")
        return "\n".join(out)

    def _rss(self, links: list[str], prolog: str = "", title: str = "Hostile Outlet") -> str:
        return (f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<rss version="2.0"><channel>'
                f"<title>{title}</title><link>{self.base_url}/</link><description>test</description>\n"
                f"{self._items_rss(links)}\n</channel></rss>\n")

    def feed_body(self, name: str) -> tuple[bytes, str]:
        base = self.base_url
        rss = "application/rss+xml"
        if name == "good":
            paths = [f"/2024/05/01/good-{n}" for n in range(1, 5)] + ["/private/2024/05/01/secret"]
            paths += [c.path for c in self.cases if c.listed_in == "good" and c.path.startswith("/2024/06/")]
            return self._rss([base + p for p in paths]).encode(), rss
        if name == "malformed":
            good = self._items_rss([base + "/2024/05/02/malformed-1", base + "/2024/05/02/malformed-2"])
            return (f'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Broken</title>\n{good}\n'
                    f"<item><title>Unclosed <b>bold<link>{base}/2024/05/02/never</link></item>\n"
                    f"<item><title>After</title><link>{base}/2024/05/02/malformed-3</link></item>\n"
                    f"<item><title>No link at all</title><description>nothing</description>"
                    ).encode(), rss  # no </channel></rss>
        if name == "bomb":
            entities = '<!ENTITY lol "lol">' + "".join(
                f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
            body = self._rss([base + "/2024/05/03/bomb-1"], prolog=f"<!DOCTYPE rss [{entities}]>\n", title="&lol9;")
            return body.replace("<title>Item 0</title>", "<title>&lol9;</title>").encode(), rss
        if name == "xxe":
            secret = self.secret_file or "/etc/passwd"
            prolog = (f'<!DOCTYPE rss [<!ENTITY passwd SYSTEM "file:///etc/passwd">'
                      f'<!ENTITY secret SYSTEM "file://{secret}">'
                      f'<!ENTITY probe SYSTEM "{base}/xxe-probe">]>\n')
            body = self._rss([base + "/2024/05/04/xxe-1", base + "/2024/05/04/&secret;", base + "/&probe;"],
                             prolog=prolog, title="&passwd;")
            body = body.replace("<title>Item 0</title>", "<title>&secret; &passwd; &probe;</title>"
                                "<description>&secret;</description>")
            return body.encode(), rss
        if name == "atom-escaped":
            entries = []
            for i, href in enumerate(["/2024/05/05/atom-1?page=1&lang=en", "/2024/05/05/atom-2"]):
                entries.append(
                    f"<entry><title type=\"html\">&lt;b&gt;Bold&lt;/b&gt; entry {i}</title><id>urn:atom:{i}</id>"
                    f"<updated>2024-10-0{i + 1}T10:00:00Z</updated><link rel=\"alternate\" href=\"{escape(href)}\"/>"
                    f"<content type=\"html\">&lt;p&gt;Escaped &lt;a href=&quot;/2024/05/05/from-content&quot;&gt;"
                    f"link&lt;/a&gt;&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</content></entry>")
            return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed '
                    f'xml:base="{base}/"><title>Atom</title><id>urn:atom</id><updated>2024-10-02T10:00:00Z</updated>\n'
                    + "\n".join(entries) + "\n</feed>\n").encode(), "application/atom+xml"
        if name == "as-html":
            return self._rss([base + "/2024/05/06/as-html-1"]).encode(), "text/html; charset=utf-8"
        if name == "empty":
            return b"", rss
        if name == "duplicates":
            dup = base + "/2024/05/07/dup-1"
            return self._rss([dup, dup + "#comments", dup + "?utm_source=rss", base + "/2024/05/01/good-1"]).encode(), rss
        if name == "relative":
            return self._rss(["/2024/05/08/relative-1", "../2024/05/08/relative-2"]).encode(), rss
        if name == "tracking":
            return self._rss([base + "/2024/05/09/tracked-1?utm_source=rss&utm_medium=feed&utm_campaign=autumn",
                              base + "/2024/05/09/tracked-2?fbclid=IwAR0abcdef",
                              base + "/2024/05/09/tracked-3?id=7&utm_content=top&gclid=xyz"]).encode(), rss
        if name == "schemes":
            links = [link.format(port=self.port) for link in NON_HTTP_LINKS]
            if self.secret_file:
                links.append(f"file://{self.secret_file}")
            return self._rss(links + [base + "/2024/05/10/schemes-ok"]).encode(), rss
        raise KeyError(name)

    def outlets_toml(self, name: str = "hostile") -> str:
        feeds = ", ".join(f'"{self.base_url}{path}"' for path in self.feeds.values())
        return f"[[outlets]]\nname = \"{name}\"\nfeeds = [{feeds}]\narticle_pattern = '/\\d{{4}}/\\d{{2}}/\\d{{2}}/'\n"

    # ------------------------------------------------------------------ responses
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
              headers: tuple[tuple[str, str], ...] = ()) -> None:
        h.send_response(status)
        if content_type:
            h.send_header("Content-Type", content_type)
        for name, value in headers:
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _send_feed(self, h, name: str) -> None:
        body, content_type = self.feed_body(name)
        self._send(h, 200, body, content_type)

    def _send_article(self, h, slug: str, links: bool = False, content_type: str = "text/html; charset=utf-8",
                      fail_first: int = 0) -> None:
        if fail_first and self.hits(urlsplit(h.path).path) <= fail_first:
            self._send(h, 503, b"<html><body><h1>Service unavailable</h1></body></html>")
            return
        headline, paragraphs = article_content(slug)
        html = article_html(headline, paragraphs)
        if links:
            # inside the body text (the crawler follows links of the article, not of its template)
            hrefs = [link.format(port=self.port) for link in NON_HTTP_LINKS] + ["/2024/05/11/linked-only"]
            if self.secret_file:
                hrefs.append(f"file://{self.secret_file}")
            words = ["council", "ferry", "harbor", "bridge", "market", "orchard", "library"]
            anchors = ", ".join(f'<a href="{escape(href)}">the {word} story</a>' for href, word in zip(hrefs, words))
            last = f"<p>{escape(paragraphs[-1])}</p>"
            html = html.replace(last, last[:-4] + f" See also {anchors}.</p>")
        self._send(h, 200, html.encode("utf-8"), content_type)

    def _redirect(self, h, location: str, status: int = 302) -> None:
        self._send(h, status, b"", "text/html", headers=(("Location", location),))

    def _send_slow(self, h, target: str) -> None:
        deadline = time.monotonic() + self.slow_seconds
        while time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.05)
        headline, paragraphs = article_content("slow")
        self._send(h, 200, article_html(headline, paragraphs).encode())

    def _send_reset(self, h, target: str) -> None:
        headline, paragraphs = article_content("reset")
        body = article_html(headline, paragraphs).encode()[:100]
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", "5000")
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()
        time.sleep(0.05)
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
        h.close_connection = True
        h.connection.close()

    def _send_big(self, h, chunked: bool) -> None:
        filler = (b"<p>" + b"filler text of a page that never ends " * 1680 + b"</p>\n")[:CHUNK]
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(self.big_bytes))
        h.end_headers()
        head = b"<!DOCTYPE html><html><body><h1>Enormous</h1>\n"
        sent = 0
        try:
            while sent < self.big_bytes and not self._stop.is_set():
                piece = (head if sent == 0 else filler)[: self.big_bytes - sent]
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            if chunked:
                h.wfile.write(b"0\r\n\r\n")
        except OSError:
            h.close_connection = True

    def _send_bomb(self, h, target: str) -> None:
        self._send(h, 200, gzip_bomb(), "text/html; charset=utf-8", headers=(("Content-Encoding", "gzip"),))

    def _send_cp1251(self, h, target: str) -> None:
        html = article_html(CYRILLIC_HEADLINE, CYRILLIC_PARAGRAPHS, meta_charset=False).replace(
            "<head>", '<head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">', 1)
        self._send(h, 200, html.encode("windows-1251"), "text/html")  # no charset in the header

    # ------------------------------------------------------------------ log
    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self._log.append((method, path, time.time()))
            key = urlsplit(path).path
            self._hits[key] = self._hits.get(key, 0) + 1

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits.get(path, 0)

    def requested(self) -> list[str]:
        """Raw request targets (path and query) in order of arrival."""
        with self._lock:
            return [path for _, path, _ in self._log]

    def requests_timed(self) -> list[tuple[str, float]]:
        """(request target, arrival time) in order of arrival."""
        with self._lock:
            return [(path, when) for _, path, when in self._log]

    def raw_request_lines(self) -> list[str]:
        """Every request line received, as sent (also lines that are not HTTP)."""
        with self._lock:
            return list(self._raw)

    def count(self, path: str) -> int:
        """Requests whose target is exactly ``path`` (query included)."""
        return sum(1 for p in self.requested() if p == path)

    # ------------------------------------------------------------------ server
    def start(self) -> "HostileSite":
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "Hostile/1.0"
            sys_version = ""
            timeout = 60

            def log_message(self, format, *args):  # noqa: A002
                pass

            def parse_request(self):
                with site._lock:  # every request line, even one that is not HTTP
                    site._raw.append(self.raw_requestline.decode("latin-1").rstrip("\r\n"))
                return super().parse_request()

            def do_GET(self):  # noqa: N802
                site._record(self.command, self.path)
                route = site.routes.get(urlsplit(self.path).path) or site.routes.get(self.path)
                if route is None:
                    site._send(self, 404, b"<html><body><h1>No such page</h1></body></html>")
                    return
                route(self, self.path)

            do_HEAD = do_GET

            def finish(self):
                try:
                    super().finish()
                except (OSError, ValueError):
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def handle_error(self, request, client_address):
                pass  # clients that hang up mid-body are the point of this server

        gzip_bomb()  # build it before the crawl starts, not while the crawler waits
        self._server = Server((self.host, 0), Handler)
        self.port = self._server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="hostile-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "HostileSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, path: str) -> str:
        return self.base_url + path
