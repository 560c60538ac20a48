"""CORS for buckets: the preflight (OPTIONS) answer and the headers of cross-origin responses,
from the bucket's CORS rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html).

The first rule matching the origin, the method and every requested header wins. Requested
headers are echoed back one by one (never `*`: browsers do not let a wildcard cover
Authorization); the origin is echoed unless the rule allows every origin.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from freehold.protocol.errors import ServiceError

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


@lru_cache(maxsize=512)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$", re.IGNORECASE)


def _matches(patterns: list[str], value: str) -> bool:
    return any(_wildcard(p).match(value) for p in patterns)


def matching_rule(rules: list[dict[str, Any]], origin: str, method: str, headers: list[str]) -> dict[str, Any] | None:
    for rule in rules:
        if not _matches(rule.get("AllowedOrigins") or [], origin):
            continue
        if method not in (rule.get("AllowedMethods") or []):
            continue
        allowed_headers = rule.get("AllowedHeaders") or []
        if all(_matches(allowed_headers, h) for h in headers):
            return rule
    return None


def response_headers(rule: dict[str, Any], origin: str, requested_headers: list[str] | None) -> dict[str, str]:
    every_origin = "*" in (rule.get("AllowedOrigins") or [])
    headers = {
        "Access-Control-Allow-Origin": "*" if every_origin else origin,
        "Access-Control-Allow-Methods": ", ".join(rule.get("AllowedMethods") or []),
        "Vary": VARY,
    }
    if not every_origin:
        headers["Access-Control-Allow-Credentials"] = "true"
    if requested_headers:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested_headers)
    if rule.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ", ".join(rule["ExposeHeaders"])
    if rule.get("MaxAgeSeconds") is not None:
        headers["Access-Control-Max-Age"] = str(rule["MaxAgeSeconds"])
    return headers


def requested_headers(value: str | None) -> list[str]:
    return [h.strip().lower() for h in (value or "").split(",") if h.strip()]


def preflight(rules: list[dict[str, Any]] | None, origin: str | None, method: str | None,
              headers: list[str]) -> dict[str, str]:
    """The headers of a successful preflight, or S3's error."""
    if not origin or not method:
        raise ServiceError("BadRequest", "Insufficient information. Origin request header needed.", 400)
    if not rules:
        raise ServiceError("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", 403,
                           fields={"Method": method, "ResourceType": "BUCKET"})
    rule = matching_rule(rules, origin, method, headers)
    if rule is None:
        raise ServiceError(
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
            "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted "
            "by the resource's CORS spec.",
            403,
            fields={"Method": method, "ResourceType": "OBJECT"},
        )
    return response_headers(rule, origin, headers)
