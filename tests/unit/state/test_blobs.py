"""The blob store: atomic streamed writes, digests, ranges, bounded memory, crash safety."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freehold.state.blobs import ASYNC_BATCH_SIZE, BlobNotFound, BlobStore

MiB = 1024 * 1024


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", fsync=False)


def test_write_returns_key_size_and_digests(store: BlobStore) -> None:
    chunks = [b"hello ", b"", bytearray(b"blob "), memoryview(b"world")]
    info = store.write(chunks)  # type: ignore[arg-type]
    body = b"hello blob world"
    assert info.size == len(body)
    assert info.md5 == hashlib.md5(body).hexdigest()
    assert info.sha256 == hashlib.sha256(body).hexdigest()
    with store.open(info.key) as file:
        assert file.read() == body
    assert store.exists(info.key) and store.size(info.key) == len(body)


def test_keys_are_unique_content_independent_and_sharded(store: BlobStore) -> None:
    first, second = store.write([b"same"]), store.write([b"same"])
    assert first.key != second.key and first.md5 == second.md5
    path = store.path(first.key)
    assert path.relative_to(store.root).parts == (first.key[:2], first.key[2:4], first.key)
    assert sorted(store.iter_keys()) == sorted([first.key, second.key])


def test_empty_blob(store: BlobStore) -> None:
    info = store.write([])
    assert info.size == 0 and info.md5 == hashlib.md5(b"").hexdigest()
    assert b"".join(store.read_range(info.key)) == b""


def test_delete_is_idempotent(store: BlobStore) -> None:
    info = store.write([b"x"])
    store.delete(info.key)
    store.delete(info.key)
    assert not store.exists(info.key)
    with pytest.raises(BlobNotFound):
        store.open(info.key)
    with pytest.raises(BlobNotFound):
        store.read_range(info.key, 0, 1)
    with pytest.raises(BlobNotFound):
        store.size(info.key)


@pytest.mark.parametrize("key", ["../../etc/passwd", "ABCDEF", "", "0" * 31, "0" * 32 + "/x"])
def test_malformed_keys_never_touch_other_paths(store: BlobStore, key: str) -> None:
    assert not store.exists(key)
    store.delete(key)
    with pytest.raises(BlobNotFound):
        store.open(key)
    with pytest.raises(ValueError):
        store.path(key)


def test_failed_write_leaves_nothing(store: BlobStore) -> None:
    def body() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.write(body())
    assert list(store.iter_keys()) == []
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


def test_reset_removes_everything(store: BlobStore) -> None:
    keys = [store.write([bytes([n]) * 10]).key for n in range(5)]
    store.reset()
    assert list(store.iter_keys()) == []
    assert not any(store.exists(key) for key in keys)
    assert store.write([b"after reset"]).size == 11  # still usable


BODY = bytes(range(256)) * 40 + b"tail"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, BODY),
        (0, 1, BODY[:1]),
        (100, 200, BODY[100:200]),
        (len(BODY) - 4, None, b"tail"),
        (len(BODY) - 2, len(BODY) + 100, b"il"),  # end past the size: to the end
        (len(BODY) + 5, None, b""),  # start past the size: nothing
        (7, 7, b""),
    ],
)
def test_read_range(store: BlobStore, start: int, end: int | None, expected: bytes) -> None:
    key = store.write([BODY]).key
    assert b"".join(store.read_range(key, start, end, chunk_size=1000)) == expected


def test_read_range_rejects_inverted_ranges(store: BlobStore) -> None:
    key = store.write([BODY]).key
    with pytest.raises(ValueError):
        store.read_range(key, 10, 5)
    with pytest.raises(ValueError):
        store.read_range(key, -1, 5)


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(max_size=5000),
    start=st.integers(0, 6000),
    length=st.integers(0, 6000),
    chunk=st.integers(1, 700),
)
def test_read_range_matches_slicing(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, start: int, length: int, chunk: int
) -> None:
    store = BlobStore(tmp_path_factory.mktemp("ranges"), fsync=False)
    key = store.write([data[i : i + 333] for i in range(0, len(data), 333)]).key
    chunks = list(store.read_range(key, start, start + length, chunk_size=chunk))
    assert b"".join(chunks) == data[start : start + length]
    assert all(0 < len(c) <= chunk for c in chunks)


def test_fsync_mode_flushes_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    info = BlobStore(tmp_path / "durable", fsync=True).write([b"data"])
    final = BlobStore(tmp_path / "durable").path(info.key)
    # New shard directories are made durable in their parents first; then the temp file
    # before the rename, then the directory holding the renamed blob.
    temp_index = next(i for i, p in enumerate(synced) if Path(p).name.startswith(".tmp-"))
    assert Path(synced[temp_index]).parent == final.parent
    assert synced[temp_index + 1:] == [str(final.parent)]
    assert set(synced[:temp_index]) <= {str(p) for p in (tmp_path, tmp_path / "durable", *final.parents)}
    assert str(final.parent.parent) in synced[:temp_index]  # the new shard's entry
    synced.clear()
    BlobStore(tmp_path / "durable", fsync=True).write([b"more"])  # existing shards: file + dir only
    assert len(synced) in (2, 4)
    synced.clear()
    BlobStore(tmp_path / "fast", fsync=False).write([b"data"])
    assert synced == []


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    chunk = b"\xab" * size  # the same object every time: the source itself allocates nothing
    for _ in range(total // size):
        yield chunk


def test_streaming_write_and_read_use_bounded_memory(store: BlobStore) -> None:
    total = 48 * MiB
    tracemalloc.start()
    try:
        info = store.write(_chunks(total))
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read = sum(len(chunk) for chunk in store.read_range(info.key, 0, None))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == total and read == total
    assert write_peak < 2 * MiB, write_peak
    assert read_peak < 2 * MiB, read_peak


def test_write_async_streams_with_bounded_memory(store: BlobStore) -> None:
    total = 24 * MiB

    async def body() -> AsyncIterator[bytes]:
        for chunk in _chunks(total):
            yield chunk

    tracemalloc.start()
    try:
        info = asyncio.run(store.write_async(body()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == total
    assert info.sha256 == hashlib.sha256(b"\xab" * total).hexdigest()
    assert peak < ASYNC_BATCH_SIZE + 2 * MiB, peak


def test_write_async_failure_leaves_nothing(store: BlobStore) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"x" * ASYNC_BATCH_SIZE  # one batch reaches the disk first
        yield b"y"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        asyncio.run(store.write_async(body()))
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


def test_write_async_cancelled_leaves_nothing(store: BlobStore) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"z" * 65536
            await asyncio.sleep(0)

    async def run() -> None:
        task = asyncio.create_task(store.write_async(endless()))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


# A child that streams a blob forever (bounded: 60 s) and says when it is half-way.
CRASHING_WRITER = r"""
import sys, time
from pathlib import Path
from freehold.state.blobs import BlobStore

