"""PartiQL for DynamoDB: the tokenizer and the parser of its four statements.

    SELECT * | path, ... FROM "Table"["Index"] [WHERE condition]
    INSERT INTO "Table" VALUE {'attr': value, ...}
    UPDATE "Table" SET path = value [, ...] | REMOVE path [...] WHERE condition [RETURNING ...]
    DELETE FROM "Table" WHERE condition [RETURNING ALL OLD *]

(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.html)
Values are literals ('text', 12.5, TRUE, NULL, {..} maps, [..] lists, <<..>> sets) or `?`
parameters, bound in order from the request's Parameters as they are parsed. Conditions
become the trees of the expression language (expressions/ast.py), so evaluate.py runs them
and update.py applies SET/REMOVE. Errors carry DynamoDB's wording: "Statement wasn't well
formed, can't be processed: <detail>".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from freehold.services.dynamodb.errors import validation
from freehold.services.dynamodb.expressions.ast import (
    AddAction,
    And,
    Arithmetic,
    Between,
    Call,
    Compare,
    DeleteAction,
    In,
    Literal,
    Not,
    Or,
    Paren,
    Path,
    RemoveAction,
    SetAction,
)
from freehold.services.dynamodb.types import ValueChecker, value_type

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<string>'(?:[^']|'')*')
  | (?P<punct><<|>>|<>|!=|<=|>=|[=<>()\[\]{},.:*+\-?])
    """,
    re.VERBOSE,
)
_COMPARATORS = ("=", "<>", "!=", "<", "<=", ">", ">=")
_RETURNING = {("ALL", "OLD"): "ALL_OLD", ("ALL", "NEW"): "ALL_NEW",
              ("MODIFIED", "OLD"): "UPDATED_OLD", ("MODIFIED", "NEW"): "UPDATED_NEW"}


def malformed(detail: str) -> Exception:
    return validation(f"Statement wasn't well formed, can't be processed: {detail}")


