"""Function URLs: Create/Get/Update/Delete/ListFunctionUrlConfigs, and serving them over HTTP.

A URL is `http://<url-id>.lambda-url.<region>.localhost:<port>/` (AWS's is
`https://<url-id>.lambda-url.<region>.on.aws/`): `*.localhost` resolves to loopback in
browsers and curl, so it works on a laptop with no DNS set up; any host whose labels start
`<url-id>.lambda-url.<region>.` reaches the function (gateway/function_urls.py recognises it).

Serving keeps the path short: the url-id's target (function, version, sandbox spec,
permissions) is cached for a second (and dropped on every change this node makes), the
invocation goes straight to the runtime loop, with no worker thread and no SQL per request.

Auth as AWS checks it for URLs made since October 2025: AuthType NONE needs resource-policy
statements letting `*` call both lambda:InvokeFunctionUrl (AddPermission with
FunctionUrlAuthType NONE) and lambda:InvokeFunction (AddPermission with InvokedViaFunctionUrl,
or unconditioned); AWS_IAM needs a SigV4 signature (signing name lambda) from the function's
account (identity policies are not evaluated yet), or from an account the policy allows both. Answers: 403 {"Message":"Forbidden"}, 502 when the function fails or answers
something that is no response.

InvokeMode RESPONSE_STREAM: a function that streams (awslambda.streamifyResponse, a runtime
posting in streaming mode) has its body sent to the client chunk by chunk as it comes; with
awslambda.HttpResponseStream.from, the JSON prelude before the 8 NUL bytes sets the status,
headers and cookies. An error mid-stream ends the body there. A function that answers
buffered is answered as with BUFFERED.

https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html
https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest, HttpResponse
from freehold.services.base import Params
from freehold.services.lambda_ import limits, url_events
from freehold.gateway.pipeline import new_request_id
from freehold.services.lambda_.invoke import InvokeOps
from freehold.services.lambda_.logs import LogBatch
from freehold.services.lambda_.streaming import streamed_run
from freehold.services.lambda_.models import FunctionVersion
from freehold.services.lambda_.names import VERSION_PATTERN, FunctionRef
from freehold.state.database import IntegrityError

if TYPE_CHECKING:
    from freehold.runtime.launch import LaunchError
    from freehold.runtime.response_stream import ResponseStream
    from freehold.runtime.seam import InvocationResult

log = logging.getLogger("freehold.lambda")

CACHE_SECONDS = 1.0
_QUALIFIER = re.compile(r"^(?!\d+$)[0-9a-zA-Z-_]+$")
_URL_ALPHABET = string.ascii_lowercase + string.digits


_random = random.Random()  # seeded from os.urandom: ids need uniqueness, not secrecy


def _trace_id() -> str:
    """An X-Ray trace header for one request, drawn without a system call."""
    return (f"Root=1-{int(time.time()):08x}-{_random.getrandbits(96):024x};"
            f"Parent={_random.getrandbits(64):016x};Sampled=0")


def url_timestamp() -> str:
    """CreationTime / LastModifiedTime as the API reports them: 2021-10-31T12:00:00.123456Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_response(status: int, document: Any, request_id: str, error_type: str | None = None) -> HttpResponse:
    response = HttpResponse(status=status, body=json.dumps(document).encode())
    response.headers.set("Content-Type", "application/json")
    response.headers.set("x-amzn-RequestId", request_id)
    if error_type:
        response.headers.set("x-amzn-ErrorType", error_type)
    return response


def forbidden(request_id: str) -> HttpResponse:
    return _json_response(403, {"Message": "Forbidden"}, request_id, "AccessDeniedException")


@dataclass
class UrlTarget:
    """What serving a url-id needs, cached: the function, its routed versions and their specs."""

    url_id: str
    ref: FunctionRef
    config: dict[str, Any]
    policy: dict[str, Any]
    choices: list[tuple[FunctionVersion, float, Any]]  # (version, weight, FunctionSpec)
    expires: float
    domain: str = ""
    invoked_arn: str = field(default="")


