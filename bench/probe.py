"""The one cheap request every server is polled with: STS GetCallerIdentity, SigV4-signed by botocore.

The request is built and signed once per port, before the server is spawned, so that what
the startup clock measures is the server and not the client. Every peer gets byte-for-byte
the same kind of request, sent over a fresh plain socket (http.client) each time.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# The access key local development sends; every peer accepts it (freehold treats an
# unknown key as the root of the account it names, moto and MiniStack ignore it).
ACCESS_KEY = "test"
SECRET_KEY = "test"
REGION = "us-east-1"
STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"


@dataclass(frozen=True)
class SignedRequest:
    host: str
    port: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def signed_get_caller_identity(host: str, port: int) -> SignedRequest:
    """A SigV4-signed STS GetCallerIdentity (query protocol) for http://host:port/."""
    request = AWSRequest(
        method="POST",
        url=f"http://{host}:{port}/",
        data=STS_BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "sts", REGION).add_auth(request)
    prepared = request.prepare()
    return SignedRequest(
        host=host,
        port=port,
        method="POST",
        path="/",
        headers={k: str(v) for k, v in prepared.headers.items()},
        body=STS_BODY.encode(),
    )


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return self.status == 200 and b"GetCallerIdentityResult" in self.body


@dataclass
class Readiness:
    """How polling ended: `ready_at` (a perf_counter time) or, if None, the last wrong answer."""

    ready_at: float | None = None
    last_answer: Answer | None = None


def send_once(request: SignedRequest, timeout: float = 2.0) -> Answer | None:
    """The server's answer to the request, or None if it did not answer over HTTP.

    Connection refused/reset (the server is not listening yet) is None; nothing here raises
    for a server that is still starting.
    """
    conn = http.client.HTTPConnection(request.host, request.port, timeout=timeout)
    try:
        conn.request(request.method, request.path, body=request.body, headers=request.headers)
        response = conn.getresponse()
        return Answer(response.status, response.read())
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_until_ready(
    request: SignedRequest,
    deadline: float,
    alive: Callable[[], bool],
    interval: float = 0.005,
    patience: float = 10.0,
) -> Readiness:
    """Poll every `interval` seconds until the request succeeds.

    Gives up when `deadline` (a perf_counter time) passes, when the server process exits, or
    when it has answered wrongly (an error status, a wrong body) for `patience` seconds in a
    row: a server that listens but cannot serve the call will not start serving it by waiting.
    """
    readiness = Readiness()
    wrong_since: float | None = None
    while True:
        answer = send_once(request)
        now = time.perf_counter()
        if answer is not None and answer.ok:
            readiness.ready_at = now
            return readiness
        if answer is not None:
            readiness.last_answer = answer
            wrong_since = wrong_since if wrong_since is not None else now
            if now - wrong_since >= patience:
                return readiness
        else:
            wrong_since = None
        if now >= deadline or not alive():
            return readiness
        time.sleep(interval)
