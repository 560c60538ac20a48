"""Lambda layers: PublishLayerVersion, Get/List/Delete, layer version permissions, and the
layers of a function (CreateFunction / UpdateFunctionConfiguration `Layers`), resolved to
their content, which sandboxes see merged under /opt in the order given (later layers win).
A merged tree is removed once no function version uses it (forget_merged_trees).

https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html
https://docs.aws.amazon.com/lambda/latest/api/API_PublishLayerVersion.html
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import partial
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.lambda_ import limits
from freehold.services.lambda_.layer_store import LayerVersionRow
from freehold.services.lambda_.lookup import LambdaBase
from freehold.services.lambda_.models import FunctionVersion, lambda_timestamp, new_revision

log = logging.getLogger("freehold.lambda")

MAX_LAYERS = 5
LAYER_NAME_PATTERN = r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
LAYER_VERSION_ARN_PATTERN = r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"
_LAYER_NAME = re.compile(
    r"^(?:arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:)?(?P<name>[a-zA-Z0-9-_]+)$"
)
_LAYER_VERSION_ARN = re.compile(
    r"^arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9-_]+)"
    r":(?P<version>[0-9]+)$"
)
_PRINCIPAL = re.compile(r"^(\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)$")
_STATEMENT_ID = re.compile(r"^[a-zA-Z0-9-_]+$")
_ORGANIZATION = re.compile(r"^o-[a-z0-9]{10,32}$")


def not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The resource you requested does not exist.", 404,
                        fields={"Type": "User"})


def _invalid(value: str, member: str, pattern: str) -> ServiceError:
    return ServiceError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}",
    )


def may_use(row: LayerVersionRow, account_id: str) -> bool:
    """Whether `account_id` may use a layer version: its own, or granted by the version's policy
    to that account or to everyone. Statements limited to an organization grant nothing here
    (freehold has no AWS Organizations to tell members)."""
    if row.account_id == account_id:
        return True
    for statement in (row.policy or {}).get("Statement", []):
        if statement.get("Condition"):
            continue
        principal = statement.get("Principal")
        if principal == "*" or principal == {"AWS": "*"}:
            return True
        if isinstance(principal, dict) and str(principal.get("AWS", "")).split(":")[4:5] == [account_id]:
            return True
    return False


class LayerOps(LambdaBase):
    sandbox_owner: Callable[[FunctionVersion], tuple[int, int] | None]  # invoke.py

    # -- names -------------------------------------------------------------------------------------
    def _layer(self, ctx: RequestContext, params: Params) -> tuple[str, str, str]:
        """(account, region, layer name) of a LayerName that is a name or a layer ARN."""
        value = str(params["LayerName"])
        match = _LAYER_NAME.match(value)
        if match is None or len(match.group("name")) > 140:
            raise _invalid(value, "layerName", LAYER_NAME_PATTERN)
        return (match.group("account") or ctx.account_id, match.group("region") or ctx.region, match.group("name"))

    def _version(self, ctx: RequestContext, account: str, region: str, name: str, number: int) -> LayerVersionRow:
        row = self.layer_store.get(account, region, name, number)
        if row is None or not may_use(row, ctx.account_id):
            raise not_found()
        return row

    def _output(self, ctx: RequestContext, row: LayerVersionRow, content: bool = True) -> Params:
        document = row.document
        output: Params = {"LayerVersionArn": row.version_arn, "Version": row.version,
                          "Description": document.get("Description", ""), "CreatedDate": document["CreatedDate"]}
        if content:
            output["Content"] = {"Location": self.blob_location(ctx, row.code_blob),
                                 "CodeSha256": document["CodeSha256"], "CodeSize": document["CodeSize"]}
            output["LayerArn"] = row.layer_arn
        for key in ("CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
            if document.get(key):
                output[key] = document[key]
        return output

    # -- operations ----------------------------------------------------------------------------------
    def publish_layer_version(self, ctx: RequestContext, params: Params) -> Params:
        account, region, name = self._layer(ctx, params)
        if (account, region) != (ctx.account_id, ctx.region):
            raise ServiceError("AccessDeniedException",
                               f"User is not authorized to publish a version of layer {params['LayerName']}", 403)
        package = self.code_package(ctx, params["Content"], "PublishLayerVersion")
        document: Params = {
            "Description": params.get("Description") or "", "CreatedDate": lambda_timestamp(),
            "CodeSha256": package.sha256, "CodeSize": package.size, "UnzippedSize": package.unzipped_size,
        }
        for key in ("CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
            if params.get(key):
                document[key] = params[key]
        row = self.layer_store.publish(account, region, name, document, package.blob_key)
        return self._output(ctx, row)

    def get_layer_version(self, ctx: RequestContext, params: Params) -> Params:
        account, region, name = self._layer(ctx, params)
        return self._output(ctx, self._version(ctx, account, region, name, int(params["VersionNumber"])))

    def get_layer_version_by_arn(self, ctx: RequestContext, params: Params) -> Params:
        match = _LAYER_VERSION_ARN.match(str(params["Arn"]))
        if match is None:
            raise _invalid(str(params["Arn"]), "arn", LAYER_VERSION_ARN_PATTERN)
        row = self._version(ctx, match.group("account"), match.group("region"), match.group("name"),
                            int(match.group("version")))
        return self._output(ctx, row)

    def list_layer_versions(self, ctx: RequestContext, params: Params) -> Params:
        account, region, name = self._layer(ctx, params)
        rows = [row for row in self.layer_store.versions(account, region, name)
                if _compatible(row, params) and may_use(row, ctx.account_id)]
        page, marker = _page(rows, params, lambda row: str(row.version))
        output: Params = {"LayerVersions": [self._output(ctx, row, content=False) for row in page]}
        if marker:
            output["NextMarker"] = marker
        return output

    def list_layers(self, ctx: RequestContext, params: Params) -> Params:
        latest: dict[str, LayerVersionRow] = {}
        for row in self.layer_store.versions(ctx.account_id, ctx.region):
            if row.layer_name not in latest and _compatible(row, params):
                latest[row.layer_name] = row  # versions come newest first
        page, marker = _page(list(latest.values()), params, lambda row: row.layer_name)
        output: Params = {"Layers": [
            {"LayerName": row.layer_name, "LayerArn": row.layer_arn,
             "LatestMatchingVersion": self._output(ctx, row, content=False)} for row in page]}
        if marker:
            output["NextMarker"] = marker
        return output

    def delete_layer_version(self, ctx: RequestContext, params: Params) -> Params:
        # Deleting a version that does not exist succeeds, as on AWS.
        account, region, name = self._layer(ctx, params)
        if (account, region) == (ctx.account_id, ctx.region):
            orphan = self.layer_store.delete(account, region, name, int(params["VersionNumber"]))
            if orphan is not None:
                self.blobs.delete(orphan)
        return {}

    # -- permissions ---------------------------------------------------------------------------------
    def _own_version(self, ctx: RequestContext, params: Params) -> LayerVersionRow:
        account, region, name = self._layer(ctx, params)
        row = self.layer_store.get(account, region, name, int(params["VersionNumber"]))
        if row is None or row.account_id != ctx.account_id:
            raise not_found()
        return row

    def _change_policy(self, ctx: RequestContext, params: Params,
                       change: Callable[[LayerVersionRow], tuple[Params | None, str | None]]) -> None:
        """Run `change` on the version's policy as stored now, in one transaction with the
        version's row locked: Terraform adds a layer's permissions in parallel, and each call
        must see the statements the others added (check RevisionId, duplicate statement ids)
        instead of overwriting them or failing on a revision it was never given."""
        account, region, name = self._layer(ctx, params)
        if account != ctx.account_id:
            raise not_found()  # another account's layer: only its owner manages its policy
        if self.layer_store.update_policy(account, region, name, int(params["VersionNumber"]), change) is None:
            raise not_found()

    def add_layer_version_permission(self, ctx: RequestContext, params: Params) -> Params:
        if not _STATEMENT_ID.match(params["StatementId"]) or len(params["StatementId"]) > 100:
            raise _invalid(params["StatementId"], "statementId", "([a-zA-Z0-9-_]+)")
        if params["Action"] != "lambda:GetLayerVersion":
            raise _invalid(params["Action"], "action", "lambda:GetLayerVersion")
        if not _PRINCIPAL.match(params["Principal"]):
            raise _invalid(params["Principal"], "principal", r"\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root")
        organization = params.get("OrganizationId")
        if organization is not None and not _ORGANIZATION.match(organization):
            raise _invalid(organization, "organizationId", "o-[a-z0-9]{10,32}")
        principal = params["Principal"]
        statement: Params = {
            "Sid": params["StatementId"], "Effect": "Allow",
            "Principal": "*" if principal == "*" else {
                "AWS": principal if principal.startswith("arn:") else f"arn:aws:iam::{principal}:root"},
            "Action": "lambda:GetLayerVersion",
        }
        if organization:
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization}}
        revision = new_revision()

        def add(row: LayerVersionRow) -> tuple[Params | None, str | None]:
            # A RevisionId given for a version without a policy matches nothing.
            check_policy_revision(row.policy_revision or "", params.get("RevisionId"))
            statement["Resource"] = row.version_arn
            policy = row.policy or {"Version": "2012-10-17", "Id": "default", "Statement": []}
            if any(existing.get("Sid") == statement["Sid"] for existing in policy["Statement"]):
                raise ServiceError(
                    "ResourceConflictException",
                    f"The statement id ({statement['Sid']}) provided already exists. Please provide a new statement "
                    "id, or remove the existing statement.", 409, fields={"Type": "User"},
                )
            return {**policy, "Statement": [*policy["Statement"], statement]}, revision

        self._change_policy(ctx, params, add)
        return {"Statement": json.dumps(statement, separators=(",", ":")), "RevisionId": revision}

    def remove_layer_version_permission(self, ctx: RequestContext, params: Params) -> Params:
        sid = params["StatementId"]

        def remove(row: LayerVersionRow) -> tuple[Params | None, str | None]:
            if row.policy is None:
                raise ServiceError("ResourceNotFoundException", "No policy is associated with the given resource.",
                                   404, fields={"Type": "User"})
            check_policy_revision(row.policy_revision or "", params.get("RevisionId"))
            remaining = [s for s in row.policy["Statement"] if s.get("Sid") != sid]
            if len(remaining) == len(row.policy["Statement"]):
                raise ServiceError("ResourceNotFoundException", f"Statement {sid} is not found in resource policy.",
                                   404, fields={"Type": "User"})
            # The last statement gone, the version has no policy (GetLayerVersionPolicy: 404).
            return ({**row.policy, "Statement": remaining}, new_revision()) if remaining else (None, None)

        self._change_policy(ctx, params, remove)
        return {}

    def get_layer_version_policy(self, ctx: RequestContext, params: Params) -> Params:
        row = self._own_version(ctx, params)
        if row.policy is None:
            raise ServiceError("ResourceNotFoundException", "No policy is associated with the given resource.", 404,
                               fields={"Type": "User"})
        return {"Policy": json.dumps(row.policy, separators=(",", ":")), "RevisionId": row.policy_revision}

    # -- a function's layers ---------------------------------------------------------------------------
    def function_layers(self, ctx: RequestContext, arns: list[str],
                        code_unzipped: int | None) -> list[dict[str, Any]]:
        """Resolve a function's Layers to their content, with AWS's errors: at most 5, each an
        existing version the function's account may use, no layer twice, and code plus layers
        within the unzipped size limit (checked later by the caller when the code's size is
        not known yet: None)."""
        if len(arns) > MAX_LAYERS:
            raise ServiceError("InvalidParameterValueException", f"Cannot reference more than {MAX_LAYERS} layers.")
        resolved: list[dict[str, Any]] = []
        seen: dict[str, str] = {}
        for arn in arns:
            match = _LAYER_VERSION_ARN.match(arn)
            if match is None or len(arn) > 140:
                raise ServiceError(
                    "ValidationException",
                    f"1 validation error detected: Value '[{', '.join(arns)}]' at 'layers' failed to satisfy "
                    "constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, "
                    "Member must have length greater than or equal to 1, Member must satisfy regular expression "
                    f"pattern: {LAYER_VERSION_ARN_PATTERN}]",
                )
            layer = arn.rsplit(":", 1)[0]
            if layer in seen:
                raise ServiceError(
                    "InvalidParameterValueException",
                    "Two different versions of the same layer are not allowed to be referenced in the same "
                    f"function. {seen[layer]} and {arn} are versions of the same layer.",
                )
            seen[layer] = arn
            row = self.layer_store.get(match.group("account"), match.group("region"), match.group("name"),
                                       int(match.group("version")))
            if row is None or match.group("region") != ctx.region:
                raise ServiceError("InvalidParameterValueException", f"Layer version {arn} does not exist.")
            if not may_use(row, ctx.account_id):
                raise ServiceError(
                    "AccessDeniedException",
                    f"User: arn:aws:iam::{ctx.account_id}:root is not authorized to perform: lambda:GetLayerVersion "
                    f"on resource: {arn} because no resource-based policy allows the lambda:GetLayerVersion action",
                    403,
                )
            resolved.append({"Arn": arn, "CodeSize": row.document["CodeSize"], "Blob": row.code_blob,
                             "UnzippedSize": row.document.get("UnzippedSize", 0)})
        if code_unzipped is not None:
            check_total_size(code_unzipped, resolved)
        return resolved

    # -- merged /opt trees ---------------------------------------------------------------------------
    def _merged_name(self, version: FunctionVersion) -> str:
        return self.code_trees.merged_name([layer["Blob"] for layer in version.layer_code],
                                           self.sandbox_owner(version))

    def forget_merged_trees(self, versions: list[FunctionVersion]) -> None:
        """Remove the merged /opt trees of function versions just deleted or replaced when no
        version uses them any more (CodeTrees.remove waits for sandboxes still running with
        them). Whether a tree is needed is asked again just before it goes: a function
        configured meanwhile with the same layers keeps it."""
        names: dict[str, str] = {}
        for version in versions:
            if version.layer_code:
                names.setdefault(self._merged_name(version), version.layer_code[0]["Blob"])
        for name, first_blob in names.items():
            if self.code_trees.path(name).is_dir() or name in self.code_trees.pending:
                self.code_trees.remove(name, partial(self._merged_tree_used, name, first_blob))

    def forget_unused_trees(self) -> None:
        """At start: remove the trees no version uses that an earlier run left behind (a removal
        still waiting for a sandbox when the node stopped or crashed), through the same path."""
        try:
            names = [path.name for path in self.code_trees.root.iterdir() if not path.name.startswith(".")] \
                if self.code_trees.root.is_dir() else []
            merged = self._merged_names() if any(name.startswith("opt-") for name in names) else set()
            for name in names:
                if name.startswith("opt-"):
                    if name not in merged:
                        self.code_trees.remove(name, partial(self._merged_name_used, name))
                elif not self.layer_store.code_blob_used(name):
                    self.code_trees.remove(name, partial(self.layer_store.code_blob_used, name))
        except Exception:  # the node stopping meanwhile, or a tree it cannot read: tried next start
            log.exception("lambda: removing trees left by an earlier run failed")

    def _merged_names(self) -> set[str]:
        return {self._merged_name(version) for version in self.layer_store.function_versions_with_layers()}

    def _merged_name_used(self, name: str) -> bool:
        return name in self._merged_names()

    def _merged_tree_used(self, name: str, first_blob: str) -> bool:
        return any(version.layer_code and self._merged_name(version) == name
                   for version in self.layer_store.function_versions_using(first_blob))


def check_total_size(code_unzipped: int, layers: list[dict[str, Any]]) -> None:
    total = code_unzipped + sum(int(layer.get("UnzippedSize", 0)) for layer in layers)
    if layers and total > limits.UNZIPPED_MAX:
        raise ServiceError(
            "InvalidParameterValueException",
            f"Function code combined with layers exceeds the maximum allowed size of {limits.UNZIPPED_MAX} bytes. "
            f"The actual size is {total} bytes.",
        )


def check_policy_revision(current: str, expected: str | None) -> None:
    """A stale RevisionId: AWS's 412, which names the layer's own API to read the current one."""
    if expected is not None and expected != current:
        raise ServiceError(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetLayerVersionPolicy API to retrieve the latest Revision Id", 412, fields={"Type": "User"},
        )


def _compatible(row: LayerVersionRow, params: Params) -> bool:
    """ListLayers/ListLayerVersions filters: only versions that declare the runtime/architecture."""
    runtime, architecture = params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
    if runtime and runtime not in (row.document.get("CompatibleRuntimes") or []):
        return False
    return not (architecture and architecture not in (row.document.get("CompatibleArchitectures") or []))


def _page(rows: list[LayerVersionRow], params: Params, key: Any) -> tuple[list[LayerVersionRow], str | None]:
    """Marker pages: the marker is the key of the last item given (versions or layer names)."""
    limit = params.get("MaxItems") or 50
    if not 1 <= limit <= 50:
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{limit}' at 'maxItems' failed to satisfy constraint: "
            "Member must have value " + ("greater than or equal to 1" if limit < 1 else "less than or equal to 50"),
        )
    marker = params.get("Marker")
    if marker:
        keys = [key(row) for row in rows]
        if marker not in keys:
            raise ServiceError("InvalidParameterValueException", "Invalid marker: " + marker)
        rows = rows[keys.index(marker) + 1:]
    page = rows[:limit]
    return page, key(page[-1]) if len(rows) > limit else None
