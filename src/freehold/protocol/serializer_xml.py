"""The XML protocols: query (IAM, STS, SNS, SES, CloudFormation; SQS and CloudWatch for
clients that still speak it) and rest-xml (S3).

Query results are wrapped as <OpResponse><OpResult>...</OpResult><ResponseMetadata>
<RequestId/></ResponseMetadata></OpResponse> and errors as <ErrorResponse><Error><Type/>
<Code/><Message/></Error><RequestId/></ErrorResponse>
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/query-api-troubleshooting.html
describes the same envelope). S3 writes its documents under its own root names and
errors as a bare <Error> with <RequestId> and <HostId>
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpResponse
from freehold.protocol.serializer_base import ResponseSerializer, output_members
from freehold.protocol.serializer_errors import ResolvedError
from freehold.protocol.serializer_rest import (
    body_values,
    has_body_members,
    payload_member,
    write_non_body_members,
    write_unstructured_payload,
)
from freehold.protocol.serializer_xmlwriter import (
    LegacyNames,
    XmlWriter,
    escape_text,
    namespace_attr,
    unmodelled_fields,
)

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Namespaces of services whose botocore model omits `xmlNamespace` but whose XML has one.
DEFAULT_NAMESPACES: dict[str, str] = {
    "s3": "http://s3.amazonaws.com/doc/2006-03-01/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
}

# S3's document root names, which the botocore model does not carry for output shapes
# (the Smithy model's @xmlName; see each operation's "Response Syntax" in the S3 API
# reference). Operations not listed use their output shape name with "Output" -> "Result".
S3_ROOT_ELEMENTS: dict[str, str] = {
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CreateSession": "CreateSessionResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketAcl": "AccessControlPolicy",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycle": "LifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketNotification": "NotificationConfiguration",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetObjectAcl": "AccessControlPolicy",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetObjectTagging": "Tagging",
    "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
    "ListBucketIntelligentTieringConfigurations": "ListBucketIntelligentTieringConfigurationsOutput",
    "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListObjectVersions": "ListVersionsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListParts": "ListPartsResult",
}


# Output-only names of SQS's legacy query XML; the request-side names are the parser's table
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListQueues.html
# shows <ListQueuesResult><QueueUrl>...</QueueUrl>...</ListQueuesResult>).
SQS_QUERY_OUTPUT_NAMES: LegacyNames = {"QueueUrls": ("QueueUrl", "", ""), "queueUrls": ("QueueUrl", "", "")}


def legacy_query_names(service: str) -> LegacyNames | None:
    """The flattened wire names of a JSON service's legacy query API (SQS), else None."""
    from freehold.protocol.parser_query import LEGACY_QUERY_NAMES

    if service not in LEGACY_QUERY_NAMES:
        return None
    extra = SQS_QUERY_OUTPUT_NAMES if service == "sqs" else {}
    return {**LEGACY_QUERY_NAMES[service], **extra}


def _xml_message_members(shape: Any) -> set[str]:
    return {"message", "Message"} if shape is None else {m for m in ("message", "Message") if m in shape.members}


class _XmlSerializer(ResponseSerializer):
    """What the two XML protocols share: the writer, the namespace, error field writing."""

    content_type = "text/xml"

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        self.writer = XmlWriter()
        self.namespace = service_model.metadata.get("xmlNamespace") or DEFAULT_NAMESPACES.get(
            str(service_model.service_name), ""
        )

    def _error_fields(self, out: list[str], resolved: ResolvedError, error: ServiceError) -> None:
        """Modelled members where the error shape says; other fields as plain elements."""
        skip = _xml_message_members(resolved.shape) | {"Code", "Message", "Type", "RequestId", "HostId"}
        shape = resolved.shape
        if shape is not None:
            modelled = {k: v for k, v in error.fields.items() if k in shape.members and k not in skip}
            self.writer.members(out, shape, modelled)
            skip |= set(shape.members)
        unmodelled_fields(out, error.fields, skip)


