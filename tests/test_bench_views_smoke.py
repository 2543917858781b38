"""Issue 19: the views benchmark (``make bench-views``) in miniature, 3 outlets x 10 articles,
so that it cannot rot. Checks that every command runs and the JSON result is written, not
the figures."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def test_views_benchmark_smoke(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tests.bench.views", "--articles", "10", "--out",
                             str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    [written] = tmp_path.glob("views-*.json")
    data = json.loads(written.read_text())
    assert data["facts"]["versions"] == 30 and data["built"]["recheck"]["returncode"] == 0
    steps = data["results"]
    assert {"index --rebuild", "index (nothing new)", "wacz -o (all)"} <= set(steps)
    for name, step in steps.items():
        assert step["returncode"] == 0 and step["seconds"] > 0 and step["peak_rss_mb"] > 10, (name, step)
    assert "index --rebuild" in result.stdout
