"""``make demo`` (``python -m tests.demo``): crawl, edit, re-check, and show versions."""
from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_demo_shows_changed_articles_a_diff_and_the_report(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tests.demo", "--articles", "8", "--dir", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for step in ("1. Crawl both outlets", "2. The outlets change a few articles", "3. Re-check every archived article",
                 "4. Articles with more than one version", "5. What changed in one of them", "6. The report"):
        assert step in out
    listed = out[out.index("4. Articles"):out.index("5. What changed")]
    changed = [line for line in listed.splitlines() if re.match(r"\s+\d+\s+(harbor-daily|valley-news)\s+2\s", line)]
    assert len(changed) == 4, listed  # three edits at harbor-daily, one at valley-news
    assert "Harbour fee vote postponed after late objection" in listed
    diff = out[out.index("5. What changed"):out.index("6. The report")]
    assert re.search(r"^--- v1 .*\n\+\+\+ v2 ", diff, re.M)
    assert "+" in diff and "Correction: an earlier version misstated the harbour fee." in diff
    report = tmp_path / "report.html"
    assert f"Open the report: {report}" in out
    html = report.read_text(encoding="utf-8")
    assert "harbor-daily" in html and "valley-news" in html and html.count("<svg") >= 8
    assert "3 of 8 articles" in html  # harbor-daily: three of its eight articles changed
    assert len(out.splitlines()) < 60, "the demo's output should stay short"
