"""Event source mapping rows and their poller leases (freehold.services.lambda_.mapping_store)."""

from __future__ import annotations

import time
from pathlib import Path

from freehold.services.lambda_.mapping_store import MappingRow, MappingStore
from freehold.services.lambda_.store import LambdaStore
from freehold.state.sqlite import SqliteDatabase


def make_store(tmp_path: Path) -> MappingStore:
    db = SqliteDatabase(tmp_path / "state.db")
    LambdaStore(db).migrate()
    return MappingStore(db)


def row(uuid: str) -> MappingRow:
    return MappingRow(uuid, "123456789012", "us-east-1", "fn", "arn:aws:sqs:us-east-1:123456789012:q", "Creating",
                      {"BatchSize": 10}, {}, time.time())


def test_rows_round_trip_and_state_moves_once(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    inserted = row("a")
    store.insert(inserted)
    assert store.get("123456789012", "us-east-1", "a") == inserted
    assert store.get("999999999999", "us-east-1", "a") is None
    assert store.set_state("a", "Creating", "Enabled")
    assert not store.set_state("a", "Creating", "Disabled")  # someone moved it first
    store.save_checkpoint("a", {"shards": {"s": "5"}})
    found = store.find("123456789012", "us-east-1", "fn", None, "", 10)
    assert [(r.uuid, r.state, r.checkpoint) for r in found] == [("a", "Enabled", {"shards": {"s": "5"}})]
    assert store.find("123456789012", "us-east-1", "other", None, "", 10) == []


def test_one_node_holds_a_mapping_until_its_lease_runs_out(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.insert(row("a"))
    store.insert(row("b"))
    assert store.claim("node-1", 0.3) == {"a", "b"}
    assert store.claim("node-2", 0.3) == set()
    assert store.claim("node-1", 0.3) == {"a", "b"}  # its own, kept
    time.sleep(0.35)
    assert store.claim("node-2", 10) == {"a", "b"}  # node-1 died: taken over
    assert store.claim("node-1", 10) == set()
