"""The ASGI application: HTTP in, `HttpRequest` through the pipeline, `HttpResponse` out.

Kept framework-free on purpose: one callable, the lifespan protocol to open and close the
node, and nothing between uvicorn and the pipeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from freehold.gateway import function_urls, internal
from freehold.gateway.node import Node
from freehold.gateway.request_body import BodyStream, has_body, read_whole
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest, HttpResponse

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("freehold")

class App:
    """The ASGI callable serving one `Node`."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.node.open()
                except Exception as exc:  # reported to uvicorn, which exits
                    log.exception("freehold could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.node.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        pipeline = _pipeline()
        # ASGI gives header names lower-cased (the spec requires it of servers).
        headers = Headers.lowercase([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = HttpRequest(
            method=scope["method"],
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
        )
        url_id = function_urls.url_id_of(headers.get("host") or "")
        if url_id is not None:
            # A Lambda function URL: no API operation, served by the Lambda provider.
            request.stream = BodyStream(receive, has_body(headers))
            response = await function_urls.serve(self.node, url_id, request, scope.get("client"))
            await _send(send, response, head=request.method == "HEAD")
            return
        if internal.is_internal(request):
            try:
                request.body = await read_whole(BodyStream(receive))
            except ServiceError as error:
                response = HttpResponse(status=error.status or 400, body=error.message.encode())
            else:
                loop = asyncio.get_running_loop()
                response = await loop.run_in_executor(self.node.executor, internal.handle, self.node, request)
        else:
            # The pipeline reads the body once it knows the operation (whole, or streamed).
            body = BodyStream(receive, has_body(headers))
            request.stream = body
            response = await pipeline.handle(self.node, request)
            if not body.done:
                # Answered before the body was read (an error, or a 100-continue refused): close
                # the connection rather than read a possibly huge upload nobody needs.
                response.headers.set("Connection", "close")
        await _send(send, response, head=request.method == "HEAD")


def _pipeline() -> ModuleType:
    """The pipeline module, imported at the first request rather than at start-up (it loads
    the protocol layer); then kept, without the import machinery on every request."""
    global _pipeline_module
    if _pipeline_module is None:
        from freehold.gateway import pipeline

        _pipeline_module = pipeline
    return _pipeline_module


_pipeline_module: ModuleType | None = None


async def _send(send: Send, response: HttpResponse, head: bool) -> None:
    headers = response.headers
    body = response.body
    if isinstance(body, bytes):
        if "content-length" not in headers:
            headers.set("Content-Length", str(len(body)))
        await send({"type": "http.response.start", "status": response.status, "headers": _encode(headers)})
        await send({"type": "http.response.body", "body": b"" if head else body})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": _encode(headers)})
    if not head:
        async for chunk in body:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _encode(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers]
