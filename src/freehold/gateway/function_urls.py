"""Requests to Lambda function URLs: recognised by their host before the API pipeline, and
handed to the Lambda provider with their body and, when signed, their SigV4 identity.

A function URL host is `<url-id>.lambda-url.<region>.<anything>`: freehold hands out
`<url-id>.lambda-url.<region>.localhost:<port>` (see services/lambda_/function_urls.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from datetime import UTC, datetime
from typing import Any

from freehold.gateway import identity, sigv4
from freehold.gateway.node import Node
from freehold.gateway.request_body import ClientDisconnected, read_whole
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest, HttpResponse

log = logging.getLogger("freehold.lambda")

_HOST = re.compile(r"^([a-z0-9]{32})\.lambda-url\.[a-z0-9-]+\.")
# Bodies above Invoke's 6 MB limit are refused by the provider; reading stops a little above it.
BODY_LIMIT = 6 * 1024 * 1024 + 1
_providers: weakref.WeakKeyDictionary[Node, Any] = weakref.WeakKeyDictionary()  # node -> its Lambda provider


def url_id_of(host: str) -> str | None:
    """The url-id a function URL host names, or None for every other host."""
    if ".lambda-url." not in host:
        return None
    match = _HOST.match(host.lower())
    return match.group(1) if match else None


def _text(status: int, message: str) -> HttpResponse:
    response = HttpResponse(status=status, body=('{"Message":"%s"}' % message).encode())
    response.headers.set("Content-Type", "application/json")
    return response


def _signer(node: Node, request: HttpRequest) -> tuple[str | None, dict[str, Any] | None]:
    """(account, requestContext.authorizer.iam) of a SigV4-signed request (signing name
    lambda), checked as the node's mode checks API calls; (None, None) when unsigned or refused."""
    try:
        info = sigv4.parse_signature(request)
        if info is None or info.service != "lambda":
            return None, None
        principal = identity.authenticate(request, info, node.resolver, node.settings.strict_auth, "lambda",
                                          datetime.now(UTC))
    except ServiceError:
        return None, None
    return principal.account_id, {
        "accessKey": info.access_key_id, "accountId": principal.account_id, "callerId": principal.user_id,
        "cognitoIdentity": None, "principalOrgId": None, "userArn": principal.arn, "userId": principal.user_id,
    }


async def serve(node: Node, url_id: str, request: HttpRequest, client: Any) -> HttpResponse:
    """Answer one function URL request (its body is still in `request.stream`)."""
    try:
        body = await read_whole(request.stream, BODY_LIMIT) if request.stream is not None else request.body
    except ClientDisconnected:
        return _text(400, "Bad Request")
    except ServiceError:
        return _text(413, "Request Entity Too Large")
    request.body, request.stream = body, None
    provider: Any = _providers.get(node)
    if provider is None:
        loop = asyncio.get_running_loop()
        provider = await loop.run_in_executor(node.executor, node.services.get, "lambda")
        _providers[node] = provider
    account, iam = _signer(node, request) if "authorization" in request.headers else (None, None)
    source_ip = client[0] if client else "127.0.0.1"
    try:
        response: HttpResponse = await provider.serve_url(url_id, request, body, source_ip, account, iam)
    except Exception:  # never a traceback on the wire: AWS's answer when the function cannot run
        log.exception("function URL request to %s failed", url_id)
        return _text(502, "Internal Server Error")
    return response
