"""Lambda's part of freehold's own endpoints: the code download URL GetFunction hands out
(/_freehold/lambda/code/<blob key>.zip), and the execution rungs /_freehold/health reports."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from freehold.protocol.http import HttpRequest, HttpResponse
from freehold.state.blobs import BlobNotFound

if TYPE_CHECKING:
    from freehold.gateway.node import Node

CODE_PATH = re.compile(r"^lambda/code/(?P<key>[0-9a-f]{32})\.zip$")


def handles(name: str) -> bool:
    return name.startswith("lambda/")


def serve(node: Node, request: HttpRequest, name: str) -> HttpResponse:
    match = CODE_PATH.match(name)
    if match is None or request.method not in ("GET", "HEAD"):
        return HttpResponse(status=404, body=b"Not Found")
    blobs = node.services.runtime.blobs
    key = match.group("key")
    try:
        size = blobs.size(key)
        chunks = blobs.read_range(key)
    except (BlobNotFound, FileNotFoundError, ValueError):
        return HttpResponse(status=404, body=b"Not Found")
    response = HttpResponse(status=200, body=_stream(chunks))
    response.headers.set("Content-Type", "application/zip")
    response.headers.set("Content-Length", str(size))
    return response


async def _stream(chunks: Any) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    iterator = iter(chunks)
    while True:
        chunk = await loop.run_in_executor(None, next, iterator, b"")
        if not chunk:
            return
        yield chunk


def health(node: Node) -> dict[str, Any]:
    """The execution rungs, without starting Lambda if no request needed it yet."""
    from freehold.runtime import isolation

    for provider in node.services.started():
        if provider.service == "lambda":
            return dict(getattr(provider, "execution_health")())
    return {"isolation": isolation.detect().report()}
