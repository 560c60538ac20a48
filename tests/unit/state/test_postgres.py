"""What is particular to the PostgreSQL backend: settings, type mapping, pool, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from freehold.config import Settings
from freehold.state.database import StateError, open_database
from freehold.state.migrations import Migration
from freehold.state.postgres import PostgresDatabase
from support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.mark.parametrize(("durability", "expected"), [("process", "off"), ("fsync", "on")])
def test_synchronous_commit_follows_durability(pg_url: str, durability: str, expected: str) -> None:
    db = open_database(Settings(state_url=pg_url, durability=durability))  # type: ignore[arg-type]
    try:
        assert isinstance(db, PostgresDatabase)
        assert db.query("SHOW synchronous_commit") == [(expected,)]
        with db.transaction() as tx:
            assert tx.query("SHOW synchronous_commit") == [(expected,)]
    finally:
        db.close()


def test_column_types_are_mapped(pg_url: str) -> None:
    db = open_database(Settings(state_url=pg_url))
    try:
        db.migrate(
            "types",
            [
                Migration(
                    1,
                    "t",
                    (
                        "CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB, n BIGINT, i INTEGER, d DOUBLE PRECISION)",
                        "CREATE TABLE s (seq INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT)",
                    ),
                )
            ],
        )
        columns = {
            str(name): (str(kind), collation)
            for name, kind, collation in db.query(
                "SELECT column_name, data_type, collation_name FROM information_schema.columns "
                "WHERE table_name = ?",
                ("t",),
            )
        }
        assert columns == {
            "k": ("text", "C"),
            "v": ("bytea", None),
            "n": ("bigint", None),
            "i": ("integer", None),
            "d": ("double precision", None),
        }
        assert db.query_one(
            "SELECT is_identity, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND column_name = ?",
            ("s", "seq"),
        ) == ("YES", "bigint")
    finally:
        db.close()


def test_pool_serves_more_threads_than_connections(pg_url: str) -> None:
    db = PostgresDatabase(pg_url, max_size=3)
    db.execute("CREATE TABLE hits (n INTEGER)")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                db.execute("INSERT INTO hits VALUES (?)", (1,))
                db.query("SELECT COUNT(*) FROM hits")
        except Exception as error:  # noqa: BLE001 - reported by the test's thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors, errors
        assert db.query("SELECT COUNT(*) FROM hits") == [(120,)]
        connections = db.query_one("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()")
        assert connections is not None and connections[0] <= 3
    finally:
        db.close()


def test_unreachable_server_is_a_clear_state_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://freehold:s3cret-password@127.0.0.1:{port}/nowhere"
    with pytest.raises(StateError) as raised:
        open_database(Settings(state_url=url))
    message = str(raised.value)
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port}/nowhere" in message
    assert "s3cret-password" not in message


def test_missing_database_is_a_clear_state_error(postgres_server: PostgresServer) -> None:
    with pytest.raises(StateError, match='database "no_such_db" does not exist'):
        open_database(Settings(state_url=postgres_server.url("no_such_db")))
