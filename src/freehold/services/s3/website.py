"""Static website hosting: the bucket's website configuration, and the website endpoint
(`<bucket>.s3-website-<region>.<host>`) that serves it to browsers: index documents, error
documents, redirects of all requests, routing rules
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/WebsiteHosting.html).

The website endpoint serves only what anonymous users may read (public ACL or bucket policy),
answers in HTML, and takes GET and HEAD only. A single-page app sets its ErrorDocument to
index.html: every unknown path then gets the app (with status 404, as AWS does), or a routing
rule on HttpErrorCodeReturnedEquals 404 redirects to it.
"""

from __future__ import annotations

import html
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpResponse
from freehold.protocol.serializer_values import rfc822
from freehold.services.base import Params
from freehold.services.s3.bodies import read_object
from freehold.services.s3.core import S3Core, stream_in_thread
from freehold.services.s3.models import ObjectVersion, decode_uri, invalid_argument, malformed_xml


def check_website(config: dict[str, Any]) -> None:
    redirect_all = config.get("RedirectAllRequestsTo")
    if redirect_all is not None:
        if not redirect_all.get("HostName"):
            raise malformed_xml()
        if config.get("IndexDocument") or config.get("ErrorDocument") or config.get("RoutingRules"):
            raise invalid_argument("RedirectAllRequestsTo cannot be provided in conjunction with other Routing/Redirect "
                                   "configurations.", "RedirectAllRequestsTo", "not null")
        return
    suffix = (config.get("IndexDocument") or {}).get("Suffix")
    if suffix is None:
        raise invalid_argument("A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
                               "IndexDocument", "null")
    if not suffix or "/" in suffix:
        raise invalid_argument("The IndexDocument Suffix is not well formed", "IndexDocument", suffix)
    for rule in config.get("RoutingRules") or []:
        if not rule.get("Redirect"):
            raise malformed_xml()


def _html_error(status: int, title: str, code: str, message: str, extra: dict[str, str], request_id: str) -> HttpResponse:
    items = [f"<li>Code: {html.escape(code)}</li>", f"<li>Message: {html.escape(message)}</li>"]
    items += [f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in extra.items()]
    items.append(f"<li>RequestId: {html.escape(request_id)}</li>")
    body = (f"<html>\n<head><title>{status} {title}</title></head>\n<body>\n<h1>{status} {title}</h1>\n<ul>\n"
            + "\n".join(items) + "\n</ul>\n<hr/>\n</body>\n</html>\n").encode()
    response = HttpResponse(status=status, body=body)
    response.headers.set("Content-Type", "text/html; charset=utf-8")
    response.headers.set("x-amz-request-id", request_id)
    return response


def _redirect(status: int, location: str) -> HttpResponse:
    response = HttpResponse(status=status, headers=Headers([("Location", location)]))
    return response


