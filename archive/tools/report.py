"""The archive's report: one self-contained HTML page (``python -m archive report -o report.html``).

For each outlet: articles per day, versions per article, time from publication to each
edit, re-check cost, errors by kind, and gone / moved / restored articles; before them a
summary table of all outlets. Charts are drawn with matplotlib (Agg, no display) and inlined
as SVG: the page loads nothing, runs no script and needs no network.

The catalog is streamed, one pass per table (articles, edits, run stats, events); what the
report keeps is per-outlet aggregates: counts by day, histograms, one float per edit for the
delay quantiles, and one small row per crawl run.

Adding a section is one function. ``@outlet_section("Title")`` on
``fn(report: Report, outlet: OutletData) -> str | None`` adds it to every outlet's part (an
HTML fragment; None leaves it out for that outlet); ``@archive_section("Title")`` on
``fn(report: Report) -> str | None`` adds one about the whole archive. A section that needs
more than :class:`OutletData` holds streams it from ``report.catalog`` itself. Helpers:
:func:`bar_chart`, :func:`histogram_chart`, :func:`stacked_bar_chart` (inline SVG),
:func:`table`, :func:`esc`, :func:`duration`.
"""
from __future__ import annotations

import functools
import io
import itertools
import json
import math
import re
from array import array
from bisect import bisect_right
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..store.catalog import Catalog
from ..store.timefmt import parse_iso, utc_now
from .export import event_detail

# -- sections ------------------------------------------------------------------------------

OutletSectionFn = Callable[["Report", "OutletData"], "str | None"]
ArchiveSectionFn = Callable[["Report"], "str | None"]
OUTLET_SECTIONS: list[tuple[str, OutletSectionFn]] = []
ARCHIVE_SECTIONS: list[tuple[str, ArchiveSectionFn]] = []


def outlet_section(title: str) -> Callable[[OutletSectionFn], OutletSectionFn]:
    """Register ``fn(report, outlet) -> HTML or None`` as a section of every outlet's part (in
    the order of registration)."""
    def register(fn: OutletSectionFn) -> OutletSectionFn:
        OUTLET_SECTIONS.append((title, fn))
        return fn
    return register


def archive_section(title: str) -> Callable[[ArchiveSectionFn], ArchiveSectionFn]:
    """Register ``fn(report) -> HTML or None`` as a section about the whole archive, shown
    before the outlets' parts (in the order of registration)."""
    def register(fn: ArchiveSectionFn) -> ArchiveSectionFn:
        ARCHIVE_SECTIONS.append((title, fn))
        return fn
    return register


# -- what is gathered --------------------------------------------------------------------

EVENT_KINDS = ("gone", "moved", "restored")  # kinds the report names first; any other kind is shown too
RECENT_EVENTS = 15


@dataclass
class RunRow:
    """One crawl run's counts for one outlet (``outlet_stats``), with its gone answers."""

    run_id: int
    started_at: str
    ended_at: str | None
    status: str | None
    fetched: int
    archived: int
    new_versions: int
    unchanged: int
    errors: dict[str, int]
    gone: int = 0

    @property
    def rechecks(self) -> int:
        """Re-check requests answered: unchanged (304, same payload or same text), a new
        version, or gone (404/410)."""
        return self.unchanged + self.new_versions + self.gone


@dataclass
class OutletData:
    """Everything the report keeps about one outlet (aggregates, never whole tables)."""

    name: str
    articles: int = 0
    captured_versions: int = 0                      # versions that are captures (not re-extractions)
    reextracted: int = 0                            # versions made by `reextract --in-place`
    per_day: Counter = field(default_factory=Counter)          # publication day -> articles
    dated_by_fetch: int = 0                         # articles without a publication date: first fetch day
    versions_hist: Counter = field(default_factory=Counter)    # captured versions -> articles
    states: Counter = field(default_factory=Counter)           # active | gone | moved | alias ...
    checks_scheduled: int = 0                       # active articles with a next check
    checks_ended: int = 0                           # active articles whose re-checks stopped
    last_checked: str | None = None
    first_fetch: str | None = None
    edits: int = 0
    edit_hours: array = field(default_factory=lambda: array("d"))  # publication -> edit found, hours; sorted
    edits_undated: int = 0                          # no publication time (none, or a date only)
    edits_before_publication: int = 0               # found before the stated publication time
    changes: Counter = field(default_factory=Counter)          # versions.change, when the catalog has it
    runs: list[RunRow] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)           # kind -> count over all crawl runs
    events: Counter = field(default_factory=Counter)           # kind -> count
    recent_events: deque = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))

    @property
    def changed_articles(self) -> int:
        return sum(n for versions, n in self.versions_hist.items() if versions > 1)

    @property
    def rechecks(self) -> int:
        return sum(run.rechecks for run in self.runs)

    @property
    def versions_found_by_rechecks(self) -> int:
        return sum(run.new_versions for run in self.runs)

    def edit_quantile(self, q: float) -> float | None:
        """The ``q`` quantile of the publication-to-edit delays, in hours (None without edits)."""
        if not self.edit_hours:
            return None
        return self.edit_hours[min(len(self.edit_hours) - 1, int(q * len(self.edit_hours)))]


