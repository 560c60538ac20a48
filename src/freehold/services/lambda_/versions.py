"""Versions and aliases: PublishVersion, ListVersionsByFunction, and the alias operations
(with weighted routing between two versions).

https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html
https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html
"""

from __future__ import annotations

from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.lambda_.lookup import LambdaBase, check_revision, function_not_found, lost_race
from freehold.services.lambda_.models import new_revision
from freehold.services.lambda_.names import LATEST, FunctionRef, check_alias_name, function_arn


def _paginate(items: list[Any], params: Params, marker_key: str = "NextMarker") -> tuple[list[Any], Params]:
    """Marker-based pages over a short list (markers are item positions)."""
    start = int(params["Marker"]) if str(params.get("Marker") or "").isdigit() else 0
    limit = params.get("MaxItems") or 50
    page = items[start:start + limit]
    extra: Params = {}
    if start + limit < len(items):
        extra[marker_key] = str(start + limit)
    return page, extra


class VersionOps(LambdaBase):
    # -- versions --------------------------------------------------------------------------------
    def publish_version(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        latest = self.latest(ref)
        check_revision(latest.revision_id, params.get("RevisionId"))
        if params.get("CodeSha256") and params["CodeSha256"] != latest.code.sha256:
            raise ServiceError(
                "InvalidParameterValueException",
                f"CodeSHA256 ({params['CodeSha256']}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code.sha256}). Please try again with the current CodeSHA256.",
            )
        # Published from $LATEST as it is when the version is numbered, and only if it is still
        # the revision checked above (a concurrent UpdateFunctionCode must not slip in).
        published = self.store.publish(ref.account_id, ref.region, ref.name, latest.revision_id,
                                       params.get("Description"))
        if published is None:
            self.latest(ref)  # deleted meanwhile: its 404, not a conflict
            raise lost_race(ref.arn, params.get("RevisionId"))
        return published.configuration()

    def list_versions_by_function(self, ctx: RequestContext, params: Params) -> Params:
        ref = self.ref(ctx, params)
        self.function_row(ref)
        versions = self.store.list_versions(ref.account_id, ref.region, ref.name)
        page, extra = _paginate([v.configuration() for v in versions], params)
        # ListVersionsByFunction reports $LATEST with its qualified ARN.
        for item in page:
            if item["Version"] == LATEST:
                item["FunctionArn"] = function_arn(ref.region, ref.account_id, ref.name, LATEST)
        return {"Versions": page, **extra}

    # -- aliases ----------------------------------------------------------------------------------
    def _alias_target(self, ref: FunctionRef, version: str, routing: Params | None) -> None:
        if version != LATEST and not version.isdigit():
            raise ServiceError("InvalidParameterValueException", f"Invalid function version {version}.")
        if self.store.get_version(ref.account_id, ref.region, ref.name, version) is None:
            raise function_not_found(function_arn(ref.region, ref.account_id, ref.name, version))
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if len(weights) > 1:
            raise ServiceError(
                "InvalidParameterValueException", "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        for other, weight in weights.items():
            if version == LATEST or other == LATEST:
                raise ServiceError(
                    "InvalidParameterValueException",
                    "$LATEST is not supported for an alias pointing to more than 1 version",
                )
            if other == version:
                raise ServiceError(
                    "InvalidParameterValueException",
                    f"Invalid function version {other}. Function version {other} is already included in "
                    "routing configuration.",
                )
            if not 0.0 <= weight <= 1.0:
                raise ServiceError("InvalidParameterValueException", "Invalid weight: must be between 0 and 1")
            if self.store.get_version(ref.account_id, ref.region, ref.name, other) is None:
                raise function_not_found(function_arn(ref.region, ref.account_id, ref.name, other))

    def _alias_ref(self, ctx: RequestContext, params: Params) -> FunctionRef:
        ref = self.ref(ctx, {"FunctionName": params["FunctionName"]})
        if ref.qualifier is not None:
            raise ServiceError("InvalidParameterValueException", "Unqualified function name expected.")
        self.function_row(ref)
        return ref

    def _alias(self, ref: FunctionRef, name: str) -> dict[str, Any]:
        alias = self.store.get_alias(ref.account_id, ref.region, ref.name, name)
        if alias is None:
            raise ServiceError(
                "ResourceNotFoundException",
                f"Alias not found: {function_arn(ref.region, ref.account_id, ref.name, name)}", 404,
                fields={"Type": "User"},
            )
        return alias

    def create_alias(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._alias_ref(ctx, params)
        check_alias_name(params["Name"])
        self._alias_target(ref, params["FunctionVersion"], params.get("RoutingConfig"))
        alias: dict[str, Any] = {
            "AliasArn": function_arn(ref.region, ref.account_id, ref.name, params["Name"]),
            "Name": params["Name"],
            "FunctionVersion": params["FunctionVersion"],
            "Description": params.get("Description") or "",
            "RevisionId": new_revision(),
        }
        if params.get("RoutingConfig", {}).get("AdditionalVersionWeights"):
            alias["RoutingConfig"] = params["RoutingConfig"]
        if not self.store.put_alias(ref.account_id, ref.region, ref.name, params["Name"], alias, create=True):
            raise ServiceError("ResourceConflictException", f"Alias already exists: {alias['AliasArn']}", 409,
                               fields={"Type": "User"})
        return alias

    def get_alias(self, ctx: RequestContext, params: Params) -> Params:
        return self._alias(self._alias_ref(ctx, params), params["Name"])

    def update_alias(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._alias_ref(ctx, params)
        alias = self._alias(ref, params["Name"])
        check_revision(alias["RevisionId"], params.get("RevisionId"))
        version = params.get("FunctionVersion") or alias["FunctionVersion"]
        routing = params["RoutingConfig"] if "RoutingConfig" in params else alias.get("RoutingConfig")
        self._alias_target(ref, version, routing)
        alias = {**alias, "FunctionVersion": version, "RevisionId": new_revision()}
        if "Description" in params:
            alias["Description"] = params["Description"]
        alias.pop("RoutingConfig", None)
        if routing and routing.get("AdditionalVersionWeights"):
            alias["RoutingConfig"] = routing
        self.store.put_alias(ref.account_id, ref.region, ref.name, params["Name"], alias, create=False)
        self.url_targets.clear()
        wake = getattr(self, "_provision_wake", None)  # an alias moved: re-provision (provisioned.py)
        if wake is not None:
            wake.set()
        return alias

    def delete_alias(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._alias_ref(ctx, params)
        self.store.delete_alias(ref.account_id, ref.region, ref.name, params["Name"])
        self.url_targets.clear()
        return {}

    def list_aliases(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._alias_ref(ctx, params)
        aliases = self.store.list_aliases(ref.account_id, ref.region, ref.name)
        if params.get("FunctionVersion"):
            aliases = [a for a in aliases if a["FunctionVersion"] == params["FunctionVersion"]
                       or params["FunctionVersion"] in (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})]
        page, extra = _paginate(aliases, params)
        return {"Aliases": page, **extra}
