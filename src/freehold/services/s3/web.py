"""S3's browser-facing requests that are no API operation (the gateway's serve_web step):
CORS preflights, HTML form uploads (POST policy) and the static website endpoint; and the
CORS headers of cross-origin API responses.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from freehold.gateway import routing
from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpResponse
from freehold.protocol.serializer_xmlwriter import escape_text
from freehold.services.base import Params
from freehold.services.s3 import cors, post_upload
from freehold.services.s3.models import decode_uri
from freehold.services.s3.objects import ObjectOperations
from freehold.services.s3.website import WebsiteOperations

# Form fields that become PutObject parameters (x-amz-meta-* become Metadata).
FORM_PARAMS = {
    "content-type": "ContentType", "cache-control": "CacheControl", "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding", "expires": "Expires", "acl": "ACL",
    "x-amz-storage-class": "StorageClass", "x-amz-website-redirect-location": "WebsiteRedirectLocation",
    "x-amz-server-side-encryption": "ServerSideEncryption",
}


def _bucket_and_key(ctx: RequestContext) -> tuple[str, str]:
    path = decode_uri(ctx.request.path.lstrip("/"))
    bucket, _, key = path.partition("/")
    return bucket, key


class WebOperations(WebsiteOperations, ObjectOperations):
    async def serve_web(self, ctx: RequestContext) -> HttpResponse | None:
        request = ctx.received or ctx.request
        if routing.is_website_host(request):
            return await asyncio.to_thread(self.serve_website, ctx)
        if ctx.request.method == "OPTIONS":
            return await asyncio.to_thread(self.preflight, ctx)
        if ctx.request.method == "POST":
            return await self.post_object(ctx)
        return None

    # -- CORS ------------------------------------------------------------------------------
    def preflight(self, ctx: RequestContext) -> HttpResponse:
        bucket_name, _ = _bucket_and_key(ctx)
        headers = ctx.request.headers
        bucket = self.store.bucket(bucket_name) if bucket_name else None
        if bucket_name and bucket is None:
            raise ServiceError("NoSuchBucket", "The specified bucket does not exist", 404,
                               fields={"BucketName": bucket_name})
        rules = self.store.config(bucket_name, "cors") if bucket is not None else None
        answer = cors.preflight(rules, headers.get("origin"), headers.get("access-control-request-method"),
                                cors.requested_headers(headers.get("access-control-request-headers")))
        response = HttpResponse(status=200, headers=Headers(list(answer.items())))
        response.headers.set("x-amz-request-id", ctx.request_id)
        return response

    def cors_headers(self, ctx: RequestContext) -> dict[str, str]:
        """Access-Control-* headers for an API response to a cross-origin request."""
        bucket_name = ctx.params.get("Bucket") if ctx.params else None
        if not bucket_name:
            bucket_name, _ = _bucket_and_key(ctx)
        if not bucket_name:
            return {}
        rules = self.store.config(bucket_name, "cors")
        if not rules:
            return {}
        origin = ctx.request.headers.get("origin") or ""
        method = "GET" if ctx.request.method == "HEAD" and not any(
            "HEAD" in (r.get("AllowedMethods") or []) for r in rules) else ctx.request.method
        rule = cors.matching_rule(rules, origin, method, [])
        if rule is None:
            return {}
        return cors.response_headers(rule, origin, None)

    # -- POST policy uploads ---------------------------------------------------------------
    async def post_object(self, ctx: RequestContext) -> HttpResponse:
        from freehold.services.iam.credentials import IssuedCredentials

        bucket_name, _ = _bucket_and_key(ctx)
        content_type = ctx.request.headers.get("content-type") or ""
        # The form streams in: fields first (bounded), then the file straight to the blob store.
        stream = ctx.request.stream if ctx.request.stream is not None else _once(ctx.request.body)
        fields, upload = await post_upload.read_form(stream, content_type)
        if upload is None:
            raise ServiceError("InvalidArgument", "POST requires exactly one file upload per request.", 400,
                               fields={"ArgumentName": "file", "ArgumentValue": "0"})
        if "key" not in fields:
            raise ServiceError("InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is "
                               "specified, please check the order of the fields.", 400,
                               fields={"ArgumentName": "key", "ArgumentValue": ""})
        fields["key"] = fields["key"].replace("${filename}", upload.filename)
        # The same lookup the gateway authenticates with, for keys freehold issued.
        principal = await asyncio.to_thread(post_upload.verify_policy_signature, fields, IssuedCredentials(self.db))
        size_range = post_upload.check_policy(fields, bucket_name, datetime.now(UTC))
        operation = self._put_operation()
        inner = replace(ctx, principal=principal, account_id=principal.account_id, operation=operation)
        params: Params = {"Bucket": bucket_name, "Key": fields["key"],
                          "Body": post_upload.sized(upload.body, size_range)}
        for field, member in FORM_PARAMS.items():
            if fields.get(field):
                params[member] = fields[field]
        if "ContentType" not in params and upload.content_type:
            params["ContentType"] = upload.content_type
        if "Expires" in params:
            params.pop("Expires")
        metadata = {f[len("x-amz-meta-"):]: v for f, v in fields.items() if f.startswith("x-amz-meta-")}
        if metadata:
            params["Metadata"] = metadata
        inner.params = params
        result = await self.put_object(inner, params)
        return _post_response(ctx, fields, bucket_name, params["Key"], result)

    @staticmethod
    def _put_operation() -> Any:
        from freehold.protocol.specs import service_model

        return service_model("s3").operation_model("PutObject")


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _post_response(ctx: RequestContext, fields: dict[str, str], bucket: str, key: str, result: Params) -> HttpResponse:
    host = ctx.request.host or "s3.amazonaws.com"
    location = f"http://{host}/{bucket}/{quote(key)}"
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    headers = Headers([("ETag", result["ETag"]), ("Location", location), ("x-amz-request-id", ctx.request_id)])
    if result.get("VersionId"):
        headers.set("x-amz-version-id", result["VersionId"])
    if redirect:
        separator = "&" if "?" in redirect else "?"
        target = (f"{redirect}{separator}bucket={quote(bucket)}&key={quote(key)}"
                  f"&etag={quote(result['ETag'])}")
        headers.set("Location", target)
        return HttpResponse(status=303, headers=headers)
    status = fields.get("success_action_status") or "204"
    if status == "201":
        document = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
            f"<Location>{escape_text(location)}</Location><Bucket>{escape_text(bucket)}</Bucket>"
            f"<Key>{escape_text(key)}</Key><ETag>{escape_text(result['ETag'])}</ETag></PostResponse>"
        )
        headers.set("Content-Type", "application/xml")
        return HttpResponse(status=201, headers=headers, body=document.encode())
    return HttpResponse(status=200 if status == "200" else 204, headers=headers)
