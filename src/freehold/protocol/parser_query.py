"""The AWS query protocol parser (STS, IAM, SNS, SES, CloudFormation; SQS/CloudWatch legacy).

A query request is a flat list of form fields, in a POST body
(`application/x-www-form-urlencoded`) or in the URL's query string, naming the operation in
`Action`. Nested members are spelled by dotted paths, as botocore's QuerySerializer writes:

    Tags.member.1.Key=k           a list (member name from the list's locationName)
    Attribute.1.Name=x            a flattened list / map (no `.member` / `.entry` step)
    Attributes.entry.1.key=k      a map (key/value names from their locationNames)
    Ids=                          an empty list

This parser walks the input shape and reads back exactly those paths.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import OperationModel, Shape, StructureShape

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest
from freehold.protocol.parser_base import RequestParser, lower_camel, text_scalar

FORM_TYPE = "application/x-www-form-urlencoded"

# Wire names the query protocol used before a service moved to JSON and its model lost them.
# SQS (awsQueryCompatible) still accepts its query API, whose flattened names older SDKs
# send: `Attribute.1.Name=DelaySeconds`, `MessageAttribute.1.Value.StringValue=v`,
# `SendMessageBatchRequestEntry.1.Id=a` (a list member's own shape name), `Tag.1.Key=k`.
# See https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
# member name -> (wire name, map key name, map value name)
LEGACY_QUERY_NAMES: dict[str, dict[str, tuple[str, str, str]]] = {
    "sqs": {
        "AWSAccountIds": ("AWSAccountId", "", ""),
        "Actions": ("ActionName", "", ""),
        "Attributes": ("Attribute", "Name", "Value"),
        "AttributeNames": ("AttributeName", "", ""),
        "MessageAttributeNames": ("MessageAttributeName", "", ""),
        "MessageSystemAttributeNames": ("MessageSystemAttributeName", "", ""),
        "MessageAttributes": ("MessageAttribute", "Name", "Value"),
        "MessageSystemAttributes": ("MessageSystemAttribute", "Name", "Value"),
        "StringListValues": ("StringListValue", "", ""),
        "BinaryListValues": ("BinaryListValue", "", ""),
        "tags": ("Tag", "Key", "Value"),
        "Tags": ("Tag", "Key", "Value"),
        "TagKeys": ("TagKey", "", ""),
    },
}


class FormFields:
    """The decoded fields of one query request, indexed by dotted path and by path prefix."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.values: dict[str, str] = {}
        self.children: dict[str, set[str]] = defaultdict(set)
        for key, value in items:
            # The first occurrence of a repeated field wins, as on AWS.
            self.values.setdefault(key, value)
            parts = key.split(".")
            for depth in range(1, len(parts) + 1):
                self.children[".".join(parts[: depth - 1])].add(parts[depth - 1])

    def has(self, prefix: str) -> bool:
        """Whether any field is, or lies under, `prefix`."""
        if prefix in self.values:
            return True
        head, _, last = prefix.rpartition(".")
        return last in self.children.get(head, ())

    def indexes(self, prefix: str) -> list[int]:
        """The item numbers under `prefix` (`prefix.1`, `prefix.2`, ...), sorted."""
        found = [int(part) for part in self.children.get(prefix, ()) if part.isdigit() and int(part) > 0]
        return sorted(found)


def form_fields(request: HttpRequest) -> FormFields:
    """The query string's fields, then the form body's (a POST body wins on conflicts)."""
    items = request.query_items()
    content_type = (request.headers.get("content-type") or "").lower()
    if request.body and (FORM_TYPE in content_type or not content_type):
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError("MalformedQueryString", "The request body is not valid UTF-8.", 400) from None
        body_items = parse_qsl(text, keep_blank_values=True)
        body_keys = {key for key, _ in body_items}
        items = body_items + [(key, value) for key, value in items if key not in body_keys]
    return FormFields(items)


