"""Resolving a provider's ServiceError against the service model: shape, wire codes, status.

A provider raises with the code the client sees as `Error.Code` (IAM "NoSuchEntity", whose
shape is NoSuchEntityException with `error.code` "NoSuchEntity"); a shape name works too.
We look the code up by modelled `error.code` first, then by shape name, and derive:

- `code`: what query/rest-xml bodies carry in <Code> and what awsQueryCompatible services
  send in `x-amzn-query-error` — the modelled error.code (the legacy query code);
- `type_name`: what JSON-family protocols carry in `__type` / `x-amzn-ErrorType` — the
  shape name (https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html#operation-error-serialization);
- `status`: ServiceError.status, else the shape's error.httpStatusCode, else 400/500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freehold.protocol.errors import ServiceError

# SQS moved from query to JSON before models could carry both protocols, so botocore's
# SQS model lacks the `error` trait its exceptions had under query. These are the legacy
# query codes and statuses of the Smithy model's @awsQueryError traits (the AWS SDK for
# JavaScript v3 schema of com.amazonaws.sqs carries them); shapes absent here use their
# own name and 400 (InvalidAttributeName, InvalidAttributeValue, InvalidIdFormat,
# InvalidMessageContents).
SQS_QUERY_ERRORS: dict[str, tuple[str, int]] = {
    "BatchEntryIdsNotDistinct": ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
    "BatchRequestTooLong": ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
    "EmptyBatchRequest": ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
    "InvalidAddress": ("InvalidAddress", 404),
    "InvalidBatchEntryId": ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
    "InvalidSecurity": ("InvalidSecurity", 403),
    "KmsAccessDenied": ("KMS.AccessDeniedException", 400),
    "KmsDisabled": ("KMS.DisabledException", 400),
    "KmsInvalidKeyUsage": ("KMS.InvalidKeyUsageException", 400),
    "KmsInvalidState": ("KMS.InvalidStateException", 400),
    "KmsNotFound": ("KMS.NotFoundException", 400),
    "KmsOptInRequired": ("KMS.OptInRequired", 403),
    "KmsThrottled": ("KMS.ThrottlingException", 400),
    "MessageNotInflight": ("AWS.SimpleQueueService.MessageNotInflight", 400),
    "OverLimit": ("OverLimit", 403),
    "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    "QueueDeletedRecently": ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
    "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
    "QueueNameExists": ("QueueAlreadyExists", 400),
    "ReceiptHandleIsInvalid": ("ReceiptHandleIsInvalid", 404),
    "RequestThrottled": ("RequestThrottled", 403),
    "ResourceNotFoundException": ("ResourceNotFoundException", 404),
    "TooManyEntriesInBatchRequest": ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
    "UnsupportedOperation": ("AWS.SimpleQueueService.UnsupportedOperation", 400),
}

# Legacy query error tables per service, for services whose model lacks `error.code`.
LEGACY_QUERY_ERRORS: dict[str, dict[str, tuple[str, int]]] = {"sqs": SQS_QUERY_ERRORS}


@dataclass(frozen=True)
class ResolvedError:
    """A ServiceError placed in the service model."""

    shape: Any  # botocore StructureShape of the modelled error, or None
    code: str  # Error.Code of query / rest-xml; the query code of awsQueryCompatible
    type_name: str  # __type / x-amzn-ErrorType of the JSON-family protocols
    status: int
    sender_fault: bool

    @property
    def fault_type(self) -> str:
        """<Type> of query errors and the second half of x-amzn-query-error."""
        return "Sender" if self.sender_fault else "Receiver"


class ErrorIndex:
    """The error shapes of one service, by modelled code and by shape name."""

    def __init__(self, service_model: Any) -> None:
        self._service = str(service_model.service_name)
        self._legacy = LEGACY_QUERY_ERRORS.get(self._service, {})
        self._by_code: dict[str, Any] = {}
        self._by_name: dict[str, Any] = {}
        for shape in service_model.error_shapes:
            self._by_name.setdefault(shape.name, shape)
            explicit = (shape.metadata.get("error") or {}).get("code")
            if explicit:
                # Several shapes may share a code (CloudWatch's ResourceNotFound); the
                # first one the model lists wins, consistently.
                self._by_code.setdefault(str(explicit), shape)
        for name, (legacy_code, _status) in self._legacy.items():
            if name in self._by_name:
                self._by_code.setdefault(legacy_code, self._by_name[name])

    def _code_of(self, shape: Any) -> str:
        explicit = (shape.metadata.get("error") or {}).get("code")
        legacy = self._legacy.get(shape.name)
        return str(explicit or (legacy[0] if legacy else shape.name))

    def shape_for(self, code: str, operation: Any = None) -> Any:
        """The error shape of a code: the operation's own errors first, since some codes are
        shared by several shapes (CloudWatch's ResourceNotFound and DashboardNotFoundError)."""
        if operation is not None:
            declared = operation.error_shapes
            for shape in declared:
                if self._code_of(shape) == code:
                    return shape
            for shape in declared:
                if shape.name == code:
                    return shape
        return self._by_code.get(code) or self._by_name.get(code)

    def resolve(self, error: ServiceError, operation: Any = None) -> ResolvedError:
        shape = self.shape_for(error.code, operation)
        if shape is None:
            status = error.status or (400 if error.sender_fault else 500)
            return ResolvedError(None, error.code, error.code, status, _sender(error, status, None))
        meta = shape.metadata.get("error") or {}
        legacy = self._legacy.get(shape.name)
        code = self._code_of(shape)
        modelled_status = meta.get("httpStatusCode") or (legacy[1] if legacy else None)
        status = error.status or int(modelled_status or (400 if error.sender_fault else 500))
        return ResolvedError(shape, code, str(shape.name), status, _sender(error, status, meta))


def _sender(error: ServiceError, status: int, meta: dict[str, Any] | None) -> bool:
    """Whether the fault is the caller's: ServiceError says so unless the status or model disagree."""
    if not error.sender_fault or status >= 500:
        return False
    if meta is not None and "senderFault" in meta:
        return bool(meta["senderFault"])
    return True
