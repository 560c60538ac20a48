"""The tokenizer shared by every DynamoDB expression (condition, filter, key condition,
update, projection).

Tokens keep their offsets in the source: syntax errors quote the offending token and the
source window from the token before it to the token after it, as DynamoDB does
(`Syntax error; token: "-", near: "a-b"`). A character no token starts with becomes an
`invalid` token, so it is reported by the parser at its position, like any other misplaced token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>\#[A-Za-z0-9_]+)
  | (?P<value>:[A-Za-z0-9_]+)
  | (?P<number>[0-9]+)
  | (?P<punct><>|<=|>=|[()\[\],.+\-=<>])
    """,
    re.VERBOSE,
)

KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"})


@dataclass(frozen=True)
class Token:
    kind: str  # ident, name, value, number, punct, invalid, eof
    text: str
    start: int
    end: int

    def is_keyword(self, word: str) -> bool:
        return self.kind == "ident" and self.text.upper() == word

    def is_punct(self, text: str) -> bool:
        return self.kind == "punct" and self.text == text

    @property
    def shown(self) -> str:
        return "<EOF>" if self.kind == "eof" else self.text


def tokenize(source: str) -> list[Token]:
    """Every token of `source`, ending with an `eof` token."""
    tokens: list[Token] = []
    position = 0
    length = len(source)
    while position < length:
        match = _TOKEN.match(source, position)
        if match is None:
            tokens.append(Token("invalid", source[position], position, position + 1))
            position += 1
            continue
        kind = match.lastgroup or "invalid"
        if kind != "space":
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    tokens.append(Token("eof", "", length, length))
    return tokens
