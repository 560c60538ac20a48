"""The Lambda Runtime API over HTTP/1.1 on loopback: one listening socket per sandbox (its
port is the sandbox's identity), served on the runtime event loop.

    GET  /2018-06-01/runtime/invocation/next
    POST /2018-06-01/runtime/invocation/{AwsRequestId}/response
    POST /2018-06-01/runtime/invocation/{AwsRequestId}/error
    POST /2018-06-01/runtime/init/error

A response posted with `Lambda-Runtime-Function-Response-Mode: streaming` (chunked) is
handed on chunk by chunk as it arrives (response streaming), and may end with the trailers
Lambda-Runtime-Function-Error-Type / -Error-Body (base64) for an error met mid-stream.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import socket
import struct
import sys
from dataclasses import dataclass
from collections.abc import Callable
from typing import Protocol, cast

PREFIX = "/2018-06-01/runtime/"
NEXT = PREFIX + "invocation/next"
NEXT_REQUEST = b"GET " + NEXT.encode()
MAX_HEADER = 64 * 1024
# The response limit the Runtime API enforces (6 MB and a little room, as AWS's own).
MAX_RESPONSE = 6 * 1024 * 1024 + 100
# A streamed response's limit (AWS's soft limit: 20 MB).
MAX_STREAMED_RESPONSE = 20 * 1024 * 1024
MAX_CHUNK_LINE = 4096  # a chunk-size line, or one trailer line
STREAMING_MODE = "lambda-runtime-function-response-mode"


@dataclass
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str]


class StreamTarget(Protocol):
    """Where the chunks of one streamed response go (see Sandbox.stream_response)."""

    def write(self, data: bytes, resume: Callable[[], None]) -> str:
        """"ok"; "pause" (stop reading until `resume` is called, on any thread); or
        "too large" (the invocation failed: the rest is dropped)."""
    def finish(self, error_type: str, error_body: bytes) -> ApiResponse: ...


class RuntimeApiHandler(Protocol):
    def next_invocation(self) -> ApiResponse | asyncio.Future[ApiResponse]:
        """The next invocation's answer now, or a future of it (a runtime waits on /next)."""
    def invocation_response(self, request_id: str, body: bytes) -> ApiResponse: ...
    def stream_response(self, request_id: str, content_type: str) -> StreamTarget | ApiResponse:
        """A streamed response starts: where its chunks go, or the answer refusing it."""
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


def _peer_allowed(transport: asyncio.BaseTransport, allowed_uid: int) -> bool:
    peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
    if not peer or not local:
        return False
    pair = ((peer[0], peer[1]), (local[0], local[1]))
    uid = peer_uid_netlink(*pair)
    if uid is None:  # no sock_diag here: the slow way
        uid = peer_uid(*pair)
    return uid == allowed_uid


FORBIDDEN = json_response(403, {"errorMessage": "Forbidden", "errorType": "AccessDenied"})
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
TOO_LARGE = json.dumps({
    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).",
    "errorType": "Function.ResponseSizeTooLarge"}).encode()
TOO_LARGE_ANSWER = json_response(413, {"errorMessage": f"Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).",
                                       "errorType": "RequestEntityTooLarge"})
NOT_FOUND = json_response(404, {"errorMessage": "Not Found", "errorType": "NotFound"})


class RequestError(Exception):
    pass


Request = tuple[str, str, dict[str, str], bytes]
STREAMING: Request = ("STREAMING", "", {}, b"")  # _take_request's answer when a streamed body began


class ChunkedDecoder:
    """An HTTP/1.1 chunked body decoded as it arrives: `feed` takes what it can out of the
    buffer (a chunk's data is handed on in pieces, as they come), and the trailers at the end."""

    def __init__(self) -> None:
        self.state = "size"
        self.remaining = 0
        self.trailers: dict[str, str] = {}
        self.trailer_bytes = 0
        self.done = False

    def feed(self, buffer: bytearray) -> list[bytes]:
        pieces: list[bytes] = []
        while buffer and not self.done:
            if self.state == "data":
                size = min(self.remaining, len(buffer))
                pieces.append(bytes(buffer[:size]))
                del buffer[:size]
                self.remaining -= size
                if not self.remaining:
                    self.state = "crlf"
                continue
            if self.state == "crlf":
                if len(buffer) < 2:
                    break
                if buffer[:2] != b"\r\n":
                    raise RequestError("no CRLF after a chunk")
                del buffer[:2]
                self.state = "size"
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_CHUNK_LINE:
                    raise RequestError("chunk line too long")
                break
            line = bytes(buffer[:end]).decode("latin-1")
            del buffer[:end + 2]
            if self.state == "size":
                digits = line.split(";", 1)[0].strip()
                if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits):
                    raise RequestError("bad chunk size")
                self.remaining = int(digits, 16)
                self.state = "data" if self.remaining else "trailers"
            elif not line:  # the blank line that ends the trailers
                self.done = True
            else:
                self.trailer_bytes += len(line)
                if self.trailer_bytes > MAX_HEADER or ":" not in line:
                    raise RequestError("bad trailer")
                key, _, value = line.partition(":")
                self.trailers[key.strip().lower()] = value.strip()
        return pieces


