"""Recursive-descent parsers for DynamoDB's expressions, with DynamoDB's syntax errors.

Grammars (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.html):

  condition  := or ; or := and (OR and)* ; and := not (AND not)* ; not := NOT not | primary
  primary    := '(' condition ')' | function '(' args ')' | operand comparator operand
              | operand BETWEEN operand AND operand | operand IN '(' operand (',' operand)* ')'
  operand    := path | :value | size '(' path ')'
  update     := (SET set (',' set)* | REMOVE path (',' path)* | ADD path :v (',' ...)*
                 | DELETE path :v (',' ...)*)+        each section at most once
  set        := path '=' value ; value := term (('+'|'-') term)?
  term       := path | :value | if_not_exists '(' path ',' term ')' | list_append '(' term ',' term ')'
  projection := path (',' path)*
  path       := (ident | #name) ('.' (ident | #name) | '[' number ']')*

Every error is a ValidationException "Invalid <Kind>Expression: ..." with DynamoDB's wording.
"""

from __future__ import annotations

from typing import Any, NoReturn

from freehold.protocol.errors import ServiceError
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
    NameRef,
    Not,
    Or,
    Paren,
    Path,
    Projection,
    RemoveAction,
    SetAction,
    Update,
    ValueRef,
)
from freehold.services.dynamodb.expressions.lexer import Token, tokenize

COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")
CONDITION_FUNCTIONS = {
    "attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2, "begins_with": 2, "contains": 2,
}
UPDATE_FUNCTIONS = {"if_not_exists": 2, "list_append": 2}
MAX_LIST_INDEX = 2**31 - 1
# DynamoDB's documented expression limits: 4 KB per expression string, 300 operators or
# functions per expression. Nesting is bounded too (this parser and the tree walkers after it
# recurse once or more per level; unbounded depth would overflow Python's stack).
MAX_EXPRESSION_BYTES = 4096
MAX_OPERATORS = 300
MAX_NESTING = 50
_COUNTED_WORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})


def expression_error(kind: str, detail: str) -> ServiceError:
    return validation(f"Invalid {kind}: {detail}")