def body():
    deadline = time.monotonic() + 60
    for n in range(100000):
        if n == 16:
            print("writing", flush=True)
        if time.monotonic() > deadline:
            return
        yield b"c" * 65536
        if n >= 16:
            time.sleep(0.01)

BlobStore(Path(sys.argv[1]), fsync=sys.argv[2] == "fsync").write(body())
print("finished", flush=True)
"""


@pytest.mark.parametrize("durability", ["process", "fsync"])
def test_crash_mid_write_leaves_no_visible_blob(tmp_path: Path, durability: str) -> None:
    root = tmp_path / "blobs"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(root), durability], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing"
        time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    store = BlobStore(root, fsync=False)
    assert list(store.iter_keys()) == []  # no blob, partial or otherwise, is visible
    leftovers = [p for p in root.rglob("*") if p.is_file()]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".tmp-")
    assert store.remove_stale_temp_files(older_than_seconds=3600) == 0  # too young to judge
    assert store.remove_stale_temp_files(older_than_seconds=0) == 1
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_sha256_only_when_asked_and_extra_digests_see_every_byte(store: BlobStore) -> None:
    class Crc:
        def __init__(self) -> None:
            self.value = 0

        def update(self, data: bytes | bytearray | memoryview) -> None:
            self.value = zlib.crc32(data, self.value)

    body = [os.urandom(700_000), b"", os.urandom(5), bytearray(os.urandom(300_000))]
    whole = b"".join(bytes(c) for c in body)
    crc = Crc()
    info = store.write(body, sha256=False, extra=[crc])  # type: ignore[arg-type]
    assert info.sha256 == "" and info.md5 == hashlib.md5(whole).hexdigest()
    assert crc.value == zlib.crc32(whole)
    assert b"".join(store.read_range(info.key)) == whole


@pytest.mark.parametrize("sizes", [[1], [65536] * 40, [3 * MiB + 7], [100, 300_000, 1, 2 * MiB, 17]])
def test_write_async_batches_keep_order_and_digests(store: BlobStore, sizes: list[int]) -> None:
    """Batches are hashed and written in parallel threads: the bytes and digests stay exact."""
    pieces = [os.urandom(size) for size in sizes]

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece
            await asyncio.sleep(0)

    crc_parts: list[int] = [0]

    class Crc:
        def update(self, data: bytes | bytearray | memoryview) -> None:
            crc_parts[0] = zlib.crc32(data, crc_parts[0])

    info = asyncio.run(store.write_async(body(), extra=[Crc()]))
    whole = b"".join(pieces)
    assert info.size == len(whole)
    assert info.md5 == hashlib.md5(whole).hexdigest() and info.sha256 == hashlib.sha256(whole).hexdigest()
    assert crc_parts[0] == zlib.crc32(whole)
    with store.open(info.key) as file:
        assert file.read() == whole


def test_partial_writes_are_completed(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.writev may write less than asked: the rest is written, in order."""
    real = os.writev

    def short_writev(fd: int, buffers: list[memoryview]) -> int:
        return real(fd, [memoryview(buffers[0])[: max(1, len(buffers[0]) // 3)]])

    monkeypatch.setattr(os, "writev", short_writev)
    pieces = [os.urandom(200_000), os.urandom(100_000), os.urandom(5)]
    info = store.write(pieces)
    with store.open(info.key) as file:
        assert file.read() == b"".join(pieces)
