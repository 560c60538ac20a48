"""What every group of Lambda operations shares: the store, the code trees, and finding the
function version a FunctionName (+ Qualifier) designates, with AWS's not-found errors."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Provider, ServiceRuntime
from freehold.services.lambda_ import code as code_packages
from freehold.services.lambda_.code import CodeTrees, trees_in_use
from freehold.services.lambda_.layer_store import LayerStore
from freehold.services.lambda_.models import CodePackage, FunctionVersion
from freehold.services.lambda_.names import LATEST, VERSION_PATTERN, FunctionRef, function_arn, parse_function
from freehold.services.lambda_.store import FunctionRow, LambdaStore


def function_not_found(arn: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Function not found: {arn}", 404, fields={"Type": "User"})


def check_revision(current: str, expected: str | None) -> None:
    if expected is not None and expected != current:
        raise ServiceError(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
            412, fields={"Type": "User"},
        )


def update_in_progress(function_arn: str) -> ServiceError:
    """AWS's answer to a change racing another change of the same function."""
    return ServiceError(
        "ResourceConflictException",
        f"The operation cannot be performed at this time. An update is in progress for resource: {function_arn}",
        409, fields={"Type": "User"},
    )


def lost_race(function_arn: str, expected: str | None) -> ServiceError:
    """The error when $LATEST changed between reading it and writing it back: with a RevisionId
    the caller asked for that revision (412 PreconditionFailed); without one, AWS reports the
    concurrent update (409 ResourceConflictException)."""
    if expected is not None:
        return ServiceError(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
            412, fields={"Type": "User"},
        )
    return update_in_progress(function_arn)


class LambdaBase(Provider):
    """State and lookups shared by the provider's operation groups."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.store = LambdaStore(runtime.db)
        self.layer_store = LayerStore(runtime.db)
        # Function URL targets by url-id (function_urls.py), cleared by every change made here.
        self.url_targets: dict[str, Any] = {}  # url-id -> function_urls.UrlTarget
        # Trees are removed once no live sandbox of the executor (invoke.py) runs with them.
        self.code_trees = CodeTrees(runtime.settings.data_dir / "lambda" / "code", runtime.blobs,
                                    in_use=lambda: trees_in_use(getattr(self, "_executor", None)))

    # -- names -----------------------------------------------------------------------------------
    def ref(self, ctx: RequestContext, params: dict[str, Any], qualifier_key: str = "Qualifier") -> FunctionRef:
        # FunctionName arrives from the URI; ARNs in it may be percent-encoded by some clients.
        return parse_function(unquote(params["FunctionName"]), ctx.account_id, ctx.region, params.get(qualifier_key))

    def function_row(self, ref: FunctionRef) -> FunctionRow:
        row = self.store.function_row(ref.account_id, ref.region, ref.name)
        if row is None:
            raise function_not_found(ref.arn)
        return row

    def latest(self, ref: FunctionRef) -> FunctionVersion:
        version = self.store.get_version(ref.account_id, ref.region, ref.name, LATEST)
        if version is None:
            raise function_not_found(ref.arn)
        return version

    def resolve(self, ref: FunctionRef, route: bool = False) -> tuple[FunctionVersion, str | None]:
        """The version a reference designates, and the alias it went through (if any).

        With `route`, an alias with weighted routing picks one of its versions at random by
        weight, as Invoke does; otherwise the alias's primary version."""
        qualifier = ref.qualifier or LATEST
        alias_name: str | None = None
        if qualifier != LATEST and not VERSION_PATTERN.match(qualifier):
            alias = self.store.get_alias(ref.account_id, ref.region, ref.name, qualifier)
            if alias is None:
                raise function_not_found(ref.qualified_arn)
            alias_name = qualifier
            qualifier = alias["FunctionVersion"]
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            if route and weights:
                draw = random.random()
                for other, weight in weights.items():
                    if draw < weight:
                        qualifier = other
                        break
                    draw -= weight
        version = self.store.get_version(ref.account_id, ref.region, ref.name, qualifier)
        if version is None:
            if self.store.function_row(ref.account_id, ref.region, ref.name) is None:
                raise function_not_found(ref.arn if ref.qualifier in (None, LATEST) else ref.qualified_arn)
            raise function_not_found(ref.qualified_arn)
        return version, alias_name

    def configuration_output(self, version: FunctionVersion) -> dict[str, Any]:
        return version.configuration()

    # -- roles -----------------------------------------------------------------------------------
    def check_role(self, ctx: RequestContext, role_arn: str) -> None:
        """The role must exist and trust lambda.amazonaws.com, as Lambda checks at create time."""
        cannot = ServiceError(
            "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."
        )
        parts = role_arn.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("role/"):
            raise ServiceError(
                "ValidationException",
                f"1 validation error detected: Value '{role_arn}' at 'role' failed to satisfy constraint: "
                r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?"
                r"[a-zA-Z_0-9+=,.@\-_/]+",
            )
        role_name = parts[5].rsplit("/", 1)[-1]
        try:
            role = self.call("iam", replace(ctx, account_id=parts[4]), "GetRole", {"RoleName": role_name})["Role"]
        except ServiceError:
            raise cannot from None
        trust = role.get("AssumeRolePolicyDocument") or ""
        document = json.loads(unquote(trust)) if isinstance(trust, str) else trust
        if "lambda.amazonaws.com" not in json.dumps(document):
            raise cannot

    def unqualified_arn(self, ctx: RequestContext, name: str) -> str:
        return function_arn(ctx.region, ctx.account_id, name)

    # -- code packages -------------------------------------------------------------------------
    def code_package(self, ctx: RequestContext, params: dict[str, Any], operation: str) -> CodePackage:
        """The package from ZipFile, or from S3Bucket/S3Key(/S3ObjectVersion) through S3's API
        (function code and layer content alike)."""
        if params.get("ZipFile") is not None:
            data = params["ZipFile"]
            if isinstance(data, str):
                data = base64.b64decode(data)
            return code_packages.store_zip(self.blobs, data, operation)
        bucket, key = params.get("S3Bucket"), params.get("S3Key")
        if bucket and key:
            request: dict[str, Any] = {"Bucket": bucket, "Key": key}
            if params.get("S3ObjectVersion"):
                request["VersionId"] = params["S3ObjectVersion"]
            try:
                body = self.call("s3", ctx, "GetObject", request)["Body"]
            except ServiceError as error:
                raise ServiceError(
                    "InvalidParameterValueException",
                    f"Error occurred while GetObject. S3 Error Code: {error.code}. S3 Error Message: {error.message}",
                ) from None
            return code_packages.store_zip(self.blobs, read_body(body), operation)
        raise ServiceError(
            "InvalidParameterValueException", "Please provide a source for function code."
        )

    def blob_location(self, ctx: RequestContext, blob_key: str) -> str:
        """A URL freehold serves a stored .zip at (like AWS's presigned S3 URL: knowing it is the
        permission; the blob key in it is random and unguessable)."""
        host = ctx.request.headers.get("host") or f"{self.settings.host}:{self.settings.port}"
        return f"http://{host}/_freehold/lambda/code/{blob_key}.zip"


def read_body(body: Any) -> bytes:
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        try:
            return bytes(body.read())
        finally:
            if hasattr(body, "close"):
                body.close()
    return b"".join(bytes(chunk) for chunk in body)
