"""``make demo``: serve two small generated outlets on 127.0.0.1, crawl them, edit a few of
their articles, re-check, and show the versions: ``list --changed``, a ``diff`` and the report.

No network needed: a newcomer sees the whole pipeline (feeds -> WARC -> cleaned text ->
catalog -> versions -> report) on their own machine. Run ``python -m tests.demo [--articles N]``.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from tests.demosite import OutletSite, SiteServer

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """Serve, crawl, edit, re-check, and print a short tour of the resulting archive."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20, help="articles per outlet (default 20, at least 8)")
    parser.add_argument("--dir", type=Path, default=REPO / "data" / "demo", help="where the demo archive goes")
    args = parser.parse_args(argv)
    if args.articles < 8:
        parser.error("--articles must be at least 8: the demo edits, removes and moves some of them")
    harbor = OutletSite("harbor-daily", n_articles=args.articles, seed=1, title="The Harbor Daily")
    valley = OutletSite("valley-news", n_articles=args.articles, seed=2, title="Valley News")
    sites = [harbor, valley]
    directory = args.dir.resolve()
    archive = directory / "archive"
    shutil.rmtree(archive, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    with SiteServer(sites) as server:
        outlets_file = directory / "outlets.toml"
        outlets_file.write_text(server.outlets_toml())
        for site in sites:
            print(f"demo outlet {site.name} at {server.base_url(site)}")
        crawl = [sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"OUTLETS_FILE={_show(outlets_file)}",
                 "-s", f"ARCHIVE_DIR={_show(archive)}", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "LOG_LEVEL=WARNING"]
        if _step("1. Crawl both outlets", crawl) != 0:
            return 1
        print(f"   {_count(archive / 'text', '*.txt')} article versions archived")

        print("\n2. The outlets change a few articles")
        for line in _edit(harbor, valley):
            print(f"   {line}")

        if _step("3. Re-check every archived article", crawl + ["-s", "RECHECK=all"]) != 0:
            return 1
        print(f"   {_count(archive / 'text', '*.txt')} article versions archived")

        tool = [sys.executable, "-m", "archive", "--archive", _show(archive)]
        if _step("4. Articles with more than one version", tool + ["list", "--changed"]) != 0:
            return 1
        edited = server.base_url(harbor) + harbor.article_path(harbor.listed_article_ids()[-1])
        if _step("5. What changed in one of them", tool + ["diff", edited, "-U", "0"]) != 0:
            return 1
        report = directory / "report.html"
        if _step("6. The report", tool + ["report", "-o", _show(report)]) != 0:
            return 1
    print(f"\nOpen the report: {report}")
    print("More: python -m archive --help (versions, show --payload, export, verify, runs)")
    return 0


def _edit(harbor: OutletSite, valley: OutletSite) -> list[str]:
    """Edit, remove and move a few listed articles, newest first; what was done, one line each."""
    h, v = harbor.listed_article_ids(), valley.listed_article_ids()
    harbor.edit_article(h[-1], add_sentence="Correction: an earlier version misstated the harbour fee.")
    harbor.edit_article(h[-2], new_headline="Harbour fee vote postponed after late objection")
    harbor.edit_article(h[-3], add_sentence=True)
    valley.edit_article(v[-1], new_headline="Valley council approves new bridge", add_sentence=True)
    valley.remove_article(v[-2])
    new_path = valley.move_article(v[-3])
    return [f"harbor-daily: a correction appended to article {h[-1]}, a new headline on {h[-2]}, "
            f"an update on {h[-3]}",
            f"valley-news: a new headline and an update on article {v[-1]}; article {v[-2]} removed (404); "
            f"article {v[-3]} moved to {new_path} (301)"]


def _step(title: str, command: list[str]) -> int:
    """Print the step and its command (as a user types it), run it; its exit code."""
    shown = command[2:] if command[1] == "-m" else command
    print(f"\n{title}\n$ {'python -m ' if command[1] == '-m' and shown[0] == 'archive' else ''}{' '.join(shown)}",
          flush=True)
    code = subprocess.call(command, cwd=REPO)
    if code != 0:
        print(f"the demo step failed (exit {code})", file=sys.stderr)
    return code


def _show(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (shorter to read and type)."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def _count(directory: Path, pattern: str) -> int:
    return sum(1 for _ in directory.glob(pattern))


if __name__ == "__main__":
    sys.exit(main())
