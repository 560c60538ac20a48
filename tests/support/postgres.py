"""pytest fixtures: a throwaway PostgreSQL server, and the state backends to run tests on.

    postgres_server  (session)  a PostgreSQL started with initdb/pg_ctl in a temp directory on
                                a free 127.0.0.1 port; stopped and removed at the end. Each
                                pytest-xdist worker starts its own. Skips if initdb/pg_ctl are
                                missing.
    postgres_url     (session)  postgresql:// URL of a database created on it.
    state_url        (test)     parametrized: '' (SQLite) or the URL of a fresh PostgreSQL
                                database created for the test and dropped after it.
    state_settings   (test)     Settings with a tmp_path data directory and that state_url.
    database         (test)     open_database(state_settings), closed after the test.

PostgreSQL refuses to run as root, so as root every server command runs as the `postgres`
user (`runuser -u postgres --`) in a directory that user owns. A watchdog process stops the
server if the pytest process dies without tearing down (e.g. kill -9), so no server outlives
its test run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from freehold.config import Settings
from freehold.state.database import Database, open_database

START_ATTEMPTS = 5
COMMAND_TIMEOUT_SECONDS = 120

# Runs beside pytest: once pytest is gone (its parent pid changes), stop the server.
_WATCHDOG = """
import os, shutil, subprocess, sys, time
parent, root, *pg_ctl = sys.argv[1:]
while os.getppid() == int(parent):
    time.sleep(1.0)
subprocess.run(pg_ctl, timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(root, ignore_errors=True)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL: create databases on it, stop it when done."""

    root: Path
    port: int
    as_postgres_user: bool
    watchdog: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a database (a random name unless given); return its name."""
        import psycopg

        name = name or f"fh_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pg_ctl(self, *args: str) -> list[str]:
        return _as_server_user(self.as_postgres_user, ["pg_ctl", "-D", str(self.data_dir), *args])

    def stop(self) -> None:
        subprocess.run(
            self.pg_ctl("stop", "-m", "immediate", "-w"),
            check=False,  # already stopped is fine
            timeout=COMMAND_TIMEOUT_SECONDS,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if self.watchdog is not None:
            self.watchdog.terminate()
            self.watchdog.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _as_server_user(as_postgres_user: bool, command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if as_postgres_user else command


def start_postgres() -> PostgresServer:
    """Start a throwaway server; pytest.skip if PostgreSQL's tools are not installed."""
    missing = [tool for tool in ("initdb", "pg_ctl", "postgres") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"PostgreSQL tests need {', '.join(missing)} on PATH (PostgreSQL 15 server)")
    as_postgres_user = os.geteuid() == 0
    if as_postgres_user and shutil.which("runuser") is None:
        pytest.skip("running as root: PostgreSQL tests need `runuser` to run as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="freehold-pg-"))
    if as_postgres_user:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root: PostgreSQL tests need a `postgres` user")
        os.chown(root, user.pw_uid, user.pw_gid)

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_server_user(as_postgres_user, command),
            check=False,  # the caller reports failures with their output
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            cwd=root,
        )

    init = run(
        [
            "initdb",
            "-D",
            str(root / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")

    for _ in range(START_ATTEMPTS):
        port = _free_port()
        server = PostgresServer(root, port, as_postgres_user)
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB"
        )
        started = run(
            [
                "pg_ctl",
                "-D",
                str(root / "data"),
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
        )
        if started.returncode == 0:
            server.watchdog = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WATCHDOG,
                    str(os.getpid()),
                    str(root),
                    *server.pg_ctl("stop", "-m", "immediate", "-w"),
                ],
                stdin=subprocess.DEVNULL,
            )
            return server
        # Most likely another process took the port between probe and bind: try another.
        subprocess.run(server.pg_ctl("stop", "-m", "immediate"), capture_output=True, timeout=60, check=False)
    log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start after {START_ATTEMPTS} attempts:\n{log[-4000:]}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        deadline = time.monotonic() + 30
        while True:  # pg_ctl -w waited for startup; make sure TCP connections work too
            try:
                server.create_database("freehold_probe")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """A database on the throwaway server, shared by the whole session."""
    return postgres_server.url(postgres_server.create_database("freehold_session"))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def state_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """'' for SQLite (in the test's data dir), or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        yield ""
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def state_settings(state_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", state_url=state_url)


@pytest.fixture
def database(state_settings: Settings) -> Iterator[Database]:
    db = open_database(state_settings)
    try:
        yield db
    finally:
        db.close()
