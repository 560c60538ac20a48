"""The request pipeline, in one place:

    receive -> [browser requests: serve_web] -> identify service and operation -> receive the
            body -> authenticate (strict mode: chunk signatures too) -> parse -> dispatch ->
            serialize -> CORS headers -> respond/log

The body is read after the operation is known: whole for most operations, but handed to the
provider as a stream when the operation's input payload is a streaming blob (S3 PutObject,
UploadPart), so that uploads of any size take bounded memory. Form posts are read before
routing, since their fields name the query-protocol action.

Each step is a small function over the `RequestContext`. Any `ServiceError` ends the
pipeline with that error serialized the way the service's protocol expects; anything else
is a bug in freehold, logged with its traceback and answered as AWS's InternalFailure
(never a traceback on the wire).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from typing import Any

from freehold.gateway import chunk_signatures, identity, presigned, routing, sigv4
from freehold.gateway.context import RequestContext
from freehold.gateway.request_body import (
    MAX_BODY_BYTES, ClientDisconnected, body_cap, check_declared, incomplete_body, read_whole, too_large,
)
from freehold.gateway.node import Node
from freehold.protocol.chunked_stream import AwsChunkedStream
from freehold.protocol.errors import ServiceError, internal_error, not_implemented
from freehold.protocol.http import OUTPUT_STATUS, HttpRequest, HttpResponse
from freehold.protocol.parser import parser_for
from freehold.protocol.parser_chunked import is_aws_chunked
from freehold.protocol.serializer import serializer_for
from freehold.protocol.validation import validate
from freehold.state.database import WriteLockBusy

log = logging.getLogger("freehold.requests")

# Requests for which no service can be recognised are answered in S3's format: S3 is the
# catch-all endpoint on AWS too.
FALLBACK_SERVICE = "s3"
# Services whose streaming-blob inputs reach the provider as a stream. Only S3: its signatures
# cover a declared x-amz-content-sha256 rather than the body, so the body need not be read to
# authenticate; the others' (Lambda Invoke, API Gateway imports) hash the body and cap its size.
STREAMED_SERVICES = frozenset({"s3"})
# Services whose providers answer browser-facing requests (serve_web) and add CORS headers.
WEB_SERVICES = frozenset({"s3"})


_random = random.Random()  # seeded from os.urandom


def new_request_id() -> str:
    """A random (version 4) UUID, as AWS's request ids are: unique, not secret, so drawn
    from a seeded PRNG instead of a system call per request."""
    value = (_random.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# Version 4 (bits 76-79 = 0100) and the RFC 4122 variant (bits 62-63 = 10).
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID_SET = (0x4 << 76) | (0x2 << 62)


async def handle(node: Node, request: HttpRequest) -> HttpResponse:
    """Run one request through the pipeline and return the response to send."""
    started = time.perf_counter()
    ctx = RequestContext(request=request, request_id=new_request_id(), region=node.settings.default_region)
    try:
        await receive_form(ctx)
        response = await serve_web(node, ctx)
        if response is None:
            identify(ctx)
            await receive_body(ctx)
            authenticate(node, ctx)
            await check_chunk_signatures(node, ctx)
            parse(ctx)
            output = await dispatch(node, ctx)
            response = serialize(ctx, output)
    except ServiceError as error:
        response = serialize_error(ctx, error)
    except ClientDisconnected:
        response = serialize_error(ctx, incomplete_body())
    except Exception:
        log.exception("internal error in %s.%s (request %s)", ctx.service, ctx.operation_name, ctx.request_id)
        response = serialize_error(ctx, internal_error(ctx.request_id))
    await add_cors_headers(node, ctx, response)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s.%s -> %d in %.1f ms",
            ctx.request_id, ctx.service, ctx.operation_name, response.status,
            (time.perf_counter() - started) * 1000,
        )
    return response


async def serve_web(node: Node, ctx: RequestContext) -> HttpResponse | None:
    """Browser-facing requests that are no API operation: CORS preflights (OPTIONS), HTML form
    uploads (POST multipart/form-data) and static website hosts. The service's provider answers
    them through `serve_web(ctx)`; None means the request is an ordinary API call."""
    request = ctx.request
    content_type = (request.headers.get("content-type") or "").lower()
    website = routing.is_website_host(request)
    if not (request.method == "OPTIONS" or website
            or (request.method == "POST" and content_type.startswith("multipart/form-data"))):
        return None
    route = routing.route(request, None)
    if route is None or route.service not in WEB_SERVICES:
        return None
    ctx.service, ctx.received, ctx.request = route.service, request, route.request
    provider = node.services.get(route.service)
    handler = getattr(provider, "serve_web", None)
    if handler is None:
        return None
    # A POST form upload's body stays a stream: S3 reads the fields, then streams the file
    # (up to 5 GB) into the blob store.
    response: HttpResponse | None = await handler(ctx)
    return response


async def add_cors_headers(node: Node, ctx: RequestContext, response: HttpResponse) -> None:
    """The CORS response headers of a cross-origin request (one with an Origin header), as the
    service's CORS configuration says (S3 buckets; `cors_headers(ctx)` of the provider)."""
    if ctx.service not in WEB_SERVICES or "origin" not in ctx.request.headers or ctx.request.method == "OPTIONS":
        return
    provider = node.services.get(ctx.service)
    headers_of = getattr(provider, "cors_headers", None)
    if headers_of is None:
        return
    try:
        loop = asyncio.get_running_loop()
        headers: dict[str, str] = await loop.run_in_executor(node.executor, headers_of, ctx)
    except Exception:  # CORS headers never turn an answer into a failure
        log.exception("could not compute CORS headers (request %s)", ctx.request_id)
        return
    for name, value in headers.items():
        response.headers.set(name, value)