@dataclass(frozen=True)
class Token:
    kind: str  # number ident quoted string punct eof
    text: str

    def word(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words

    def punct(self, *marks: str) -> bool:
        return self.kind == "punct" and self.text in marks


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise malformed(f"Unexpected character: {source[position]}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group()))
        position = match.end()
    tokens.append(Token("eof", ""))
    return tokens


@dataclass
class Select:
    table: str
    index: str | None
    projection: list[Path] | None  # None: *
    where: Any


@dataclass
class Insert:
    table: str
    item: dict[str, Any]


@dataclass
class Update:
    table: str
    actions: list[Any]
    where: Any
    returning: str = "NONE"


@dataclass
class Delete:
    table: str
    where: Any
    returning: str = "NONE"


Statement = Select | Insert | Update | Delete


@dataclass
class _Parser:
    tokens: list[Token]
    parameters: list[dict[str, Any]]
    position: int = 0
    used: int = field(default=0)

    # -- tokens -----------------------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.position]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        if token.kind != "eof":
            self.position += 1
        return token

    def expect_word(self, word: str) -> None:
        if not self.current.word(word):
            raise self.unexpected()
        self.advance()

    def expect_punct(self, mark: str) -> None:
        if not self.current.punct(mark):
            raise self.unexpected()
        self.advance()

    def unexpected(self) -> Exception:
        token = self.current
        if token.kind == "eof":
            return malformed("Unexpected end of statement")
        if token.kind == "ident" and token.text.upper() in _KEYWORDS:
            return malformed("Unexpected keyword")
        return malformed(f"Unexpected token: {token.text}")

    # -- statements -------------------------------------------------------------------------
    def statement(self) -> Statement:
        token = self.current
        result: Statement
        if token.word("SELECT"):
            result = self.select()
        elif token.word("INSERT"):
            result = self.insert()
        elif token.word("UPDATE"):
            result = self.update()
        elif token.word("DELETE"):
            result = self.delete()
        else:
            raise malformed("Expected data manipulation")
        if self.current.punct(";"):
            self.advance()
        if self.current.kind != "eof":
            raise self.unexpected()
        if self.used != len(self.parameters):
            raise validation("Number of parameters in request and statement don't match.")
        return result

    def select(self) -> Select:
        self.advance()
        projection: list[Path] | None = None
        if self.current.punct("*"):
            self.advance()
        else:
            projection = [self.path()]
            while self.current.punct(","):
                self.advance()
                projection.append(self.path())
        self.expect_word("FROM")
        table = self.name()
        index = None
        if self.current.punct("."):
            self.advance()
            index = self.name()
        where = self.where(required=False)
        return Select(table, index, projection, where)

    def insert(self) -> Insert:
        self.advance()
        self.expect_word("INTO")
        table = self.name()
        self.expect_word("VALUE")
        if not self.current.punct("{"):
            raise self.unexpected()
        value = self.value()
        return Insert(table, value["M"])

    def update(self) -> Update:
        self.advance()
        table = self.name()
        actions: list[Any] = []
        while self.current.word("SET", "REMOVE"):
            if self.advance().text.upper() == "SET":
                actions.append(self.set_action())
                while self.current.punct(","):
                    self.advance()
                    actions.append(self.set_action())
            else:
                actions.append(RemoveAction(self.path()))
                while self.current.punct(","):
                    self.advance()
                    actions.append(RemoveAction(self.path()))
        if not actions:
            raise self.unexpected()
        where = self.where(required=True)
        return Update(table, actions, where, self.returning())

    def delete(self) -> Delete:
        self.advance()
        self.expect_word("FROM")
        table = self.name()
        where = self.where(required=True)
        return Delete(table, where, self.returning())

    def returning(self) -> str:
        if not self.current.word("RETURNING"):
            return "NONE"
        self.advance()
        first, second = self.advance(), self.advance()
        mode = _RETURNING.get((first.text.upper(), second.text.upper()))
        if mode is None:
            raise malformed("Unexpected keyword")
        self.expect_punct("*")
        return mode

    def where(self, required: bool) -> Any:
        if not self.current.word("WHERE"):
            if required and self.current.kind == "eof":
                raise validation("Where clause does not contain a mandatory equality on all key attributes")
            return None
        self.advance()
        return self.condition()

    def set_action(self) -> Any:
        path = self.path()
        self.expect_punct("=")
        value = self.set_value()
        if isinstance(value, Call) and value.name in ("set_add", "set_delete"):
            target, operand = value.args
            if target != path or not isinstance(operand, Literal):
                raise malformed(f"Invalid arguments to {value.name}")
            return AddAction(path, operand) if value.name == "set_add" else DeleteAction(path, operand)
        return SetAction(path, value)

    def set_value(self) -> Any:
        left = self.set_operand()
        while self.current.punct("+", "-"):
            op = self.advance().text
            left = Arithmetic(op, left, self.set_operand())
        return left

    def set_operand(self) -> Any:
        token = self.current
        if token.kind == "ident" and self.tokens[self.position + 1].punct("("):
            name = token.text.lower()
            if name not in ("list_append", "if_not_exists", "set_add", "set_delete"):
                raise malformed(f"Unknown function: {token.text}")
            self.advance()
            self.advance()
            args = [self.set_value()]
            self.expect_punct(",")
            args.append(self.set_value())
            self.expect_punct(")")
            return Call(name, tuple(args))
        if token.kind in ("ident", "quoted") and not token.word("TRUE", "FALSE", "NULL", "MISSING"):
            return self.path()
        return Literal(self.value(), "")

    # -- names and paths --------------------------------------------------------------------
    def name(self) -> str:
        token = self.current
        if token.kind == "quoted":
            self.advance()
            return token.text[1:-1].replace('""', '"')
        if token.kind == "ident" and token.text.upper() not in _KEYWORDS:
            self.advance()
            return token.text
        raise self.unexpected()

    def path(self) -> Path:
        elements: list[Any] = [self.name()]
        while True:
            if self.current.punct("."):
                self.advance()
                elements.append(self.name())
            elif self.current.punct("["):
                self.advance()
                token = self.advance()
                if token.kind == "number" and token.text.isdigit():
                    elements.append(int(token.text))
                elif token.kind == "string":
                    elements.append(token.text[1:-1].replace("''", "'"))
                else:
                    raise malformed("Expected an index or a key in a path")
                self.expect_punct("]")
            else:
                return Path(tuple(elements))

    # -- conditions -------------------------------------------------------------------------
    def condition(self) -> Any:
        left = self.conjunction()
        while self.current.word("OR"):
            self.advance()
            left = Or(left, self.conjunction())
        return left

    def conjunction(self) -> Any:
        left = self.negation()
        while self.current.word("AND"):
            self.advance()
            left = And(left, self.negation())
        return left

    def negation(self) -> Any:
        if self.current.word("NOT"):
            self.advance()
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Any:
        if self.current.punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return Paren(inner)
        token = self.current
        if token.kind == "ident" and self.tokens[self.position + 1].punct("("):
            call = self.function()
            if call.name == "size":
                return self.comparison(call)
            return call
        return self.comparison(self.operand())

    def comparison(self, left: Any) -> Any:
        token = self.current
        if token.punct(*_COMPARATORS):
            self.advance()
            op = "<>" if token.text == "!=" else token.text
            return Compare(op, left, self.operand())
        if token.word("BETWEEN"):
            self.advance()
            low = self.operand()
            self.expect_word("AND")
            return Between(left, low, self.operand())
        if token.word("IN"):
            self.advance()
            closing = "]" if self.current.punct("[") else ")"
            if not self.current.punct("[", "("):
                raise self.unexpected()
            self.advance()
            options = [self.operand()]
            while self.current.punct(","):
                self.advance()
                options.append(self.operand())
            self.expect_punct(closing)
            return In(left, tuple(options))
        if token.word("IS"):
            self.advance()
            negated = self.current.word("NOT")
            if negated:
                self.advance()
            if not isinstance(left, Path):
                raise self.unexpected()
            if self.current.word("MISSING"):
                self.advance()
                return Call("attribute_exists" if negated else "attribute_not_exists", (left,))
            if self.current.word("NULL"):
                self.advance()
                # NULL covers missing attributes too in PartiQL (MISSING IS NULL is true).
                is_null = Or(Call("attribute_not_exists", (left,)),
                             Call("attribute_type", (left, Literal({"S": "NULL"}, ""))))
                return Not(Paren(is_null)) if negated else is_null
            raise self.unexpected()
        raise self.unexpected()

    def operand(self) -> Any:
        token = self.current
        if token.kind == "ident" and self.tokens[self.position + 1].punct("("):
            call = self.function()
            if call.name != "size":
                raise malformed(f"Unexpected function in an operand: {call.name}")
            return call
        if token.kind in ("ident", "quoted") and not token.word("TRUE", "FALSE", "NULL", "MISSING"):
            return self.path()
        return Literal(self.value(), "")

    def function(self) -> Call:
        name = self.advance().text.lower()
        self.expect_punct("(")
        if name not in ("begins_with", "contains", "attribute_type", "size", "exists"):
            raise malformed(f"Unknown function: {name}")
        args = [self.operand()]
        while self.current.punct(","):
            self.advance()
            args.append(self.operand())
        self.expect_punct(")")
        arity = 1 if name in ("size", "exists") else 2
        if len(args) != arity or not isinstance(args[0], Path):
            raise malformed(f"Invalid arguments to function {name}")
        if name == "exists":
            return Call("attribute_exists", (args[0],))
        return Call(name, tuple(args))

    # -- values -----------------------------------------------------------------------------
    def value(self) -> dict[str, Any]:
        token = self.advance()
        if token.punct("?"):
            if self.used >= len(self.parameters):
                raise validation("Number of parameters in request and statement don't match.")
            parameter = self.parameters[self.used]
            self.used += 1
            return parameter
        if token.kind == "string":
            return {"S": token.text[1:-1].replace("''", "'")}
        if token.kind == "number" or (token.punct("-", "+") and self.current.kind == "number"):
            text = token.text if token.kind == "number" else token.text + self.advance().text
            return ValueChecker().check({"N": text})
        if token.word("TRUE", "FALSE"):
            return {"BOOL": token.text.upper() == "TRUE"}
        if token.word("NULL"):
            return {"NULL": True}
        if token.punct("{"):
            members: dict[str, Any] = {}
            while not self.current.punct("}"):
                key = self.advance()
                if key.kind not in ("string", "quoted"):
                    raise malformed("Expected a string key in a tuple")
                self.expect_punct(":")
                members[key.text[1:-1]] = self.value()
                if not self.current.punct(","):
                    break
                self.advance()
            self.expect_punct("}")
            return {"M": members}
        if token.punct("["):
            elements: list[Any] = []
            while not self.current.punct("]"):
                elements.append(self.value())
                if not self.current.punct(","):
                    break
                self.advance()
            self.expect_punct("]")
            return {"L": elements}
        if token.punct("<<"):
            return self.set_literal()
        if token.kind != "eof":
            self.position -= 1  # report the token that is not a value
        raise self.unexpected()

    def set_literal(self) -> dict[str, Any]:
        members: list[dict[str, Any]] = []
        while not self.current.punct(">>"):
            members.append(self.value())
            if not self.current.punct(","):
                break
            self.advance()
        self.expect_punct(">>")
        kinds = {value_type(member) for member in members}
        if len(kinds) != 1 or next(iter(kinds)) not in ("S", "N", "B"):
            raise validation("Unsupported operation: sets must hold strings, numbers or binaries, all of one type")
        kind = next(iter(kinds))
        return ValueChecker().check({kind + "S": [member[kind] for member in members]})


_KEYWORDS = frozenset({
    "SELECT", "FROM", "WHERE", "INSERT", "INTO", "VALUE", "UPDATE", "SET", "REMOVE", "DELETE", "AND", "OR",
    "NOT", "BETWEEN", "IN", "IS", "MISSING", "NULL", "TRUE", "FALSE", "RETURNING",
})


def parse_statement(source: str, parameters: list[dict[str, Any]] | None) -> Statement:
    """A statement with its `?` parameters bound (validated AttributeValues, in order)."""
    checked = [ValueChecker().check(value) for value in parameters or []]
    return _Parser(tokenize(source), checked).statement()
