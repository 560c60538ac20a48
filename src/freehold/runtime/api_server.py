"""The Lambda Runtime API over HTTP/1.1 on loopback: one listening socket per sandbox (its
port is the sandbox's identity), served on the runtime event loop.

    GET  /2018-06-01/runtime/invocation/next
    POST /2018-06-01/runtime/invocation/{AwsRequestId}/response
    POST /2018-06-01/runtime/invocation/{AwsRequestId}/error
    POST /2018-06-01/runtime/init/error

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Protocol

PREFIX = "/2018-06-01/runtime/"
MAX_HEADER = 64 * 1024
# The response limit the Runtime API enforces (6 MB and a little room, as AWS's own).
MAX_RESPONSE = 6 * 1024 * 1024 + 100


@dataclass
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str]


class RuntimeApiHandler(Protocol):
    async def next_invocation(self) -> ApiResponse: ...
    def invocation_response(self, request_id: str, body: bytes) -> ApiResponse: ...
    def invocation_error(self, request_id: str, body: bytes, error_type: str) -> ApiResponse: ...
    def init_error(self, body: bytes, error_type: str) -> ApiResponse: ...


def json_response(status: int, document: dict[str, str]) -> ApiResponse:
    return ApiResponse(status, json.dumps(document).encode(), {"Content-Type": "application/json"})


ACCEPTED = json_response(202, {"status": "OK"})

# Where the kernel lists TCP sockets of this network namespace, with each socket's owner uid.
PROC_NET_TCP = ("/proc/net/tcp", "/proc/net/tcp6")


def _hex_address(ip: str, port: int, ipv6: bool) -> str:
    """An (ip, port) as /proc/net/tcp{,6} prints it: each 32-bit word of the address in host
    byte order, then the port, all in upper-case hex."""
    if ipv6:
        packed = socket.inet_pton(socket.AF_INET6, ip) if ":" in ip else b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ip)
    else:
        packed = socket.inet_aton(ip)
    words = "".join(f"{int.from_bytes(packed[i:i + 4], sys.byteorder):08X}" for i in range(0, len(packed), 4))
    return f"{words}:{port:04X}"


def peer_uid(peer: tuple[str, int], local: tuple[str, int], tables: tuple[str, ...] = PROC_NET_TCP) -> int | None:
    """The uid owning the client socket of a loopback connection: the socket whose local
    address is the peer's and whose remote address is ours. None when it is not found."""
    for table in tables:
        ipv6 = table.endswith("6")
        try:
            wanted = (_hex_address(peer[0], peer[1], ipv6), _hex_address(local[0], local[1], ipv6))
            with open(table) as lines:
                next(lines, None)  # the header
                for line in lines:
                    fields = line.split()
                    if len(fields) > 7 and (fields[1], fields[2]) == wanted:
                        return int(fields[7])
        except (OSError, ValueError):
            continue
    return None


# sock_diag over netlink: the kernel looks one TCP socket up by its addresses and tells its
# owner's uid (`ss` asks the same way). Reading /proc/net/tcp instead lists every socket of the
# host: milliseconds per accept on a busy machine, on every cold start's path.
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
INET_DIAG_NOCOOKIE = 0xFFFFFFFF


def diag_request(peer: tuple[str, int], local: tuple[str, int]) -> bytes:
    """An inet_diag_req_v2 for the client socket of a loopback IPv4 connection: the socket whose
    own address is `peer` and whose remote address is `local` (ports and addresses big-endian)."""
    sockid = struct.pack("!HH16s16s", peer[1], local[1], socket.inet_aton(peer[0]).ljust(16, b"\0"),
                         socket.inet_aton(local[0]).ljust(16, b"\0"))
    sockid += struct.pack("=III", 0, INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE)
    body = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    return struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0) + body


def diag_uid(answer: bytes) -> int | None:
    """The uid in a sock_diag answer (an inet_diag_msg), None for an error or no socket."""
    if len(answer) < 16:
        return None
    _, kind = struct.unpack_from("=IH", answer)
    if kind != SOCK_DIAG_BY_FAMILY or len(answer) < 16 + 72:
        return None
    # inet_diag_msg: family, state, timer, retrans (4 bytes), sockid (48), expires, rqueue,
    # wqueue (12), then uid.
    return int(struct.unpack_from("=I", answer, 16 + 64)[0])


