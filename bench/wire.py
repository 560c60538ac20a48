"""A light load client: AWS requests signed with botocore's own SigV4 signer and sent over one
keep-alive connection, without boto3's per-call machinery (parameter validation, event hooks,
retry handler, urllib3, response parsing into shapes).

Why: the benchmark machine has 2 cores and the client processes share them with the server.
A boto3 call costs its client about 1-1.5 ms of CPU, as much as or more than freehold spends
serving it, so with boto3 clients every server's throughput is partly the clients' limit and the
ratios between servers shrink towards 1. These clients cost a small fraction of that, so their
numbers show more of what each server itself can do. Workloads report both: the boto3 numbers
are what an application sees, the wire numbers are the servers' capacity on this machine.

Every peer gets the same bytes: JSON protocol bodies are the operation's parameters as JSON
(exactly what botocore sends for the services used here: no blob or timestamp members), query
protocol bodies are the form botocore builds. Answers are checked by the caller.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.probe import ACCESS_KEY, REGION, SECRET_KEY

# service -> (signing name, X-Amz-Target prefix, JSON version); None prefix = query protocol.
PROTOCOLS: dict[str, tuple[str, str | None, str]] = {
    "dynamodb": ("dynamodb", "DynamoDB_20120810", "1.0"),
    "sqs": ("sqs", "AmazonSQS", "1.0"),
    "sns": ("sns", None, "2010-03-31"),
    "s3": ("s3", None, ""),  # REST: use `rest`
}


class WireError(Exception):
    """The server answered with an error status; the message carries its body."""


class WireClient:
    """One keep-alive connection to `endpoint` speaking `service`'s protocol."""

    def __init__(self, service: str, endpoint: str) -> None:
        parts = urlsplit(endpoint)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.url = f"http://{self.host}:{self.port}/"
        self.signing_name, self.target_prefix, self.version = PROTOCOLS[service]
        signer = S3SigV4Auth if service == "s3" else SigV4Auth  # S3 signs x-amz-content-sha256 too
        self.signer = signer(Credentials(ACCESS_KEY, SECRET_KEY), self.signing_name, REGION)
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, operation: str, params: dict[str, Any]) -> bytes:
        """The raw body of a 200 answer to `operation`; WireError for any other status."""
        if self.target_prefix is not None:
            body = json.dumps(params).encode()
            headers = {
                "X-Amz-Target": f"{self.target_prefix}.{operation}",
                "Content-Type": f"application/x-amz-json-{self.version}",
            }
        else:
            body = urlencode({"Action": operation, "Version": self.version, **params}).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        request = AWSRequest(method="POST", url=self.url, data=body, headers=headers)
        self.signer.add_auth(request)
        try:
            self.connection.request("POST", "/", body=body, headers=dict(request.headers.items()))
            response = self.connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()  # reconnects on the next call
            raise
        if response.status != 200:
            raise WireError(f"{operation}: HTTP {response.status}: {answer[:300]!r}")
        return answer

    def rest(self, method: str, path: str, body: bytes = b"") -> bytes:
        """The raw body of a 2xx answer to a REST request (`path` already URL-encoded)."""
        request = AWSRequest(method=method, url=f"http://{self.host}:{self.port}{path}", data=body)
        self.signer.add_auth(request)
        try:
            self.connection.request(method, path, body=body or None, headers=dict(request.headers.items()))
            response = self.connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            raise
        if not 200 <= response.status < 300:
            raise WireError(f"{method} {path}: HTTP {response.status}: {answer[:300]!r}")
        return answer

    def call_json(self, operation: str, params: dict[str, Any]) -> Any:
        return json.loads(self.call(operation, params))