class QueryParser(RequestParser):
    """Parses query-protocol requests of one service along its botocore model."""

    protocol = "query"

    def __init__(self, service_model: Any) -> None:
        super().__init__(service_model)
        self.legacy = LEGACY_QUERY_NAMES.get(self.service, {})

    def operation(self, request: HttpRequest) -> OperationModel:
        return self.operation_from_fields(form_fields(request))

    def operation_from_fields(self, fields: FormFields) -> OperationModel:
        action = fields.values.get("Action")
        if not action:
            raise ServiceError("MissingAction", "The request must contain the parameter Action.", 400)
        found = self.operation_named(action)
        if found is None:
            version = self.service_model.api_version
            raise ServiceError("InvalidAction", f"Could not find operation {action} for version {version}", 400)
        return found

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None:
            return {}
        fields = form_fields(request)
        result: dict[str, Any] = self._structure(fields, shape, "", "")
        return result

    # The walk, inverse of botocore's QuerySerializer --------------------------------------

    def _read(self, fields: FormFields, shape: Shape, prefix: str, path: str, legacy: bool = False) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(fields, shape, prefix, path)
        if kind == "list":
            return self._list(fields, shape, prefix, path)
        if kind == "map":
            return self._map(fields, shape, prefix, path, legacy)
        return text_scalar(self, shape, fields.values[prefix], path, "iso8601")

    def _structure(self, fields: FormFields, shape: Shape, prefix: str, path: str) -> dict[str, Any]:
        assert isinstance(shape, StructureShape)
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            key = f"{prefix}.{wire}" if prefix else wire
            if self._present(fields, member, key):
                result[name] = self._read(fields, member, key, _join(path, name))
            elif self.legacy:
                key = self._legacy_key(member, name, prefix)
                if key and self._present(fields, member, key):
                    result[name] = self._read(fields, member, key, _join(path, name), legacy=True)
        return result

    def _legacy_key(self, member: Shape, name: str, prefix: str) -> str | None:
        if name in self.legacy:
            wire = self.legacy[name][0]
        elif member.type_name == "list" and member.serialization.get("flattened"):
            wire = member.member.name
        else:
            return None
        return f"{prefix}.{wire}" if prefix else wire

    def _present(self, fields: FormFields, shape: Shape, key: str) -> bool:
        if shape.type_name == "list" and shape.serialization.get("flattened"):
            # A flattened list may be spelled with its member's name instead of its own.
            return fields.has(key) or fields.has(self._flat_list_prefix(shape, key))
        if shape.type_name in ("structure", "list", "map"):
            return fields.has(key)
        return key in fields.values

    def _flat_list_prefix(self, shape: Shape, prefix: str) -> str:
        member_name = shape.member.serialization.get("name")
        if not member_name:
            return prefix
        # botocore replaces the last path step (`Original`) with the member's name.
        return ".".join(prefix.split(".")[:-1] + [member_name])

    def _list(self, fields: FormFields, shape: Shape, prefix: str, path: str) -> list[Any]:
        if fields.values.get(prefix) == "" and not fields.children.get(prefix):
            return []  # `Ids=` is how the query protocol spells an empty list
        member = shape.member
        if shape.serialization.get("flattened"):
            item_prefix = self._flat_list_prefix(shape, prefix)
            if not fields.children.get(item_prefix):
                item_prefix = prefix
        else:
            item_prefix = f"{prefix}.{member.serialization.get('name', 'member')}"
        return [
            self._read(fields, member, f"{item_prefix}.{index}", f"{path}.{index}")
            for index in fields.indexes(item_prefix)
            if self._present(fields, member, f"{item_prefix}.{index}")
        ]

    def _map(self, fields: FormFields, shape: Shape, prefix: str, path: str, legacy: bool = False) -> dict[Any, Any]:
        entries = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_shape = shape.key
        value_shape = shape.value
        key_name = key_shape.serialization.get("name", "key")
        value_name = value_shape.serialization.get("name", "value")
        if legacy:
            last = prefix.rpartition(".")[2]
            names = next((v for v in self.legacy.values() if v[0] == last), None)
            if names is not None:
                key_name, value_name = names[1], names[2]
        result: dict[Any, Any] = {}
        for index in fields.indexes(entries):
            key_field = f"{entries}.{index}.{key_name}"
            value_field = f"{entries}.{index}.{value_name}"
            if key_field not in fields.values:
                continue
            key = self._read(fields, key_shape, key_field, path)
            if self._present(fields, value_shape, value_field):
                result[key] = self._read(fields, value_shape, value_field, f"{path}.{key}")
        return result


def _join(path: str, name: str) -> str:
    return f"{path}.{lower_camel(name)}" if path else lower_camel(name)
