"""The DynamoDB provider: one method per operation, delegating to the modules that own them.

Single-item operations and BatchWriteItem are `@short_sql`: on SQLite they run on the event
loop while the write lock is free (each opens one write transaction, after nothing that
cannot be done twice).

tables.py/admin.py (tables, tags, TTL, backups), items.py (single items and the write path),
queries.py (Query, Scan), batch.py, transactions.py, expressions/ (the expression language),
streams.py (stream records), workers.py (the TTL deleter).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params, Provider, ServiceRuntime, short_sql
from freehold.services.dynamodb import batch, errors, items, transactions
from freehold.services.dynamodb.admin import TableAdmin
from freehold.services.dynamodb.capacity import Capacity
from freehold.services.dynamodb.expressions.request import compile_expressions
from freehold.services.dynamodb.partiql.execute import PartiqlRunner
from freehold.services.dynamodb.queries import Reader
from freehold.services.dynamodb.store import DynamoStore
from freehold.services.dynamodb.streams import StreamStore
from freehold.services.dynamodb.tables import Table
from freehold.services.dynamodb.types import check_item
from freehold.services.dynamodb.workers import TtlWorker
from freehold.state.database import IntegrityError

WRITE_ATTEMPTS = 5


class DynamoDbProvider(Provider):
    service: ClassVar[str] = "dynamodb"
    partial: ClassVar[dict[str, str]] = {
        "CreateTable": "tables are usable at once (CreateTable answers CREATING, DescribeTable ACTIVE); "
                       "ResourcePolicy, WarmThroughput, OnDemandThroughput and global-table settings are not kept",
        "UpdateTable": "ReplicaUpdates (global tables) are not supported; new indexes are built before the call returns",
        "UpdateContinuousBackups": "point-in-time recovery is reported but no restore exists",
        "BatchWriteItem": "writes of one batch are committed together; UnprocessedItems is always empty",
        "TransactWriteItems": "consumed capacity counts each write once (AWS counts transactional writes twice)",
        "ExecuteStatement": "PartiQL's DynamoDB subset (SELECT/INSERT/UPDATE/DELETE, functions, RETURNING); "
                            "a WHERE with IN on the partition key scans instead of querying each key; the details "
                            "of syntax error messages are freehold's",
        "ExecuteTransaction": "consumed capacity counts each write once (AWS counts transactional writes twice)",
    }

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.store = DynamoStore(runtime.db)
        self.streams = StreamStore(runtime.db)
        self.engine = items.ItemEngine(self.store, self.streams)
        self.admin = TableAdmin(self.store, self.streams, self.engine)
        self.ttl = TtlWorker(self.store, self.streams, self.engine, runtime.settings.dynamodb_ttl_interval)
        self.partiql = PartiqlRunner(self.engine, self.store)

    def start(self) -> None:
        self.store.migrate()
        self.ttl.start()

    def stop(self) -> None:
        self.ttl.stop()

    # -- helpers ----------------------------------------------------------------------------
    def _table(self, ctx: RequestContext, name: str, lock: bool = False) -> Table:
        table = self.store.table(ctx.account_id, ctx.region, name, lock=lock)
        if table is None:
            raise errors.table_not_found()
        return table

    def _lookup(self, ctx: RequestContext) -> Any:
        return lambda name: self._table(ctx, name)

    @staticmethod
    def _retrying(operation: Any) -> Any:
        """Run a write; on PostgreSQL two first writes of one key can race to INSERT: the
        loser's transaction fails with a unique violation and is simply run again."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return operation()
            except IntegrityError:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        return None

    # -- tables -----------------------------------------------------------------------------
    def create_table(self, ctx: RequestContext, params: Params) -> Params:
        return {"TableDescription": self.admin.create(ctx.account_id, ctx.region, params)}

    def describe_table(self, ctx: RequestContext, params: Params) -> Params:
        table = self.admin.require(ctx.account_id, ctx.region, params["TableName"])
        return {"Table": self.admin.describe(table)}

    def delete_table(self, ctx: RequestContext, params: Params) -> Params:
        return {"TableDescription": self.admin.delete(ctx.account_id, ctx.region, params["TableName"])}

    def list_tables(self, ctx: RequestContext, params: Params) -> Params:
        return self.admin.list_tables(ctx.account_id, ctx.region, params)

    def update_table(self, ctx: RequestContext, params: Params) -> Params:
        return {"TableDescription": self.admin.update(ctx.account_id, ctx.region, params)}

    def tag_resource(self, ctx: RequestContext, params: Params) -> Params:
        self.admin.tag(ctx.account_id, ctx.region, params["ResourceArn"], params["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Params:
        self.admin.untag(ctx.account_id, ctx.region, params["ResourceArn"], params["TagKeys"])
        return {}

    def list_tags_of_resource(self, ctx: RequestContext, params: Params) -> Params:
        table = self.admin.by_arn(ctx.account_id, ctx.region, params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(table.tags.items())]}

    def update_time_to_live(self, ctx: RequestContext, params: Params) -> Params:
        return self.admin.update_ttl(ctx.account_id, ctx.region, params["TableName"], params["TimeToLiveSpecification"])

    def describe_time_to_live(self, ctx: RequestContext, params: Params) -> Params:
        table = self.admin.require(ctx.account_id, ctx.region, params["TableName"])
        return {"TimeToLiveDescription": self.admin.describe_ttl(table)}

    def describe_continuous_backups(self, ctx: RequestContext, params: Params) -> Params:
        table = self.store.table(ctx.account_id, ctx.region, params["TableName"])
        if table is None:
            raise ServiceError("TableNotFoundException", f"Table not found: {params['TableName']}", 400)
        return {"ContinuousBackupsDescription": self.admin.backups(table)}

    def update_continuous_backups(self, ctx: RequestContext, params: Params) -> Params:
        if self.store.table(ctx.account_id, ctx.region, params["TableName"]) is None:
            raise ServiceError("TableNotFoundException", f"Table not found: {params['TableName']}", 400)
        enabled = bool(params["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
        return {"ContinuousBackupsDescription": self.admin.update_backups(ctx.account_id, ctx.region, params["TableName"], enabled)}

    def describe_limits(self, ctx: RequestContext, params: Params) -> Params:
        return {
            "AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000,
        }

    def describe_endpoints(self, ctx: RequestContext, params: Params) -> Params:
        host = ctx.request.headers.get("host") or f"dynamodb.{ctx.region}.amazonaws.com"
        return {"Endpoints": [{"Address": host, "CachePeriodInMinutes": 1440}]}

    # -- items ------------------------------------------------------------------------------
    @short_sql
    def put_item(self, ctx: RequestContext, params: Params) -> Params:
        mode = items.check_return_values(params.get("ReturnValues"), items.PUT_RETURN_VALUES)
        capacity = Capacity(params.get("ReturnConsumedCapacity"))

        def run() -> items.WriteResult:
            with self.db.transaction():
                table = self._table(ctx, params["TableName"])
                item, compiled = items.prepare_put(table, params)
                tkey = table.schema.encode(item)
                if compiled.condition is None and mode == "NONE" and self.engine.blind_puts(table, capacity):
                    self.engine.put_blind(table, [(tkey, item)])
                    return items.WriteResult(None, item, 0.0)
                return self.engine.write(
                    table, table.schema.key_of(item), items.put_change(item, compiled, params), time.time(), capacity,
                    tkey=tkey,
                )

        result = self._retrying(run)
        output: Params = {}
        if mode == "ALL_OLD" and result.old:
            output["Attributes"] = result.old
        consumed = capacity.describe(params["TableName"])
        if consumed is not None:
            output["ConsumedCapacity"] = consumed
        return output

    @short_sql
    def update_item(self, ctx: RequestContext, params: Params) -> Params:
        mode = items.check_return_values(params.get("ReturnValues"), items.UPDATE_RETURN_VALUES)
        capacity = Capacity(params.get("ReturnConsumedCapacity"))
        holder: dict[str, Any] = {}

        def run() -> items.WriteResult:
            with self.db.transaction():
                table = self._table(ctx, params["TableName"])
                key, compiled = items.prepare_update(table, params)
                holder["compiled"] = compiled
                return self.engine.write(
                    table, key, items.update_change(table, key, compiled, params), time.time(), capacity, update=True
                )

        result = self._retrying(run)
        output: Params = {}
        attributes = items.update_return(mode, result, holder["compiled"])
        if attributes:
            output["Attributes"] = attributes
        consumed = capacity.describe(params["TableName"])
        if consumed is not None:
            output["ConsumedCapacity"] = consumed
        return output

    @short_sql
    def delete_item(self, ctx: RequestContext, params: Params) -> Params:
        mode = items.check_return_values(params.get("ReturnValues"), items.PUT_RETURN_VALUES)
        capacity = Capacity(params.get("ReturnConsumedCapacity"))
        with self.db.transaction():
            table = self._table(ctx, params["TableName"])
            key, compiled = items.prepare_delete(table, params)
            result = self.engine.write(table, key, items.delete_change(compiled, params), time.time(), capacity)
        output: Params = {}
        if mode == "ALL_OLD" and result.old:
            output["Attributes"] = result.old
        consumed = capacity.describe(params["TableName"])
        if consumed is not None:
            output["ConsumedCapacity"] = consumed
        return output

    @short_sql
    def get_item(self, ctx: RequestContext, params: Params) -> Params:
        table = self._table(ctx, params["TableName"])
        key = check_item(table.schema.check_key(params["Key"]))
        compiled = compile_expressions(params, "GetItem")
        item = self.engine.read(table, key)
        capacity = Capacity(params.get("ReturnConsumedCapacity"))
        return items.get_output(table, item, compiled, bool(params.get("ConsistentRead")), capacity)

    # -- queries ----------------------------------------------------------------------------
    def query(self, ctx: RequestContext, params: Params) -> Params:
        table = self._table(ctx, params["TableName"])
        return Reader(self.store, table, params, "Query").query()

    def scan(self, ctx: RequestContext, params: Params) -> Params:
        table = self._table(ctx, params["TableName"])
        return Reader(self.store, table, params, "Scan").scan()

    # -- batches and transactions -------------------------------------------------------------
    def batch_get_item(self, ctx: RequestContext, params: Params) -> Params:
        return batch.batch_get(self.engine, self._lookup(ctx), params)

    @short_sql
    def batch_write_item(self, ctx: RequestContext, params: Params) -> Params:
        return self._retrying(
            lambda: batch.batch_write(self.engine, self._lookup(ctx), params, time.time(), self.db.transaction)
        )

    def transact_write_items(self, ctx: RequestContext, params: Params) -> Params:
        return self._retrying(
            lambda: transactions.transact_write(
                self.engine, self.store, self._lookup(ctx), params, ctx.account_id, ctx.region, time.time()
            )
        )

    def transact_get_items(self, ctx: RequestContext, params: Params) -> Params:
        return transactions.transact_get(self.engine, self._lookup(ctx), params)

    # -- PartiQL ------------------------------------------------------------------------------
    def execute_statement(self, ctx: RequestContext, params: Params) -> Params:
        return self._retrying(lambda: self.partiql.execute_statement(self._lookup(ctx), params, time.time))

    def batch_execute_statement(self, ctx: RequestContext, params: Params) -> Params:
        return self.partiql.batch(self._lookup(ctx), params, time.time)

    def execute_transaction(self, ctx: RequestContext, params: Params) -> Params:
        token = params.get("ClientRequestToken")
        digest = transactions.request_digest(params) if token else ""
        moment = time.time()

        def already_ran() -> bool:
            if not token:
                return False
            previous = self.store.transaction_token(
                ctx.account_id, ctx.region, token, moment - transactions.TOKEN_SECONDS
            )
            if previous is not None and previous != digest:
                raise ServiceError(
                    "IdempotentParameterMismatchException",
                    "Request with same ClientRequestToken but different parameters was received", 400,
                )
            return previous is not None

        def remember() -> None:
            if token:
                self.store.save_transaction_token(ctx.account_id, ctx.region, token, digest, moment)

        return self._retrying(
            lambda: self.partiql.transaction(self._lookup(ctx), params, time.time, already_ran, remember)
        )
