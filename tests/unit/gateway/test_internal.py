"""/_freehold/ endpoints, 501 for unimplemented operations, and the CLI around a live node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from support.server import FreeholdServer


def _get(server: FreeholdServer, path: str, method: str = "GET") -> tuple[int, dict]:
    request = urllib.request.Request(server.endpoint_url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health_lists_every_service(freehold_sqlite: FreeholdServer) -> None:
    status, health = _get(freehold_sqlite, "/_freehold/health")
    assert status == 200
    assert health["status"] == "running"
    assert health["version"]
    assert len(health["services"]) == 23
    assert health["services"]["sts"] in ("running", "available")
    assert health["services"]["kinesis" if "kinesis" in health["services"] else "lambda"] in (
        "not implemented", "available", "running")


def test_info_reports_state_backend(freehold_sqlite: FreeholdServer) -> None:
    status, info = _get(freehold_sqlite, "/_freehold/info")
    assert status == 200
    assert info["state"] == "sqlite"
    assert info["endpoint"] == freehold_sqlite.endpoint_url


def test_unknown_internal_endpoint_is_404(freehold_sqlite: FreeholdServer) -> None:
    assert _get(freehold_sqlite, "/_freehold/nope")[0] == 404
    assert _get(freehold_sqlite, "/_freehold/reset", "GET")[0] == 405


def test_unimplemented_operation_answers_501_naming_it(freehold_sqlite: FreeholdServer) -> None:
    scheduler = freehold_sqlite.client("scheduler")
    with pytest.raises(ClientError) as caught:
        scheduler.list_schedules()
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Error"]["Code"] == "NotImplemented"
    assert "ListSchedules" in error["Error"]["Message"]
    assert "scheduler" in error["Error"]["Message"]


def test_unimplemented_query_operation_answers_501(freehold_sqlite: FreeholdServer) -> None:
    cloudformation = freehold_sqlite.client("cloudformation")  # a query-protocol service without a provider
    with pytest.raises(ClientError) as caught:
        cloudformation.list_stacks()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert caught.value.response["Error"]["Code"] == "NotImplemented"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "freehold", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ})


def test_cli_status_and_reset(freehold_sqlite: FreeholdServer) -> None:
    status = _cli("status", "--endpoint", freehold_sqlite.endpoint_url)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "running"
    reset = _cli("reset", "--endpoint", freehold_sqlite.endpoint_url)
    assert reset.returncode == 0, reset.stderr


def test_cli_status_when_nothing_runs() -> None:
    from support.server import free_port

    status = _cli("status", "--endpoint", f"http://127.0.0.1:{free_port()}")
    assert status.returncode == 1
    assert "not running" in status.stderr


def test_cli_version() -> None:
    result = _cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("freehold ")


def test_reset_from_a_browser_page_is_refused(freehold_sqlite: FreeholdServer) -> None:
    request = urllib.request.Request(freehold_sqlite.endpoint_url + "/_freehold/reset", method="POST",
                                     headers={"Origin": "https://evil.example"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403


def test_bad_settings_are_refused_by_name() -> None:
    for variable, value in (("FREEHOLD_DURABILITY", "fsnyc"), ("FREEHOLD_PORT", "http"),
                            ("FREEHOLD_DYNAMODB_TTL_INTERVAL", "soon")):
        result = subprocess.run([sys.executable, "-m", "freehold", "status"], capture_output=True, text=True,
                                timeout=60, env={**os.environ, variable: value})
        assert result.returncode == 2
        assert variable in result.stderr
        assert "Traceback" not in result.stderr