class QuerySerializer(_XmlSerializer):
    protocol = "query"

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        # A JSON service answering its legacy query API (SQS) writes the XML it used to.
        self.legacy = service_model.protocol != "query" and "query" not in (service_model.metadata.get("protocols") or ())
        if self.legacy:
            self.writer = XmlWriter(legacy_query_names(str(service_model.service_name)) or {})

    def _write_output(self, response: HttpResponse, operation: Any, output: dict[str, Any], request_id: str) -> None:
        root = f"{operation.name}Response"
        out = [f"<{root}{namespace_attr(self.namespace)}>"]
        shape = operation.output_shape
        if shape is not None:
            values = output_members(shape, output)
            wrapper = shape.serialization.get("resultWrapper") or (f"{operation.name}Result" if self.legacy else None)
            if wrapper:
                out.append(f"<{wrapper}>")
            self.writer.members(out, shape, values)
            if wrapper:
                out.append(f"</{wrapper}>")
        out.append(f"<ResponseMetadata><RequestId>{escape_text(request_id)}</RequestId></ResponseMetadata>")
        out.append(f"</{root}>")
        response.headers.set("Content-Type", self.content_type)
        response.body = "".join(out).encode("utf-8")

    def _write_error(
        self, response: HttpResponse, resolved: ResolvedError, error: ServiceError, operation: Any, request_id: str
    ) -> None:
        out = [f"<ErrorResponse{namespace_attr(self.namespace)}><Error>"]
        out.append(f"<Type>{resolved.fault_type}</Type><Code>{escape_text(resolved.code)}</Code>")
        if error.message:
            out.append(f"<Message>{escape_text(error.message)}</Message>")
        self._error_fields(out, resolved, error)
        out.append(f"</Error><RequestId>{escape_text(request_id)}</RequestId></ErrorResponse>")
        response.headers.set("Content-Type", self.content_type)
        response.body = "".join(out).encode("utf-8")


def host_id(request_id: str) -> str:
    """S3's x-amz-id-2, an opaque base64 token AWS support uses with the request id."""
    return base64.b64encode(hashlib.sha256(request_id.encode("utf-8")).digest()).decode("ascii")


class RestXmlSerializer(_XmlSerializer):
    protocol = "rest-xml"
    content_type = "application/xml"

    def _add_request_id(self, headers: Headers, request_id: str) -> None:
        headers.set("x-amz-request-id", request_id)
        headers.set("x-amz-id-2", host_id(request_id))

    def _write_output(self, response: HttpResponse, operation: Any, output: dict[str, Any], request_id: str) -> None:
        shape = operation.output_shape
        if shape is None:
            return
        values = output_members(shape, output)
        write_non_body_members(response, shape, values)
        payload = payload_member(shape)
        if payload is not None:
            self._write_payload(response, operation, payload, values.get(payload[0]))
        elif operation.name == "GetBucketLocation" and self.service_model.service_name == "s3":
            # S3 answers GetBucketLocation with a bare <LocationConstraint> document, which the
            # model cannot express (botocore reads it with a handler); us-east-1 is empty.
            location = escape_text(str(values.get("LocationConstraint") or ""))
            document = f"<LocationConstraint{namespace_attr(self.namespace)}>{location}</LocationConstraint>"
            self._set_document(response, document)
        elif has_body_members(shape):
            root = self._root_name(operation)
            out = [f"<{root}{namespace_attr(shape.serialization.get('xmlNamespace') or self.namespace)}>"]
            self.writer.members(out, shape, body_values(shape, values))
            out.append(f"</{root}>")
            self._set_document(response, "".join(out))

    def _root_name(self, operation: Any) -> str:
        if operation.name in S3_ROOT_ELEMENTS and self.service_model.service_name == "s3":
            return S3_ROOT_ELEMENTS[operation.name]
        name = str(operation.output_shape.serialization.get("name") or operation.output_shape.name)
        return name[: -len("Output")] + "Result" if name.endswith("Output") else name

    def _write_payload(self, response: HttpResponse, operation: Any, payload: tuple[str, Any], value: Any) -> None:
        name, member = payload
        if value is None:
            return
        if write_unstructured_payload(response, member, value, self.content_type, self._event_payload):
            return
        root = member.serialization.get("name", name)
        extra = "" if member.serialization.get("xmlNamespace") else namespace_attr(self.namespace)
        out: list[str] = []
        self.writer.element(out, root, member, value, extra)
        self._set_document(response, "".join(out))

    def _event_payload(self, shape: Any, value: dict[str, Any], name: str) -> bytes:
        out: list[str] = []
        self.writer.element(out, str(shape.name) if shape.type_name == "structure" else name, shape, value)
        return "".join(out).encode("utf-8")

    def _set_document(self, response: HttpResponse, document: str) -> None:
        response.headers.set("Content-Type", self.content_type)
        response.body = (XML_DECLARATION + document).encode("utf-8")

    def _write_error(
        self, response: HttpResponse, resolved: ResolvedError, error: ServiceError, operation: Any, request_id: str
    ) -> None:
        out = [f"<Error><Code>{escape_text(resolved.code)}</Code>"]
        out.append(f"<Message>{escape_text(error.message)}</Message>")
        if resolved.shape is not None:
            # Modelled error members that live in headers (none in S3 today) go there.
            write_non_body_members(response, resolved.shape, error.fields)
        self._error_fields(out, resolved, error)
        out.append(f"<RequestId>{escape_text(request_id)}</RequestId><HostId>{host_id(request_id)}</HostId></Error>")
        self._set_document(response, "".join(out))