@dataclass
class StreamedBody:
    """A streamed response being received: where it goes (or the answer refusing it)."""

    decoder: ChunkedDecoder
    target: StreamTarget | None
    answer: ApiResponse | None = None  # set when refused or failed: what the runtime gets


def stream_error(trailers: dict[str, str]) -> tuple[str, bytes]:
    """The (error type, error body) trailers of a streamed response; ("", b"") when none."""
    error_type = trailers.get("lambda-runtime-function-error-type", "")
    encoded = trailers.get("lambda-runtime-function-error-body", "")
    try:
        body = base64.b64decode(encoded) if encoded else b""
    except (binascii.Error, ValueError):
        body = encoded.encode("utf-8", "replace")
    return error_type, body


class RuntimeApiProtocol(asyncio.Protocol):
    """One connection of a sandbox's runtime: HTTP/1.1 requests parsed from what arrives, one
    at a time (a runtime waits for each answer; /next is answered when an invocation comes).

    With `allowed_uid`, the connection is served only when its client socket belongs to that
    uid (the sandbox's own): every sandbox shares the host's loopback, so without this check
    any function could find other sandboxes' ports and take their invocations. The check is
    one sock_diag question to the kernel per connection, at accept."""

    def __init__(self, handler: RuntimeApiHandler, allowed_uid: int | None = None) -> None:
        self.handler = handler
        self.allowed_uid = allowed_uid
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: asyncio.Future[ApiResponse] | None = None  # an answer not given yet (/next)
        self.discard = 0  # bytes of a too large body still to drop
        self.discarded: tuple[str, str, dict[str, str]] | None = None
        self.eof = False  # the runtime is done sending: close once its answers are out
        # An answer held back to go out with the next one: a runtime that pipelines (freehold's
        # own posts its response and asks for the next invocation in one write) gets its 202
        # together with the next invocation, in one write instead of two.
        self.held = b""
        self.streamed: StreamedBody | None = None  # a streamed response being received
        self.paused = False  # reading paused: the streamed response's reader is behind

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses, but behave as one)
        self.transport = cast(asyncio.Transport, transport)
        if self.allowed_uid is not None and not _peer_allowed(transport, self.allowed_uid):
            self.transport.write(_encode(FORBIDDEN, close=True))
            self.transport.close()

    def eof_received(self) -> bool:
        self.eof = True
        self._close_if_done()
        return True  # half-closed: answers still go out

    def _close_if_done(self) -> None:
        if self.eof and self.waiting is None and self.transport is not None:
            self._flush_held()
            self.transport.close()

    def _flush_held(self) -> None:
        if self.held and self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.held)
        self.held = b""

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting is not None:
            self.waiting.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.discard:
            dropped = min(self.discard, len(data))
            self.discard -= dropped
            data = data[dropped:]
            if self.discard or self.discarded is None:
                return
            method, target, headers = self.discarded
            self.discarded = None
            self._answer(_route_now(self.handler, method, target, headers, b""))
        self.buffer += data
        self._serve()

    def _bad_request(self) -> None:
        if self.transport is not None:
            self._flush_held()
            self.transport.write(BAD_REQUEST)
            self.transport.close()

    def _resume(self) -> None:
        if self.paused and self.transport is not None and not self.transport.is_closing():
            self.paused = False
            self.transport.resume_reading()

    def _pump_stream(self, streamed: StreamedBody) -> bool:
        """Hand on what arrived of a streamed response; True once it ended and was answered."""
        pieces = streamed.decoder.feed(self.buffer)
        for piece in pieces:
            if streamed.target is None:
                continue  # refused, or failed: dropped
            verdict = streamed.target.write(piece, self._resume)
            if verdict == "too large":
                streamed.target, streamed.answer = None, TOO_LARGE_ANSWER
            elif verdict == "pause" and not self.paused and self.transport is not None:
                self.paused = True
                self.transport.pause_reading()
        if not streamed.decoder.done:
            return False
        self.streamed = None
        if streamed.target is not None:
            answer = streamed.target.finish(*stream_error(streamed.decoder.trailers))
        else:
            answer = streamed.answer or ACCEPTED
        self._reply(answer)
        return True

    def _reply(self, answer: ApiResponse) -> None:
        if self.buffer.startswith(NEXT_REQUEST):
            # The runtime asked for the next invocation already (pipelined): this answer
            # waits to go out with that one.
            self.held += _encode(answer)
        else:
            self._answer(answer)

    def _serve(self) -> None:
        """Answer every complete request in the buffer, in order, while no answer is pending."""
        while self.waiting is None and self.transport is not None and not self.discard:
            try:
                if self.streamed is not None and not self._pump_stream(self.streamed):
                    return
                request = self._take_request()
            except (RequestError, ValueError):
                self._bad_request()
                return
            if request is STREAMING:
                continue
            if request is None:
                if len(self.buffer) > MAX_HEADER + MAX_RESPONSE + 64:
                    self._flush_held()
                    self.transport.write(BAD_REQUEST)
                    self.transport.close()
                return
            method, target, headers, body = request
            if method == "GET" and target.split("?", 1)[0] == NEXT:
                answer = self.handler.next_invocation()
                if isinstance(answer, ApiResponse):
                    self._answer(answer)
                    continue
                self.waiting = answer
                answer.add_done_callback(self._answered)
                return
            self._reply(_route_now(self.handler, method, target, headers, body))

    def _answered(self, task: asyncio.Future[ApiResponse]) -> None:
        self.waiting = None
        if task.cancelled() or self.transport is None:
            return
        error = task.exception()
        if error is not None:
            self.transport.close()
            return
        self._answer(task.result())
        self._serve()
        self._close_if_done()

    def _answer(self, response: ApiResponse) -> None:
        if self.transport is not None and not self.transport.is_closing():
            data = _encode(response)
            if self.held:
                data, self.held = self.held + data, b""
            self.transport.write(data)

    def _take_request(self) -> Request | None:
        """The next whole request out of the buffer, or None until more arrives."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEADER:
                raise RequestError("header too large")
            return None
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
        except ValueError:
            raise RequestError("bad request line") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        start = end + 4
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if chunked and method == "POST" and headers.get(STREAMING_MODE, "").lower() == "streaming":
            del self.buffer[:start]
            self.streamed = _open_stream(self.handler, target, headers)
            return STREAMING
        if chunked:
            taken = _chunked(self.buffer, start)
            if taken is None:
                return None
            body, consumed = taken
            del self.buffer[:consumed]
            return method, target, headers, body
        length = int(headers.get("content-length") or 0)
        if length < 0:
            raise RequestError("bad length")
        if length > MAX_RESPONSE + 1:
            # Dropped as it arrives: the runtime gets 413 and the invocation fails as too large.
            headers["x-freehold-too-large"] = "1"
            available = len(self.buffer) - start
            if available >= length:
                del self.buffer[:start + length]
                return method, target, headers, b""
            del self.buffer[:]
            self.discard = length - available
            self.discarded = (method, target, headers)
            return None
        if len(self.buffer) - start < length:
            return None
        body = bytes(self.buffer[start:start + length])
        del self.buffer[:start + length]
        return method, target, headers, body


def _chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body starting at `start`: (body, bytes consumed in all) or None if incomplete."""
    body = bytearray()
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0].strip() or b"0", 16)
        if size < 0:
            raise RequestError("bad chunk size")
        position = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n", position)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 2
        if len(body) + size > MAX_RESPONSE + 1:
            raise RequestError("too large")
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position:position + size]
        position += size + 2


