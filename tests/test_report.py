"""``python -m archive report``: the HTML report of an archive made by real test crawls,
checked for its numbers, for being self-contained, and in headless Chromium."""
from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from archive.store.catalog import Catalog
from archive.tools import report as report_module
from tests.browser import BrowserMissing, find_chromium, open_page
from tests.conftest import REPO, run_crawl
from tests.demosite import OutletSite, SiteServer

SECTIONS = ("Articles per day", "Versions per article", "Time from publication to each edit", "Re-check cost",
            "Errors by kind", "Gone, moved and restored articles")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archive", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Two outlets crawled, then edited (text, headline), one article removed (404) and one
    outlet's feed broken for the second run, re-checked with RECHECK=all."""
    root = tmp_path_factory.mktemp("report")
    alpha = OutletSite("alpha-times", n_articles=12, seed=11, link_only=False)
    beta = OutletSite("beta-post", n_articles=9, seed=12, link_only=False)
    with SiteServer([alpha, beta]) as server:
        outlets = root / "outlets.toml"
        outlets.write_text(server.outlets_toml(sources=("rss", "sitemap")))
        archive = root / "archive"
        first = run_crawl(outlets, archive)
        assert first.returncode == 0, first.stderr[-2000:]
        a, b = alpha.listed_article_ids(), beta.listed_article_ids()
        alpha.edit_article(a[-1], add_sentence="A correction was appended later.")
        alpha.edit_article(a[-2], new_headline="A changed headline")
        alpha.edit_article(a[-3], add_sentence=True)
        beta.edit_article(b[-1], add_sentence=True)
        beta.remove_article(b[-2])
        second = run_crawl(outlets, archive, "-s", "RECHECK=all")
        assert second.returncode == 0, second.stderr[-2000:]
        alpha.edit_article(a[-1], add_sentence="A second correction.")
        third = run_crawl(outlets, archive, "-s", "RECHECK=all")
        assert third.returncode == 0, third.stderr[-2000:]
    out = root / "report.html"
    result = _cli("--archive", str(archive), "report", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 2 outlets, 21 articles" in result.stderr
    return archive, out


class _Page(HTMLParser):
    """Tags, attributes with URLs, and headings of a page."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data", "poster") and value is not None:
                self.urls.append((tag, name, value))
        if tag in ("h2", "h3"):
            self._heading = []

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)

    def handle_endtag(self, tag):
        if tag in ("h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_report_shows_every_section_for_each_outlet_and_the_catalogs_numbers(crawled):
    archive, out = crawled
    html = out.read_text(encoding="utf-8")
    page = _parse(html)
    assert page.headings[0] == "Summary"
    for outlet in ("alpha-times", "beta-post"):
        start = page.headings.index(outlet)
        assert page.headings[start + 1:start + 1 + len(SECTIONS)] == list(SECTIONS)
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        per_outlet = dict(db.execute("SELECT outlet, count(*) FROM articles WHERE latest_version > 0 GROUP BY outlet"))
        versions = dict(db.execute("SELECT outlet, count(*) FROM versions GROUP BY outlet"))
        changed = dict(db.execute("SELECT outlet, count(*) FROM articles WHERE latest_version > 1 GROUP BY outlet"))
        rechecks = dict(db.execute("SELECT s.outlet, sum(s.unchanged + s.new_versions) FROM outlet_stats s "
                                   "JOIN runs r ON r.id = s.run_id WHERE r.kind = 'crawl' GROUP BY s.outlet"))
        gone = db.execute("SELECT count(*) FROM events WHERE kind = 'gone'").fetchone()[0]
    assert per_outlet == {"alpha-times": 12, "beta-post": 9}
    assert versions == {"alpha-times": 16, "beta-post": 10}  # 12 + 3 edits + a second edit; 9 + 1
    assert changed == {"alpha-times": 3, "beta-post": 1}
    assert gone == 1
    summary = html[html.index("<table>"):html.index("</table>")]
    rows = {m.group(1): [c.strip() for c in re.findall(r'<td class="num">([^<]*)</td>', m.group(0))]
            for m in re.finditer(r'<tr><td><a href="#outlet-[^"]+">([^<]+)</a>.*?</tr>', summary)}
    # articles, versions, changed, changed %, edits, median, runs, re-checks, per new version, errors, events
    assert rows["alpha-times"][:3] == ["12", "16", "3"] and rows["alpha-times"][4] == "4"
    assert rows["beta-post"][:3] == ["9", "10", "1"] and rows["beta-post"][4] == "1"
    assert rows["alpha-times"][6] == "3" and rows["beta-post"][6] == "3"            # crawl runs
    assert rows["alpha-times"][7] == str(rechecks["alpha-times"])                   # 304s and edits
    assert rows["beta-post"][7] == str(rechecks["beta-post"] + 1)                   # + the 404
    assert rows["beta-post"][10] == "1 / 0 / 0"
    assert "4 edits; of the 4 with a publication time" in html
    assert "3 of 12 articles (25.0 %) have more than one version" in html
    # per outlet: days, versions, edits, edits by what changed, re-checks; beta's events
    assert html.count('<svg role="img"') == 11 and "Edits by what changed" in html


def test_report_is_self_contained(crawled):
    _, out = crawled
    html = out.read_text(encoding="utf-8")
    page = _parse(html)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert "iframe" not in page.tags and "object" not in page.tags
    for tag, name, value in page.urls:
        # in-page anchors and chart-internal references only; article URLs are text in tables
        assert value.startswith("#"), (tag, name, value)
    assert "url(http" not in html and "@import" not in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "ids repeat across the inline charts"


@pytest.fixture
def chromium():
    """Chromium must be there (.ci/run installs it): a clear failure, never a skip."""
    try:
        return find_chromium()
    except BrowserMissing as exc:
        pytest.fail(str(exc))


def test_report_opens_in_headless_chromium_without_console_errors(crawled, tmp_path, chromium):
    _, out = crawled
    shot = tmp_path / "report.png"
    page = open_page(out.resolve().as_uri(), screenshot=shot)
    assert page.errors == [], page.errors
    assert page.title == "newsarchive report: archive"
    assert page.charts == 11
    for text in ("Summary", "alpha-times", "beta-post", *SECTIONS):
        assert text in page.text
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(shot) as image:
        width, height = image.size
        assert width >= 1200 and height >= 3000, image.size  # the whole page, not the first screen
        colors = image.convert("RGB").resize((200, 600)).getcolors(maxcolors=100000)
        assert len(colors) > 50, "the screenshot is (nearly) blank"
    assert len(data) > 50_000


def test_the_browser_check_sees_console_errors_and_failed_loads(tmp_path, chromium):
    """The check above would fail on a broken page: an error logged, an uncaught exception,
    a missing image."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>'
                   '<p>x</p><img src="missing.png"><script>console.error("logged error"); nosuch();</script>'
                   "</body></html>")
    page = open_page(bad.as_uri())
    joined = "\n".join(page.errors)
    assert "logged error" in joined
    assert "nosuch is not defined" in joined
    assert "missing.png" in joined or "ERR_FILE_NOT_FOUND" in joined
    assert page.title == "bad"


