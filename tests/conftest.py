"""Shared helpers: generated outlets on 127.0.0.1 and real `scrapy crawl` subprocesses."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive.store.catalog import catalog_url_for
from tests.demosite import OutletSite, SiteServer
from tests.pgserver import PostgresServer, postgres_bin

REPO = Path(__file__).resolve().parent.parent
FAST_CRAWL = ["-s", "AUTOTHROTTLE_ENABLED=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
              "-s", "PROGRESS_INTERVAL=0", "-s", "RETRY_TIMES=0", "-s", "DOWNLOAD_TIMEOUT=15"]


def run_crawl(outlets_file: Path, archive_dir: Path, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``scrapy crawl news`` as a user runs it, from the repository root."""
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"OUTLETS_FILE={outlets_file}",
               "-s", f"ARCHIVE_DIR={archive_dir}", *FAST_CRAWL, *extra]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def served():
    """Start a SiteServer for the given sites; stopped after the test."""
    servers = []

    def start(*sites: OutletSite) -> SiteServer:
        server = SiteServer(list(sites))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def serve_and_crawl(tmp_path: Path, served, site: OutletSite, sources: tuple[str, ...] = ("rss", "sitemap"),
                    *extra: str) -> tuple[str, Path, Path, subprocess.CompletedProcess]:
    """Serve ``site``, write its outlets file and crawl it once (the crawl must succeed):
    (the site's base URL, the outlets file, the archive directory, the crawl)."""
    server = served(site)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(server.outlets_toml(sources=sources))
    archive = tmp_path / "archive"
    first = run_crawl(outlets, archive, *extra)
    assert first.returncode == 0, first.stderr[-2000:]
    return server.base_url(site), outlets, archive, first


# -- PostgreSQL: a private cluster for the tests -------------------------------------------

POSTGRES_REQUIRED = "NEWSARCHIVE_REQUIRE_POSTGRES"  # set by .ci/run: a missing server fails, not skips


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the session (skipped where none is installed, unless
    ``NEWSARCHIVE_REQUIRE_POSTGRES`` is set)."""
    bindir = postgres_bin()
    if bindir is None:
        if os.environ.get(POSTGRES_REQUIRED):
            pytest.fail("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    with PostgresServer(bindir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path):
    """A fresh catalog URL: SQLite in ``tmp_path``, then a new PostgreSQL database."""
    if request.param == "sqlite":
        return catalog_url_for(str(tmp_path))
    return request.getfixturevalue("postgres").new_database()