def _parse_time(text: str | None) -> datetime | None:
    """A catalog time with a time of day (``...T..Z`` or an offset) as an aware datetime; None
    for a missing value, a date only or a value that is no time."""
    if not text or "T" not in text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None


def _day(text: str | None) -> str | None:
    if not text or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def _min(a: str | None, b: str | None) -> str | None:
    return b if a is None or (b is not None and b < a) else a


def _max(a: str | None, b: str | None) -> str | None:
    return b if a is None or (b is not None and b > a) else a


def gather(catalog: Catalog, outlet: str | None = None) -> dict[str, OutletData]:
    """Stream the catalog once per table into per-outlet aggregates, by outlet name."""
    data: dict[str, OutletData] = {}

    def of(name: str) -> OutletData:
        if name not in data:
            data[name] = OutletData(name)
        return data[name]

    for row in catalog.iter_article_facts(outlet=outlet):
        o = of(row["outlet"])
        o.articles += 1
        captured = row.get("captured") or 0
        o.captured_versions += captured
        o.reextracted += max((row.get("latest_version") or 0) - captured, 0)
        o.versions_hist[max(captured, 1)] += 1
        o.states[row.get("state") or "active"] += 1
        day = _day(row.get("first_published"))
        if day is None:
            day = _day(row.get("first_fetched_at") or row.get("first_seen"))
            o.dated_by_fetch += 1
        if day:
            o.per_day[day] += 1
        if (row.get("state") or "active") == "active":
            if row.get("next_check"):
                o.checks_scheduled += 1
            else:
                o.checks_ended += 1
        o.last_checked = _max(o.last_checked, row.get("last_checked"))
        o.first_fetch = _min(o.first_fetch, row.get("first_fetched_at"))

    for row in catalog.iter_edits(outlet=outlet):
        o = of(row["outlet"])
        o.edits += 1
        change = row.get("change")  # recorded by catalogs that classify edits (issue 21)
        if change:
            o.changes[change] += 1
        published = _parse_time(row.get("first_published")) or _parse_time(row.get("published"))
        found = _parse_time(row.get("fetched_at"))
        if published is None or found is None:
            o.edits_undated += 1
        elif found < published:
            o.edits_before_publication += 1
        else:
            o.edit_hours.append((found - published).total_seconds() / 3600)

    for row in catalog.iter_run_outlet_stats(kind="crawl", outlet=outlet):
        try:
            errors = {str(k): int(v) for k, v in json.loads(row.get("errors") or "{}").items()}
        except (ValueError, TypeError, AttributeError):
            errors = {}
        o = of(row["outlet"])
        o.runs.append(RunRow(row["run_id"], row["started_at"], row.get("ended_at"), row.get("status"),
                             row.get("fetched") or 0, row.get("archived") or 0, row.get("new_versions") or 0,
                             row.get("unchanged") or 0, errors))
        o.errors.update(errors)

    _gather_events(catalog, data, of, outlet)
    for o in data.values():
        o.edit_hours = array("d", sorted(o.edit_hours))
    return dict(sorted(data.items()))


