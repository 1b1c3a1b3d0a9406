"""`Telemetry` as CloudWatch metrics: Powertools' embedded metric format, one blob per dimension set.

Data points are kept per invocation and written by `flush()` at its end: counts of one metric and
dimension set are summed, a gauge keeps its last value, latencies are kept as a list of values
(so CloudWatch's statistics, p50/p99 among them, see each one). A check therefore costs a few
log lines, not one per data point.
`POWERTOOLS_METRICS_DISABLED=true` turns the output off (the local stack does, so its console
stays readable).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Mapping

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from hashmatch.service.telemetry import GAUGES, Metric, Unit

__all__ = ["NAMESPACE", "CloudWatchTelemetry"]

logger = logging.getLogger(__name__)

NAMESPACE = "hashmatch"
# EMF allows 100 values per metric in one blob.
_MAX_VALUES = 100

_Key = tuple[tuple[str, str], ...]


class CloudWatchTelemetry:
    """Collects data points; `flush()` prints them as embedded-metric-format JSON to stdout."""

    def __init__(self, namespace: str = NAMESPACE, service: str = "hashmatch") -> None:
        self._namespace = namespace
        self._service = service
        self._lock = threading.Lock()
        self._counts: dict[_Key, dict[Metric, float]] = defaultdict(lambda: defaultdict(float))
        self._samples: dict[_Key, dict[Metric, list[float]]] = defaultdict(lambda: defaultdict(list))

    def record(self, metric: Metric, value: float, unit: Unit, dimensions: Mapping[str, str]) -> None:
        key = tuple(sorted((name, str(v)[:250]) for name, v in dimensions.items()))
        with self._lock:
            if metric in GAUGES:
                self._counts[key][metric] = value
            elif unit is Unit.COUNT:
                self._counts[key][metric] += value
            else:
                samples = self._samples[key][metric]
                if len(samples) < _MAX_VALUES:
                    samples.append(value)

    def flush(self) -> None:
        """Write what was recorded since the last flush; a failure to write is logged, never raised."""
        with self._lock:
            counts, self._counts = self._counts, defaultdict(lambda: defaultdict(float))
            samples, self._samples = self._samples, defaultdict(lambda: defaultdict(list))
        for key in set(counts) | set(samples):
            blob = EphemeralMetrics(namespace=self._namespace, service=self._service)
            try:
                for name, dimension in key:
                    blob.add_dimension(name=name, value=dimension)
                for metric, total in counts.get(key, {}).items():
                    blob.add_metric(name=metric.value, unit=MetricUnit.Count, value=total)
                for metric, values in samples.get(key, {}).items():
                    for sample in values:
                        blob.add_metric(name=metric.value, unit=MetricUnit.Milliseconds, value=sample)
                blob.flush_metrics()
            except Exception:
                logger.exception("metrics could not be written", extra={"dimensions": dict(key)})
