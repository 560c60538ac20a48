"""The blob store: large bodies (objects, code packages) as files, written atomically, streamed.

    store = BlobStore(settings.data_dir / "blobs", fsync=settings.durability == "fsync")
    info = store.write(chunks)             # BlobInfo(key, size, md5, sha256)
    info = store.write(chunks, sha256=False, extra=[crc])   # sha256 '' ; crc fed every byte
    info = await store.write_async(achunks)
    with store.open(info.key) as f: ...    # a binary file
    for chunk in store.read_range(info.key, 100, 200): ...   # bytes [100, 200)
    store.delete(info.key); store.exists(info.key); store.reset()

Keys are random (uuid4 hex), independent of the content, and sharded into two levels of
subdirectories (ab/cd/abcd...) so no directory grows huge. A write goes to a temporary file
in the blob's own directory and is renamed into place only when complete, so a crash mid-write
never leaves a visible, partial blob; with fsync the file is flushed before the rename and
the directory after it, so a blob whose write returned survives power loss. Bodies are never
held whole in memory: writes hash and write batch by batch (the digests and the write of a
batch run in parallel threads), reads yield bounded chunks.

The SQL row that references a blob is the source of truth: a provider writes the blob first,
then commits the row; orphaned blobs (a crash between the two) can be found with iter_keys().
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from freehold.state.group_commit import fsync_directory

READ_CHUNK_SIZE = 256 * 1024
# write_async hands the disk this much at a time (one thread hop per batch, not per chunk) and
# reads up to ASYNC_READ_AHEAD bytes of the body ahead of the disk, so the network keeps
# flowing while the previous batch is hashed and written.
ASYNC_BATCH_SIZE = 1024 * 1024
ASYNC_READ_AHEAD = 4 * 1024 * 1024
# Batches at least this large are hashed and written in parallel (hashlib and os.writev release
# the GIL); smaller ones are not worth the thread hand-off.
PARALLEL_MIN = 256 * 1024
# os.writev takes at most IOV_MAX buffers per call (1024 on Linux).
_IOV_MAX = 1024
TEMP_PREFIX = ".tmp-"

_KEY = re.compile(r"^[0-9a-f]{32}$")

Buffer = bytes | bytearray | memoryview


class BlobNotFound(LookupError):
    """No blob has this key."""


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its key, size in bytes, and MD5 / SHA-256 hex digests of its content
    (sha256 is '' when the write was asked not to compute it)."""

    key: str
    size: int
    md5: str
    sha256: str


def _make_dirs(folder: Path, root: Path, fsync: bool) -> None:
    """mkdir -p; in fsync mode each new directory's entry is made durable in its parent, so a
    blob acknowledged in a new shard survives power loss."""
    if folder.is_dir():
        return
    missing = []
    current = folder
    while not current.is_dir() and current != root.parent:
        missing.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    if fsync:
        for made in reversed(missing):
            fsync_directory(made.parent)


