"""Warm Invokes read a function's configuration from memory (SQLite: the node is the only
writer) and every change is seen by the very next Invoke: configuration, code, reserved
concurrency, deletion and re-creation under the same name. Runs on both backends (on
PostgreSQL nothing is cached, and the answers must be the same)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import create_function, error_of, invoke_ok, make_zip

ENV_APP = make_zip({"app.py": "import os\ndef handler(event, context):\n    return {'v': os.environ.get('VAL'), 'code': 1}\n"})
ENV_APP_2 = make_zip({"app.py": "import os\ndef handler(event, context):\n    return {'v': os.environ.get('VAL'), 'code': 2}\n"})


def _wait_updated(lam: Any, name: str) -> None:
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


def test_every_change_is_seen_by_the_next_invoke(lam: Any, role: str) -> None:
    name = create_function(lam, role, ENV_APP, Environment={"Variables": {"VAL": "one"}})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    for _ in range(3):  # warm: served from what the first invoke cached
        assert invoke_ok(lam, name) == {"v": "one", "code": 1}

    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"VAL": "two"}})
    _wait_updated(lam, name)
    assert invoke_ok(lam, name) == {"v": "two", "code": 1}

    lam.update_function_code(FunctionName=name, ZipFile=ENV_APP_2)
    _wait_updated(lam, name)
    assert invoke_ok(lam, name) == {"v": "two", "code": 2}

    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert error_of(excinfo)[0] == "TooManyRequestsException"
    lam.delete_function_concurrency(FunctionName=name)
    assert invoke_ok(lam, name) == {"v": "two", "code": 2}

    version = lam.publish_version(FunctionName=name)["Version"]
    assert invoke_ok(lam, f"{name}:{version}") == {"v": "two", "code": 2}
    lam.delete_function(FunctionName=name, Qualifier=version)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=f"{name}:{version}", Payload=b"{}")
    assert error_of(excinfo)[:1] == ("ResourceNotFoundException",)

    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"

    # The same name again, other code and configuration: nothing of the old function answers.
    create_function(lam, role, ENV_APP_2, FunctionName=name, Environment={"Variables": {"VAL": "three"}})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({}).encode())
    assert json.loads(answer["Payload"].read()) == {"v": "three", "code": 2}