def identify(ctx: RequestContext) -> None:
    """Which service (from the request's shape and signature) and which operation."""
    signature_error: ServiceError | None = None
    try:
        ctx.signature = sigv4.parse_signature(ctx.request)
    except ServiceError as error:
        signature_error = error
    ctx.received = ctx.request
    route = routing.route(ctx.request, ctx.signature)
    ctx.service = route.service if route is not None else FALLBACK_SERVICE
    if route is not None:
        ctx.request = route.request
    if signature_error is not None:
        raise signature_error
    if ctx.signature is not None and ctx.signature.region:
        ctx.region = ctx.signature.region
    parser = parser_for(ctx.service).parser_of(ctx.request)
    ctx.protocol = parser.protocol
    ctx.operation = parser.operation(ctx.request)


async def receive_form(ctx: RequestContext) -> None:
    """A form post's body, read before routing: its `Action` names query-protocol operations."""
    content_type = (ctx.request.headers.get("content-type") or "").lower()
    if ctx.request.stream is not None and "x-www-form-urlencoded" in content_type:
        # The service is not known yet: a POST form is a query-protocol call (its service's cap
        # is checked once known, in receive_body); any other may be an S3 object upload.
        limit = body_cap(None) if ctx.request.method == "POST" else MAX_BODY_BYTES
        check_declared(ctx.request.headers, limit)
        await _read_whole(ctx, limit)


async def receive_body(ctx: RequestContext) -> None:
    """The body, read whole unless the operation streams its payload (then decoded on the fly
    when it is aws-chunked, and left for the parser to hand to the provider). A body read whole
    is capped at its service's maximum request size, refused unread when Content-Length says so."""
    request = ctx.request
    limit = body_cap(ctx.service, ctx.operation.name if ctx.operation is not None else None)
    if request.stream is None:
        if len(request.body) > limit:  # a form read before the service was known
            raise too_large(limit)
        return
    if ctx.service not in STREAMED_SERVICES or ctx.operation is None or not ctx.operation.has_streaming_input:
        check_declared(request.headers, limit)
        await _read_whole(ctx, limit)
        return
    if is_aws_chunked(request):
        declared = request.headers.get("x-amz-decoded-content-length")
        length = int(declared) if declared is not None and declared.isdigit() else None
        _set_stream(ctx, AwsChunkedStream(request.stream, length))


async def _read_whole(ctx: RequestContext, limit: int) -> None:
    assert ctx.request.stream is not None
    body = await read_whole(ctx.request.stream, limit)
    for request in (ctx.request, ctx.received):
        if request is not None:
            request.body, request.stream = body, None


def _set_stream(ctx: RequestContext, stream: Any) -> None:
    for request in (ctx.request, ctx.received):
        if request is not None:
            request.stream = stream


def authenticate(node: Node, ctx: RequestContext) -> None:
    """Resolve the principal: issued credentials, an account's root, or anonymous.

    The use of an issued IAM access key is recorded for GetAccessKeyLastUsed (throttled to
    once a minute per key, written off the event loop), under the signing name of the
    request's credential scope, which is the service's IAM namespace (s3, sts, states ...)."""
    assert ctx.service is not None
    resolver = node.resolver if _may_be_issued(ctx) or node.settings.strict_auth else None

    def used(issued: identity.IssuedCredential) -> None:
        signing_name = ctx.signature.service if ctx.signature is not None else ctx.service
        node.key_usage.note(issued.access_key_id, signing_name or "", ctx.region)

    if ctx.signature is None and ctx.service == "s3":
        query = presigned.parse_sigv2_query(ctx.received or ctx.request)
        if query is not None:
            ctx.principal = identity.authenticate_sigv2_query(
                ctx.received or ctx.request, query, node.resolver, node.settings.strict_auth, datetime.now(UTC)
            )
            ctx.account_id = ctx.principal.account_id
            return
    ctx.principal = identity.authenticate(
        ctx.received or ctx.request, ctx.signature, resolver, node.settings.strict_auth, ctx.service,
        datetime.now(UTC), on_issued=used, operation=ctx.operation,
    )
    ctx.account_id = ctx.principal.account_id


