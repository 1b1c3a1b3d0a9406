"""A share's retroactive scan fanned out over worker invocations (moto): the same matches as one
process finds, each check once, whatever a compaction does meanwhile; a failed slice fails the scan."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hashmatch.aws import retro_fanout
from hashmatch.aws.retained_shards import ListedShard
from hashmatch.aws.retro_fanout import (
    SCAN_PREFIX,
    TAIL_SECONDS,
    TAIL_WINDOW_SECONDS,
    FanOutScan,
    LambdaScanInvoker,
    ScanFailed,
    ScanWorker,
    items_from_json,
    items_to_json,
    plan_slices,
)
from hashmatch.service.retroactive import RetentionPolicy, RetroactiveScanner
from hashmatch_tools.local.template import Stack
from tests.integration.retained_world import build_world, found, shared

pytestmark = pytest.mark.integration

POLICY = RetentionPolicy({"facebook": 30, "youtube": 7})


@pytest.fixture
def world(moto_aws: Stack) -> dict[str, Any]:
    return build_world(moto_aws)


def _fan_out(
    world: dict[str, Any], invoke: Any = None, kinds: list[str] | None = None
) -> tuple[FanOutScan, ScanWorker]:
    """The fan-out on `world`, its worker called through JSON as Lambda would (each slice's kind
    noted in `kinds`), or through `invoke`."""
    scanner = RetroactiveScanner(world["dynamo"], POLICY)
    worker = ScanWorker(world["dynamo"], world["shards"], scanner, world["bucket"], world["s3"], world["clock"])

    def through_json(request: dict[str, Any]) -> dict[str, Any]:
        # What crosses Lambda's boundary: JSON both ways.
        if kinds is not None:
            kinds.append(request["slice"]["kind"])
        answer: dict[str, Any] = json.loads(json.dumps(worker.handle(json.loads(json.dumps(request)))))
        return answer

    fan_out = FanOutScan(worker, invoke or through_json, world["bucket"], world["s3"], world["clock"])
    return fan_out, worker


def _fanned(world: dict[str, Any], fan_out: FanOutScan, seeds: tuple[int, ...] = (13, 21)) -> set[tuple[str, str]]:
    scanner = RetroactiveScanner(world["dynamo"], POLICY, fan_out=fan_out)
    matches = scanner.scan([shared(seed) for seed in seeds], world["clock"].now)
    keys = [(m.check.platform, m.check.obj.key) for m in matches]
    assert len(keys) == len(set(keys)), f"a check reported twice: {keys}"
    return set(keys)


def _scan_objects(world: dict[str, Any]) -> list[str]:
    listed = world["s3"].list_objects_v2(Bucket=world["bucket"], Prefix=SCAN_PREFIX).get("Contents", [])
    return [o["Key"] for o in listed]


def test_the_fanned_out_scan_finds_what_one_process_finds_in_the_table_and_in_shards(world) -> None:
    clock = world["clock"]
    expected = {("facebook", "k0"), ("facebook", "k2"), ("facebook", "k4"), ("youtube", "y0")}
    kinds: list[str] = []
    fan_out, _ = _fan_out(world, kinds=kinds)
    assert found(world["dynamo"], clock) == expected
    assert _fanned(world, fan_out) == expected
    assert "shards" not in kinds
    kinds.clear()

    world["compactor"].compact()

    assert _fanned(world, fan_out) == expected == found(world["sharded"], clock)
    assert "shards" in kinds  # the shards are slices of their own now
    assert _fanned(world, fan_out, seeds=(99,)) == set()
    assert _scan_objects(world) == []  # the request is removed once answered


def test_a_check_in_the_table_and_a_shard_is_reported_once(world) -> None:
    world["compactor"].compact()
    # A compaction that wrote its shard and died before deleting: k0 in the table again.
    world["sharded"].retain(next(c for c in world["sharded"].checks("facebook", "2026-11-01") if c.obj.key == "k0"), 30)
    fan_out, _ = _fan_out(world)
    assert ("facebook", "k0") in _fanned(world, fan_out)


def test_checks_a_compaction_moves_while_the_workers_run_are_still_found(world) -> None:
    fan_out, worker = _fan_out(world)
    compacted = []

    def compact_first(request: dict[str, Any]) -> dict[str, Any]:
        # The shards were listed before this: the compaction moves the tail's rows into new
        # shards before any worker reads the table, so every table slice comes back empty.
        if not compacted:
            compacted.append(world["compactor"].compact())
        return json.loads(json.dumps(worker.handle(request)))

    fan_out = FanOutScan(worker, compact_first, world["bucket"], world["s3"], world["clock"], 1)
    assert _fanned(world, fan_out) == {("facebook", "k0"), ("facebook", "k2"), ("facebook", "k4"), ("youtube", "y0")}
    assert compacted[0].moved == {"facebook": 4, "youtube": 1}


def test_a_failed_slice_fails_the_scan_and_leaves_no_request_behind(world) -> None:
    def failing(request: dict[str, Any]) -> dict[str, Any]:
        raise ScanFailed("RetroScanFunction failed a slice: Task timed out")

    fan_out, _ = _fan_out(world, failing)
    with pytest.raises(ScanFailed, match="timed out"):
        _fanned(world, fan_out)
    assert _scan_objects(world) == []


def test_an_answer_too_large_to_return_goes_through_s3(world, monkeypatch) -> None:
    monkeypatch.setattr(retro_fanout, "ANSWER_BYTES", 10)
    fan_out, _ = _fan_out(world)
    assert _fanned(world, fan_out) == {("facebook", "k0"), ("facebook", "k2"), ("facebook", "k4"), ("youtube", "y0")}
    assert _scan_objects(world) == []


def test_a_worker_refuses_a_request_outside_the_scan_prefix(world) -> None:
    _, worker = _fan_out(world)
    with pytest.raises(ValueError, match="scans/"):
        worker.handle({"items": "retained/facebook/2026-12-01/09.shard", "slice": {"kind": "table", "ranges": []}})


def test_items_cross_the_boundary_whole() -> None:
    items = [shared(13), shared(21)]
    again = items_from_json(json.loads(json.dumps(items_to_json(items))))
    assert again == items
    assert [i.cut_views for i in again] == [i.cut_views for i in items] and items[0].cut_views


def test_the_plan_puts_every_moment_in_exactly_one_slice_and_groups_shards_by_size(monkeypatch) -> None:
    monkeypatch.setattr(retro_fanout, "SLICE_BYTES", 100)
    now = datetime(2026, 12, 1, 12, 20, tzinfo=UTC)
    since = {"facebook": "2026-11-01T12:20:00.000Z", "youtube": "2026-12-01T11:00:00.000Z"}
    shards = [ListedShard(f"retained/facebook/2026-11-2{n}/00.shard", f"e{n}", 40) for n in range(5)]
    slices = plan_slices(since, {"facebook": shards}, now)

    groups = [s["shards"] for s in slices if s["kind"] == "shards"]
    assert [len(g) for g in groups] == [2, 2, 1]
    assert [key for group in groups for key, _ in group] == [s.key for s in shards]
    tables = [s["ranges"] for s in slices if s["kind"] == "table"]
    assert len(tables) == TAIL_SECONDS // TAIL_WINDOW_SECONDS + 1
    for moment in ["2026-11-01T12:20:00.000Z", "2026-11-20T00:00:00.000Z", "2026-12-01T10:20:00.000Z",
                   "2026-12-01T11:00:00.000Z", "2026-12-01T12:19:59.999Z", "2026-12-01T13:00:00.000Z"]:  # fmt: skip
        for platform, start in since.items():
            holding = [
                r for ranges in tables for r in ranges
                if r[0] == platform and r[1] <= moment and (r[2] is None or moment < r[2])
            ]  # fmt: skip
            assert len(holding) == (1 if moment >= start else 0), (platform, moment, holding)


def test_the_lambda_invoker_answers_the_workers_json_and_fails_on_a_function_error() -> None:
    client = boto3.client("lambda", region_name="us-east-1")
    invoker = LambdaScanInvoker("scan", client)
    with Stubber(client) as stub:
        body = {"matched": [], "read": []}
        stub.add_response("invoke", {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())})
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorMessage": "boom"}')},
        )
        stub.add_response("invoke", {"StatusCode": 200, "Payload": io.BytesIO(b"not json")})
        assert invoker({"items": "scans/x/items.json", "slice": {}}) == body
        with pytest.raises(ScanFailed, match="boom"):
            invoker({"items": "scans/x/items.json", "slice": {}})
        with pytest.raises(ScanFailed, match="no JSON"):
            invoker({"items": "scans/x/items.json", "slice": {}})
