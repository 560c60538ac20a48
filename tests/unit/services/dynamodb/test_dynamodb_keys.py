"""Key encodings sort bytes in DynamoDB's order, for numbers of any sign and magnitude."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from freehold.services.dynamodb.keys import encode_number, segment_range
from freehold.services.dynamodb.types import format_number

numbers = st.decimals(min_value=Decimal("-1e30"), max_value=Decimal("1e30"), allow_nan=False, allow_infinity=False, places=None)


@settings(max_examples=300)
@given(numbers, numbers)
def test_number_encoding_preserves_order(a: Decimal, b: Decimal) -> None:
    ea, eb = encode_number(format_number(a)), encode_number(format_number(b))
    assert (ea < eb) == (a < b)
    assert (ea == eb) == (a == b)


def test_number_encoding_edges() -> None:
    ordered = ["-1e125", "-10", "-9.5", "-1.23", "-1.2", "-1", "-0.001", "0", "1e-130", "0.001", "1", "1.2", "1.23", "9.5", "10", "9.9e125"]
    encoded = [encode_number(n) for n in ordered]
    assert encoded == sorted(encoded)
    assert encode_number("1.50") == encode_number("1.5") == encode_number("15e-1")


def test_segments_cover_the_hash_space_without_overlap() -> None:
    for total in (1, 3, 7, 1000):
        ranges = [segment_range(s, total) for s in range(total)]
        assert ranges[0][0] == 0 and ranges[-1][1] == 1 << 32
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
