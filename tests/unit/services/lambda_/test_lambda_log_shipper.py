"""The log shipper: invocations' log text becomes PutLogEvents per stream, in time order,
grouped within the batch limit, with the group and stream made first."""

from __future__ import annotations

import threading
from typing import Any

from freehold.services.lambda_.logs import MERGE_BYTES, LogBatch, LogShipper, _merged


def batch(stream: str, text: str, at: int) -> LogBatch:
    return LogBatch("000000000000", "us-east-1", "/aws/lambda/f", stream, text, at)


def test_shipped_per_stream_in_time_order_after_flush() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def call(service: str, ctx: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        with lock:
            calls.append((operation, params))
        return {}

    shipper = LogShipper(call)
    shipper.ship(batch("s1", "START a\nEND a\n", 20))
    shipper.ship(batch("s2", "START b\n", 15))
    shipper.ship(batch("s1", "START c\n", 10))  # shipped later by another thread, earlier in time
    shipper.flush()
    shipper.stop()
    operations = [operation for operation, _ in calls]
    assert operations.count("CreateLogGroup") == 2 and operations.count("CreateLogStream") == 2
    puts = {params["logStreamName"]: params["logEvents"] for operation, params in calls if operation == "PutLogEvents"}
    assert puts["s1"] == [{"timestamp": 10, "message": "START c"}, {"timestamp": 20, "message": "START a"},
                          {"timestamp": 20, "message": "END a"}]
    assert puts["s2"] == [{"timestamp": 15, "message": "START b"}]


def test_merged_groups_stay_within_the_batch_limit() -> None:
    big = "x" * (MERGE_BYTES // 3)
    groups = _merged([batch("s", big, i) for i in range(7)] + [batch("t", "small", 1)])
    sizes = [[len(b.text) for b in group] for group in groups]
    assert all(sum(group) <= MERGE_BYTES for group in sizes)
    assert sum(len(group) for group in sizes) == 8
    assert [len(group) for group in groups] == [3, 3, 1, 1]


def test_many_lines_are_shipped_within_put_log_events_limits() -> None:
    """200 invocations of 100 lines each merge into one stream's 20,000 events, two of 750 KB
    of UTF-8 into 1.5 MB: more than one PutLogEvents takes (10,000 events and 1 MB of UTF-8
    plus 26 bytes each at most); a batch over a limit is refused whole, and every invocation's
    lines in it were lost."""
    from freehold.protocol.specs import service_model
    from freehold.protocol.validation import validate
    from freehold.services.logs.models import check_batch

    model = service_model("logs").operation_model("PutLogEvents")
    shipped: list[str] = []

    def call(service: str, ctx: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "PutLogEvents":
            validate("logs", model, params)  # what the in-process call checks first
            check_batch(params["logEvents"], 0, None)
            shipped.extend(event["message"] for event in params["logEvents"])
        return {}

    shipper = LogShipper(call)
    texts = ["".join(f"{i}-{n}\n" for n in range(100)) for i in range(200)]
    # Two invocations of 750 KB of UTF-8 each (250,000 characters): merged by characters, over 1 MB.
    texts += ["\u4e2d" * 125_000 + "\n" + "\u4e2d" * 125_000 + "\n"] * 2
    for i, text in enumerate(texts):
        shipper._put(batch("s", text, i))  # one at a time: no LINGER timing involved
    shipper._put([batch("s", text, i) for i, text in enumerate(texts)])  # merged, as the thread does
    expected = [line for text in texts for line in text.split("\n") if line]
    assert shipped == expected + expected
