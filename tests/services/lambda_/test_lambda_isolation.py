"""Functions attacking their sandbox and each other: another sandbox's Runtime API, their own
unpacked code (through the staging mounts too), the host's shared /dev/shm and /run/lock, and
earlier functions' secrets in their own memory. Each attack must fail on hosts that give the
isolation rung it relies on."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from lambda_helpers import (
    RAW_RUNTIME_API_ATTEMPT,
    create_function,
    create_role,
    invoke_ok,
    isolation_rungs,
    make_zip,
    unique,
)

from freehold.runtime.zygotes import BLANKS
from support.server import FreeholdServer

VICTIM_PY = make_zip({"app.py": '''
import os

def handler(event, context):
    return {"api": os.environ["AWS_LAMBDA_RUNTIME_API"], "echo": event}
'''})

# Talks raw HTTP to a Runtime API given in the event: what a function scanning /proc/net/tcp
# for other sandboxes' ports would do.
API_ATTACKER_PY = make_zip({"app.py": RAW_RUNTIME_API_ATTEMPT + '''
def handler(event, context):
    api = event["api"]
    return {
        "response": attempt(api, "POST /2018-06-01/runtime/invocation/forged/response HTTP/1.1\\r\\n"
                                 "Host: x\\r\\nContent-Length: 2\\r\\n\\r\\n{}"),
        "next": attempt(api, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"),
    }
'''})

CODE_ATTACKER_PY = make_zip({"app.py": '''
import os

def tried(action):
    try:
        action()
        return "succeeded"
    except OSError as error:
        return "failed: %s" % error.strerror

def write(path):
    with open(path, "w") as file:
        file.write("pwned")

def handler(event, context):
    results = {
        "chmod task": tried(lambda: os.chmod("/var/task", 0o777)),
        "chmod app": tried(lambda: os.chmod("/var/task/app.py", 0o666)),
        "write task": tried(lambda: write("/var/task/pwned.txt")),
        "replace app": tried(lambda: write("/var/task/app.py")),
    }
    # The staging holder the zygote bound sources into before covering /var and /root.
    for holder in ("/mnt", "/media", "/srv"):
        try:
            spots = os.listdir(holder)
        except OSError:
            continue
        for spot in spots:
            path = os.path.join(holder, spot)
            results["chmod " + path] = tried(lambda: os.chmod(path, 0o700))
            results["write " + path] = tried(lambda: write(os.path.join(path, "pwned.txt")))
    task = os.stat("/var/task")
    app = os.stat("/var/task/app.py")
    return {"results": results, "task": [task.st_uid, task.st_gid, task.st_mode & 0o7777],
            "app": [app.st_uid, app.st_mode & 0o7777], "gid": os.getgid(), "mounts": open("/proc/self/mounts").read()}
'''})

SHARED_ATTACKER_PY = make_zip({"app.py": '''
import os

def handler(event, context):
    seen = {}
    for directory in ("/dev/shm", "/run/lock"):
        path = os.path.join(directory, event["marker"])
        with open(path, "w") as file:
            file.write("left by " + context.function_name)
        stats = os.statvfs(directory)
        seen[directory] = {"others": sorted(os.listdir(directory)), "size": stats.f_blocks * stats.f_frsize}
    return seen
'''})


@pytest.fixture(scope="module")
def freehold(freehold_sqlite: FreeholdServer) -> FreeholdServer:
    """Isolation is not about storage: one SQLite server (the conftest's lam and role use it)."""
    return freehold_sqlite


@pytest.fixture(scope="module")
def rungs(freehold: FreeholdServer) -> dict[str, Any]:
    return isolation_rungs(freehold)


def test_health_reports_limitations(rungs: dict[str, Any]) -> None:
    assert rungs["runtime_api_peer_check"] == rungs["uid_per_function"]
    if not rungs["uid_per_function"]:
        assert any("Runtime API" in note for note in rungs["limitations"])


def test_function_cannot_use_another_sandboxs_runtime_api(lam: Any, role: str, rungs: dict[str, Any]) -> None:
    if not rungs["uid_per_function"]:
        pytest.skip("no uid per function on this host (freehold not root): Runtime APIs are not peer-checked")
    victim = create_function(lam, role, VICTIM_PY, FunctionName=unique("victim"), Timeout=10)
    attacker = create_function(lam, role, API_ATTACKER_PY, FunctionName=unique("attacker"), Timeout=10)
    api = invoke_ok(lam, victim, {"n": 1})["api"]  # the victim's sandbox now waits on /next
    outcome = invoke_ok(lam, attacker, {"api": api})
    # Without the peer check the forged response gets 400 InvalidRequestID and /next hangs or
    # steals the victim's next invocation.
    # Refused: a 403, or a reset when the server closes before reading the request.
    for attempt in ("response", "next"):
        assert outcome[attempt].startswith(("HTTP/1.1 403", "refused: [Errno 104]", "closed")), outcome
    # The victim's own runtime still gets its invocations.
    assert invoke_ok(lam, victim, {"n": 2}) == {"api": api, "echo": {"n": 2}}


def test_function_cannot_rewrite_its_code(freehold: FreeholdServer, lam: Any, role: str,
                                          rungs: dict[str, Any]) -> None:
    if not (rungs["uid_per_function"] and rungs["mount_namespace"]):
        pytest.skip("no uid per function and mount namespace on this host (freehold not root)")
    name = create_function(lam, role, CODE_ATTACKER_PY, FunctionName=unique("coder"))
    outcome = invoke_ok(lam, name)
    results = outcome["results"]
    assert results and all(value.startswith("failed") for value in results.values()), results
    # Owned by root with the sandbox's group: readable, never writable nor chmod-able.
    assert outcome["task"] == [0, outcome["gid"], 0o550]
    assert outcome["app"] == [0, 0o440]
    assert " /mnt/0 " not in outcome["mounts"]
    assert not list(freehold.data_dir.rglob("pwned.txt"))


def test_dev_shm_and_run_lock_are_private(lam: Any, role: str, rungs: dict[str, Any]) -> None:
    if not rungs["mount_namespace"]:
        pytest.skip("no mount namespace on this host (freehold not root): /dev/shm and /run/lock are the host's")
    first = create_function(lam, role, SHARED_ATTACKER_PY, FunctionName=unique("shm-a"))
    second = create_function(lam, role, SHARED_ATTACKER_PY, FunctionName=unique("shm-b"))
    marker_a, marker_b = unique("marker"), unique("marker")
    seen_a = invoke_ok(lam, first, {"marker": marker_a})
    seen_b = invoke_ok(lam, second, {"marker": marker_b})
    for directory in ("/dev/shm", "/run/lock"):
        assert seen_a[directory]["others"] == [marker_a]
        assert seen_b[directory]["others"] == [marker_b]
        assert not os.path.exists(os.path.join(directory, marker_a)), f"{directory} is the host's"
    assert seen_a["/dev/shm"]["size"] <= 64 * 1024 * 1024


# Reads every readable region of its own memory (/proc/self/mem; process_vm_readv on itself
# once it dropped to a uid that may not open that file) for values shaped like the markers.
MEMORY_SCANNER_PY = make_zip({"app.py": '''
import ctypes
import os
import re

CHUNK = 1 << 22
OVERLAP = 64
LIMIT = 512 << 20  # bytes of one region read at most


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def reader():
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError:
        fd = None
    if fd is not None:
        def read(address, size):
            try:
                return os.pread(fd, size, address)
            except OSError:
                return b""
        return read
    libc = ctypes.CDLL(None, use_errno=True)
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    libc.process_vm_readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p,
                                      ctypes.c_ulong, ctypes.c_ulong]
    buffer = ctypes.create_string_buffer(CHUNK)

    def read(address, size):
        local, remote = IoVec(ctypes.addressof(buffer), size), IoVec(address, size)
        done = libc.process_vm_readv(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        return ctypes.string_at(buffer, done) if done > 0 else b""
    return read


def handler(event, context):
    patterns = [re.compile(re.escape(prefix.encode()) + b"[A-Za-z0-9]{%d}" % length)
                for prefix, length in event["shapes"]]
    read = reader()
    found = set()
    scanned = 0
    with open("/proc/self/maps") as maps:
        regions = maps.read().splitlines()
    for line in regions:
        fields = line.split()
        if not fields[1].startswith("r") or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        end = min(end, start + LIMIT)
        address = start
        while address < end:
            data = read(address, min(CHUNK, end - address))
            if not data:
                break
            scanned += len(data)
            for pattern in patterns:
                found.update(match.group().decode() for match in pattern.finditer(data))
            if address + len(data) >= end:
                break
            address += max(len(data) - OVERLAP, 1)
    return {"found": sorted(found), "scanned": scanned}
'''})

SECRET_HOLDER_PY = make_zip({"app.py": '''
import os

def handler(event, context):
    return {"key": os.environ["AWS_ACCESS_KEY_ID"], "secret": os.environ["CANARY"]}
'''})


def test_sandboxes_never_hold_another_functions_secrets(freehold: FreeholdServer, lam: Any, role: str) -> None:
    """Function A's environment and role credentials are nowhere in the memory of sandboxes
    started after it (on AWS, execution environments never share memory across functions)."""
    canary = "FHCANARY" + uuid.uuid4().hex  # 8 + 32 characters
    holder = create_function(lam, role, SECRET_HOLDER_PY, FunctionName=unique("holder"),
                             Environment={"Variables": {"CANARY": canary}})
    held = invoke_ok(lam, holder)
    assert held["secret"] == canary and len(held["key"]) == 20
    other_role = create_role(freehold)
    # More scanners than the blanks kept ahead of demand: the last at least comes from a blank
    # forked after the holder was given its function.
    for round_ in range(BLANKS + 1):
        own = "FHCANARY" + uuid.uuid4().hex
        scanner = create_function(lam, other_role, MEMORY_SCANNER_PY, FunctionName=unique("scanner"),
                                  Timeout=60, MemorySize=256, Environment={"Variables": {"CANARY": own}})
        outcome = invoke_ok(lam, scanner, {"shapes": [["FHCANARY", 32], [held["key"][:4], 16]]})
        assert outcome["scanned"] > 1 << 20, outcome
        assert own in outcome["found"], outcome  # the scan works: it finds its own canary
        assert canary not in outcome["found"], f"round {round_}: the holder's environment leaked"
        assert held["key"] not in outcome["found"], f"round {round_}: the holder's access key id leaked"
