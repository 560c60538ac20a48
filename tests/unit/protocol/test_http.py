"""Headers: case-insensitive lookups through an index that every change keeps true."""

from __future__ import annotations

from freehold.protocol.http import Headers


def test_set_add_remove_keep_lookups_true() -> None:
    headers = Headers([("Content-Type", "a"), ("X-Two", "1"), ("x-two", "2")])
    assert headers.get("content-type") == "a" and headers.get("X-TWO") == "1"
    headers.set("Content-Length", "5")  # a new name
    assert headers.get("content-length") == "5" and "CONTENT-LENGTH" in headers
    headers.set("x-two", "3")  # replaces every value of the name
    assert headers.get_all("X-Two") == ["3"] and headers.get("x-two") == "3"
    headers.add("X-Two", "4")
    assert headers.get_all("x-two") == ["3", "4"] and headers.get("x-two") == "3"
    headers.remove("CONTENT-TYPE")
    assert headers.get("content-type") is None and "content-type" not in headers
    assert headers.items() == [("Content-Length", "5"), ("x-two", "3"), ("X-Two", "4")]


def test_lowercase_headers_index_first_values() -> None:
    headers = Headers.lowercase([("host", "h"), ("x-a", "1"), ("x-a", "2")])
    assert headers.get("Host") == "h" and headers.get("X-A") == "1" and headers.get_all("x-a") == ["1", "2"]
    headers.set("Content-Length", "0")
    assert headers.get("content-length") == "0" and len(headers) == 4
