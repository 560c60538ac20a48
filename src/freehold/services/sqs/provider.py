"""The SQS provider: queues, messages, batches, dead-letter queues, tags and permissions.

Both wire protocols reach these methods (JSON from current SDKs, query from older ones):
the protocol layer parses both into the same params. Queues are addressed by URL
(http://<host>/<account>/<name>, see models.py) in the request's region.

ReceiveMessage is `async`: a long poll waits on an asyncio future (waiters.py), not on a
worker thread, so thousands can wait at once; its SQL runs between waits, on the event loop
while SQLite's write lock is free, else in a thread. Sends, deletes and visibility changes
are `@short_sql` (one short write transaction each, after nothing that cannot be done twice;
DeleteMessageBatch is idempotent when run again): on SQLite they run on the event loop too.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params, Provider, ServiceRuntime, short_sql
from freehold.services.sqs import attributes as attrs
from freehold.services.sqs.message_store import MessageStore
from freehold.services.sqs.models import (
    BATCH_MAX_BYTES,
    DELETED_NAME_HOLD_SECONDS,
    PURGE_INTERVAL_SECONDS,
    QueueRef,
    batch_failure,
    check_batch_ids,
    check_queue_name,
    decode_receipt,
    invalid_receipt,
    invalid_value,
    parse_queue_arn,
    queue_does_not_exist,
    queue_url,
)
from freehold.services.sqs.move_tasks import MoveTasks
from freehold.services.sqs.queues import Queue
from freehold.services.sqs.receiving import message_answer, receive_limits, wanted_system_attributes
from freehold.services.sqs.sending import FifoParameterError, batch_size, build_message, send_answer
from freehold.services.sqs.store import QueueStore
from freehold.services.sqs.tagging import check_tag_keys, check_tags
from freehold.services.sqs.waiters import Waiters
from freehold.services.sqs.wakeups import Wakeups
from freehold.state.database import WriteLockBusy
from freehold.services.sqs.workers import ExpiryWorker

QUEUE_CACHE_SECONDS = 2.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqsProvider(Provider):
    service: ClassVar[str] = "sqs"
    partial: ClassVar[dict[str, str]] = {
        "AddPermission": "the statement is stored in the queue policy; enforcement comes with the IAM policy evaluator",
        "CreateQueue": "KMS attributes are stored but messages are not encrypted with KMS (no KMS service yet)",
        "SetQueueAttributes": "Policy is validated and stored; it is enforced once the IAM policy evaluator lands",
        "ReceiveMessage": "async (long polling): it cannot be called in process by other services",
    }

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.queues = QueueStore(runtime.db)
        self.messages = MessageStore(runtime.db)
        self.waiters = Waiters()
        self.wakeups = Wakeups(runtime.db, self.waiters, runtime.settings.state_url.strip())
        self.move_tasks = MoveTasks(self.queues, self.messages, self.wakeups)
        self.expiry = ExpiryWorker(self.queues, self.messages, self.move_tasks)
        # Queue rows read recently, by (account, region, name): sends and receives look their
        # queue up on every call. AWS itself takes up to 60 s to propagate attribute changes.
        self._cache: dict[tuple[str, str, str], tuple[float, Queue]] = {}
        self._cache_lock = threading.Lock()

    def start(self) -> None:
        self.queues.migrate()
        self.wakeups.start()
        self.expiry.start()

    def stop(self) -> None:
        self.expiry.stop()
        self.wakeups.stop()

    def reset(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    # -- finding queues ------------------------------------------------------------------------
    def _cached(self, ref: QueueRef) -> Queue | None:
        """The queue if it was read recently (no SQL: safe on the event loop)."""
        with self._cache_lock:
            cached = self._cache.get((ref.account_id, ref.region, ref.name))
        return cached[1] if cached is not None and cached[0] > time.monotonic() else None

    def _lookup(self, ref: QueueRef, protocol: str | None = None) -> Queue:
        queue = self._cached(ref)
        if queue is not None:
            return queue
        key = (ref.account_id, ref.region, ref.name)
        now = time.monotonic()
        queue = self.queues.get(*key)
        if queue is None:
            raise queue_does_not_exist(protocol)
        with self._cache_lock:
            self._cache[key] = (now + QUEUE_CACHE_SECONDS, queue)
        return queue

    def _forget(self, queue: Queue) -> None:
        with self._cache_lock:
            self._cache.pop((queue.account_id, queue.region, queue.name), None)

    def _queue(self, ctx: RequestContext, params: Params) -> Queue:
        return self._lookup(self._ref_from_url(ctx, params["QueueUrl"]), ctx.protocol)

    @staticmethod
    def _ref_from_url(ctx: RequestContext, url: str) -> QueueRef:
        parts = [p for p in urlsplit(url).path.split("/") if p] if "://" in url else [p for p in url.split("/") if p]
        if len(parts) < 2 or not parts[-2].isdigit() or len(parts[-2]) != 12:
            if len(parts) == 1 and "://" not in url:
                # A bare queue name: accepted by AWS's query API when posting to the queue's URL.
                return QueueRef(ctx.account_id, ctx.region, parts[0])
            raise ServiceError("InvalidAddress", f"The address {url} is not valid for this endpoint.")
        return QueueRef(parts[-2], ctx.region, parts[-1])

    def _queue_by_arn(self, arn: str) -> Queue | None:
        ref = parse_queue_arn(arn)
        if ref is None:
            return None
        try:
            return self._lookup(ref)
        except ServiceError:
            return None

    @staticmethod
    def _host(ctx: RequestContext) -> str:
        host = ctx.request.host if ctx.request is not None else ""
        return host or "localhost:4566"

    def _url(self, ctx: RequestContext, queue: Queue) -> str:
        return queue_url(self._host(ctx), queue.account_id, queue.name)

    # -- queues --------------------------------------------------------------------------------
    def create_queue(self, ctx: RequestContext, params: Params) -> Params:
        name = params["QueueName"]
        given: dict[str, str] = dict(params.get("Attributes") or {})
        fifo = given.get("FifoQueue", "").strip().lower() == "true"
        check_queue_name(name, fifo or name.endswith(".fifo"))
        if name.endswith(".fifo") and not fifo:
            raise ServiceError(
                "InvalidParameterValue",
                "The name of a non-FIFO queue can only include alphanumeric characters, hyphens, or underscores. "
                "1 to 80 in length",
            )
        normalized = {key: attrs.normalize(key, value, fifo, creating=True) for key, value in given.items()}
        settings = attrs.defaults(fifo)
        settings.update({key: value for key, value in normalized.items() if value != "" or key not in settings})
        settings = {key: value for key, value in settings.items() if value != ""}
        if not fifo:
            settings.pop("FifoQueue", None)
        attrs.check_combination(settings)
        ref = QueueRef(ctx.account_id, ctx.region, name)
        self._check_redrive(ref.arn, fifo, ref.account_id, ref.region, settings.get("RedrivePolicy"),
                            given.get("RedrivePolicy"))
        tags = check_tags(params.get("tags"))
        existing = self.queues.get(ctx.account_id, ctx.region, name)
        if existing is None:
            if self.queues.deleted_since(ctx.account_id, ctx.region, name, time.time() - DELETED_NAME_HOLD_SECONDS):
                raise ServiceError(
                    "QueueDeletedRecently",
                    "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
                )
            existing, _created = self.queues.create(ctx.account_id, ctx.region, name, fifo, settings, tags)
        # Creating an existing queue succeeds when every given attribute matches (tags are not compared).
        for key, value in normalized.items():
            if existing.attributes.get(key, settings.get(key, "")) != value and not (
                key == "FifoQueue" and value == "false" and not existing.fifo
            ):
                raise ServiceError(
                    "QueueNameExists",
                    f"A queue already exists with the same name and a different value for attribute {key}",
                )
        return {"QueueUrl": self._url(ctx, existing)}

    def _check_redrive(self, source_arn: str, fifo: bool, account_id: str, region: str, policy: str | None,
                       shown: str | None) -> None:
        """The dead-letter target must exist, be of the same type and allow this source.
        Errors quote the policy as the caller wrote it (`shown`)."""
        if not policy:
            return
        target_arn = json.loads(policy)["deadLetterTargetArn"]
        policy = shown or policy
        target = self._queue_by_arn(target_arn)
        ref = parse_queue_arn(target_arn)
        if target is None or ref is None or (ref.account_id, ref.region) != (account_id, region):
            raise invalid_value(policy, "RedrivePolicy", "Dead letter target does not exist.")
        if target.fifo != fifo:
            raise invalid_value(policy, "RedrivePolicy", "Dead-letter queue must be same type of queue as the source.")
        if not target.allows_as_dead_letter_source(source_arn):
            raise invalid_value(
                policy, "RedrivePolicy",
                f"Queue {target_arn} does not allow this queue to use it as a dead-letter queue.",
            )

    @short_sql
    def get_queue_url(self, ctx: RequestContext, params: Params) -> Params:
        account = params.get("QueueOwnerAWSAccountId") or ctx.account_id
        queue = self._lookup(QueueRef(account, ctx.region, params["QueueName"]), ctx.protocol)
        return {"QueueUrl": self._url(ctx, queue)}

    def delete_queue(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        self.queues.delete(queue)
        self._forget(queue)
        self.wakeups.queue_changed(queue.queue_id)  # long polls on it end (and find it gone)
        return {}

    def list_queues(self, ctx: RequestContext, params: Params) -> Params:
        limit = params.get("MaxResults")
        if limit is not None and not 1 <= limit <= 1000:
            raise invalid_value(limit, "MaxResults", "MaxResults must be an integer between 1 and 1000.")
        after = _decode_token(params.get("NextToken"))
        page = limit or 1000
        found = self.queues.list_page(ctx.account_id, ctx.region, params.get("QueueNamePrefix") or "", after, page + 1)
        answer: Params = {}
        if found[:page]:
            answer["QueueUrls"] = [self._url(ctx, queue) for queue in found[:page]]
        # Without MaxResults AWS returns up to 1,000 queues and no token.
        if limit is not None and len(found) > page:
            answer["NextToken"] = _encode_token(found[page - 1].name)
        return answer

    def get_queue_attributes(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        names = attrs.requested_names(params.get("AttributeNames"))
        if not names:
            return {}
        values: dict[str, str] = {}
        counts = None
        for name in names:
            if name.startswith("ApproximateNumberOfMessages"):
                if counts is None:
                    counts = self.messages.counts(queue, _now_ms())
                index = {"ApproximateNumberOfMessages": 0, "ApproximateNumberOfMessagesNotVisible": 1,
                         "ApproximateNumberOfMessagesDelayed": 2}[name]
                values[name] = str(counts[index])
            elif name == "QueueArn":
                values[name] = queue.arn
            elif name == "CreatedTimestamp":
                values[name] = str(int(queue.created))
            elif name == "LastModifiedTimestamp":
                values[name] = str(int(queue.last_modified))
            elif name in queue.attributes:
                values[name] = queue.attributes[name]
        return {"Attributes": values} if values else {}

    def set_queue_attributes(self, ctx: RequestContext, params: Params) -> Params:
        queue = self.queues.get(*self._key(ctx, params))
        if queue is None:
            raise queue_does_not_exist(ctx.protocol)
        given: dict[str, str] = params.get("Attributes") or {}
        updated = dict(queue.attributes)
        for key, value in given.items():
            normalized = attrs.normalize(key, value, queue.fifo, creating=False)
            if normalized == "":
                updated.pop(key, None)
            else:
                updated[key] = normalized
        attrs.check_combination(updated)
        if "RedrivePolicy" in given:
            self._check_redrive(queue.arn, queue.fifo, queue.account_id, queue.region, updated.get("RedrivePolicy"),
                                given.get("RedrivePolicy"))
        self.queues.set_attributes(queue, updated)
        self._forget(queue)
        return {}

    def _key(self, ctx: RequestContext, params: Params) -> tuple[str, str, str]:
        ref = self._ref_from_url(ctx, params["QueueUrl"])
        return ref.account_id, ref.region, ref.name

    def purge_queue(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        if not self.queues.claim_purge(queue, time.time(), PURGE_INTERVAL_SECONDS):
            raise ServiceError(
                "PurgeQueueInProgress", f"Only one PurgeQueue operation on {queue.name} is allowed every 60 seconds."
            )
        self.messages.purge(queue, _now_ms())
        return {}

    # -- tags ----------------------------------------------------------------------------------
    def tag_queue(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        fresh = self.queues.get_by_id(queue.queue_id) or queue
        merged = {**fresh.tags, **check_tags(params["Tags"], required=True)}
        check_tags(merged)
        self.queues.set_tags(fresh, merged)
        self._forget(queue)
        return {}

    def untag_queue(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        keys = check_tag_keys(params["TagKeys"])
        fresh = self.queues.get_by_id(queue.queue_id) or queue
        self.queues.set_tags(fresh, {k: v for k, v in fresh.tags.items() if k not in keys})
        self._forget(queue)
        return {}

    def list_queue_tags(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        fresh = self.queues.get_by_id(queue.queue_id) or queue
        return {"Tags": dict(fresh.tags)} if fresh.tags else {}

    # -- permissions (stored in the queue policy) ---------------------------------------------------
    def add_permission(self, ctx: RequestContext, params: Params) -> Params:
        queue = self.queues.get(*self._key(ctx, params))
        if queue is None:
            raise queue_does_not_exist(ctx.protocol)
        label = params["Label"]
        accounts, actions = params["AWSAccountIds"], params["Actions"]
        if not accounts:
            raise ServiceError("MissingParameter", "The request must contain the parameter AWSAccountIds.")
        if not actions:
            raise ServiceError("MissingParameter", "The request must contain the parameter Actions.")
        policy: dict[str, Any] = json.loads(queue.attributes["Policy"]) if queue.attributes.get("Policy") else {
            "Version": "2012-10-17", "Id": f"{queue.arn}/SQSDefaultPolicy", "Statement": []}
        statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
        if any(s.get("Sid") == label for s in statements):
            raise invalid_value(label, "Label", "Already exists.")
        principals = [f"arn:aws:iam::{account}:root" for account in accounts]
        statements.append({
            "Sid": label, "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": [f"SQS:{action}" for action in actions] if len(actions) > 1 else f"SQS:{actions[0]}",
            "Resource": queue.arn,
        })
        policy["Statement"] = statements
        text = json.dumps(policy, separators=(",", ":"))
        attrs.check_policy_limits(text, statements)
        self.queues.set_attributes(queue, {**queue.attributes, "Policy": text})
        self._forget(queue)
        return {}

    def remove_permission(self, ctx: RequestContext, params: Params) -> Params:
        queue = self.queues.get(*self._key(ctx, params))
        if queue is None:
            raise queue_does_not_exist(ctx.protocol)
        label = params["Label"]
        policy = json.loads(queue.attributes["Policy"]) if queue.attributes.get("Policy") else None
        statements = [] if policy is None else (
            policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]])
        kept = [s for s in statements if s.get("Sid") != label]
        if policy is None or len(kept) == len(statements):
            raise invalid_value(label, "Label", "can't find label.")
        updated = dict(queue.attributes)
        if kept:
            policy["Statement"] = kept
            updated["Policy"] = json.dumps(policy, separators=(",", ":"))
        else:
            updated.pop("Policy", None)
        self.queues.set_attributes(queue, updated)
        self._forget(queue)
        return {}

    # -- sending ---------------------------------------------------------------------------------
    @short_sql
    def send_message(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        message = build_message(queue, params, ctx.principal.user_id)
        result = self.messages.send(queue, [message], _now_ms(), self.wakeups.queue_changed)[0]
        return send_answer(message, result)

    @short_sql
    def send_message_batch(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        entries: list[dict[str, Any]] = params["Entries"]
        check_batch_ids(entries, "SendMessageBatchRequestEntry")
        size = batch_size(entries)
        if size > BATCH_MAX_BYTES:
            raise ServiceError(
                "BatchRequestTooLong", f"Batch requests cannot be longer than {BATCH_MAX_BYTES} bytes. You have sent {size} bytes."
            )
        built: list[tuple[str, Any]] = []
        failed: list[Params] = []
        for entry in entries:
            try:
                built.append((entry["Id"], build_message(queue, entry, ctx.principal.user_id, batch=True)))
            except FifoParameterError as error:
                raise ServiceError(error.code, error.message) from None
            except ServiceError as error:
                failed.append(batch_failure(entry["Id"], error))
        successful: list[Params] = []
        if built:
            results = self.messages.send(queue, [message for _, message in built], _now_ms(),
                                         self.wakeups.queue_changed)
            for (entry_id, message), result in zip(built, results):
                successful.append({"Id": entry_id, **send_answer(message, result)})
        return {"Successful": successful, "Failed": failed}

    # -- receiving -------------------------------------------------------------------------------
    async def receive_message(self, ctx: RequestContext, params: Params) -> Params:
        # A queue read recently comes from memory without a thread hop; otherwise SQL, in a thread.
        queue = self._cached(self._ref_from_url(ctx, params["QueueUrl"]))
        if queue is None:
            queue = await asyncio.to_thread(self._queue, ctx, params)
        limit, visibility, wait = receive_limits(queue, params)
        system = wanted_system_attributes(params)
        attribute_names = params.get("MessageAttributeNames")
        attempt = params.get("ReceiveRequestAttemptId")
        deadline = time.monotonic() + wait
        # Other nodes' sends arrive through LISTEN/NOTIFY; while that connection is down, re-check often.
        recheck = 5.0 if self.wakeups.listening else 0.5
        while True:
            seen = self.waiters.version(queue.queue_id)
            messages, next_visible = await self._receive_soon(queue, limit, visibility, attempt)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                break
            timeout = min(remaining, recheck)
            if next_visible is not None:
                timeout = min(timeout, max(0.0, next_visible / 1000 - time.time()) + 0.005)
            await self.waiters.wait(queue.queue_id, seen, timeout)
            if self.queues is not None and not await asyncio.to_thread(self._exists, queue):
                raise queue_does_not_exist(ctx.protocol)
        if not messages:
            return {}
        return {"Messages": [message_answer(m, queue, system, attribute_names) for m in messages]}

    async def _receive_soon(self, queue: Queue, limit: int, visibility: int,
                            attempt: str | None) -> tuple[list[Any], int | None]:
        """One look for messages: on the event loop while SQLite's write lock is free (one
        short transaction; a hand-over to a thread and back costs more), else in a thread."""
        if self.db.inline_writes:
            try:
                with self.db.no_wait():
                    return self._receive_once(queue, limit, visibility, attempt)
            except WriteLockBusy:
                pass  # nothing was written: the transaction refused to wait before its first statement
        return await asyncio.to_thread(self._receive_once, queue, limit, visibility, attempt)

    def _exists(self, queue: Queue) -> bool:
        return self.queues.get_by_id(queue.queue_id) is not None

    def _receive_once(self, queue: Queue, limit: int, visibility: int, attempt: str | None) -> tuple[list[Any], int | None]:
        now = _now_ms()
        dead_letter = self._queue_by_arn(queue.dead_letter_target) if queue.dead_letter_target else None
        received = self.messages.receive(queue, limit, visibility, now, dead_letter, attempt)
        if received.moved_to_dead_letter and dead_letter is not None:
            self.wakeups.queue_changed(dead_letter.queue_id)
        if received.messages:
            return received.messages, None
        return [], self.messages.next_visible_at(queue, now)

    # -- deleting and visibility ------------------------------------------------------------------
    @short_sql
    def delete_message(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        self._delete(queue, params["ReceiptHandle"])
        return {}

    def _delete(self, queue: Queue, handle: str) -> None:
        receipt = decode_receipt(handle)
        if receipt is None or receipt.queue_id != queue.queue_id:
            raise invalid_receipt(handle)
        outcome = self.messages.delete(queue, receipt, _now_ms())
        if outcome == "expired":
            raise invalid_value(handle, "ReceiptHandle", "The receipt handle has expired.")

    @short_sql
    def delete_message_batch(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        entries: list[dict[str, Any]] = params["Entries"]
        check_batch_ids(entries, "DeleteMessageBatchRequestEntry")
        successful: list[Params] = []
        failed: list[Params] = []
        for entry in entries:
            try:
                self._delete(queue, entry["ReceiptHandle"])
                successful.append({"Id": entry["Id"]})
            except ServiceError as error:
                failed.append(batch_failure(entry["Id"], error))
        return {"Successful": successful, "Failed": failed}

    @short_sql
    def change_message_visibility(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        self._change_visibility(queue, params["ReceiptHandle"], params["VisibilityTimeout"])
        return {}

    def _change_visibility(self, queue: Queue, handle: str, timeout: int) -> None:
        if not 0 <= timeout <= 43_200:
            raise invalid_value(timeout, "VisibilityTimeout", "Must be >= 0 and <= 43200, if provided.")
        receipt = decode_receipt(handle)
        if receipt is None or receipt.queue_id != queue.queue_id:
            raise invalid_receipt(handle)
        outcome = self.messages.change_visibility(queue, receipt, timeout, _now_ms())
        if outcome == "not-in-flight":
            raise ServiceError("MessageNotInflight", "Message does not exist or is not available for visibility timeout change.")
        if outcome == "too-long":
            raise invalid_value(
                timeout, "VisibilityTimeout", "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        if timeout == 0:
            self.wakeups.queue_changed(queue.queue_id)

    def change_message_visibility_batch(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        entries: list[dict[str, Any]] = params["Entries"]
        check_batch_ids(entries, "ChangeMessageVisibilityBatchRequestEntry")
        successful: list[Params] = []
        failed: list[Params] = []
        for entry in entries:
            try:
                self._change_visibility(queue, entry["ReceiptHandle"], int(entry.get("VisibilityTimeout") or 0))
                successful.append({"Id": entry["Id"]})
            except ServiceError as error:
                failed.append(batch_failure(entry["Id"], error))
        return {"Successful": successful, "Failed": failed}

    # -- dead-letter queues -------------------------------------------------------------------------
    def list_dead_letter_source_queues(self, ctx: RequestContext, params: Params) -> Params:
        queue = self._queue(ctx, params)
        limit = params.get("MaxResults")
        if limit is not None and not 1 <= limit <= 1000:
            raise invalid_value(limit, "MaxResults", "MaxResults must be an integer between 1 and 1000.")
        page = limit or 1000
        found = self.queues.dead_letter_sources(queue.arn, _decode_token(params.get("NextToken")), page + 1)
        answer: Params = {"queueUrls": [self._url(ctx, source) for source in found[:page]]}
        if limit is not None and len(found) > page:
            answer["NextToken"] = _encode_token(found[page - 1].name)
        return answer

    def start_message_move_task(self, ctx: RequestContext, params: Params) -> Params:
        return {"TaskHandle": self.move_tasks.start(
            ctx, params["SourceArn"], params.get("DestinationArn"), params.get("MaxNumberOfMessagesPerSecond"),
            self._queue_by_arn,
        )}

    def cancel_message_move_task(self, ctx: RequestContext, params: Params) -> Params:
        return {"ApproximateNumberOfMessagesMoved": self.move_tasks.cancel(params["TaskHandle"], self._queue_by_arn)}

    def list_message_move_tasks(self, ctx: RequestContext, params: Params) -> Params:
        limit = params.get("MaxResults")
        if limit is not None and not 1 <= limit <= 10:
            raise invalid_value(limit, "MaxResults", "MaxResults must be an integer between 1 and 10.")
        return {"Results": self.move_tasks.list_tasks(params["SourceArn"], limit or 1, self._queue_by_arn)}


def _encode_token(name: str) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps({"after": name}).encode()).decode()


def _decode_token(token: str | None) -> str:
    if not token:
        return ""
    import base64

    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        return str(value["after"])
    except (ValueError, KeyError, TypeError, UnicodeError):
        raise ServiceError("InvalidParameterValue", "Invalid NextToken value.") from None
