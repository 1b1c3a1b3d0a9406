"""A share's retroactive scan fanned out over parallel invocations of a worker (`RetroScanFunction`).

One share function reads some tens of millions of retained checks within its timeout; a coalition
checking 10 million uploads a day for 30 days keeps 300 million. So the share function plans the
scan in slices, each worker invocation scans one slice, and the share function merges:

* **plan** (`plan_slices`): for every opted-in platform, its hourly shards (listed once) in groups
  of up to `SLICE_BYTES`; and the table's tail (checks not compacted yet) in windows of
  `TAIL_WINDOW_SECONDS` over the last `TAIL_SECONDS`, every platform's rows of one window in one
  slice, plus one slice for anything older still in the table (a compaction running behind);
* **request**: the new items (with their cut views) are written once to the retained bucket,
  ``scans/<scan id>/items.json``; each worker's payload names that key and its slice;
* **worker** (`ScanWorker`): reads the items, scans its slice with the same candidate step and
  verdicts as a scan in one process (`RetroactiveScanner.scan_checks`), and answers the records of
  the checks it matched (their compressed documents) and the shards it read, at which ETag; an
  answer over `ANSWER_BYTES` goes to ``scans/<scan id>/<slice>.json`` and the payload names it;
* **merge** (`FanOutScan`): once every slice is in, the shards are listed again; a shard written
  or rewritten meanwhile (a compaction moved tail checks into it after a worker read the table;
  a shard changed under a worker's read) is scanned again here. Each check counts once (by
  check id), and the verdicts are made again from the matched checks by the caller.

A slice that fails fails the whole scan, and so the share's attempt: the queue retries it, and
nothing is reported twice (the share's answers are kept with it). Workers only read: retained
checks (table rows ``RETAINED#*``, shards) and the scan's own objects under ``scans/``.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from hashmatch.aws.retained import DynamoRetainedChecks, decode_check, encode_check
from hashmatch.aws.retained_shards import ListedShard, S3RetainedShards, iso_time, live_prints
from hashmatch.bank.model import NearEntry, Provenance, SharedItem
from hashmatch.service.retroactive import RetainedCheck, RetainedPrints, RetroactiveScanner

if TYPE_CHECKING:
    from hashmatch.service.settings import Settings

__all__ = [
    "ANSWER_BYTES",
    "SCAN_PREFIX",
    "SLICE_BYTES",
    "TAIL_SECONDS",
    "TAIL_WINDOW_SECONDS",
    "FanOutScan",
    "LambdaScanInvoker",
    "ScanFailed",
    "ScanWorker",
    "SliceResult",
    "items_from_json",
    "items_to_json",
    "plan_slices",
]

SCAN_PREFIX = "scans/"
# Shard bytes one worker reads: ~2M retained checks (the prints part, ~1 KB a check, is read;
# their documents only for candidates). Measured: `benchmarks/bench_retained_shards.py --slice`.
SLICE_BYTES = 2 * 1024**3
# The table holds what the compaction (every 15 minutes, hours before the current one) has not
# moved yet: at most ~75 minutes; the last two hours are read in windows scanned side by side.
TAIL_SECONDS = 2 * 3600
TAIL_WINDOW_SECONDS = 600
# Lambda answers a synchronous invocation with at most 6 MB; bigger answers go through S3.
ANSWER_BYTES = 4 * 1024**2
# Invocations in flight at once (Lambda's default account concurrency is 1,000).
MAX_PARALLEL = 256


_CHANGED = {"PreconditionFailed", "412", "NoSuchKey", "404"}


class ScanFailed(RuntimeError):
    """A slice of the scan could not be scanned (the worker failed or answered nothing usable)."""


def items_to_json(items: Sequence[SharedItem]) -> list[dict[str, Any]]:
    """The items as the workers receive them: every field, cut views included."""
    return [{**asdict(item), "cut_views": list(item.cut_views)} for item in items]


def items_from_json(documents: Sequence[Mapping[str, Any]]) -> list[SharedItem]:
    items = []
    for document in documents:
        fields = dict(document)
        provenance = dict(fields.pop("provenance"))
        provenance["labels"] = tuple(provenance.get("labels", ()))
        items.append(
            SharedItem(
                **{
                    **fields,
                    "provenance": Provenance(**provenance),
                    "signals": dict(fields["signals"]),
                    "near_entries": tuple(NearEntry(**entry) for entry in fields.get("near_entries", ())),
                    "confirmed_by": tuple(fields.get("confirmed_by", ())),
                    "disputed_by": tuple(fields.get("disputed_by", ())),
                    "cut_views": tuple(fields.get("cut_views", ())),
                }
            )
        )
    return items


def plan_slices(
    since: Mapping[str, str], listed: Mapping[str, Sequence[ListedShard]], now: datetime
) -> list[dict[str, Any]]:
    """The scan's slices: per platform its shards (`listed`, with their sizes) in groups
    of up to `SLICE_BYTES`, then the table in windows of the last `TAIL_SECONDS` and one slice for
    anything older; every platform's checks from its `since` on, each in exactly one slice."""
    slices: list[dict[str, Any]] = []
    for platform, start in since.items():
        group: list[list[str]] = []
        size = 0
        for shard in listed.get(platform, ()):
            if group and size + shard.size > SLICE_BYTES:
                slices.append({"kind": "shards", "platform": platform, "since": start, "shards": group})
                group, size = [], 0
            group.append([shard.key, shard.etag])
            size += shard.size
        if group:
            slices.append({"kind": "shards", "platform": platform, "since": start, "shards": group})
    tail_start = now.timestamp() - TAIL_SECONDS
    edges = [
        None,
        *(iso_time(tail_start + s) for s in range(0, TAIL_SECONDS, TAIL_WINDOW_SECONDS)),
    ]
    for low, high in zip(edges, [*edges[1:], None], strict=True):
        ranges = []
        for platform, start in since.items():
            first = start if low is None or low < start else low
            if high is None or first < high:
                ranges.append([platform, first, high])
        if ranges:
            slices.append({"kind": "table", "ranges": ranges})
    return slices


