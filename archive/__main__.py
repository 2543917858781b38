"""Command line for reading, checking, exporting, indexing, packaging, re-extracting and reporting on an archive.

``python -m archive <command> [--archive DIR]`` (also installed as ``newsarchive``).
The archive directory defaults to ``$NEWSARCHIVE_ARCHIVE_DIR``, else ``./data/archive``.
Exit codes: 0 success; 1 ``verify`` found problems / ``reextract`` had per-page errors / ``index``
could not read a WARC file / ``groups`` could not read some text files;
2 usage errors, a missing archive, an unknown URL/seq/file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from .tools.reader import ARCHIVE_ENV, ArchiveError, ArchiveReader, default_archive_dir, normalize_time

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
PROG = "newsarchive"


def _add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--archive", metavar="DIR", default=default,
                        help=f"archive directory (default: ${ARCHIVE_ENV}, else ./data/archive)")
    parser.add_argument("--catalog", metavar="URL", default=default,
                        help="catalog database URL (default: $NEWSARCHIVE_CATALOG_URL, else DIR/catalog.sqlite)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Read, check, export, index, package, re-extract and report on a newsarchive archive.",
        epilog="Run '%(prog)s COMMAND --help' for a command's options.")
    _add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_common(p, suppress=True)
        return p

    p = command("list", "List articles with their number of versions, latest title, first seen and last checked.")
    p.add_argument("--outlet", help="only this outlet")
    p.add_argument("--changed", action="store_true", help="only articles with more than one version")
    p.add_argument("--all", action="store_true", dest="all_articles",
                   help="also articles discovered but never archived (0 versions)")

    p = command("versions", "List the versions of one article.")
    p.add_argument("article", metavar="URL|ARTICLE_ID")

    p = command("show", "Print a version's text.")
    p.add_argument("version", metavar="FILE|SEQ", help="text file (text/NNN_hash.txt, NNN_hash.txt) or seq number")
    p.add_argument("--meta", action="store_true", help="start with a header: url, version, fetch time, WARC location")
    p.add_argument("--payload", action="store_true",
                   help="print the archived HTTP payload (Content-Encoding undone) instead of the text")

    p = command("diff", "Paragraph-by-paragraph unified diff of two versions.")
    p.usage = "%(prog)s [-h] [--from N] [--to M] [-U N] [--archive DIR] (URL|ARTICLE_ID | SEQ1 SEQ2)"
    p.add_argument("refs", nargs="+", metavar="REF",
                   help="one article (URL or id): compare two of its versions (default: the last two); "
                        "or two versions SEQ1 SEQ2 (sequence numbers or text file names)")
    p.add_argument("--from", type=int, dest="from_version", metavar="N", help="old version number (with an article)")
    p.add_argument("--to", type=int, dest="to_version", metavar="M", help="new version number (with an article)")
    p.add_argument("-U", "--context", type=int, default=3, metavar="N", help="paragraphs of context (default 3)")

    p = command("verify", "Check text files, catalog and WARC files against each other.")
    p.add_argument("--quick", action="store_true",
                   help="skip re-hashing texts and reading WARC records/files; check names, existence, leftovers")

    p = command("export", "Export versions, articles, events, the link graph or the syndication groups as CSV, "
                          "JSON Lines or Parquet.")
    p.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="csv",
                   help="output format (default csv; parquet needs -o FILE)")
    p.add_argument("--what", choices=("versions", "articles", "events", "links", "groups"), default="versions",
                   help="versions (manifest columns and more), articles, events (gone, moved, restored: "
                        "at,outlet,url,event,detail,version), links (source article URL, target URL), or "
                        "groups (syndicated copies across outlets: one row per member, with how it differs "
                        "from the group's earliest member)")
    p.add_argument("--with-text", action="store_true",
                   help="add a 'text' column with each row's text (versions, articles, groups); "
                        "otherwise the file column refers to it")
    p.add_argument("--outlet", help="only this outlet (groups: groups with a member at this outlet)")
    p.add_argument("--since", metavar="DATE", help="from this time on (versions/links: fetched_at; articles: "
                                                   "first_seen; events: at); YYYY-MM-DD or ISO 8601, UTC")
    p.add_argument("--until", metavar="DATE", help="before this time; a bare date includes that whole day")
    p.add_argument("--latest", action="store_true", help="versions/links: only each article's latest version")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")

    p = command("index", "Bring the CDXJ index for pywb (DIR/indexes/index.cdxj) up to date with the WARC files.")
    p.add_argument("--rebuild", action="store_true", help="index every WARC file again, not only the new ones")

    p = command("wacz", "Package WARC records, their index and a page list (one page per article "
                        "version) as a WACZ file for ReplayWeb.page.")
    p.add_argument("--outlet", help="only this outlet's article versions")
    p.add_argument("--since", metavar="DATE", help="only versions fetched from this time on; YYYY-MM-DD or "
                                                   "ISO 8601, UTC")
    p.add_argument("--until", metavar="DATE", help="only versions fetched before this time; a bare date "
                                                   "includes that whole day")
    p.add_argument("--title", help="the collection's title (default: the archive directory and the filter)")
    p.add_argument("-o", "--output", metavar="FILE.wacz", required=True, help="write the package to FILE.wacz")
    p = command("groups", "Group syndicated copies of a story across outlets (identical and lightly edited "
                          "texts); a crawl updates the groups itself.")
    p.add_argument("--rebuild", action="store_true",
                   help="forget the stored signatures and groups and group every article again "
                        "(also splits groups that an edit broke in two)")

    p = command("reextract", "Rebuild text files from the archived WARC responses (no network).")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", metavar="DIR", help="write a new archive (catalog, text/, manifest) into DIR")
    mode.add_argument("--in-place", action="store_true",
                      help="add a 'reextract' version to every article whose latest text changes")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="extraction processes (default: all cores; 0: in this process)")
    p.add_argument("--outlet", help="only this outlet")
    p.add_argument("--dry-run", action="store_true", help="with --in-place: only report what would change")

    p = command("report", "Write a self-contained HTML report: per outlet, articles per day, versions, "
                          "time to each edit, re-check cost, errors, gone/moved articles.")
    p.add_argument("--outlet", help="only this outlet")
    p.add_argument("-o", "--output", metavar="FILE", default="report.html",
                   help="the HTML file to write (default report.html)")

    p = command("runs", "The last crawl (and re-extraction) runs with per-outlet stats.")
    p.add_argument("--limit", type=int, default=10, metavar="N", help="how many runs (default 10)")
    return parser


# -- output helpers ---------------------------------------------------------------------------

def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _clip(text: str | None, width: int = 100) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


# -- commands --------------------------------------------------------------------------------

def cmd_list(reader: ArchiveReader, args) -> int:
    _out(f"{'ID':>6}  {'OUTLET':<14} {'VERS':>4}  {'FIRST_SEEN':<20}  {'LAST_CHECKED':<20}  URL  TITLE")
    count = 0
    for row in reader.articles(outlet=args.outlet, changed=args.changed, all_articles=args.all_articles):
        state = "" if row["state"] == "active" else f"[{row['state']}] "
        _out(f"{row['id']:>6}  {row['outlet']:<14} {row['latest_version']:>4}  {row['first_seen'] or '-':<20}  "
             f"{row['last_checked'] or '-':<20}  {state}{row['url']}  {_clip(row['latest_title'])}")
        count += 1
    _err(f"{count} articles")
    return EXIT_OK


def cmd_versions(reader: ArchiveReader, args) -> int:
    article = reader.article(args.article)
    versions = reader.catalog.versions_of(article["id"])
    _out(f"article {article['id']} ({article['outlet']}, {article['state']}): {article['url']}")
    _out(f"first seen {article['first_seen']}, last checked {article['last_checked'] or '-'}, "
         f"{len(versions)} versions")
    _out(f"{'SEQ':>6}  {'VER':>3}  {'FETCHED_AT':<20}  {'REASON':<9}  {'FILE':<28}  TITLE")
    for row in versions:
        _out(f"{row['seq']:>6}  {row['version']:>3}  {row['fetched_at']:<20}  {row['reason']:<9}  "
             f"{row['file']:<28}  {_clip(row['title'])}")
    return EXIT_OK


def cmd_show(reader: ArchiveReader, args) -> int:
    row = reader.version(args.version)
    if args.payload:
        http, payload = reader.warc_record(row)
        if args.meta:
            _meta_header(reader, row)
            _out(f"# http: {http.protocol} {http.statusline}")
            for name, value in http.headers:
                _out(f"# http: {name}: {value}")
            _out()
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        return EXIT_OK
    data = reader.text_bytes(row)
    if args.meta:
        _meta_header(reader, row)
        _out()
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    return EXIT_OK


def _meta_header(reader: ArchiveReader, row: dict) -> None:
    article = reader.catalog.article_by_id(row["article_id"])
    _out(f"# url: {row['url']}")
    if article and article["url"] != row["url"]:
        _out(f"# article: {article['url']}")
    _out(f"# version: {row['version']} (seq {row['seq']}, reason {row['reason']}, article id {row['article_id']})")
    _out(f"# fetched_at: {row['fetched_at']}")
    _out(f"# title: {row['title'] or ''}")
    _out(f"# file: {row['file']} (sha256 {row['sha256']})")
    if row.get("warc_file"):
        _out(f"# warc: {row['warc_file']} @ offset {row['warc_offset']}"
             + (f" ({row['warc_record_id']})" if row.get("warc_record_id") else ""))
    else:
        _out("# warc: none")


def cmd_diff(reader: ArchiveReader, args) -> int:
    if len(args.refs) > 2:
        raise ArchiveError("diff takes one article (URL or id) or two versions (SEQ1 SEQ2)")
    if len(args.refs) == 2:
        if args.from_version is not None or args.to_version is not None:
            raise ArchiveError("--from/--to go with one article, not with two versions")
        old, new = reader.version(args.refs[0]), reader.version(args.refs[1])
    else:
        article = reader.article(args.refs[0])
        versions = {row["version"]: row for row in reader.catalog.versions_of(article["id"])}
        if not versions:
            raise ArchiveError(f"article {article['url']} has no archived version")
        last = max(versions)
        to_version = args.to_version if args.to_version is not None else last
        from_version = args.from_version if args.from_version is not None else to_version - 1
        if len(versions) < 2 and args.from_version is None:
            raise ArchiveError(f"article {article['url']} has only one version; nothing to compare")
        for number in (to_version, from_version):
            if number not in versions:
                raise ArchiveError(f"article {article['url']} has no version {number} "
                                   f"(it has versions 1 to {last})")
        old, new = versions[from_version], versions[to_version]
    text = reader.diff(old, new, context=max(args.context, 0))
    if text:
        sys.stdout.write(text)
    else:
        _err(f"no differences between seq {old['seq']} and seq {new['seq']}")
    return EXIT_OK


def cmd_verify(reader: ArchiveReader, args) -> int:
    from .tools.verify import format_summary, verify_archive

    report = verify_archive(reader.archive_dir, reader.catalog, quick=args.quick,
                            emit=lambda line: (_out(line), sys.stdout.flush()))
    _out(format_summary(reader.archive_dir, report, args.quick))
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def cmd_export(reader: ArchiveReader, args) -> int:
    from .tools.export import TEXT_FILE_COLUMN, iter_rows, with_text, write_parquet, write_rows

    since = normalize_time(args.since) if args.since else None
    until = normalize_time(args.until, end=True) if args.until else None
    if args.latest and args.what not in ("versions", "links"):
        raise ArchiveError("--latest goes with --what versions or links")
    if args.with_text and args.what not in TEXT_FILE_COLUMN:
        raise ArchiveError(f"--with-text goes with --what {', '.join(TEXT_FILE_COLUMN)}")
    if args.format == "parquet" and (not args.output or args.output == "-"):
        raise ArchiveError("--format parquet writes a file: give -o FILE")
    problems: list[str] = []
    columns, rows = iter_rows(reader.catalog, args.what, outlet=args.outlet, since=since, until=until,
                              latest_only=args.latest, problems=problems, archive_dir=reader.archive_dir)
    if args.with_text:
        columns, rows = with_text(args.what, columns, rows, reader.archive_dir, problems)
    if args.output and args.output != "-":
        tmp = f"{args.output}.{os.getpid()}.tmp"
        try:
            if args.format == "parquet":
                count = write_parquet(tmp, columns, rows)
            else:
                with open(tmp, "w", newline="", encoding="utf-8") as handle:
                    count = write_rows(handle, args.format, columns, rows)
            os.replace(tmp, args.output)
        except OSError as exc:
            raise ArchiveError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        where = args.output
    else:
        count = write_rows(sys.stdout, args.format, columns, rows)
        where = "standard output"
    for line in problems:
        _err(f"warning: {line}")
    _err(f"exported {count} rows ({args.what}) to {where}")
    return EXIT_OK


def cmd_index(reader: ArchiveReader, args) -> int:
    from .tools.index import format_summary, update_index

    report = update_index(reader.archive_dir, rebuild=args.rebuild, emit=_err)
    _out(format_summary(reader.archive_dir, report))
    return EXIT_PROBLEMS if report.failed else EXIT_OK


def cmd_wacz(reader: ArchiveReader, args) -> int:
    from .tools.wacz import build_wacz, format_summary

    since = normalize_time(args.since) if args.since else None
    until = normalize_time(args.until, end=True) if args.until else None
    report = build_wacz(reader.archive_dir, reader.catalog, args.output, outlet=args.outlet, since=since,
                        until=until, title=args.title)
    _out(format_summary(args.output, report))
    return EXIT_OK
def cmd_groups(reader: ArchiveReader, args) -> int:
    from .store.lock import ArchiveLock, ArchiveLocked
    from .store.syndication import SyndicationError, update_groups

    lock = ArchiveLock(reader.archive_dir)
    try:
        lock.acquire()
    except ArchiveLocked as exc:
        raise ArchiveError(str(exc)) from None
    try:
        stats = update_groups(reader.catalog, reader.archive_dir, rebuild=args.rebuild,
                              emit=lambda line: _err(line))
    except SyndicationError as exc:
        raise ArchiveError(str(exc)) from None
    finally:
        lock.release()
    _out(f"groups {'rebuilt' if args.rebuild else 'updated'}: {stats.summary()}")
    _out("list them with: python -m archive export --what groups")
    return EXIT_PROBLEMS if stats.missing else EXIT_OK


def cmd_reextract(reader: ArchiveReader, args) -> int:
    from .tools.reextract import format_summary, reextract

    if args.workers is not None and args.workers < 0:
        raise ArchiveError("--workers must be 0 or more")
    stats = reextract(reader.archive_dir, reader.catalog, out_dir=args.out, in_place=args.in_place,
                      dry_run=args.dry_run, workers=args.workers, outlet=args.outlet,
                      emit=lambda line: (_out(line), sys.stdout.flush()))
    _out(format_summary(stats, args.out, args.in_place, args.dry_run))
    return EXIT_PROBLEMS if stats.errors else EXIT_OK


def cmd_report(reader: ArchiveReader, args) -> int:
    from .tools.report import write_report

    if args.outlet and args.outlet not in reader.catalog.outlet_names():
        raise ArchiveError(f"no outlet {args.outlet!r} in the catalog "
                           f"(it has: {', '.join(reader.catalog.outlet_names()) or 'none'})")
    try:
        report = write_report(reader.catalog, reader.archive_dir, args.output, outlet=args.outlet)
    except OSError as exc:
        raise ArchiveError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    articles = sum(o.articles for o in report.outlets.values())
    _err(f"wrote {args.output}: {len(report.outlets)} outlets, {articles} articles")
    return EXIT_OK


def cmd_runs(reader: ArchiveReader, args) -> int:
    runs = reader.runs(max(args.limit, 1))
    if not runs:
        _out("no runs recorded")
        return EXIT_OK
    for run in runs:
        _out(f"run {run['id']}  {run['kind']}  {run['status'] or '-'} (exit {run['exit_code']})  "
             f"{run['started_at']} -> {run['ended_at'] or 'still running or killed'}")
        outlets = run.get("outlets") or {}
        if outlets:
            _out(f"  {'OUTLET':<16} {'DISCOVERED':>10} {'FETCHED':>8} {'ARCHIVED':>8} {'NEW_VER':>8} "
                 f"{'UNCHANGED':>9} {'SKIPPED':>8}  ERRORS")
            for name, s in sorted(outlets.items()):
                try:
                    errors = json.loads(s.get("errors") or "{}")
                except ValueError:
                    errors = {}
                detail = ", ".join(f"{k}={v}" for k, v in sorted(errors.items())) or "none"
                _out(f"  {name:<16} {s['discovered']:>10} {s['fetched']:>8} {s['archived']:>8} "
                     f"{s['new_versions']:>8} {s['unchanged']:>9} {s['skipped']:>8}  {detail}")
    return EXIT_OK


COMMANDS = {
    "list": cmd_list, "versions": cmd_versions, "show": cmd_show, "diff": cmd_diff, "verify": cmd_verify,
    "export": cmd_export, "index": cmd_index, "wacz": cmd_wacz, "groups": cmd_groups, "reextract": cmd_reextract,
    "runs": cmd_runs, "report": cmd_report,
}


@contextmanager
def _quiet_broken_pipe():
    try:
        yield
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(EXIT_OK)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m archive`` and the ``newsarchive`` script; returns the exit code."""
    args = build_parser().parse_args(argv)
    archive_dir = args.archive or default_archive_dir()
    try:
        with _quiet_broken_pipe():
            with ArchiveReader(archive_dir, args.catalog) as reader:
                code = COMMANDS[args.command](reader, args)
            sys.stdout.flush()
            return code
    except ArchiveError as exc:
        sys.stdout.flush()
        _err(f"{PROG} {args.command}: error: {exc}")
        return EXIT_USAGE
    except OSError as exc:               # unreadable files, full disk: not a bug, no traceback
        sys.stdout.flush()
        _err(f"{PROG} {args.command}: error: {exc}")
        return EXIT_USAGE
    except SQLAlchemyError as exc:
        sys.stdout.flush()
        _err(f"{PROG} {args.command}: catalog error: {str(exc).splitlines()[0]}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err(f"{PROG} {args.command}: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
