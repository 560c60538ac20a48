"""A streamed function response on its way from a sandbox to its caller (Lambda response
streaming): the sandbox's Runtime API connection writes the chunks as they arrive, the caller
(InvokeWithResponseStream, a RESPONSE_STREAM function URL) reads them as they come.

The two ends may run on different event loops (the executor's own loop, or the gateway's):
everything the producer does is carried to the consumer's loop with call_soon_threadsafe,
which keeps the order of chunks. Memory is bounded: past HIGH_WATER bytes not yet read, a
write says so and the producer pauses reading its socket until `resume` is called back.

https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable

HIGH_WATER = 1024 * 1024  # bytes written but not read yet, beyond which the writer pauses
LOW_WATER = 256 * 1024  # ... and below which it is resumed


class ResponseStream:
    """One streamed response. Made by the consumer on its loop; written by the sandbox."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self.content_type: str | None = None
        self.opened = False  # the runtime started a streamed response
        self.ended = False  # no more chunks will come
        self.cancelled = False  # the consumer went away: writes are dropped
        # Set (on the consumer's loop) once the response started streaming or ended.
        self.started: asyncio.Future[None] = self.loop.create_future()
        self._chunks: deque[bytes] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._lock = threading.Lock()
        self._unread = 0
        self._resume: Callable[[], None] | None = None

    # -- the producer (the sandbox, on any loop or thread) ------------------------------------------
    def open(self, content_type: str) -> None:
        self._call(self._opened, content_type)

    def write(self, data: bytes, resume: Callable[[], None]) -> bool:
        """Queue a chunk. False when the reader is behind: the writer should pause until
        `resume` is called (from the consumer's loop)."""
        if not data or self.cancelled:
            return True
        with self._lock:
            self._unread += len(data)
            behind = self._unread > HIGH_WATER
            if behind:
                self._resume = resume
        self._call(self._push, data)
        return not behind

    def end(self) -> None:
        """No more chunks (idempotent; the consumer calls it too once the invocation is over)."""
        self._call(self._ended)

    # -- the consumer (on its loop) --------------------------------------------------------------------
    async def chunks(self) -> AsyncIterator[bytes]:
        """The chunks as they arrive, until the stream ends."""
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._read(len(chunk))
                yield chunk
            if self.ended:
                return
            self._wakeup = self.loop.create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None

    def cancel(self) -> None:
        """The reader is gone: drop what is queued and what comes, and unpause the writer."""
        self.cancelled = True
        self._chunks.clear()
        self._read(1 << 62)

    # -- on the consumer's loop ----------------------------------------------------------------------
    def _call(self, function: Callable[..., None], *args: object) -> None:
        try:
            here = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            here = False
        if here:
            function(*args)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(function, *args)

    def _opened(self, content_type: str) -> None:
        self.opened = True
        self.content_type = content_type
        if not self.started.done():
            self.started.set_result(None)

    def _push(self, data: bytes) -> None:
        if self.cancelled or self.ended:
            self._read(len(data))
            return
        self._chunks.append(data)
        self._wake()

    def _ended(self) -> None:
        self.ended = True
        if not self.started.done():
            self.started.set_result(None)
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _read(self, size: int) -> None:
        with self._lock:
            self._unread = max(0, self._unread - size)
            resume = self._resume if self._unread <= LOW_WATER else None
            if resume is not None:
                self._resume = None
        if resume is not None:
            resume()
