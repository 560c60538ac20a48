"""The syntax tree of DynamoDB expressions.

The parser builds trees whose names and values are still placeholders (`#n`, `:v`) or plain
identifiers; `resolve.py` substitutes them (checking what is undefined, reserved or unused)
into trees with concrete attribute names and AttributeValues that `evaluate.py` and
`update.py` run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

# A path element: an attribute/map key name (str), or a list index (int).
Element = Union[str, int]


@dataclass(frozen=True)
class NameRef:
    """A `#placeholder` in a document path (before resolution)."""

    text: str


@dataclass(frozen=True)
class Path:
    """A document path: `a.b[2].#c`. Before resolution, names may be NameRef or a raw
    identifier (str); after, every name is the attribute's real name (str)."""

    elements: tuple[Any, ...]

    def shown(self) -> str:
        """The path as DynamoDB shows it in overlap errors: [a, b, [2]]."""
        return "[" + ", ".join(f"[{e}]" if isinstance(e, int) else str(e) for e in self.elements) + "]"


@dataclass(frozen=True)
class ValueRef:
    """A `:placeholder` before resolution."""

    text: str


@dataclass(frozen=True)
class Literal:
    """A resolved expression attribute value."""

    value: dict[str, Any]
    name: str  # the placeholder it came from, for messages


@dataclass(frozen=True)
class Call:
    """A function call: size(a), attribute_exists(a), if_not_exists(a, :v) ..."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Arithmetic:
    """`x + y` or `x - y` in a SET action."""

    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Compare:
    op: str  # = <> < <= > >=
    left: Any
    right: Any


@dataclass(frozen=True)
class Between:
    operand: Any
    low: Any
    high: Any


@dataclass(frozen=True)
class In:
    operand: Any
    options: tuple[Any, ...]


@dataclass(frozen=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True)
class Or:
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    operand: Any


@dataclass(frozen=True)
class Paren:
    """Parentheses, kept so that redundant ones can be refused."""

    inner: Any


@dataclass(frozen=True)
class SetAction:
    path: Path
    value: Any


@dataclass(frozen=True)
class RemoveAction:
    path: Path


@dataclass(frozen=True)
class AddAction:
    path: Path
    value: Any


@dataclass(frozen=True)
class DeleteAction:
    path: Path
    value: Any


Action = Union[SetAction, RemoveAction, AddAction, DeleteAction]


@dataclass(frozen=True)
class Update:
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Projection:
    paths: tuple[Path, ...]
