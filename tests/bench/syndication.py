"""Benchmark of the syndication groups: precision and recall of the grouped pairs, time
and peak memory of grouping, on a generated archive with known copies.

``python -m tests.bench.syndication [--texts 100000] [--dir DIR]``

1. writes about ``--texts`` texts (wire stories with lightly edited copies at several
   outlets, and distinct stories on the same topics: tests/syndication_corpus.py) into a
   real archive (text files + SQLite catalog) as the crawl does;
2. runs ``python -m archive groups`` in a child process (its time and peak RSS are the
   grouping's own), and reports precision and recall of the grouped pairs;
3. adds a crawl's worth of new texts (1%) and times the incremental update;
4. prints the catalog's growth per text, the figures for extrapolating to 10^6 texts.
"""
from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from archive.store import syndication as syn
from archive.store.catalog import Catalog, catalog_url_for
from tests.syndication_corpus import archive_corpus, make_corpus, pair_scores

REPO = Path(__file__).resolve().parents[2]
TEXTS_PER_STORY = 5.0   # make_corpus: the story, 2-4 copies, one distinct story on the topic


# the child reports its own peak RSS (VmHWM): ru_maxrss would also count the pages it
# shared with this process, which holds the whole test set, between fork and exec
_CHILD = ("import sys; from archive.__main__ import main; code = main(sys.argv[1:]); "
          "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=sys.stderr); "
          "sys.exit(code)")


def _group(archive: Path, *extra: str) -> tuple[float, float, str]:
    """Seconds, peak RSS (MiB) and output of ``python -m archive groups`` in a child."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, "--archive", str(archive), "groups", *extra],
                          cwd=REPO, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    return seconds, int(done.stderr.split()[-1]) / 1024, done.stdout.strip()


def _db_size(archive: Path) -> int:
    """Bytes of the catalog, with its write-ahead log."""
    return sum(path.stat().st_size for path in archive.glob("catalog.sqlite*"))


def _groups(catalog: Catalog, ids: dict[str, int]) -> list[list[str]]:
    key_of = {article_id: key for key, article_id in ids.items()}
    groups = collections.defaultdict(list)
    with catalog.engine.connect() as conn:
        query = select(syn.syndication_texts.c.article_id, syn.syndication_texts.c.group_id)
        for article_id, group_id in conn.execution_options(yield_per=5000).execute(query):
            groups[group_id].append(key_of[article_id])
    return [keys for keys in groups.values() if len(keys) > 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=100_000, help="about this many texts (default 100000)")
    parser.add_argument("--dir", help="build the archive here (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    archive = Path(args.dir or tempfile.mkdtemp(prefix="bench-syndication-"))
    archive.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(catalog_url_for(str(archive)))
    stories = max(1, round(args.texts / TEXTS_PER_STORY))
    texts = make_corpus(stories, seed=args.seed)
    new_count = max(1, len(texts) // 100)
    old, new = texts[:-new_count], texts[-new_count:]
    started = time.perf_counter()
    ids = archive_corpus(old, archive, catalog, batch=2000)
    print(f"archive: {len(old)} texts ({stories} wire stories with copies, distinct stories on the same topics) "
          f"written in {time.perf_counter() - started:.0f} s to {archive}")
    size_before = _db_size(archive)

    seconds, peak, output = _group(archive)
    print(output.splitlines()[0])
    seconds = float(re.search(r"; ([0-9.]+) s$", output.splitlines()[0])[1])   # the grouping's own time
    print(f"grouping {len(old)} texts: {seconds:.1f} s ({len(old) / seconds:.0f} texts/s), "
          f"peak RSS {peak:.0f} MiB")
    per_text = (_db_size(archive) - size_before) / len(old)
    print(f"catalog growth: {per_text:.0f} bytes per text (signature, band keys, indexes)")

    ids = archive_corpus(new, archive, catalog, batch=2000)
    seconds_new, _, output = _group(archive)
    print(f"a later crawl's {len(new)} new texts: {seconds_new:.2f} s ({output.splitlines()[0]})")

    scores = pair_scores(texts, _groups(catalog, ids))
    print(f"pairs: {scores['true_pairs']} true, {scores['predicted_pairs']} predicted, "
          f"{scores['correct_pairs']} correct: precision {scores['precision']:.4f}, recall {scores['recall']:.4f}")
    rate = len(old) / seconds
    print(f"extrapolated to 10^6 texts: about {1e6 / rate / 60:.0f} min to group from scratch on this machine, "
          f"{per_text * 1e6 / 2**30:.1f} GiB of catalog; memory stays that of one batch "
          f"({syn.BATCH} texts) plus the candidates' signatures")
    catalog.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
