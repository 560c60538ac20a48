"""Table administration: create, describe, update, delete, list; tags; TTL; backups settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from freehold.services.dynamodb import errors
from freehold.services.dynamodb.codec import decode_item
from freehold.services.dynamodb.errors import validation
from freehold.services.dynamodb.items import ItemEngine
from freehold.services.dynamodb.store import DynamoStore
from freehold.services.dynamodb.streams import StreamStore
from freehold.services.dynamodb.tables import (
    Table,
    apply_stream_specification,
    check_billing,
    gsi_description,
    new_table_description,
    now,
)
from freehold.services.dynamodb.types import value_type


class TableAdmin:
    def __init__(self, store: DynamoStore, streams: StreamStore, engine: ItemEngine) -> None:
        self.store = store
        self.streams = streams
        self.engine = engine
        self.db = store.db

    def require(self, account_id: str, region: str, name: str, lock: bool = False) -> Table:
        table = self.store.table(account_id, region, name, lock=lock)
        if table is None:
            raise errors.table_not_found(name)
        return table

    def describe(self, table: Table) -> dict[str, Any]:
        description = dict(table.description)
        count, size = self.store.table_stats(table.table_id)
        description["ItemCount"] = count
        description["TableSizeBytes"] = size
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if description.get(key):
                described = []
                for index in description[key]:
                    index = dict(index)
                    index_count, index_size = self.store.index_stats(table.table_id, index["IndexName"])
                    index["ItemCount"], index["IndexSizeBytes"] = index_count, index_size
                    described.append(index)
                description[key] = described
        return description

    # -- create / delete / list -------------------------------------------------------------
    def create(self, account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        moment = now()
        description = new_table_description(params, account_id, region, moment)
        tags = {tag["Key"]: tag["Value"] for tag in params.get("Tags") or []}
        table = Table(account_id, region, description["TableId"], description, tags)
        with self.db.transaction():
            if self.store.table(account_id, region, table.name, lock=True) is not None:
                raise errors.resource_in_use(f"Table already exists: {table.name}")
            self.store.insert_table(table)
            if table.stream_view_type is not None:
                self.streams.create(table, moment)
        result = self.describe(table)
        # AWS answers CreateTable while the table is still being created; it is usable
        # (ACTIVE) by the time the next request can describe it.
        result["TableStatus"] = "CREATING"
        for index in result.get("GlobalSecondaryIndexes") or []:
            index["IndexStatus"] = "CREATING"
        return result

    def delete(self, account_id: str, region: str, name: str) -> dict[str, Any]:
        with self.db.transaction():
            table = self.require(account_id, region, name, lock=True)
            if table.description.get("DeletionProtectionEnabled"):
                raise validation(
                    "Resource cannot be deleted as it is currently protected against deletion. "
                    "Disable deletion protection first."
                )
            result = self.describe(table)
            self.store.delete_table(table)
            if table.stream_arn is not None:
                self.streams.disable(table.stream_arn, now())
        result["TableStatus"] = "DELETING"
        return result

    def list_tables(self, account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("Limit") or 100
        names = self.store.tables(account_id, region, params.get("ExclusiveStartTableName"), limit + 1)
        output: dict[str, Any] = {"TableNames": names[:limit]}
        if len(names) > limit:
            output["LastEvaluatedTableName"] = names[limit - 1]
        return output

    # -- update -----------------------------------------------------------------------------
    def update(self, account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        changes = ("ProvisionedThroughput", "BillingMode", "StreamSpecification", "GlobalSecondaryIndexUpdates",
                   "SSESpecification", "ReplicaUpdates", "TableClass", "DeletionProtectionEnabled", "OnDemandThroughput",
                   "WarmThroughput")
        if not any(params.get(name) is not None for name in changes):
            raise validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates "
                "or SSESpecification or ReplicaUpdates is required"
            )
        moment = now()
        with self.db.transaction():
            table = self.require(account_id, region, params["TableName"], lock=True).editable()
            description = table.description
            billing = params.get("BillingMode")
            if billing is not None:
                current = (description.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
                if billing == "PROVISIONED":
                    check_billing(params, billing)
                if billing != current:
                    description["BillingModeSummary"] = {"BillingMode": billing}
                    if billing == "PAY_PER_REQUEST":
                        description["BillingModeSummary"]["LastUpdateToPayPerRequestDateTime"] = moment
                        description["ProvisionedThroughput"] = {
                            "ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0,
                        }
            throughput = params.get("ProvisionedThroughput")
            if throughput is not None:
                mode = (description.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
                if mode == "PAY_PER_REQUEST":
                    raise validation(
                        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits "
                        "can be specified when BillingMode is PAY_PER_REQUEST"
                    )
                description["ProvisionedThroughput"] = {
                    **description.get("ProvisionedThroughput", {}), **throughput,
                    "LastIncreaseDateTime": moment,
                }
            if params.get("TableClass") is not None:
                description["TableClassSummary"] = {"TableClass": params["TableClass"], "LastUpdateDateTime": moment}
            if params.get("DeletionProtectionEnabled") is not None:
                description["DeletionProtectionEnabled"] = params["DeletionProtectionEnabled"]
            new_stream = False
            if params.get("StreamSpecification") is not None:
                old_arn = table.stream_arn if table.stream_view_type else None
                new_stream = apply_stream_specification(
                    description, params["StreamSpecification"], moment, table.stream_view_type
                )
                if not new_stream and old_arn is not None:
                    self.streams.disable(old_arn, moment)
            self._index_updates(table, params)
            table = Table(table.account_id, table.region, table.table_id, description, table.tags, table.ttl, table.pitr)
            self.store.save_table(table)
            if new_stream:
                self.streams.create(table, moment)
        result = self.describe(table)
        result["TableStatus"] = "UPDATING"
        return result

    def _index_updates(self, table: Table, params: dict[str, Any]) -> None:
        updates = params.get("GlobalSecondaryIndexUpdates") or []
        description = table.description
        on_demand = (description.get("BillingModeSummary") or {}).get("BillingMode") == "PAY_PER_REQUEST"
        definitions = {d["AttributeName"]: d for d in description["AttributeDefinitions"]}
        for definition in params.get("AttributeDefinitions") or []:
            existing = definitions.get(definition["AttributeName"])
            if existing is not None and existing["AttributeType"] != definition["AttributeType"]:
                raise validation(
                    "One or more parameter values were invalid: Attribute "
                    f"{definition['AttributeName']} is already defined with a different type"
                )
            definitions[definition["AttributeName"]] = definition
        gsis = list(description.get("GlobalSecondaryIndexes") or [])
        for update in updates:
            if len(update) != 1:
                raise validation("One or more parameter values were invalid: Only one of Create, Update or Delete may be specified per GlobalSecondaryIndexUpdate")
            action, spec = next(iter(update.items()))
            name = spec["IndexName"]
            existing_names = [g["IndexName"] for g in gsis] + [l["IndexName"] for l in description.get("LocalSecondaryIndexes") or []]
            if action == "Create":
                if name in existing_names:
                    raise validation(f"One or more parameter values were invalid: Index with name: {name} already exists")
                for key in spec["KeySchema"]:
                    if key["AttributeName"] not in definitions:
                        raise validation(
                            "One or more parameter values were invalid: Some index key attributes are not defined in "
                            f"AttributeDefinitions. Keys: [{key['AttributeName']}], AttributeDefinitions: [{', '.join(definitions)}]"
                        )
                gsis.append(gsi_description(spec, table.arn, on_demand))
                description["AttributeDefinitions"] = list(definitions.values())
                description["GlobalSecondaryIndexes"] = gsis
                fresh = Table(table.account_id, table.region, table.table_id, description)
                self.engine.backfill(fresh, fresh.indexes[name])
            elif action == "Delete":
                if name not in [g["IndexName"] for g in gsis]:
                    raise errors.ServiceError("ResourceNotFoundException", f"Requested resource not found: Index: {name} not found", 400)
                gsis = [g for g in gsis if g["IndexName"] != name]
                description["GlobalSecondaryIndexes"] = gsis
                self.store.delete_index(table.table_id, name)
            else:
                found = next((g for g in gsis if g["IndexName"] == name), None)
                if found is None:
                    raise errors.ServiceError("ResourceNotFoundException", f"Requested resource not found: Index: {name} not found", 400)
                if spec.get("ProvisionedThroughput"):
                    found["ProvisionedThroughput"] = {**found.get("ProvisionedThroughput", {}), **spec["ProvisionedThroughput"]}
        if not description.get("GlobalSecondaryIndexes"):
            description.pop("GlobalSecondaryIndexes", None)
        # Attribute definitions list only attributes some key uses.
        used = {k["AttributeName"] for k in description["KeySchema"]}
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for index in description.get(key) or []:
                used |= {k["AttributeName"] for k in index["KeySchema"]}
        description["AttributeDefinitions"] = [d for d in definitions.values() if d["AttributeName"] in used]

    # -- tags -------------------------------------------------------------------------------
    def by_arn(self, account_id: str, region: str, arn: str) -> Table:
        parts = arn.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("table/"):
            raise validation(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")
        if parts[4] != account_id or parts[3] != region:
            raise errors.ServiceError("AccessDeniedException", f"User is not authorized to access resource {arn}", 400)
        name = parts[5][len("table/"):].split("/")[0]
        table = self.store.table(account_id, region, name)
        if table is None:
            raise errors.ServiceError("ResourceNotFoundException", f"Requested resource not found: ResourceArn: {arn} not found", 400)
        return table

    def tag(self, account_id: str, region: str, arn: str, tags: list[dict[str, str]]) -> None:
        with self.db.transaction():
            table = self.by_arn(account_id, region, arn).editable()
            table.tags.update({tag["Key"]: tag["Value"] for tag in tags})
            if len(table.tags) > 50:
                raise validation("One or more parameter values were invalid: The number of tags exceeds the limit of 50")
            self.store.save_table(table)

    def untag(self, account_id: str, region: str, arn: str, keys: list[str]) -> None:
        with self.db.transaction():
            table = self.by_arn(account_id, region, arn).editable()
            for key in keys:
                table.tags.pop(key, None)
            self.store.save_table(table)

    # -- TTL --------------------------------------------------------------------------------
    def update_ttl(self, account_id: str, region: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        with self.db.transaction():
            table = self.require(account_id, region, name, lock=True).editable()
            enabled = bool(spec["Enabled"])
            current = bool(table.ttl.get("Enabled"))
            if enabled and current:
                raise validation("TimeToLive is already enabled")
            if not enabled and not current:
                raise validation("TimeToLive is already disabled")
            if not enabled and table.ttl.get("AttributeName") != spec["AttributeName"]:
                raise validation("TimeToLive attribute name does not match the existing one")
            table.ttl = {"Enabled": enabled, "AttributeName": spec["AttributeName"]}
            self.store.save_table(table)
            self._recompute_expiry(table)
        return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": spec["AttributeName"]}}

    def _recompute_expiry(self, table: Table) -> None:
        if table.ttl_attribute is None:
            self.db.execute("UPDATE ddb_items SET expires = NULL WHERE table_id = ? AND expires IS NOT NULL", (table.table_id,))
            return
        rows = self.db.query("SELECT h, pk, sk, item FROM ddb_items WHERE table_id = ?", (table.table_id,))
        for h, pk, sk, text in rows:
            value = decode_item(text).get(table.ttl_attribute)
            if value is None or value_type(value) != "N":
                continue
            self.db.execute(
                "UPDATE ddb_items SET expires = ? WHERE table_id = ? AND h = ? AND pk = ? AND sk = ?",
                (int(Decimal(value["N"])), table.table_id, h, pk, sk),
            )

    def describe_ttl(self, table: Table) -> dict[str, Any]:
        if not table.ttl:
            return {"TimeToLiveStatus": "DISABLED"}
        status = "ENABLED" if table.ttl.get("Enabled") else "DISABLED"
        return {"TimeToLiveStatus": status, "AttributeName": table.ttl["AttributeName"]}

    # -- continuous backups -------------------------------------------------------------------
    def backups(self, table: Table) -> dict[str, Any]:
        pitr: dict[str, Any] = {"PointInTimeRecoveryStatus": "ENABLED" if table.pitr else "DISABLED"}
        if table.pitr:
            pitr["RecoveryPeriodInDays"] = 35
            pitr["EarliestRestorableDateTime"] = table.description["CreationDateTime"]
            pitr["LatestRestorableDateTime"] = now()
        return {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": pitr}

    def update_backups(self, account_id: str, region: str, name: str, enabled: bool) -> dict[str, Any]:
        with self.db.transaction():
            table = self.require(account_id, region, name, lock=True).editable()
            table.pitr = enabled
            self.store.save_table(table)
        return self.backups(table)
