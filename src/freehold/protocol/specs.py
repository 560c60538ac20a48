"""Loading botocore's service models, once each, with freehold's named patches applied.

Everything protocol-related is driven by these models. Patches live in
`protocol/patches/<service>.json` as a list of RFC 6902-style operations limited to
`add`/`replace`/`remove` on JSON pointers into the raw `service-2.json`; each file says
why it exists in a `"reason"` entry next to each operation.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

# The 23 services freehold serves, by botocore name.
SERVICES: tuple[str, ...] = (
    "s3", "dynamodb", "dynamodbstreams", "sqs", "sns", "lambda", "logs", "sts", "iam",
    "apigateway", "apigatewayv2", "cognito-idp", "cognito-identity", "events", "scheduler",
    "stepfunctions", "ses", "sesv2", "ssm", "secretsmanager", "kms", "cloudformation",
    "cloudwatch",
)


@lru_cache(maxsize=None)
def _loader() -> Any:
    from botocore.loaders import Loader

    return Loader()


def _pointer_parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


def _apply_patch(document: dict[str, Any], patch: dict[str, Any]) -> None:
    parts = _pointer_parts(patch["path"])
    target: Any = document
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    last = parts[-1]
    if patch["op"] in ("add", "replace"):
        if isinstance(target, list):
            target.insert(int(last), patch["value"]) if patch["op"] == "add" else None
            if patch["op"] == "replace":
                target[int(last)] = patch["value"]
        else:
            target[last] = patch["value"]
    elif patch["op"] == "remove":
        del target[int(last) if isinstance(target, list) else last]
    else:
        raise ValueError(f"unsupported patch op {patch['op']!r}")


def _patches(service: str) -> list[dict[str, Any]]:
    path = resources.files("freehold.protocol").joinpath("patches", f"{service}.json")
    if not path.is_file():
        return []
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return data


@lru_cache(maxsize=None)
def raw_service_model(service: str) -> dict[str, Any]:
    """The raw service-2.json of a service, patched."""
    document: dict[str, Any] = _loader().load_service_model(service, "service-2")
    for patch in _patches(service):
        _apply_patch(document, patch)
    return document


@lru_cache(maxsize=None)
def service_model(service: str) -> Any:
    """The botocore `ServiceModel` of a service (patched), loaded once."""
    from botocore.model import ServiceModel

    return ServiceModel(raw_service_model(service), service_name=service)


def botocore_version() -> str:
    import botocore

    return str(botocore.__version__)
