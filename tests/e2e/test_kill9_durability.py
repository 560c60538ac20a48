"""Every acknowledged write survives kill -9 of the server, on SQLite and on PostgreSQL.

Several client threads create IAM users as fast as they can; the server is SIGKILLed in the
middle of that load; after a restart every user whose CreateUser call was acknowledged
must be there (calls in flight at the kill may or may not have landed - both are allowed).
"""

from __future__ import annotations

import threading
import time

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from support.server import FreeholdServer

WRITERS = 6


def test_acknowledged_writes_survive_kill_9(freehold: FreeholdServer) -> None:
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(number: int) -> None:
        iam = freehold.client("iam", config=Config(retries={"max_attempts": 0}, connect_timeout=2,
                                                   read_timeout=5))
        sequence = 0
        while not stop.is_set():
            name = f"durable-{number}-{sequence}"
            sequence += 1
            try:
                iam.create_user(UserName=name)
            except (ClientError, BotoCoreError, OSError):
                return  # the server died under us: this call was not acknowledged
            with lock:
                acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    freehold.kill9()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acknowledged) >= 150, "the write load did not get going"

    freehold.start()
    iam = freehold.client("iam")
    present: set[str] = set()
    for page in iam.get_paginator("list_users").paginate(PathPrefix="/"):
        present.update(user["UserName"] for user in page["Users"])
    missing = [name for name in acknowledged if name not in present]
    assert not missing, f"{len(missing)} acknowledged writes lost after kill -9: {missing[:5]}"
