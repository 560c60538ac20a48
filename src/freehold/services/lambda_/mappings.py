"""Event source mappings (SQS queues and DynamoDB streams): the control plane -
Create/Get/List/Update/DeleteEventSourceMapping with AWS's defaults, validation, errors and
states. The pollers that move the states on and deliver the records are in pollers.py.

States as AWS reports them: a new mapping is Creating, then Enabled (or Disabled when created
with Enabled=false); an update is Updating then Enabled; disabling is Disabling then Disabled;
enabling is Enabling then Enabled; a deleted mapping answers Deleting and disappears. The
transitional states are left by the poller within a fraction of a second.

https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
"""

from __future__ import annotations

import base64
import time
import uuid as uuids
from datetime import UTC, datetime
from typing import Any

from freehold.events.filtering import InvalidPattern, parse_pattern
from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.lambda_.lookup import LambdaBase
from freehold.services.lambda_.mapping_store import MappingRow, MappingStore

TRANSITIONAL = ("Creating", "Enabling", "Disabling", "Updating", "Deleting")
LIST_DEFAULT = 100
SQS_BATCH_DEFAULT, STREAM_BATCH_DEFAULT, BATCH_MAX = 10, 100, 10000
# Fields of the answer that only stream sources (DynamoDB, Kinesis) have.
STREAM_DEFAULTS: Params = {
    "ParallelizationFactor": 1, "DestinationConfig": {"OnFailure": {}}, "MaximumRecordAgeInSeconds": -1,
    "BisectBatchOnFunctionError": False, "MaximumRetryAttempts": -1, "TumblingWindowInSeconds": 0,
}


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message, 400, fields={"Type": "User"})


def mapping_not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The resource you requested does not exist.", 404,
                        fields={"Type": "User"})


def source_kind(arn: str) -> str:
    """'sqs' or 'dynamodb' for the sources freehold maps; InvalidParameterValueException else."""
    parts = arn.split(":")
    if len(parts) >= 6 and parts[2] == "sqs":
        return "sqs"
    if len(parts) >= 6 and parts[2] == "dynamodb" and "/stream/" in parts[5]:
        return "dynamodb"
    if len(parts) >= 6 and parts[2] in ("kinesis", "kafka", "mq", "rds"):
        raise invalid(f"Event source mappings for {parts[2]} are not supported by freehold.")
    raise invalid(f"Unrecognized event source, must be kinesis, dynamodb stream or sqs. Unsupported source arn : {arn}")


