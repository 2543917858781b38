"""Shared helpers: generated outlets on 127.0.0.1 and real `scrapy crawl` subprocesses."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from archive.store.catalog import catalog_url_for
from tests.demosite import OutletSite, SiteServer

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


# -- PostgreSQL: a private cluster for the tests -------------------------------------------

POSTGRES_REQUIRED = "NEWSARCHIVE_REQUIRE_POSTGRES"  # set by .ci/run: a missing server fails, not skips


def _postgres_bin() -> Path | None:
    """The directory of Debian's PostgreSQL server programs (initdb, pg_ctl), newest first."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name),
                   reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (trust auth), run as an unprivileged
    user: the current one, or ``postgres`` (else ``nobody``) when the tests run as root."""

    def __init__(self, bindir: Path, root: Path):
        self.bindir = bindir
        self.root = root
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres" if _has_user("postgres") else "nobody"
            shutil.chown(root, self.user)
        self.data = root / "data"
        self.databases = 0

    def _run(self, *argv: str) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "newsarchive", "-E", "UTF8", "--no-sync")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                   f"-c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://newsarchive@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        self.databases += 1
        name = f"catalog_{self.databases}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=newsarchive dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A PostgreSQL server for the session (skipped where none is installed, unless
    ``NEWSARCHIVE_REQUIRE_POSTGRES`` is set)."""
    bindir = _postgres_bin()
    if bindir is None:
        if os.environ.get(POSTGRES_REQUIRED):
            pytest.fail("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="newsarchive-pg-"))
    server = PostgresServer(bindir, root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path):
    """A fresh catalog URL: SQLite in ``tmp_path``, then a new PostgreSQL database."""
    if request.param == "sqlite":
        return catalog_url_for(str(tmp_path))
    return request.getfixturevalue("postgres").new_database()
