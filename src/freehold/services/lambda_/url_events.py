"""Function URL requests as the function sees them, and its answer as the client gets it: the
payload format 2.0 event Lambda builds for a function URL request, and the mapping of the
function's result back to an HTTP response. Built only here (tests use the same functions).

https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

# Bodies with these content types reach the function as text; all others base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml",
               "application/x-www-form-urlencoded", "application/xhtml+xml", "application/ld+json")


def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(lowered.startswith(kind) for kind in _TEXT_TYPES) or lowered.endswith(("+json", "+xml"))


def request_time(now: float) -> str:
    """requestContext.time: 12/Mar/2020:19:03:58 +0000."""
    return datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def forwarded(headers: list[tuple[str, str]], source_ip: str, port: str, trace: str) -> list[tuple[str, str]]:
    """The request's headers as the function URL's front end passes them on: X-Forwarded-For
    with the client's address appended, X-Forwarded-Proto/-Port of the listener, and the
    request's X-Amzn-Trace-Id (any the client sent of these three is replaced)."""
    replaced = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"}
    chain = [value for name, value in headers if name.lower() == "x-forwarded-for"]
    result = [(name, value) for name, value in headers if name.lower() not in replaced]
    result += [("x-forwarded-for", ", ".join([*chain, source_ip])), ("x-forwarded-proto", "http"),
               ("x-forwarded-port", port), ("x-amzn-trace-id", trace)]
    return result


def build_event(*, url_id: str, domain: str, method: str, raw_path: str, raw_query: str,
                headers: list[tuple[str, str]], body: bytes, source_ip: str, request_id: str,
                account_id: str = "anonymous", iam: dict[str, Any] | None = None,
                now: float | None = None) -> dict[str, Any]:
    """The event of one request. `headers` as received (any case, repeated names allowed):
    names are lower-cased and repeated values joined with commas, cookies moved to `cookies`.
    `account_id` is "anonymous" for AuthType NONE; AWS_IAM callers add `iam` (the authorizer)."""
    moment = time.time() if now is None else now
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path or "/",
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if raw_query:
        parameters: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
        event["queryStringParameters"] = parameters
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": url_id,
        "domainName": domain,
        "domainPrefix": url_id,
        "http": {"method": method, "path": raw_path or "/", "protocol": "HTTP/1.1", "sourceIp": source_ip,
                 "userAgent": joined.get("user-agent", "")},
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": request_time(moment),
        "timeEpoch": int(moment * 1000),
    }
    if iam is not None:
        context["authorizer"] = {"iam": iam}
    event["requestContext"] = context
    if body:
        if _is_text(joined.get("content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
                return event
            except UnicodeDecodeError:
                pass
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


# RFC 9110 token characters (header names), and what no header value may hold.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
                         "trailer", "proxy-connection"})


def map_response(payload: bytes, default_type: str = "application/json") -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of the function's result. A JSON object with a statusCode is a
    response (statusCode, headers, cookies, body, isBase64Encoded); any other valid JSON is the
    body of a 200 application/json answer (a JSON string: its text). A response that cannot be
    sent as HTTP (a status outside 100-599, a header name that is not a token, CR/LF/NUL in a
    value, a body that is not base64 when it says it is) raises ValueError: AWS answers 502."""
    try:
        result = json.loads(payload) if payload else None
    except (ValueError, UnicodeDecodeError):
        return 200, [("Content-Type", "application/json")], payload
    if not isinstance(result, dict) or "statusCode" not in result:
        if isinstance(result, str):
            return 200, [("Content-Type", "application/json")], result.encode()
        return 200, [("Content-Type", "application/json")], payload
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, (int, str)) or not str(status).isdigit() \
            or not 100 <= int(status) <= 599:
        raise ValueError(f"statusCode {status!r} is not an HTTP status")
    status = int(status)
    headers: list[tuple[str, str]] = []
    raw_headers = result.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise ValueError("headers is not an object")
    for name, value in raw_headers.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if not _TOKEN.fullmatch(str(name)) or _FORBIDDEN_IN_VALUE.search(text):
            raise ValueError(f"header {name!r} cannot be sent")
        # The front end frames the answer itself: a function's own framing headers would
        # contradict the body it really sent.
        if str(name).lower() not in _HOP_BY_HOP:
            headers.append((str(name), text))
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", default_type))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise ValueError("cookies is not a list")
    for cookie in cookies:
        if _FORBIDDEN_IN_VALUE.search(str(cookie)):
            raise ValueError("a cookie cannot be sent")
        headers.append(("Set-Cookie", str(cookie)))
    raw = result.get("body")
    if raw is None:
        body = b""
    elif not isinstance(raw, str):
        body = json.dumps(raw).encode()
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw, validate=True)  # binascii.Error is a ValueError: 502
    else:
        body = raw.encode()
    return status, headers, body


# A streamed answer's metadata (awslambda.HttpResponseStream.from): this content type, then a
# JSON prelude (statusCode, headers, cookies) and 8 NUL bytes before the body.
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\0" * 8
PRELUDE_MAX = 64 * 1024


def prelude_response(prelude: bytes) -> tuple[int, list[tuple[str, str]]]:
    """(status, headers) of a streamed answer's prelude; ValueError when it cannot be sent
    (AWS answers 502). statusCode defaults to 200."""
    document = json.loads(prelude) if prelude.strip() else {}
    if not isinstance(document, dict):
        raise ValueError("the prelude is not a JSON object")
    document = {key: value for key, value in document.items() if key not in ("body", "isBase64Encoded")}
    document.setdefault("statusCode", 200)
    status, headers, _ = map_response(json.dumps(document).encode(), "application/octet-stream")
    return status, headers
