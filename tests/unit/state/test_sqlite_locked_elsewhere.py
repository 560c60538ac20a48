"""A live server whose SQLite file another process has locked: writes on the event loop move to a
worker thread and wait there; the loop keeps answering everything else meanwhile."""

from __future__ import annotations

import sqlite3
import threading
import time
import urllib.request
from typing import Any


def test_a_locked_database_does_not_freeze_the_gateway(freehold_sqlite: Any) -> None:
    ddb = freehold_sqlite.client("dynamodb")
    ddb.create_table(
        TableName="locked-elsewhere",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    deadline = time.monotonic() + 20
    while ddb.describe_table(TableName="locked-elsewhere")["Table"]["TableStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ddb.put_item(TableName="locked-elsewhere", Item={"k": {"S": "before"}})

    other = sqlite3.connect(str(freehold_sqlite.data_dir / "state.db"), isolation_level=None, timeout=5)
    other.execute("BEGIN IMMEDIATE")  # as `freehold reset` or a sqlite3 shell would
    answered: list[float] = []
    errors: list[BaseException] = []
    started = time.monotonic()

    def put() -> None:
        try:
            ddb.put_item(TableName="locked-elsewhere", Item={"k": {"S": "during"}})
            answered.append(time.monotonic() - started)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    writer = threading.Thread(target=put)
    writer.start()
    try:
        time.sleep(0.3)
        assert not answered and not errors  # waiting for the lock, in a worker thread
        sent = time.monotonic()
        with urllib.request.urlopen(freehold_sqlite.endpoint_url + "/_freehold/health", timeout=10) as r:
            assert r.status == 200
        assert time.monotonic() - sent < 1.0  # the event loop is free
        time.sleep(1.0)
    finally:
        other.execute("ROLLBACK")
        other.close()
    writer.join(30)
    assert not errors, errors
    assert answered and answered[0] >= 1.3  # answered after the lock was released
    item = ddb.get_item(TableName="locked-elsewhere", Key={"k": {"S": "during"}}, ConsistentRead=True)
    assert item["Item"] == {"k": {"S": "during"}}
