"""lambda-url: warm requests to a Lambda function URL over plain HTTP, with a light client.

A function gets a URL (AuthType NONE, with the public InvokeFunctionUrl and InvokeFunction
statements AWS requires);
the requests are raw HTTP/1.1 POSTs to the URL's host on one kept-alive socket per client
process (sent to the server's address with the URL's Host header, so no DNS is involved).
The function answers from the payload 2.0 event's body, so a wrong event fails the run.
Latency with one client (nothing queues); throughput with several.

moto_server cannot run functions without Docker: its requests fail and it is reported as such.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

from bench.clients import client
from bench.load import LoadOptions, Operation, drive
from bench.measure import Metric
from bench.workloads.base import EndpointWorkload, Measured, Options, Target
from bench.workloads.lambda_invoke import WrongAnswer, _create, _role

FUNCTION = "bench-url-echo"
THROUGHPUT_CLIENTS = 4
SOURCE = "import json\n\ndef handler(event, context):\n    return {'hello': json.loads(event['body'])['n']}\n"
_urls: dict[str, str] = {}


class UrlClient:
    """POSTs to one function URL over a kept-alive HTTP/1.1 connection."""

    def __init__(self, endpoint: str, url: str) -> None:
        server = urlsplit(endpoint)
        self.address = (server.hostname or "127.0.0.1", server.port or 80)
        self.host = urlsplit(url).netloc.encode()
        self.sock: socket.socket | None = None
        self.buffer = b""

    def post(self, payload: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        sock = self.sock
        try:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                         % (self.host, len(payload)) + payload)
            while b"\r\n\r\n" not in self.buffer:
                self._fill(sock)
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                           if line.lower().startswith(b"content-length:")), 0)
            while len(self.buffer) < length:
                self._fill(sock)
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            return int(lines[0].split(b" ", 2)[1]), body
        except (OSError, ValueError, IndexError):
            sock.close()
            self.sock = None
            raise

    def _fill(self, sock: socket.socket) -> None:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk


def url_op(endpoint: str, index: int) -> Operation:
    url = _urls.get(endpoint) or str(client("lambda", endpoint).get_function_url_config(
        FunctionName=FUNCTION)["FunctionUrl"])
    poster = UrlClient(endpoint, url)
    counter = iter(range(10**9))

    def post() -> None:
        n = next(counter)
        status, body = poster.post(b'{"n": %d}' % n)
        if status != 200 or json.loads(body) != {"hello": n}:
            raise WrongAnswer(f"function URL answered {status}: {body[:200]!r}")

    return post


def measure_lambda_url(endpoint: str, options: Options) -> Measured:
    lam = client("lambda", endpoint)
    _create(lam, FUNCTION, _role(endpoint), SOURCE)
    url = str(lam.create_function_url_config(FunctionName=FUNCTION, AuthType="NONE")["FunctionUrl"])
    # The two statements AWS requires of function URLs made since October 2025.
    lam.add_permission(FunctionName=FUNCTION, StatementId=f"url-{int(time.time())}", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName=FUNCTION, StatementId=f"invoke-{int(time.time())}", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    _urls[endpoint] = url
    url_op(endpoint, 0)()  # the first request starts the sandbox
    single = drive(url_op, endpoint, LoadOptions(clients=1, duration=options.duration, warmup=options.warmup))
    clients = max(THROUGHPUT_CLIENTS, options.clients)
    many = drive(url_op, endpoint, LoadOptions(clients=clients, duration=options.duration, warmup=options.warmup))
    by_name = {m.name: m for m in single.metrics}
    metrics = [
        Metric("warm function URL p50", by_name["p50 latency"].value, "ms", "lower"),
        Metric("warm function URL p99", by_name["p99 latency"].value, "ms", "lower"),
    ]
    metrics += [Metric(f"{clients} clients {m.name}", m.value, m.unit, m.better) for m in many.metrics]
    notes = [*single.notes, *many.notes, f"function URL {url}; raw HTTP/1.1, one kept-alive socket per client "
             f"process; latency with 1 client, throughput with {clients}"]
    return Measured(metrics, notes, calls=single.calls + many.calls + 1)


WORKLOAD = EndpointWorkload(
    name="lambda-url",
    title="Lambda function URL requests over plain HTTP",
    method=(
        "A python3.11 function with a function URL (AuthType NONE) answers raw HTTP/1.1 POSTs to the URL's host "
        "on kept-alive sockets, from the payload 2.0 event's body: p50/p99 with one client, then requests/s with "
        f"{THROUGHPUT_CLIENTS} (or --clients, if more) client processes."
    ),
    run=measure_lambda_url,
    targets=(Target("warm function URL p50", 1.0),),
)
