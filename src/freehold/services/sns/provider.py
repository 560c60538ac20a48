"""The SNS provider: topics, subscriptions, publishing, tags, permissions.

Publish writes, in one transaction before it returns, the message straight into every
accepting SQS subscription's queue (through SQS's SendMessage, in process), and one delivery
row for every other subscription (and for a queue that refused the message); the
DeliveryWorker (workers.py) delivers those rows in the background, at least once,
with the retry policy of the protocol, and sends what cannot be delivered to the
subscription's dead-letter queue. Queues and functions are reached only through the SQS
and Lambda providers' own operations.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import uuid
from typing import Any, ClassVar

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params, Provider, ServiceRuntime, short_sql
from freehold.services.sns import attributes as checks
from freehold.services.sns.models import (
    PROTOCOLS,
    Subscription,
    Topic,
    check_topic_name,
    default_topic_policy,
    invalid,
    is_true,
    parse_arn,
    parse_subscription_arn,
    parse_topic_arn,
    subscription_not_found,
    topic_arn,
    topic_not_found,
)
from freehold.services.sns.paging import PAGE_SIZE, after, next_token
from freehold.services.sns.publishing import Publisher, batch_error
from freehold.services.sns.platform import PlatformOperations, is_endpoint_arn
from freehold.services.sns.platform_store import PlatformStore
from freehold.services.sns.signing import Signer, generate
from freehold.services.sns.sms import SmsOperations
from freehold.services.sns.store import SnsStore
from freehold.services.sns.subscribing import check_endpoint, confirms_itself
from freehold.services.sns.workers import DeliveryWorker
from freehold.state.database import WriteLockBusy

MAX_TAGS = 50
MAX_BATCH = 10


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class SnsProvider(PlatformOperations, SmsOperations, Provider):
    service: ClassVar[str] = "sns"
    partial: ClassVar[dict[str, str]] = {
        "CreateTopic": "KmsMasterKeyId and delivery-status logging attributes are stored, not applied",
        "PutDataProtectionPolicy": "the policy is stored and returned, not enforced (messages are not inspected)",
        "AddPermission": "stored in the topic's Policy; enforced once the IAM policy evaluator lands",
        "Subscribe": "firehose subscriptions are recorded but not delivered",
        "Publish": "email, email-json, sms and mobile push (application) deliveries, and PhoneNumber and "
                   "platform-endpoint (TargetArn) publishes, are recorded in the outbox at /_freehold/sns/outbox "
                   "instead of being sent",
        "CreatePlatformApplication": "credentials are stored but not verified with the push service",
        "GetSMSSandboxAccountStatus": "the account is never in the SMS sandbox: nothing is really sent",
        "ListOriginationNumbers": "freehold owns no origination numbers: the list is always empty",
    }

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.store = SnsStore(runtime.db)
        self.platforms = PlatformStore(runtime.db)
        self.worker = DeliveryWorker(self)
        # SQS subscriptions are delivered in the publish's own transaction (delivery.py).
        self.publisher = Publisher(self.store, self.worker.transports.deliver_in_transaction)
        self._signer: Signer | None = None
        self._signer_lock = threading.Lock()
        # Topics whose last publish was heavy (see publish).
        self._heavy_topics: set[str] = set()

    def start(self) -> None:
        self.store.migrate()
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def reset(self) -> None:
        self._signer = None  # the key was deleted with every other row
        self._heavy_topics.clear()
        self.worker.transports.forget_queues()

    @property
    def signer(self) -> Signer:
        with self._signer_lock:
            if self._signer is None:
                self._signer = Signer(self.store.signing_material(generate))
            return self._signer

    def certificate_pem(self) -> str:
        return self.signer.material.cert_pem

    # -- topics ------------------------------------------------------------------------------
    def _topic(self, arn: str, parameter: str = "TopicArn") -> Topic:
        parse_topic_arn(arn, parameter)
        topic = self.store.topic(arn)
        if topic is None:
            raise topic_not_found()
        return topic

    def create_topic(self, ctx: RequestContext, params: Params) -> Params:
        name: str = params["Name"]
        attributes: dict[str, str] = dict(params.get("Attributes") or {})
        fifo = is_true(attributes.get("FifoTopic"))
        if "FifoTopic" in attributes and attributes["FifoTopic"].lower() not in ("true", "false"):
            raise invalid("Invalid parameter: FifoTopic")
        if name.endswith(".fifo") and not fifo:
            raise invalid("Invalid parameter: Topic Name")
        check_topic_name(name, fifo)
        for key, value in attributes.items():
            checks.check_topic_attribute(key, value, fifo, creating=True)
        attributes.pop("FifoTopic", None)
        tags = self._check_tags(params.get("Tags") or [])
        arn = topic_arn(ctx.region, ctx.account_id, name)
        topic = Topic(arn, ctx.account_id, ctx.region, name, fifo, attributes, tags,
                      params.get("DataProtectionPolicy") or "")
        if self.store.insert_topic(topic):
            return {"TopicArn": arn}
        existing = self.store.topic(arn)
        if existing is not None:
            # CreateTopic is idempotent, but only for the same attributes and tags.
            if any(existing.attributes.get(k) != v for k, v in attributes.items()) or existing.fifo != fifo:
                raise invalid("Invalid parameter: Attributes Reason: Topic already exists with different attributes")
            if tags and tags != existing.tags:
                raise invalid("Invalid parameter: Tags Reason: Topic already exists with different tags")
        return {"TopicArn": arn}

    def delete_topic(self, ctx: RequestContext, params: Params) -> Params:
        # Idempotent: deleting a topic that does not exist is not an error.
        parse_topic_arn(params["TopicArn"])
        self.store.delete_topic(params["TopicArn"])
        return {}

    def get_topic_attributes(self, ctx: RequestContext, params: Params) -> Params:
        topic = self._topic(params["TopicArn"])
        return {"Attributes": checks.topic_attributes(topic, self.store.subscription_counts(topic.arn))}

    def set_topic_attributes(self, ctx: RequestContext, params: Params) -> Params:
        name: str = params["AttributeName"]
        value: str = params.get("AttributeValue") or ""
        with self.db.transaction():
            topic = self._topic(params["TopicArn"])
            checks.check_topic_attribute(name, value, topic.fifo, creating=False)
            if value == "" and name in ("Policy", "DeliveryPolicy", "ArchivePolicy"):
                topic.attributes.pop(name, None)
            else:
                topic.attributes[name] = value
            self.store.save_topic(topic)
        return {}

    def list_topics(self, ctx: RequestContext, params: Params) -> Params:
        arns = self.store.topics(ctx.account_id, ctx.region, after(params.get("NextToken")), PAGE_SIZE + 1)
        out: Params = {"Topics": [{"TopicArn": arn} for arn in arns[:PAGE_SIZE]]}
        if len(arns) > PAGE_SIZE:
            out["NextToken"] = next_token(arns[PAGE_SIZE - 1])
        return out

    # -- tags ------------------------------------------------------------------------------------
    def _check_tags(self, tags: list[dict[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for tag in tags:
            key, value = tag["Key"], tag.get("Value", "")
            if not 1 <= len(key) <= 128 or key.startswith("aws:"):
                raise invalid(f"Invalid parameter: Tags Reason: Invalid tag key {key}")
            if len(value) > 256:
                raise invalid(f"Invalid parameter: Tags Reason: Invalid tag value for key {key}")
            out[key] = value
        if len(out) > MAX_TAGS:
            raise ServiceError("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
        return out

    def _tagged_topic(self, arn: str) -> Topic:
        parsed = parse_arn(arn)
        if parsed is None or parsed.service != "sns":
            raise invalid("Invalid parameter: ResourceArn")
        topic = self.store.topic(arn)
        if topic is None:
            raise ServiceError("ResourceNotFound", "Resource does not exist")
        return topic

    def tag_resource(self, ctx: RequestContext, params: Params) -> Params:
        new = self._check_tags(params["Tags"])
        with self.db.transaction():
            topic = self._tagged_topic(params["ResourceArn"])
            merged = {**topic.tags, **new}
            if len(merged) > MAX_TAGS:
                raise ServiceError("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
            topic.tags = merged
            self.store.save_topic(topic)
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Params:
        with self.db.transaction():
            topic = self._tagged_topic(params["ResourceArn"])
            for key in params["TagKeys"]:
                topic.tags.pop(key, None)
            self.store.save_topic(topic)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Params:
        topic = self._tagged_topic(params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(topic.tags.items())]}

    # -- data protection and permissions --------------------------------------------------------
    def put_data_protection_policy(self, ctx: RequestContext, params: Params) -> Params:
        text: str = params["DataProtectionPolicy"]
        try:
            document = json.loads(text)
        except ValueError:
            raise invalid("Invalid parameter: DataProtectionPolicy") from None
        if not isinstance(document, dict):
            raise invalid("Invalid parameter: DataProtectionPolicy")
        with self.db.transaction():
            topic = self._topic(params["ResourceArn"], "ResourceArn")
            topic.data_protection_policy = text
            self.store.save_topic(topic)
        return {}

    def get_data_protection_policy(self, ctx: RequestContext, params: Params) -> Params:
        topic = self._topic(params["ResourceArn"], "ResourceArn")
        return {"DataProtectionPolicy": topic.data_protection_policy} if topic.data_protection_policy else {}

    def add_permission(self, ctx: RequestContext, params: Params) -> Params:
        with self.db.transaction():
            topic = self._topic(params["TopicArn"])
            policy = json.loads(topic.attributes.get("Policy") or default_topic_policy(topic.arn, topic.account_id))
            statements = policy.setdefault("Statement", [])
            if any(s.get("Sid") == params["Label"] for s in statements):
                raise invalid("Invalid parameter: Statement already exists")
            principals = [f"arn:aws:iam::{account}:root" for account in params["AWSAccountId"]]
            statements.append({
                "Sid": params["Label"],
                "Effect": "Allow",
                "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                "Action": [f"SNS:{action}" for action in params["ActionName"]],
                "Resource": topic.arn,
            })
            topic.attributes["Policy"] = json.dumps(policy, separators=(",", ":"))
            self.store.save_topic(topic)
        return {}

    def remove_permission(self, ctx: RequestContext, params: Params) -> Params:
        with self.db.transaction():
            topic = self._topic(params["TopicArn"])
            policy = json.loads(topic.attributes.get("Policy") or default_topic_policy(topic.arn, topic.account_id))
            policy["Statement"] = [s for s in policy.get("Statement", []) if s.get("Sid") != params["Label"]]
            topic.attributes["Policy"] = json.dumps(policy, separators=(",", ":"))
            self.store.save_topic(topic)
        return {}

    # -- subscriptions ------------------------------------------------------------------------------
    def subscribe(self, ctx: RequestContext, params: Params) -> Params:
        protocol: str = params["Protocol"]
        endpoint: str = params.get("Endpoint") or ""
        requested: dict[str, str] = dict(params.get("Attributes") or {})
        if protocol not in PROTOCOLS:
            raise invalid(f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}")
        attributes = {k: checks.check_subscription_attribute(k, v, protocol) for k, v in requested.items()}
        now = time.time()
        with self.db.transaction():
            topic = self._topic(params["TopicArn"])
            check_endpoint(topic, protocol, endpoint)
            existing = self.store.find_subscription(topic.arn, protocol, endpoint)
            if existing is not None:
                if any(existing.attributes.get(k, "false" if k == "RawMessageDelivery" else None) != v
                       for k, v in attributes.items()):
                    raise invalid("Invalid parameter: Attributes Reason: Subscription already exists with different "
                                  "attributes")
                return {"SubscriptionArn": self._shown_arn(existing, params)}
            confirmed = confirms_itself(protocol)
            sub = Subscription(
                arn=f"{topic.arn}:{uuid.uuid4()}", topic_arn=topic.arn, account_id=ctx.account_id,
                region=topic.region, protocol=protocol, endpoint=endpoint, confirmed=confirmed,
                token=secrets.token_hex(64), attributes={k: v for k, v in attributes.items() if v != ""},
            )
            checks.check_subscription_filter(sub, {})
            self.store.insert_subscription(sub)
            if not confirmed:
                self.publisher.confirmation(topic, sub.token, now, sub.arn)
        if not confirmed:
            self.worker.wake()
        return {"SubscriptionArn": self._shown_arn(sub, params)}

    @staticmethod
    def _shown_arn(sub: Subscription, params: Params) -> str:
        if sub.confirmed or params.get("ReturnSubscriptionArn"):
            return sub.arn
        return "pending confirmation"

    def confirm_subscription(self, ctx: RequestContext, params: Params) -> Params:
        with self.db.transaction():
            topic = self._topic(params["TopicArn"])
            sub = self.store.subscription_by_token(topic.arn, params["Token"])
            if sub is None:
                # An UnsubscribeConfirmation's token brings the subscription back.
                sub = self.store.restore_subscription(topic.arn, params["Token"])
            if sub is None:
                raise invalid("Invalid token")
            if not sub.confirmed:
                sub.confirmed = True
                sub.authenticated = is_true(params.get("AuthenticateOnUnsubscribe"))
                self.store.update_subscription(sub)
        return {"SubscriptionArn": sub.arn}

    def unsubscribe(self, ctx: RequestContext, params: Params) -> Params:
        parse_subscription_arn(params["SubscriptionArn"])
        confirming = False
        with self.db.transaction():
            sub = self.store.subscription(params["SubscriptionArn"])
            if sub is None:
                return {}  # idempotent, like AWS
            # A confirmed HTTP/S endpoint is told with an UnsubscribeConfirmation, whose token
            # restores the subscription (ConfirmSubscription or its SubscribeURL).
            token = secrets.token_hex(64) if sub.protocol in ("http", "https") and sub.confirmed else None
            topic = self.store.topic(sub.topic_arn)
            if self.store.delete_subscription(sub, token) and token is not None and topic is not None:
                self.publisher.unsubscribe_confirmation(topic, token, time.time(), sub.arn)
                confirming = True
        if confirming:
            self.worker.wake()
        return {}

    def _subscription(self, arn: str) -> Subscription:
        parse_subscription_arn(arn)
        sub = self.store.subscription(arn)
        if sub is None:
            raise subscription_not_found()
        return sub

    def get_subscription_attributes(self, ctx: RequestContext, params: Params) -> Params:
        sub = self._subscription(params["SubscriptionArn"])
        topic = self.store.topic(sub.topic_arn)
        return {"Attributes": sub.public_attributes(topic.attributes if topic else {})}

    def set_subscription_attributes(self, ctx: RequestContext, params: Params) -> Params:
        name: str = params["AttributeName"]
        with self.db.transaction():
            sub = self._subscription(params["SubscriptionArn"])
            value = checks.check_subscription_attribute(name, params.get("AttributeValue") or "", sub.protocol)
            checks.check_subscription_filter(sub, {name: value})
            if value == "" and name != "RawMessageDelivery":
                sub.attributes.pop(name, None)
            else:
                sub.attributes[name] = value
            self.store.update_subscription(sub)
        return {}

    @staticmethod
    def _listed(sub: Subscription) -> dict[str, str]:
        return {
            "SubscriptionArn": sub.arn if sub.confirmed else "PendingConfirmation",
            "Owner": sub.account_id, "Protocol": sub.protocol, "Endpoint": sub.endpoint, "TopicArn": sub.topic_arn,
        }

    def list_subscriptions(self, ctx: RequestContext, params: Params) -> Params:
        subs = self.store.subscriptions_of_account(ctx.account_id, ctx.region, after(params.get("NextToken")),
                                                   PAGE_SIZE + 1)
        out: Params = {"Subscriptions": [self._listed(s) for s in subs[:PAGE_SIZE]]}
        if len(subs) > PAGE_SIZE:
            out["NextToken"] = next_token(subs[PAGE_SIZE - 1].arn)
        return out

    def list_subscriptions_by_topic(self, ctx: RequestContext, params: Params) -> Params:
        topic = self._topic(params["TopicArn"])
        subs = self.store.subscriptions_of_topic(topic.arn, after(params.get("NextToken")), PAGE_SIZE + 1)
        out: Params = {"Subscriptions": [self._listed(s) for s in subs[:PAGE_SIZE]]}
        if len(subs) > PAGE_SIZE:
            out["NextToken"] = next_token(subs[PAGE_SIZE - 1].arn)
        return out

    # -- publishing ---------------------------------------------------------------------------------
    @short_sql
    def publish(self, ctx: RequestContext, params: Params) -> Params:
        """One write transaction (the message, its SQS deliveries, the rest's delivery rows)
        after checks only: on SQLite it runs on the event loop while the write lock is free.
        A topic whose last publish was heavy (many subscriptions, or signed envelopes) is
        published from a worker thread instead, so that such work never holds the loop."""
        target = params.get("TopicArn") or params.get("TargetArn")
        if target and target in self._heavy_topics and _on_event_loop():
            raise WriteLockBusy("a heavy publish runs in a worker thread")  # the gateway runs it there
        phone = params.get("PhoneNumber")
        if params.get("TopicArn") and params.get("TargetArn"):
            raise invalid("Invalid parameter: TopicArn or TargetArn Reason: Only one of TopicArn or TargetArn "
                          "is allowed")
        if phone is not None:
            if target:
                raise invalid("Invalid parameter: TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn "
                              "or PhoneNumber is allowed")
            return self._publish_sms(ctx, phone, params)
        if not target:
            raise invalid("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
        if is_endpoint_arn(target):
            if params.get("TopicArn"):
                raise invalid("Invalid parameter: TopicArn")
            return self.publish_to_endpoint(ctx, target, params)
        parse_topic_arn(target, "TopicArn" if params.get("TopicArn") else "TargetArn")
        published = self.publisher.publish(target, params)
        if published.queued:
            self.worker.wake()
        if published.heavy:
            self._heavy_topics.add(target)
        else:
            self._heavy_topics.discard(target)
        out: Params = {"MessageId": published.message_id}
        if published.sequence_number is not None:
            out["SequenceNumber"] = published.sequence_number
        return out

    def _publish_sms(self, ctx: RequestContext, phone: str, params: Params) -> Params:
        from freehold.services.sns.publishing import check_message
        from freehold.services.sns.subscribing import check_phone_number

        check_phone_number(phone, "PhoneNumber")
        check_message(params["Message"], params.get("MessageStructure"), params.get("Subject"))
        message_id = str(uuid.uuid4())
        if self.platforms.opted_out(ctx.account_id, ctx.region, phone):
            return {"MessageId": message_id}  # accepted, and not sent to a number that opted out
        self.store.record_outbox(ctx.account_id, ctx.region, "sms", phone, None, None, message_id,
                                 params.get("Subject"), params["Message"])
        return {"MessageId": message_id}

    def publish_batch(self, ctx: RequestContext, params: Params) -> Params:
        entries: list[dict[str, Any]] = params["PublishBatchRequestEntries"]
        if not entries:
            raise ServiceError("EmptyBatchRequest", "The batch request doesn't contain any entries")
        if len(entries) > MAX_BATCH:
            raise ServiceError("TooManyEntriesInBatchRequest", "The batch request contains more entries than "
                               "permissible.")
        ids = [entry["Id"] for entry in entries]
        if len(set(ids)) != len(ids):
            raise ServiceError("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the "
                               "same Id.")
        for entry_id in ids:
            if not entry_id or len(entry_id) > 80 or not all(c.isalnum() or c in "-_" for c in entry_id) \
                    or not entry_id.isascii():
                raise ServiceError("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric "
                                   "characters, hyphens and underscores. It can be at most 80 letters long.")
        total = sum(len(entry["Message"].encode()) for entry in entries)
        if total > 262144:
            raise ServiceError("BatchRequestTooLong", "The length of all the messages put together is more than "
                               "the limit.")
        self._topic(params["TopicArn"])
        successful: list[Params] = []
        failed: list[Params] = []
        queued = False
        for entry in entries:
            try:
                published = self.publisher.publish(params["TopicArn"], entry)
            except ServiceError as error:
                failed.append(batch_error(entry["Id"], error))
                continue
            queued = queued or published.queued
            result: Params = {"Id": entry["Id"], "MessageId": published.message_id}
            if published.sequence_number is not None:
                result["SequenceNumber"] = published.sequence_number
            successful.append(result)
        if queued:
            self.worker.wake()
        return {"Successful": successful, "Failed": failed}

    # -- freehold's own endpoints -------------------------------------------------------------------
    def outbox(self, after_id: int = 0, limit: int = 1000, account_id: str | None = None) -> list[dict[str, Any]]:
        return self.store.outbox(after_id, limit, account_id)
