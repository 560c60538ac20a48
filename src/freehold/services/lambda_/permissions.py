"""Resource-based policies of functions: AddPermission, RemovePermission, GetPolicy.

A policy belongs to the function ('' qualifier), to a version or to an alias.
https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html
"""

from __future__ import annotations

import json
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.lambda_ import policy
from freehold.services.lambda_.lookup import LambdaBase, check_revision
from freehold.services.lambda_.models import new_revision
from freehold.services.lambda_.names import FunctionRef


class PermissionOps(LambdaBase):
    def _policy_target(self, ctx: RequestContext, params: Params) -> FunctionRef:
        ref = self.ref(ctx, params)
        self.resolve(ref)  # the function, version or alias must exist
        return ref

    def add_permission(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._policy_target(ctx, params)
        qualifier = ref.qualifier or ""
        statement = policy.statement(params, ref.qualified_arn)

        def add(current: tuple[dict[str, Any], str] | None) -> dict[str, Any]:
            document, revision = current if current else (policy.empty_policy(), "")
            if current:
                check_revision(revision, params.get("RevisionId"))
            return policy.add(document, statement)

        self.store.update_policy(ref.account_id, ref.region, ref.name, qualifier, add, new_revision())
        self.url_targets.clear()
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    def remove_permission(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._policy_target(ctx, params)
        qualifier = ref.qualifier or ""

        def remove(current: tuple[dict[str, Any], str] | None) -> dict[str, Any]:
            if current is None:
                raise ServiceError("ResourceNotFoundException", "No policy is associated with the given resource.",
                                   404, fields={"Type": "User"})
            document, revision = current
            check_revision(revision, params.get("RevisionId"))
            return policy.remove(document, params["StatementId"])

        self.store.update_policy(ref.account_id, ref.region, ref.name, qualifier, remove, new_revision())
        self.url_targets.clear()
        return {}

    def get_policy(self, ctx: RequestContext, params: Params) -> Params:
        ref = self._policy_target(ctx, params)
        current = self.store.get_policy(ref.account_id, ref.region, ref.name, ref.qualifier or "")
        if current is None:
            raise ServiceError("ResourceNotFoundException", "The resource you requested does not exist.", 404,
                               fields={"Type": "User"})
        document, revision = current
        return {"Policy": json.dumps(document, separators=(",", ":")), "RevisionId": revision}
