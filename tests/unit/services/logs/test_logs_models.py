"""PutLogEvents' batch rules, without a server."""

from __future__ import annotations

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.logs.models import DAY_MS, HOUR_MS, check_batch, parse_group_arn
from freehold.services.logs.tokens import event_token, parse_event_token

NOW = 1_700_000_000_000


def events(*stamps: int) -> list[dict[str, object]]:
    return [{"timestamp": stamp, "message": f"m{i}"} for i, stamp in enumerate(stamps)]


def test_rejections_are_index_ranges() -> None:
    batch = check_batch(events(NOW - 15 * DAY_MS, NOW - 3 * DAY_MS, NOW, NOW + 3 * HOUR_MS, NOW + 4 * HOUR_MS), NOW, 1)
    assert batch.rejected == {"tooOldLogEventEndIndex": 1, "expiredLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}
    assert [event[1] for event in batch.accepted] == ["m2"]


def test_span_counts_only_accepted_events() -> None:
    # 15 days apart, but the old one is rejected, so the accepted span is fine.
    assert len(check_batch(events(NOW - 15 * DAY_MS, NOW), NOW, None).accepted) == 1
    with pytest.raises(ServiceError):
        check_batch(events(NOW - 25 * HOUR_MS, NOW), NOW, None)


def test_sizes_count_utf8_bytes_plus_26() -> None:
    batch = check_batch([{"timestamp": NOW, "message": "é"}], NOW, None)
    assert batch.accepted == [(NOW, "é", 2 + 26)]
    with pytest.raises(ServiceError) as exc:
        check_batch([{"timestamp": NOW, "message": "x" * (1_048_576 - 25)}], NOW, None)
    assert exc.value.message == "Log event too large: 1048577 bytes exceeds limit of 1048576"


def test_event_tokens_round_trip() -> None:
    token = event_token(True, NOW, 42)
    assert token.startswith("f/") and token.endswith("/s") and len(token) == 60
    assert parse_event_token(token) == (True, NOW, 42)
    assert parse_event_token(event_token(False, 0, 0)) == (False, 0, 0)
    with pytest.raises(ServiceError):
        parse_event_token("x/123/s")


def test_group_arns() -> None:
    assert parse_group_arn("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*") == (
        "us-east-1", "123456789012", "/aws/lambda/f")
    assert parse_group_arn("arn:aws:logs:us-east-1:123456789012:log-group:g") == ("us-east-1", "123456789012", "g")
    assert parse_group_arn("arn:aws:s3:::bucket") is None