@dataclass
class SliceResult:
    """What scanning a slice found: the checks matched, by check id, and the shards read (key, ETag)."""

    matched: dict[str, RetainedCheck] = field(default_factory=dict)
    read: set[tuple[str, str]] = field(default_factory=set)


class ScanWorker:
    """Scans one slice of the retained checks (the worker function's logic, and the share
    function's own for a second round)."""

    def __init__(
        self,
        table: DynamoRetainedChecks,
        shards: S3RetainedShards,
        scanner: RetroactiveScanner,
        bucket: str,
        s3_client: Any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._shards = shards
        self._scanner = scanner
        self._bucket = bucket
        self._s3 = s3_client
        self._clock = clock

    @property
    def shards(self) -> S3RetainedShards:
        """The shard reader (and its cache) the worker scans with."""
        return self._shards

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """``{"items": <key under scans/>, "slice": {...}}`` -> ``{"matched": [...], "read": [...]}``,
        or ``{"answer": <key>}`` when that would exceed `ANSWER_BYTES`."""
        key = str(request["items"])
        if not key.startswith(SCAN_PREFIX):
            raise ValueError(f"a scan request's items are under {SCAN_PREFIX}, not {key!r}")
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        result = self.scan(items_from_json(json.loads(body)), request["slice"])
        matched = [
            {
                "platform": check.platform,
                "checked_at": check.checked_at,
                "document": base64.b64encode(encode_check(check)).decode(),
            }
            for _check_id, check in sorted(result.matched.items())
        ]
        payload = {"matched": matched, "read": sorted(result.read)}
        encoded = json.dumps(payload, separators=(",", ":")).encode()
        if len(encoded) <= ANSWER_BYTES:
            return payload
        answer_key = f"{key.rsplit('/', 1)[0]}/{uuid.uuid4().hex}.json"
        self._s3.put_object(Bucket=self._bucket, Key=answer_key, Body=encoded)
        return {"answer": answer_key}

    def scan(self, items: Sequence[SharedItem], slice_: Mapping[str, Any]) -> SliceResult:
        """The checks of `slice_` that `items` match, and the shards read."""
        result = SliceResult()
        for prints in self._prints(slice_, result.read):
            for retro in self._scanner.scan_checks(items, prints):
                result.matched[retro.check.check_id] = retro.check
        return result

    def _prints(self, slice_: Mapping[str, Any], read: set[tuple[str, str]]) -> Iterator[RetainedPrints]:
        if slice_["kind"] == "table":
            for platform, start, end in slice_["ranges"]:
                checks = list(self._table.checks(platform, start, end))
                if checks:
                    yield RetainedPrints(checks)
            return
        now = self._clock()
        for key, etag in slice_["shards"]:
            try:
                shard = self._shards.shard(ListedShard(key, etag))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in _CHANGED:
                    continue  # rewritten or deleted since it was listed: the merge lists again
                raise
            read.add((key, etag))
            prints = live_prints(shard, str(slice_["since"]), now)
            if prints is not None:
                yield prints


class LambdaScanInvoker:
    """Invokes the worker function synchronously (RequestResponse) and returns its JSON answer;
    raises `ScanFailed` when it failed or answered nothing usable."""

    def __init__(self, function_name: str, lambda_client: Any) -> None:
        self._function = function_name
        self._lambda = lambda_client

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        response = self._lambda.invoke(
            FunctionName=self._function, InvocationType="RequestResponse", Payload=json.dumps(request).encode()
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            raise ScanFailed(f"{self._function} failed a slice: {payload[:500].decode(errors='replace')}")
        try:
            answer = json.loads(payload)
        except ValueError as error:
            raise ScanFailed(f"{self._function} answered no JSON: {payload[:200]!r}") from error
        if not isinstance(answer, dict):
            raise ScanFailed(f"{self._function} answered {type(answer).__name__}, not an object")
        return answer


class FanOutScan:
    """`RetainedScanFanOut` on the worker function: plan, invoke in parallel, merge."""

    def __init__(
        self,
        worker: ScanWorker,
        invoke: Callable[[dict[str, Any]], dict[str, Any]],
        bucket: str,
        s3_client: Any,
        clock: Callable[[], float] = time.time,
        parallel: int = MAX_PARALLEL,
    ) -> None:
        self._worker = worker
        self._invoke = invoke
        self._shards = worker.shards  # listed with the reader the second round scans with
        self._bucket = bucket
        self._s3 = s3_client
        self._clock = clock
        self._parallel = parallel

    def matched_checks(self, items: Sequence[SharedItem], since: Mapping[str, str]) -> list[RetainedCheck]:
        listed = {platform: self._shards.listed(platform, start[:13]) for platform, start in since.items()}
        slices = plan_slices(since, listed, datetime.fromtimestamp(self._clock(), UTC))
        scan = f"{SCAN_PREFIX}{uuid.uuid4().hex}"
        key = f"{scan}/items.json"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=json.dumps(items_to_json(items)).encode())
        matched: dict[str, RetainedCheck] = {}
        read: set[tuple[str, str]] = set()
        lock = threading.Lock()

        def run(slice_: dict[str, Any]) -> None:
            answer = self._answer(self._invoke({"items": key, "slice": slice_}))
            with lock:
                matched.update(answer.matched)
                read.update(answer.read)

        try:
            with ThreadPoolExecutor(max_workers=max(1, min(self._parallel, len(slices)))) as pool:
                for future in [pool.submit(run, s) for s in slices]:
                    future.result()
            # Shards written or rewritten while the workers ran: scanned again here.
            for platform, start in since.items():
                changed = [s for s in self._shards.listed(platform, start[:13]) if (s.key, s.etag) not in read]
                if changed:
                    slice_ = {
                        "kind": "shards",
                        "platform": platform,
                        "since": start,
                        "shards": [[s.key, s.etag] for s in changed],
                    }
                    for check_id, check in self._worker.scan(items, slice_).matched.items():
                        matched.setdefault(check_id, check)
        finally:
            self._s3.delete_object(Bucket=self._bucket, Key=key)
        return [matched[check_id] for check_id in sorted(matched)]

    def _answer(self, answer: Mapping[str, Any]) -> SliceResult:
        if "answer" in answer:
            key = str(answer["answer"])
            if not key.startswith(SCAN_PREFIX):
                raise ScanFailed(f"a worker's answer is under {SCAN_PREFIX}, not {key!r}")
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            self._s3.delete_object(Bucket=self._bucket, Key=key)
            answer = json.loads(body)
        try:
            checks = [
                decode_check(str(m["platform"]), str(m["checked_at"]), base64.b64decode(m["document"]))
                for m in answer["matched"]
            ]
            read = {(str(key), str(etag)) for key, etag in answer["read"]}
        except (KeyError, TypeError, ValueError, zlib.error) as error:
            raise ScanFailed(f"a worker answered what a scan cannot use: {error}") from error
        return SliceResult({check.check_id: check for check in checks}, read)


@functools.cache
def scan_worker() -> ScanWorker:
    """The process-wide worker, from the environment (RETAINED_BUCKET is required here)."""
    from hashmatch.service.settings import RETAINED_BUCKET, Settings, SettingsError

    settings = Settings.from_environment()
    if not settings.retained_bucket:
        raise SettingsError(f"environment variable {RETAINED_BUCKET} is required")
    session = boto3.session.Session()
    return build_worker(settings.retained_bucket, settings, session)


def build_worker(bucket: str, settings: Settings, session: boto3.session.Session, s3_client: Any = None) -> ScanWorker:
    s3 = s3_client or session.client("s3")
    table = DynamoRetainedChecks(session.resource("dynamodb").Table(settings.table_name))
    scanner = RetroactiveScanner(table, settings.retention, settings.thresholds_for)
    return ScanWorker(table, S3RetainedShards(bucket, s3), scanner, bucket, s3)


def build_fan_out(settings: Settings, session: boto3.session.Session, s3_client: Any) -> FanOutScan:
    """The share function's fan-out to `settings.retro_scan_function`, on its S3 client."""
    bucket = str(settings.retained_bucket)
    config = Config(max_pool_connections=MAX_PARALLEL, read_timeout=900, retries={"max_attempts": 2})
    invoker = LambdaScanInvoker(str(settings.retro_scan_function), session.client("lambda", config=config))
    return FanOutScan(build_worker(bucket, settings, session, s3_client), invoker, bucket, s3_client)
