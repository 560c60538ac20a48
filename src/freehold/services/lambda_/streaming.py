"""InvokeWithResponseStream: a function's response as an event stream
(application/vnd.amazon.eventstream) of PayloadChunk events as the function streams them,
then one InvokeComplete (ErrorCode/ErrorDetails when it failed, LogResult with LogType Tail).

A function that streams (awslambda.streamifyResponse, a custom runtime posting in streaming
mode) reaches the caller chunk by chunk; one that answers buffered (a plain handler) comes as
one PayloadChunk, as on AWS. Errors that keep the function from running (not found,
throttled, bad JSON, ...) are the API errors Invoke has, before any event; an error of the
function itself, even mid-stream, is in InvokeComplete, after the chunks already sent.

https://docs.aws.amazon.com/lambda/latest/api/API_InvokeWithResponseStream.html
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from freehold.gateway.context import RequestContext
from freehold.services.base import Params
from freehold.services.lambda_ import limits
from freehold.services.lambda_.invoke import InvokeOps, _read_payload

if TYPE_CHECKING:
    from freehold.runtime.response_stream import ResponseStream
    from freehold.runtime.seam import InvocationResult


def error_details(result: InvocationResult) -> tuple[str, str]:
    """(ErrorCode, ErrorDetails) of a failed invocation: the runtime's error type and message."""
    message = ""
    try:
        document = json.loads(result.payload)
        if isinstance(document, dict):
            message = str(document.get("errorMessage") or "")
            error_type = str(document.get("errorType") or "")
        else:
            error_type = ""
    except (ValueError, UnicodeDecodeError):
        error_type = ""
        message = result.payload.decode("utf-8", "replace")
    return result.error_type or error_type or "Unhandled", message


async def streamed_run(start: Any, sink: ResponseStream) -> asyncio.Future[InvocationResult]:
    """Start an invocation (`start`: its coroutine) whose response streams into `sink`, and
    wait until it streams or ends. Errors raised before the function runs (throttling) are
    raised here; the returned task gives the InvocationResult once it is over."""
    task: asyncio.Future[InvocationResult] = asyncio.ensure_future(start)
    task.add_done_callback(lambda _: sink.end())
    waited: list[asyncio.Future[Any]] = [task, sink.started]
    await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
    if task.done() and not sink.opened:
        task.result()  # raises what kept it from running
    return task


class StreamingInvokeOps(InvokeOps):
    async def invoke_with_response_stream(self, ctx: RequestContext, params: Params) -> Params:
        from freehold.runtime.response_stream import ResponseStream

        payload = await _read_payload(params.get("Payload"), False)
        params = {**params, "Payload": payload}
        loop = asyncio.get_running_loop()
        if self._executor is None:
            await loop.run_in_executor(None, self._zygotes)
            _ = self.executor
        prepared = await loop.run_in_executor(None, self._invoke_prepare, ctx, params)
        if isinstance(prepared, dict):  # DryRun
            return {"StatusCode": 204}
        version, invocation = prepared
        sink = ResponseStream(loop)
        task = await streamed_run(self.run_version_here(version, replace(invocation, stream=sink)), sink)
        return {"StatusCode": 200, "ExecutedVersion": version.version,
                "EventStream": _events(sink, task, params.get("LogType") == "Tail")}


async def _events(sink: ResponseStream, task: asyncio.Future[InvocationResult], tail: bool
                  ) -> AsyncIterator[dict[str, Any]]:
    try:
        async for chunk in sink.chunks():
            yield {"PayloadChunk": {"Payload": chunk}}
        result = await task
    finally:
        # The caller went away (or the stream is over): what still comes is dropped, and the
        # function runs to its end, as on AWS.
        sink.cancel()
    if not sink.opened and result.status == "ok" and result.payload:
        yield {"PayloadChunk": {"Payload": result.payload}}  # a buffered answer: one chunk
    complete: dict[str, Any] = {}
    if result.status == "error":
        complete["ErrorCode"], complete["ErrorDetails"] = error_details(result)
    if tail:
        complete["LogResult"] = base64.b64encode(result.log.encode()[-limits.TAIL_BYTES:]).decode()
    yield {"InvokeComplete": complete}
