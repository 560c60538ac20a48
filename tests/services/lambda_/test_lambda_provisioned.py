"""Provisioned concurrency: the configuration API with AWS's errors, sandboxes initialised
ahead of invocations (AWS_LAMBDA_INITIALIZATION_TYPE), kept warm past the idle timeout that
reaps on-demand sandboxes, and configs provisioned again after a restart, on both backends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import create_function, create_role, error_of, make_zip, unique
from support.server import FreeholdServer, create_database

APP = make_zip({"app.py": '''
import os, uuid
SANDBOX = uuid.uuid4().hex  # one per initialised sandbox

def handler(event, context):
    return {"type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "sandbox": SANDBOX,
            "version": context.function_version}
'''})
BROKEN = make_zip({"app.py": "raise RuntimeError('cannot start')\n"})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           monkeypatch_module: pytest.MonkeyPatch) -> Iterator[FreeholdServer]:
    """A server whose on-demand sandboxes are reaped after one idle second."""
    monkeypatch_module.setenv("FREEHOLD_LAMBDA_IDLE_SECONDS", "1")
    state_url = create_database(request.getfixturevalue("postgres_url")) if request.param == "postgresql" else ""
    instance = FreeholdServer(Path(tmp_path_factory.mktemp(f"provisioned-{request.param}")), state_url)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def _invoke(lam: Any, name: str) -> dict[str, Any]:
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    payload: dict[str, Any] = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return payload


def _wait_status(lam: Any, name: str, qualifier: str, wanted: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        config: dict[str, Any] = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if config["Status"] == wanted or time.monotonic() > deadline:
            return config
        time.sleep(0.1)


def test_config_api_and_errors(server: FreeholdServer) -> None:
    lam = server.client("lambda")
    role = create_role(server)
    name = create_function(lam, role, APP)
    with pytest.raises(ClientError) as excinfo:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST",
                                               ProvisionedConcurrentExecutions=1)
    assert error_of(excinfo) == ("InvalidParameterValueException",
                                 "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
                                 400)
    with pytest.raises(ClientError) as excinfo:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="7", ProvisionedConcurrentExecutions=1)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    lam.publish_version(FunctionName=name)
    with pytest.raises(ClientError) as excinfo:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert error_of(excinfo) == ("ProvisionedConcurrencyConfigNotFoundException",
                                 "No Provisioned Concurrency Config found for this function", 404)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    with pytest.raises(ClientError) as excinfo:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert error_of(excinfo)[0] == "InvalidParameterValueException"
    lam.delete_function_concurrency(FunctionName=name)

    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    assert put["RequestedProvisionedConcurrentExecutions"] == 1 and put["Status"] == "IN_PROGRESS"
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as excinfo:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert error_of(excinfo)[0] == "ResourceConflictException"
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["1"]
    assert _wait_status(lam, name, "1", "READY")["Status"] == "READY"
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    with pytest.raises(ClientError) as excinfo:
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []


def test_provisioned_sandboxes_initialised_and_kept(server: FreeholdServer) -> None:
    lam = server.client("lambda")
    role = create_role(server)
    name = create_function(lam, role, APP)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="prod", ProvisionedConcurrentExecutions=2)
    config = _wait_status(lam, name, "prod", "READY")
    assert config["Status"] == "READY"
    assert config["AvailableProvisionedConcurrentExecutions"] == 2
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    first = _invoke(lam, f"{name}:prod")
    assert first["type"] == "provisioned-concurrency" and first["version"] == "1"
    assert _invoke(lam, name)["type"] == "on-demand"  # $LATEST has none
    on_demand = _invoke(lam, name)["sandbox"]
    time.sleep(3.5)  # on-demand sandboxes are reaped after 1 idle second; provisioned ones stay
    assert _invoke(lam, f"{name}:prod") == first  # the same initialised sandbox (the last used goes first)
    assert _invoke(lam, f"{name}:1") == first  # the version itself: the same sandboxes
    assert _invoke(lam, name)["sandbox"] != on_demand  # $LATEST's was reaped: a new one


def test_failed_init_and_restart(server: FreeholdServer) -> None:
    lam = server.client("lambda")
    role = create_role(server)
    broken = create_function(lam, role, BROKEN)
    lam.publish_version(FunctionName=broken)
    lam.put_provisioned_concurrency_config(FunctionName=broken, Qualifier="1", ProvisionedConcurrentExecutions=1)
    failed = _wait_status(lam, broken, "1", "FAILED")
    assert (failed["Status"], failed.get("StatusReason")) == ("FAILED", "FUNCTION_ERROR_INIT_FAILURE")

    name = create_function(lam, role, APP)
    lam.publish_version(FunctionName=name)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    assert _wait_status(lam, name, "1", "READY")["Status"] == "READY"
    server.kill9()
    server.start()
    lam = server.client("lambda")
    assert _wait_status(lam, name, "1", "READY")["Status"] == "READY"  # provisioned again at start
    assert _invoke(lam, f"{name}:1")["type"] == "provisioned-concurrency"
    lam.delete_function(FunctionName=name, Qualifier="1")
    with pytest.raises(ClientError) as excinfo:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
