"""s3: PutObject/GetObject of 1 KiB objects (ops/s from N boto3 clients), 256 MiB objects
(MB/s of one streamed transfer), and the server's memory while 1 GiB moves through it.

Large transfers go through presigned URLs with a plain HTTP client that streams from and into
one reused buffer, so the client does no hashing and holds no copy: what is measured is the
server's rate, the same way for every peer. While 4 x 256 MiB go in and come back out, the
server tree's RSS is sampled every 50 ms; flat means it does not grow with the bytes moved.
"""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from urllib.parse import urlsplit

from bench.clients import client
from bench.load import LoadOptions, Operation, drive
from bench.measure import Metric
from bench.peers import Peer
from bench.procfs import tree_cpu_seconds, tree_rss_bytes
from bench.server import start
from bench.wire import WireClient
from bench.workloads.base import LifecycleWorkload, Measured, Options, Target

SMALL = b"x" * 1024
LARGE_MIB = 256
CHUNK = 1024 * 1024
MOVES = 4  # 4 x 256 MiB in and out: 1 GiB each way
MB = 1_000_000


class WrongAnswer(Exception):
    """The server answered 200 but not with what the operation must return."""


def put_small_op(endpoint: str, index: int) -> Operation:
    s3 = client("s3", endpoint)
    bucket = f"bench-put-{index}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    counter = iter(range(10**9))

    def put_object() -> None:
        s3.put_object(Bucket=bucket, Key=f"k{next(counter) % 1000}", Body=SMALL)

    return put_object


def get_small_op(endpoint: str, index: int) -> Operation:
    s3 = client("s3", endpoint)
    bucket = f"bench-get-{index}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="small", Body=SMALL)

    def get_object() -> None:
        body = s3.get_object(Bucket=bucket, Key="small")["Body"].read()
        if len(body) != len(SMALL):
            raise WrongAnswer(f"GetObject returned {len(body)} bytes instead of {len(SMALL)}")

    return get_object


# The same two loads from light clients (bench/wire.py): S3 SigV4 (payload hash signed) over one
# keep-alive connection, path-style, without boto3's call machinery.
def wire_put_small_op(endpoint: str, index: int) -> Operation:
    bucket = f"bench-wput-{index}-{uuid.uuid4().hex[:8]}"
    client("s3", endpoint).create_bucket(Bucket=bucket)
    s3 = WireClient("s3", endpoint)
    counter = iter(range(10**9))

    def put_object() -> None:
        s3.rest("PUT", f"/{bucket}/k{next(counter) % 1000}", SMALL)

    return put_object


def wire_get_small_op(endpoint: str, index: int) -> Operation:
    bucket = f"bench-wget-{index}-{uuid.uuid4().hex[:8]}"
    setup = client("s3", endpoint)
    setup.create_bucket(Bucket=bucket)
    setup.put_object(Bucket=bucket, Key="small", Body=SMALL)
    s3 = WireClient("s3", endpoint)

    def get_object() -> None:
        body = s3.rest("GET", f"/{bucket}/small")
        if len(body) != len(SMALL):
            raise WrongAnswer(f"GetObject returned {len(body)} bytes instead of {len(SMALL)}")

    return get_object


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300)
    return connection, f"{parts.path}?{parts.query}"


def put_large(url: str, size: int) -> float:
    """Stream `size` bytes to a presigned PUT URL; seconds taken."""
    buffer = memoryview(bytes(CHUNK))
    connection, target = _connection(url)
    began = time.perf_counter()
    try:
        connection.putrequest("PUT", target, skip_accept_encoding=True)
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        sent = 0
        while sent < size:
            piece = buffer[: min(CHUNK, size - sent)]
            connection.send(piece)
            sent += len(piece)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise WrongAnswer(f"PUT of {size} bytes answered {response.status}: {answer[:200]!r}")
    finally:
        connection.close()
    return time.perf_counter() - began


def get_large(url: str, size: int) -> float:
    """Read a presigned GET URL into one reused buffer; seconds taken."""
    buffer = bytearray(CHUNK)
    connection, target = _connection(url)
    began = time.perf_counter()
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        if response.status != 200:
            raise WrongAnswer(f"GET answered {response.status}: {response.read()[:200]!r}")
        received = 0
        while True:
            count = response.readinto(buffer)
            if not count:
                break
            received += count
        if received != size:
            raise WrongAnswer(f"GET returned {received} bytes instead of {size}")
    finally:
        connection.close()
    return time.perf_counter() - began