class Parser:
    """One expression's tokens and a cursor; `kind` names it in errors (ConditionExpression...)."""

    def __init__(self, source: str, kind: str) -> None:
        self.source = source
        self.kind = kind
        if not source.strip():
            raise expression_error(kind, "The expression can not be empty;")
        size = len(source.encode("utf-8", errors="replace"))
        if size > MAX_EXPRESSION_BYTES:
            raise expression_error(kind, f"Expression size has exceeded the maximum allowed size; expression size: {size}")
        self.tokens = tokenize(source)
        self.index = 0
        self.check_limits()

    def check_limits(self) -> None:
        """Operators/functions and parenthesis nesting, counted on the tokens before parsing."""
        operators = depth = deepest = 0
        in_between = False
        tokens = self.tokens
        for position, token in enumerate(tokens):
            if token.kind == "punct":
                if token.text == "(":
                    depth += 1
                    deepest = max(deepest, depth)
                elif token.text == ")":
                    depth = max(depth - 1, 0)
                elif token.text in COMPARATORS:
                    # `SET a = v` assigns; only a condition's `=` compares.
                    operators += self.kind != "UpdateExpression" or token.text != "="
                elif token.text in ("+", "-"):
                    operators += 1
            elif token.kind == "ident":
                word = token.text.upper()
                if word == "AND" and in_between:
                    in_between = False  # the AND of `BETWEEN low AND high` is part of BETWEEN
                elif word in _COUNTED_WORDS and self.kind != "UpdateExpression":
                    operators += 1
                    in_between = in_between or word == "BETWEEN"
                elif tokens[position + 1].is_punct("("):
                    operators += 1  # a function call
        if operators > MAX_OPERATORS:
            self.fail(f"The expression contains too many operators; operator count: {operators}")
        if deepest > MAX_NESTING:
            self.fail(f"The expression has too many nested parentheses; nesting depth: {deepest}")

    # -- cursor ---------------------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def fail(self, detail: str) -> NoReturn:
        raise expression_error(self.kind, detail)

    def syntax_error(self) -> NoReturn:
        token = self.token
        start = self.tokens[self.index - 1].start if self.index > 0 else token.start
        after = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else token
        end = after.end if token.kind != "eof" else token.end
        self.fail(f'Syntax error; token: "{token.shown}", near: "{self.source[start:end]}"')

    def expect_punct(self, text: str) -> Token:
        if not self.token.is_punct(text):
            self.syntax_error()
        return self.advance()

    def expect_end(self) -> None:
        if self.token.kind != "eof":
            self.syntax_error()

    def at_keyword(self, word: str) -> bool:
        return self.token.is_keyword(word)

    # -- paths and operands -------------------------------------------------------------
    def path(self) -> Path:
        elements: list[Any] = [self.name_element()]
        while True:
            if self.token.is_punct("."):
                self.advance()
                elements.append(self.name_element())
            elif self.token.is_punct("["):
                self.advance()
                if self.token.kind != "number":
                    self.syntax_error()
                number = self.advance()
                index = int(number.text)
                if index > MAX_LIST_INDEX:
                    self.fail(f"List index is not within the allowable range; index: [{number.text}]")
                elements.append(index)
                self.expect_punct("]")
            else:
                return Path(tuple(elements))

    def name_element(self) -> Any:
        token = self.token
        if token.kind == "name":
            self.advance()
            return NameRef(token.text)
        if token.kind == "ident" and token.text.upper() not in _GRAMMAR_WORDS:
            self.advance()
            return token.text
        self.syntax_error()

    def operand(self, functions: dict[str, int]) -> Any:
        token = self.token
        if token.kind == "value":
            self.advance()
            return ValueRef(token.text)
        if token.kind == "ident" and self.tokens[self.index + 1].is_punct("("):
            return self.call(functions)
        if token.kind in ("ident", "name"):
            return self.path()
        self.syntax_error()

    def call(self, functions: dict[str, int]) -> Call:
        name_token = self.advance()
        name = name_token.text
        if name not in functions:
            self.fail(f"Invalid function name; function: {name}")
        self.expect_punct("(")
        args: list[Any] = []
        if not self.token.is_punct(")"):
            args.append(self.function_argument(functions))
            while self.token.is_punct(","):
                self.advance()
                args.append(self.function_argument(functions))
        self.expect_punct(")")
        if len(args) != functions[name]:
            self.fail(
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(args)}"
            )
        return Call(name, tuple(args))

    def function_argument(self, functions: dict[str, int]) -> Any:
        if functions is UPDATE_FUNCTIONS:
            return self.update_term()
        return self.operand(CONDITION_OPERAND_FUNCTIONS)

    # -- conditions ---------------------------------------------------------------------
    def condition(self) -> Any:
        node = self.conjunction()
        while self.at_keyword("OR"):
            self.advance()
            node = Or(node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.negation()
        while self.at_keyword("AND"):
            self.advance()
            node = And(node, self.negation())
        return node

    def negation(self) -> Any:
        if self.at_keyword("NOT"):
            self.advance()
            return Not(self.negation())
        return self.primary()

    def primary(self) -> Any:
        token = self.token
        if token.is_punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            if isinstance(inner, Paren):
                self.fail("The expression has redundant parentheses;")
            return Paren(inner)
        if token.kind == "ident" and self.tokens[self.index + 1].is_punct("(") and token.text in CONDITION_FUNCTIONS:
            call = self.call(ALL_CONDITION_FUNCTIONS)
            return call
        left = self.operand(CONDITION_OPERAND_FUNCTIONS)
        if self.token.kind == "punct" and self.token.text in COMPARATORS:
            op = self.advance().text
            right = self.operand(CONDITION_OPERAND_FUNCTIONS)
            return Compare(op, left, right)
        if self.at_keyword("BETWEEN"):
            self.advance()
            low = self.operand(CONDITION_OPERAND_FUNCTIONS)
            if not self.at_keyword("AND"):
                self.syntax_error()
            self.advance()
            high = self.operand(CONDITION_OPERAND_FUNCTIONS)
            return Between(left, low, high)
        if self.at_keyword("IN"):
            self.advance()
            self.expect_punct("(")
            options = [self.operand(CONDITION_OPERAND_FUNCTIONS)]
            while self.token.is_punct(","):
                self.advance()
                options.append(self.operand(CONDITION_OPERAND_FUNCTIONS))
            self.expect_punct(")")
            return In(left, tuple(options))
        if isinstance(left, Call):
            self.fail(f"The function is not allowed to be used this way in an expression; function: {left.name}")
        self.syntax_error()

    # -- updates ------------------------------------------------------------------------
    def update(self) -> Update:
        actions: list[Any] = []
        seen: set[str] = set()
        while True:
            token = self.token
            word = token.text.upper() if token.kind == "ident" else ""
            if word not in ("SET", "REMOVE", "ADD", "DELETE"):
                if actions and token.kind == "eof":
                    return Update(tuple(actions))
                self.syntax_error()
            if word in seen:
                self.fail(f'The "{word}" section can only be used once in an update expression;')
            seen.add(word)
            self.advance()
            actions.append(self.update_action(word))
            while self.token.is_punct(","):
                self.advance()
                actions.append(self.update_action(word))

    def update_action(self, word: str) -> Any:
        path = self.path()
        if word == "SET":
            self.expect_punct("=")
            value = self.update_term()
            if self.token.is_punct("+") or self.token.is_punct("-"):
                op = self.advance().text
                value = Arithmetic(op, value, self.update_term())
            return SetAction(path, value)
        if word == "REMOVE":
            return RemoveAction(path)
        if self.token.kind != "value":
            self.syntax_error()
        value = ValueRef(self.advance().text)
        return AddAction(path, value) if word == "ADD" else DeleteAction(path, value)

    def update_term(self) -> Any:
        token = self.token
        if token.kind == "value":
            self.advance()
            return ValueRef(token.text)
        if token.kind == "ident" and self.tokens[self.index + 1].is_punct("("):
            return self.call(UPDATE_FUNCTIONS)
        if token.kind in ("ident", "name"):
            return self.path()
        self.syntax_error()

    # -- projections -------------------------------------------------------------------
    def projection(self) -> Projection:
        paths = [self.path()]
        while self.token.is_punct(","):
            self.advance()
            paths.append(self.path())
        self.expect_end()
        return Projection(tuple(paths))


# Words the grammar itself uses; they cannot be bare attribute names.
_GRAMMAR_WORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
CONDITION_OPERAND_FUNCTIONS = {"size": 1}
ALL_CONDITION_FUNCTIONS = {**CONDITION_FUNCTIONS, "size": 1}


def parse_condition(source: str, kind: str = "ConditionExpression") -> Any:
    parser = Parser(source, kind)
    node = parser.condition()
    parser.expect_end()
    return node


def parse_update(source: str) -> Update:
    parser = Parser(source, "UpdateExpression")
    return parser.update()


def parse_projection(source: str) -> Projection:
    return Parser(source, "ProjectionExpression").projection()
