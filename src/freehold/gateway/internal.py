"""freehold's own endpoints under /_freehold/: health, info and reset (and SNS's, in services/sns/internal.py)."""

from __future__ import annotations

import json
import platform
import time
from typing import Any

from freehold import __version__
from freehold.gateway.node import Node
from freehold.protocol.http import HttpRequest, HttpResponse

PREFIX = "/_freehold/"


def is_internal(request: HttpRequest) -> bool:
    return request.path.startswith(PREFIX)


def _json(status: int, document: Any) -> HttpResponse:
    response = HttpResponse(status=status, body=json.dumps(document, indent=1).encode())
    response.headers.set("Content-Type", "application/json")
    return response


def handle(node: Node, request: HttpRequest) -> HttpResponse:
    """Answer one /_freehold/ request (blocking work: call it off the event loop)."""
    name = request.path[len(PREFIX):].strip("/")
    if name == "health" and request.method in ("GET", "HEAD"):
        return _json(200, health(node))
    if name == "info" and request.method in ("GET", "HEAD"):
        return _json(200, info(node))
    if name == "reset" and request.method == "POST":
        refusal = _reset_refusal(node, request)
        if refusal is not None:
            return _json(403, {"error": refusal})
        node.reset()
        return _json(200, {"reset": True})
    if name.startswith("sns/"):
        from freehold.services.sns.internal import handle as sns_handle

        return sns_handle(node.services.get("sns"), name[len("sns/"):], request)
    if name.startswith("lambda/"):
        from freehold.services.lambda_ import internal as lambda_internal

        return lambda_internal.serve(node, request, name)
    if name in ("health", "info", "reset"):
        return _json(405, {"error": f"method {request.method} not allowed on {request.path}"})
    return _json(404, {"error": f"no freehold endpoint {request.path}"})


def _reset_refusal(node: Node, request: HttpRequest) -> str | None:
    """Why a reset request is refused, if it is.

    A browser adds `Origin` to a cross-site POST, and a plain form post needs no CORS
    approval: without this check any web page a developer visits could wipe their node.
    Under --strict-auth the endpoint is closed; stop the node and run
    `freehold reset --data-dir DIR` instead."""
    if node.settings.strict_auth:
        return "reset over HTTP is disabled under --strict-auth; stop the node and run `freehold reset --data-dir DIR`"
    if request.headers.get("origin") is not None:
        return "reset is refused for requests from a browser page (they carry an Origin header)"
    return None


def health(node: Node) -> dict[str, Any]:
    from freehold.services.lambda_ import internal as lambda_internal

    return {
        "status": "running",
        "version": __version__,
        "services": node.services.states(),
        # Which isolation rungs sandboxes get on this host (see freehold.runtime.isolation).
        "lambda": lambda_internal.health(node),
    }


def info(node: Node) -> dict[str, Any]:
    settings = node.settings
    db = node.services.runtime.db
    from freehold.protocol.specs import botocore_version

    return {
        "version": __version__,
        "python": platform.python_version(),
        "botocore": botocore_version(),
        "endpoint": settings.endpoint_url,
        "data_dir": str(settings.data_dir.resolve()),
        "state": db.dialect,
        "durability": settings.durability,
        "strict_auth": settings.strict_auth,
        "uptime_seconds": round(time.time() - node.started_at, 3),
    }