def test_report_of_one_outlet_and_errors(crawled, tmp_path):
    archive, _ = crawled
    out = tmp_path / "beta.html"
    result = _cli("--archive", str(archive), "report", "--outlet", "beta-post", "-o", str(out))
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert "beta-post" in _parse(html).headings and "alpha-times" not in _parse(html).headings
    unknown = _cli("--archive", str(archive), "report", "--outlet", "nosuch", "-o", str(tmp_path / "x.html"))
    assert unknown.returncode == 2 and "no outlet 'nosuch'" in unknown.stderr
    assert not (tmp_path / "x.html").exists()
    unwritable = _cli("--archive", str(archive), "report", "-o", str(tmp_path / "no" / "dir" / "r.html"))
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr


def test_report_of_an_archive_without_articles(tmp_path):
    archive = tmp_path / "empty"
    archive.mkdir()
    Catalog(f"sqlite:///{archive}/catalog.sqlite").close()
    result = _cli("--archive", str(archive), "report", "-o", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    assert "The catalog holds no archived article." in (tmp_path / "r.html").read_text(encoding="utf-8")


class _FakeCatalog:
    """Rows as a catalog with issue 21's ``versions.change`` and event kinds would stream them."""

    def iter_article_facts(self, outlet=None):
        for i in range(1, 5):
            yield {"id": i, "outlet": "gamma", "url": f"http://127.0.0.1:9/{i}", "state": "moved" if i == 4 else "active",
                   "first_seen": "2026-01-01T10:00:00Z", "last_checked": "2026-01-02T10:00:00Z",
                   "next_check": "2026-01-03T10:00:00Z", "latest_version": 2 if i < 4 else 1,
                   "first_published": "2026-01-01T09:00:00Z", "first_fetched_at": "2026-01-01T10:00:00Z",
                   "captured": 2 if i < 4 else 1}

    def iter_edits(self, outlet=None):
        for i, change in ((1, "headline"), (2, "body"), (3, "metadata")):
            yield {"seq": 10 + i, "article_id": i, "outlet": "gamma", "version": 2, "reason": "edit",
                   "fetched_at": "2026-01-01T12:00:00Z", "published": None, "change": change,
                   "first_published": "2026-01-01T09:00:00Z", "first_fetched_at": "2026-01-01T10:00:00Z"}

    def iter_run_outlet_stats(self, kind="crawl", outlet=None):
        yield {"run_id": 1, "outlet": "gamma", "started_at": "2026-01-01T10:00:00Z",
               "ended_at": "2026-01-01T10:01:00Z", "status": "finished", "fetched": 4, "archived": 4,
               "new_versions": 0, "unchanged": 0, "errors": "{}"}
        yield {"run_id": 2, "outlet": "gamma", "started_at": "2026-01-01T12:00:00Z",
               "ended_at": "2026-01-01T12:01:00Z", "status": "finished", "fetched": 4, "archived": 3,
               "new_versions": 3, "unchanged": 0, "errors": '{"timeout": 2}'}

    def iter_event_rows(self, outlet=None, since=None, until=None):
        yield {"at": "2026-01-01T12:00:30Z", "kind": "moved", "version": None, "outlet": "gamma",
               "url": "http://127.0.0.1:9/4", "detail": '{"url": "http://127.0.0.1:9/4-new", "status": 301}'}
        yield {"at": "2026-01-01T12:00:40Z", "kind": "restored", "version": None, "outlet": "gamma",
               "url": "http://127.0.0.1:9/4", "detail": '{"status": 200}'}


def test_report_shows_kinds_of_change_and_events_when_the_catalog_has_them(tmp_path):
    report = report_module.Report(_FakeCatalog(), tmp_path)
    gamma = report.outlets["gamma"]
    assert gamma.changes == {"headline": 1, "body": 1, "metadata": 1}
    assert gamma.events == {"moved": 1, "restored": 1}
    assert gamma.errors == {"timeout": 2}
    assert list(gamma.edit_hours) == [3.0, 3.0, 3.0]
    html = report.render()
    assert "Edits by what changed" in html and 'aria-label="Edits by what changed"' in html
    assert "http://127.0.0.1:9/4-new" in html and "Events by kind" in html
    assert "<td>moved</td><td>http://127.0.0.1:9/4</td><td>http://127.0.0.1:9/4-new</td>" in html
    assert "<td>restored</td><td>http://127.0.0.1:9/4</td><td>200</td>" in html
    assert "0 / 1 / 1" in html  # gone / moved / restored in the summary


def test_a_section_is_one_function(tmp_path):
    title = "Longest headline"

    @report_module.outlet_section(title)
    def longest(report, outlet):
        return f"<p>{report_module.esc(outlet.name)} has {outlet.articles} articles</p>"

    try:
        html = report_module.Report(_FakeCatalog(), tmp_path).render()
        assert f"<h3>{title}</h3><p>gamma has 4 articles</p>" in html
    finally:
        report_module.OUTLET_SECTIONS.remove((title, longest))
