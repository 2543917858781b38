"""A private PostgreSQL server for tests and benchmarks: Debian's ``postgresql`` package
(installed, not running), a new cluster in a temporary directory, on 127.0.0.1 and a free
port, owned by an unprivileged user."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def postgres_bin() -> Path | None:
    """The directory of Debian's PostgreSQL server programs (initdb, pg_ctl), newest first."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name),
                   reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (trust auth), run as an unprivileged
    user: the current one, or ``postgres`` (else ``nobody``) when the tests run as root."""

    def __init__(self, bindir: Path, root: Path | None = None):
        self.bindir = bindir
        self.root = root or Path(tempfile.mkdtemp(prefix="newsarchive-pg-"))
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres" if _has_user("postgres") else "nobody"
            shutil.chown(self.root, self.user)
        self.data = self.root / "data"
        self.databases = 0

    def _run(self, *argv: str) -> None:
        """A server program, as the server's user."""
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        """A new cluster in ``root``, started on 127.0.0.1 (durability off: a test server)."""
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "newsarchive", "-E", "UTF8", "--no-sync")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                   f"-c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self) -> None:
        """Stop the server and delete its files."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, database: str = "postgres") -> str:
        """The catalog URL of ``database`` on this server."""
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
