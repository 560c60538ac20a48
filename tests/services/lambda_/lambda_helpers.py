"""Helpers of the Lambda tests: deployment packages built here, roles Lambda may assume, functions.

(Not in conftest.py: several test folders have one, and `from conftest import` would pick
whichever was imported first.)"""

from __future__ import annotations

import io
import json
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
