"""A shared hash is matchable by the very next check on any matcher instance, warm or cold, and a
withdrawn one stops matching as fast: the near-match indexes replay the bank's change log on DynamoDB."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.media.hashing import hash_file
from hashmatch.service.notifications import EventType
from hashmatch_tools.fakes import MemoryStore, Pipeline, RecordingNotifier, service_on
from hashmatch_tools.samples import jpeg_bytes, mirrored, resized, scene

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dynamodb_local")]

PLATFORMS = ("tiktok", "reddit", "youtube")


def _instance(bank: DynamoBank, store: MemoryStore, notifier: RecordingNotifier) -> Pipeline:
    """One matcher instance: its own in-memory index, the shared bank."""
    return service_on(bank, store, notifier, PLATFORMS)


def _verdict(service: Pipeline, store: MemoryStore, notifier: RecordingNotifier, name: str, body: bytes):
    service.process(store.put("ingest", f"check/reddit/{name}", body, {"content-id": name}))
    (verdict,) = [n for n in notifier.sent if n.body.get("content_id") == name]
    return verdict


def test_warm_and_cold_instances_see_shares_and_withdrawals_at_once(bank_backend) -> None:
    bank = DynamoBank(bank_backend.table_name, bank_backend.resource)
    store, notifier = MemoryStore(), RecordingNotifier()
    sharer = _instance(bank, store, notifier)
    warm = _instance(bank, store, notifier)
    picture = scene(301, (640, 480))
    assert _verdict(warm, store, notifier, "before", jpeg_bytes(resized(picture, 0.5))).event_type is (
        EventType.CHECK_CLEAN
    )

    sharer.process(store.put("ingest", "share/tiktok/a.jpg", jpeg_bytes(picture), {"labels": "suicide-self-harm"}))
    assert any(n.event_type is EventType.HASH_SHARED for n in notifier.sent)
    cold = _instance(bank, store, notifier)
    for name, instance in (("warm", warm), ("cold", cold)):
        verdict = _verdict(instance, store, notifier, name, jpeg_bytes(mirrored(resized(picture, 0.5))))
        assert verdict.event_type is EventType.MATCH_FOUND, name
        assert verdict.body["matches"][0]["signal"] == "pdq"

    shared_pdq = hash_file_of(jpeg_bytes(picture))["pdq"]
    sharer.process(store.put("ingest", "withdraw/tiktok/w.txt", f"pdq:{shared_pdq}\n".encode()))
    assert any(n.event_type is EventType.HASH_WITHDRAWN for n in notifier.sent)
    for name, instance in (("warm-after", warm), ("cold-after", cold), ("new-after", _instance(bank, store, notifier))):
        verdict = _verdict(instance, store, notifier, name, jpeg_bytes(mirrored(resized(picture, 0.5))))
        assert verdict.event_type is EventType.CHECK_CLEAN, name


def test_concurrent_shares_and_checks_on_several_instances(bank_backend) -> None:
    store, notifier = MemoryStore(), RecordingNotifier()
    # Each instance has its own boto3 resource, as separate Lambda instances do (and boto3
    # resources must not be shared across threads).
    endpoint = bank_backend.client.meta.endpoint_url
    instances = [
        _instance(
            DynamoBank(
                bank_backend.table_name,
                boto3.session.Session(region_name="us-east-1").resource("dynamodb", endpoint_url=endpoint),
            ),
            store,
            notifier,
        )
        for _ in range(3)
    ]
    pictures = [scene(400 + n, (320, 240)) for n in range(12)]

    def share_then_check(n: int) -> str:
        instances[n % 3].process(store.put("ingest", f"share/tiktok/{n}.jpg", jpeg_bytes(pictures[n])))
        checker = instances[(n + 1) % 3]
        checker.process(
            store.put("ingest", f"check/reddit/{n}.jpg", jpeg_bytes(pictures[n], 40), {"content-id": str(n)})
        )
        return str(n)

    with ThreadPoolExecutor(max_workers=4) as pool:
        names = list(pool.map(share_then_check, range(len(pictures))))
    verdicts = {n.body["content_id"]: n for n in notifier.sent if n.event_type.value.startswith(("match", "check"))}
    assert sorted(verdicts) == sorted(names)
    assert all(v.event_type is EventType.MATCH_FOUND for v in verdicts.values())


def hash_file_of(body: bytes) -> dict[str, str]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f"
        path.write_bytes(body)
        return hash_file(path).signals
