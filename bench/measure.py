"""What a workload returns: named metrics with units and the direction that is better."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Metric:
    name: str  # e.g. "ops/s", "p50", "startup median"
    value: float
    unit: str  # "ops/s", "ms", "s", "MiB"
    better: Better

    def formatted(self) -> str:
        if self.unit == "ops/s":
            return f"{self.value:,.0f} ops/s"
        if self.unit == "ms":
            return f"{self.value:.2f} ms"
        if self.unit == "s":
            return f"{self.value:.3f} s"
        if self.unit == "MiB":
            return f"{self.value:.1f} MiB"
        return f"{self.value:g} {self.unit}"


@dataclass
class Outcome:
    """One workload against one peer: its metrics, or why there are none."""

    workload: str
    peer: str
    metrics: list[Metric] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (fraction 0.5 = median, 0.99 = p99)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def ratio(ours: Metric, theirs: Metric) -> float:
    """freehold/peer as printed in the report (for ops/s above 1 is better, for times below 1)."""
    return ours.value / theirs.value if theirs.value else math.inf
