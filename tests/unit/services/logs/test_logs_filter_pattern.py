"""The filter pattern language, without a server: terms, JSON and space-delimited patterns."""

from __future__ import annotations

import json

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.logs.filter_pattern import compile_pattern, message_fields

ACCESS = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534'
DOC = json.dumps({"eventType": "UpdateTrail", "latency": 1500, "ok": False, "none": None,
                  "user": {"name": "ann", "roles": ["admin", "dev"]}, "ip": "123.123.1.9"})


@pytest.mark.parametrize(("pattern", "message", "expected"), [
    ("", "anything", True),
    ("ERROR", "[ERROR 400] BAD REQUEST", True),
    ("ERROR", "[error 400]", False),
    ("ERROR BAD", "[ERROR 400] BAD REQUEST", True),
    ("ERROR GOOD", "[ERROR 400] BAD REQUEST", False),
    ("ERROR -BAD", "[ERROR 400] BAD REQUEST", False),
    ("-BAD", "[INFO] fine", True),
    ("?ERROR ?WARN", "[WARN] x", True),
    ("?ERROR ?WARN", "[INFO] x", False),
    ('"BAD REQUEST"', "[ERROR 400] BAD REQUEST", True),
    ('"REQUEST BAD"', "[ERROR 400] BAD REQUEST", False),
    ('"say \\"hi\\""', 'they say "hi"', True),
    ("%ERR[O]R [0-9]+%", "[ERROR 400] BAD REQUEST", True),
    ("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", True),
])
def test_terms(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ('{ $.eventType = "UpdateTrail" }', True),
    ("{ $.eventType = Update* }", True),
    ("{ $.eventType != UpdateTrail }", False),
    ("{ $.latency > 1000 && $.ok IS FALSE }", True),
    ("{ $.latency < 1000 || $.user.name = ann }", True),
    ("{ ($.latency < 1000 || $.user.name = bob) && $.ok IS FALSE }", False),
    ("{ $.user.roles[1] = dev }", True),
    ("{ $.user.roles[5] = dev }", False),
    ("{ $.none IS NULL }", True),
    ("{ $.missing NOT EXISTS }", True),
    ("{ $.user EXISTS }", True),
    ("{ $.ip = %123\\.123\\.[0-9]+\\.9% }", True),
    ("{ $.latency = 1500 }", True),
    ("{ $.latency = 1500.0 }", True),
    ("{ $.missing != x }", False),
])
def test_json(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(DOC) is expected


def test_json_pattern_never_matches_plain_text() -> None:
    assert compile_pattern("{ $.a = 1 }").matches("a = 1") is False
    assert compile_pattern("{ $.a = 1 }").matches("[1, 2]") is False


@pytest.mark.parametrize(("pattern", "expected"), [
    ("[ip, user, username, timestamp, request, status_code, bytes]", True),
    ("[ip, user, username, timestamp, request, status_code]", False),
    ('[ip, user, username, timestamp, request = "*gif*", status_code = 2*, bytes > 1000]', True),
    ("[ip, user, username, timestamp, request, status_code = 4* || status_code = 5*, bytes]", False),
    ("[ip, user, username = frank && username != bob, ...]", True),
    ("[..., status_code = 200, bytes]", True),
    ("[ip = 127.*, ...]", True),
    ("[ip != 127.0.0.1, ...]", False),
])
def test_space_delimited(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(ACCESS) is expected


def test_message_fields_keep_quoted_and_bracketed_text_whole() -> None:
    assert message_fields(ACCESS) == [
        "127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /apache_pb.gif HTTP/1.0", "200", "1534",
    ]


def test_required_substrings_prefilter_only_plain_conjunctions() -> None:
    assert compile_pattern('ERROR "db down" -retry').required_substrings == ("ERROR", "db down")
    assert compile_pattern("?ERROR ?WARN").required_substrings == ()
    assert compile_pattern("{ $.a = 1 }").required_substrings == ()


@pytest.mark.parametrize("pattern", [
    "{ $.a = }", "{ $.a > abc }", "{ a = 1 }", "{ $.a = 1", "[a, b", "[a, , b]", "%(x)%",
    "{ $.a IS MAYBE }",
])
def test_malformed_patterns_are_invalid_parameter(pattern: str) -> None:
    with pytest.raises(ServiceError) as exc:
        compile_pattern(pattern)
    assert exc.value.code == "InvalidParameterException"


def test_deeply_nested_json_pattern_is_invalid_not_a_crash() -> None:
    with pytest.raises(ServiceError) as exc:
        compile_pattern("{" + "(" * 500 + "$.a = 1" + ")" * 500 + "}")
    assert exc.value.code == "InvalidParameterException"
    assert "nested too deeply" in exc.value.message
    # Nesting within the bound still compiles and matches.
    pattern = compile_pattern("{" + "(" * 50 + "$.a = 1" + ")" * 50 + "}")
    assert pattern.matches(json.dumps({"a": 1})) and not pattern.matches(json.dumps({"a": 2}))
