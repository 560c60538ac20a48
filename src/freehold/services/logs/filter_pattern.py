"""The CloudWatch Logs filter pattern language, compiled to a matcher over event messages.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
Three forms, chosen by the pattern's first character:

- terms (unstructured logs): `ERROR`, `ERROR Exception` (all terms), `"Failed to connect"`
  (a phrase), `?ERROR ?WARN` (any of the ?-terms), `ERROR -Retrying` (exclusion),
  `%regex%`. Terms match case-sensitively anywhere in the message. An empty pattern
  matches every event.
- JSON (`{ ... }`): comparisons on fields selected with `$.a.b[0]` combined with `&&`, `||`
  and parentheses: `=`/`!=` with strings (with `*` wildcards), numbers, `%regex%` or
  true/false; `<`, `<=`, `>`, `>=` with numbers; `IS TRUE`, `IS FALSE`, `IS NULL`,
  `EXISTS`, `NOT EXISTS`. A message that is not a JSON object matches nothing.
- space-delimited (`[ ... ]`): one comma-separated entry per field of the message, split on
  spaces, where "quoted text" and [bracketed text] are single fields; `...` stands for any
  number of fields; an entry may hold conditions (`status=4*`, `bytes>1000`, joined with
  `&&` or `||`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freehold.services.logs.models import invalid

Matcher = Callable[[str], bool]
_MISSING = object()


@dataclass(frozen=True)
class FilterPattern:
    matches: Matcher
    # Substrings every matching message contains (lets SQL skip most non-matching rows).
    required_substrings: tuple[str, ...] = ()


def compile_pattern(text: str) -> FilterPattern:
    stripped = text.strip()
    if not stripped:
        return FilterPattern(lambda message: True)
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            raise _bad(text)
        return FilterPattern(_compile_json(stripped[1:-1], text))
    if stripped.startswith("["):
        if not stripped.endswith("]"):
            raise _bad(text)
        return FilterPattern(_compile_delimited(stripped[1:-1], text))
    return _compile_terms(stripped, text)


def _bad(pattern: str, detail: str = "") -> Exception:
    return invalid(f"Invalid filter pattern{': ' + detail if detail else ''}: {pattern}")


def _regex(body: str, pattern: str) -> re.Pattern[str]:
    if "(" in body or ")" in body:
        raise _bad(pattern, "parentheses are not supported in a regular expression")
    try:
        return re.compile(body)
    except re.error as error:
        raise _bad(pattern, f"bad regular expression ({error})") from None


def _wildcard(value: str) -> Callable[[str], bool]:
    """String equality where `*` matches any run of characters."""
    if "*" not in value:
        return lambda text: text == value
    compiled = re.compile(".*".join(re.escape(part) for part in value.split("*")), re.DOTALL)
    return lambda text: compiled.fullmatch(text) is not None


def _regex_term(compiled: re.Pattern[str]) -> Matcher:
    return lambda message: compiled.search(message) is not None


def _literal_term(literal: str) -> Matcher:
    return lambda message: literal in message


# -- terms ---------------------------------------------------------------------------------------
_TERM = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|%([^%]*)%|(\S+))')


def _compile_terms(text: str, pattern: str) -> FilterPattern:
    required: list[Matcher] = []
    excluded: list[Matcher] = []
    optional: list[Matcher] = []
    substrings: list[str] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _TERM.match(text, position)
        if match is None:
            raise _bad(pattern)
        position = match.end()
        sign, quoted, regex, bare = match.groups()
        if regex is not None:
            term = _regex_term(_regex(regex, pattern))
            literal = None
        else:
            literal = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            term = _literal_term(literal)
        if sign == "?":
            optional.append(term)
        elif sign == "-":
            excluded.append(term)
        else:
            required.append(term)
            if literal:
                substrings.append(literal)

    def matches(message: str) -> bool:
        if optional and not any(term(message) for term in optional):
            return False
        return all(term(message) for term in required) and not any(term(message) for term in excluded)

    return FilterPattern(matches, tuple(substrings))


# -- JSON ----------------------------------------------------------------------------------------
_JSON_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | (?P<path>\$(?:\.[^\s.\[=!<>()&|]+|\[\d+\])*)
      | "(?P<string>(?:[^"\\]|\\.)*)"
      | %(?P<regex>[^%]*)%
      | (?P<word>[^\s=!<>()&|]+)
    )""",
    re.VERBOSE,
)


