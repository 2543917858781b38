"""The archive's layering: imports only run down the path response -> WARC -> text ->
versioned file + catalog -> reading tools, never back up it, and never into the crawler.

Checked on the source (every ``import``, ``from ... import`` and ``import_module("...")``
in every file, function bodies included, relative imports resolved), and once in a real
process: what an extraction worker loads.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import archive

REPO = Path(__file__).resolve().parent.parent
ARCHIVE = REPO / "archive"

# the text files' format (bytes and names): the one module of store/ that text/ uses; it and
# the store/ package itself must stay stdlib-only, so importing them loads no catalog
TEXT_MAY_USE = {"archive.store", "archive.store.textfile", "archive.store.timefmt"}
# what each folder must not import: nothing later on the path (tools/ may use them all)
LATER_STEPS = {
    "warc": ("archive.text", "archive.store", "archive.tools", "sqlalchemy"),
    "text": ("archive.store", "archive.tools", "sqlalchemy"),
    "store": ("archive.text", "archive.tools"),
}
NEVER_IN_ARCHIVE = ("crawler", "scrapy", "twisted")
NEVER_IN_WORKERS = ("sqlalchemy", "archive.store.catalog", "archive.store.textstore", "archive.tools",
                    "crawler", "scrapy", "twisted")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(name: str, level: int, package: str) -> str:
    if not level:
        return name
    base = package.split(".")
    base = base[:len(base) - level + 1]
    return ".".join(base + ([name] if name else []))


def _public(name: str) -> str:
    """``archive.Catalog`` is really ``archive.store.catalog`` (archive's lazy exports)."""
    head, _, attr = name.rpartition(".")
    return f"archive.{archive._EXPORTS[attr]}" if head == "archive" and attr in archive._EXPORTS else name


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (and, for ``from X import y``, ``X.y`` too: y may be one)."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, package)
            if node.module:
                found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            target = node.args[0].value
            level = len(target) - len(target.lstrip("."))
            found.add(_absolute(target.lstrip("."), level, package))
    return {_public(name) for name in found}


def _under(name: str, prefixes) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_the_source_scan_sees_what_the_files_import():
    # the scan itself: relative, function-level, dynamic and public-name imports all count
    assert {"archive.warc.contentcoding", "archive.store.textfile"} <= imports_of(ARCHIVE / "text" / "job.py")
    assert "archive.text.extract" in imports_of(ARCHIVE / "text" / "job.py")  # inside extract_for_archive
    assert "archive.text.extract" in imports_of(ARCHIVE / "text" / "pool.py")  # import_module("...")
    assert {"archive.text.job", "archive.text.pool"} <= imports_of(ARCHIVE / "tools" / "reextract.py")
    assert "archive.tools.verify" in imports_of(ARCHIVE / "__main__.py")
    assert _public("archive.Catalog") == "archive.store.catalog"
    assert {p.parent.name for p in _sources(ARCHIVE)} >= {"archive", *LATER_STEPS, "tools"}


@pytest.mark.parametrize("path", _sources(ARCHIVE), ids=lambda p: str(p.relative_to(REPO)))
def test_archive_never_imports_the_crawler_scrapy_or_twisted(path):
    bad = sorted(name for name in imports_of(path) if _under(name, NEVER_IN_ARCHIVE))
    assert not bad, f"{path.relative_to(REPO)} imports {bad}: the archive must work without Scrapy"


@pytest.mark.parametrize("path", [p for folder in LATER_STEPS for p in _sources(ARCHIVE / folder)],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_import_runs_back_up_the_path(path):
    folder = path.relative_to(ARCHIVE).parts[0]
    bad = sorted(name for name in imports_of(path) if _under(name, LATER_STEPS[folder])
                 and not (folder == "text" and (name in TEXT_MAY_USE or _under(name, TEXT_MAY_USE - {"archive.store"}))))
    assert not bad, (f"{path.relative_to(REPO)} imports {bad}: archive/{folder}/ must not import "
                     f"{', '.join(LATER_STEPS[folder])}" + (" (text/ may use archive.store.textfile and .timefmt)"
                                                            if folder == "text" else ""))


@pytest.mark.parametrize("name", sorted(TEXT_MAY_USE))
def test_what_the_text_step_uses_of_the_store_is_stdlib_only(name):
    path = ARCHIVE.joinpath(*name.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    bad = sorted(n for n in imports_of(path) if n.split(".")[0] not in sys.stdlib_module_names | {"__future__"})
    assert not bad, f"{path.relative_to(REPO)} imports {bad}: the extraction workers import it"


def test_an_extraction_worker_loads_neither_the_catalog_nor_sqlalchemy():
    # what a worker process does: its initializer, then one page
    code = (
        "import json, sys\n"
        "from archive.text import pool\n"
        "from archive.text.job import extract_for_archive\n"
        "pool._load_extractor()\n"
        "page = b'<html><head><title>T</title></head><body><h1>T</h1><p>' + b'Words here. ' * 40 + b'</p></body></html>'\n"
        "result = extract_for_archive(page, 'text/html; charset=utf-8', 'http://127.0.0.1/a')\n"
        "print(json.dumps({'text': result['text'].decode(), 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert "Words here." in report["text"]
    loaded = set(report["modules"])
    assert {"archive.text.job", "archive.text.pool", "archive.text.extract", "archive.store.textfile"} <= loaded
    bad = sorted(name for name in loaded if _under(name, NEVER_IN_WORKERS))
    assert not bad, f"an extraction worker loads {bad}"