class RssSampler:
    """The server tree's RSS every 50 ms, in a thread, until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(tree_rss_bytes(self.pid))
            except OSError:
                return
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def measure_s3(peer: Peer, options: Options) -> Measured:
    load = LoadOptions(clients=options.clients, duration=options.duration, warmup=options.warmup)
    notes: list[str] = []
    with start(peer, timeout=options.start_timeout, label="s3") as server:
        endpoint = server.endpoint
        cpu_start = tree_cpu_seconds(server.pid)
        puts = drive(put_small_op, endpoint, load)
        cpu_puts = tree_cpu_seconds(server.pid)
        gets = drive(get_small_op, endpoint, load)
        cpu_gets = tree_cpu_seconds(server.pid)
        wire_puts = drive(wire_put_small_op, endpoint, load)
        wire_gets = drive(wire_get_small_op, endpoint, load)
        notes += [f"PutObject 1 KiB: {puts.notes[0]}", f"GetObject 1 KiB: {gets.notes[0]}"]
        notes += [f"PutObject 1 KiB (wire clients): {wire_puts.notes[0]}",
                  f"GetObject 1 KiB (wire clients): {wire_gets.notes[0]}"]
        notes += [f"PutObject 1 KiB: {n}" for n in puts.notes[1:]] + [f"GetObject 1 KiB: {n}" for n in gets.notes[1:]]
        s3 = client("s3", endpoint)
        bucket = f"bench-large-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        size = LARGE_MIB * 1024 * 1024
        baseline = tree_rss_bytes(server.pid)
        put_seconds: list[float] = []
        get_seconds: list[float] = []
        with RssSampler(server.pid) as sampler:
            cpu_before_puts = tree_cpu_seconds(server.pid)
            for number in range(MOVES):
                key = f"large-{number}"
                put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900)
                put_seconds.append(put_large(put_url, size))
            cpu_before_gets = tree_cpu_seconds(server.pid)
            for number in range(MOVES):
                get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": f"large-{number}"},
                                                    ExpiresIn=900)
                get_seconds.append(get_large(get_url, size))
            cpu_after_gets = tree_cpu_seconds(server.pid)
        peak = max(sampler.samples or [baseline])
    throughput = {name: metric for name, metric in (
        ("PutObject 1 KiB", puts.metrics[0]), ("GetObject 1 KiB", gets.metrics[0]),
        ("PutObject 1 KiB (wire clients)", wire_puts.metrics[0]), ("GetObject 1 KiB (wire clients)", wire_gets.metrics[0]))}
    metrics = [Metric(name, metric.value, "ops/s", "higher") for name, metric in throughput.items()]
    # The server's own CPU per call (setup calls included): what the clients sharing the cores
    # cannot distort, as the runner reports for endpoint workloads.
    metrics += [
        Metric("server CPU per PutObject 1 KiB", (cpu_puts - cpu_start) * 1000 / max(1, puts.calls), "ms", "lower"),
        Metric("server CPU per GetObject 1 KiB", (cpu_gets - cpu_puts) * 1000 / max(1, gets.calls), "ms", "lower"),
        Metric("PutObject 256 MiB", size / min(put_seconds) / MB, "MB/s", "higher"),
        Metric("GetObject 256 MiB", size / min(get_seconds) / MB, "MB/s", "higher"),
        # What the transfers cost the server, which other load on the machine cannot distort.
        Metric("server CPU per MiB put", (cpu_before_gets - cpu_before_puts) * 1000 / (MOVES * LARGE_MIB), "ms",
               "lower"),
        Metric("server CPU per MiB got", (cpu_after_gets - cpu_before_gets) * 1000 / (MOVES * LARGE_MIB), "ms",
               "lower"),
        Metric("peak RSS moving 1 GiB", peak / (1024 * 1024), "MiB", "lower"),
        Metric("RSS growth moving 1 GiB", max(0, peak - baseline) / (1024 * 1024), "MiB", "lower"),
    ]
    notes.append(f"256 MiB transfers: best of {MOVES} each way, streamed through presigned URLs; "
                 f"RSS before {baseline / 1048576:.0f} MiB, {len(sampler.samples)} samples")
    return Measured(metrics, notes, calls=puts.calls + gets.calls + wire_puts.calls + wire_gets.calls + 2 * MOVES)


WORKLOAD = LifecycleWorkload(
    name="s3",
    title="S3 objects: small ops, large transfers, memory",
    method=(
        "1 KiB PutObject and GetObject from N boto3 client processes (closed loop, as the sts "
        "workload), and again from light clients ('wire clients': botocore's S3 SigV4 signer over one "
        "keep-alive connection, no boto3 call machinery: bench/wire.py); then 4 x 256 MiB PUT and GET through presigned URLs with a plain streaming HTTP "
        "client (no client hashing), best transfer reported in MB/s; the server tree's RSS sampled "
        "every 50 ms during that 1 GiB each way."
    ),
    run=measure_s3,
    targets=(Target("PutObject 256 MiB", 500.0), Target("GetObject 256 MiB", 500.0)),
)
