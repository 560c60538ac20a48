"""The Database/Transaction contract, on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from freehold.config import Settings
from freehold.state.database import (
    Database,
    DatabaseClosed,
    IntegrityError,
    StateError,
    TransactionAborted,
    open_database,
)
from freehold.state.migrations import Migration

SCHEMA = (
    Migration(
        1,
        "items",
        (
            """CREATE TABLE items (
                   id TEXT PRIMARY KEY,
                   body BLOB,
                   size BIGINT NOT NULL DEFAULT 0,
                   ratio DOUBLE PRECISION,
                   enabled INTEGER NOT NULL DEFAULT 0,
                   CHECK (size >= 0)
               )""",
            """CREATE TABLE parts (
                   item_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
                   n INTEGER NOT NULL,
                   PRIMARY KEY (item_id, n)
               )""",
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT NOT NULL)",
        ),
    ),
)


@pytest.fixture
def db(database: Database) -> Database:
    database.migrate("test", SCHEMA)
    return database


def test_dialect_matches_the_state_url(db: Database, state_url: str) -> None:
    assert db.dialect == ("postgresql" if state_url else "sqlite")


def test_transaction_commits_on_exit(db: Database) -> None:
    with db.transaction() as tx:
        assert tx.execute("INSERT INTO items (id, size) VALUES (?, ?)", ("a", 1)) == 1
        assert tx.execute("INSERT INTO items (id, size) VALUES (?, ?)", ("b", 2)) == 1
        # Visible inside the transaction before commit.
        assert tx.query_one("SELECT COUNT(*) FROM items") == (2,)
    assert db.query("SELECT id, size FROM items ORDER BY id") == [("a", 1), ("b", 2)]


def test_transaction_rolls_back_when_the_block_raises(db: Database) -> None:
    db.execute("INSERT INTO items (id) VALUES (?)", ("kept",))
    with pytest.raises(RuntimeError, match="boom"), db.transaction() as tx:
        tx.execute("INSERT INTO items (id) VALUES (?)", ("lost",))
        tx.execute("DELETE FROM items WHERE id = ?", ("kept",))
        raise RuntimeError("boom")
    assert db.query("SELECT id FROM items") == [("kept",)]


def test_uncommitted_writes_are_invisible_to_other_threads(db: Database) -> None:
    seen: list[object] = []
    with db.transaction() as tx:
        tx.execute("INSERT INTO items (id) VALUES (?)", ("pending",))
        reader = threading.Thread(target=lambda: seen.append(db.query("SELECT id FROM items")))
        reader.start()
        reader.join(timeout=30)
    assert seen == [[]]
    assert db.query("SELECT id FROM items") == [("pending",)]


def test_rowcount_of_update_and_delete(db: Database) -> None:
    with db.transaction() as tx:
        tx.executemany("INSERT INTO items (id, size) VALUES (?, ?)", [(f"i{n}", n) for n in range(5)])
    assert db.execute("UPDATE items SET size = size + 10 WHERE size >= ?", (2,)) == 3
    assert db.execute("DELETE FROM items WHERE id = ?", ("nope",)) == 0
    assert db.execute("DELETE FROM items WHERE size < ?", (10,)) == 2


def test_executemany_returns_total_rowcount(db: Database) -> None:
    with db.transaction() as tx:
        assert tx.executemany("INSERT INTO items (id) VALUES (?)", [("x",), ("y",), ("z",)]) == 3
    assert db.query_one("SELECT COUNT(*) FROM items") == (3,)


def test_values_round_trip_with_the_same_python_types(db: Database) -> None:
    body = bytes(range(256)) * 4
    db.execute(
        "INSERT INTO items (id, body, size, ratio, enabled) VALUES (?, ?, ?, ?, ?)",
        ("ünïcødé ☃", body, 2**62, 0.25, True),
    )
    row = db.query_one("SELECT id, body, size, ratio, enabled FROM items")
    assert row == ("ünïcødé ☃", body, 2**62, 0.25, 1)
    assert row is not None
    assert type(row[1]) is bytes and type(row[2]) is int and type(row[3]) is float
    assert type(row[4]) is int  # BOOLEAN-as-INTEGER: bools come back as 0/1
    db.execute("UPDATE items SET enabled = ? WHERE enabled = ?", (False, True))
    assert db.query_one("SELECT enabled FROM items WHERE id = ?", ("ünïcødé ☃",)) == (0,)


def test_empty_and_null_blobs(db: Database) -> None:
    db.execute("INSERT INTO items (id, body) VALUES (?, ?)", ("empty", b""))
    db.execute("INSERT INTO items (id, body) VALUES (?, ?)", ("null", None))
    assert db.query("SELECT id, body FROM items ORDER BY id") == [("empty", b""), ("null", None)]


def test_aggregates_return_int_not_decimal(db: Database) -> None:
    with db.transaction() as tx:
        tx.executemany("INSERT INTO items (id, size) VALUES (?, ?)", [("a", 2**40), ("b", 3)])
    total = db.query_one("SELECT SUM(size), COUNT(*), MAX(size) FROM items")
    assert total == (2**40 + 3, 2, 2**40)
    assert total is not None and all(type(value) is int for value in total)


def test_placeholders_and_literal_percent_signs(db: Database) -> None:
    db.execute("INSERT INTO items (id) VALUES (?)", ("50%",))
    db.execute("INSERT INTO items (id) VALUES (?)", ("a%b",))
    db.execute("INSERT INTO items (id) VALUES (?)", ("abc",))
    # A literal % in the SQL text and a ? placeholder in the same statement.
    assert db.query(
        "SELECT id FROM items WHERE id LIKE '%\\%%' ESCAPE '\\' AND id <> ? ORDER BY id", ("zzz",)
    ) == [("50%",), ("a%b",)]
    assert db.query("SELECT id FROM items WHERE id LIKE 'a%' ORDER BY id") == [("a%b",), ("abc",)]


def test_like_is_case_sensitive_and_text_sorts_by_code_point(db: Database) -> None:
    names = ["b", "B", "a", "A", "_", "é", "z", "Z", "~", "1"]
    with db.transaction() as tx:
        tx.executemany("INSERT INTO items (id) VALUES (?)", [(name,) for name in names])
    assert db.query("SELECT id FROM items WHERE id LIKE ?", ("a",)) == [("a",)]
    assert [row[0] for row in db.query("SELECT id FROM items ORDER BY id")] == sorted(names)
    assert db.query("SELECT id FROM items WHERE id > ? ORDER BY id", ("Z",)) == [
        ("_",),
        ("a",),
        ("b",),
        ("z",),
        ("~",),
        ("é",),
    ]


def test_upsert_on_conflict(db: Database) -> None:
    upsert = (
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value"
    )
    db.execute(upsert, ("hits", 1))
    db.execute(upsert, ("hits", 5))
    assert db.query_one("SELECT value FROM counters WHERE name = ?", ("hits",)) == (6,)
    assert db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT DO NOTHING", ("hits", 0)) == 0


def test_returning(db: Database) -> None:
    with db.transaction() as tx:
        rows = tx.query("INSERT INTO events (what) VALUES (?), (?) RETURNING seq, what", ("a", "b"))
    assert sorted(rows) == [(1, "a"), (2, "b")]


def test_autoincrement_ids_increase(db: Database) -> None:
    ids = [db.query("INSERT INTO events (what) VALUES (?) RETURNING seq", (str(n),))[0][0] for n in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_query_one_returns_none_when_no_row(db: Database) -> None:
    assert db.query_one("SELECT id FROM items WHERE id = ?", ("missing",)) is None
    assert db.query("SELECT id FROM items") == []


@pytest.mark.parametrize(
    ("sql", "params", "kind"),
    [
        ("INSERT INTO items (id) VALUES (?)", ("dup",), "unique"),
        ("INSERT INTO parts (item_id, n) VALUES (?, ?)", ("no-such-item", 1), "foreign_key"),
        ("INSERT INTO items (id, size) VALUES (?, ?)", ("neg", -1), "check"),
        ("INSERT INTO counters (name, value) VALUES (?, ?)", ("c", None), "not_null"),
    ],
)
def test_constraint_violations_raise_integrity_error(
    db: Database, sql: str, params: tuple[object, ...], kind: str
) -> None:
    db.execute("INSERT INTO items (id) VALUES (?)", ("dup",))
    with pytest.raises(IntegrityError) as raised:
        db.execute(sql, params)
    assert raised.value.kind == kind
    assert db.query("SELECT id FROM items") == [("dup",)]  # nothing half-written


def test_foreign_keys_cascade(db: Database) -> None:
    db.execute("INSERT INTO items (id) VALUES (?)", ("parent",))
    db.execute("INSERT INTO parts (item_id, n) VALUES (?, ?)", ("parent", 1))
    db.execute("DELETE FROM items WHERE id = ?", ("parent",))
    assert db.query("SELECT * FROM parts") == []


def test_failed_statement_aborts_the_transaction_on_both_backends(db: Database) -> None:
    db.execute("INSERT INTO items (id) VALUES (?)", ("dup",))
    with pytest.raises(TransactionAborted), db.transaction() as tx:
        tx.execute("INSERT INTO items (id) VALUES (?)", ("new",))
        with pytest.raises(IntegrityError):
            tx.execute("INSERT INTO items (id) VALUES (?)", ("dup",))
        with pytest.raises(TransactionAborted):
            tx.execute("INSERT INTO items (id) VALUES (?)", ("after",))
            # Leaving normally after swallowing the error must not commit half the work.
    assert db.query("SELECT id FROM items") == [("dup",)]


def test_nested_transaction_is_a_savepoint(db: Database) -> None:
    db.execute("INSERT INTO items (id) VALUES (?)", ("dup",))
    with db.transaction() as tx:
        tx.execute("INSERT INTO items (id) VALUES (?)", ("outer",))
        with pytest.raises(IntegrityError), db.transaction() as inner:
            inner.execute("INSERT INTO items (id) VALUES (?)", ("inner-lost",))
            inner.execute("INSERT INTO items (id) VALUES (?)", ("dup",))
        with db.transaction() as inner:
            inner.execute("INSERT INTO items (id) VALUES (?)", ("inner-kept",))
        tx.execute("INSERT INTO items (id) VALUES (?)", ("outer-2",))
    assert [r[0] for r in db.query("SELECT id FROM items ORDER BY id")] == [
        "dup",
        "inner-kept",
        "outer",
        "outer-2",
    ]


def test_after_commit_callbacks_run_once_the_outermost_transaction_commits(db: Database) -> None:
    ran: list[str] = []

    def seen(label: str) -> None:
        # The callback sees the committed row from another thread's point of view.
        rows: list[object] = []
        reader = threading.Thread(target=lambda: rows.extend(db.query("SELECT id FROM items WHERE id = ?", (label,))))
        reader.start()
        reader.join(10)
        ran.append(f"{label}:{len(rows)}")

    db.after_commit(lambda: ran.append("no-transaction"))  # none open: runs at once
    assert ran == ["no-transaction"]
    with db.transaction() as tx:
        tx.execute("INSERT INTO items (id) VALUES (?)", ("a",))
        db.after_commit(lambda: seen("a"))
        with pytest.raises(RuntimeError), db.transaction():
            db.after_commit(lambda: ran.append("rolled-back-savepoint"))
            raise RuntimeError("undo the savepoint")
        with db.transaction():
            db.after_commit(lambda: ran.append("kept-savepoint"))
        assert ran == ["no-transaction"]
    assert ran == ["no-transaction", "a:1", "kept-savepoint"]
    with pytest.raises(RuntimeError), db.transaction():
        db.after_commit(lambda: ran.append("rolled-back"))
        raise RuntimeError("roll back")

    def broken() -> None:
        raise ValueError("a failing callback does not undo the commit")

    with db.transaction() as tx:
        tx.execute("INSERT INTO items (id) VALUES (?)", ("b",))
        tx.on_commit(broken)
        tx.on_commit(lambda: ran.append("after-broken"))
    assert ran == ["no-transaction", "a:1", "kept-savepoint", "after-broken"]
    assert db.query("SELECT id FROM items WHERE id = ?", ("b",)) == [("b",)]


def test_one_shot_calls_join_the_threads_open_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO items (id) VALUES (?)", ("joined",))
        assert db.query("SELECT id FROM items") == [("joined",)]
        assert db.current_transaction() is not None
        raise RuntimeError("roll it all back")
    assert db.current_transaction() is None
    assert db.query("SELECT id FROM items") == []


def test_sql_errors_surface_as_state_error(db: Database) -> None:
    with pytest.raises(StateError):
        db.query("SELECT nope FROM items")
    with pytest.raises(StateError):
        db.execute("INSERT INTO no_such_table VALUES (?)", (1,))
    # The database is still usable afterwards.
    db.execute("INSERT INTO items (id) VALUES (?)", ("ok",))
    assert db.query("SELECT id FROM items") == [("ok",)]


def test_select_for_update_is_portable(db: Database) -> None:
    db.execute("INSERT INTO counters VALUES (?, ?)", ("c", 1))
    with db.transaction() as tx:
        assert tx.query_one("SELECT value FROM counters WHERE name = ? FOR UPDATE", ("c",)) == (1,)
        assert tx.query("SELECT name FROM counters FOR UPDATE SKIP LOCKED") == [("c",)]


def test_reset_deletes_rows_but_keeps_schema_and_migrations(db: Database) -> None:
    db.execute("INSERT INTO items (id) VALUES (?)", ("a",))
    db.execute("INSERT INTO parts (item_id, n) VALUES (?, ?)", ("a", 1))
    db.execute("INSERT INTO events (what) VALUES (?)", ("e",))
    db.reset()
    for table in ("items", "parts", "counters", "events"):
        assert db.query(f"SELECT * FROM {table}") == []
    assert db.query("SELECT owner, version, name FROM schema_migrations") == [("test", 1, "items")]
    # AUTOINCREMENT / identity counters restart too.
    assert db.query("INSERT INTO events (what) VALUES (?) RETURNING seq", ("again",)) == [(1,)]
    db.migrate("test", SCHEMA)  # still recorded as applied: a no-op


def test_concurrent_read_modify_write_from_threads_loses_nothing(db: Database) -> None:
    db.execute("INSERT INTO counters VALUES (?, ?)", ("shared", 0))
    threads, rounds = 6, 25
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(rounds):
                with db.transaction() as tx:
                    row = tx.query_one("SELECT value FROM counters WHERE name = ? FOR UPDATE", ("shared",))
                    assert row is not None
                    tx.execute("UPDATE counters SET value = ? WHERE name = ?", (row[0] + 1, "shared"))
                    tx.execute("INSERT INTO items (id) VALUES (?)", (f"w{worker}-{n}",))
                db.query("SELECT COUNT(*) FROM items")
        except Exception as error:  # noqa: BLE001 - reported by the test's thread  # reported below, in the test's thread
            errors.append(error)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not errors, errors
    assert db.query_one("SELECT value FROM counters WHERE name = ?", ("shared",)) == (threads * rounds,)
    assert db.query_one("SELECT COUNT(*) FROM items") == (threads * rounds,)


def test_data_survives_close_and_reopen(state_settings: Settings) -> None:
    first = open_database(state_settings)
    first.migrate("test", SCHEMA)
    first.execute("INSERT INTO items (id, body) VALUES (?, ?)", ("persisted", b"\x00data"))
    first.close()
    second = open_database(state_settings)
    try:
        assert second.query("SELECT id, body FROM items") == [("persisted", b"\x00data")]
    finally:
        second.close()


def test_closed_database_refuses_work(state_settings: Settings) -> None:
    db = open_database(state_settings)
    db.close()
    db.close()  # idempotent
    with pytest.raises(DatabaseClosed):
        db.query("SELECT 1")
    with pytest.raises(DatabaseClosed), db.transaction():
        pass


def test_unknown_state_url_is_rejected(tmp_path: object) -> None:
    with pytest.raises(StateError, match="unsupported state URL 'mysql'"):
        open_database(Settings(state_url="mysql://user:secret@host/db"))
