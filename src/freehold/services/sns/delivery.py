"""One delivery attempt per protocol: SQS (SendMessage in process), HTTP/S (a real POST),
Lambda (an asynchronous Invoke in process), and the outbox (email, email-json, sms,
application), plus sending what could not be delivered to a subscription's dead-letter queue.

Each attempt ends in an `Outcome`: delivered, retryable (the retry policy decides when), or
failed for good (client-side errors: the queue or function does not exist, the endpoint
answered 4xx), which sends the message to the dead-letter queue when there is one.
https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from freehold.gateway.context import Principal, RequestContext
from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest
from freehold.state.database import StateError
from freehold.services.sns import envelope as envelopes
from freehold.services.sns.models import OUTBOX_PROTOCOLS, Subscription, parse_arn

if TYPE_CHECKING:
    from freehold.services.sns.provider import SnsProvider
    from freehold.services.sns.store import Delivery, Message

HTTP_TIMEOUT = 15.0  # SNS gives an HTTP endpoint 15 seconds to answer
# SendMessageBatch takes at most 10 entries whose bodies and attributes total 256 KiB
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html);
# freehold fills a batch to a little less, as its estimate counts base64 text for binary values.
SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 200_000


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retryable: bool = False
    error: str = ""

    @staticmethod
    def ok() -> Outcome:
        return Outcome(True)

    @staticmethod
    def retry(error: str) -> Outcome:
        return Outcome(False, True, error)

    @staticmethod
    def failed(error: str) -> Outcome:
        return Outcome(False, False, error)


def service_context(account_id: str, region: str) -> RequestContext:
    """The context SNS calls another service with, as the resource owner's account."""
    return RequestContext(
        request=HttpRequest(method="POST", path="/"), request_id=str(uuid.uuid4()), region=region,
        account_id=account_id, principal=Principal.root(account_id),
    )


def _error_outcome(error: ServiceError) -> Outcome:
    """Server-side trouble (5xx, throttling, not implemented yet) is retried; the rest is not."""
    status = error.status or (500 if not error.sender_fault else 400)
    if status >= 500 or status == 429 or "Throttl" in error.code or error.code == "TooManyRequestsException":
        return Outcome.retry(f"{error.code}: {error.message}")
    return Outcome.failed(f"{error.code}: {error.message}")


