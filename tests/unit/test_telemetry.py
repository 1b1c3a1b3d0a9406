"""What the services report: checks by verdict, matches by signal and label, rejections by reason,
stage latencies; and how the CloudWatch adapter writes them (embedded metric format)."""

from __future__ import annotations

import json
import logging

import pytest

from hashmatch.aws.telemetry import CloudWatchTelemetry
from hashmatch.service.telemetry import Metric, RecordedTelemetry, Unit
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook")


def test_the_pipeline_counts_verdicts_matches_rejections_and_times_each_stage() -> None:
    telemetry = RecordedTelemetry()
    store, notifier = MemoryStore(), RecordingNotifier()
    pipeline = service_on(MemoryBank(), store, notifier, PLATFORMS, telemetry=telemetry)
    shared = scene(3)
    pipeline.process(store.put("in", "share/tiktok/a.jpg", jpeg_bytes(shared), {"labels": "terrorism,gore"}))

    pipeline.process(store.put("in", "check/facebook/copy.jpg", jpeg_bytes(shared, quality=50)))
    pipeline.process(store.put("in", "check/facebook/other.jpg", jpeg_bytes(scene(9))))
    pipeline.process(store.put("in", "check/facebook/empty.jpg", b""))

    assert telemetry.by(Metric.CHECKS, "verdict") == {"match": 1, "clean": 1, "rejected": 1}
    assert telemetry.total(Metric.CHECKS, platform="facebook") == 3
    labels = telemetry.by(Metric.MATCHES, "label")
    # Counted under taxonomy ids ("gore" and "terrorism" are aliases).
    assert set(labels) == {"graphic-violence", "violent-extremism"} and labels["graphic-violence"] >= 1
    assert set(telemetry.by(Metric.MATCHES, "signal")) <= {"pdq", "phash", "sha256", "md5"}
    assert telemetry.by(Metric.REJECTIONS, "reason") == {"empty": 1}
    assert telemetry.total(Metric.ITEMS_SHARED, platform="tiktok") == 1
    stages = {dict(p.dimensions)["stage"] for p in telemetry.points if p.metric is Metric.STAGE_LATENCY}
    assert stages == {"hash", "candidates", "match", "store", "publish"}


def test_a_check_list_counts_its_entries_once(tmp_path) -> None:
    from hashmatch.media.codec import hashes_to_json
    from hashmatch.media.hashing import hash_file

    telemetry = RecordedTelemetry()
    store, notifier = MemoryStore(), RecordingNotifier()
    pipeline = service_on(MemoryBank(), store, notifier, PLATFORMS, telemetry=telemetry)
    shared = jpeg_bytes(scene(4))
    pipeline.process(store.put("in", "share/tiktok/a.jpg", shared))
    lines = []
    for number, body in enumerate((shared, jpeg_bytes(scene(5)))):
        path = tmp_path / f"{number}.jpg"
        path.write_bytes(body)
        lines.append(json.dumps(hashes_to_json(hash_file(path))))
    lines.append("not json")
    pipeline.process(store.put("in", "check/facebook/list.jsonl", ("\n".join(lines) + "\n").encode()))

    assert telemetry.by(Metric.CHECKS, "verdict") == {"match": 1, "clean": 1, "rejected": 1}


def test_cloudwatch_telemetry_writes_one_blob_per_dimension_set(capsys, monkeypatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    telemetry = CloudWatchTelemetry(namespace="hashmatch-test")
    for _ in range(3):
        telemetry.record(Metric.CHECKS, 1, Unit.COUNT, {"platform": "tiktok", "verdict": "clean"})
    telemetry.record(Metric.CHECKS, 2, Unit.COUNT, {"platform": "tiktok", "verdict": "match"})
    telemetry.record(Metric.STAGE_LATENCY, 12.5, Unit.MILLISECONDS, {"stage": "match"})
    telemetry.record(Metric.STAGE_LATENCY, 20.0, Unit.MILLISECONDS, {"stage": "match"})
    telemetry.record(Metric.INDEX_ENTRIES, 10, Unit.COUNT, {})
    telemetry.record(Metric.INDEX_ENTRIES, 12, Unit.COUNT, {})
    capsys.readouterr()

    telemetry.flush()

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(blobs) == 4
    by_dimensions = {}
    for blob in blobs:
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "hashmatch-test"
        names = tuple(sorted(d for d in directive["Dimensions"][0] if d != "service"))
        by_dimensions[tuple((n, blob[n]) for n in names)] = blob
    assert by_dimensions[(("platform", "tiktok"), ("verdict", "clean"))]["Checks"] in (3.0, [3.0])
    assert by_dimensions[(("platform", "tiktok"), ("verdict", "match"))]["Checks"] in (2.0, [2.0])
    assert by_dimensions[(("stage", "match"),)]["StageLatency"] == [12.5, 20.0]
    assert by_dimensions[()]["IndexEntries"] in (12.0, [12.0])  # a gauge: the last value, not the sum

    telemetry.flush()
    assert capsys.readouterr().out == ""  # flushed points are gone


def test_package_loggers_write_json_with_the_records_correlation_keys() -> None:
    from hashmatch.aws.entrypoint import logger

    handler = logger.registered_handler
    logger.set_correlation_id("message-1")
    logger.append_keys(key="check/tiktok/a b.jpg")
    try:
        record = logging.getLogger("hashmatch.edge.ingest").makeRecord(
            "hashmatch.edge.ingest", logging.INFO, __file__, 1, "hashed", None, None, extra={"outcome": "processed"}
        )
        line = json.loads(handler.format(record))
    finally:
        logger.remove_keys(["key"])
        logger.set_correlation_id(None)
    assert line["correlation_id"] == "message-1"
    assert line["key"] == "check/tiktok/a b.jpg"
    assert line["outcome"] == "processed"
    assert handler in logging.getLogger("hashmatch").handlers  # the package's loggers propagate to it