def _json_tokens(body: str, pattern: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(body):
        if body[position:].strip() == "":
            break
        match = _JSON_TOKEN.match(body, position)
        if match is None or match.end() == position:
            raise _bad(pattern)
        position = match.end()
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
    return out


def _select(document: Any, path: str) -> Any:
    current = document
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path[1:]):
        key, index = part
        if key:
            if not isinstance(current, dict) or key not in current:
                return _MISSING
            current = current[key]
        else:
            if not isinstance(current, list) or int(index) >= len(current):
                return _MISSING
            current = current[int(index)]
    return current


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(op: str, kind: str, value: str, pattern: str) -> Callable[[Any], bool]:
    """A test of one selected JSON value (or a delimited field's text) against a literal."""
    if op in ("<", "<=", ">", ">="):
        parsed = _number(value) if kind == "word" else None
        if parsed is None:
            raise _bad(pattern, f"{op} needs a number")
        number: float = parsed

        def numeric(found: Any) -> bool:
            if isinstance(found, bool) or found is _MISSING:
                return False
            if isinstance(found, str):
                found = _number(found)
            if not isinstance(found, (int, float)):
                return False
            return {"<": found < number, "<=": found <= number, ">": found > number, ">=": found >= number}[op]

        return numeric
    if kind == "regex":
        compiled = _regex(value, pattern)
        equal: Callable[[Any], bool] = lambda found: isinstance(found, str) and compiled.search(found) is not None
    else:
        literal_number = _number(value) if kind == "word" else None
        text_equal = _wildcard(value)

        def equal(found: Any) -> bool:
            if found is _MISSING:
                return False
            if isinstance(found, bool):
                return value.lower() == ("true" if found else "false")
            if isinstance(found, (int, float)):
                return literal_number is not None and float(found) == literal_number
            if found is None:
                return value.lower() == "null"
            if isinstance(found, str):
                return text_equal(found)
            return False

    if op == "=":
        return equal
    return lambda found: found is not _MISSING and not equal(found)


# Parentheses a JSON pattern may nest: the parser recurses per level, so unbounded nesting
# would overflow Python's stack (a 500); deeper patterns are refused as invalid.
MAX_JSON_NESTING = 50


class _JsonParser:
    def __init__(self, tokens: list[tuple[str, str]], pattern: str) -> None:
        self.tokens = tokens
        self.pattern = pattern
        self.index = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _bad(self.pattern, "unexpected end")
        self.index += 1
        return token

    def expression(self) -> Callable[[Any], bool]:
        terms = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda doc: any(term(doc) for term in terms))

    def conjunction(self) -> Callable[[Any], bool]:
        terms = [self.primary()]
        while self.peek() == ("op", "&&"):
            self.take()
            terms.append(self.primary())
        return terms[0] if len(terms) == 1 else (lambda doc: all(term(doc) for term in terms))

    def primary(self) -> Callable[[Any], bool]:
        kind, text = self.take()
        if (kind, text) == ("op", "("):
            self.depth += 1
            if self.depth > MAX_JSON_NESTING:
                raise _bad(self.pattern, "parentheses nested too deeply")
            inner = self.expression()
            self.depth -= 1
            if self.take() != ("op", ")"):
                raise _bad(self.pattern, "unbalanced parentheses")
            return inner
        if kind != "path":
            raise _bad(self.pattern, f"expected a $. selector, found {text!r}")
        path = text
        kind, text = self.take()
        if kind == "word" and text.upper() in ("IS", "NOT", "EXISTS"):
            return self.keyword(path, text.upper())
        if kind != "op" or text not in ("=", "!=", "<", "<=", ">", ">="):
            raise _bad(self.pattern, f"expected a comparison after {path}")
        value_kind, value = self.take()
        if value_kind not in ("word", "string", "regex"):
            raise _bad(self.pattern, f"expected a value after {path} {text}")
        test = _compare(text, value_kind, value, self.pattern)
        return lambda doc: test(_select(doc, path))

    def keyword(self, path: str, word: str) -> Callable[[Any], bool]:
        if word == "EXISTS":
            return lambda doc: _select(doc, path) is not _MISSING
        if word == "NOT":
            if self.take()[1].upper() != "EXISTS":
                raise _bad(self.pattern, "expected NOT EXISTS")
            return lambda doc: _select(doc, path) is _MISSING
        what = self.take()[1].upper()
        expected: dict[str, Callable[[Any], bool]] = {
            "TRUE": lambda found: found is True,
            "FALSE": lambda found: found is False,
            "NULL": lambda found: found is None,
        }
        if what not in expected:
            raise _bad(self.pattern, "expected IS TRUE, IS FALSE or IS NULL")
        check = expected[what]
        return lambda doc: check(_select(doc, path))


