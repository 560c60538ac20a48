"""SNS's endpoints under /_freehold/sns/: the signing certificate, and the outbox.

    GET /_freehold/sns/SimpleNotificationService-freehold.pem   the certificate (PEM) that
        verifies every message's Signature (the SigningCertURL of each envelope)
    GET /_freehold/sns/outbox[?after=<id>&limit=<n>&account=<id>]
        email, email-json, sms and application deliveries, oldest first, as JSON:
        {"messages": [{"id", "protocol", "endpoint", "topic_arn", "subscription_arn",
        "message_id", "subject", "message", "created", ...}]}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from freehold.protocol.http import HttpRequest, HttpResponse
from freehold.services.sns.signing import CERT_FILE

if TYPE_CHECKING:
    from freehold.services.base import Provider


def _json(status: int, document: object) -> HttpResponse:
    response = HttpResponse(status=status, body=json.dumps(document, indent=1).encode())
    response.headers.set("Content-Type", "application/json")
    return response


def handle(provider: Provider | None, name: str, request: HttpRequest) -> HttpResponse:
    """Answer /_freehold/sns/<name>."""
    from freehold.services.sns.provider import SnsProvider

    if not isinstance(provider, SnsProvider):
        return _json(404, {"error": "SNS is not available"})
    if request.method not in ("GET", "HEAD"):
        return _json(405, {"error": f"method {request.method} not allowed on {request.path}"})
    if name == CERT_FILE:
        response = HttpResponse(status=200, body=provider.certificate_pem().encode())
        response.headers.set("Content-Type", "application/x-pem-file")
        return response
    if name == "outbox":
        query = request.query()
        try:
            after = int(query.get("after", "0"))
            limit = max(1, min(int(query.get("limit", "1000")), 10000))
        except ValueError:
            return _json(400, {"error": "after and limit must be integers"})
        return _json(200, {"messages": provider.outbox(after, limit, query.get("account") or None)})
    return _json(404, {"error": f"no freehold endpoint {request.path}"})
