"""Message move tasks: redrive a dead-letter queue's messages back to their sources or to a
chosen queue (StartMessageMoveTask, CancelMessageMoveTask, ListMessageMoveTasks).

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html
A task is a row; the background worker (workers.py) advances RUNNING tasks, at most
MaxNumberOfMessagesPerSecond a second, and completes them when the source has no visible
message left. Tasks resume after a restart from their row.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from freehold.protocol.errors import ServiceError
from freehold.services.sqs.message_store import MessageStore
from freehold.services.sqs.models import invalid_parameter, invalid_value, parse_queue_arn
from freehold.services.sqs.queues import Queue
from freehold.services.sqs.store import QueueStore
from freehold.services.sqs.wakeups import Wakeups

if TYPE_CHECKING:
    from freehold.gateway.context import RequestContext

QueueByArn = Callable[[str], "Queue | None"]
DEFAULT_RATE = 500  # AWS's system-optimized rate tops out at 500 messages per second


def _source_missing() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.")


def _handle(task_id: str, source_arn: str) -> str:
    return base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source_arn}).encode()).decode()


def _parse_handle(handle: str) -> tuple[str, str]:
    try:
        value = json.loads(base64.b64decode(handle.encode(), validate=True).decode())
        return str(value["taskId"]), str(value["sourceArn"])
    except (ValueError, KeyError, TypeError, UnicodeError):
        raise invalid_parameter("Value for parameter TaskHandle is invalid.") from None


class MoveTasks:
    def __init__(self, queues: QueueStore, messages: MessageStore, wakeups: Wakeups) -> None:
        self.queues = queues
        self.messages = messages
        self.wakeups = wakeups
        self.db = queues.db

    def start(self, ctx: RequestContext, source_arn: str, destination_arn: str | None, rate: int | None,
              by_arn: QueueByArn) -> str:
        source = by_arn(source_arn)
        if source is None:
            raise _source_missing()
        if not self.queues.dead_letter_sources(source.arn, "", 1):
            raise invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is not None and by_arn(destination_arn) is None:
            raise ServiceError(
                "ResourceNotFoundException", "The resource that you specified for the DestinationArn parameter doesn't exist."
            )
        if rate is not None and not 1 <= rate <= 500:
            raise invalid_value(rate, "MaxNumberOfMessagesPerSecond", "Must be between 1 and 500.")
        task_id = str(uuid.uuid4())
        to_move = self.messages.visible_count(source, int(time.time() * 1000))
        with self.db.transaction() as tx:
            running = tx.query_one(
                "SELECT 1 FROM sqs_move_tasks WHERE source_arn = ? AND status = 'RUNNING' FOR UPDATE", (source.arn,)
            )
            if running is not None:
                raise invalid_parameter(
                    "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
                )
            tx.execute(
                "INSERT INTO sqs_move_tasks (task_handle, account_id, region, source_arn, destination_arn, max_per_second, "
                "status, started, moved, to_move) VALUES (?, ?, ?, ?, ?, ?, 'RUNNING', ?, 0, ?)",
                (task_id, source.account_id, source.region, source.arn, destination_arn, rate,
                 int(time.time() * 1000), to_move),
            )
        return _handle(task_id, source.arn)

    def cancel(self, handle: str, by_arn: QueueByArn) -> int:
        task_id, source_arn = _parse_handle(handle)
        if parse_queue_arn(source_arn) is None or by_arn(source_arn) is None:
            raise _source_missing()
        with self.db.transaction() as tx:
            row = tx.query_one(
                "SELECT status, moved FROM sqs_move_tasks WHERE task_handle = ? AND source_arn = ? FOR UPDATE",
                (task_id, source_arn),
            )
            if row is None:
                raise ServiceError("ResourceNotFoundException", "Task does not exist.")
            if row[0] != "RUNNING":
                raise invalid_parameter("Only active tasks can be cancelled.")
            tx.execute("UPDATE sqs_move_tasks SET status = 'CANCELLED' WHERE task_handle = ?", (task_id,))
        return int(row[1])

    def list_tasks(self, source_arn: str, limit: int, by_arn: QueueByArn) -> list[dict[str, Any]]:
        if by_arn(source_arn) is None:
            raise _source_missing()
        rows = self.db.query(
            "SELECT task_handle, status, source_arn, destination_arn, max_per_second, moved, to_move, failure_reason, "
            "started FROM sqs_move_tasks WHERE source_arn = ? ORDER BY started DESC LIMIT ?",
            (source_arn, limit),
        )
        results: list[dict[str, Any]] = []
        for task_id, status, source, destination, rate, moved, to_move, failure, started in rows:
            item: dict[str, Any] = {"Status": status, "SourceArn": source, "ApproximateNumberOfMessagesMoved": int(moved),
                                    "ApproximateNumberOfMessagesToMove": int(to_move), "StartedTimestamp": int(started)}
            if status == "RUNNING":
                item["TaskHandle"] = _handle(task_id, source)
            if destination:
                item["DestinationArn"] = destination
            if rate is not None:
                item["MaxNumberOfMessagesPerSecond"] = int(rate)
            if failure:
                item["FailureReason"] = failure
            results.append(item)
        return results

    def advance(self, by_arn: QueueByArn, elapsed: float) -> None:
        """One step of every running task: move what the rate allows for `elapsed` seconds."""
        rows = self.db.query(
            "SELECT task_handle, source_arn, destination_arn, max_per_second FROM sqs_move_tasks WHERE status = 'RUNNING'"
        )
        for task_id, source_arn, destination_arn, rate in rows:
            self._advance_one(str(task_id), str(source_arn), destination_arn, rate, by_arn, elapsed)

    def _advance_one(self, task_id: str, source_arn: str, destination_arn: str | None, rate: int | None,
                     by_arn: QueueByArn, elapsed: float) -> None:
        source = by_arn(source_arn)
        destination = by_arn(destination_arn) if destination_arn else None
        if source is None or (destination_arn and destination is None):
            reason = "AWS.SimpleQueueService.NonExistentQueue"
            self.db.execute(
                "UPDATE sqs_move_tasks SET status = 'FAILED', failure_reason = ? WHERE task_handle = ? AND status = 'RUNNING'",
                (reason, task_id),
            )
            return
        budget = max(1, int((rate or DEFAULT_RATE) * elapsed))
        origins: dict[str, Queue] = {}
        if destination is None:
            for arn in self.messages.dead_letter_origins(source):
                found = by_arn(arn)
                if found is not None:
                    origins[arn] = found
        now = int(time.time() * 1000)
        moved, skipped = self.messages.move_visible(source, destination, origins, budget, now)
        targets = [destination] if destination is not None else list(origins.values())
        for target in targets:
            self.wakeups.queue_changed(target.queue_id)
        finished = moved == 0  # nothing visible left (or only messages with nowhere to go)
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE sqs_move_tasks SET moved = moved + ? WHERE task_handle = ? AND status = 'RUNNING'", (moved, task_id)
            )
            if finished:
                status = "FAILED" if skipped else "COMPLETED"
                failure = "Some messages have no source queue to return to; set a DestinationArn." if skipped else None
                tx.execute(
                    "UPDATE sqs_move_tasks SET status = ?, failure_reason = ? WHERE task_handle = ? AND status = 'RUNNING'",
                    (status, failure, task_id),
                )
