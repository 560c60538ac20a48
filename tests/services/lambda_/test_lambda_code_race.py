"""UpdateFunctionCode racing PublishVersion: every published version keeps its code (it invokes,
and its Code.Location downloads the package it reports), no call answers a server error, and a
lost race without a RevisionId is AWS's 409 update-in-progress conflict, never a 412."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_helpers import create_function, make_zip

CALLS = 40
THREADS = 8
IN_PROGRESS = "The operation cannot be performed at this time. An update is in progress for resource: "


def package(marker: str) -> bytes:
    return make_zip({"app.py": f"def handler(event, context):\n    return {{'marker': {marker!r}}}\n"})


def marker_of(zip_bytes: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        source = archive.read("app.py").decode()
    return source.split("'marker': ")[1].split("}")[0].strip("'")


def test_updates_racing_publishes_keep_every_version_code(freehold: Any, role: str) -> None:
    # No client retries: a 5xx or a conflict must be seen as it was answered.
    lam = freehold.client("lambda", config=Config(retries={"total_max_attempts": 1}, max_pool_connections=THREADS,
                                                  connect_timeout=5, read_timeout=60))
    name = create_function(lam, role, package("initial"))
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]

    def call(i: int) -> tuple[str, str, int, str]:
        try:
            if i % 5 in (1, 3):
                lam.publish_version(FunctionName=name)
                return ("publish", "", 201, "")
            lam.update_function_code(FunctionName=name, ZipFile=package(f"update-{i}"))
            return ("update", "", 200, "")
        except ClientError as error:
            response = error.response
            return ("publish" if i % 5 in (1, 3) else "update", response["Error"]["Code"],
                    response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Message", ""))

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(call, range(CALLS)))

    failures = [outcome for outcome in outcomes if outcome[1]]
    assert not [f for f in failures if f[2] >= 500], failures
    assert not [f for f in failures if f[1] == "PreconditionFailedException"], failures
    for _, code, status, message in failures:
        assert (code, status, message) == ("ResourceConflictException", 409, IN_PROGRESS + arn)
    assert any(outcome[0] == "update" and not outcome[1] for outcome in outcomes)

    versions = [v for v in lam.list_versions_by_function(FunctionName=name)["Versions"] if v["Version"] != "$LATEST"]
    assert versions, outcomes
    for version in versions:
        number = version["Version"]
        got = lam.get_function(FunctionName=name, Qualifier=number)
        with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as response:
            zip_bytes = response.read()
        assert base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode() == version["CodeSha256"]
        answer = lam.invoke(FunctionName=name, Qualifier=number, Payload=b"{}")
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer, answer
        assert json.loads(answer["Payload"].read()) == {"marker": marker_of(zip_bytes)}

    # $LATEST itself still runs the package it reports.
    latest = lam.get_function(FunctionName=name)
    with urllib.request.urlopen(latest["Code"]["Location"], timeout=10) as response:
        latest_zip = response.read()
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"marker": marker_of(latest_zip)}
