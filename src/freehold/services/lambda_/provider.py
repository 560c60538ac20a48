"""The Lambda provider: functions (create, read, list, update, delete), tags, concurrency and
account settings here; versions and aliases, permissions and invocation in their own modules,
mixed into one class. Functions execute in sandboxes (freehold.runtime)."""

from __future__ import annotations

import base64
import threading
from dataclasses import replace
from typing import Any, ClassVar

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params, ServiceRuntime
from freehold.services.lambda_ import limits
from freehold.services.lambda_.function_urls import FunctionUrlOps
from freehold.services.lambda_.layers import LayerOps, check_total_size
from freehold.services.lambda_.lookup import check_revision, function_not_found, lost_race
from freehold.services.lambda_.models import (
    CodePackage,
    FunctionVersion,
    apply_configuration,
    check_package,
    lambda_timestamp,
    new_revision,
)
from freehold.services.lambda_.names import LATEST, check_new_function_name, parse_resource_arn
from freehold.services.lambda_.permissions import PermissionOps
from freehold.services.lambda_.provisioned import ProvisionedOps
from freehold.services.lambda_.pollers import PollerOps
from freehold.services.lambda_.streaming import StreamingInvokeOps
from freehold.services.lambda_.versions import VersionOps
from freehold.state.blobs import BlobNotFound

MAX_ITEMS_DEFAULT = 50