def _compile_json(body: str, pattern: str) -> Matcher:
    parser = _JsonParser(_json_tokens(body, pattern), pattern)
    test = parser.expression()
    if parser.peek() is not None:
        raise _bad(pattern, f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]

    def matches(message: str) -> bool:
        if "{" not in message:
            return False
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and bool(test(document))

    return matches


# -- space-delimited --------------------------------------------------------------------------------
_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_CONDITION = re.compile(r'\s*([\w.-]+)\s*(!=|<=|>=|=|<|>)\s*("(?:[^"\\]|\\.)*"|%[^%]*%|[^\s&|]+)\s*')
ELLIPSIS = "..."


def message_fields(message: str) -> list[str]:
    return [match.group(match.lastindex or 0) for match in _FIELD.finditer(message)]


def _split_top(body: str) -> list[str]:
    parts: list[str] = []
    quoted, current = False, ""
    for char in body:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == ",":
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [part.strip() for part in parts]


def _field_test(entry: str, pattern: str) -> Callable[[str], bool] | None:
    """None for a bare name (any value); else the test of the field's text."""
    if re.fullmatch(r"[\w.-]+", entry):
        return None
    alternatives: list[Callable[[str], bool]] = []
    for alternative in entry.split("||"):
        tests: list[Callable[[str], bool]] = []
        for clause in alternative.split("&&"):
            match = _CONDITION.fullmatch(clause)
            if match is None:
                raise _bad(pattern, f"bad field condition {clause.strip()!r}")
            _, op, value = match.groups()
            if value.startswith('"'):
                kind, value = "string", value[1:-1]
            elif value.startswith("%") and value.endswith("%") and len(value) > 1:
                kind, value = "regex", value[1:-1]
            else:
                kind = "word"
            tests.append(_compare(op, kind, value, pattern))
        alternatives.append(_all_of(tests))
    return lambda text: any(test(text) for test in alternatives)


def _all_of(tests: list[Callable[[str], bool]]) -> Callable[[str], bool]:
    return lambda text: all(test(text) for test in tests)


def _compile_delimited(body: str, pattern: str) -> Matcher:
    entries = _split_top(body)
    if entries == [""]:
        return lambda message: True
    specs: list[Callable[[str], bool] | None | str] = []
    for entry in entries:
        if not entry:
            raise _bad(pattern, "empty field")
        specs.append(ELLIPSIS if entry == ELLIPSIS else _field_test(entry, pattern))

    def fit(spec_index: int, fields: list[str], field_index: int) -> bool:
        if spec_index == len(specs):
            return field_index == len(fields)
        spec = specs[spec_index]
        if spec == ELLIPSIS:
            return any(fit(spec_index + 1, fields, k) for k in range(field_index, len(fields) + 1))
        if field_index >= len(fields):
            return False
        if spec is not None and not spec(fields[field_index]):  # type: ignore[operator]
            return False
        return fit(spec_index + 1, fields, field_index + 1)

    return lambda message: fit(0, message_fields(message), 0)
