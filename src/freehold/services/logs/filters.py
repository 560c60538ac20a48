"""Metric filters and subscription filters: stored, listed, deleted, and their patterns
checked (TestMetricFilter evaluates one). What they feed is not produced yet: metric filters
publish no CloudWatch metrics and subscription filters deliver no events (see the provider's
`partial` notes)."""

from __future__ import annotations

from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.logs import tokens
from freehold.services.logs.filter_pattern import ELLIPSIS, compile_pattern, message_fields
from freehold.services.logs.lookup import LogsOperations, now_ms
from freehold.services.logs.models import invalid

METRIC_FILTERS = "logs_metric_filters"
SUBSCRIPTION_FILTERS = "logs_subscription_filters"
# Quotas: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html
MAX_METRIC_FILTERS = 100
MAX_SUBSCRIPTION_FILTERS = 2


def _limit_exceeded() -> ServiceError:
    return ServiceError("LimitExceededException", "Resource limit exceeded.")


class FilterOperations(LogsOperations):
    # -- metric filters ----------------------------------------------------------------------------
    def put_metric_filter(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        compile_pattern(params["filterPattern"])
        with self.store.db.transaction():
            group = self._group(ctx, params["logGroupName"], lock=True)
            self._check_quota(METRIC_FILTERS, group.group_id, params["filterName"], MAX_METRIC_FILTERS)
            body = {
                "metricTransformations": params["metricTransformations"],
                "applyOnTransformedLogs": bool(params.get("applyOnTransformedLogs")),
            }
            for optional in ("fieldSelectionCriteria", "emitSystemFieldDimensions"):
                if params.get(optional) is not None:
                    body[optional] = params[optional]
            self.store.put_filter(
                METRIC_FILTERS, group.group_id, params["filterName"], params["filterPattern"], now_ms(), body
            )
        return {}

    def delete_metric_filter(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, params["logGroupName"])
        if not self.store.delete_filter(METRIC_FILTERS, group.group_id, params["filterName"]):
            raise ServiceError("ResourceNotFoundException", "The specified metric filter does not exist.")
        return {}

    def describe_metric_filters(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        if (params.get("metricName") is None) != (params.get("metricNamespace") is None):
            raise invalid("metricName and metricNamespace must be specified together.")
        entries = self._list(ctx, METRIC_FILTERS, params, "metric-filters")
        filters: list[dict[str, Any]] = []
        for group_name, name, pattern, created, body in entries[0]:
            filters.append({
                "filterName": name, "filterPattern": pattern, "creationTime": created, "logGroupName": group_name,
                **body,
            })
        if params.get("metricName") is not None:
            filters = [
                f for f in filters
                if any(t["metricName"] == params["metricName"] and t["metricNamespace"] == params["metricNamespace"]
                       for t in f["metricTransformations"])
            ]
        out: Params = {"metricFilters": filters}
        if entries[1]:
            out["nextToken"] = entries[1]
        return out

    def test_metric_filter(self, ctx: RequestContext, params: Params) -> Params:
        pattern_text = params["filterPattern"]
        pattern = compile_pattern(pattern_text)
        names = _delimited_names(pattern_text)
        matches = []
        for number, message in enumerate(params["logEventMessages"], 1):
            if pattern.matches(message):
                extracted: dict[str, str] = {}
                if names is not None and ELLIPSIS not in names:
                    fields = message_fields(message)
                    extracted = {f"${name}": value for name, value in zip(names, fields, strict=False) if name}
                matches.append({"eventNumber": number, "eventMessage": message, "extractedValues": extracted})
        return {"matches": matches}

    # -- subscription filters ----------------------------------------------------------------------------
    def put_subscription_filter(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        compile_pattern(params["filterPattern"])
        destination = params["destinationArn"]
        if not destination.startswith("arn:") or destination.split(":")[2:3] == [""]:
            raise invalid(f"Invalid destinationArn: {destination}")
        with self.store.db.transaction():
            group = self._group(ctx, params["logGroupName"], lock=True)
            self._check_quota(SUBSCRIPTION_FILTERS, group.group_id, params["filterName"], MAX_SUBSCRIPTION_FILTERS)
            body: dict[str, Any] = {
                "destinationArn": destination,
                "distribution": params.get("distribution") or "ByLogStream",
                "applyOnTransformedLogs": bool(params.get("applyOnTransformedLogs")),
            }
            for optional in ("roleArn", "fieldSelectionCriteria", "emitSystemFields"):
                if params.get(optional) is not None:
                    body[optional] = params[optional]
            self.store.put_filter(
                SUBSCRIPTION_FILTERS, group.group_id, params["filterName"], params["filterPattern"], now_ms(), body
            )
        return {}

    def delete_subscription_filter(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, params["logGroupName"])
        if not self.store.delete_filter(SUBSCRIPTION_FILTERS, group.group_id, params["filterName"]):
            raise ServiceError("ResourceNotFoundException", "The specified subscription filter does not exist.")
        return {}

    def describe_subscription_filters(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        entries, token = self._list(ctx, SUBSCRIPTION_FILTERS, params, "subscription-filters")
        filters = [
            {"filterName": name, "logGroupName": group_name, "filterPattern": pattern, "creationTime": created, **body}
            for group_name, name, pattern, created, body in entries
        ]
        out: Params = {"subscriptionFilters": filters}
        if token:
            out["nextToken"] = token
        return out

    # -- shared -------------------------------------------------------------------------------------------
    def _check_quota(self, table: str, group_id: int, name: str, quota: int) -> None:
        existing = self.store.list_filters(table, group_ids=[group_id], prefix=None, after=None, limit=quota + 1)
        if len(existing) >= quota and name not in {entry[1] for entry in existing}:
            raise _limit_exceeded()

    def _list(self, ctx: RequestContext, table: str, params: Params, kind: str) -> tuple[list[Any], str | None]:
        limit = params.get("limit") or 50
        name = params.get("logGroupName")
        if name is not None:
            group_ids = [self._group(ctx, name).group_id]
            prefix = params.get("filterNamePrefix")
        else:
            group_ids = [g.group_id for g in self.store.list_groups(ctx.account_id, ctx.region, limit=1_000_000)]
            prefix = None  # used only together with logGroupName, as AWS documents
        after = tokens.decode(kind, params.get("nextToken"))
        entries = self.store.list_filters(
            table, group_ids=group_ids, prefix=prefix, after=(str(after[0]), str(after[1])) if after else None,
            limit=limit + 1,
        )
        page = entries[:limit]
        token = tokens.encode(kind, [page[-1][0], page[-1][1]]) if len(entries) > limit else None
        return page, token


def _delimited_names(pattern: str) -> list[str] | None:
    """The field names of a space-delimited pattern (for extractedValues), else None."""
    text = pattern.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    names = []
    for entry in text[1:-1].split(","):
        entry = entry.strip()
        if entry == ELLIPSIS:
            names.append(ELLIPSIS)
            continue
        head = entry.split("=")[0].split("!")[0].split("<")[0].split(">")[0].strip()
        names.append(head)
    return names