class LambdaProvider(VersionOps, PermissionOps, PollerOps, LayerOps, ProvisionedOps, FunctionUrlOps,
                     StreamingInvokeOps):
    service: ClassVar[str] = "lambda"
    partial: ClassVar[dict[str, str]] = {
        "CreateFunction": "zip packages only (container images are refused); VpcConfig, FileSystemConfigs, "
                          "KMSKeyArn, SnapStart and CodeSigningConfigArn are recorded or ignored, not applied; "
                          "the role's trust policy is checked for lambda.amazonaws.com, not evaluated",
        "GetFunction": "the code Location is a freehold URL that does not expire",
        "CreateEventSourceMapping": "SQS queues and DynamoDB streams only (Kinesis, Kafka, MQ, DocumentDB are "
                                    "refused); a LATEST "
                                    "position taken before any record was processed is not kept across restarts; "
                                    "Tags, ScalingConfig, ParallelizationFactor and TumblingWindowInSeconds are "
                                    "recorded, not applied",
        "UpdateEventSourceMapping": "as CreateEventSourceMapping",
        "CreateFunctionUrlConfig": "URLs are http://<url-id>.lambda-url.<region>.localhost:<port>/ (any host "
                                   "starting <url-id>.lambda-url.<region>. reaches them); InvokeMode RESPONSE_STREAM "
                                   "streams (bandwidth not limited); AWS_IAM callers of the function's own account "
                                   "are allowed without evaluating their identity policies",
        "UpdateFunctionUrlConfig": "as CreateFunctionUrlConfig",
        "AddLayerVersionPermission": "statements limited to an OrganizationId are stored but grant nothing "
                                     "(freehold has no AWS Organizations to tell members)",
        "Invoke": "X-Amz-Function-Error is always Unhandled (as AWS reports every runtime error today); "
                  "no X-Ray tracing",
        "InvokeWithResponseStream": "InvokeComplete's ErrorCode/ErrorDetails are the function's errorType/"
                                    "errorMessage; streamed responses are cut at 20 MB (AWS's soft limit), "
                                    "bandwidth is not limited; no X-Ray tracing",
    }

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)

    def start(self) -> None:
        self.store.migrate()
        self.start_execution()
        self.start_pollers()
        self.start_provisioning()
        # Trees an earlier run left behind (layers.py), off the start-up path.
        threading.Thread(target=self.forget_unused_trees, name="freehold-lambda-trees-sweep", daemon=True).start()

    def stop(self) -> None:
        self.stop_provisioning()
        self.stop_pollers()
        self.stop_execution()
        self.code_trees.sweep()  # removals that waited for sandboxes: none is left running now

    def reset(self) -> None:
        self.reset_provisioning()
        self.reset_execution()

    # -- functions -------------------------------------------------------------------------------
    def create_function(self, ctx: RequestContext, params: Params) -> Params:
        name = check_new_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        check_package(params, params.get("Runtime"), params.get("Handler"))
        limits.check_ranges(params)
        limits.check_environment(params.get("Environment"))
        if self.store.function_row(ctx.account_id, ctx.region, name) is not None:
            raise ServiceError("ResourceConflictException", f"Function already exist: {name}", 409,
                               fields={"Type": "User"})
        self.check_role(ctx, params["Role"])
        layers = self.function_layers(ctx, list(params.get("Layers") or []), None)
        package = self.code_package(ctx, params["Code"], "CreateFunction")
        try:
            check_total_size(package.unzipped_size, layers)
        except ServiceError:
            self.blobs.delete(package.blob_key)
            raise
        latest = apply_configuration(
            FunctionVersion(ctx.account_id, ctx.region, name, LATEST, params["Runtime"], params["Role"],
                            params["Handler"], package, layers=[layer["Arn"] for layer in layers],
                            layer_code=layers),
            params,
        )
        if not self.store.create_function(latest, dict(params.get("Tags") or {}), bool(params.get("Publish"))):
            self.blobs.delete(package.blob_key)
            raise ServiceError("ResourceConflictException", f"Function already exist: {name}", 409,
                               fields={"Type": "User"})
        # The package is unpacked before answering, so the function is Active as soon as a
        # client polls; the answer itself reports the Pending state AWS reports at creation
        # (the function_active waiters then see Active on their first poll).
        self._unpack(latest)
        output = latest.configuration()
        output.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
        return output

    def get_function(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        version, _ = self.resolve(ref)
        row = self.function_row(ref)
        output: Params = {
            "Configuration": version.configuration(),
            "Code": {"RepositoryType": "S3", "Location": self.code_location(ctx, version)},
        }
        if row.tags:
            output["Tags"] = dict(row.tags)
        if row.reserved_concurrency is not None:
            output["Concurrency"] = {"ReservedConcurrentExecutions": row.reserved_concurrency}
        return output

    def code_location(self, ctx: RequestContext, version: FunctionVersion) -> str:
        return self.blob_location(ctx, version.code.blob_key)

    def get_function_configuration(self, ctx: RequestContext, params: Params) -> Params:
        version, _ = self.resolve(self.ref(ctx, params))
        return version.configuration()

    def list_functions(self, ctx: RequestContext, params: Params) -> Params:
        limit = params.get("MaxItems") or MAX_ITEMS_DEFAULT
        if not 1 <= limit <= 10000:
            raise ServiceError(
                "ValidationException",
                f"1 validation error detected: Value '{limit}' at 'maxItems' failed to satisfy constraint: "
                "Member must have value less than or equal to 10000",
            )
        marker = _decode_marker(params.get("Marker"))
        all_versions = params.get("FunctionVersion") == "ALL"
        versions = self.store.list_functions(ctx.account_id, ctx.region, marker, limit + 1, all_versions)
        output: Params = {"Functions": [v.configuration() for v in versions[:limit]]}
        if len(versions) > limit:
            last = versions[limit - 1]
            output["NextMarker"] = _encode_marker(f"{last.name}\x00{0 if last.version == LATEST else last.version}")
        return output

    def update_function_code(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        latest = self.latest(ref)
        check_revision(latest.revision_id, params.get("RevisionId"))
        if params.get("ImageUri"):
            check_package({"PackageType": "Image"}, latest.runtime, latest.handler)
        if params.get("Architectures"):
            latest = apply_configuration(latest, {"Architectures": params["Architectures"]})
        package = self.code_package(ctx, params, "UpdateFunctionCode")
        try:
            check_total_size(package.unzipped_size, latest.layer_code)
        except ServiceError:
            self.blobs.delete(package.blob_key)
            raise
        if params.get("DryRun"):
            self.blobs.delete(package.blob_key)
            return latest.configuration()
        updated = _updated(latest, code=package)
        change = self.store.replace_latest(updated, latest.revision_id, publish=bool(params.get("Publish")))
        if change is None:
            self.blobs.delete(package.blob_key)
            self.latest(ref)  # deleted meanwhile: its 404, not a conflict
            raise lost_race(ref.arn, params.get("RevisionId"))
        self._forget_code(change.orphans)
        self.url_targets.clear()
        self._unpack(updated)
        if change.published is not None:
            return change.published.configuration()
        output = updated.configuration()
        output.update(LastUpdateStatus="InProgress", LastUpdateStatusReason="The function is being created.",
                      LastUpdateStatusReasonCode="Creating")
        return output

    def update_function_configuration(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        latest = self.latest(ref)
        check_revision(latest.revision_id, params.get("RevisionId"))
        if params.get("Role"):
            self.check_role(ctx, params["Role"])
        updated = _updated(apply_configuration(latest, params))
        if "Layers" in params:
            layers = self.function_layers(ctx, list(params["Layers"] or []), latest.code.unzipped_size)
            updated = replace(updated, layers=[layer["Arn"] for layer in layers], layer_code=layers)
        change = self.store.replace_latest(updated, latest.revision_id)
        if change is None:
            self.latest(ref)  # deleted meanwhile: its 404, not a conflict
            raise lost_race(ref.arn, params.get("RevisionId"))
        self._forget_code(change.orphans)  # none: the code is unchanged
        self._forget_layers([latest])
        self.url_targets.clear()
        output = updated.configuration()
        output.update(LastUpdateStatus="InProgress")
        return output

    def delete_function(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        self.function_row(ref)
        if ref.qualifier == LATEST:
            raise ServiceError(
                "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function."
            )
        if ref.qualifier is not None:
            if not ref.qualifier.isdigit():
                raise ServiceError(
                    "InvalidParameterValueException",
                    "Deletion of aliases is not supported by DeleteFunction. Use DeleteAlias instead.",
                )
            using = [a["Name"] for a in self.store.list_aliases(ref.account_id, ref.region, ref.name)
                     if a["FunctionVersion"] == ref.qualifier]
            if using:
                raise ServiceError(
                    "ResourceConflictException",
                    f"Unable to delete version because the following aliases reference it: {using}", 409,
                    fields={"Type": "User"},
                )
            gone = [v for v in [self.store.get_version(ref.account_id, ref.region, ref.name, ref.qualifier)] if v]
            orphans = self.store.delete_version(ref.account_id, ref.region, ref.name, ref.qualifier)
        else:
            gone = self.store.list_versions(ref.account_id, ref.region, ref.name)
            orphans = self.store.delete_function(ref.account_id, ref.region, ref.name)
            self.forget_function(ref.arn)
        self._forget_code(orphans)
        self._forget_layers(gone)
        self.url_targets.clear()
        return {}

    def _forget_code(self, orphans: list[str]) -> None:
        """Drop packages' blobs and unpacked trees. The store decided, in the transaction that
        removed the last reference, that no version uses them; none can use them again (a
        version only copies the blob $LATEST holds), so this runs after the commit."""
        for blob_key in orphans:
            self.blobs.delete(blob_key)
            self.code_trees.remove(blob_key)

    def _forget_layers(self, versions: list[FunctionVersion]) -> None:
        """Delete the content of layer versions that were deleted while these function versions
        used them, once nothing uses it any more."""
        for blob in {layer["Blob"] for version in versions for layer in version.layer_code}:
            if self.layer_store.unused(blob):
                self.blobs.delete(blob)
        self.forget_merged_trees(versions)  # their merged /opt trees, when no version uses them (layers.py)

    def _unpack(self, version: FunctionVersion) -> None:
        """Unpack a version's package ahead of its first invocation. A concurrent update may
        already have replaced this $LATEST and deleted its package: then there is nothing left
        to prepare (invocations unpack the code they run on first use anyway)."""
        try:
            self.code_trees.ensure(version.code.blob_key, self.sandbox_owner(version))
        except BlobNotFound:
            pass

    # -- tags --------------------------------------------------------------------------------------
    def _tagged(self, ctx: RequestContext, arn: str) -> tuple[Any, dict[str, str]]:
        ref = parse_resource_arn(arn, ctx.account_id, ctx.region)
        row = self.store.function_row(ref.account_id, ref.region, ref.name)
        if row is None:
            raise function_not_found(ref.arn)
        return ref, row.tags

    def tag_resource(self, ctx: RequestContext, params: Params) -> Params:
        ref, tags = self._tagged(ctx, params["Resource"])
        tags = {**tags, **params["Tags"]}
        if len(tags) > 50:
            raise ServiceError("InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
        self.store.update_function_row(ref.account_id, ref.region, ref.name, tags=tags)
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Params:
        ref, tags = self._tagged(ctx, params["Resource"])
        remaining = {k: v for k, v in tags.items() if k not in set(params["TagKeys"])}
        self.store.update_function_row(ref.account_id, ref.region, ref.name, tags=remaining)
        return {}

    def list_tags(self, ctx: RequestContext, params: Params) -> Params:
        _, tags = self._tagged(ctx, params["Resource"])
        return {"Tags": dict(tags)}

    # -- settings freehold reports as AWS's defaults ----------------------------------------------------
    def get_function_code_signing_config(self, ctx: RequestContext, params: Params) -> Params:
        # No code signing configurations exist here (CreateCodeSigningConfig answers 501):
        # a function has none, which AWS reports with an empty ARN.
        ref = self.ref(ctx, params)
        self.function_row(ref)
        return {"CodeSigningConfigArn": "", "FunctionName": ref.name}

    def get_function_recursion_config(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        self.function_row(ref)
        return {"RecursiveLoop": "Terminate"}  # AWS's default: recursive loops are stopped

    # -- concurrency and account ---------------------------------------------------------------------
    def put_function_concurrency(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        row = self.function_row(ref)
        wanted = params["ReservedConcurrentExecutions"]
        _, _, reserved = self.store.account_usage(ctx.account_id, ctx.region)
        others = reserved - (row.reserved_concurrency or 0)
        if limits.ACCOUNT_CONCURRENCY - others - wanted < limits.UNRESERVED_MIN:
            raise ServiceError(
                "InvalidParameterValueException",
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{limits.UNRESERVED_MIN}].",
            )
        self.store.update_function_row(ref.account_id, ref.region, ref.name, reserved_concurrency=wanted)
        return {"ReservedConcurrentExecutions": wanted}

    def get_function_concurrency(self, ctx: RequestContext, params: Params) -> Params:
        row = self.function_row(self.ref(ctx, params))
        if row.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": row.reserved_concurrency}

    def delete_function_concurrency(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        self.function_row(ref)
        self.store.update_function_row(ref.account_id, ref.region, ref.name, reserved_concurrency=None)
        return {}

    def get_account_settings(self, ctx: RequestContext, params: Params) -> Params:
        count, size, reserved = self.store.account_usage(ctx.account_id, ctx.region)
        # Layer archives count toward the code storage, as on AWS.
        size += sum(int(row.document.get("CodeSize", 0)) for row in self.layer_store.versions(ctx.account_id, ctx.region))
        return {
            "AccountLimit": {
                "TotalCodeSize": limits.TOTAL_CODE_STORAGE,
                "CodeSizeUnzipped": limits.UNZIPPED_MAX,
                "CodeSizeZipped": limits.ZIP_MAX,
                "ConcurrentExecutions": limits.ACCOUNT_CONCURRENCY,
                "UnreservedConcurrentExecutions": limits.ACCOUNT_CONCURRENCY - reserved,
            },
            "AccountUsage": {"TotalCodeSize": size, "FunctionCount": count},
        }


def _updated(version: FunctionVersion, **changes: Any) -> FunctionVersion:
    return replace(version, last_modified=lambda_timestamp(), revision_id=new_revision(), **changes)


def _encode_marker(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _decode_marker(marker: str | None) -> str:
    if not marker:
        return ""
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ServiceError("InvalidParameterValueException", "Invalid marker: " + marker) from None
