"""In-memory stand-ins for the ports, for unit tests that must not touch the network."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hashmatch.bank.model import SharedItem
from hashmatch.edge.ingest import EdgeHasher, Hasher
from hashmatch.edge.segments import SegmentTask
from hashmatch.governance.incidents import Incident
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import Limits, MediaHashes
from hashmatch.service.handoffs import MemoryHandOffs
from hashmatch.service.notifications import Notification, ObjectRef
from hashmatch.service.ports import AuditRecord, Bank, BankChange, FetchedObject, ItemMoved
from hashmatch.service.results import results_key
from hashmatch.service.retroactive import RetainedCheck
from hashmatch.service.routing import Outcome
from hashmatch.service.service import HashmatchService
from hashmatch.service.submission import Submission, submission_from_json
from hashmatch.service.telemetry import NO_TELEMETRY


class MemoryStore:
    """Objects as local files keyed by (bucket, key), with their metadata."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}

    def put(self, bucket: str, key: str, body: bytes, metadata: dict[str, str] | None = None) -> ObjectRef:
        self.objects[(bucket, key)] = (body, metadata or {})
        return ObjectRef(bucket, key, etag=str(hash(body)), size=len(body))

    @contextmanager
    def fetch(self, obj: ObjectRef, max_bytes: int) -> Iterator[FetchedObject | None]:
        if (obj.bucket, obj.key) not in self.objects:
            yield None
            return
        body, metadata = self.objects[(obj.bucket, obj.key)]
        if len(body) > max_bytes:
            yield FetchedObject(None, metadata, len(body))
            return
        folder = tempfile.mkdtemp()
        try:
            path = Path(folder) / "object"
            path.write_bytes(body)
            yield FetchedObject(path, metadata, len(body))
        finally:
            shutil.rmtree(folder)

    def delete(self, obj: ObjectRef) -> None:
        self.objects.pop((obj.bucket, obj.key), None)

    def metadata(self, obj: ObjectRef) -> dict[str, str] | None:
        found = self.objects.get((obj.bucket, obj.key))
        return None if found is None else dict(found[1])


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def publish(self, notification: Notification) -> None:
        self.sent.append(notification)

    def to(self, platform: str) -> list[Notification]:
        return [n for n in self.sent if n.platform == platform]


