"""lambda-http: warm Lambda invokes end to end over plain HTTP, with a light client.

The function is created with boto3; the invokes are raw HTTP/1.1 POSTs of the Invoke API
(`/2015-03-31/functions/<name>/invocations`) on one kept-alive socket per client process,
unsigned (freehold's default mode serves anonymous requests as the default account; MiniStack
ignores signatures), so the client's own cost is a few microseconds instead of boto3's ~1 ms
per call. Latency is measured with one client (nothing queues); throughput with several.

moto_server cannot run functions without Docker: its invokes fail and it is reported as such.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

from bench.clients import client
from bench.load import LoadOptions, Operation, OpFactory, drive
from bench.measure import Metric
from bench.workloads.base import EndpointWorkload, Measured, Options, Target
from bench.workloads.lambda_invoke import HELLO, WrongAnswer, _create, _invoke, _role

FUNCTION = "bench-http-echo"
THROUGHPUT_CLIENTS = 4  # at least this many client processes for invokes/s (and lambda-url's requests/s)


class KeptAliveHttp:
    """POSTs over one kept-alive HTTP/1.1 connection to a server, parsing just what is needed
    (status line and Content-Length). `host` is the Host header (the server's own by default)."""

    def __init__(self, endpoint: str, host: bytes | None = None) -> None:
        parts = urlsplit(endpoint)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.host = host or self.address[0].encode()
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def post(self, path: bytes, payload: bytes) -> tuple[int, bytes]:
        sock = self.sock or self._connect()
        try:
            sock.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                         % (path, self.host, len(payload)) + payload)
            while b"\r\n\r\n" not in self.buffer:
                self._fill(sock)
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length = 0
            for line in lines[1:]:
                key, _, value = line.partition(b":")
                if key.strip().lower() == b"content-length":
                    length = int(value)
            while len(self.buffer) < length:
                self._fill(sock)
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            return status, body
        except (OSError, ValueError, IndexError):
            sock.close()
            self.sock = None
            raise

    def _fill(self, sock: socket.socket) -> None:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk


def hello_post_op(http: KeptAliveHttp, path: bytes, what: str) -> Operation:
    """The operation both workloads repeat: POST {"n": n} and expect the function's {"hello": n}."""
    counter = iter(range(10**9))

    def post() -> None:
        n = next(counter)
        status, body = http.post(path, b'{"n": %d}' % n)
        if status != 200 or json.loads(body) != {"hello": n}:
            raise WrongAnswer(f"{what} answered {status}: {body[:200]!r}")

    return post


def measure_warm(factory: OpFactory, endpoint: str, options: Options, label: str, note: str) -> Measured:
    """p50/p99 of `label` with one client (nothing queues), then throughput with several."""
    single = drive(factory, endpoint, LoadOptions(clients=1, duration=options.duration, warmup=options.warmup))
    clients = max(THROUGHPUT_CLIENTS, options.clients)
    many = drive(factory, endpoint, LoadOptions(clients=clients, duration=options.duration, warmup=options.warmup))
    by_name = {m.name: m for m in single.metrics}
    metrics = [
        Metric(f"{label} p50", by_name["p50 latency"].value, "ms", "lower"),
        Metric(f"{label} p99", by_name["p99 latency"].value, "ms", "lower"),
    ]
    metrics += [Metric(f"{clients} clients {m.name}", m.value, m.unit, m.better) for m in many.metrics]
    notes = [*single.notes, *many.notes, f"{note}; latency with 1 client, throughput with {clients}"]
    return Measured(metrics, notes, calls=single.calls + many.calls + 1)


def raw_invoke_op(endpoint: str, index: int) -> Operation:
    return hello_post_op(KeptAliveHttp(endpoint), f"/2015-03-31/functions/{FUNCTION}/invocations".encode(), "invoke")


def measure_lambda_http(endpoint: str, options: Options) -> Measured:
    lam = client("lambda", endpoint)
    _create(lam, FUNCTION, _role(endpoint), HELLO)
    _invoke(lam, FUNCTION, 0)
    return measure_warm(raw_invoke_op, endpoint, options, "warm e2e over HTTP",
                        "raw HTTP/1.1 Invoke, one kept-alive socket per client process")


WORKLOAD = EndpointWorkload(
    name="lambda-http",
    title="Lambda warm invokes over plain HTTP",
    method=(
        "A python3.11 hello function is invoked warm with raw HTTP/1.1 POSTs of the Invoke API on kept-alive "
        "sockets (no SDK on the client side): p50/p99 end to end with one client, then invokes/s with "
        f"{THROUGHPUT_CLIENTS} (or --clients, if more) client processes."
    ),
    run=measure_lambda_http,
    targets=(Target("warm e2e over HTTP p50", 1.0), Target(f"{THROUGHPUT_CLIENTS} clients throughput", 3000.0)),
)
