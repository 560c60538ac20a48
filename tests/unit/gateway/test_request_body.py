"""Request bodies from the ASGI receive channel: read whole (capped) or streamed once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from freehold.gateway import request_body
from freehold.gateway.request_body import BodyStream, ClientDisconnected, has_body, read_whole
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers


def receiver(messages: list[dict[str, Any]]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def test_stream_yields_chunks_and_ends() -> None:
    async def run() -> list[bytes]:
        stream = BodyStream(receiver([
            {"type": "http.request", "body": b"ab", "more_body": True},
            {"type": "http.request", "body": b"", "more_body": True},
            {"type": "http.request", "body": b"cd", "more_body": False},
        ]))
        chunks = [chunk async for chunk in stream]
        assert stream.done and stream.received == 4
        return chunks

    assert asyncio.run(run()) == [b"ab", b"cd"]


def test_disconnect_is_an_incomplete_body() -> None:
    stream = BodyStream(receiver([{"type": "http.request", "body": b"ab", "more_body": True},
                                  {"type": "http.disconnect"}]))

    async def run() -> None:
        async for _ in stream:
            pass

    with pytest.raises(ClientDisconnected):
        asyncio.run(run())
    stream = BodyStream(receiver([{"type": "http.request", "body": b"ab", "more_body": True},
                                  {"type": "http.disconnect"}]))
    with pytest.raises(ServiceError) as excinfo:
        asyncio.run(read_whole(stream))
    assert excinfo.value.code == "IncompleteBody"


def test_read_whole_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    big = [{"type": "http.request", "body": b"x" * 10, "more_body": True} for _ in range(3)]
    with pytest.raises(ServiceError) as excinfo:
        asyncio.run(read_whole(BodyStream(receiver(big)), limit=25))
    assert (excinfo.value.code, excinfo.value.status) == ("RequestEntityTooLarge", 413)
    assert request_body.MAX_BODY_BYTES == 256 * 1024 * 1024


def test_has_body() -> None:
    assert not has_body(Headers())
    assert not has_body(Headers({"content-length": "0"}))
    assert has_body(Headers({"content-length": "12"}))
    assert has_body(Headers({"transfer-encoding": "chunked"}))
    stream = BodyStream(receiver([]), has_body=False)
    assert stream.done
    assert asyncio.run(read_whole(stream)) == b""