class MemoryBank:
    """`hashmatch.ports.Bank` in dictionaries, with the same change-log semantics as DynamoDB."""

    def __init__(self) -> None:
        self.items: dict[str, SharedItem] = {}
        self.exact: dict[tuple[str, str], set[str]] = {}
        self.log: list[BankChange] = []
        self.reasons: dict[str, dict[str, str]] = {}
        self.quota: dict[tuple[str, str], int] = {}
        self.notices: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.matches: dict[tuple[str, str, str], int] = {}
        self.incidents: dict[str, Incident] = {}
        self.incident_matches: dict[tuple[str, str, str], int] = {}
        self._clock = 0

    def _position(self, item_id: str, operation: str) -> str:
        self._clock += 1
        seconds, micros = divmod(self._clock, 1_000_000)
        return f"2026-01-01T00:00:{seconds:02d}.{micros:06d}Z#{item_id}#{operation}#00000"

    def put_items(self, items: Sequence[SharedItem], *, read: Mapping[str, SharedItem] | None = None) -> None:
        read = read or {}
        for item in items:
            now = self.items.get(item.item_id)
            if item.item_id in read and (now is None or now.status != read[item.item_id].status):
                raise ItemMoved(f"item {item.item_id} is no longer {read[item.item_id].status}: share again")
        for item in items:
            now = self.items.get(item.item_id)
            if item.item_id in read and now is not None:  # what others wrote about it stays
                item = replace(
                    item,
                    confirmed_by=now.confirmed_by,
                    disputed_by=now.disputed_by,
                    status_at=now.status_at,
                    status_by=now.status_by,
                )
            self.items[item.item_id] = item
            for signal, value in item.signals.items():
                self.exact.setdefault((signal, value), set()).add(item.item_id)
        for item in items:
            if item.near_entries and item.status != "removed":
                self.log.append(BankChange(self._position(item.item_id, "add"), "add", item.item_id, item.near_entries))

    def withdraw_items(self, items: Sequence[SharedItem], withdrawn_at: str, *, by: str | None = None) -> None:
        for item in items:
            withdrawn = replace(self.items[item.item_id], status="withdrawn", status_at=withdrawn_at, status_by=by)
            self.items[item.item_id] = withdrawn
            self.log.append(BankChange(self._position(item.item_id, "remove"), "remove", item.item_id))

    def set_status(
        self,
        item_id: str,
        status: str,
        at: str,
        *,
        expected: Sequence[str],
        clear_disputes: bool = False,
        by: str | None = None,
    ) -> SharedItem | None:
        item = self.items.get(item_id)
        if item is None or item.status not in expected:
            return None
        disputed_by = () if clear_disputes else item.disputed_by
        item = replace(item, status=status, disputed_by=disputed_by, status_at=at, status_by=by)  # type: ignore[arg-type]
        if clear_disputes:
            self.reasons.pop(item_id, None)
        self.items[item_id] = item
        if status == "removed":
            self.log.append(BankChange(self._position(item_id, "remove"), "remove", item_id))
        return item

    def record_feedback(self, item_id: str, member: str, verdict: str, reason: str) -> SharedItem | None:
        item = self.items.get(item_id)
        if item is None:
            return None
        if verdict == "confirm":
            item = replace(item, confirmed_by=tuple(sorted({*item.confirmed_by, member})))
        else:
            item = replace(item, disputed_by=tuple(sorted({*item.disputed_by, member})))
            self.reasons.setdefault(item_id, {})[member] = reason
        self.items[item_id] = item
        return item

    def dispute_reasons(self, item_id: str) -> dict[str, str]:
        return dict(self.reasons.get(item_id, {}))

    def count_shares(self, member: str, day: str, count: int, quota: int) -> bool:
        shared = self.quota.get((member, day), 0)
        if shared + count > quota:
            return False
        self.quota[(member, day)] = shared + count
        return True

    def remember_notice(self, notification_id: str, member: str, item_ids: Sequence[str]) -> None:
        self.notices[notification_id] = (member, tuple(item_ids))

    def notice(self, notification_id: str) -> tuple[str, tuple[str, ...]] | None:
        return self.notices.get(notification_id)

    def benign_hashes(self) -> list[tuple[str, str, str]]:
        benign = [item for item in self.items.values() if item.status == "benign"]
        return [(item.item_id, s, v) for item in benign for s, v in item.signals.items()]

    def count_matches(self, member: str, hour: str, labels: Sequence[str]) -> None:
        for label in labels or ("unlabelled",):
            self.matches[(hour, member, label)] = self.matches.get((hour, member, label), 0) + 1

    def match_counts(self, since: str) -> Iterator[tuple[str, str, str, int]]:
        return iter([(*key, n) for key, n in sorted(self.matches.items()) if key[0] >= since[:10]])

    def get_incident(self, incident_id: str) -> Incident | None:
        return self.incidents.get(incident_id)

    def put_incident(self, incident: Incident, *, expected: str | None) -> bool:
        stored = self.incidents.get(incident.incident_id)
        if (stored.status if stored is not None else None) != expected:
            return False
        self.incidents[incident.incident_id] = incident
        return True

    def count_incident_matches(self, incident_id: str, hour: str, member: str, count: int) -> None:
        key = (incident_id, hour, member)
        self.incident_matches[key] = self.incident_matches.get(key, 0) + count

    def incident_counts(self, incident_id: str) -> dict[tuple[str, str], int]:
        return {(h, m): n for (i, h, m), n in self.incident_matches.items() if i == incident_id}

    def items_by_exact(self, signal: str, value: str) -> list[SharedItem]:
        return [self.items[i] for i in sorted(self.exact.get((signal, value), ()))]

    def get_items(self, item_ids: Sequence[str]) -> dict[str, SharedItem]:
        return {i: self.items[i] for i in item_ids if i in self.items}

    def changes_since(self, position: str | None) -> Iterator[BankChange]:
        return iter([c for c in self.log if position is None or c.position > position])

    def iter_items(self, since: str | None = None) -> Iterator[SharedItem]:
        return iter([i for i in self.items.values() if since is None or i.provenance.shared_at >= since])


