"""Message contents: body and attribute rules, sizes, and the MD5 digests AWS returns.

MD5OfMessageBody is the MD5 of the body's UTF-8 bytes. MD5OfMessageAttributes (and
MD5OfMessageSystemAttributes) is AWS's documented digest over the attributes sorted by name,
each encoded as: name length (4 bytes, big-endian) + name, data type length + data type,
one transport byte (1 string, 2 binary), value length + value.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation
The SDKs recompute these and reject answers that differ, so they must be exact.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from decimal import Decimal, InvalidOperation
from typing import Any

from freehold.protocol.errors import ServiceError
from freehold.services.sqs.models import invalid_parameter

MAX_MESSAGE_ATTRIBUTES = 10
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
# Characters allowed in bodies and string attribute values (XML 1.0's Char production).
_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
SYSTEM_ATTRIBUTES_FOR_SENDS = ("AWSTraceHeader",)

Attributes = dict[str, dict[str, Any]]


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_of_body(body: str) -> str:
    return md5_hex(body.encode("utf-8"))


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def md5_of_attributes(attributes: Attributes | None) -> str | None:
    """AWS's digest of message (or system) attributes; None when there are none."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        digest.update(_field(name.encode("utf-8")))
        digest.update(_field(value["DataType"].encode("utf-8")))
        if value.get("StringValue") is not None:
            digest.update(b"\x01" + _field(value["StringValue"].encode("utf-8")))
        elif value.get("BinaryValue") is not None:
            digest.update(b"\x02" + _field(bytes(value["BinaryValue"])))
    return digest.hexdigest()


def check_body(body: str | None) -> str:
    if body is None or body == "":
        raise ServiceError("MissingParameter", "The request must contain the parameter MessageBody.")
    bad = _FORBIDDEN.search(body)
    if bad is not None:
        raise ServiceError(
            "InvalidMessageContents",
            f"Invalid binary character '#x{ord(bad.group()):X}' was found in the message body, the set of "
            "allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    return body


def _base_type(data_type: str) -> str:
    return data_type.split(".", 1)[0]


def check_message_attributes(attributes: Attributes | None) -> Attributes:
    """The caller's message attributes, checked as AWS checks them (values kept as given)."""
    if not attributes:
        return {}
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise invalid_parameter(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}]."
        )
    checked: Attributes = {}
    for name, value in attributes.items():
        lowered = name.lower()
        if (not ATTRIBUTE_NAME.fullmatch(name) or name.startswith(".") or name.endswith(".") or ".." in name):
            raise invalid_parameter(f"Message (user) attribute name '{name}' is invalid.")
        if lowered.startswith(("aws.", "amazon.")):
            raise invalid_parameter(f"Message (user) attribute name '{name}' uses a reserved prefix (AWS. or Amazon.).")
        data_type = value.get("DataType") or ""
        base = _base_type(data_type)
        if base not in ("String", "Number", "Binary") or len(data_type) > 256:
            raise invalid_parameter(
                f"The type of message (user) attribute '{name}' is invalid. You must use only the following "
                "supported type prefixes: Binary, Number, String."
            )
        kind = "Binary" if base == "Binary" else "String"
        if kind == "String":
            text = value.get("StringValue")
            if not text:
                raise invalid_parameter(f"Message (user) attribute '{name}' must contain a non-empty value of type 'String'.")
            if _FORBIDDEN.search(text):
                raise ServiceError(
                    "InvalidParameterValue",
                    f"Message (user) attribute '{name}' value contains invalid characters.",
                )
            if base == "Number":
                _check_number(name, text)
            checked[name] = {"DataType": data_type, "StringValue": text}
        else:
            blob = value.get("BinaryValue")
            if not blob:
                raise invalid_parameter(f"Message (user) attribute '{name}' must contain a non-empty value of type 'Binary'.")
            checked[name] = {"DataType": data_type, "BinaryValue": bytes(blob)}
    return checked


def _check_number(name: str, text: str) -> None:
    # Numbers: up to 38 digits of precision, between -10^128 and 10^126.
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise invalid_parameter(f"Can't cast the value of message (user) attribute '{name}' to a number.") from None
    if not number.is_finite():
        raise invalid_parameter(f"Can't cast the value of message (user) attribute '{name}' to a number.")
    # Significant digits, without normalize() (which rounds to the context's 28 digits).
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(significant) > 38 or not Decimal("-1e128") <= number <= Decimal("1e126"):
        raise invalid_parameter(f"Value of message (user) attribute '{name}' is out of range.")


def check_system_attributes(attributes: Attributes | None) -> Attributes:
    if not attributes:
        return {}
    checked: Attributes = {}
    for name, value in attributes.items():
        if name not in SYSTEM_ATTRIBUTES_FOR_SENDS:
            raise invalid_parameter(f"Message system attribute name '{name}' is invalid.")
        if value.get("DataType") != "String" or not value.get("StringValue"):
            raise invalid_parameter(f"Message system attribute '{name}' must contain a non-empty value of type 'String'.")
        checked[name] = {"DataType": "String", "StringValue": value["StringValue"]}
    return checked


def message_size(body: str, attributes: Attributes) -> int:
    """What counts against MaximumMessageSize: the body and every attribute's name, type and value."""
    size = len(body.encode("utf-8"))
    for name, value in attributes.items():
        size += len(name.encode("utf-8")) + len(value["DataType"].encode("utf-8"))
        if value.get("StringValue") is not None:
            size += len(value["StringValue"].encode("utf-8"))
        elif value.get("BinaryValue") is not None:
            size += len(value["BinaryValue"])
    return size


# -- storage form: binary values as base64 in JSON -------------------------------------------


def to_stored(attributes: Attributes) -> Attributes:
    stored: Attributes = {}
    for name, value in attributes.items():
        if "BinaryValue" in value:
            stored[name] = {"DataType": value["DataType"], "BinaryValue": base64.b64encode(value["BinaryValue"]).decode()}
        else:
            stored[name] = dict(value)
    return stored


def from_stored(attributes: Attributes) -> Attributes:
    loaded: Attributes = {}
    for name, value in attributes.items():
        if "BinaryValue" in value:
            loaded[name] = {"DataType": value["DataType"], "BinaryValue": base64.b64decode(value["BinaryValue"])}
        else:
            loaded[name] = dict(value)
    return loaded


def select_attributes(attributes: Attributes, names: list[str] | None) -> Attributes:
    """The message attributes a ReceiveMessage asked for: 'All', '.*', 'prefix.*' or exact names."""
    if not names or not attributes:
        return {}
    selected: Attributes = {}
    for name, value in attributes.items():
        for wanted in names:
            if wanted in ("All", ".*") or name == wanted or (wanted.endswith(".*") and name.startswith(wanted[:-1])):
                selected[name] = value
                break
    return selected
