"""The pollers of event source mappings: a background thread of the Lambda provider that
moves mappings out of their transitional states and, for every Enabled mapping, reads its
source ONLY through the source service's API (SQS ReceiveMessage/DeleteMessageBatch,
DynamoDB Streams DescribeStream/GetShardIterator/GetRecords) and invokes the function
synchronously, as the Lambda service does.

SQS (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): batches of up to BatchSize
gathered for at most MaximumBatchingWindowInSeconds; messages are deleted when the function
succeeds and left in the queue on failure (they come back after the visibility timeout); with
ReportBatchItemFailures only the messages the function names in batchItemFailures stay;
messages FilterCriteria rejects are deleted without an invocation.

DynamoDB Streams (with-ddb.html): each shard read in order from StartingPosition or from the
checkpoint in SQL (the last sequence number handled), so a restart resumes after the last
processed record; a failing batch is retried (MaximumRetryAttempts, -1 = until the records
expire), split in halves first with BisectBatchOnFunctionError, and when given up on it is
described to the on-failure destination (SQS or SNS) and skipped. Delivery is at least once.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid as uuids
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from freehold.events import dynamodb as ddb_events
from freehold.events import sqs as sqs_events
from freehold.events.filtering import Pattern, matches_any, parse_pattern
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.lambda_.invoke import InvokeOps
from freehold.services.lambda_.logs import service_context
from freehold.services.lambda_.mapping_store import MappingRow
from freehold.services.lambda_.mappings import MappingOps
from freehold.services.lambda_.names import parse_function

log = logging.getLogger("freehold.lambda.mappings")

TICK_SECONDS = 0.2
# Pollers of SQS mappings long-poll (holding a worker), so there are more workers than cores;
# mappings beyond this many take turns.
WORKERS = 8
LONG_POLL_SECONDS = 1
JOB_SECONDS = 2.0
LEASE_SECONDS = 10.0
RETRY_BASE_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0
GET_RECORDS_MAX = 1000
SETTLED = {"Creating": None, "Enabling": "Enabled", "Updating": "Enabled", "Disabling": "Disabled"}


class Stopped(Exception):
    """The provider is stopping, or the mapping was disabled or deleted: leave the batch."""


class Outcome:
    """One invocation's result as the pollers need it."""

    def __init__(self, ok: bool, payload: bytes, throttled: bool = False) -> None:
        self.ok, self.payload, self.throttled = ok, payload, throttled

    def item_failures(self) -> list[str] | None:
        """The identifiers in a batchItemFailures answer; [] for success of all; None when the
        answer is malformed (Lambda then treats the whole batch as failed)."""
        try:
            answer = json.loads(self.payload or b"null")
        except (ValueError, UnicodeDecodeError):
            return []
        if not isinstance(answer, dict) or answer.get("batchItemFailures") in (None, []):
            return []
        failures = answer["batchItemFailures"]
        if not isinstance(failures, list):
            return None
        identifiers: list[str] = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not isinstance(identifier, str) or not identifier:
                return None
            identifiers.append(identifier)
        return identifiers


