"""Helpers of the Lambda tests: deployment packages built here, roles Lambda may assume, functions.

(Not in conftest.py: several test folders have one, and `from conftest import` would pick
whichever was imported first.)"""

from __future__ import annotations

import base64
import io
import json
import urllib.request
import uuid
import zipfile
from typing import Any

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_zip(files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def error_of(excinfo: Any) -> tuple[str, str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


ECHO_PY = make_zip({"app.py": "def handler(event, context):\n    return {'event': event}\n"})


def create_role(server: Any) -> str:
    iam = server.client("iam")
    return str(iam.create_role(RoleName=unique("lambda-role"), AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def create_function(lam: Any, role: str, zip_bytes: bytes = ECHO_PY, runtime: str = "python3.11",
                    handler: str = "app.handler", **extra: Any) -> str:
    name = extra.pop("FunctionName", None) or unique("fn")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
                        Code={"ZipFile": zip_bytes}, **extra)
    return name


def isolation_rungs(server: Any) -> dict[str, Any]:
    """The isolation rungs this host gives, as /_freehold/health reports them."""
    with urllib.request.urlopen(server.endpoint_url + "/_freehold/health", timeout=5) as response:
        return dict(json.load(response)["lambda"]["isolation"])


def invoke_ok(lam: Any, name: str, event: Any = None) -> Any:
    """Invokes synchronously and returns the decoded payload; a function error fails the test
    with the function's log tail."""
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail")
    body = json.loads(answer["Payload"].read() or b"null")
    assert "FunctionError" not in answer, (body, base64.b64decode(answer["LogResult"]).decode())
    return body


# Function source: `attempt(api, request)` sends one raw HTTP request to a Runtime API
# ("host:port") and returns the status line, "timeout", "refused: ..." or "closed" - what a
# function scanning /proc/net/tcp for other sandboxes' ports would do.
RAW_RUNTIME_API_ATTEMPT = '''
import socket

def attempt(api, request):
    host, port = api.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2) as conn:
            conn.sendall(request.encode())
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\\r\\n\\r\\n" in data and b"Connection: close" not in data:
                    break
    except socket.timeout:
        return "timeout"
    except OSError as error:
        return "refused: %s" % error
    return data.split(b"\\r\\n", 1)[0].decode("latin-1") if data else "closed"
'''
