"""What the edge and the coalition report about their work: counts, latencies and sizes.

The services record through the `Telemetry` port; `hashmatch.aws.telemetry` turns the records
into CloudWatch metrics (embedded metric format, through Powertools), `RecordedTelemetry` keeps
them in memory for tests and the local stack. Every metric and dimension is named here, so the
template's alarms and dashboard, the services and the tests use one vocabulary.

Dimensions have few values on purpose (CloudWatch bills each combination as a metric): a
platform, an action, a signal, a taxonomy label, a rejection reason, a stage. Never an item id or
an object key: which item matches an outsized share of checks is found from the logs (the
template's Contributor Insights rule over the `matched` log lines).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "GAUGES",
    "NO_TELEMETRY",
    "Metric",
    "RecordedTelemetry",
    "Telemetry",
    "Unit",
    "timed",
]


class Metric(StrEnum):
    """Every metric hashmatch emits; the template's alarms and dashboard name the same values."""

    # Dimensions: platform, verdict (match | clean | rejected | failed | expired).
    CHECKS = "Checks"
    # Dimensions: signal, label. One per label of each matched item ("unlabelled" when none).
    MATCHES = "Matches"
    # Dimensions: action, reason.
    REJECTIONS = "Rejections"
    # Dimensions: platform. Items stored or withdrawn.
    ITEMS_SHARED = "ItemsShared"
    ITEMS_WITHDRAWN = "ItemsWithdrawn"
    # Dimensions: action. Submissions answered with *.failed after every retry.
    FAILURES = "Failures"
    # Dimensions: stage (hash | candidates | match | store | publish).
    STAGE_LATENCY = "StageLatency"
    # No dimension: near-match entries the matcher holds, and a completed snapshot run.
    INDEX_ENTRIES = "IndexEntries"
    SNAPSHOT_RUNS = "SnapshotRuns"
    # Dimensions: action. Retried submissions answered from the answer stored the first time.
    REPUBLISHED = "Republished"


# Metrics that are a level, not a count of events: the last value recorded stands.
GAUGES = frozenset({Metric.INDEX_ENTRIES})


class Unit(StrEnum):
    COUNT = "Count"
    MILLISECONDS = "Milliseconds"


class Telemetry(Protocol):
    def record(self, metric: Metric, value: float, unit: Unit, dimensions: Mapping[str, str]) -> None:
        """Add one data point; never raises (telemetry must not fail the work it describes)."""
        ...


class _NoTelemetry:
    def record(self, metric: Metric, value: float, unit: Unit, dimensions: Mapping[str, str]) -> None:
        return None


NO_TELEMETRY: Telemetry = _NoTelemetry()


@dataclass(frozen=True)
class DataPoint:
    metric: Metric
    value: float
    unit: Unit
    dimensions: tuple[tuple[str, str], ...]


class RecordedTelemetry:
    """Data points kept in memory, in order: for tests, benchmarks and the local stack."""

    def __init__(self) -> None:
        self.points: list[DataPoint] = []

    def record(self, metric: Metric, value: float, unit: Unit, dimensions: Mapping[str, str]) -> None:
        self.points.append(DataPoint(metric, value, unit, tuple(sorted(dimensions.items()))))

    def total(self, metric: Metric, **dimensions: str) -> float:
        """The sum of `metric`'s points whose dimensions include every one given."""
        wanted = set(dimensions.items())
        return sum(p.value for p in self.points if p.metric is metric and wanted <= set(p.dimensions))

    def by(self, metric: Metric, dimension: str) -> Counter[str]:
        """`metric`'s sums per value of one dimension."""
        sums: Counter[str] = Counter()
        for point in self.points:
            if point.metric is metric:
                value = dict(point.dimensions).get(dimension)
                if value is not None:
                    sums[value] += int(point.value)
        return sums


@contextmanager
def timed(telemetry: Telemetry, stage: str) -> Iterator[None]:
    """Record the block's wall time as `StageLatency` of `stage` (also when the block raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = (time.perf_counter() - started) * 1000.0
        telemetry.record(Metric.STAGE_LATENCY, round(elapsed, 3), Unit.MILLISECONDS, {"stage": stage})
