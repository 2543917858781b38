"""``make demo``: serve two small generated outlets on 127.0.0.1, crawl them, show the archive.

No network needed: a newcomer sees the whole pipeline (feeds -> WARC -> cleaned text ->
catalog -> manifest) on their own machine. Run ``python -m tests.demo [--articles N]``.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from pathlib import Path

from tests.demosite import OutletSite, SiteServer

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """Serve, crawl, and print a tour of the resulting archive."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20, help="articles per outlet (default 20)")
    parser.add_argument("--dir", type=Path, default=REPO / "data" / "demo", help="where the demo archive goes")
    args = parser.parse_args(argv)
    sites = [OutletSite("harbor-daily", n_articles=args.articles, seed=1, title="The Harbor Daily"),
             OutletSite("valley-news", n_articles=args.articles, seed=2, title="Valley News")]
    archive = args.dir / "archive"
    shutil.rmtree(archive, ignore_errors=True)
    args.dir.mkdir(parents=True, exist_ok=True)
    with SiteServer(sites) as server:
        outlets_file = args.dir / "outlets.toml"
        outlets_file.write_text(server.outlets_toml())
        for site in sites:
            print(f"demo outlet {site.name} at {server.base_url(site)}")
        command = [sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"OUTLETS_FILE={outlets_file}",
                   "-s", f"ARCHIVE_DIR={archive}", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "LOG_LEVEL=WARNING"]
        print("$ scrapy", " ".join(command[3:]), flush=True)
        code = subprocess.call(command, cwd=REPO)
    if code != 0:
        print(f"the demo crawl failed (exit {code})", file=sys.stderr)
        return code
    _tour(archive)
    return 0


def _tour(archive: Path) -> None:
    texts = sorted((archive / "text").glob("*.txt"))
    warcs = sorted((archive / "warc").glob("*.warc.gz"))
    with open(archive / "manifest.csv", newline="", encoding="utf-8") as handle:
        manifest = list(csv.DictReader(handle))
    print(f"\nThe archive is in {archive}")
    print(f"  warc/          {len(warcs)} WARC file(s), {sum(p.stat().st_size for p in warcs):,} bytes: every HTTP exchange")
    print(f"  text/          {len(texts)} cleaned article texts named NNN_<sha256[:16]>.txt")
    print("  catalog.sqlite one row per article and per version")
    print(f"  manifest.csv   {len(manifest)} rows: file -> url, outlet, version, sha256, warc_file, warc_offset ...")
    if texts:
        first = texts[0].read_text(encoding="utf-8")
        print(f"\n--- {texts[0].relative_to(archive)} (first 600 characters) ---")
        print(first[:600] + ("..." if len(first) > 600 else ""))
        row = manifest[0]
        print(f"--- from {row['url']}, WARC record at {row['warc_file']} offset {row['warc_offset']} ---")
    print("\nTry:")
    print(f"  sha256sum {archive}/text/000_*.txt          # the name's 16 hex digits start the hash")
    print(f"  .venv/bin/warcio index {warcs[0] if warcs else archive / 'warc/*.warc.gz'}")
    print(f"  .venv/bin/python -m archive --archive {archive} list")
    print(f"  python3 -c \"import pandas; print(pandas.read_csv('{archive}/manifest.csv').head())\"")


if __name__ == "__main__":
    sys.exit(main())
