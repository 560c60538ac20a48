"""The Runtime API's HTTP handling and the sandbox launch plan, without processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

from freehold.runtime import api_server
from freehold.runtime.api_server import ACCEPTED, ApiResponse
from freehold.runtime.isolation import Isolation, SandboxUids, function_owner
from freehold.runtime.launch import LaunchError, plan, profile
from freehold.runtime.seam import FunctionSpec


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes, str]] = []

    def next_invocation(self) -> ApiResponse:
        return ApiResponse(200, b'{"k": 1}', {"Lambda-Runtime-Aws-Request-Id": "rid"})

    def invocation_response(self, request_id: str, body: bytes) -> ApiResponse:
        self.calls.append(("response", request_id, body, ""))
        return ACCEPTED

    def invocation_error(self, request_id: str, body: bytes, error_type: str) -> ApiResponse:
        self.calls.append(("error", request_id, body, error_type))
        return ACCEPTED

    def init_error(self, body: bytes, error_type: str) -> ApiResponse:
        self.calls.append(("init", "", body, error_type))
        return ACCEPTED


async def _exchange(raw: bytes, allowed_uid: int | None = None) -> tuple[bytes, Recorder]:
    recorder = Recorder()
    server = await api_server.listen(recorder, "127.0.0.1", 0, allowed_uid)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    server.close()
    return data, recorder


def test_next_and_keep_alive_response_and_chunked_error() -> None:
    raw = (b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
           b"POST /2018-06-01/runtime/invocation/rid/response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
           b"POST /2018-06-01/runtime/invocation/rid/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
           b"Lambda-Runtime-Function-Error-Type: Oops\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    data, recorder = asyncio.run(_exchange(raw))
    assert data.startswith(b"HTTP/1.1 200 OK") and b"Lambda-Runtime-Aws-Request-Id: rid" in data
    assert data.count(b"HTTP/1.1 202") == 2
    assert recorder.calls == [("response", "rid", b"ok", ""), ("error", "rid", b"abc", "Oops")]


def test_unknown_path_and_too_large_response() -> None:
    data, _ = asyncio.run(_exchange(b"GET /nope HTTP/1.1\r\n\r\n"))
    assert data.startswith(b"HTTP/1.1 404")
    big = api_server.MAX_RESPONSE + 10
    raw = (b"POST /2018-06-01/runtime/invocation/rid/response HTTP/1.1\r\nContent-Length: "
           + str(big).encode() + b"\r\n\r\n" + b"x" * big)
    data, recorder = asyncio.run(_exchange(raw))
    assert data.startswith(b"HTTP/1.1 413")
    assert recorder.calls[0][3] == "Function.ResponseSizeTooLarge"


def test_peer_uid_check_serves_only_the_sandbox_uid() -> None:
    own = os.geteuid()
    data, _ = asyncio.run(_exchange(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n", own))
    assert data.startswith(b"HTTP/1.1 200 OK")
    # Another uid's socket (here: ours, while the sandbox's is another) is refused unserved.
    data, recorder = asyncio.run(_exchange(b"", own + 1))
    assert data.startswith(b"HTTP/1.1 403") and b"Connection: close" in data
    assert recorder.calls == []


def test_peer_uid_reads_proc_net_tcp_and_tcp6(tmp_path: Path) -> None:
    def word(packed: bytes) -> str:
        return "".join(f"{int.from_bytes(packed[i:i + 4], sys.byteorder):08X}" for i in range(0, len(packed), 4))

    loop4 = word(socket.inet_aton("127.0.0.1"))
    mapped = word(b"\0" * 10 + b"\xff\xff" + socket.inet_aton("127.0.0.1"))
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    tcp = tmp_path / "tcp"
    tcp.write_text(header
                   + f"   0: {loop4}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 0 1\n"
                   + f"   1: {loop4}:C350 {loop4}:1F90 01 00000000:00000000 00:00000000 00000000 200123 0 2\n"
                   + f"   2: {loop4}:1F90 {loop4}:C350 01 00000000:00000000 00:00000000 00000000     0 0 3\n")
    tcp6 = tmp_path / "tcp6"
    tcp6.write_text(header + f"   0: {mapped}:C351 {mapped}:1F90 01 00000000:00000000 00:00000000 00000000 200777 0 4\n")
    tables = (str(tcp), str(tcp6), str(tmp_path / "absent"))
    assert api_server.peer_uid(("127.0.0.1", 50000), ("127.0.0.1", 8080), tables) == 200123
    assert api_server.peer_uid(("127.0.0.1", 50001), ("127.0.0.1", 8080), tables) == 200777
    assert api_server.peer_uid(("127.0.0.1", 50002), ("127.0.0.1", 8080), tables) is None


def _spec(tmp_path: Path, runtime: str) -> FunctionSpec:
    return FunctionSpec("k", "000000000000", "us-east-1", "f", "$LATEST", runtime, "app.handler", tmp_path,
                        128, 3, 512, {"MINE": "1"}, "/aws/lambda/f", function_owner("0", "r", "f"))


def test_launch_plan_environment_and_isolation(tmp_path: Path) -> None:
    rungs = Isolation(True, True, True, True, True, "v1", "/cg", "/mnt")
    request = plan(_spec(tmp_path, "python3.11"), rungs, api="127.0.0.1:9", stream="s", credentials={"AWS_ACCESS_KEY_ID": "A"},
                   endpoint="http://127.0.0.1:4566", sdk_dir="/sdk", data_dir="/data", zygote_python="/usr/bin/python3",
                   runtime_interpreter=None, cgroup=None, uid=(300001, 200123))
    env = request["env"]
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9" and env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["MINE"] == "1" and env["AWS_ACCESS_KEY_ID"] == "A" and env["_HANDLER"] == "app.handler"
    assert request["argv"] is None and (request["uid"], request["gid"]) == (300001, 200123)
    assert request["memory_mb"] == 128
    # Only the function's own trees come from the host at assignment; the rest is the profile's.
    assert request["filesystem"] == {"binds": [[str(tmp_path), "/var/task"]], "tmp_mb": 512}
    json.dumps(request)  # what the zygote receives


def test_profile_binds_the_runtime_not_the_data_directory(tmp_path: Path) -> None:
    sdk = tmp_path / "data" / "lambda" / "sdk"
    sdk.mkdir(parents=True)
    package = tmp_path / "site-packages" / "boto3"
    package.mkdir(parents=True)
    (sdk / "boto3").symlink_to(package)
    rungs = Isolation(True, True, True, True, True, "v1", "/cg", "/mnt")
    result = profile(rungs, sys.executable, str(sdk))
    assert result["root"] == "/mnt" and result["pid_namespace"] and result["cgroup_parent"] == "/cg"
    targets = {target for _, target in result["binds"]}
    assert {"/var/lang", "/var/runtime/client", str(sdk), str(package)} <= targets
    assert not any(source == str(tmp_path / "data") or source == "/" for source, _ in result["binds"])
    assert profile(Isolation(True, True, False, False, False, "", "", ""), sys.executable, "") == {
        "pid_namespace": False, "mount_namespace": False, "cgroup_parent": ""}


def test_sandbox_uids_are_unique_and_reused_last() -> None:
    uids = SandboxUids(base=1000, span=3)
    first, second = uids.take(), uids.take()
    assert first != second and {first, second} <= {1000, 1001, 1002}
    uids.give_back(first)
    assert uids.take() == 1002  # the freed one waits behind the never-used one
    assert uids.take() == first


def test_provided_without_bootstrap_is_an_init_error(tmp_path: Path) -> None:
    rungs = Isolation(True, True, False, False, False, "", "", "")
    try:
        plan(_spec(tmp_path, "provided.al2023"), rungs, api="a", stream="s", credentials={}, endpoint="e",
             sdk_dir="", data_dir="/d", zygote_python="/usr/bin/python3", runtime_interpreter=None, cgroup=None)
    except LaunchError as error:
        assert error.error_type == "Runtime.InvalidEntrypoint"
    else:
        raise AssertionError("expected LaunchError")


def test_peer_uid_over_sock_diag_finds_the_client_socket_owner() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with server, socket.create_connection(server.getsockname()) as client:
        accepted, _ = server.accept()
        with accepted:
            peer, local = accepted.getpeername(), accepted.getsockname()
            uid = api_server.peer_uid_netlink(peer, local)
            if uid is None:
                return  # no sock_diag on this host: the /proc/net/tcp way (tested above) is used
            assert uid == os.getuid()
            # No such connection: nothing found, never someone else's uid.
            assert api_server.peer_uid_netlink(("127.0.0.1", client.getsockname()[1] ^ 1), local) is None


def test_diag_request_layout() -> None:
    request = api_server.diag_request(("127.0.0.1", 50000), ("127.0.0.2", 8080))
    assert len(request) == 16 + 56
    assert request[16:20] == bytes([socket.AF_INET, socket.IPPROTO_TCP, 0, 0])
    assert request[24:28] == (50000).to_bytes(2, "big") + (8080).to_bytes(2, "big")
    assert request[28:32] == socket.inet_aton("127.0.0.1") and request[44:48] == socket.inet_aton("127.0.0.2")
    assert api_server.diag_uid(b"") is None


async def _exchange_in_pieces(raw: bytes, piece: int) -> tuple[bytes, Recorder]:
    recorder = Recorder()
    server = await api_server.listen(recorder, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for start in range(0, len(raw), piece):
        writer.write(raw[start:start + piece])
        await writer.drain()
        await asyncio.sleep(0.0005)
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    server.close()
    return data, recorder


def test_requests_arriving_in_pieces() -> None:
    raw = (b"POST /2018-06-01/runtime/invocation/rid/response HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
           b"POST /2018-06-01/runtime/invocation/rid/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
           b"Lambda-Runtime-Function-Error-Type: Oops\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
           b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    data, recorder = asyncio.run(_exchange_in_pieces(raw, 7))
    assert recorder.calls == [("response", "rid", b"hello", ""), ("error", "rid", b"abcde", "Oops")]
    assert data.count(b"HTTP/1.1 202") == 2 and data.endswith(b'{"k": 1}')


def test_too_large_response_dropped_as_it_arrives_then_served_again() -> None:
    big = api_server.MAX_RESPONSE + 10
    raw = (b"POST /2018-06-01/runtime/invocation/rid/response HTTP/1.1\r\nContent-Length: "
           + str(big).encode() + b"\r\n\r\n" + b"x" * big
           + b"POST /2018-06-01/runtime/invocation/rid/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    data, recorder = asyncio.run(_exchange_in_pieces(raw, 1 << 20))
    assert data.startswith(b"HTTP/1.1 413") and data.count(b"HTTP/1.1 202") == 1
    assert [call[0] for call in recorder.calls] == ["error", "error"]
    assert recorder.calls[0][3] == "Function.ResponseSizeTooLarge"


def test_too_large_response_arriving_whole_keeps_what_follows() -> None:
    big = api_server.MAX_RESPONSE + 10
    raw = (b"POST /2018-06-01/runtime/invocation/rid/response HTTP/1.1\r\nContent-Length: "
           + str(big).encode() + b"\r\n\r\n" + b"x" * big
           + b"POST /2018-06-01/runtime/invocation/rid/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    data, recorder = asyncio.run(_exchange_in_pieces(raw, len(raw)))
    assert data.startswith(b"HTTP/1.1 413") and data.count(b"HTTP/1.1 202") == 1
    assert [call[0] for call in recorder.calls] == ["error", "error"]


def test_uid_blocks_are_claimed_once_per_process_lock(tmp_path: Path) -> None:
    from freehold.runtime import isolation

    first = isolation.claim_uid_block(str(tmp_path))
    second = isolation.claim_uid_block(str(tmp_path))
    assert first != second and first[1] == second[1] == isolation.SANDBOX_UID_SPAN // isolation.UID_BLOCKS
    assert abs(first[0] - second[0]) >= first[1]  # disjoint ranges


def test_pipelined_response_and_next_are_answered_in_order() -> None:
    # freehold's Python runtime posts its response and asks for the next invocation in one
    # write: the 202 goes out with the next invocation, first, as HTTP/1.1 orders answers.
    raw = (b"POST /2018-06-01/runtime/invocation/rid/response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
           b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    data, recorder = asyncio.run(_exchange(raw))
    assert recorder.calls == [("response", "rid", b"ok", "")]
    assert data.startswith(b"HTTP/1.1 202") and data.index(b"HTTP/1.1 202") < data.index(b"HTTP/1.1 200 OK")
    # A response posted alone is answered at once (runtimes that wait for the 202).
    data, _ = asyncio.run(_exchange(b"POST /2018-06-01/runtime/invocation/rid/response HTTP/1.1\r\n"
                                    b"Content-Length: 2\r\n\r\nok"))
    assert data.startswith(b"HTTP/1.1 202") and b"HTTP/1.1 200" not in data