class MappingOps(LambdaBase):
    @property
    def mappings(self) -> MappingStore:
        store: MappingStore | None = getattr(self, "_mapping_store", None)
        if store is None:
            store = self._mapping_store = MappingStore(self.store.db)
        return store

    # -- answers ---------------------------------------------------------------------------------
    @staticmethod
    def mapping_output(row: MappingRow) -> Params:
        output: Params = {"UUID": row.uuid, **public_document(row.document)}
        output.pop("Tags", None)
        output["State"] = row.state
        output["LastModified"] = datetime.fromtimestamp(row.last_modified, UTC)
        output["EventSourceMappingArn"] = f"arn:aws:lambda:{row.region}:{row.account_id}:event-source-mapping:{row.uuid}"
        return output

    def _mapping(self, ctx: RequestContext, uuid: str) -> MappingRow:
        row = self.mappings.get(ctx.account_id, ctx.region, uuid)
        if row is None:
            raise mapping_not_found()
        return row

    # -- validation ------------------------------------------------------------------------------
    def _function_arn(self, ctx: RequestContext, params: Params) -> tuple[str, str]:
        """(function name, the FunctionArn the mapping reports) - the function must exist."""
        ref = self.ref(ctx, params, qualifier_key="_no_qualifier")
        self.resolve(ref)
        return ref.name, ref.qualified_arn if ref.qualifier else ref.arn

    @staticmethod
    def _check_settings(kind: str, settings: Params) -> None:
        batch = settings["BatchSize"]
        window = settings.get("MaximumBatchingWindowInSeconds", 0)
        if not 1 <= batch <= BATCH_MAX:
            raise invalid(f"BatchSize must be between 1 and {BATCH_MAX}." if kind == "dynamodb" else
                          "Maximum batch size must be between 1 and 10000.")
        if not 0 <= window <= 300:
            raise invalid("MaximumBatchingWindowInSeconds must be between 0 and 300.")
        if kind == "sqs" and batch > 10 and window == 0:
            raise invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is "
                          "greater than 10")
        types = settings.get("FunctionResponseTypes") or []
        if any(t != "ReportBatchItemFailures" for t in types):
            raise invalid("Invalid FunctionResponseTypes: only ReportBatchItemFailures is supported.")
        for pattern in (settings.get("FilterCriteria") or {}).get("Filters") or []:
            try:
                parse_pattern(pattern.get("Pattern") or "")
            except InvalidPattern:
                raise invalid(f"Invalid filter pattern definition. {pattern.get('Pattern')}") from None
        if kind != "dynamodb":
            return
        retries = settings.get("MaximumRetryAttempts", -1)
        if not -1 <= retries <= 10000:
            raise invalid("MaximumRetryAttempts must be between -1 and 10000.")
        age = settings.get("MaximumRecordAgeInSeconds", -1)
        if age != -1 and not 60 <= age <= 604800:
            raise invalid("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.")
        target = ((settings.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if target and target.split(":")[2:3] not in (["sqs"], ["sns"]):
            raise invalid(f"The provided destination config DestinationConfig(onSuccess=null, onFailure="
                          f"OnFailure(destination={target})) is invalid.")

    def _check_source(self, ctx: RequestContext, kind: str, arn: str) -> None:
        """The queue or stream must exist (Lambda reads it with the function's role; freehold
        checks it exists)."""
        try:
            if kind == "sqs":
                parts = arn.split(":")
                self.call("sqs", ctx, "GetQueueUrl", {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]})
            else:
                self.call("dynamodbstreams", ctx, "DescribeStream", {"StreamArn": arn, "Limit": 1})
        except ServiceError as error:
            if kind == "sqs":
                raise invalid(f"Error occurred while ReceiveMessage. SQS Error Code: {error.code}. "
                              f"SQS Error Message: {error.message}") from None
            raise invalid(f"Stream not found: {arn}") from None

    # -- operations ----------------------------------------------------------------------------------
    def create_event_source_mapping(self, ctx: RequestContext, params: Params) -> Params:
        source = params.get("EventSourceArn")
        if not source:
            raise invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
        kind = source_kind(source)
        name, function_arn = self._function_arn(ctx, params)
        document: Params = {}
        if kind == "sqs":
            if params.get("StartingPosition"):
                raise invalid("StartingPosition is not valid for SQS event sources.")
            for key in STREAM_DEFAULTS:
                if key in params:
                    raise invalid(f"Unsupported {key} parameter for SQS event source.")
            document.update(BatchSize=params.get("BatchSize") or SQS_BATCH_DEFAULT,
                            MaximumBatchingWindowInSeconds=params.get("MaximumBatchingWindowInSeconds", 0))
        else:
            position = params.get("StartingPosition")
            if position is None:
                raise invalid("1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                              "constraint: Member must not be null")
            if position not in ("TRIM_HORIZON", "LATEST"):
                raise invalid(f"Unsupported starting position for DynamoDB event source: {position}")
            document.update(StartingPosition=position, BatchSize=params.get("BatchSize") or STREAM_BATCH_DEFAULT,
                            MaximumBatchingWindowInSeconds=params.get("MaximumBatchingWindowInSeconds", 0))
            for key, default in STREAM_DEFAULTS.items():
                document[key] = params.get(key, default)
            document["DestinationConfig"] = {"OnFailure": dict((params.get("DestinationConfig") or {})
                                                               .get("OnFailure") or {})}
        document.update(EventSourceArn=source, FunctionArn=function_arn)
        if params.get("FilterCriteria"):
            document["FilterCriteria"] = params["FilterCriteria"]
        document["FunctionResponseTypes"] = list(params.get("FunctionResponseTypes") or [])
        if params.get("ScalingConfig"):
            document["ScalingConfig"] = params["ScalingConfig"]
        if kind == "dynamodb":
            document["LastProcessingResult"] = "No records processed"
        document["StateTransitionReason"] = "USER_INITIATED"
        document["_Enabled"] = params.get("Enabled", True)
        if params.get("Tags"):
            document["Tags"] = dict(params["Tags"])
        self._check_settings(kind, document)
        self._check_source(ctx, kind, source)
        if kind == "sqs":
            # The message echoes the FunctionName as given (a name or an ARN).
            for existing in self.mappings.find(ctx.account_id, ctx.region, None, source, "", BATCH_MAX):
                if existing.document.get("FunctionArn") == function_arn:
                    raise ServiceError(
                        "ResourceConflictException",
                        f'An event source mapping with SQS arn (" {source} ") and function (" {params["FunctionName"]} ") already '
                        f"exists. Please update or delete the existing mapping with UUID {existing.uuid}",
                        409, fields={"Type": "User"},
                    )
        row = MappingRow(str(uuids.uuid4()), ctx.account_id, ctx.region, name, source, "Creating", document,
                         {}, time.time())
        self.mappings.insert(row)
        self.wake_pollers()
        return self.mapping_output(row)

    def get_event_source_mapping(self, ctx: RequestContext, params: Params) -> Params:
        return self.mapping_output(self._mapping(ctx, params["UUID"]))

    def list_event_source_mappings(self, ctx: RequestContext, params: Params) -> Params:
        limit = params.get("MaxItems") or LIST_DEFAULT
        if not 1 <= limit <= 10000:
            raise invalid("MaxItems must be between 1 and 10000.")
        name: str | None = None
        if params.get("FunctionName"):
            name = self.ref(ctx, params, qualifier_key="_no_qualifier").name
        after = ""
        if params.get("Marker"):
            try:
                after = base64.urlsafe_b64decode(params["Marker"].encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise invalid("Invalid marker: " + params["Marker"]) from None
        rows = self.mappings.find(ctx.account_id, ctx.region, name, params.get("EventSourceArn"), after, limit + 1)
        output: Params = {"EventSourceMappings": [self.mapping_output(row) for row in rows[:limit]]}
        if len(rows) > limit:
            output["NextMarker"] = base64.urlsafe_b64encode(rows[limit - 1].uuid.encode()).decode()
        return output

    def update_event_source_mapping(self, ctx: RequestContext, params: Params) -> Params:
        row = self._mapping(ctx, params["UUID"])
        if row.state in TRANSITIONAL:
            raise ServiceError(
                "ResourceInUseException",
                f"Cannot update the event source mapping because it is in use. The mapping is {row.state}.",
                400, fields={"Type": "User"},
            )
        kind = source_kind(row.source_arn)
        document = dict(row.document)
        if params.get("FunctionName"):
            row.function_name, document["FunctionArn"] = self._function_arn(ctx, params)
        keys = ["BatchSize", "MaximumBatchingWindowInSeconds", "FilterCriteria", "FunctionResponseTypes",
                "ScalingConfig"]
        if kind == "dynamodb":
            keys += list(STREAM_DEFAULTS)
        else:
            for key in STREAM_DEFAULTS:
                if key in params:
                    raise invalid(f"Unsupported {key} parameter for SQS event source.")
        for key in keys:
            if key in params:
                document[key] = params[key]
        if "FilterCriteria" in params and not (params["FilterCriteria"] or {}).get("Filters"):
            document.pop("FilterCriteria", None)  # an empty FilterCriteria removes the filters
        self._check_settings(kind, document)
        enabled = params.get("Enabled", document.get("_Enabled", True))
        was_enabled = row.state == "Enabled"
        document["_Enabled"] = enabled
        if enabled and not was_enabled:
            row.state = "Enabling"
        elif not enabled and was_enabled:
            row.state = "Disabling"
        elif enabled:
            row.state = "Updating"
        row.document = document
        row.last_modified = time.time()
        self.mappings.update(row)
        self.wake_pollers()
        return self.mapping_output(row)

    def delete_event_source_mapping(self, ctx: RequestContext, params: Params) -> Params:
        row = self._mapping(ctx, params["UUID"])
        if row.state == "Deleting":
            raise ServiceError("ResourceInUseException",
                               "Cannot delete the event source mapping because it is in use.", 400,
                               fields={"Type": "User"})
        row.state = "Deleting"
        row.last_modified = time.time()
        self.mappings.update(row)
        self.wake_pollers()
        return self.mapping_output(row)

    def wake_pollers(self) -> None:
        """Overridden by the poller mixin: have the transitions applied now."""


def public_document(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if not key.startswith("_")}