class MemoryRetainedChecks:
    """`RetainedChecks` in a list, with expiry by the given clock (seconds)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.kept: list[tuple[RetainedCheck, float]] = []
        self._clock = clock

    def retain(self, check: RetainedCheck, days: int) -> None:
        self.kept.append((check, self._clock() + days * 86400))

    def checks(self, platform: str, since: str) -> Iterator[RetainedCheck]:
        now = self._clock()
        return iter(
            [c for c, expires in self.kept if c.platform == platform and c.checked_at >= since and expires > now]
        )

    def purge(self, platform: str, before: str | None = None) -> int:
        gone = [(c, e) for c, e in self.kept if c.platform == platform and (before is None or c.checked_at < before)]
        self.kept = [kept for kept in self.kept if kept not in gone]
        return len(gone)


class MemoryResults:
    """`ResultStore` in a dictionary: results lines by (platform, key)."""

    BUCKET = "results"

    def __init__(self) -> None:
        self.objects: dict[str, list[dict[str, Any]]] = {}

    def put_results(
        self, platform: str, obj: ObjectRef, chunk: tuple[int, int], lines: list[dict[str, Any]]
    ) -> tuple[str, str]:
        key = results_key(platform, obj, chunk)
        self.objects[key] = [json.loads(json.dumps(line)) for line in lines]
        return self.BUCKET, key


class DirectSink:
    """`SubmissionSink` that hands each submission straight to the coalition's service, through its
    JSON form (as a queue would carry it), every time it is sent (the service's claims and kept
    answers make repeats one answer), and keeps what it passed on."""

    def __init__(self, service: HashmatchService) -> None:
        self.service = service
        self.sent: list[Submission] = []

    def send(self, submission: Submission) -> None:
        carried = submission_from_json(json.loads(json.dumps(submission.to_json())))
        self.sent.append(carried)
        self.service.process(carried)


@dataclass
class Pipeline:
    """The edge and the coalition on in-memory ports, one object at a time: what the functions do
    between them, without queues."""

    edge: EdgeHasher
    coalition: HashmatchService
    sink: DirectSink
    results: MemoryResults

    def process(self, obj: ObjectRef) -> Outcome:
        return self.edge.process(obj)

    @property
    def matcher(self) -> Matcher:
        return self.coalition.matcher


def service_on(
    bank: Bank,
    store: MemoryStore,
    notifier: RecordingNotifier,
    platforms: tuple[str, ...],
    *,
    hasher: Hasher = hash_file,
    limits: Limits | None = None,
    index: BankIndex | None = None,
    **options: Any,
) -> Pipeline:
    """The real edge (hashing `hash_file` in this process unless given a sandbox) and the real
    coalition service and matcher (with its own near-match index unless given one) on these ports."""
    results = MemoryResults()
    handoffs = options.pop("handoffs", None) or MemoryHandOffs()
    principals = options.pop("principals", None)
    segments = options.pop("segments", None)
    coalition = HashmatchService(
        bank=bank,
        notifier=notifier,
        matcher=Matcher(bank, index if index is not None else BankIndex()),
        platforms=platforms,
        results=results,
        handoffs=handoffs,
        **options,
    )
    sink = DirectSink(coalition)
    edge = EdgeHasher(
        store=store,
        sink=sink,
        hasher=hasher,
        platforms=platforms,
        candidates=coalition.matcher,
        handoffs=handoffs,
        limits=limits,
        telemetry=options.get("telemetry", NO_TELEMETRY),
        principals=principals,
        segments=segments,
    )
    return Pipeline(edge, coalition, sink, results)


class MemorySegments:
    """`hashmatch.edge.segments.SegmentStore` in memory: `queued` holds the tasks scheduled (a test
    runs them, in any order, with `EdgeHasher.process_segment`)."""

    def __init__(self) -> None:
        self.queued: list[SegmentTask] = []
        self.kept: dict[str, dict[int, MediaHashes]] = {}

    def schedule(self, tasks: Sequence[SegmentTask]) -> None:
        self.queued.extend(tasks)

    def put_part(self, task: SegmentTask, hashes: MediaHashes) -> None:
        self.kept.setdefault(task.share_id, {})[task.index] = hashes

    def parts(self, task: SegmentTask) -> list[MediaHashes] | None:
        kept = self.kept.get(task.share_id, {})
        return [kept[n] for n in range(task.count)] if len(kept) == task.count else None

    def discard(self, task: SegmentTask) -> None:
        self.kept.pop(task.share_id, None)


class MemoryAuditLog:
    """`hashmatch.service.ports.AuditLog` in a list that only grows."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def append(self, records: Sequence[AuditRecord]) -> None:
        self.records.extend(records)

    def read(self, since: str) -> Iterator[AuditRecord]:
        return iter(sorted((r for r in self.records if r.at >= since), key=lambda r: r.at))
