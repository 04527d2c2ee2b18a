"""A real PostgreSQL server for the tests (and the state-write benchmark), on 127.0.0.1.

- `postgres_server`: one server for the whole session: `initdb` in a fresh temporary directory,
  started with `pg_ctl` on a free port of 127.0.0.1 (its socket in that directory too), stopped
  and deleted at the end. PostgreSQL refuses to run as root, so under root the server runs as
  the `postgres` user (`runuser`); under any other user it runs as that user.
- `postgres_url`: a fresh, empty database on that server for each test (a SQLAlchemy URL with
  the psycopg driver).

The binaries are Debian's (`apt-get install postgresql`: /usr/lib/postgresql/<version>/bin, the
newest is used), or those in $CUSTODY_PG_BIN, or initdb/pg_ctl on PATH. Without them the tests
that need PostgreSQL fail with that message when CI=true, and are skipped otherwise.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.needs import require

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql, or set CUSTODY_PG_BIN"
)

# Settings for a throwaway test server: durability traded for speed (fsync off).
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    configured = os.environ.get("CUSTODY_PG_BIN")
    if configured:
        return Path(configured) if (Path(configured) / "initdb").exists() else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self, bindir: Path, settings: dict[str, str] | None = None) -> None:
        self.bindir = bindir
        self.settings = dict(settings or {})
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="custody-pg-"))
        self.data = self.root / "data"
        self._as_user: list[str] = []
        self._databases = itertools.count(1)
        self._flags = ""

    # ---- lifecycle

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:  # "root" execution of the PostgreSQL server is not permitted
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.root), **self.settings}
        for attempt in range(5):  # a free port can be taken between probing and binding
            self.port = free_port()
            flags = " ".join(f"-c {key}={value}" for key, value in {**options, "port": self.port}.items())
            log = self.root / "server.log"
            result = self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", flags, "-w", "-t", "60", "start",
                               check=False)  # fmt: skip
            if result.returncode == 0:
                self._flags = flags
                return self
            if attempt == 4:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"pg_ctl start failed: {result.stdout}{result.stderr}\n{tail}")
        return self

    def crash_and_restart(self, down_seconds: float) -> None:
        """Kill the server as a crash would (immediate shutdown), stay down a while, start it again."""
        import time

        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        time.sleep(down_seconds)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", self._flags, "-w",
                  "-t", "60", "start")

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- databases

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = name or f"test_{next(self._databases)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [*self._as_user, str(self.bindir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stdout}{result.stderr}")
        return result


def require_bindir() -> Path:
    bindir = find_bindir()
    require(INSTALL_HINT if bindir is None else None)
    assert bindir is not None
    return bindir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(require_bindir(), FAST).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"test_{next(postgres_server._databases)}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)
