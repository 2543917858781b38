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
it is missing, the script names what is missing and exits 2. After the table it prints
each system's pages with F1 < 0.1 and the chooser's site-disjoint cross-validation
(:mod:`tests.bench.fit_choice`: in-sample against out-of-fold F1; ``--no-cv`` skips it).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
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


def load_evaluate(bench_dir: Path):
    """The benchmark's own scorer (evaluate.py), imported by path."""
    spec = importlib.util.spec_from_file_location("evaluate", bench_dir / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["evaluate"] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def near_empty_counts(json_path: Path) -> str:
    """One line: each system's pages with F1 < 0.1, from evaluate.py's --json output."""
    systems = json.loads(json_path.read_text(encoding="utf-8"))["systems"]
    return "pages with F1 < 0.1: " + ", ".join(
        f"{s['system']} {sum(1 for page in s['per_page'].values() if page['f1'] < 0.1)}" for s in systems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Other options go to evaluate.py, e.g. --worst 10 --bootstrap 0.")
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("NEWSARCHIVE_BENCH_DIR") or DEFAULT_BENCH_DIR),
                        help=f"directory with evaluate.py, reference_extractors.py and {DATASET}/ "
                             f"(default: {DEFAULT_BENCH_DIR})")
    parser.add_argument("--no-cv", action="store_true",
                        help="skip the chooser's cross-validation (about a minute)")
    args, extra = parser.parse_known_args(argv)
    bench_dir = args.bench_dir.resolve()
    missing = [p for p in (bench_dir / "evaluate.py", bench_dir / "reference_extractors.py",
                           bench_dir / DATASET / "ground-truth.json") if not p.exists()]
    if missing:
        print(f"error: the extraction benchmark is not available: {', '.join(map(str, missing))} "
              f"missing.\n(It lives outside the repository, in {DEFAULT_BENCH_DIR}; point --bench-dir or "
              f"NEWSARCHIVE_BENCH_DIR at a copy.)", file=sys.stderr)
        return 2
    cmd = command(bench_dir, extra)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))))
    with tempfile.TemporaryDirectory() as scratch:
        json_path = Path(scratch) / "scores.json"
        if "--json" not in extra:
            cmd += ["--json", str(json_path)]
        else:
            json_path = Path(extra[extra.index("--json") + 1])
        print("$ " + " ".join(cmd), flush=True)
        status = subprocess.call(cmd, cwd=REPO, env=env)
        if status != 0:
            return status
        print(near_empty_counts(json_path), flush=True)
    if args.no_cv or "--limit" in extra:
        return 0
    from .fit_choice import report  # imports the extractor: after the timed run
    evaluate = load_evaluate(bench_dir)
    print("\n" + report(evaluate.load_dataset(bench_dir / DATASET), evaluate), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
