"""Article-body extraction benchmark (``make bench-extract`` = ``python -m tests.bench.extraction``).

Scores ``archive.text.extract:article_body`` against trafilatura and readability-lxml on the
Zyte/Scrapinghub article-extraction benchmark (181 real pages with hand-made ground
truth) kept outside the repository in ``../shared/bench/extraction``. The scorer is that
directory's ``evaluate.py`` and the two reference systems are its
``reference_extractors.py`` adapters, run by path, side by side in one process, so the
ms/page figures compare (the machines are shared: compare speed as ratios within a run).

Options are passed through to ``evaluate.py`` (``--worst 10``, ``--limit 20``,
``--bootstrap 0``, ``--save-predictions DIR``, ``--json FILE``...). Where the benchmark
lives can be changed with ``--bench-dir`` or the ``NEWSARCHIVE_BENCH_DIR`` variable. When
it is missing, the script says so and exits 0 (the benchmark is optional in CI).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BENCH_DIR = REPO.parent / "shared" / "bench" / "extraction"
DATASET = "scrapinghub"
OURS = "newsarchive=archive.text.extract:article_body"
REFERENCES = ("trafilatura_default", "readability_lxml")


def command(bench_dir: Path, extra: list[str]) -> list[str]:
    """The evaluate.py command line: our extractor, then the references, by path."""
    references = bench_dir / "reference_extractors.py"
    cmd = [sys.executable, str(bench_dir / "evaluate.py"), "--dataset", str(bench_dir / DATASET),
           "--extractor", OURS]
    for name in REFERENCES:
        cmd += ["--extractor", f"{name}={references}:{name}"]
    return cmd + extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Other options go to evaluate.py, e.g. --worst 10 --bootstrap 0.")
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("NEWSARCHIVE_BENCH_DIR") or DEFAULT_BENCH_DIR),
                        help=f"directory with evaluate.py, reference_extractors.py and {DATASET}/ "
                             f"(default: {DEFAULT_BENCH_DIR})")
    args, extra = parser.parse_known_args(argv)
    bench_dir = args.bench_dir.resolve()
    missing = [p for p in (bench_dir / "evaluate.py", bench_dir / "reference_extractors.py",
                           bench_dir / DATASET / "ground-truth.json") if not p.exists()]
    if missing:
        print(f"extraction benchmark not available: {missing[0]} is missing; nothing to do.\n"
              f"(It lives outside the repository, in {DEFAULT_BENCH_DIR}; point --bench-dir or "
              f"NEWSARCHIVE_BENCH_DIR at a copy to run it.)")
        return 0
    if importlib.util.find_spec("readability") is None:  # a reference system, in the "test" extra
        print("note: readability-lxml is not installed (pip install -e '.[test]'); "
              "its row will show errors on every page", file=sys.stderr)
    cmd = command(bench_dir, extra)
    print("$ " + " ".join(cmd), flush=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))))
    return subprocess.call(cmd, cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main())
