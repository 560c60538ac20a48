"""The Runtime API's streamed responses (Lambda-Runtime-Function-Response-Mode: streaming):
the incremental chunked decoder, chunks handed on as they arrive, trailers, refusals, the
size limit, pausing, and the ResponseStream that carries chunks to a caller."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable

from freehold.runtime import api_server
from freehold.runtime.api_server import ACCEPTED, ApiResponse, ChunkedDecoder, RequestError, json_response
from freehold.runtime.response_stream import HIGH_WATER, ResponseStream

STREAM_HEAD = (b"POST /2018-06-01/runtime/invocation/rid/response HTTP/1.1\r\nHost: x\r\n"
               b"Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: text/plain\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n")
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_decoder_takes_chunks_split_anywhere_and_the_trailers() -> None:
    error = base64.b64encode(b'{"errorType": "Boom"}').decode()
    raw = (chunk(b"hello ") + b"A;ext=1\r\n" + b"0123456789" + b"\r\n" + b"0\r\n"
           + f"Lambda-Runtime-Function-Error-Type: Boom\r\nLambda-Runtime-Function-Error-Body: {error}\r\n\r\n".encode()
           + b"GET /next")
    for step in (1, 2, 3, 7, len(raw)):
        decoder, buffer, data = ChunkedDecoder(), bytearray(), b""
        for start in range(0, len(raw), step):
            buffer += raw[start:start + step]
            data += b"".join(decoder.feed(buffer))
            if decoder.done:
                break
        assert decoder.done and data == b"hello 0123456789", step
        assert api_server.stream_error(decoder.trailers) == ("Boom", b'{"errorType": "Boom"}')
        remaining = raw[raw.index(b"GET"):]
        assert remaining.startswith(bytes(buffer))  # what follows the body stays
        assert step != len(raw) or buffer == b"GET /next"


def test_decoder_refuses_bad_framing() -> None:
    for bad in (b"zz\r\n", b"3\r\nabcXY", b"9" * (api_server.MAX_CHUNK_LINE + 10)):
        try:
            ChunkedDecoder().feed(bytearray(bad))
        except RequestError:
            continue
        raise AssertionError(bad)
    assert api_server.stream_error({}) == ("", b"")


class Target:
    def __init__(self, recorder: StreamRecorder, pause_at: int | None) -> None:
        self.recorder = recorder
        self.pause_at = pause_at
        self.size = 0

    def write(self, data: bytes, resume: Callable[[], None]) -> str:
        self.recorder.events.append(("chunk", data))
        self.size += len(data)
        if self.size > 64:
            return "too large"
        if self.pause_at is not None and self.size >= self.pause_at:
            self.pause_at = None
            self.recorder.paused += 1
            asyncio.get_running_loop().call_later(0.05, resume)
            return "pause"
        return "ok"

    def finish(self, error_type: str, error_body: bytes) -> ApiResponse:
        self.recorder.events.append(("finish", error_type.encode() + b"|" + error_body))
        return ACCEPTED


class StreamRecorder:
    def __init__(self, pause_at: int | None = None) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.paused = 0
        self.pause_at = pause_at

    def next_invocation(self) -> ApiResponse:
        self.events.append(("next", b""))
        return ApiResponse(200, b"{}", {"Lambda-Runtime-Aws-Request-Id": "rid"})

    def invocation_response(self, request_id: str, body: bytes) -> ApiResponse:
        self.events.append(("response", body))
        return ACCEPTED

    def invocation_error(self, request_id: str, body: bytes, error_type: str) -> ApiResponse:
        return ACCEPTED

    def init_error(self, body: bytes, error_type: str) -> ApiResponse:
        return ACCEPTED

    def stream_response(self, request_id: str, content_type: str) -> Target | ApiResponse:
        if request_id != "rid":
            return json_response(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
        self.events.append(("open", content_type.encode()))
        return Target(self, self.pause_at)


async def _stream(parts: list[bytes], recorder: StreamRecorder) -> tuple[bytes, list[int]]:
    """Send `parts` one by one; return the answers and how many events had arrived after each."""
    server = await api_server.listen(recorder, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seen: list[int] = []
    for part in parts:
        writer.write(part)
        await writer.drain()
        await asyncio.sleep(0.02)
        seen.append(len(recorder.events))
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    server.close()
    return data, seen


def test_chunks_are_handed_on_as_they_arrive_then_the_pipelined_next() -> None:
    recorder = StreamRecorder()
    parts = [STREAM_HEAD + b"5\r\nfir", b"st\r\n", chunk(b"second"), b"0\r\n\r\n" + NEXT]
    data, seen = asyncio.run(_stream(parts, recorder))
    assert recorder.events[0] == ("open", b"text/plain")
    chunks = b"".join(body for kind, body in recorder.events if kind == "chunk")
    assert chunks == b"firstsecond"
    assert seen[0] == 2 and seen[1] == 3 and seen[2] == 4  # each piece before the body ended
    assert recorder.events[-2:] == [("finish", b"|"), ("next", b"")]
    # The 202 of the stream went out together with the next invocation.
    assert data.startswith(b"HTTP/1.1 202") and b"Lambda-Runtime-Aws-Request-Id: rid" in data


def test_trailers_report_a_mid_stream_error() -> None:
    recorder = StreamRecorder()
    body = base64.b64encode(json.dumps({"errorType": "Boom", "errorMessage": "bad"}).encode()).decode()
    parts = [STREAM_HEAD + chunk(b"partial"),
             f"0\r\nLambda-Runtime-Function-Error-Type: Boom\r\nLambda-Runtime-Function-Error-Body: {body}\r\n\r\n".encode()]
    data, _ = asyncio.run(_stream(parts, recorder))
    assert data.startswith(b"HTTP/1.1 202")
    kind, finished = recorder.events[-1]
    assert kind == "finish" and finished.startswith(b"Boom|") and json.loads(finished[5:])["errorMessage"] == "bad"


def test_a_refused_stream_is_read_to_its_end_and_answered() -> None:
    recorder = StreamRecorder()
    head = STREAM_HEAD.replace(b"/rid/", b"/other/")
    data, _ = asyncio.run(_stream([head + chunk(b"x" * 10), b"0\r\n\r\n" + NEXT], recorder))
    assert data.startswith(b"HTTP/1.1 400") and b"InvalidRequestID" in data
    assert b"HTTP/1.1 200 OK" in data and ("next", b"") in recorder.events
    data, _ = asyncio.run(_stream([STREAM_HEAD.replace(b"invocation/rid/response", b"nope") + b"0\r\n\r\n"],
                                  StreamRecorder()))
    assert data.startswith(b"HTTP/1.1 404")


def test_too_large_stream_gets_413_and_the_rest_is_dropped() -> None:
    recorder = StreamRecorder()
    data, _ = asyncio.run(_stream([STREAM_HEAD + chunk(b"y" * 40), chunk(b"z" * 40), chunk(b"w" * 40),
                                   b"0\r\n\r\n"], recorder))
    assert data.startswith(b"HTTP/1.1 413")
    assert [kind for kind, _ in recorder.events].count("chunk") == 2
    assert not any(kind == "finish" for kind, _ in recorder.events)


def test_a_slow_reader_pauses_the_socket_until_resumed() -> None:
    recorder = StreamRecorder(pause_at=3)
    data, _ = asyncio.run(_stream([STREAM_HEAD + chunk(b"abc"), chunk(b"def"), b"0\r\n\r\n"], recorder))
    assert recorder.paused == 1 and data.startswith(b"HTTP/1.1 202")
    assert b"".join(body for kind, body in recorder.events if kind == "chunk") == b"abcdef"


def test_response_stream_carries_chunks_across_loops_with_bounded_memory() -> None:
    async def main() -> None:
        stream = ResponseStream()
        resumed: list[bool] = []
        loop = asyncio.get_running_loop()

        def produce() -> None:  # another thread, as the executor's own loop would be
            stream.open("text/plain")
            assert stream.write(b"a" * 10, lambda: resumed.append(True))
            assert not stream.write(b"b" * HIGH_WATER, lambda: resumed.append(True))
            stream.end()

        await loop.run_in_executor(None, produce)
        await stream.started
        assert stream.opened and stream.content_type == "text/plain"
        got = [chunk async for chunk in stream.chunks()]
        assert got == [b"a" * 10, b"b" * HIGH_WATER] and resumed == [True]

    asyncio.run(main())
