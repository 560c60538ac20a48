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
from bench.load import LoadOptions, Operation, drive
from bench.measure import Metric
from bench.workloads.base import EndpointWorkload, Measured, Options, Target
from bench.workloads.lambda_invoke import HELLO, WrongAnswer, _create, _invoke, _role

FUNCTION = "bench-http-echo"
THROUGHPUT_CLIENTS = 4  # at least this many client processes for invokes/s


class RawInvoker:
    """Invoke over one kept-alive HTTP/1.1 connection, parsing just what is needed."""

    def __init__(self, endpoint: str, name: str) -> None:
        parts = urlsplit(endpoint)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.path = f"/2015-03-31/functions/{name}/invocations".encode()
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def invoke(self, payload: bytes) -> tuple[int, bytes]:
        sock = self.sock or self._connect()
        try:
            sock.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                         % (self.path, self.address[0].encode(), len(payload)) + payload)
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


def raw_invoke_op(endpoint: str, index: int) -> Operation:
    invoker = RawInvoker(endpoint, FUNCTION)
    counter = iter(range(10**9))

    def invoke() -> None:
        n = next(counter)
        status, body = invoker.invoke(b'{"n": %d}' % n)
        if status != 200 or json.loads(body) != {"hello": n}:
            raise WrongAnswer(f"invoke answered {status}: {body[:200]!r}")

    return invoke


def measure_lambda_http(endpoint: str, options: Options) -> Measured:
    lam = client("lambda", endpoint)
    _create(lam, FUNCTION, _role(endpoint), HELLO)
    _invoke(lam, FUNCTION, 0)
    single = drive(raw_invoke_op, endpoint, LoadOptions(clients=1, duration=options.duration, warmup=options.warmup))
    clients = max(THROUGHPUT_CLIENTS, options.clients)
    many = drive(raw_invoke_op, endpoint, LoadOptions(clients=clients, duration=options.duration,
                                                      warmup=options.warmup))
    by_name = {m.name: m for m in single.metrics}
    metrics = [
        Metric("warm e2e over HTTP p50", by_name["p50 latency"].value, "ms", "lower"),
        Metric("warm e2e over HTTP p99", by_name["p99 latency"].value, "ms", "lower"),
    ]
    metrics += [Metric(f"{clients} clients {m.name}", m.value, m.unit, m.better) for m in many.metrics]
    notes = [*single.notes, *many.notes,
             f"raw HTTP/1.1 Invoke, one kept-alive socket per client process; latency with 1 client, "
             f"throughput with {clients}"]
    return Measured(metrics, notes, calls=single.calls + many.calls + 1)


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
