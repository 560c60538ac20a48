"""What every family of Logs operations shares: the store, the clock, and finding the log
group a request names (by logGroupName, or by logGroupIdentifier: a name or an ARN)."""

from __future__ import annotations

import time
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.logs.models import LogGroup, check_patterns, group_not_found, invalid, parse_group_arn
from freehold.services.logs.store import LogsStore


def now_ms() -> int:
    return int(time.time() * 1000)


class LogsOperations:
    """Base of the operation mixins that make up the Logs provider."""

    store: LogsStore

    def _check(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        """The model's name patterns, which AWS enforces and the pipeline leaves unchecked."""
        if ctx.operation is not None:
            check_patterns(ctx.operation, params)

    def _group(self, ctx: RequestContext, name: str, *, lock: bool = False) -> LogGroup:
        group = self.store.get_group(ctx.account_id, ctx.region, name, lock=lock)
        if group is None:
            raise group_not_found()
        return group

    def _group_name(self, ctx: RequestContext, params: dict[str, Any]) -> str:
        """The group a request names with logGroupName or logGroupIdentifier (exactly one)."""
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name is not None and identifier is not None:
            raise ServiceError(
                "ValidationException", "LogGroup name and LogGroup ARN are mutually exclusive parameters.", 400
            )
        if name is not None:
            return str(name)
        if identifier is None:
            raise invalid("Either logGroupName or logGroupIdentifier must be specified.")
        if identifier.startswith("arn:"):
            parsed = parse_group_arn(identifier)
            if parsed is None:
                raise invalid(f"Invalid log group identifier: {identifier}")
            region, account_id, group_name = parsed
            if account_id != ctx.account_id or region != ctx.region:
                # Cross-account observability (monitoring accounts) is not offered.
                raise group_not_found()
            return group_name
        return str(identifier)