class Transports:
    """Delivers one claimed delivery to its subscription's endpoint."""

    def __init__(self, provider: SnsProvider) -> None:
        self.provider = provider
        self._queue_urls: dict[str, str] = {}

    def forget_queues(self) -> None:
        self._queue_urls.clear()

    @property
    def endpoint_url(self) -> str:
        return self.provider.settings.endpoint_url

    # -- the envelope each protocol gets ---------------------------------------------------
    def envelope(self, message: Message, sub: Subscription) -> dict[str, Any]:
        if message.kind != "Notification":
            return envelopes.confirmation(message, self.endpoint_url, self.provider.signer)
        text = envelopes.message_for(message, sub.protocol)
        return envelopes.notification(message, text, sub.arn, self.endpoint_url, self.provider.signer)

    def deliver(self, delivery: Delivery, sub: Subscription, content_type: str) -> Outcome:
        protocol = sub.protocol
        if protocol == "sqs":
            return self._sqs(delivery, sub)
        if protocol in ("http", "https"):
            return self._http(delivery, sub, content_type)
        if protocol == "lambda":
            return self._lambda(delivery, sub)
        if protocol in OUTBOX_PROTOCOLS:
            return self._outbox(delivery, sub)
        return Outcome.failed(f"freehold does not deliver to {protocol} endpoints yet")

    # -- SQS --------------------------------------------------------------------------------
    def _queue_url(self, queue_arn: str) -> tuple[str, RequestContext]:
        arn = parse_arn(queue_arn)
        if arn is None or arn.service != "sqs":
            raise ServiceError("InvalidParameter", f"not an SQS queue ARN: {queue_arn}")
        ctx = service_context(arn.account_id, arn.region)
        url = self._queue_urls.get(queue_arn)
        if url is None:
            answer = self.provider.call("sqs", ctx, "GetQueueUrl", {
                "QueueName": arn.resource, "QueueOwnerAWSAccountId": arn.account_id,
            })
            url = str(answer["QueueUrl"])
            self._queue_urls[queue_arn] = url
        return url, ctx

    def send_to_queue(self, queue_arn: str, body: str, attributes: dict[str, dict[str, Any]],
                      group_id: str | None, dedup_id: str | None) -> Outcome:
        try:
            url, ctx = self._queue_url(queue_arn)
            params: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
            if attributes:
                params["MessageAttributes"] = attributes
            if group_id is not None:
                params["MessageGroupId"] = group_id
            if dedup_id is not None and queue_arn.endswith(".fifo"):
                params["MessageDeduplicationId"] = dedup_id
            self.provider.call("sqs", ctx, "SendMessage", params)
        except ServiceError as error:
            self._queue_urls.pop(queue_arn, None)
            return _error_outcome(error)
        return Outcome.ok()

    def _sqs_message(self, message: Message, sub: Subscription) -> tuple[str, dict[str, dict[str, Any]], str]:
        """The SQS body, message attributes and deduplication id one delivery sends."""
        if sub.raw and message.kind == "Notification":
            body = envelopes.message_for(message, "sqs")
            attributes = envelopes.sqs_attributes(message.attributes)
        else:
            body = envelopes.render(self.envelope(message, sub))
            attributes = {}
        # FIFO topics: the group and (the topic's) deduplication id travel to FIFO queues;
        # a standard topic's MessageGroupId goes to standard queues (fair queues) too.
        dedup = message.dedup_id if message.dedup_id is not None else message.message_id
        return body, attributes, dedup

    def _sqs(self, delivery: Delivery, sub: Subscription) -> Outcome:
        body, attributes, dedup = self._sqs_message(delivery.message, sub)
        return self.send_to_queue(sub.endpoint, body, attributes, delivery.message.group_id, dedup)

    def deliver_in_transaction(self, message: Message, sub: Subscription) -> bool:
        """Deliver a notification to an SQS subscription inside the caller's (the publish's)
        transaction: True when the queue took it, so it is in the queue exactly when the
        publish commits, with no delivery row, no worker hop and no wait for the next claim.

        The queue is in this node's state, reached through SQS's own SendMessage in process.
        False (nothing written: the send ran in a savepoint) when SQS refused it; the caller
        then records a delivery as usual, and the worker applies the retry policy and the
        dead-letter queue to it exactly as for any other delivery."""
        if sub.protocol != "sqs" or message.kind != "Notification":
            return False
        body, attributes, dedup = self._sqs_message(message, sub)
        try:
            with self.provider.db.transaction():
                url, ctx = self._queue_url(sub.endpoint)
                params: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
                if attributes:
                    params["MessageAttributes"] = attributes
                if message.group_id is not None:
                    params["MessageGroupId"] = message.group_id
                if sub.endpoint.endswith(".fifo"):
                    params["MessageDeduplicationId"] = dedup
                self.provider.call("sqs", ctx, "SendMessage", params)
        except (ServiceError, StateError):
            self._queue_urls.pop(sub.endpoint, None)
            return False
        return True

    def deliver_sqs_batch(self, deliveries: list[Delivery], sub: Subscription) -> dict[int, Outcome]:
        """Several deliveries to one standard queue with SendMessageBatch (one SQS transaction
        instead of one per message): outcomes by delivery id.

        Only for standard queues: a FIFO rule broken by one entry fails a whole batch on AWS.
        An entry the batch did not take (or a batch refused as a whole) is sent again on its
        own, so its outcome and error text are exactly those of SendMessage; nothing a batch
        refused was stored, so that sends it once."""
        outcomes: dict[int, Outcome] = {}
        pending: list[tuple[Delivery, str, dict[str, dict[str, Any]]]] = []
        size = 0
        for delivery in deliveries:
            body, attributes, _ = self._sqs_message(delivery.message, sub)
            entry_size = _sqs_size(body, attributes)
            if pending and (len(pending) == SQS_BATCH_ENTRIES or size + entry_size > SQS_BATCH_BYTES):
                outcomes.update(self._send_batch(sub.endpoint, pending))
                pending, size = [], 0
            pending.append((delivery, body, attributes))
            size += entry_size
        if pending:
            outcomes.update(self._send_batch(sub.endpoint, pending))
        return outcomes

    def _send_batch(self, queue_arn: str,
                    entries: list[tuple[Delivery, str, dict[str, dict[str, Any]]]]) -> dict[int, Outcome]:
        by_id = {str(delivery.id): (delivery, body, attributes) for delivery, body, attributes in entries}
        retry_alone = list(by_id)
        if len(entries) > 1:
            try:
                url, ctx = self._queue_url(queue_arn)
                batch: list[dict[str, Any]] = []
                for entry_id, (delivery, body, attributes) in by_id.items():
                    params: dict[str, Any] = {"Id": entry_id, "MessageBody": body}
                    if attributes:
                        params["MessageAttributes"] = attributes
                    if delivery.message.group_id is not None:
                        params["MessageGroupId"] = delivery.message.group_id
                    batch.append(params)
                answer = self.provider.call("sqs", ctx, "SendMessageBatch", {"QueueUrl": url, "Entries": batch})
                retry_alone = [str(failed["Id"]) for failed in answer.get("Failed") or []]
            except ServiceError:
                self._queue_urls.pop(queue_arn, None)
        outcomes = {int(entry_id): Outcome.ok() for entry_id in by_id}
        for entry_id in retry_alone:
            delivery, body, attributes = by_id[entry_id]
            outcomes[delivery.id] = self.send_to_queue(queue_arn, body, attributes, delivery.message.group_id, None)
        return outcomes

    # -- HTTP/S -------------------------------------------------------------------------------
    def _http(self, delivery: Delivery, sub: Subscription, content_type: str) -> Outcome:
        message = delivery.message
        envelope = self.envelope(delivery.message, sub)
        raw = sub.raw and message.kind == "Notification"
        body = envelopes.message_for(message, sub.protocol) if raw else envelopes.render(envelope)
        # AWS names the subscription in a header for notifications and unsubscribe confirmations.
        sub_arn = sub.arn if message.kind != "SubscriptionConfirmation" else None
        headers = envelopes.http_headers(envelope, sub_arn, raw, content_type)
        # The endpoint may take its full timeout: keep the lease beyond it.
        self.provider.store.extend_lease(delivery, time.time() + HTTP_TIMEOUT + 5)
        return post(sub.endpoint, body.encode(), headers)

    # -- Lambda -------------------------------------------------------------------------------
    def _lambda(self, delivery: Delivery, sub: Subscription) -> Outcome:
        arn = parse_arn(sub.endpoint)
        if arn is None:
            return Outcome.failed(f"not a function ARN: {sub.endpoint}")
        event = envelopes.lambda_event(self.envelope(delivery.message, sub), sub.arn)
        try:
            self.provider.call("lambda", service_context(arn.account_id, arn.region), "Invoke", {
                "FunctionName": sub.endpoint, "InvocationType": "Event", "Payload": json.dumps(event).encode(),
            })
        except ServiceError as error:
            return _error_outcome(error)
        return Outcome.ok()

    # -- the outbox ---------------------------------------------------------------------------
    def _outbox(self, delivery: Delivery, sub: Subscription) -> Outcome:
        message = delivery.message
        if sub.protocol == "email-json" or message.kind != "Notification":
            text = envelopes.render(self.envelope(delivery.message, sub))
        elif sub.protocol == "application":
            # A mobile endpoint gets its push service's entry (APNS, GCM, ...) of a JSON structure.
            arn = parse_arn(sub.endpoint)
            platform = arn.resource.split("/")[1] if arn is not None and "/" in arn.resource else "default"
            text = envelopes.message_for(message, platform)
        else:
            text = envelopes.message_for(message, sub.protocol)
        self.provider.store.record_outbox(
            sub.account_id, sub.region, sub.protocol, sub.endpoint, message.topic_arn, sub.arn,
            message.message_id, message.subject, text,
        )
        return Outcome.ok()

    # -- dead-letter queues -----------------------------------------------------------------
    def dead_letter(self, delivery: Delivery, sub: Subscription, error: str) -> Outcome | None:
        """Send an undeliverable message to the subscription's DLQ; None when it has none."""
        policy = sub.attributes.get("RedrivePolicy")
        if not policy:
            return None
        target = json.loads(policy).get("deadLetterTargetArn")
        if not target:
            return None
        message = delivery.message
        if sub.raw:
            body = envelopes.message_for(message, sub.protocol)
        else:
            body = envelopes.render(self.envelope(delivery.message, sub))
        # The DLQ message says why (https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html).
        code, _, text = error.partition(": ")
        attributes = envelopes.sqs_attributes(message.attributes) if sub.raw else {}
        for name, value in (("ErrorCode", code or "Failure"), ("ErrorMessage", text or error),
                            ("RequestID", str(uuid.uuid4()))):
            if len(attributes) < 10:
                attributes[name] = {"DataType": "String", "StringValue": value[:1024] or "-"}
        return self.send_to_queue(target, body, attributes, message.group_id, message.dedup_id)


def _sqs_size(body: str, attributes: dict[str, dict[str, Any]]) -> int:
    """An upper bound of the size SQS counts for a message: body, names, types and values."""
    size = len(body.encode())
    for name, attribute in attributes.items():
        value = attribute.get("StringValue") or attribute.get("BinaryValue") or ""
        size += len(name.encode()) + len(str(attribute.get("DataType", "")).encode()) + len(str(value).encode()) + 8
    return size


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """One HTTP POST: 2xx is delivered; 4xx (but 429) a client error; anything else retried."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(host, parts.port, timeout=HTTP_TIMEOUT)
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=HTTP_TIMEOUT)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        return Outcome.retry(f"ConnectionError: {error}")
    finally:
        connection.close()
    if 200 <= status < 300:
        return Outcome.ok()
    if 400 <= status < 500 and status != 429:
        return Outcome.failed(f"HttpError: endpoint answered {status}")
    return Outcome.retry(f"HttpError: endpoint answered {status}")
