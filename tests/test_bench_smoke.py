"""Issue 6: the crawl benchmark (``make bench``) in miniature: 3 outlets x 20 articles,
the demosite's Python server, three rounds, no memory scaling. Checks that every system runs
and the JSON result is written, not the speed."""
from __future__ import annotations

import json
import shutil
import time

from tests.bench.crawl import LONG_ROUNDS, LONG_SYSTEMS, run_benchmark

EXPECTED_SYSTEMS = {"bare", "bare_extract", "full", "no_text", "second"}


def test_benchmark_smoke(tmp_path):
    started = time.monotonic()
    run_benchmark(20, memory_scale=False, server="python", out_dir=tmp_path / "results",
                  workdir=tmp_path / "work", rounds=3, log=lambda message: None)
    elapsed = time.monotonic() - started

    written = list((tmp_path / "results").glob("crawl-*.json"))
    assert len(written) == 1
    data = json.loads(written[0].read_text())
    assert data["server"] == "python"
    assert data["articles"] == 60

    systems = {row["key"]: row for row in data["results"]}
    expected = set(EXPECTED_SYSTEMS)
    if shutil.which("wget"):
        expected.add("wget")
    assert expected <= set(systems), f"missing: {expected - set(systems)}"
    for key, row in systems.items():
        assert row["returncode"] == 0, f"{key} failed, see {row.get('log')}"
        assert row["seconds"] > 0 and row["peak_rss_mb"] > 0, row

    # correctness: the full crawl archived every article; the 2nd run found nothing new
    assert data["checks"]["full crawl archived every article (manifest rows)"]["ok"], data["checks"]
    assert systems["full"]["manifest_rows"] == 60
    assert systems["second"]["manifest_rows"] == 60
    assert data["all_checks_ok"], data["checks"]
    for name in ("full_vs_scrapy_trafilatura", "warc_catalog_vs_bare", "second_run_bytes_ratio",
                 "second_run_time_ratio"):
        assert data["ratios"][name]["value"] is not None, name
    assert data["ratios"]["rss_growth_10x"]["value"] is None   # no memory scaling here

    # three rounds: the quick systems ran three times, the long ones LONG_ROUNDS times (a tiny
    # site is well within the budget for repeating them), wget once;
    # each row is its system's fastest run
    for key in EXPECTED_SYSTEMS:
        seconds = [run["seconds"] for run in data["runs"][key]]
        assert len(seconds) == (LONG_ROUNDS if key in LONG_SYSTEMS else 3), (key, seconds)
        assert systems[key]["seconds"] == min(seconds), (key, seconds)
    assert len(data["runs"].get("wget", [])) <= 1
    assert data["ratios_by_round"]["warc_catalog_vs_bare"][2] is not None
    assert data["ratios_by_round"]["full_vs_scrapy_trafilatura"][2] is None
    assert systems["second"]["manifest_rows"] == 60  # re-checking the same archive again adds nothing
    assert elapsed < 120, f"the smoke benchmark took {elapsed:.0f} s"


def test_a_full_run_rewrites_only_the_generated_section_of_the_docs(tmp_path):
    from tests.bench.crawl import CURRENT_END, CURRENT_START, write_current_section

    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\nintro\n\n{CURRENT_START}\nold figures\n{CURRENT_END}\n\n## History\nkept\n")
    report = {"utc": "20261206T000000Z", "machine": {"cpus": 2}, "server": "nginx", "bodies": "real",
              "git": {"commit": "0123456789abcdef", "uncommitted_files": []}, "total_seconds": 400.0,
              "json_path": "/x/bench-results/crawl-20261206T000000Z.json",
              "results": [{"system": "bare scrapy", "pages": 3000, "seconds": 5.4, "pages_per_s": 555.5,
                           "peak_rss_mb": 97.0, "bytes": 1000, "cpu_seconds": 5.3, "runs_seconds": [5.6, 5.4]}],
              "ratios": {"full_vs_scrapy_trafilatura": {"value": 2.1, "target": ">= 2.0", "ok": True}},
              "ratios_by_round": {"full_vs_scrapy_trafilatura": [2.1, 2.0]}}
    assert write_current_section(report, docs)
    text = docs.read_text()
    assert "old figures" not in text and "intro" in text and "## History\nkept" in text
    assert "| bare scrapy | 3000 | 5.4 (5.6, 5.4) | 555.5 |" in text and "| 2.100 | 2.100, 2.000 | >= 2.0 | met |" in text
    assert write_current_section(report, docs) and docs.read_text() == text  # the same run, the same page
    assert not write_current_section(report, tmp_path / "missing.md")
