"""Tables: CreateTable/UpdateTable validation with AWS's messages, and the Table model.

A table's definition is kept as the TableDescription DynamoDB returns (JSON in SQL), plus
what freehold needs besides (its row id, tags, TTL, backups). Dynamic parts (ItemCount,
TableSizeBytes) are computed when described.
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from freehold.services.dynamodb.errors import invalid_parameter, validation
from freehold.services.dynamodb.keys import KeySchema

_TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
MAX_GSIS = 20
MAX_LSIS = 5
MAX_NON_KEY_ATTRIBUTES = 100


@dataclass(frozen=True)
class Index:
    name: str
    schema: KeySchema
    projection: dict[str, Any]
    is_global: bool

    @cached_property
    def projected(self) -> frozenset[str] | None:
        """The non-key attributes it stores; None for ALL."""
        kind = self.projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            return None
        if kind == "KEYS_ONLY":
            return frozenset()
        return frozenset(self.projection.get("NonKeyAttributes") or ())


@dataclass
class Table:
    """One table of one account and region, as stored."""

    account_id: str
    region: str
    table_id: str
    description: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    ttl: dict[str, Any] = field(default_factory=dict)  # {"AttributeName": ..., "Enabled": bool}
    pitr: bool = False

    def editable(self) -> "Table":
        """A copy whose description may be changed (descriptions read from SQL are shared)."""
        return Table(self.account_id, self.region, self.table_id, copy.deepcopy(self.description),
                     dict(self.tags), dict(self.ttl), self.pitr)

    @property
    def name(self) -> str:
        return str(self.description["TableName"])

    @property
    def arn(self) -> str:
        return str(self.description["TableArn"])

    @cached_property
    def schema(self) -> KeySchema:
        return KeySchema.from_description(self.description["KeySchema"], self.description["AttributeDefinitions"])

    @cached_property
    def indexes(self) -> dict[str, Index]:
        definitions = self.description["AttributeDefinitions"]
        found: dict[str, Index] = {}
        for key, is_global in (("GlobalSecondaryIndexes", True), ("LocalSecondaryIndexes", False)):
            for index in self.description.get(key) or []:
                found[index["IndexName"]] = Index(
                    index["IndexName"], KeySchema.from_description(index["KeySchema"], definitions),
                    index.get("Projection") or {"ProjectionType": "ALL"}, is_global,
                )
        return found

    @property
    def stream_view_type(self) -> str | None:
        spec = self.description.get("StreamSpecification") or {}
        return spec.get("StreamViewType") if spec.get("StreamEnabled") else None

    @property
    def stream_arn(self) -> str | None:
        return self.description.get("LatestStreamArn")

    @property
    def ttl_attribute(self) -> str | None:
        return self.ttl.get("AttributeName") if self.ttl.get("Enabled") else None


def table_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{name}"


def check_table_name(name: str) -> None:
    if not _TABLE_NAME.match(name) or not 3 <= len(name) <= 255:
        problems = []
        if not _TABLE_NAME.match(name):
            problems.append(
                f"Value '{name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression "
                "pattern: [a-zA-Z0-9_.-]+"
            )
        if len(name) < 3:
            problems.append(
                f"Value '{name}' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
            )
        if len(name) > 255:
            problems.append(
                f"Value '{name}' at 'tableName' failed to satisfy constraint: Member must have length less than or equal to 255"
            )
        noun = "validation error" if len(problems) == 1 else "validation errors"
        raise validation(f"{len(problems)} {noun} detected: " + "; ".join(problems))


def _check_key_schema(key_schema: list[dict[str, str]], what: str = "KeySchema") -> None:
    if key_schema[0]["KeyType"] != "HASH":
        raise validation(f"Invalid {what}: The first KeySchemaElement is not a HASH key type")
    if len(key_schema) == 2:
        if key_schema[1]["KeyType"] != "RANGE":
            raise validation(f"Invalid {what}: The second KeySchemaElement is not a RANGE key type")
        if key_schema[0]["AttributeName"] == key_schema[1]["AttributeName"]:
            raise validation(
                f"Invalid {what}: Both the Hash Key and the Range Key element in the KeySchema have the same name"
            )


def _throughput(spec: dict[str, Any] | None, on_demand: bool) -> dict[str, Any]:
    if on_demand or spec is None:
        return {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0}
    return {
        "ReadCapacityUnits": spec["ReadCapacityUnits"], "WriteCapacityUnits": spec["WriteCapacityUnits"],
        "NumberOfDecreasesToday": 0,
    }


def _check_projection(projection: dict[str, Any], index_name: str) -> dict[str, Any]:
    kind = projection.get("ProjectionType") or "ALL"
    non_key = projection.get("NonKeyAttributes")
    if kind == "INCLUDE" and not non_key:
        raise invalid_parameter(f"ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
    if kind != "INCLUDE" and non_key:
        raise invalid_parameter(f"ProjectionType is {kind}, but NonKeyAttributes is specified")
    result: dict[str, Any] = {"ProjectionType": kind}
    if non_key:
        result["NonKeyAttributes"] = list(non_key)
    return result


def check_billing(params: dict[str, Any], billing_mode: str) -> None:
    throughput = params.get("ProvisionedThroughput")
    if billing_mode == "PROVISIONED" and throughput is None:
        raise invalid_parameter(
            "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
        )
    if billing_mode == "PAY_PER_REQUEST" and throughput is not None:
        raise invalid_parameter(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
        )


def gsi_description(
    spec: dict[str, Any], arn: str, on_demand: bool, status: str = "ACTIVE"
) -> dict[str, Any]:
    name = spec["IndexName"]
    if not on_demand and spec.get("ProvisionedThroughput") is None:
        raise invalid_parameter(f"ProvisionedThroughput must be specified for index: {name}")
    if on_demand and spec.get("ProvisionedThroughput") is not None:
        raise invalid_parameter(
            "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: "
            f"{name} when BillingMode is PAY_PER_REQUEST"
        )
    _check_key_schema(spec["KeySchema"])
    return {
        "IndexName": name, "KeySchema": spec["KeySchema"], "Projection": _check_projection(spec["Projection"], name),
        "IndexStatus": status, "ProvisionedThroughput": _throughput(spec.get("ProvisionedThroughput"), on_demand),
        "IndexArn": f"{arn}/index/{name}",
    }


def new_table_description(params: dict[str, Any], account_id: str, region: str, now: float) -> dict[str, Any]:
    """The TableDescription of a CreateTable request, after every check AWS makes."""
    name = params["TableName"]
    check_table_name(name)
    key_schema = params["KeySchema"]
    definitions = params["AttributeDefinitions"]
    _check_key_schema(key_schema)
    billing = params.get("BillingMode") or "PROVISIONED"
    check_billing(params, billing)
    on_demand = billing == "PAY_PER_REQUEST"
    defined = {d["AttributeName"]: d["AttributeType"] for d in definitions}
    if len(defined) != len(definitions):
        raise invalid_parameter("Duplicate AttributeName in AttributeDefinitions")
    used: list[str] = [k["AttributeName"] for k in key_schema]
    arn = table_arn(region, account_id, name)
    gsis = params.get("GlobalSecondaryIndexes") or []
    lsis = params.get("LocalSecondaryIndexes") or []
    if len(gsis) > MAX_GSIS:
        raise validation(
            f"One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSIS}"
        )
    if len(lsis) > MAX_LSIS:
        raise validation(
            f"One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSIS}"
        )
    names: set[str] = set()
    for spec in [*gsis, *lsis]:
        if spec["IndexName"] in names:
            raise invalid_parameter(f"Duplicate index name: {spec['IndexName']}")
        names.add(spec["IndexName"])
        used += [k["AttributeName"] for k in spec["KeySchema"]]
    missing = [name_ for name_ in dict.fromkeys(used) if name_ not in defined]
    if missing:
        raise invalid_parameter(
            "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(missing)}], AttributeDefinitions: [{', '.join(defined)}]"
        )
    if set(defined) != set(used):
        raise invalid_parameter(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"
        )
    description: dict[str, Any] = {
        "AttributeDefinitions": definitions, "TableName": name, "KeySchema": key_schema, "TableStatus": "ACTIVE",
        "CreationDateTime": now, "ProvisionedThroughput": _throughput(params.get("ProvisionedThroughput"), on_demand),
        "TableArn": arn, "TableId": str(uuid.uuid4()),
        "DeletionProtectionEnabled": bool(params.get("DeletionProtectionEnabled")),
        "TableClassSummary": {"TableClass": params.get("TableClass") or "STANDARD"},
    }
    if on_demand:
        description["BillingModeSummary"] = {
            "BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": now,
        }
    if gsis:
        description["GlobalSecondaryIndexes"] = [gsi_description(spec, arn, on_demand) for spec in gsis]
    if lsis:
        if len(key_schema) < 2:
            raise invalid_parameter(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex"
            )
        described = []
        for spec in lsis:
            _check_key_schema(spec["KeySchema"])
            if len(spec["KeySchema"]) < 2:
                raise invalid_parameter(f"Index KeySchema does not have a range key for index: {spec['IndexName']}")
            if spec["KeySchema"][0]["AttributeName"] != key_schema[0]["AttributeName"]:
                raise invalid_parameter(
                    "Index KeySchema does not have the same leading hash key as table KeySchema for index: "
                    f"{spec['IndexName']}. index hash key: {spec['KeySchema'][0]['AttributeName']}, "
                    f"table hash key: {key_schema[0]['AttributeName']}"
                )
            described.append({
                "IndexName": spec["IndexName"], "KeySchema": spec["KeySchema"],
                "Projection": _check_projection(spec["Projection"], spec["IndexName"]),
                "IndexArn": f"{arn}/index/{spec['IndexName']}",
            })
        description["LocalSecondaryIndexes"] = described
    stream = params.get("StreamSpecification")
    if stream is not None:
        apply_stream_specification(description, stream, now, None)
    sse = params.get("SSESpecification")
    if sse and sse.get("Enabled"):
        description["SSEDescription"] = {
            "Status": "ENABLED", "SSEType": sse.get("SSEType") or "KMS",
            "KMSMasterKeyArn": sse.get("KMSMasterKeyId") or f"arn:aws:kms:{region}:{account_id}:key/aws-dynamodb",
        }
    return description


def stream_label(now: float) -> str:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def apply_stream_specification(
    description: dict[str, Any], spec: dict[str, Any], now: float, current_view: str | None
) -> bool:
    """Enable or disable the table's stream; True when a new stream was created."""
    enabled = spec.get("StreamEnabled")
    view = spec.get("StreamViewType")
    if enabled:
        if not view:
            raise validation("One or more parameter values were invalid: "
                             "You must specify a StreamViewType when enabling a stream")
        if current_view is not None:
            raise validation(f"Table already has an enabled stream: TableName: {description['TableName']}")
        label = stream_label(now)
        description["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        description["LatestStreamLabel"] = label
        description["LatestStreamArn"] = f"{description['TableArn']}/stream/{label}"
        return True
    if view:
        raise validation("One or more parameter values were invalid: "
                         "StreamViewType cannot be specified when stream is disabled")
    if current_view is None and description.get("StreamSpecification") is None and spec is not None:
        raise validation(f"Table already has stream disabled: TableName: {description['TableName']}")
    description.pop("StreamSpecification", None)
    return False


def now() -> float:
    return round(time.time(), 3)
