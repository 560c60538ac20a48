"""The sandbox's own world: a minimal root (pivot_root) without the host's /work, /root, /home,
freehold's data directory or other functions' code; a uid per sandbox, so that not even two
sandboxes of one function reach each other's Runtime API; the SDK still importable and
talking to freehold. Each check runs where the host gives the rung it relies on."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from lambda_helpers import (
    RAW_RUNTIME_API_ATTEMPT,
    create_function,
    invoke_ok,
    isolation_rungs,
    make_zip,
    unique,
)

from support.server import ROOT as REPOSITORY
from support.server import FreeholdServer

PROBE_PY = make_zip({"app.py": '''
import os

def probe(path):
    try:
        if os.path.isdir(path):
            return sorted(os.listdir(path))
        with open(path, "rb") as file:
            return "read %d bytes" % len(file.read(64))
    except OSError as error:
        return "error: %s" % error.strerror

def handler(event, context):
    return {
        "paths": {path: probe(path) for path in event["paths"]},
        "exists": {path: os.path.exists(path) for path in event["exists"]},
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "uid": os.getuid(), "gid": os.getgid(),
        "root": sorted(os.listdir("/")),
        "mounts": open("/proc/self/mounts").read(),
    }
'''})

# Two sandboxes of this one function run at once; then one tries the other's Runtime API.
PEER_PY = make_zip({"app.py": RAW_RUNTIME_API_ATTEMPT + '''
import os, time

def handler(event, context):
    own = os.environ["AWS_LAMBDA_RUNTIME_API"]
    if "targets" in event:
        target = [api for api in event["targets"] if api != own][0]
        return {"own": own, "target": target,
                "next": attempt(target, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")}
    time.sleep(event.get("sleep", 0))
    return {"api": own, "uid": os.getuid()}
'''})

HOG_PY = make_zip({"app.py": '''
def handler(event, context):
    hog = bytearray(event["mb"] * 1024 * 1024)
    for index in range(0, len(hog), 4096):
        hog[index] = 1
    return len(hog)
'''})

WITH_SDK_PY = make_zip({"app.py": '''
import boto3

dynamodb = boto3.client("dynamodb")

def handler(event, context):
    return {"tables": dynamodb.list_tables()["TableNames"], "region": dynamodb.meta.region_name}
'''})


@pytest.fixture(scope="module")
def freehold(freehold_sqlite: FreeholdServer) -> FreeholdServer:
    """The sandbox is not about storage: one SQLite server (the conftest's lam and role use it)."""
    return freehold_sqlite


@pytest.fixture(scope="module")
def rungs(freehold: FreeholdServer) -> dict[str, Any]:
    return isolation_rungs(freehold)


def test_memory_limit_holds_from_the_very_first_sandbox(lam: Any, role: str, rungs: dict[str, Any]) -> None:
    """The first sandboxes of a node come from blanks forked as its zygote started: they too
    run in a memory cgroup of MemorySize (first in this module: nothing ran before it)."""
    if not rungs["memory_cgroup"]:
        pytest.skip("no writable memory cgroup on this host")
    name = create_function(lam, role, HOG_PY, FunctionName=unique("hog"), MemorySize=128)
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"mb": 300}).encode())
    body = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") == "Unhandled" and body["errorType"] == "Runtime.OutOfMemory", body


def test_health_reports_the_rungs(rungs: dict[str, Any]) -> None:
    assert rungs["pivot_root"] == rungs["mount_namespace"]
    assert rungs["uid_per_sandbox"] == rungs["uid_per_function"]