def _gather_events(catalog: Catalog, data: dict[str, OutletData], of, outlet: str | None) -> None:
    """Events by kind per outlet, the latest few of each outlet, and gone answers per run."""
    starts = {name: [run.started_at for run in o.runs] for name, o in data.items()}
    for event in catalog.iter_event_rows(outlet):
        name, kind = event["outlet"], event["kind"]
        o = of(name)
        o.events[kind] += 1
        o.recent_events.append(event)
        if kind == "gone" and name in starts:
            run = _run_at(o.runs, starts[name], event.get("at"))
            if run is not None:
                run.gone += 1


def _run_at(runs: list[RunRow], starts: list[str], at: str | None) -> RunRow | None:
    """The run during which ``at`` fell (runs are in id order, which is start order)."""
    if not at:
        return None
    index = bisect_right(starts, at) - 1
    if index < 0:
        return None
    run = runs[index]
    return run if run.ended_at is None or at <= run.ended_at else None


# -- HTML and charts -------------------------------------------------------------------------

def esc(value: Any) -> str:
    """``value`` as HTML text."""
    return escape("" if value is None else str(value))


def duration(hours: float | None) -> str:
    """A duration in hours as a short human text: 40 s, 12 min, 5.2 h, 3.1 d."""
    if hours is None:
        return "–"
    seconds = hours * 3600
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return esc(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = 1,
          foot: Sequence[Any] | None = None) -> str:
    """An HTML table; columns from ``numeric_from`` on are right-aligned numbers. Cells are
    escaped, except a value wrapped in :class:`Html`."""
    def cell(value: Any, index: int, tag: str) -> str:
        css = ' class="num"' if index >= numeric_from else ""
        text = value.html if isinstance(value, Html) else _number(value)
        return f"<{tag}{css}>{text}</{tag}>"

    head = "".join(cell(h, i, "th") for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell(v, i, "td") for i, v in enumerate(row)) + "</tr>" for row in rows)
    tail = ("<tfoot><tr>" + "".join(cell(v, i, "th") for i, v in enumerate(foot)) + "</tr></tfoot>") if foot else ""
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{tail}</table>'


@dataclass(frozen=True)
class Html:
    """Markup that :func:`table` puts in a cell as it is."""

    html: str


COLORS = {"main": "#3b6ea8", "edit": "#d9822b", "unchanged": "#9aa5b1", "gone": "#b83b3b", "moved": "#7a5ba8",
          "restored": "#3b8f5a", "error": "#b83b3b"}
_chart_ids = itertools.count(1)
_SVG_ID = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "newsarchive-report", "font.size": 9,
          "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 10}


def _charting(fn):
    """Run a chart function in the report's matplotlib style, leaving the caller's settings
    (a notebook's, say) as they were."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_STYLE):
            return fn(*args, **kwargs)
    return wrapper


def _figure(width: float = 9.0, height: float = 2.6):
    """A figure on its own Agg canvas (no pyplot, no global backend: nothing kept between
    charts) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots()


