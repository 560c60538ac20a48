"""Input checks IAM makes itself, with the messages AWS gives for them.

IAM is a "coral" query service: a constraint violation is a 400 `ValidationError` whose
message reads "1 validation error detected: Value 'x' at 'userName' failed to satisfy
constraint: Member must ..." (several violations: "2 validation errors detected: ...; ...").
The member path is the lowerCamelCase name of the request member.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from freehold.protocol.errors import ServiceError

# Java regexes as AWS writes them in the model; `\w` there is ASCII-only.
NAME_PATTERN = r"[\w+=,.@-]+"
SESSION_NAME_PATTERN = r"[\w+=,.@-]*"
TAG_KEY_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+"
TAG_VALUE_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"

_NAME_RE = re.compile(r"[\w+=,.@-]+", re.ASCII)
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]*", re.ASCII)
# \p{L}\p{Z}\p{N}: letters, separators, numbers (Unicode) - Python's \w minus '_' covers
# letters and digits; separators are spaces.
_TAG_CHARS_RE = re.compile(r"[^\W_]|[\s_.:/=+\-@]")
# Paths: "/" or "/" + printable ASCII + "/".
_PATH_RE = re.compile(r"/|/[\u0021-\u007E]+/")
_PATH_PREFIX_RE = re.compile(r"/[\u0021-\u007F]*")


def validation_error(problems: Sequence[str]) -> ServiceError:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return ServiceError("ValidationError", f"{count} validation {noun} detected: " + "; ".join(problems))


def _describe(value: Any) -> str:
    return f"Value '{value}' at"


class Checks:
    """Collects constraint violations of one request and raises them together."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, value: Any, member: str, constraint: str) -> None:
        self.problems.append(f"{_describe(value)} '{member}' failed to satisfy constraint: {constraint}")

    def length(self, value: str | None, member: str, low: int, high: int) -> bool:
        if value is None:
            return True
        if len(value) < low:
            self.fail(value, member, f"Member must have length greater than or equal to {low}")
            return False
        if len(value) > high:
            self.fail(value, member, f"Member must have length less than or equal to {high}")
            return False
        return True

    def pattern(self, value: str | None, member: str, regex: re.Pattern[str], shown: str) -> None:
        if value is not None and regex.fullmatch(value) is None:
            self.fail(value, member, f"Member must satisfy regular expression pattern: {shown}")

    def name(self, value: str | None, member: str, high: int = 64) -> None:
        if self.length(value, member, 1, high):
            self.pattern(value, member, _NAME_RE, NAME_PATTERN)

    def session_name(self, value: str | None, member: str, high: int = 64) -> None:
        if self.length(value, member, 2, high):
            self.pattern(value, member, _SESSION_NAME_RE, SESSION_NAME_PATTERN)

    def number(self, value: int | None, member: str, low: int, high: int) -> None:
        if value is None:
            return
        if value < low:
            self.fail(value, member, f"Member must have value greater than or equal to {low}")
        elif value > high:
            self.fail(value, member, f"Member must have value less than or equal to {high}")

    def raise_if_any(self) -> None:
        if self.problems:
            raise validation_error(self.problems)


def check_name(value: str | None, member: str, high: int = 64) -> None:
    checks = Checks()
    checks.name(value, member, high)
    checks.raise_if_any()


def check_path(path: str | None, member: str = "path") -> str:
    """An entity path: '/' by default; AWS's own message when it is malformed."""
    if path is None:
        return "/"
    checks = Checks()
    if checks.length(path, member, 1, 512) and _PATH_RE.fullmatch(path) is None:
        raise ServiceError(
            "ValidationError",
            "The specified value for path is invalid. It must begin and end with / and contain "
            "only alphanumeric characters and/or / characters.",
        )
    checks.raise_if_any()
    return path


def check_path_prefix(prefix: str | None, member: str = "pathPrefix") -> str:
    if prefix is None:
        return "/"
    checks = Checks()
    if checks.length(prefix, member, 1, 512):
        checks.pattern(prefix, member, _PATH_PREFIX_RE, r"\u002F[\u0021-\u007F]*")
    checks.raise_if_any()
    return prefix


def check_max_items(max_items: int | None) -> int:
    """MaxItems: 1..1000, default 100 (AWS's documented default)."""
    if max_items is None:
        return 100
    checks = Checks()
    checks.number(max_items, "maxItems", 1, 1000)
    checks.raise_if_any()
    return max_items


def _tag_chars_ok(text: str) -> bool:
    return all(_TAG_CHARS_RE.fullmatch(ch) for ch in text)


def check_tags(tags: list[dict[str, Any]] | None, member: str = "tags") -> list[dict[str, str]]:
    """Tags of a Create*/Tag* request: lengths, characters, at most 50, no duplicate keys.

    Duplicate keys (compared case-insensitively, as IAM does) are InvalidInput.
    """
    if not tags:
        return []
    checks = Checks()
    if len(tags) > 50:
        checks.fail(tags, member, "Member must have length less than or equal to 50")
    seen: set[str] = set()
    clean: list[dict[str, str]] = []
    for tag in tags:
        key = str(tag.get("Key", ""))
        value = str(tag.get("Value", ""))
        if checks.length(key, f"{member}.{len(clean) + 1}.member.key", 1, 128) and not _tag_chars_ok(key):
            checks.fail(
                key, f"{member}.{len(clean) + 1}.member.key",
                f"Member must satisfy regular expression pattern: {TAG_KEY_PATTERN}",
            )
        if checks.length(value, f"{member}.{len(clean) + 1}.member.value", 0, 256) and not _tag_chars_ok(value):
            checks.fail(
                value, f"{member}.{len(clean) + 1}.member.value",
                f"Member must satisfy regular expression pattern: {TAG_VALUE_PATTERN}",
            )
        if key.lower() in seen:
            checks.raise_if_any()
            raise ServiceError(
                "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        seen.add(key.lower())
        clean.append({"Key": key, "Value": value})
    checks.raise_if_any()
    return clean


def check_tag_keys(keys: list[str], member: str = "tagKeys") -> list[str]:
    checks = Checks()
    if len(keys) > 50:
        checks.fail(keys, member, "Member must have length less than or equal to 50")
    for index, key in enumerate(keys, start=1):
        if checks.length(key, f"{member}.{index}.member", 1, 128) and not _tag_chars_ok(key):
            checks.fail(
                key, f"{member}.{index}.member",
                f"Member must satisfy regular expression pattern: {TAG_KEY_PATTERN}",
            )
    checks.raise_if_any()
    return keys