def test_function_sees_a_minimal_root(freehold: FreeholdServer, lam: Any, role: str, rungs: dict[str, Any]) -> None:
    if not (rungs["pivot_root"] and rungs["pid_namespace"]):
        pytest.skip("no mount and pid namespaces on this host (freehold not root): functions see the host")
    other = create_function(lam, role, PROBE_PY, FunctionName=unique("other"))
    invoke_ok(lam, other, {"paths": [], "exists": []})  # its code is unpacked on the host now
    code_root = freehold.data_dir / "lambda" / "code"
    other_trees = [str(path) for path in code_root.iterdir() if not path.name.startswith(".")]
    assert other_trees
    name = create_function(lam, role, PROBE_PY, FunctionName=unique("probe"))
    outcome = invoke_ok(lam, name, {
        "paths": ["/var/task", "/etc/ssl", "/etc/passwd", "/etc/shadow", "/root", "/home", str(code_root),
                  str(freehold.data_dir), str(REPOSITORY)],
        "exists": [str(REPOSITORY / "src"), str(REPOSITORY / "pyproject.toml"), str(REPOSITORY / ".git"), "/etc/shadow",
                   "/home", str(freehold.data_dir / "state.sqlite"), str(freehold.data_dir / "root-credentials"),
                   *other_trees],
    })
    paths = outcome["paths"]
    assert paths["/var/task"] == ["app.py"]
    assert isinstance(paths["/etc/ssl"], list) and paths["/etc/ssl"]  # TLS roots are there
    assert paths["/etc/passwd"].startswith("read")
    for hidden in ("/etc/shadow", "/home", str(code_root)):
        assert str(paths[hidden]).startswith("error: No such file"), (hidden, paths[hidden])
    # Of freehold's tree, only the way to the SDK's packages (bound where the zygote imported
    # them from); of its data directory, only the way to the SDK's links.
    assert paths[str(REPOSITORY)] in ([".venv"], "error: No such file or directory"), paths[str(REPOSITORY)]
    assert paths[str(freehold.data_dir)] in (["lambda"], "error: No such file or directory"), paths[str(freehold.data_dir)]
    # /root holds only the way to the interpreter, where the zygote imported it from (pyenv).
    assert paths["/root"] in ([".pyenv"], "error: No such file or directory"), paths["/root"]
    assert not any(outcome["exists"].values()), outcome["exists"]
    assert outcome["pids"] == [1]  # its own pid namespace: nothing of the host's
    assert not {"home", "srv", "mnt", "boot", "media"} & set(outcome["root"]), outcome["root"]
    # The root itself is read-only; /tmp is the sandbox's own tmpfs.
    mounts = {line.split()[1]: line.split()[3] for line in outcome["mounts"].splitlines()}
    assert mounts["/"].startswith("ro") and mounts["/var/task"].startswith("ro") and mounts["/tmp"].startswith("rw")


def test_two_sandboxes_of_one_function_cannot_reach_each_other(lam: Any, role: str, rungs: dict[str, Any]) -> None:
    if not rungs["uid_per_sandbox"]:
        pytest.skip("no uid per sandbox on this host (freehold not root): Runtime APIs are not peer-checked")
    name = create_function(lam, role, PEER_PY, FunctionName=unique("peers"), Timeout=10)
    with ThreadPoolExecutor(2) as pool:  # two at once: two sandboxes
        first, second = pool.map(lambda _: invoke_ok(lam, name, {"sleep": 1.0}), range(2))
    assert first["api"] != second["api"]
    assert first["uid"] != second["uid"] and min(first["uid"], second["uid"]) > 0
    outcome = invoke_ok(lam, name, {"targets": [first["api"], second["api"]]})
    assert outcome["own"] in (first["api"], second["api"])
    # Refused: a 403, or a reset when the server closes before reading the request.
    assert outcome["next"].startswith(("HTTP/1.1 403", "refused: [Errno 104]", "closed")), outcome
    # Both sandboxes still get their own invocations.
    with ThreadPoolExecutor(2) as pool:
        again = list(pool.map(lambda _: invoke_ok(lam, name, {"sleep": 0.5}), range(2)))
    assert {a["api"] for a in again} <= {first["api"], second["api"]}


def test_sdk_at_init_reaches_freehold(freehold: FreeholdServer, lam: Any, role: str) -> None:
    table = unique("sandbox-table")
    freehold.client("dynamodb").create_table(
        TableName=table, AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    name = create_function(lam, role, WITH_SDK_PY, FunctionName=unique("sdk"))
    outcome = invoke_ok(lam, name)
    assert table in outcome["tables"] and outcome["region"] == "us-east-1"