def _svg(figure, label: str) -> str:
    """``figure`` as an inline ``<svg>`` element with ids unique in the page."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    prefix = f"c{next(_chart_ids)}-"
    text = _SVG_ID.sub(lambda m: m.group(1) + prefix + m.group(2), text)
    text = text.replace("<svg ", f'<svg role="img" aria-label="{esc(label)}" class="chart" ', 1)
    return text


@_charting
def bar_chart(labels: Sequence[Any], values: Sequence[float], title: str, xlabel: str = "", ylabel: str = "",
              horizontal: bool = False, color: str = COLORS["main"], dates: bool = False) -> str:
    """Bars as inline SVG; ``dates``: ``labels`` are ``datetime.date`` values on a time axis."""
    figure, ax = _figure(height=max(1.3, 0.3 * len(labels) + 0.8) if horizontal else 2.6)
    if horizontal:
        positions = range(len(labels))
        ax.barh(positions, values, color=color)
        ax.set_yticks(list(positions), [str(label) for label in labels])
        ax.invert_yaxis()
        for position, value in zip(positions, values):
            ax.annotate(f"{value:,.0f}", (value, position), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)
    elif dates:
        ax.bar(labels, values, width=0.8, color=color)
        _date_axis(ax)
    else:
        positions = range(len(labels))
        bars = ax.bar(positions, values, color=color)
        ax.bar_label(bars, labels=[f"{value:,.0f}" for value in values], fontsize=8, padding=2)
        ax.set_xticks(list(positions), [str(label) for label in labels])
    _finish(ax, title, xlabel, ylabel, integer_axis="x" if horizontal else "y")
    return _svg(figure, title)


@_charting
def stacked_bar_chart(labels: Sequence[Any], series: dict[str, Sequence[float]], title: str, xlabel: str = "",
                      ylabel: str = "", colors: dict[str, str] | None = None) -> str:
    """Stacked bars, one stack per label, one colour per series (with a legend)."""
    figure, ax = _figure()
    positions = list(range(len(labels)))
    bottom = [0.0] * len(labels)
    for name, values in series.items():
        ax.bar(positions, values, bottom=bottom, label=name, color=(colors or {}).get(name))
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_xlim(-0.6, max(len(labels), 8) - 0.4)  # a lone run's bar stays a bar, not a wall
    step = max(1, math.ceil(len(labels) / 30))
    ax.set_xticks(positions[::step], [str(label) for label in labels][::step])
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _finish(ax, title, xlabel, ylabel, integer_axis="y")
    return _svg(figure, title)


@_charting
def histogram_chart(values: Sequence[float], title: str, xlabel: str, ylabel: str = "", log: bool = False,
                    markers: dict[str, float] | None = None, color: str = COLORS["main"]) -> str:
    """A histogram (log-spaced bins on a log axis with ``log``); ``markers``: labelled
    vertical lines (median, ...)."""
    figure, ax = _figure()
    low, high = min(values), max(values)
    if log:
        low = max(low, 1 / 60)  # a minute
        high = max(high, low * 10)
        bins = [low * (high / low) ** (i / 30) for i in range(31)]
        ax.hist([max(v, low) for v in values], bins=bins, color=color)
        ax.set_xscale("log")
        _hour_ticks(ax, low, high)
    else:
        ax.hist(values, bins=min(30, max(5, len(set(values)))), color=color)
    for i, (name, value) in enumerate((markers or {}).items()):
        ax.axvline(value, color="#333333", linestyle="--" if i else "-", linewidth=1)
        ax.annotate(f"{name} {duration(value) if log else value}", (value, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -10 - 11 * i), textcoords="offset points", fontsize=8)
    _finish(ax, title, xlabel, ylabel, integer_axis="y")
    return _svg(figure, title)


def _hour_ticks(ax, low: float, high: float) -> None:
    """Ticks at round durations for an axis in hours."""
    ticks = [(1 / 60, "1 min"), (10 / 60, "10 min"), (1, "1 h"), (6, "6 h"), (24, "1 d"), (72, "3 d"),
             (168, "1 wk"), (720, "30 d"), (2160, "90 d"), (8760, "1 yr")]
    shown = [(t, label) for t, label in ticks if low / 1.5 <= t <= high * 1.5]
    if shown:
        ax.set_xticks([t for t, _ in shown], [label for _, label in shown])
        ax.minorticks_off()


def _date_axis(ax) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _finish(ax, title: str, xlabel: str, ylabel: str, integer_axis: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    (ax.yaxis if integer_axis == "y" else ax.xaxis).set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis=integer_axis, color="#e3e6ea", linewidth=0.8)
    ax.set_axisbelow(True)


def note(text: str) -> str:
    """A paragraph of explanation under a chart (escaped)."""
    return f'<p class="note">{esc(text)}</p>'


# -- the report ------------------------------------------------------------------------------

class Report:
    """An archive's report: gather the catalog's aggregates, then render every section."""

    def __init__(self, catalog: Catalog, archive_dir: str | Path, outlet: str | None = None):
        self.catalog = catalog
        self.archive_dir = Path(archive_dir)
        self.only_outlet = outlet
        self.generated_at = utc_now()
        self.outlets: dict[str, OutletData] = gather(catalog, outlet)

    def render(self) -> str:
        """The whole page."""
        parts = []
        for title, fn in ARCHIVE_SECTIONS:
            body = fn(self)
            if body is not None:
                parts.append(f'<section class="archive"><h2 id="{_anchor(title)}">{esc(title)}</h2>{body}</section>')
        for o in self.outlets.values():
            sections = []
            for title, fn in OUTLET_SECTIONS:
                body = fn(self, o)
                if body is not None:
                    sections.append(f"<section><h3>{esc(title)}</h3>{body}</section>")
            parts.append(f'<article class="outlet"><h2 id="outlet-{_anchor(o.name)}">{esc(o.name)}</h2>'
                         + "".join(sections) + "</article>")
        nav = " · ".join(f'<a href="#outlet-{_anchor(name)}">{esc(name)}</a>' for name in self.outlets)
        scope = f"outlet {self.only_outlet}" if self.only_outlet else f"{len(self.outlets)} outlets"
        title = f"newsarchive report: {self.archive_dir.name or self.archive_dir}"
        if not self.outlets:
            of = f" of {esc(self.only_outlet)}" if self.only_outlet else ""
            parts.append(f"<p>The catalog holds no archived article{of}.</p>")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
                f"<header><h1>{esc(title)}</h1><p>Archive <code>{esc(self.archive_dir.resolve())}</code>, "
                f"{esc(scope)}; written {esc(self.generated_at)} by <code>python -m archive report</code>."
                f"</p><nav>{nav}</nav></header><main>{''.join(parts)}</main></body></html>\n")


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def write_report(catalog: Catalog, archive_dir: str | Path, output: str | Path, outlet: str | None = None) -> Report:
    """Write the report of the archive to ``output`` (a temporary file, then renamed)."""
    report = Report(catalog, archive_dir, outlet)
    output = Path(output)
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        tmp.write_text(report.render(), encoding="utf-8")
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    return report


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2430;margin:0;
background:#f6f7f9}
header{background:#1d2f45;color:#fff;padding:16px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0 0 6px;color:#d5dde8}header code{color:#fff}nav a{color:#fff;margin-right:4px}
main{max-width:1100px;margin:0 auto;padding:8px 24px 40px}
section.archive,article.outlet{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:18px 0;
padding:4px 20px 16px}
h2{font-size:19px;border-bottom:1px solid #dde1e6;padding-bottom:6px}h3{font-size:15px;margin:22px 0 6px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td{white-space:nowrap}
th,td{padding:3px 8px;border-bottom:1px solid #e6e9ed;text-align:left}
th{background:#f0f2f5}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tfoot th{border-top:2px solid #c9ced6}
svg.chart{display:block;max-width:100%;height:auto}p.note{color:#4a5565;font-size:13px;margin:4px 0 10px}
.wrap{overflow-x:auto}
"""