class Digest(Protocol):
    """Anything fed the blob's bytes as they are written (hashlib objects, S3's CRCs)."""

    def update(self, data: Buffer, /) -> object: ...


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _helpers() -> ThreadPoolExecutor:
    """The threads that hash and write a batch beside the thread that handed it over."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="blob-io")
        return _pool


def _feed(digest: Digest, chunks: Sequence[Buffer]) -> None:
    for chunk in chunks:
        digest.update(chunk)


class _BlobWriter:
    """One blob being written: a temp file beside its final path, hashed as it grows.

    MD5 is always computed (S3's ETag); SHA-256 only when asked for (a signed payload hash to
    check); `extra` digests (an S3 checksum) ride along. Each batch of chunks is written with
    one writev while the digests run in other threads: hashlib releases the GIL on large
    buffers, so hashing and writing overlap instead of adding up."""

    def __init__(self, store: BlobStore, sha256: bool = True, extra: Sequence[Digest] = ()) -> None:
        self.key = uuid.uuid4().hex
        self.final = store.path(self.key)
        self._fsync = store.fsync
        _make_dirs(self.final.parent, store.root, self._fsync)
        self.temp = self.final.parent / f"{TEMP_PREFIX}{self.key}-{os.getpid()}"
        self._fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256() if sha256 else None
        self._digests: list[Digest] = [self._md5, *([self._sha256] if self._sha256 else []), *extra]
        self._size = 0
        # write_async may be cancelled while a worker thread is writing: abort() then waits
        # for that write, so the descriptor is never closed (and reused) under it.
        self._lock = threading.Lock()

    def write(self, chunk: Buffer) -> None:
        self.write_batch([chunk])

    def write_batch(self, chunks: Sequence[Buffer]) -> None:
        """Append `chunks`: written and hashed in parallel when the batch is large."""
        views = [v for v in (memoryview(c).cast("B") for c in chunks) if v.nbytes]
        if not views:
            return
        total = sum(v.nbytes for v in views)
        with self._lock:
            if self._fd < 0:
                raise ValueError("blob write already finished")
            if total < PARALLEL_MIN:
                for digest in self._digests:
                    _feed(digest, views)
                self._write_views(views)
            else:
                pool = _helpers()
                jobs = [pool.submit(_feed, digest, views) for digest in self._digests[1:]]
                jobs.append(pool.submit(self._write_views, views))
                try:
                    _feed(self._digests[0], views)
                finally:
                    for job in jobs:  # every job ends before the lock is let go
                        job.exception()
                for job in jobs:
                    job.result()
            self._size += total

    def _write_views(self, views: list[memoryview]) -> None:
        pending = views
        while pending:
            written = os.writev(self._fd, pending[:_IOV_MAX])
            while pending and written >= pending[0].nbytes:
                written -= pending[0].nbytes
                pending = pending[1:]
            if written:
                pending = [pending[0][written:], *pending[1:]]

    def commit(self) -> BlobInfo:
        with self._lock:
            try:
                if self._fsync:
                    os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1
        os.replace(self.temp, self.final)
        if self._fsync:
            fsync_directory(self.final.parent)
        sha256 = self._sha256.hexdigest() if self._sha256 is not None else ""
        return BlobInfo(self.key, self._size, self._md5.hexdigest(), sha256)

    def abort(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        self.temp.unlink(missing_ok=True)


class BlobStore:
    """Blobs as files under `root` (created if missing); see the module docstring."""

    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)

    # -- writing -------------------------------------------------------------------------------
    def write(self, chunks: Iterable[Buffer], *, sha256: bool = True, extra: Sequence[Digest] = ()) -> BlobInfo:
        """Store the concatenated chunks as a new blob, atomically; return its BlobInfo.
        `sha256=False` skips that digest (BlobInfo.sha256 is then ''); `extra` digests are fed
        every byte too."""
        writer = _BlobWriter(self, sha256, extra)
        try:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    async def write_async(
        self, chunks: AsyncIterable[bytes], *, sha256: bool = True, extra: Sequence[Digest] = ()
    ) -> BlobInfo:
        """Like write(), for an async body: disk I/O and hashing run in worker threads while
        a task of its own keeps reading the body, up to ASYNC_READ_AHEAD bytes ahead.

        At most about ASYNC_READ_AHEAD + ASYNC_BATCH_SIZE bytes (plus one chunk) are held.
        """
        writer = await asyncio.to_thread(_BlobWriter, self, sha256, extra)
        try:
            async for batch in _batches(chunks):
                await asyncio.to_thread(writer.write_batch, batch)
            return await asyncio.to_thread(writer.commit)
        except BaseException:
            writer.abort()
            raise

    # -- reading -------------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        """Where blob `key` lives (for sendfile or unpacking). ValueError if malformed."""
        if not _KEY.match(key):
            raise ValueError(f"malformed blob key {key!r}")
        return self.root / key[:2] / key[2:4] / key

    def exists(self, key: str) -> bool:
        try:
            return self.path(key).is_file()
        except ValueError:
            return False

    def size(self, key: str) -> int:
        """The size in bytes of blob `key`; BlobNotFound if absent."""
        try:
            return self.path(key).stat().st_size
        except (FileNotFoundError, ValueError) as error:
            raise BlobNotFound(key) from error

    def open(self, key: str) -> BinaryIO:
        """Blob `key` as a binary file opened for reading; BlobNotFound if absent."""
        try:
            return open(self.path(key), "rb")
        except (FileNotFoundError, ValueError) as error:
            raise BlobNotFound(key) from error

    def read_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = READ_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Bytes [start, end) of blob `key` (end None or past the size: to the end), in chunks.

        HTTP ranges are inclusive: `bytes=0-99` is read_range(key, 0, 100). BlobNotFound if
        the blob is absent (raised here, before iteration starts).
        """
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid range [{start}, {end})")
        file = self.open(key)
        return self._iter_range(file, start, end, chunk_size)

    @staticmethod
    def _iter_range(file: BinaryIO, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        with file:
            file.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                want = chunk_size if remaining is None else min(chunk_size, remaining)
                chunk = file.read(want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def iter_keys(self) -> Iterator[str]:
        """Every stored blob's key (not temporary files of writes in progress)."""
        for first in sorted(self.root.iterdir()):
            if not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for entry in sorted(second.iterdir()):
                    if _KEY.match(entry.name):
                        yield entry.name

    # -- removing ------------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        """Remove blob `key`; removing an absent blob is not an error."""
        try:
            self.path(key).unlink(missing_ok=True)
        except ValueError:
            return

    def remove_stale_temp_files(self, older_than_seconds: float = 3600.0) -> int:
        """Delete temp files left by writes that crashed; return how many were removed."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for temp in self.root.glob(f"*/*/{TEMP_PREFIX}*"):
            try:
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def reset(self) -> None:
        """Delete every blob (and leftover temp file)."""
        for entry in self.root.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


async def _batches(chunks: AsyncIterable[bytes]) -> AsyncIterator[list[bytes]]:
    """`chunks` grouped into lists of about ASYNC_BATCH_SIZE bytes (no copying), read by a task
    of its own ahead of the consumer by up to ASYNC_READ_AHEAD bytes."""
    queue: asyncio.Queue[list[bytes] | BaseException | None] = asyncio.Queue()
    room = asyncio.Semaphore(max(1, ASYNC_READ_AHEAD // ASYNC_BATCH_SIZE))

    async def produce() -> None:
        try:
            batch: list[bytes] = []
            batched = 0
            async for chunk in chunks:
                if not chunk:
                    continue
                batch.append(chunk)
                batched += len(chunk)
                if batched >= ASYNC_BATCH_SIZE:
                    await room.acquire()
                    queue.put_nowait(batch)
                    batch, batched = [], 0
            if batch:
                await room.acquire()
                queue.put_nowait(batch)
            queue.put_nowait(None)
        except BaseException as error:  # handed to the consumer, which raises it
            queue.put_nowait(error)

    task = asyncio.create_task(produce())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            room.release()
            yield item
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except BaseException:  # noqa: BLE001 - the consumer's own outcome is what matters
                pass
