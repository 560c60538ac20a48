"""Reading rest-xml request bodies (S3) along a shape, inverse of botocore's RestXMLSerializer.

Elements are matched by local name (namespaces are ignored, as S3 does). Lists are wrapped
(`<Tags><Tag>..</Tag></Tags>`, any child name accepted) or flattened (the member repeats in
its parent); maps hold `<entry><key/><value/></entry>` or repeat flattened; members with the
`xmlAttribute` trait are attributes (`xsi:type` on S3's Grantee). A body that is not
well-formed XML, or that declares a DOCTYPE/entities, is S3's `MalformedXML`.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from botocore.model import Shape, StructureShape

from freehold.protocol.errors import ServiceError
from freehold.protocol.parser_base import RequestParser, lower_camel, text_scalar

MALFORMED_XML = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)


def malformed_xml() -> ServiceError:
    return ServiceError("MalformedXML", MALFORMED_XML, 400)


def load_xml(body: bytes) -> ElementTree.Element:
    """The root element of a request body; MalformedXML if it is not plain, well-formed XML."""
    head = body[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in body.upper():
        raise malformed_xml()  # no DTDs: no entity expansion, no external entities
    try:
        return ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError, RecursionError):
        raise malformed_xml() from None


def local_name(tag: str) -> str:
    """`{http://s3.amazonaws.com/doc/2006-03-01/}Key` -> `Key`; `xsi:type` -> `type`."""
    if tag.startswith("{"):
        tag = tag.partition("}")[2]
    return tag.rpartition(":")[2]


class XmlReader:
    """Reads an element tree into params; scalar errors are reported through `parser`."""

    def __init__(self, parser: RequestParser) -> None:
        self.parser = parser

    def read(self, shape: Shape, node: ElementTree.Element, path: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self.structure(shape, node, path)
        if kind == "list":
            member = shape.member
            return [self.read(member, child, f"{path}.{i}") for i, child in enumerate(node, 1)]
        if kind == "map":
            return self.map_entries(shape, [child for child in node], path)
        return text_scalar(self.parser, shape, node.text or "", path, "iso8601")

    def structure(self, shape: Shape, node: ElementTree.Element, path: str, names: Any = None) -> dict[str, Any]:
        assert isinstance(shape, StructureShape)
        children: dict[str, list[ElementTree.Element]] = {}
        for child in node:
            children.setdefault(local_name(child.tag), []).append(child)
        attributes = {local_name(key): value for key, value in node.attrib.items()}
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            if names is not None and name not in names:
                continue
            wire = member.serialization.get("name", name)
            where = f"{path}.{lower_camel(name)}" if path else lower_camel(name)
            if member.serialization.get("xmlAttribute"):
                if local_name(wire) in attributes:
                    result[name] = text_scalar(self.parser, member, attributes[local_name(wire)], where, "iso8601")
                continue
            nodes = children.get(local_name(wire))
            if not nodes:
                continue
            if member.type_name == "list" and member.serialization.get("flattened"):
                item = member.member
                result[name] = [self.read(item, n, f"{where}.{i}") for i, n in enumerate(nodes, 1)]
            elif member.type_name == "map" and member.serialization.get("flattened"):
                result[name] = self.map_entries(member, nodes, where)
            else:
                result[name] = self.read(member, nodes[0], where)
        return result

    def map_entries(self, shape: Shape, entries: list[ElementTree.Element], path: str) -> dict[Any, Any]:
        key_shape = shape.key
        value_shape = shape.value
        key_name = key_shape.serialization.get("name", "key")
        value_name = value_shape.serialization.get("name", "value")
        result: dict[Any, Any] = {}
        for entry in entries:
            key_node = value_node = None
            for child in entry:
                if local_name(child.tag) == key_name:
                    key_node = child
                elif local_name(child.tag) == value_name:
                    value_node = child
            if key_node is None or value_node is None:
                continue
            key = self.read(key_shape, key_node, path)
            result[key] = self.read(value_shape, value_node, f"{path}.{key}")
        return result