class PollerOps(MappingOps, InvokeOps):
    def start_pollers(self) -> None:
        self._poll_stop = threading.Event()
        self._poll_wake = threading.Event()
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self._iterators: dict[tuple[str, str], str] = {}
        # The node's identity for mapping leases: stable across restarts of the same node.
        self._node = f"{socket.gethostname()}:{self.settings.data_dir.resolve()}"
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="freehold-lambda-esm")
        self._poll_thread = threading.Thread(target=self._poll_loop, name="freehold-lambda-esm", daemon=True)
        self._poll_thread.start()

    def stop_pollers(self) -> None:
        self._poll_stop.set()
        self._poll_wake.set()
        self._poll_thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wake_pollers(self) -> None:
        wake = getattr(self, "_poll_wake", None)
        if wake is not None:
            wake.set()

    # -- the loop ----------------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._poll_stop.is_set():
            try:
                self._tick()
            except Exception:
                log.exception("event source mappings could not be read")
            self._poll_wake.wait(TICK_SECONDS)
            self._poll_wake.clear()

    def _tick(self) -> None:
        rows = self.mappings.all_rows()
        if not rows:
            return
        owned = self.mappings.claim(self._node, LEASE_SECONDS)
        for row in rows:
            if row.uuid not in owned:
                continue  # another node polls it
            if row.state == "Deleting":
                if not self._is_busy(row.uuid):
                    self.mappings.delete(row.uuid)
                    self._forget_iterators(row.uuid)
                continue
            if row.state in SETTLED:
                settled = SETTLED[row.state] or ("Enabled" if row.document.get("_Enabled", True) else "Disabled")
                if settled == "Enabled" and row.state in ("Creating", "Enabling"):
                    self._forget_iterators(row.uuid)
                    if row.kind == "dynamodb" and not row.checkpoint and not self._start_shards(row):
                        continue
                if self.mappings.set_state(row.uuid, row.state, settled):
                    row.state = settled
            if row.state == "Enabled" and self._mark_busy(row.uuid):
                self._pool.submit(self._run_job, row)

    def _is_busy(self, uuid: str) -> bool:
        with self._busy_lock:
            return uuid in self._busy

    def _mark_busy(self, uuid: str) -> bool:
        with self._busy_lock:
            if uuid in self._busy:
                return False
            self._busy.add(uuid)
            return True

    def _forget_iterators(self, uuid: str) -> None:
        for key in [key for key in self._iterators if key[0] == uuid]:
            self._iterators.pop(key, None)

    def _run_job(self, row: MappingRow) -> None:
        try:
            if row.kind == "sqs":
                self._poll_sqs(row)
            else:
                self._poll_stream(row)
        except Stopped:
            pass
        except ServiceError as error:
            # The source or the function is gone or unreadable: the mapping stays and reports
            # it, as on AWS, and tries again on its next turn.
            log.debug("event source mapping %s: %s", row.uuid, error)
            self.mappings.set_result(row.uuid, f"PROBLEM: {error.message}")
        except Exception:
            log.exception("event source mapping %s failed", row.uuid)
        finally:
            with self._busy_lock:
                self._busy.discard(row.uuid)

    def _check_running(self, row: MappingRow) -> None:
        if self._poll_stop.is_set():
            raise Stopped()
        current = self.mappings.by_uuid(row.uuid)
        if current is None or current.state != "Enabled":
            raise Stopped()

    # -- invoking ------------------------------------------------------------------------------------
    def _invoke_for(self, row: MappingRow, event: Params) -> Outcome:
        ref = parse_function(row.document["FunctionArn"], row.account_id, row.region)
        version, _ = self.resolve(ref, route=True)
        invoked = ref.qualified_arn if ref.qualifier else ref.arn
        try:
            result = self.run_version(version, json.dumps(event).encode(), invoked, str(uuids.uuid4()))
        except ServiceError as error:
            if error.code == "TooManyRequestsException":
                return Outcome(False, b"", throttled=True)
            raise
        return Outcome(result.status == "ok", result.payload)

    @staticmethod
    def _patterns(row: MappingRow) -> list[Pattern]:
        filters = (row.document.get("FilterCriteria") or {}).get("Filters") or []
        return [parse_pattern(f["Pattern"]) for f in filters if f.get("Pattern")]

    # -- SQS -------------------------------------------------------------------------------------------
    def _poll_sqs(self, row: MappingRow) -> None:
        """Batches back to back while the queue has messages (for at most JOB_SECONDS, then the
        mapping waits for its next turn), long-polling while it is empty."""
        ctx = service_context(row.account_id, row.region)
        parts = row.source_arn.split(":")
        url = self.call("sqs", ctx, "GetQueueUrl", {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]})[
            "QueueUrl"]
        until = time.monotonic() + JOB_SECONDS
        while self._sqs_batch(row, ctx, url) and time.monotonic() < until:
            self._check_running(row)

    def _receive_batch(self, row: MappingRow, ctx: Any, url: str) -> list[Params]:
        batch_size = int(row.document.get("BatchSize") or 10)
        window = float(row.document.get("MaximumBatchingWindowInSeconds") or 0)
        deadline = time.monotonic() + window
        messages: list[Params] = []
        while len(messages) < batch_size and not self._poll_stop.is_set():
            wanted = min(10, batch_size - len(messages))
            remaining = deadline - time.monotonic()
            if remaining > 0:
                # WaitTimeSeconds is whole seconds: the window may be overrun by less than one.
                wait = min(20, max(1, int(remaining)))
            else:
                wait = 0 if messages else LONG_POLL_SECONDS
            answer = self.call("sqs", ctx, "ReceiveMessage", {
                "QueueUrl": url, "MaxNumberOfMessages": wanted, "WaitTimeSeconds": wait,
                "MessageSystemAttributeNames": ["All"], "MessageAttributeNames": ["All"],
            })
            received = answer.get("Messages") or []
            messages.extend(received)
            if len(received) < wanted and time.monotonic() >= deadline:
                break
        return messages

    def _sqs_batch(self, row: MappingRow, ctx: Any, url: str) -> int:
        """Receive one batch and hand it to the function; how many messages were received."""
        messages = self._receive_batch(row, ctx, url)
        if not messages:
            return 0
        records = [sqs_events.sqs_record(message, row.source_arn) for message in messages]
        patterns = self._patterns(row)
        if patterns:
            kept = [r for r in records if matches_any(patterns, sqs_events.filter_view(r))]
            dropped = [r for r in records if r not in kept]
            self._delete_messages(ctx, url, dropped)  # filtered out: deleted, as AWS does for SQS
            records = kept
            if not records:
                return len(messages)
        outcome = self._invoke_for(row, sqs_events.sqs_event(records))
        if not outcome.ok:
            return len(messages)  # left in the queue: visible again after the visibility timeout
        failed: list[str] | None = []
        if "ReportBatchItemFailures" in (row.document.get("FunctionResponseTypes") or []):
            failed = outcome.item_failures()
            ids = {r["messageId"] for r in records}
            if failed is None or any(identifier not in ids for identifier in failed):
                return len(messages)  # an invalid answer fails the whole batch
        self._delete_messages(ctx, url, [r for r in records if r["messageId"] not in set(failed or [])])
        return len(messages)

    def _delete_messages(self, ctx: Any, url: str, records: list[Params]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start:start + 10]
            self.call("sqs", ctx, "DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                {"Id": str(index), "ReceiptHandle": r["receiptHandle"]} for index, r in enumerate(chunk)]})

    # -- DynamoDB Streams ------------------------------------------------------------------------------
    def _shards(self, row: MappingRow) -> list[str]:
        ctx = service_context(row.account_id, row.region)
        description = self.call("dynamodbstreams", ctx, "DescribeStream", {"StreamArn": row.source_arn})
        return [shard["ShardId"] for shard in description["StreamDescription"].get("Shards") or []]

    def _start_shards(self, row: MappingRow) -> bool:
        """Take the starting iterators when the mapping becomes Enabled (LATEST means: records
        written from now on). False when the stream cannot be read now."""
        ctx = service_context(row.account_id, row.region)
        try:
            for shard in self._shards(row):
                answer = self.call("dynamodbstreams", ctx, "GetShardIterator", {
                    "StreamArn": row.source_arn, "ShardId": shard,
                    "ShardIteratorType": row.document.get("StartingPosition") or "TRIM_HORIZON"})
                self._iterators[(row.uuid, shard)] = answer["ShardIterator"]
        except ServiceError as error:
            log.debug("event source mapping %s cannot read %s yet: %s", row.uuid, row.source_arn, error)
            return False
        return True

    def _iterator(self, row: MappingRow, shard: str, checkpoint: dict[str, str]) -> str:
        cached = self._iterators.get((row.uuid, shard))
        if cached:
            return cached
        ctx = service_context(row.account_id, row.region)
        request: Params = {"StreamArn": row.source_arn, "ShardId": shard}
        if shard in checkpoint:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=checkpoint[shard])
        else:
            request["ShardIteratorType"] = row.document.get("StartingPosition") or "TRIM_HORIZON"
        try:
            return str(self.call("dynamodbstreams", ctx, "GetShardIterator", request)["ShardIterator"])
        except ServiceError as error:
            if error.code != "TrimmedDataAccessException":
                raise
            request.pop("SequenceNumber", None)
            request["ShardIteratorType"] = "TRIM_HORIZON"  # the checkpoint expired out of the stream
            return str(self.call("dynamodbstreams", ctx, "GetShardIterator", request)["ShardIterator"])

    def _poll_stream(self, row: MappingRow) -> None:
        ctx = service_context(row.account_id, row.region)
        checkpoint: dict[str, str] = dict(row.checkpoint.get("shards") or {})
        for shard in self._shards(row):
            if shard in (row.checkpoint.get("closed") or []):
                continue
            iterator = self._iterator(row, shard, checkpoint)
            try:
                answer = self.call("dynamodbstreams", ctx, "GetRecords", {
                    "ShardIterator": iterator, "Limit": min(int(row.document.get("BatchSize") or 100),
                                                            GET_RECORDS_MAX)})
            except ServiceError as error:
                if error.code in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                    self._iterators.pop((row.uuid, shard), None)
                    continue
                raise
            raw = answer.get("Records") or []
            if raw:
                records = [ddb_events.dynamodb_record(r, row.source_arn) for r in raw]
                patterns = self._patterns(row)
                kept = [r for r in records if matches_any(patterns, r)] if patterns else records
                delivered = self._deliver_batch(row, shard, kept) if kept else True
                checkpoint[shard] = records[-1]["dynamodb"]["SequenceNumber"]
                row.checkpoint["shards"] = checkpoint
                self.mappings.save_checkpoint(row.uuid, row.checkpoint)
                # Reported once the checkpoint is durable: "OK" means handled for good.
                self.mappings.set_result(row.uuid, "OK" if delivered else "PROBLEM: Function call failed")
            following = answer.get("NextShardIterator")
            if following:
                self._iterators[(row.uuid, shard)] = following
            else:
                self._iterators.pop((row.uuid, shard), None)
                row.checkpoint["closed"] = [*(row.checkpoint.get("closed") or []), shard]
                self.mappings.save_checkpoint(row.uuid, row.checkpoint)

    def _deliver_batch(self, row: MappingRow, shard: str, records: list[Params]) -> bool:
        """Invoke until the batch succeeds (True) or is given up on (False: retries, bisection,
        record age)."""
        document = row.document
        max_retries = int(document.get("MaximumRetryAttempts", -1))
        max_age = int(document.get("MaximumRecordAgeInSeconds", -1))
        bisect = bool(document.get("BisectBatchOnFunctionError"))
        report = "ReportBatchItemFailures" in (document.get("FunctionResponseTypes") or [])
        attempts = 0
        while True:
            self._check_running(row)
            if max_age != -1:
                oldest = float(records[0]["dynamodb"].get("ApproximateCreationDateTime") or time.time())
                if time.time() - oldest > max_age:
                    self._on_failure(row, shard, records, "RecordAgeExceeded", attempts, None)
                    return False
            outcome = self._invoke_for(row, ddb_events.dynamodb_event(records))
            if outcome.throttled:
                self._pause(row, 1)
                continue
            failed_at = 0 if not outcome.ok else None
            if outcome.ok and report:
                failures = outcome.item_failures()
                numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
                if failures is None or any(f not in numbers for f in failures):
                    failed_at = 0
                elif failures:
                    failed_at = min(numbers.index(f) for f in failures)
            if failed_at is None:
                return True
            attempts += 1
            records = records[failed_at:]
            if bisect and len(records) > 1:
                middle = len(records) // 2
                first = self._deliver_batch(row, shard, records[:middle])
                return self._deliver_batch(row, shard, records[middle:]) and first
            if max_retries != -1 and attempts > max_retries:
                self._on_failure(row, shard, records, "RetryAttemptsExhausted", attempts,
                                 None if outcome.ok else "Unhandled")
                return False
            self._pause(row, attempts)

    def _pause(self, row: MappingRow, attempts: int) -> None:
        self._poll_stop.wait(min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * (2 ** (attempts - 1))))
        self._check_running(row)

    def _on_failure(self, row: MappingRow, shard: str, records: list[Params], condition: str, attempts: int,
                    function_error: str | None) -> None:
        target = ((row.document.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if not target:
            return
        body = json.dumps(ddb_events.failure_record(records, row.source_arn, shard, row.document["FunctionArn"],
                                                    condition, attempts, function_error))
        ctx = service_context(row.account_id, row.region)
        try:
            if target.startswith("arn:aws:sqs:"):
                parts = target.split(":")
                url = self.call("sqs", ctx, "GetQueueUrl", {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]})
                self.call("sqs", ctx, "SendMessage", {"QueueUrl": url["QueueUrl"], "MessageBody": body})
            else:
                self.call("sns", ctx, "Publish", {"TopicArn": target, "Message": body})
        except ServiceError as error:
            log.warning("event source mapping %s could not send its failure to %s: %s", row.uuid, target, error)
