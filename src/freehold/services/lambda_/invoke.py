"""Invocation: Invoke (RequestResponse, Event, DryRun), InvokeAsync, event invoke configs,
and what runs queued Event invocations: retries, maximum event age, dead-letter queues and
destinations. Functions run in sandboxes behind freehold.runtime's Executor.

https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import random
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.lambda_ import limits
from freehold.services.lambda_.logs import LogBatch, LogShipper, service_context
from freehold.services.lambda_.lookup import LambdaBase, function_not_found, update_in_progress
from freehold.services.lambda_.models import FunctionVersion
from freehold.services.lambda_.names import LATEST, VERSION_PATTERN, FunctionRef, function_arn
from freehold.services.lambda_.store import LambdaStore, QueuedInvocation
from freehold.services.lambda_.workers import THROTTLE_DELAY, AsyncInvoker, retry_delay
from freehold.state.blobs import BlobNotFound

if TYPE_CHECKING:
    from freehold.runtime.executor import Executor
    from freehold.runtime.launch import LaunchError
    from freehold.runtime.seam import FunctionSpec, Invocation, InvocationResult
    from freehold.runtime.zygotes import Zygotes


log = logging.getLogger("freehold.lambda")

DEFAULT_RETRIES = 2
DEFAULT_EVENT_AGE = 21600
CREDENTIAL_MARGIN = 300.0


INLINE_PAYLOAD = 64 * 1024  # payloads up to this are checked on the event loop
SPEC_CACHE = 4096  # function specs (and parsed configurations) kept for warm invocations


class _WouldBlock(Exception):
    """Preparing this invocation needs slow I/O: done in a worker thread instead."""


def trace_id() -> str:
    """An X-Ray trace header as Lambda passes it: 96 random bits of root, 64 of parent (from
    a PRNG seeded by the OS, as request ids are: no system call per invocation)."""
    bits = f"{random.getrandbits(160):040x}"
    return f"Root=1-{int(time.time()):08x}-{bits[:24]};Parent={bits[24:]};Sampled=0"


def throttled(reason: str) -> ServiceError:
    return ServiceError("TooManyRequestsException", "Rate Exceeded.", 429,
                        fields={"Type": "User", "Reason": reason, "retryAfterSeconds": "1"})


class InvokeOps(LambdaBase):
    _executor: Executor | None = None
    _executor_lock = threading.Lock()
    _zygotes_lock = threading.Lock()
    _started_zygotes: Zygotes | None = None
    _inline = threading.local()  # set while an Invoke is prepared on the event loop

    # -- lifecycle --------------------------------------------------------------------------------
    def start_execution(self) -> None:
        self._credentials: dict[str, tuple[float, dict[str, str]]] = {}
        self._roles: dict[str, str] = {}  # function spec key -> its role
        self._specs: dict[str, FunctionSpec] = {}  # function spec key -> its spec
        self._versions: dict[str, FunctionVersion] = {}  # stored configuration -> its version
        # (account, region, name, qualifier) -> (LambdaStore.generation, version, reserved)
        self._targets: dict[tuple[str, str, str, str], tuple[int, FunctionVersion, int | None]] = {}
        self.shipper = LogShipper(self.call)
        self.async_invoker = AsyncInvoker(self.store, self._run_queued)
        self.async_invoker.start()

    def stop_execution(self) -> None:
        self.async_invoker.stop()
        self.shipper.stop()
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        self._started_zygotes = None

    def reset_execution(self) -> None:
        if self._executor is not None:
            self._executor.forget(lambda spec: True)
        self._credentials.clear()
        self._roles.clear()
        self._specs.clear()
        self._versions.clear()
        self._targets.clear()
        LambdaStore.bump_generation()  # rows deleted by the reset: nothing cached stays valid
        self.shipper.forget()

    @property
    def executor(self) -> Executor:
        """The executor, made on first use: on the gateway's event loop when an Invoke over HTTP
        comes first (see `invoke`), so that invocations reach their sandboxes without a hop
        between threads; on a loop of its own when a background invocation comes first."""
        with self._executor_lock:
            if self._executor is None:
                from freehold.runtime.executor import Executor

                self._executor = Executor(
                    self.settings.data_dir, self.settings.endpoint_url, self._sandbox_credentials,
                    idle_seconds=float(os.environ.get("FREEHOLD_LAMBDA_IDLE_SECONDS", "300")),
                    loop=_running_loop(), zygotes=self._zygotes(), cached_credentials=self._cached_credentials,
                )
            return self._executor

    def _zygotes(self) -> Zygotes:
        with self._zygotes_lock:
            zygotes = self._started_zygotes
            if zygotes is None:
                from freehold.runtime.executor import start_zygotes

                zygotes = self._started_zygotes = start_zygotes(self.settings.data_dir)
            return zygotes

    def _start_executor_soon(self) -> None:
        """The zygote of the default Python, started in the background: it preloads and warms
        the SDK (about half a second) and forks blank sandboxes before the first invoke."""
        if self._executor is not None or self._started_zygotes is not None:
            return
        threading.Thread(target=self._zygotes, name="freehold-lambda-start", daemon=True).start()

    def execution_health(self) -> dict[str, Any]:
        from freehold.runtime import isolation

        if self._executor is not None:
            return self._executor.health()
        return {"isolation": isolation.detect().report()}

    def sandbox_owner(self, version: FunctionVersion) -> tuple[int, int] | None:
        """The uid/gid owning a version's code (None when sandboxes cannot change uid). Asked
        when a package is unpacked (CreateFunction, UpdateFunctionCode): the executor then
        starts in the background, so its zygote is ready before the function's first invoke."""
        from freehold.runtime import isolation

        self._start_executor_soon()
        if not isolation.detect().uid_per_function:
            return None
        return isolation.function_owner(version.account_id, version.region, version.name)

    def forget_function(self, arn: str) -> None:
        if self._executor is not None:
            account, region, name = arn.split(":")[4], arn.split(":")[3], arn.split(":")[6]
            self._executor.forget(lambda s: (s.account_id, s.region, s.name) == (account, region, name))

    def _cached_credentials(self, spec: FunctionSpec) -> dict[str, str] | None:
        """The credentials `_sandbox_credentials` gave this function version, while fresh
        (the spec's key changes with its configuration, role included); None otherwise."""
        role = self._roles.get(spec.key)
        cached = self._credentials.get(role) if role is not None else None
        if cached and cached[0] - time.time() > CREDENTIAL_MARGIN:
            return cached[1]
        return None

    def _sandbox_credentials(self, spec: FunctionSpec) -> dict[str, str]:
        """Temporary credentials of the function's role, from STS, cached until near expiry."""
        version = self.store.get_version(spec.account_id, spec.region, spec.name, spec.version)
        role = version.role if version else ""
        self._roles[spec.key] = role
        cached = self._credentials.get(role)
        if cached and cached[0] - time.time() > CREDENTIAL_MARGIN:
            return cached[1]
        ctx = service_context(spec.account_id, spec.region)
        # The session is named after the function; STS wants 2 characters at least.
        session_name = spec.name[:64] if len(spec.name) >= 2 else f"{spec.name}_"
        try:
            answer = self.call("sts", ctx, "AssumeRole", {"RoleArn": role, "RoleSessionName": session_name})
        except ServiceError:
            # The role can no longer be assumed (deleted, or its trust changed). The handler
            # still runs, with no credentials: its own SDK calls fail with missing credentials.
            # Known gap: AWS fails such invocations itself once its cached credentials expire.
            log.warning("lambda: cannot assume %s for %s; running without credentials", role, spec.name)
            return {}
        creds = answer["Credentials"]
        env = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
               "AWS_SESSION_TOKEN": creds["SessionToken"]}
        expiration = creds["Expiration"]
        expires = expiration.timestamp() if isinstance(expiration, datetime) else time.time() + 3600
        self._credentials[role] = (expires, env)
        return env

    # -- running a version ----------------------------------------------------------------------------
    def _spec(self, version: FunctionVersion, reserved: int | None) -> FunctionSpec:
        from freehold.runtime.seam import FunctionSpec

        key = f"{version.qualified_arn}#{version.revision_id}"
        known = self._specs.get(key)
        if known is not None and known.reserved_concurrency == reserved:
            # A revision's spec never changes (a new configuration or package is a new
            # revision): warm invocations skip unpacking checks and their file system calls.
            return known
        if getattr(self._inline, "active", False) and (
                version.layer_code or not self.code_trees.path(version.code.blob_key).is_dir()):
            raise _WouldBlock()  # unpacking: not on the event loop
        owner = self.sandbox_owner(version)
        code_dir = self.code_trees.ensure(version.code.blob_key, owner)
        # The function's layers, merged in order: the sandbox's /opt.
        opt_dir = self.code_trees.ensure_merged([layer["Blob"] for layer in version.layer_code], owner) \
            if version.layer_code else None
        self._roles[key] = version.role  # its sandboxes' credentials, once cached, without SQL
        if len(self._specs) >= SPEC_CACHE:
            self._specs.clear()
            self._roles.clear()  # (their credentials are then asked again once: still cached by role)
        spec = self._specs[key] = FunctionSpec(
            key=key, account_id=version.account_id,
            region=version.region, name=version.name, version=version.version, runtime=version.runtime or "",
            handler=version.handler or "", code_dir=code_dir, memory_mb=version.memory_size,
            timeout_s=version.timeout, ephemeral_mb=version.ephemeral_storage, environment=dict(version.environment),
            log_group=version.log_group_name, owner=owner, reserved_concurrency=reserved, opt_dir=opt_dir,
        )
        return spec

    def _prepared(self, version: FunctionVersion, reserved: int | None) -> tuple[FunctionVersion, FunctionSpec]:
        """The version to run and its spec, its package unpacked. $LATEST may have been replaced
        (and its old package deleted) between resolving it and getting here: the invocation then
        runs the current $LATEST, as one arriving a moment later would; should that race again,
        it gets AWS's update-in-progress conflict, never a server error."""
        try:
            return version, self._spec(version, reserved)
        except BlobNotFound:
            current = self.store.get_version(version.account_id, version.region, version.name, version.version)
            if current is not None and current.code.blob_key != version.code.blob_key:
                try:
                    return current, self._spec(current, reserved)
                except BlobNotFound:
                    pass
        raise update_in_progress(function_arn(version.region, version.account_id, version.name))

    def run_version(self, version: FunctionVersion, payload: bytes, invoked_arn: str, request_id: str,
                    client_context: str | None = None) -> InvocationResult:
        """Run one invocation now (from a thread); TooManyRequestsException when throttled."""
        from freehold.runtime.launch import LaunchError
        from freehold.runtime.seam import Throttled

        version, invocation = self._invocation(version, payload, invoked_arn, request_id, client_context,
                                               self._reserved(version))
        try:
            result = self.executor.invoke(invocation)
        except Throttled as error:
            raise throttled(error.reason) from None
        except LaunchError as error:
            result = _launch_failure(version, request_id, error)
        return self._ran(version, result)

    async def run_version_here(self, version: FunctionVersion, invocation: Invocation) -> InvocationResult:
        """`run_version` on an event loop, for an invocation `_invocation` prepared."""
        from freehold.runtime.launch import LaunchError
        from freehold.runtime.seam import Throttled

        executor = self._executor or self.executor
        try:
            result = await executor.run(invocation)
        except Throttled as error:
            raise throttled(error.reason) from None
        except LaunchError as error:
            result = _launch_failure(version, invocation.request_id, error)
        return self._ran(version, result)

    def _reserved(self, version: FunctionVersion) -> int | None:
        """The reserved concurrency of the version's function (SQL)."""
        row = self.store.function_row(version.account_id, version.region, version.name)
        return row.reserved_concurrency if row else None

    def _invocation(self, version: FunctionVersion, payload: bytes, invoked_arn: str, request_id: str,
                    client_context: str | None, reserved: int | None) -> tuple[FunctionVersion, Invocation]:
        """What to run (may unpack code); throttled when the function's reserved concurrency
        (`reserved`) is 0."""
        from freehold.runtime.seam import Invocation

        if reserved == 0:
            raise throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        version, spec = self._prepared(version, reserved)
        return version, Invocation(spec, request_id, payload or b"{}", invoked_arn, trace_id(), client_context)

    def _ran(self, version: FunctionVersion, result: InvocationResult) -> InvocationResult:
        self.shipper.ship(LogBatch(version.account_id, version.region, version.log_group_name, result.stream,
                                   result.log, int(time.time() * 1000)))
        return result

    # -- Invoke ---------------------------------------------------------------------------------------
    async def invoke(self, ctx: RequestContext, params: Params) -> Params:
        # The payload arrives as a stream (it is the operation's streaming blob); it is read
        # here, on the event loop, up to the limit, and the invocation runs in a thread.
        asynchronous = params.get("InvocationType") == "Event"
        payload = await _read_payload(params.get("Payload"), asynchronous)
        loop = asyncio.get_running_loop()
        params = {**params, "Payload": payload}
        if self._executor is None:  # made here, on this loop (the gateway's): see `executor`
            await loop.run_in_executor(None, self._zygotes)
            _ = self.executor
        # The lookups (SQL) run in a thread, or here when they cannot block for long (SQLite
        # reads, a small payload, code already unpacked); the invocation itself on this loop.
        prepared: Params | tuple[FunctionVersion, Invocation] | None = None
        if (self.db.inline_writes and len(payload) <= INLINE_PAYLOAD
                and params.get("InvocationType") in (None, "RequestResponse")):
            self._inline.active = True
            try:
                prepared = self._invoke_prepare(ctx, params)
            except _WouldBlock:
                prepared = None
            finally:
                self._inline.active = False
        if prepared is None:
            prepared = await loop.run_in_executor(None, self._invoke_prepare, ctx, params)
        if isinstance(prepared, dict):
            return prepared
        version, invocation = prepared
        result = await self.run_version_here(version, invocation)
        return _invoke_output(version, result, params)

    def _invoke(self, ctx: RequestContext, params: Params) -> Params:
        """Invoke from a thread (in-process calls)."""
        prepared = self._invoke_prepare(ctx, params)
        if isinstance(prepared, dict):
            return prepared
        version, invocation = prepared
        from freehold.runtime.launch import LaunchError
        from freehold.runtime.seam import Throttled

        try:
            result = self.executor.invoke(invocation)
        except Throttled as error:
            raise throttled(error.reason) from None
        except LaunchError as error:
            result = _launch_failure(version, invocation.request_id, error)
        return _invoke_output(version, self._ran(version, result), params)

    def _invoke_prepare(self, ctx: RequestContext, params: Params) -> Params | tuple[FunctionVersion, Invocation]:
        """Checks and lookups of an Invoke: the answer itself (DryRun, Event), or what to run."""
        ref = self.ref(ctx, params)
        invocation_type = params.get("InvocationType") or "RequestResponse"
        payload: bytes = params["Payload"]
        _check_json(payload)
        client_context = _client_context(params.get("ClientContext"))
        version, reserved = self._invoke_target(ref)
        if version.state != "Active":
            raise ServiceError(
                "ResourceConflictException",
                f"The operation cannot be performed at this time. The function is currently in the following "
                f"state: {version.state}", 409, fields={"Type": "User"},
            )
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        request_id = ctx.request_id
        if invocation_type == "Event":
            self._enqueue(ref, version, payload, client_context, request_id)
            return {"StatusCode": 202}
        invoked = ref.qualified_arn if ref.qualifier else ref.arn
        return self._invocation(version, payload, invoked, request_id, client_context, reserved)

    def _invoke_target(self, ref: FunctionRef) -> tuple[FunctionVersion, int | None]:
        """The version an Invoke runs and its function's reserved concurrency: $LATEST or a
        version number in one statement, an alias as `resolve` does."""
        qualifier = ref.qualifier or LATEST
        if qualifier != LATEST and not VERSION_PATTERN.match(qualifier):
            version, _ = self.resolve(ref, route=True)
            return version, self._reserved(version)
        key = (ref.account_id, ref.region, ref.name, qualifier)
        generation = LambdaStore.generation
        if self.db.sole_writer:
            # Valid while no function or version changed since it was read (SQLite: this
            # process is the only writer): a warm Invoke then reads no SQL at all.
            known = self._targets.get(key)
            if known is not None and known[0] == generation:
                return known[1], known[2]
        found = self.store.invoke_target(ref.account_id, ref.region, ref.name, qualifier)
        if found is None:
            version, _ = self.resolve(ref, route=True)  # raises the right not-found error
            return version, self._reserved(version)
        config, reserved = found
        parsed = self._versions.get(config)
        if parsed is None:
            # Parsed once per stored configuration; the invoke path only reads it.
            if len(self._versions) >= SPEC_CACHE:
                self._versions.clear()
            parsed = self._versions[config] = FunctionVersion.from_json(config)
        if self.db.sole_writer:
            if len(self._targets) >= SPEC_CACHE:
                self._targets.clear()
            self._targets[key] = (generation, parsed, reserved)
        return parsed, reserved

    async def invoke_async(self, ctx: RequestContext, params: Params) -> Params:
        payload = await _read_payload(params.get("InvokeArgs"), True)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._invoke_async, ctx, params, payload)

    def _invoke_async(self, ctx: RequestContext, params: Params, payload: bytes) -> Params:
        ref = self.ref(ctx, params)
        version, _ = self.resolve(ref)
        self._enqueue(ref, version, payload, None, ctx.request_id)
        return {"Status": 202}

    def _enqueue(self, ref: FunctionRef, version: FunctionVersion, payload: bytes, client_context: str | None,
                 request_id: str) -> None:
        self.store.enqueue(QueuedInvocation(
            id=request_id, account_id=ref.account_id, region=ref.region, name=ref.name,
            qualifier=ref.qualifier or LATEST, payload=payload, client_context=client_context, attempts=0,
            enqueued_at=time.time(),
        ))
        self.async_invoker.wake()

    # -- queued invocations ---------------------------------------------------------------------------
    def _run_queued(self, item: QueuedInvocation) -> None:
        ref = FunctionRef(item.account_id, item.region, item.name, None if item.qualifier == LATEST else item.qualifier)
        try:
            version, _ = self.resolve(ref, route=True)
        except ServiceError:
            self.store.finish(item.id)  # the function is gone, and its events with it
            return
        config = self._event_config(ref, item.qualifier)
        max_age = config.get("MaximumEventAgeInSeconds", DEFAULT_EVENT_AGE)
        max_retries = config.get("MaximumRetryAttempts", DEFAULT_RETRIES)
        if time.time() - item.enqueued_at > max_age:
            self._give_up(item, version, config, "EventAgeExceeded", None)
            return
        invoked = ref.qualified_arn if ref.qualifier else ref.arn
        try:
            result = self.run_version(version, item.payload, invoked, item.id, item.client_context)
        except ServiceError as error:
            if error.code == "TooManyRequestsException":
                self.store.release(item.id, THROTTLE_DELAY)
                return
            raise
        attempts = item.attempts + 1
        if result.status == "ok":
            self._destination(item, version, config.get("DestinationConfig", {}).get("OnSuccess"), "Success",
                              result, attempts)
            self.store.finish(item.id)
            return
        if attempts > max_retries:
            self._give_up(item, version, config, "RetriesExhausted", result, attempts)
            return
        self.store.retry_later(item.id, attempts, retry_delay(attempts))

    def _give_up(self, item: QueuedInvocation, version: FunctionVersion, config: Params, condition: str,
                 result: InvocationResult | None, attempts: int = 0) -> None:
        on_failure = config.get("DestinationConfig", {}).get("OnFailure")
        if on_failure and on_failure.get("Destination"):
            self._destination(item, version, on_failure, condition, result, attempts)
        elif version.dead_letter_target:
            self._dead_letter(item, version.dead_letter_target, result)
        self.store.finish(item.id)

    def _dead_letter(self, item: QueuedInvocation, target: str, result: InvocationResult | None) -> None:
        """The event itself, with RequestID/ErrorCode/ErrorMessage attributes, as Lambda sends it."""
        message = ""
        if result is not None:
            try:
                message = str(json.loads(result.payload).get("errorMessage", ""))
            except (ValueError, AttributeError):
                message = result.payload.decode(errors="replace")
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": item.id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:1024] or "Unknown"},
        }
        self._deliver(item, target, item.payload.decode(errors="replace"), attributes)

    def _destination(self, item: QueuedInvocation, version: FunctionVersion, destination: Params | None,
                     condition: str, result: InvocationResult | None, attempts: int) -> None:
        if not destination or not destination.get("Destination"):
            return
        record: Params = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(UTC).microsecond // 1000:03d}Z",
            "requestContext": {
                "requestId": item.id, "functionArn": version.qualified_arn,
                "condition": condition, "approximateInvokeCount": attempts,
            },
            "requestPayload": _json_or_text(item.payload),
        }
        if result is not None:
            record["responseContext"] = {"statusCode": 200, "executedVersion": version.version}
            if result.status == "error":
                record["responseContext"]["functionError"] = "Unhandled"
            record["responsePayload"] = _json_or_text(result.payload)
        self._deliver(item, destination["Destination"], json.dumps(record), None)

    def _deliver(self, item: QueuedInvocation, target: str, body: str, attributes: Params | None) -> None:
        ctx = service_context(item.account_id, item.region)
        parts = target.split(":")
        try:
            if target.startswith("arn:aws:sqs:"):
                url = self.call("sqs", ctx, "GetQueueUrl", {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]})
                request: Params = {"QueueUrl": url["QueueUrl"], "MessageBody": body}
                if attributes:
                    request["MessageAttributes"] = attributes
                self.call("sqs", ctx, "SendMessage", request)
            elif target.startswith("arn:aws:sns:"):
                publish: Params = {"TopicArn": target, "Message": body}
                if attributes:
                    publish["MessageAttributes"] = attributes
                self.call("sns", ctx, "Publish", publish)
            elif target.startswith("arn:aws:lambda:"):
                self.call("lambda", ctx, "Invoke", {"FunctionName": target, "InvocationType": "Event",
                                                    "Payload": body.encode()})
        except ServiceError as error:
            # Delivery is at least once on AWS too; a missing target loses the record, logged.
            import logging

            logging.getLogger("freehold.lambda").warning("could not deliver %s to %s: %s", item.id, target, error)

    # -- event invoke configs -------------------------------------------------------------------------
    def _event_config(self, ref: FunctionRef, qualifier: str) -> Params:
        row = self.store.function_row(ref.account_id, ref.region, ref.name)
        configs = (row.event_invoke_config if row else None) or {}
        return dict(configs.get(qualifier) or {})

    def _put_event_config(self, ctx: RequestContext, params: Params, merge: bool) -> Params:
        ref = self.ref(ctx, params)
        self.resolve(ref)
        row = self.function_row(ref)
        configs = dict(row.event_invoke_config or {})
        qualifier = ref.qualifier or LATEST
        current = dict(configs.get(qualifier) or {}) if merge else {}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"):
            if key in params:
                current[key] = params[key]
        for destination in (current.get("DestinationConfig") or {}).values():
            target = (destination or {}).get("Destination", "")
            if target and target.split(":")[2] not in ("sqs", "sns", "lambda", "events"):
                raise ServiceError("InvalidParameterValueException",
                                   f"The destination ARN {target} is invalid.")
        current["LastModified"] = time.time()
        configs[qualifier] = current
        self.store.update_function_row(ref.account_id, ref.region, ref.name, event_invoke_config=configs)
        return self._event_config_output(ref, qualifier, current)

    @staticmethod
    def _event_config_output(ref: FunctionRef, qualifier: str, config: Params) -> Params:
        output = {key: value for key, value in config.items() if key != "LastModified"}
        output["FunctionArn"] = function_arn(ref.region, ref.account_id, ref.name, qualifier)
        output["LastModified"] = datetime.fromtimestamp(config.get("LastModified", time.time()), UTC)
        output.setdefault("DestinationConfig", {"OnSuccess": {}, "OnFailure": {}})
        return output

    def put_function_event_invoke_config(self, ctx: RequestContext, params: Params) -> Params:
        return self._put_event_config(ctx, params, merge=False)

    def update_function_event_invoke_config(self, ctx: RequestContext, params: Params) -> Params:
        return self._put_event_config(ctx, params, merge=True)

    def get_function_event_invoke_config(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        qualifier = ref.qualifier or LATEST
        config = self._event_config(ref, qualifier)
        if not config:
            raise ServiceError(
                "ResourceNotFoundException",
                f"The function {function_arn(ref.region, ref.account_id, ref.name, qualifier)} doesn't have an "
                "EventInvokeConfig", 404, fields={"Type": "User"},
            )
        return self._event_config_output(ref, qualifier, config)

    def delete_function_event_invoke_config(self, ctx: RequestContext, params: Params) -> Params:
        self.get_function_event_invoke_config(ctx, params)
        ref = self.ref(ctx, params)
        row = self.function_row(ref)
        configs = dict(row.event_invoke_config or {})
        configs.pop(ref.qualifier or LATEST, None)
        self.store.update_function_row(ref.account_id, ref.region, ref.name, event_invoke_config=configs)
        return {}

    def list_function_event_invoke_configs(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        row = self.function_row(ref)
        configs = row.event_invoke_config or {}
        return {"FunctionEventInvokeConfigs": [
            self._event_config_output(replace(ref, qualifier=None), q, c) for q, c in sorted(configs.items())]}


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The gateway's loop when called on it; None on a plain thread or on the throwaway loop of
    an in-process call from a background thread (SNS delivering to a function, say), which
    closes as soon as that call returns."""
    from freehold.services.registry import on_transient_loop

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return None if on_transient_loop() else loop


def _invoke_output(version: FunctionVersion, result: InvocationResult, params: Params) -> Params:
    output: Params = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": version.version}
    if result.status == "error":
        output["FunctionError"] = "Unhandled"
    if params.get("LogType") == "Tail":
        tail = result.log.encode()[-limits.TAIL_BYTES:]
        output["LogResult"] = base64.b64encode(tail).decode()
    return output


def _launch_failure(version: FunctionVersion, request_id: str, error: LaunchError) -> InvocationResult:
    """The function cannot start here (no such runtime, no bootstrap): an init error."""
    from freehold.runtime.seam import InvocationResult

    body = json.dumps({"errorType": error.error_type, "errorMessage": error.message}).encode()
    text = (f"START RequestId: {request_id} Version: {version.version}\n{error.message}\n{error.error_type}\n"
            f"END RequestId: {request_id}\n")
    return InvocationResult("error", body, text, error_type=error.error_type,
                            stream=f"{datetime.now(UTC):%Y/%m/%d}/[{version.version}]{uuid.uuid4().hex}")


async def _read_payload(body: Any, asynchronous: bool) -> bytes:
    """A payload given as bytes (in-process calls) or a request stream, within the limit."""
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    elif isinstance(body, str):
        data = body.encode()
    else:
        limit = limits.ASYNC_PAYLOAD_MAX if asynchronous else limits.SYNC_PAYLOAD_MAX
        chunks: list[bytes] = []
        size = 0
        async for chunk in body:
            size += len(chunk)
            if size > limit:
                limits.check_payload(size, asynchronous)
            chunks.append(chunk)
        data = b"".join(chunks)
    limits.check_payload(len(data), asynchronous)
    return data


def _check_json(payload: bytes) -> None:
    if not payload:
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise ServiceError(
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {error}", 400,
            fields={"Type": "User"},
        ) from None


def _client_context(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) > 3583:
        raise ServiceError("InvalidRequestContentException", "Client context must be smaller than 3583 bytes.", 400,
                           fields={"Type": "User"})
    try:
        decoded = base64.b64decode(value, validate=True).decode()
        json.loads(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ServiceError("InvalidRequestContentException",
                           "Client context must be a valid Base64-encoded JSON object.", 400,
                           fields={"Type": "User"}) from None
    return decoded


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data.decode(errors="replace")


__all__ = ["InvokeOps", "function_not_found"]