def _open_stream(handler: RuntimeApiHandler, target: str, headers: dict[str, str]) -> StreamedBody:
    """A streamed POST begins: to its invocation when it is one's response, else read and
    dropped, and answered as the endpoint answers (not found, invalid request id)."""
    parts = target.split("?", 1)[0].removeprefix(PREFIX).split("/")
    decoder = ChunkedDecoder()
    if not target.startswith(PREFIX) or len(parts) != 3 or parts[0] != "invocation" or parts[2] != "response":
        return StreamedBody(decoder, None, NOT_FOUND)
    opened = handler.stream_response(parts[1], headers.get("content-type", "application/octet-stream"))
    if isinstance(opened, ApiResponse):
        return StreamedBody(decoder, None, opened)
    return StreamedBody(decoder, opened)


def _route_now(handler: RuntimeApiHandler, method: str, target: str, headers: dict[str, str],
               body: bytes) -> ApiResponse:
    """Every endpoint but /next (answered later, see RuntimeApiProtocol)."""
    path = target.split("?", 1)[0]
    if not path.startswith(PREFIX):
        return NOT_FOUND
    rest = path[len(PREFIX):]
    error_type = headers.get("lambda-runtime-function-error-type", "")
    if rest == "init/error" and method == "POST":
        return handler.init_error(body, error_type)
    parts = rest.split("/")
    if len(parts) == 3 and parts[0] == "invocation" and method == "POST":
        if parts[2] == "response":
            if headers.get("x-freehold-too-large"):
                handler.invocation_error(parts[1], TOO_LARGE, "Function.ResponseSizeTooLarge")
                return TOO_LARGE_ANSWER
            return handler.invocation_response(parts[1], body)
        if parts[2] == "error":
            return handler.invocation_error(parts[1], body, error_type)
    return NOT_FOUND


async def listen(handler: RuntimeApiHandler, host: str = "127.0.0.1", port: int = 0,
                 allowed_uid: int | None = None) -> asyncio.base_events.Server:
    """A Runtime API server for one sandbox (`handler`), on the running loop."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: RuntimeApiProtocol(handler, allowed_uid), host, port)
    return server


def _encode(response: ApiResponse, close: bool = False) -> bytes:
    head = [f"HTTP/1.1 {response.status} {'OK' if response.status < 300 else 'Error'}",
            f"Content-Length: {len(response.body)}"]
    head += [f"{key}: {value}" for key, value in response.headers.items()]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body