class WebsiteOperations(S3Core):
    def put_bucket_website(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        config = params.get("WebsiteConfiguration") or {}
        check_website(config)
        self.store.put_config(bucket.name, "website", config)
        return {}

    def get_bucket_website(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        config = self.store.config(bucket.name, "website")
        if config is None:
            raise ServiceError("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration",
                               404, fields={"BucketName": bucket.name})
        return dict(config)

    def delete_bucket_website(self, ctx: RequestContext, params: Params) -> Params:
        bucket = self.bucket_of(ctx, params["Bucket"])
        self.store.delete_config(bucket.name, "website")
        return {}

    # -- the website endpoint --------------------------------------------------------------
    def serve_website(self, ctx: RequestContext) -> HttpResponse:
        request = ctx.request
        rid = ctx.request_id
        if request.method not in ("GET", "HEAD"):
            return _html_error(405, "Method Not Allowed", "MethodNotAllowed",
                               "The specified method is not allowed against this resource.",
                               {"Method": request.method, "ResourceType": "OBJECT"}, rid)
        path = decode_uri(request.path.lstrip("/"))
        bucket_name, _, key = path.partition("/")
        bucket = self.store.bucket(bucket_name)
        if bucket is None:
            return _html_error(404, "Not Found", "NoSuchBucket", "The specified bucket does not exist",
                               {"BucketName": bucket_name}, rid)
        config = self.store.config(bucket.name, "website")
        if config is None:
            return _html_error(404, "Not Found", "NoSuchWebsiteConfiguration",
                               "The specified bucket does not have a website configuration",
                               {"BucketName": bucket.name}, rid)
        host = (request.headers.get("host") or "").split(":")[0]
        redirect_all = config.get("RedirectAllRequestsTo")
        if redirect_all:
            protocol = redirect_all.get("Protocol") or "http"
            return _redirect(301, f"{protocol}://{redirect_all['HostName']}/{key}")
        rule = self._routing_rule(config, key, None)
        if rule is not None:
            return self._apply_routing_rule(rule, key, host)
        suffix = config["IndexDocument"]["Suffix"]
        wanted = key + suffix if (not key or key.endswith("/")) else key
        obj = self._public_object(bucket.name, wanted)
        if obj is not None:
            return self._object_response(obj, 200, request.method == "HEAD")
        if key and not key.endswith("/") and self._public_object(bucket.name, f"{key}/{suffix}") is not None:
            return _redirect(302, f"/{key}/")
        rule = self._routing_rule(config, key, "404")
        if rule is not None:
            return self._apply_routing_rule(rule, key, host)
        error_key = (config.get("ErrorDocument") or {}).get("Key")
        if error_key:
            document = self._public_object(bucket.name, error_key)
            if document is not None:
                return self._object_response(document, 404, request.method == "HEAD")
        exists = self.store.latest(bucket.name, wanted)
        if exists is not None and not exists.delete_marker:
            return _html_error(403, "Forbidden", "AccessDenied", "Access Denied", {}, rid)
        return _html_error(404, "Not Found", "NoSuchKey", "The specified key does not exist.", {"Key": wanted}, rid)

    def _public_object(self, bucket: str, key: str) -> ObjectVersion | None:
        obj = self.store.latest(bucket, key)
        if obj is None or obj.delete_marker:
            return None
        bucket_row = self.store.bucket(bucket)
        if bucket_row is None or not self.anonymous_may(bucket_row, "GetObject", key):
            return None
        return obj

    @staticmethod
    def _routing_rule(config: dict[str, Any], key: str, error_code: str | None) -> dict[str, Any] | None:
        for rule in config.get("RoutingRules") or []:
            condition = rule.get("Condition") or {}
            prefix = condition.get("KeyPrefixEquals")
            code = condition.get("HttpErrorCodeReturnedEquals")
            if prefix is not None and not key.startswith(prefix):
                continue
            if code is not None and code != error_code:
                continue
            if code is None and error_code is not None:
                continue
            return dict(rule)
        return None

    @staticmethod
    def _apply_routing_rule(rule: dict[str, Any], key: str, host: str) -> HttpResponse:
        redirect = rule["Redirect"]
        condition = rule.get("Condition") or {}
        if redirect.get("ReplaceKeyWith") is not None:
            new_key = redirect["ReplaceKeyWith"]
        elif redirect.get("ReplaceKeyPrefixWith") is not None:
            prefix = condition.get("KeyPrefixEquals") or ""
            new_key = redirect["ReplaceKeyPrefixWith"] + key[len(prefix):]
        else:
            new_key = key
        target_host = redirect.get("HostName") or host
        protocol = redirect.get("Protocol") or "http"
        status = int(redirect.get("HttpRedirectCode") or 301)
        return _redirect(status, f"{protocol}://{target_host}/{new_key}")

    def _object_response(self, obj: ObjectVersion, status: int, head: bool) -> HttpResponse:
        response = HttpResponse(status=status)
        response.headers.set("Content-Type", obj.attributes.get("ContentType") or "binary/octet-stream")
        response.headers.set("Content-Length", str(obj.size))
        response.headers.set("ETag", obj.etag)
        response.headers.set("Last-Modified", rfc822(obj.last_modified))
        for name, header in (("CacheControl", "Cache-Control"), ("ContentEncoding", "Content-Encoding"),
                             ("ContentDisposition", "Content-Disposition")):
            if obj.attributes.get(name):
                response.headers.set(header, obj.attributes[name])
        if not head and obj.size:
            response.body = stream_in_thread(read_object(self.blobs, obj, 0, obj.size - 1))
        return response
