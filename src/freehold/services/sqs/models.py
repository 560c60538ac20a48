"""SQS's domain vocabulary: queue names, ARNs and URLs, receipt handles, and AWS's errors.

Queue URLs take AWS's path form, `http://<host>/<account>/<queue name>`, where <host> is the
Host the client reached freehold on (what AWS_ENDPOINT_URL names), so that a URL returned to
boto3 works when it is sent back, from the same machine or through the same proxy. Any
queue URL is resolved by its last two path segments alone: the host part is not checked,
which lets URLs written for AWS's own hosts (https://sqs.us-east-1.amazonaws.com/123/q) and
LocalStack-style hosts (sqs.us-east-1.localhost...) keep working.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from freehold.protocol.errors import ServiceError

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
FIFO_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
# MessageGroupId / MessageDeduplicationId: alphanumeric and punctuation, 1 to 128.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
GROUP_OR_DEDUP_ID = re.compile(r"[!-~]{1,128}")

MAX_BATCH_ENTRIES = 10
BATCH_MAX_BYTES = 1_048_576
PURGE_INTERVAL_SECONDS = 60
DEDUP_WINDOW_SECONDS = 300
DELETED_NAME_HOLD_SECONDS = 60


@dataclass(frozen=True)
class QueueRef:
    """A queue named by a URL, a name or an ARN: the account, region and name."""

    account_id: str
    region: str
    name: str

    @property
    def arn(self) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{self.name}"

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


def queue_url(host: str, account_id: str, name: str) -> str:
    return f"http://{host}/{account_id}/{name}"


def parse_queue_arn(arn: str) -> QueueRef | None:
    """arn:aws:sqs:<region>:<account>:<name>, or None when it is not one."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not parts[3] or not parts[5]:
        return None
    if not parts[4].isdigit():
        return None
    return QueueRef(parts[4], parts[3], parts[5])


def queue_does_not_exist(protocol: str | None = None) -> ServiceError:
    # The query API (older SDKs) words it as it always has; the JSON API dropped the wsdl.
    message = "The specified queue does not exist."
    if protocol == "query":
        message = "The specified queue does not exist for this wsdl version."
    return ServiceError("QueueDoesNotExist", message)


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message)


def invalid_value(value: Any, parameter: str, reason: str) -> ServiceError:
    """AWS's 'Value x for parameter P is invalid. Reason: ...' form."""
    return invalid_parameter(f"Value {value} for parameter {parameter} is invalid. Reason: {reason}")


def missing_parameter(name: str) -> ServiceError:
    return ServiceError("MissingParameter", f"The request must contain the parameter {name}.")


def check_queue_name(name: str, fifo: bool) -> None:
    if fifo:
        if not FIFO_QUEUE_NAME.fullmatch(name):
            raise invalid_parameter(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                "underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
    elif not QUEUE_NAME.fullmatch(name):
        raise invalid_parameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")


# -- receipt handles -------------------------------------------------------------------------
# A receipt handle names one receive of one message: the queue, the message row and the nonce
# written at that receive. A later receive writes a new nonce, so an older handle no longer
# matches (AWS: "you must provide the most recently received receipt handle").


@dataclass(frozen=True)
class Receipt:
    queue_id: str
    seq: int
    nonce: str

    def encode(self) -> str:
        raw = f"{self.queue_id}:{self.seq}:{self.nonce}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_receipt(handle: str) -> Receipt | None:
    try:
        padded = handle + "=" * (-len(handle) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        queue_id, seq, nonce = raw.split(":")
        return Receipt(queue_id, int(seq), nonce)
    except (ValueError, UnicodeError):
        return None


def invalid_receipt(handle: str) -> ServiceError:
    return ServiceError("ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.')


def check_batch_ids(entries: list[dict[str, Any]], entry_name: str) -> None:
    """The checks every *Batch operation makes before looking at any entry."""
    if not entries:
        raise ServiceError("EmptyBatchRequest", f"There should be at least one {entry_name} in the request.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise ServiceError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {len(entries)}.",
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry["Id"]
        if not BATCH_ENTRY_ID.fullmatch(entry_id):
            raise ServiceError(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long.",
            )
        if entry_id in seen:
            raise ServiceError("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)


def batch_failure(entry_id: str, error: ServiceError) -> dict[str, Any]:
    """One Failed entry of a batch answer (BatchResultErrorEntry)."""
    sender = error.code not in ("InternalError", "InternalFailure")
    return {"Id": entry_id, "SenderFault": sender, "Code": error.code, "Message": error.message}