def peer_uid_netlink(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    if ":" in peer[0] or ":" in local[0]:
        return None
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as link:
            link.settimeout(1.0)
            link.send(diag_request(peer, local))
            return diag_uid(link.recv(8192))
    except OSError:
        return None


def _peer_allowed(writer: asyncio.StreamWriter, allowed_uid: int) -> bool:
    peer, local = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
    if not peer or not local:
        return False
    pair = ((peer[0], peer[1]), (local[0], local[1]))
    uid = peer_uid_netlink(*pair)
    if uid is None:  # no sock_diag here: the slow way
        uid = peer_uid(*pair)
    return uid == allowed_uid


FORBIDDEN = json_response(403, {"errorMessage": "Forbidden", "errorType": "AccessDenied"})


class RequestError(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise RequestError("header too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        raise RequestError("bad request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            if len(chunks) + size > MAX_RESPONSE + 1:
                raise RequestError("too large")
            chunks += await reader.readexactly(size)
            await reader.readexactly(2)
        return method, target, headers, bytes(chunks)
    length = int(headers.get("content-length") or 0)
    if length > MAX_RESPONSE + 1:
        # Read and drop it: the runtime gets 413 and the invocation fails as too large.
        remaining = length
        while remaining:
            chunk = await reader.read(min(remaining, 1 << 20))
            if not chunk:
                return None
            remaining -= len(chunk)
        return method, target, {**headers, "x-freehold-too-large": "1"}, b""
    body = await reader.readexactly(length) if length else b""
    return method, target, headers, body


async def _route(handler: RuntimeApiHandler, method: str, target: str, headers: dict[str, str],
                 body: bytes) -> ApiResponse:
    path = target.split("?", 1)[0]
    if not path.startswith(PREFIX):
        return json_response(404, {"errorMessage": "Not Found", "errorType": "NotFound"})
    rest = path[len(PREFIX):]
    error_type = headers.get("lambda-runtime-function-error-type", "")
    if rest == "invocation/next" and method == "GET":
        return await handler.next_invocation()
    if rest == "init/error" and method == "POST":
        return handler.init_error(body, error_type)
    parts = rest.split("/")
    if len(parts) == 3 and parts[0] == "invocation" and method == "POST":
        if parts[2] == "response":
            if headers.get("x-freehold-too-large"):
                handler.invocation_error(parts[1], json.dumps({
                    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge"}).encode(), "Function.ResponseSizeTooLarge")
                return json_response(413, {
                    "errorMessage": f"Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).",
                    "errorType": "RequestEntityTooLarge"})
            return handler.invocation_response(parts[1], body)
        if parts[2] == "error":
            return handler.invocation_error(parts[1], body, error_type)
    return json_response(404, {"errorMessage": "Not Found", "errorType": "NotFound"})


async def serve_connection(handler: RuntimeApiHandler, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter, allowed_uid: int | None = None) -> None:
    """Requests of one keep-alive connection, one after another.

    With `allowed_uid`, the connection is served only when its client socket belongs to that
    uid (the sandbox's own): every sandbox shares the host's loopback, so without this check
    any function could find other sandboxes' ports in /proc/net/tcp and take their
    invocations. The check costs one read of /proc/net/tcp per connection, at accept."""
    try:
        if allowed_uid is not None and not _peer_allowed(writer, allowed_uid):
            writer.write(_encode(FORBIDDEN, close=True))
            await writer.drain()
            return
        while True:
            try:
                request = await _read_request(reader)
            except (RequestError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                break
            if request is None:
                break
            response = await _route(handler, *request)
            writer.write(_encode(response))
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def _encode(response: ApiResponse, close: bool = False) -> bytes:
    head = [f"HTTP/1.1 {response.status} {'OK' if response.status < 300 else 'Error'}",
            f"Content-Length: {len(response.body)}"]
    head += [f"{key}: {value}" for key, value in response.headers.items()]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body