async def check_chunk_signatures(node: Node, ctx: RequestContext) -> None:
    """In strict mode, a body signed chunk by chunk (x-amz-content-sha256:
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) is verified link by link from the seed (header)
    signature authenticate just verified, for every operation: a streamed body as it is read (a
    bad chunk ends the upload before anything is stored), a body read whole now, before it is
    parsed. A signed declaration that cannot be verified is refused (chunk_signatures.py). In
    default mode no signature is checked, chunk signatures included."""
    request = ctx.request
    if not node.settings.strict_auth or not chunk_signatures.declares_signed_chunks(request.headers):
        return
    info = ctx.signature
    secret = None
    if info is not None and not info.presigned:
        issued = await asyncio.to_thread(node.resolver.resolve, info.access_key_id)
        secret = issued.secret_access_key if issued is not None else None
    if request.stream is not None:
        chunk_signatures.attach(request.stream, request.headers, info, secret)
    else:
        chunk_signatures.verify_whole(request.body, request.headers, info, secret)


def _may_be_issued(ctx: RequestContext) -> bool:
    """Only keys shaped like freehold-issued ones (AKIA/ASIA...) need a lookup."""
    key = ctx.signature.access_key_id if ctx.signature is not None else ""
    return len(key) == 20 and key[:4] in ("AKIA", "ASIA")


def parse(ctx: RequestContext) -> None:
    """The operation's input parameters, validated against its input shape."""
    assert ctx.service is not None
    ctx.params = parser_for(ctx.service).parse(ctx.request, ctx.operation)
    validate(ctx.service, ctx.operation, ctx.params)


async def dispatch(node: Node, ctx: RequestContext) -> dict[str, Any]:
    """Call the provider method named like the operation; 501 when there is none."""
    assert ctx.service is not None
    provider = node.services.get(ctx.service)
    method = getattr(provider, _method_name(ctx.operation), None) if provider is not None else None
    if method is None:
        raise not_implemented(ctx.service, ctx.operation_name)
    kind = _kind_of(method)
    if kind == ASYNC:
        result = await method(ctx, ctx.params)
    elif kind == INLINE:
        result = method(ctx, ctx.params)
    else:
        result = None
        ran = False
        if kind == SHORT_SQL and provider is not None and provider.db.inline_writes:
            # On the loop while the write lock is free (see services.base.short_sql): a
            # hand-over to a worker thread and back costs more than the statements themselves.
            try:
                with provider.db.no_wait():
                    result = method(ctx, ctx.params)
                ran = True
            except WriteLockBusy:
                pass
        if not ran:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(node.executor, method, ctx, ctx.params)
    return result if result is not None else {}


ASYNC, INLINE, SHORT_SQL, THREAD = "async", "inline", "short_sql", "thread"
_KINDS: dict[Any, str] = {}
_METHOD_NAMES: dict[str, str] = {}


def _kind_of(method: Any) -> str:
    """How a provider method runs (decided once per function)."""
    function = getattr(method, "__func__", method)
    kind = _KINDS.get(function)
    if kind is None:
        if asyncio.iscoroutinefunction(method):
            kind = ASYNC
        elif getattr(method, "__freehold_inline__", False):
            kind = INLINE
        elif getattr(method, "__freehold_short_sql__", False):
            kind = SHORT_SQL
        else:
            kind = THREAD
        _KINDS[function] = kind
    return kind


def _method_name(operation: Any) -> str:
    name = _METHOD_NAMES.get(operation.name)
    if name is None:
        from botocore import xform_name

        name = _METHOD_NAMES[operation.name] = str(xform_name(operation.name))
    return name


def serialize(ctx: RequestContext, output: dict[str, Any]) -> HttpResponse:
    assert ctx.service is not None
    status = output.pop(OUTPUT_STATUS, None)
    response = serializer_for(ctx.service, ctx.protocol).serialize(ctx.operation, output, ctx.request_id)
    if status is not None:
        response.status = int(status)
    return response


def serialize_error(ctx: RequestContext, error: ServiceError) -> HttpResponse:
    service = ctx.service or FALLBACK_SERVICE
    try:
        protocol = ctx.protocol if ctx.service else None
        return serializer_for(service, protocol).serialize_error(error, ctx.operation, ctx.request_id)
    except Exception:
        log.exception("could not serialize %s for %s (request %s)", error.code, service, ctx.request_id)
        body = f"{error.code}: {error.message}".encode("utf-8", errors="replace")
        response = HttpResponse(status=error.status or 500, body=body)
        response.headers.set("Content-Type", "text/plain")
        response.headers.set("x-amzn-RequestId", ctx.request_id)
        return response
