"""A Python function runs in a sandbox forked from a zygote that imported the runtime and the SDK
under freehold's own environment. What those modules computed from the environment at import
must be the function's, as if they had been imported in its own process: the time zone
(time.tzname), botocore's customer models directory (~/.aws/models), tempfile's directory.

Not about storage: one SQLite server, started with an environment of its own (a time zone, a
TMPDIR) that functions must not see."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from lambda_helpers import create_function, create_role, make_zip
from tests.support.server import FreeholdServer

PROBE = """import os, tempfile, time
import botocore.loaders

def handler(event, context):
    return {"tzname": list(time.tzname), "timezone": time.timezone, "tz": os.environ.get("TZ"),
            "models": botocore.loaders.Loader.CUSTOMER_DATA_PATH, "home": os.environ.get("HOME"),
            "tmp": tempfile.gettempdir()}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    data = tmp_path_factory.mktemp("freehold-environment")
    host_tmp = data.parent / "host-tmpdir"
    host_tmp.mkdir(exist_ok=True)
    started = FreeholdServer(data, env={"TZ": "America/New_York", "HOME": str(data.parent / "host-home"),
                                        "TMPDIR": str(host_tmp)})
    started.start()
    try:
        yield started
    finally:
        started.stop()


def test_python_function_sees_its_own_environment_not_the_zygotes(server: FreeholdServer) -> None:
    lam: Any = server.client("lambda")
    name = create_function(lam, create_role(server), make_zip({"app.py": PROBE}))
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    seen = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, seen
    assert seen["tz"] == ":UTC"
    assert seen["tzname"] == ["UTC", "UTC"] and seen["timezone"] == 0  # not New York's
    assert seen["models"] == os.path.join(seen["home"], ".aws", "models")  # its HOME, not freehold's
    assert seen["tmp"] == "/tmp"  # not freehold's TMPDIR
