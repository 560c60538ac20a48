"""Writing model-shaped values as XML, the body format of the query and rest-xml protocols.

The rules are those botocore's BaseXMLResponseParser reads: element names from
`locationName` (else the member name), lists wrapped in <member> (or the list member's
locationName) unless `flattened`, maps as <entry><key/><value/></entry> unless
`flattened`, `xmlAttribute` members as attributes, `xmlNamespace` as xmlns declarations,
timestamps ISO 8601 unless a timestampFormat trait says otherwise, blobs base64.
"""

from __future__ import annotations

import math
import re
from typing import Any

from freehold.protocol.serializer_values import ISO8601, b64, format_timestamp, timestamp_format

# Characters XML 1.0 cannot carry at all, not even as character references
# (https://www.w3.org/TR/xml/#charsets). AWS refuses them on input (SQS: InvalidMessageContents);
# if one reaches a response anyway it is replaced rather than producing unparsable XML.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Carriage returns are escaped so XML end-of-line normalization does not turn them into
# newlines (https://www.w3.org/TR/xml/#sec-line-ends); S3 writes them as &#13; too.
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"}
)
NON_BODY_LOCATIONS = frozenset({"header", "headers", "statusCode", "querystring", "uri"})


def escape_text(text: str) -> str:
    return _INVALID_XML_CHARS.sub("\ufffd", text).translate(_TEXT_ESCAPES)


def escape_attr(text: str) -> str:
    return _INVALID_XML_CHARS.sub("\ufffd", text).translate(_ATTR_ESCAPES)


def namespace_attr(namespace: Any) -> str:
    """The xmlns declaration of an xmlNamespace trait (a URI, or {"uri", "prefix"})."""
    if not namespace:
        return ""
    if isinstance(namespace, str):
        return f' xmlns="{escape_attr(namespace)}"'
    uri = escape_attr(str(namespace.get("uri", "")))
    prefix = namespace.get("prefix")
    return f' xmlns:{prefix}="{uri}"' if prefix else f' xmlns="{uri}"'


def scalar_text(shape: Any, value: Any) -> str:
    """The text of a scalar member as AWS XML writes it."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("integer", "long", "short", "byte"):
        return str(int(value))
    if kind in ("float", "double"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return repr(number)
    if kind == "timestamp":
        return str(format_timestamp(value, timestamp_format(shape, ISO8601)))
    if kind == "blob":
        return b64(value)
    return str(value)


# member name -> (element name, map key name, map value name); "" means the default.
LegacyNames = dict[str, tuple[str, str, str]]


class XmlWriter:
    """Appends the XML of shapes and values to a list of string parts.

    With `legacy_names`, every list and map is written flattened, the way a service's query
    API wrote them before the service moved to JSON and its model lost the XML traits (SQS):
    items are named by the table, else by the list member's shape name.
    """

    def __init__(self, legacy_names: LegacyNames | None = None) -> None:
        self.legacy_names = legacy_names

    def element(self, out: list[str], name: str, shape: Any, value: Any, extra_attrs: str = "") -> None:
        kind = shape.type_name
        if kind == "structure":
            attrs = extra_attrs + namespace_attr(shape.serialization.get("xmlNamespace"))
            attrs += self._attributes(shape, value)
            out.append(f"<{name}{attrs}>")
            self.members(out, shape, value)
            out.append(f"</{name}>")
        elif kind == "list":
            out.append(f"<{name}{extra_attrs}>")
            item_name = shape.member.serialization.get("name", "member")
            for item in value:
                self.element(out, item_name, shape.member, item)
            out.append(f"</{name}>")
        elif kind == "map":
            out.append(f"<{name}{extra_attrs}>")
            for key, item in value.items():
                if item is None:
                    continue
                out.append("<entry>")
                self._map_pair(out, shape, key, item)
                out.append("</entry>")
            out.append(f"</{name}>")
        else:
            out.append(f"<{name}{extra_attrs}>{escape_text(scalar_text(shape, value))}</{name}>")

    def members(self, out: list[str], shape: Any, value: dict[str, Any]) -> None:
        """The child elements of a structure: every set member that lives in the body."""
        for member_name, member in shape.members.items():
            member_value = value.get(member_name)
            if member_value is None:
                continue
            serialization = member.serialization
            if serialization.get("location") in NON_BODY_LOCATIONS or serialization.get("xmlAttribute"):
                continue
            name = serialization.get("name", member_name)
            if self.legacy_names is not None and member.type_name in ("list", "map"):
                self._legacy_member(out, member_name, member, member_value)
            elif serialization.get("flattened") and member.type_name == "list":
                # A flattened list repeats its items in place, named by the list member's
                # locationName when it has one (botocore _member_key_name).
                item_name = member.member.serialization.get("name", name)
                for item in member_value:
                    self.element(out, item_name, member.member, item)
            elif serialization.get("flattened") and member.type_name == "map":
                for key, item in member_value.items():
                    if item is None:
                        continue
                    out.append(f"<{name}>")
                    self._map_pair(out, member, key, item)
                    out.append(f"</{name}>")
            else:
                self.element(out, name, member, member_value)

    def _legacy_member(self, out: list[str], member_name: str, member: Any, value: Any) -> None:
        assert self.legacy_names is not None
        wire, key_name, value_name = self.legacy_names.get(member_name, ("", "", ""))
        if member.type_name == "list":
            item_name = wire or str(member.member.name)
            for item in value:
                self.element(out, item_name, member.member, item)
            return
        for key, item in value.items():
            if item is None:
                continue
            out.append(f"<{wire or member_name}>")
            self._map_pair(out, member, key, item, key_name, value_name)
            out.append(f"</{wire or member_name}>")

    def _map_pair(self, out: list[str], shape: Any, key: Any, value: Any, key_name: str = "", value_name: str = "") -> None:
        key_name = key_name or shape.key.serialization.get("name") or "key"
        value_name = value_name or shape.value.serialization.get("name") or "value"
        self.element(out, key_name, shape.key, key)
        self.element(out, value_name, shape.value, value)

    def _attributes(self, shape: Any, value: dict[str, Any]) -> str:
        parts = []
        for member_name, member in shape.members.items():
            if member.serialization.get("xmlAttribute") and value.get(member_name) is not None:
                attr = member.serialization.get("name", member_name)
                parts.append(f' {attr}="{escape_attr(scalar_text(member, value[member_name]))}"')
        return "".join(parts)


def unmodelled_fields(out: list[str], fields: dict[str, Any], skip: set[str]) -> None:
    """Extra error fields no shape describes, written as simple elements (S3 <BucketName>)."""
    for name, value in fields.items():
        if name in skip or value is None or not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
            continue
        text = value if isinstance(value, str) else str(value)
        out.append(f"<{name}>{escape_text(text)}</{name}>")
