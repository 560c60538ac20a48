"""Versioned per-owner migrations, on both backends."""

from __future__ import annotations

import threading

import pytest

from freehold.config import Settings
from freehold.state.database import Database, IntegrityError, StateError, open_database
from freehold.state.migrations import Migration

V1 = Migration(1, "create widgets", ("CREATE TABLE widgets (id TEXT PRIMARY KEY, n INTEGER NOT NULL)",))
V2 = Migration(
    2,
    "widget colour",
    (
        "ALTER TABLE widgets ADD COLUMN colour TEXT NOT NULL DEFAULT 'grey'",
        "CREATE INDEX widgets_by_colour ON widgets (colour, id)",
    ),
)
V3 = Migration(3, "seed", ("INSERT INTO widgets (id, n, colour) VALUES ('seed', 0, '50% blue')",))


def applied(db: Database, owner: str) -> list[tuple[int, str]]:
    return [
        (int(version), str(name))
        for version, name in db.query(
            "SELECT version, name FROM schema_migrations WHERE owner = ? ORDER BY version", (owner,)
        )
    ]


def test_applies_in_version_order_and_records_each(database: Database) -> None:
    database.migrate("shop", [V3, V1, V2])  # given out of order: applied by version
    assert applied(database, "shop") == [(1, "create widgets"), (2, "widget colour"), (3, "seed")]
    assert database.query("SELECT id, n, colour FROM widgets") == [("seed", 0, "50% blue")]
    row = database.query_one("SELECT applied_at FROM schema_migrations WHERE owner = ?", ("shop",))
    assert row is not None and str(row[0]).startswith("20")


def test_is_idempotent(database: Database) -> None:
    database.migrate("shop", [V1, V2, V3])
    database.migrate("shop", [V1, V2, V3])  # would fail on CREATE TABLE/seed if re-run
    assert database.query_one("SELECT COUNT(*) FROM widgets") == (1,)
    assert len(applied(database, "shop")) == 3


def test_applies_only_new_migrations(database: Database) -> None:
    database.migrate("shop", [V1])
    database.execute("INSERT INTO widgets (id, n) VALUES (?, ?)", ("w", 7))
    database.migrate("shop", [V1, V2])
    assert database.query("SELECT id, n, colour FROM widgets") == [("w", 7, "grey")]


def test_owners_are_independent(database: Database) -> None:
    database.migrate("a", [Migration(1, "a1", ("CREATE TABLE a_things (id TEXT PRIMARY KEY)",))])
    database.migrate("b", [Migration(1, "b1", ("CREATE TABLE b_things (id TEXT PRIMARY KEY)",))])
    assert applied(database, "a") == [(1, "a1")]
    assert applied(database, "b") == [(1, "b1")]


def test_failed_migration_is_rolled_back_entirely(database: Database) -> None:
    database.migrate("shop", [V1])
    broken = Migration(
        2, "broken", ("CREATE TABLE half_done (id TEXT)", "INSERT INTO widgets (id) VALUES ('x')")
    )
    with pytest.raises(IntegrityError):  # widgets.n is NOT NULL
        database.migrate("shop", [V1, broken])
    assert applied(database, "shop") == [(1, "create widgets")]
    with pytest.raises(StateError):
        database.query("SELECT * FROM half_done")  # the DDL was rolled back with it
    database.migrate("shop", [V1, V2])  # the fixed version 2 applies cleanly
    assert applied(database, "shop") == [(1, "create widgets"), (2, "widget colour")]


def test_blob_columns_are_mapped(database: Database) -> None:
    database.migrate(
        "bin", [Migration(1, "blobs", ("CREATE TABLE bin (k TEXT PRIMARY KEY, v BLOB NOT NULL)",))]
    )
    database.execute("INSERT INTO bin VALUES (?, ?)", ("k", b"\xff\x00\xfe"))
    assert database.query("SELECT v FROM bin") == [(b"\xff\x00\xfe",)]


def test_renamed_applied_migration_is_an_error(database: Database) -> None:
    database.migrate("shop", [V1])
    with pytest.raises(StateError, match="history diverged"):
        database.migrate("shop", [Migration(1, "renamed", V1.statements)])


def test_new_migration_older_than_applied_is_an_error(database: Database) -> None:
    database.migrate("shop", [V1, Migration(3, "three", ("CREATE TABLE t3 (id TEXT)",))])
    with pytest.raises(StateError, match="older than the applied version 3"):
        database.migrate("shop", [V1, V2, Migration(3, "three", ("CREATE TABLE t3 (id TEXT)",))])


def test_duplicate_versions_are_rejected(database: Database) -> None:
    with pytest.raises(ValueError, match="appears twice"):
        database.migrate("shop", [V1, Migration(1, "again", ())])


@pytest.mark.parametrize(
    ("version", "error"), [(0, ValueError), (-1, ValueError), (True, TypeError), ("1", TypeError)]
)
def test_invalid_versions_are_rejected(version: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Migration(version, "bad", ())  # type: ignore[arg-type]


def test_statements_are_frozen_to_a_tuple() -> None:
    migration = Migration(1, "list", ["SELECT 1"])  # type: ignore[arg-type]
    assert migration.statements == ("SELECT 1",)
    with pytest.raises(TypeError):
        Migration(1, "str", "CREATE TABLE x (id TEXT)")  # type: ignore[arg-type]


def test_concurrent_nodes_apply_each_migration_once(state_settings: Settings) -> None:
    # Several Database objects (as several nodes would) migrating the same owner at once.
    counter = Migration(1, "counter", ("CREATE TABLE runs (n INTEGER NOT NULL)",))
    bump = Migration(2, "bump", ("INSERT INTO runs (n) VALUES (1)",))
    nodes = [open_database(state_settings) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(nodes))

    def start(node: Database) -> None:
        try:
            barrier.wait(timeout=30)
            node.migrate("race", [counter, bump])
        except Exception as error:  # noqa: BLE001 - reported by the test's thread
            errors.append(error)

    threads = [threading.Thread(target=start, args=(node,)) for node in nodes]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert nodes[0].query("SELECT COUNT(*) FROM runs") == [(1,)]
        assert applied(nodes[0], "race") == [(1, "counter"), (2, "bump")]
    finally:
        for node in nodes:
            node.close()