# -- sections: the whole archive ---------------------------------------------------------------

@archive_section("Summary")
def summary_section(report: Report) -> str | None:
    rows, totals = [], Counter()
    for o in report.outlets.values():
        median = o.edit_quantile(0.5)
        per_version = (o.rechecks / o.versions_found_by_rechecks) if o.versions_found_by_rechecks else None
        gone_moved = f"{o.events.get('gone', 0)} / {o.events.get('moved', 0)} / {o.events.get('restored', 0)}"
        rows.append([Html(f'<a href="#outlet-{_anchor(o.name)}">{esc(o.name)}</a>'), o.articles, o.captured_versions,
                     o.changed_articles, f"{100 * o.changed_articles / o.articles:.1f} %" if o.articles else "–",
                     o.edits, duration(median), len(o.runs), o.rechecks,
                     f"{per_version:,.1f}" if per_version else "–", sum(o.errors.values()), gone_moved,
                     (o.first_fetch or "–")[:10], (o.last_checked or "–")[:10]])
        totals.update({"articles": o.articles, "versions": o.captured_versions, "changed": o.changed_articles,
                       "edits": o.edits, "rechecks": o.rechecks, "found": o.versions_found_by_rechecks,
                       "errors": sum(o.errors.values())})
        totals.update({f"event:{k}": v for k, v in o.events.items()})
    if not rows:
        return None
    all_hours = sorted(itertools.chain.from_iterable(o.edit_hours for o in report.outlets.values()))
    median_all = all_hours[len(all_hours) // 2] if all_hours else None
    foot = ["all outlets", totals["articles"], totals["versions"], totals["changed"],
            f"{100 * totals['changed'] / totals['articles']:.1f} %" if totals["articles"] else "–",
            totals["edits"], duration(median_all), "", totals["rechecks"],
            f"{totals['rechecks'] / totals['found']:,.1f}" if totals["found"] else "–", totals["errors"],
            f"{totals['event:gone']} / {totals['event:moved']} / {totals['event:restored']}", "", ""]
    headers = ["outlet", "articles", "versions", "changed", "changed %", "edits", "median to edit", "crawl runs",
               "re-checks", "re-checks per new version", "errors", "gone / moved / restored", "first fetch",
               "last check"]
    return ('<div class="wrap">' + table(headers, rows, foot=foot) + "</div>"
            + note("Articles: archived articles (at least one version). Versions: captured versions "
                   "(re-extractions not counted). Edits: versions after an article's first. Median to edit: "
                   "from the stated publication time to the fetch that found the edit. Re-checks: requests "
                   "for archived articles answered unchanged, with a new version, or gone, over all crawl runs."))


# -- sections: each outlet ---------------------------------------------------------------------

@outlet_section("Articles per day")
def articles_per_day_section(report: Report, o: OutletData) -> str | None:
    if not o.per_day:
        return None
    first, last = date.fromisoformat(min(o.per_day)), date.fromisoformat(max(o.per_day))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    counts = [o.per_day.get(day.isoformat(), 0) for day in days]
    busiest = max(o.per_day.items(), key=lambda item: (item[1], item[0]))
    text = (f"{o.articles:,} articles over {len(days):,} days ({first} to {last}); busiest day {busiest[0]} "
            f"with {busiest[1]:,}. Day of publication as the article states it")
    text += (f"; {o.dated_by_fetch:,} articles state none and are counted on the day first archived."
             if o.dated_by_fetch else ".")
    return bar_chart(days, counts, "Articles by day of publication", ylabel="articles", dates=True) + note(text)


@outlet_section("Versions per article")
def versions_section(report: Report, o: OutletData) -> str | None:
    if not o.versions_hist:
        return None
    top = max(o.versions_hist)
    cap = 10
    labels = [str(n) for n in range(1, min(top, cap) + 1)] + ([f"{cap + 1}+"] if top > cap else [])
    counts = [o.versions_hist.get(n, 0) for n in range(1, min(top, cap) + 1)]
    if top > cap:
        counts.append(sum(v for k, v in o.versions_hist.items() if k > cap))
    text = (f"{o.changed_articles:,} of {o.articles:,} articles "
            f"({100 * o.changed_articles / o.articles:.1f} %) have more than one version; "
            f"{o.captured_versions:,} versions in all, at most {top} for one article.")
    if o.reextracted:
        text += f" Not counted: {o.reextracted:,} versions made by re-extraction."
    return (bar_chart(labels, counts, "Articles by number of versions", xlabel="versions", ylabel="articles")
            + note(text))


@outlet_section("Time from publication to each edit")
def edit_time_section(report: Report, o: OutletData) -> str | None:
    if not o.edits:
        return note(f"No edits found yet: every one of the {o.articles:,} articles still has the text "
                    f"first archived.") if o.articles else None
    parts = []
    if o.edit_hours:
        median, p90 = o.edit_quantile(0.5), o.edit_quantile(0.9)
        parts.append(histogram_chart(list(o.edit_hours), "Edits by time from publication to the fetch that found them",
                                     xlabel="time after publication (log scale)", ylabel="edits", log=True,
                                     markers={"median": median, "90 %": p90}, color=COLORS["edit"]))
        text = (f"{o.edits:,} edits; of the {len(o.edit_hours):,} with a publication time, half were found within "
                f"{duration(median)}, 90 % within {duration(p90)}, the last after {duration(o.edit_hours[-1])}. "
                f"The time is that of the fetch that found the edit: the edit itself was made between the "
                f"check before and that fetch.")
    else:
        text = f"{o.edits:,} edits, none with a publication time to measure from."
    skipped = []
    if o.edits_undated:
        skipped.append(f"{o.edits_undated:,} of articles with no publication time (or a date only)")
    if o.edits_before_publication:
        skipped.append(f"{o.edits_before_publication:,} found before the publication time the page states")
    if skipped and o.edit_hours:
        text += " Not in the chart: " + "; ".join(skipped) + "."
    parts.append(note(text))
    if o.changes:
        kinds = sorted(o.changes.items(), key=lambda item: (-item[1], item[0]))
        parts.append(bar_chart([k for k, _ in kinds], [v for _, v in kinds], "Edits by what changed",
                               horizontal=True, color=COLORS["edit"]))
    return "".join(parts)


@outlet_section("Re-check cost")
def recheck_section(report: Report, o: OutletData) -> str | None:
    scheduled = (f"Of the {o.states.get('active', 0):,} active articles, {o.checks_scheduled:,} are still on the "
                 f"re-check schedule and {o.checks_ended:,} are checked no more (their re-checks ended); "
                 f"last check {o.last_checked or '–'}.")
    runs = [run for run in o.runs if run.rechecks]
    if not runs:
        return note(f"No re-checks yet in {len(o.runs):,} crawl runs. " + scheduled)
    total, found = o.rechecks, o.versions_found_by_rechecks
    if len(runs) <= 40:
        labels = [f"#{run.run_id}" for run in runs]
        series = {"unchanged": [run.unchanged for run in runs], "new version": [run.new_versions for run in runs],
                  "gone": [run.gone for run in runs]}
        xlabel = "crawl run"
    else:  # many (scheduled) runs: by day
        by_day: dict[str, Counter] = {}
        for run in runs:
            by_day.setdefault(run.started_at[:10], Counter()).update(
                {"unchanged": run.unchanged, "new version": run.new_versions, "gone": run.gone})
        labels = list(by_day)
        series = {name: [by_day[day][name] for day in labels] for name in ("unchanged", "new version", "gone")}
        xlabel = "day of the crawl run"
    series = {name: values for name, values in series.items() if any(values)}
    chart = stacked_bar_chart(labels, series, "Re-check requests and what they found", xlabel=xlabel,
                              ylabel="requests", colors={"unchanged": COLORS["unchanged"],
                                                         "new version": COLORS["edit"], "gone": COLORS["gone"]})
    rows = [[f"#{run.run_id}", run.started_at, run.rechecks, run.new_versions, run.unchanged, run.gone,
             f"{run.rechecks / run.new_versions:,.1f}" if run.new_versions else "–"] for run in runs[-12:]]
    headers = ["run", "started", "re-checks", "new versions", "unchanged", "gone", "re-checks per new version"]
    text = (f"{total:,} re-check requests in {len(runs):,} of {len(o.runs):,} crawl runs found {found:,} new versions: "
            + (f"{total / found:,.1f} requests per new version. " if found else "none. ") + scheduled)
    caption = "" if len(runs) <= 12 else note(f"The last 12 of {len(runs):,} runs with re-checks:")
    return chart + note(text) + caption + table(headers, rows)


@outlet_section("Errors by kind")
def errors_section(report: Report, o: OutletData) -> str | None:
    if not o.runs:
        return None
    if not o.errors:
        return note(f"No errors in {len(o.runs):,} crawl runs.")
    kinds = sorted(o.errors.items(), key=lambda item: (-item[1], item[0]))
    chart = bar_chart([k for k, _ in kinds], [v for _, v in kinds], "Errors by kind, all crawl runs",
                      horizontal=True, color=COLORS["error"])
    with_errors = [run for run in o.runs if run.errors]
    names = [k for k, _ in kinds][:8]
    rows = [[f"#{run.run_id}", run.started_at, *[run.errors.get(k, 0) for k in names]] for run in with_errors[-10:]]
    text = (f"{sum(o.errors.values()):,} errors in {len(with_errors):,} of {len(o.runs):,} crawl runs "
            f"(the kinds are those of the crawl summary and `python -m archive runs`).")
    return chart + note(text) + table(["run", "started", *names], rows, numeric_from=2)


@outlet_section("Gone, moved and restored articles")
def events_section(report: Report, o: OutletData) -> str | None:
    if not o.events:
        return note("No article of this outlet has been found gone or moved.")
    kinds = [k for k in EVENT_KINDS if o.events.get(k)] + sorted(k for k in o.events if k not in EVENT_KINDS)
    chart = bar_chart(kinds, [o.events[k] for k in kinds], "Events by kind", horizontal=True,
                      color=COLORS["moved"])
    rows = [[event["at"], event["kind"], event["url"], event_detail(event["kind"], event["detail"])[:160]]
            for event in reversed(o.recent_events)]
    return (chart + note(f"The {len(rows)} latest events:")
            + table(["at", "kind", "article", "detail"], rows, numeric_from=99))