def _conditions_hold(condition: dict[str, Any], auth_type: str) -> bool:
    """A URL request meets a statement's conditions when they are only these two (any other
    key, a source ARN or account, belongs to callers that are no URL request)."""
    for operator, keys in condition.items():
        for key, value in (keys or {}).items():
            if (operator, key) == ("StringEquals", "lambda:FunctionUrlAuthType"):
                if value != auth_type:
                    return False
            elif (operator, key) == ("Bool", "lambda:InvokedViaFunctionUrl"):
                if str(value).lower() != "true":
                    return False
            else:
                return False
    return True


def _allows(policy: dict[str, Any], caller_account: str | None, auth_type: str) -> bool:
    """Whether the policy lets the caller (None: anyone) call both lambda:InvokeFunctionUrl and
    lambda:InvokeFunction through the URL, as AWS requires of function URLs."""
    return all(_allows_action(policy, caller_account, auth_type, action)
               for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"))


def _allows_action(policy: dict[str, Any], caller_account: str | None, auth_type: str, action: str) -> bool:
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(a in (action, "lambda:*", "*") for a in actions):
            continue
        if not _conditions_hold(statement.get("Condition") or {}, auth_type):
            continue
        principal = statement.get("Principal")
        if principal in ("*", {"AWS": "*"}):
            return True
        if caller_account is not None and isinstance(principal, dict):
            names = principal.get("AWS", [])
            names = names if isinstance(names, list) else [names]
            if any(name == caller_account or name.split(":")[4:5] == [caller_account] for name in names):
                return True
    return False


class FunctionUrlOps(InvokeOps):
    # -- control plane ----------------------------------------------------------------------------
    def _url_ref(self, ctx: RequestContext, params: Params) -> FunctionRef:
        ref = self.ref(ctx, params)
        qualifier = ref.qualifier
        if qualifier is not None and (qualifier == "$LATEST" or not _QUALIFIER.match(qualifier)):
            raise ServiceError(
                "ValidationException",
                f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: "
                r"Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)",
            )
        self.resolve(ref)  # the function (and alias) must exist
        return ref

    def _url_row(self, ref: FunctionRef) -> tuple[str, dict[str, Any]] | None:
        row = self.store.db.query_one(
            "SELECT url_id, document FROM lambda_function_urls WHERE account_id = ? AND region = ? AND name = ? "
            "AND qualifier = ?", (ref.account_id, ref.region, ref.name, ref.qualifier or ""),
        )
        return (str(row[0]), json.loads(row[1])) if row else None

    @staticmethod
    def _url_output(ref: FunctionRef, document: dict[str, Any], created: bool = False) -> Params:
        output: Params = {"FunctionUrl": document["FunctionUrl"], "FunctionArn": ref.qualified_arn,
                          "AuthType": document["AuthType"], "CreationTime": document["CreationTime"],
                          "InvokeMode": document.get("InvokeMode", "BUFFERED")}
        if document.get("Cors"):
            output["Cors"] = document["Cors"]
        if not created:
            output["LastModifiedTime"] = document["LastModifiedTime"]
        return output

    def _url_base(self, ctx: RequestContext) -> tuple[str, str]:
        """(domain suffix, ':port' or '') of the URLs this request's host gives out."""
        host = (ctx.request.headers.get("host") or f"{self.settings.host}:{self.settings.port}").lower()
        if host.startswith("["):  # an IPv6 literal, maybe with a port: [::1]:4566
            name, _, rest = host.partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        else:
            name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
        if not name or name.replace(".", "").isdigit() or name.startswith("[") or name.endswith("localhost"):
            name = "localhost"  # addresses have no subdomains: *.localhost reaches loopback
        return name, f":{port}" if port else ""

    def create_function_url_config(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._url_ref(ctx, params)
        url_id = "".join(secrets.choice(_URL_ALPHABET) for _ in range(32))
        suffix, port = self._url_base(ctx)
        now = url_timestamp()
        document: Params = {
            "FunctionUrl": f"http://{url_id}.lambda-url.{ref.region}.{suffix}{port}/",
            "AuthType": params["AuthType"], "InvokeMode": params.get("InvokeMode") or "BUFFERED",
            "CreationTime": now, "LastModifiedTime": now,
        }
        if params.get("Cors"):
            document["Cors"] = params["Cors"]
        try:
            with self.store.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO lambda_function_urls (account_id, region, name, qualifier, url_id, document) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (ref.account_id, ref.region, ref.name, ref.qualifier or "", url_id, json.dumps(document)),
                )
        except IntegrityError:
            raise ServiceError(
                "ResourceConflictException",
                f"Failed to create function url config for [functionArn = {ref.qualified_arn}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function", 409, fields={"Type": "User"},
            ) from None
        self.forget_url_targets()
        return self._url_output(ref, document, created=True)

    def _existing_url(self, ctx: RequestContext, params: Params) -> tuple[FunctionRef, str, dict[str, Any]]:
        ref = self._url_ref(ctx, params)
        row = self._url_row(ref)
        if row is None:
            raise ServiceError("ResourceNotFoundException", "The resource you requested does not exist.", 404,
                               fields={"Type": "User"})
        return ref, row[0], row[1]

    def get_function_url_config(self, ctx: RequestContext, params: Params) -> Params:
        ref, _, document = self._existing_url(ctx, params)
        return self._url_output(ref, document)

    def update_function_url_config(self, ctx: RequestContext, params: Params) -> Params:
        ref, url_id, document = self._existing_url(ctx, params)
        for key in ("AuthType", "InvokeMode"):
            if params.get(key):
                document[key] = params[key]
        if "Cors" in params:
            document["Cors"] = params["Cors"]
        document["LastModifiedTime"] = url_timestamp()
        self.store.db.execute("UPDATE lambda_function_urls SET document = ? WHERE url_id = ?",
                              (json.dumps(document), url_id))
        self.forget_url_targets()
        return self._url_output(ref, document)

    def delete_function_url_config(self, ctx: RequestContext, params: Params) -> Params:
        _, url_id, _ = self._existing_url(ctx, params)
        self.store.db.execute("DELETE FROM lambda_function_urls WHERE url_id = ?", (url_id,))
        self.forget_url_targets()
        return {}

    def list_function_url_configs(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        self.function_row(ref)
        rows = self.store.db.query(
            "SELECT qualifier, document FROM lambda_function_urls WHERE account_id = ? AND region = ? AND name = ? "
            "ORDER BY qualifier", (ref.account_id, ref.region, ref.name),
        )
        configs = [self._url_output(FunctionRef(ref.account_id, ref.region, ref.name, q or None), json.loads(d))
                   for q, d in rows]
        start = int(params["Marker"]) if str(params.get("Marker") or "").isdigit() else 0
        limit = params.get("MaxItems") or 50
        output: Params = {"FunctionUrlConfigs": configs[start:start + limit]}
        if start + limit < len(configs):
            output["NextMarker"] = str(start + limit)
        return output

    # -- serving ------------------------------------------------------------------------------------
    def forget_url_targets(self) -> None:
        self.url_targets.clear()

    def _load_target(self, url_id: str) -> UrlTarget | None:
        """The url-id's target, read from SQL and prepared (blocking: runs in a worker thread)."""
        row = self.store.db.query_one(
            "SELECT account_id, region, name, qualifier, document FROM lambda_function_urls WHERE url_id = ?",
            (url_id,),
        )
        if row is None:
            return None
        ref = FunctionRef(row[0], row[1], row[2], row[3] or None)
        function = self.store.function_row(ref.account_id, ref.region, ref.name)
        if function is None:
            return None
        qualifier = ref.qualifier or "$LATEST"
        weighted: list[tuple[str, float]] = [(qualifier, 1.0)]
        if ref.qualifier and not VERSION_PATTERN.match(ref.qualifier):
            alias = self.store.get_alias(ref.account_id, ref.region, ref.name, ref.qualifier)
            if alias is None:
                return None
            extra = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            weighted = [(alias["FunctionVersion"], 1.0 - sum(extra.values())), *extra.items()]
        choices = []
        for number, weight in weighted:
            version = self.store.get_version(ref.account_id, ref.region, ref.name, number)
            if version is None:
                return None
            version, spec = self._prepared(version, function.reserved_concurrency)
            choices.append((version, weight, spec))
        policy_row = self.store.get_policy(ref.account_id, ref.region, ref.name, ref.qualifier or "")
        document = json.loads(row[4])
        domain = document["FunctionUrl"].split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
        return UrlTarget(url_id, ref, document, policy_row[0] if policy_row else {}, choices,
                         time.monotonic() + CACHE_SECONDS, domain, ref.qualified_arn)

    async def _target(self, url_id: str, loop: asyncio.AbstractEventLoop) -> UrlTarget | None:
        cached = self.url_targets.get(url_id)
        if cached is not None and cached.expires > time.monotonic():
            return cached
        target = await loop.run_in_executor(None, self._load_target, url_id)
        if target is not None:
            self.url_targets[url_id] = target
        else:
            self.url_targets.pop(url_id, None)
        return target

    async def serve_url(self, url_id: str, request: HttpRequest, body: bytes, source_ip: str,
                        caller_account: str | None, iam: dict[str, Any] | None) -> HttpResponse:
        """Answer one request to a function URL. `caller_account`/`iam`: the SigV4 signer, if
        the request was signed (the gateway verified it as its mode says)."""
        request_id = new_request_id()
        loop = asyncio.get_running_loop()
        target = await self._target(url_id, loop)
        if target is None:
            return forbidden(request_id)
        config = target.config
        cors = config.get("Cors") or None
        origin = request.headers.get("origin")
        if cors and request.method == "OPTIONS" and origin and request.headers.get("access-control-request-method"):
            return _preflight(cors, origin, request_id)
        auth_type = config["AuthType"]
        if auth_type == "AWS_IAM":
            if caller_account is None:
                return forbidden(request_id)
            if caller_account != target.ref.account_id and not _allows(target.policy, caller_account, auth_type):
                return forbidden(request_id)
        elif not _allows(target.policy, None, "NONE"):
            return forbidden(request_id)
        if len(body) > limits.SYNC_PAYLOAD_MAX:
            return _json_response(413, {"Message": "Request Entity Too Large"}, request_id,
                                  "RequestEntityTooLargeException")
        version, spec = _choose(target.choices)
        trace = _trace_id()
        host = request.headers.get("host") or ""
        port = host.rsplit(":", 1)[1] if ":" in host.rsplit("]", 1)[-1] else "80"
        event = url_events.build_event(
            url_id=url_id, domain=target.domain, method=request.method, raw_path=request.path,
            raw_query=request.query_string, body=body, source_ip=source_ip,
            headers=url_events.forwarded(list(request.headers), source_ip, port, trace.split(";", 1)[0]),
            request_id=request_id, account_id=caller_account if iam is not None and caller_account else "anonymous",
            iam=iam,
        )
        if config.get("InvokeMode") == "RESPONSE_STREAM":
            status, headers, streamed = await self._run_url_streamed(
                version, spec, event, target.invoked_arn, request_id, trace, request.method == "HEAD")
            response = HttpResponse(status=status, body=streamed)
        else:
            status, headers, payload = await self._run_url(version, spec, event, target.invoked_arn, request_id, trace)
            response = HttpResponse(status=status, body=payload)
        for name, value in headers:
            if cors and name.lower().startswith("access-control-"):
                continue  # the URL's CORS configuration answers these, not the function
            response.headers.add(name, value)
        response.headers.set("x-amzn-RequestId", request_id)
        if cors and origin:
            for name, value in _cors_headers(cors, origin, preflight=False).items():
                response.headers.set(name, value)
        return response

    async def _run_url(self, version: FunctionVersion, spec: Any, event: dict[str, Any], invoked_arn: str,
                       request_id: str, trace: str) -> tuple[int, list[tuple[str, str]], bytes]:
        from freehold.runtime.launch import LaunchError
        from freehold.runtime.seam import Invocation, Throttled

        if spec.reserved_concurrency == 0:
            return 429, [("Content-Type", "application/json")], b'{"Message":"Rate Exceeded."}'
        executor = self._executor
        if executor is None:
            executor = await asyncio.get_running_loop().run_in_executor(None, lambda: self.executor)
        invocation = Invocation(spec, request_id, json.dumps(event).encode(), invoked_arn, trace)
        try:
            # Straight to the warm pool (on this loop when it runs here): no worker thread waits.
            result = await executor.run(invocation)
        except Throttled:
            return 429, [("Content-Type", "application/json")], b'{"Message":"Rate Exceeded."}'
        except LaunchError as error:
            self._url_launch_failed(version, error)
            return _BAD_GATEWAY
        except ServiceError:
            return 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
        except Exception:  # a runtime failure: the client gets AWS's 502, the log the reason
            log.exception("lambda: function URL invocation of %s failed", version.qualified_arn)
            return 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
        self._url_ran(version, result)
        return _buffered_answer(result)

    def _url_launch_failed(self, version: FunctionVersion, error: LaunchError) -> None:
        """The function cannot start here: why goes to its log (a stream of its own)."""
        self.shipper.ship(LogBatch(version.account_id, version.region, version.log_group_name,
                                   f"{datetime.now(UTC):%Y/%m/%d}/[{version.version}]{uuid.uuid4().hex}",
                                   f"{error.message}\n{error.error_type}\n", int(time.time() * 1000)))

    def _url_ran(self, version: FunctionVersion, result: InvocationResult) -> None:
        self.shipper.ship(LogBatch(version.account_id, version.region, version.log_group_name, result.stream,
                                   result.log, int(time.time() * 1000)))

    async def _run_url_streamed(self, version: FunctionVersion, spec: Any, event: dict[str, Any], invoked_arn: str,
                                request_id: str, trace: str, head: bool = False
                                ) -> tuple[int, list[tuple[str, str]], Any]:
        """A RESPONSE_STREAM URL's answer: (status, headers, body), the body an async stream of
        the function's chunks as they come (bytes when it answered buffered or failed first)."""
        from freehold.runtime.launch import LaunchError
        from freehold.runtime.response_stream import ResponseStream
        from freehold.runtime.seam import Invocation, Throttled

        if spec.reserved_concurrency == 0:
            return 429, [("Content-Type", "application/json")], b'{"Message":"Rate Exceeded."}'
        loop = asyncio.get_running_loop()
        executor = self._executor
        if executor is None:
            executor = await loop.run_in_executor(None, lambda: self.executor)
        sink = ResponseStream(loop)
        invocation = Invocation(spec, request_id, json.dumps(event).encode(), invoked_arn, trace, stream=sink)
        running = asyncio.ensure_future(executor.run(invocation))

        def ran(task: asyncio.Future[InvocationResult]) -> None:
            if not task.cancelled() and task.exception() is None:
                self._url_ran(version, task.result())

        running.add_done_callback(ran)
        try:
            task = await streamed_run(running, sink)
        except Throttled:
            return 429, [("Content-Type", "application/json")], b'{"Message":"Rate Exceeded."}'
        except LaunchError as error:
            self._url_launch_failed(version, error)
            return _BAD_GATEWAY
        except Exception:
            log.exception("lambda: function URL invocation of %s failed", version.qualified_arn)
            return _BAD_GATEWAY
        if not sink.opened:
            return _buffered_answer(task.result())
        chunks = sink.chunks()
        try:
            if sink.content_type == url_events.HTTP_INTEGRATION:
                prelude, first = await _read_prelude(chunks)
                status, headers = url_events.prelude_response(prelude)
            else:
                first = await anext(chunks, b"")
                status, headers = 200, [("Content-Type", sink.content_type or "application/octet-stream")]
        except (ValueError, TypeError, AttributeError):
            sink.cancel()
            return _BAD_GATEWAY
        if not first and task.done() and task.result().status == "error":
            return _BAD_GATEWAY  # failed before sending anything
        if head:  # no body is sent (the gateway does not read it): the rest is dropped
            sink.cancel()
            return status, headers, b""
        return status, headers, _streamed_body(first, chunks, sink)


_BAD_GATEWAY: tuple[int, list[tuple[str, str]], bytes] = (
    502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}')


def _buffered_answer(result: InvocationResult) -> tuple[int, list[tuple[str, str]], bytes]:
    if result.status == "error":
        return _BAD_GATEWAY
    try:
        return url_events.map_response(result.payload)
    except (ValueError, TypeError, AttributeError):
        return _BAD_GATEWAY


async def _read_prelude(chunks: AsyncIterator[bytes]) -> tuple[bytes, bytes]:
    """The JSON prelude of an http-integration stream and what came after its 8 NUL bytes.
    A stream that ends without them has no body: all of it is the prelude."""
    head = bytearray()
    async for chunk in chunks:
        head += chunk
        end = head.find(url_events.PRELUDE_DELIMITER)
        if end >= 0:
            return bytes(head[:end]), bytes(head[end + len(url_events.PRELUDE_DELIMITER):])
        if len(head) > url_events.PRELUDE_MAX:
            raise ValueError("no end to the prelude")
    return bytes(head), b""


async def _streamed_body(first: bytes, chunks: AsyncIterator[bytes], sink: ResponseStream) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk
    finally:
        sink.cancel()  # the client went away: the function runs on, its output dropped


def _choose(choices: list[tuple[FunctionVersion, float, Any]]) -> tuple[FunctionVersion, Any]:
    if len(choices) == 1:
        return choices[0][0], choices[0][2]
    draw = random.random()
    for version, weight, spec in choices:
        if draw < weight:
            return version, spec
        draw -= weight
    return choices[0][0], choices[0][2]


def _origin_allowed(cors: dict[str, Any], origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for this origin, or None if it is not allowed."""
    allowed = cors.get("AllowOrigins") or []
    if origin in allowed:
        return origin
    if "*" in allowed:
        return origin if cors.get("AllowCredentials") else "*"
    return None


def _cors_headers(cors: dict[str, Any], origin: str, preflight: bool) -> dict[str, str]:
    allow = _origin_allowed(cors, origin)
    if allow is None:
        return {}
    headers = {"Access-Control-Allow-Origin": allow, "Vary": "Origin"}
    if cors.get("AllowCredentials"):
        headers["Access-Control-Allow-Credentials"] = "true"
    if preflight:
        if cors.get("AllowMethods"):
            headers["Access-Control-Allow-Methods"] = ",".join(cors["AllowMethods"])
        if cors.get("AllowHeaders"):
            headers["Access-Control-Allow-Headers"] = ",".join(cors["AllowHeaders"])
        if cors.get("MaxAge"):
            headers["Access-Control-Max-Age"] = str(cors["MaxAge"])
    elif cors.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ",".join(cors["ExposeHeaders"])
    return headers


def _preflight(cors: dict[str, Any], origin: str, request_id: str) -> HttpResponse:
    """A CORS preflight, answered from the URL's configuration without invoking the function."""
    response = HttpResponse(status=200, body=b"")
    for name, value in _cors_headers(cors, origin, preflight=True).items():
        response.headers.set(name, value)
    response.headers.set("x-amzn-RequestId", request_id)
    return response

