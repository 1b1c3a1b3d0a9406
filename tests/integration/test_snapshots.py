"""Near-match snapshots on S3 (moto, resources from template.yaml): a cold matcher starts from the
newest snapshot, replays only the log written since, and is as fresh as one that replayed it all."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.aws.runtime import bank_index
from hashmatch.aws.snapshot_job import SnapshotBuilder
from hashmatch.aws.snapshots import POINTER_KEY, S3SnapshotStore
from hashmatch.matching.matcher import BankIndex
from hashmatch.media.hashing import hash_file
from hashmatch.service.notifications import EventType, Notification
from hashmatch.service.service import HashmatchService
from hashmatch.service.settings import Settings
from hashmatch_tools.fakes import MemoryStore, Pipeline, RecordingNotifier, service_on
from hashmatch_tools.local.template import Stack
from hashmatch_tools.samples import jpeg_bytes, mirrored, resized, scene
from tests.integration.conftest import REGION, TEMPLATE

pytestmark = pytest.mark.integration


class _Deployment:
    """The stack's table and snapshot bucket on moto, and services wired to them like the functions."""

    def __init__(self, stack: Stack) -> None:
        self.settings = Settings.from_environment(stack.function_environment("CheckFunction"))
        assert self.settings.snapshot_bucket == stack.physical_names("SnapshotBucket")["ref"]
        self.session = boto3.session.Session(region_name=REGION)
        self.s3 = self.session.client("s3")
        self.bank = DynamoBank(self.settings.table_name, self.session.resource("dynamodb"))
        self.snapshots = S3SnapshotStore(self.settings.snapshot_bucket, self.s3)
        self.store, self.notifier = MemoryStore(), RecordingNotifier()
        self.sharer = self.service(BankIndex())

    def service(self, near: BankIndex) -> Pipeline:
        return service_on(self.bank, self.store, self.notifier, self.settings.platforms, index=near)

    def share(self, name: str, body: bytes) -> None:
        self.sharer.process(self.store.put("ingest", f"share/tiktok/{name}", body, {"labels": "graphic-violence"}))

    def withdraw(self, body: bytes) -> None:
        pdq = self._pdq(body)
        self.sharer.process(self.store.put("ingest", "withdraw/tiktok/w.txt", f"pdq:{pdq}\n".encode()))
        assert any(n.event_type is EventType.HASH_WITHDRAWN for n in self.notifier.sent)

    def check(self, service: HashmatchService, name: str, body: bytes) -> Notification:
        service.process(self.store.put("ingest", f"check/reddit/{name}", body, {"content-id": name}))
        (verdict,) = [n for n in self.notifier.sent if n.body.get("content_id") == name]
        return verdict

    def _pdq(self, body: bytes) -> str:
        path = self.store.put("scratch", "pdq", body)
        with self.store.fetch(path, 1 << 30) as fetched:
            assert fetched is not None and fetched.path is not None
            return hash_file(fetched.path).signals["pdq"]

    def pointer(self) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=self.settings.snapshot_bucket, Key=POINTER_KEY)["Body"].read()
        pointer: dict[str, Any] = json.loads(body)
        return pointer


@pytest.fixture
def deployment(moto_aws: Stack) -> _Deployment:
    return _Deployment(moto_aws)


def _copy(picture: Any) -> bytes:
    return jpeg_bytes(mirrored(resized(picture, 0.5)))


def test_a_cold_matcher_starts_from_the_snapshot_and_applies_the_tail(deployment: _Deployment) -> None:
    old, new, withdrawn = (scene(seed, (480, 360)) for seed in (501, 502, 503))
    deployment.share("old.jpg", jpeg_bytes(old))
    builder = SnapshotBuilder(deployment.bank, deployment.snapshots)
    report = builder.rebuild()
    assert report.published is not None and report.applied == 1
    assert deployment.pointer()["key"] == report.published
    assert deployment.pointer()["position"] == report.position

    deployment.share("new.jpg", jpeg_bytes(new))
    deployment.share("withdrawn.jpg", jpeg_bytes(withdrawn))
    deployment.withdraw(jpeg_bytes(withdrawn))

    # What a cold CheckFunction builds: the snapshot on its first refresh, then the log tail.
    tail_probe = bank_index(deployment.settings, deployment.session)
    assert tail_probe.refresh(deployment.bank) == 3  # new, withdrawn, its withdrawal: not `old`
    cold = deployment.service(bank_index(deployment.settings, deployment.session))
    assert deployment.check(cold, "old", _copy(old)).event_type is EventType.MATCH_FOUND
    assert deployment.check(cold, "new", _copy(new)).event_type is EventType.MATCH_FOUND
    assert deployment.check(cold, "withdrawn", _copy(withdrawn)).event_type is EventType.CHECK_CLEAN


def test_the_builder_publishes_only_what_is_new_and_prunes_old_snapshots(deployment: _Deployment) -> None:
    builder = SnapshotBuilder(deployment.bank, deployment.snapshots)
    assert builder.rebuild().published is None  # an empty bank: nothing to publish
    keys = []
    for seed in range(5):
        deployment.share(f"{seed}.jpg", jpeg_bytes(scene(600 + seed, (320, 240))))
        report = builder.rebuild()
        assert report.published is not None and report.applied == 1
        keys.append(report.published)
    assert builder.rebuild().published is None  # nothing new since
    listed = deployment.s3.list_objects_v2(Bucket=deployment.settings.snapshot_bucket, Prefix="snapshots/")
    stored = sorted(o["Key"] for o in listed["Contents"] if o["Key"].endswith(".bin"))
    assert stored == sorted(keys)[-3:]
    assert deployment.pointer()["key"] == keys[-1]

    # A cold builder continues from the newest snapshot.
    deployment.share("late.jpg", jpeg_bytes(scene(700, (320, 240))))
    assert SnapshotBuilder(deployment.bank, deployment.snapshots).rebuild().applied == 1


def test_an_unreadable_snapshot_falls_back_to_replaying_the_log(deployment: _Deployment) -> None:
    picture = scene(801, (480, 360))
    deployment.share("a.jpg", jpeg_bytes(picture))
    bucket = deployment.settings.snapshot_bucket
    deployment.s3.put_object(Bucket=bucket, Key="snapshots/broken.bin", Body=b"not a snapshot")
    deployment.s3.put_object(
        Bucket=bucket, Key=POINTER_KEY, Body=json.dumps({"key": "snapshots/broken.bin", "position": "0"}).encode()
    )
    near = bank_index(deployment.settings, deployment.session)
    assert near.refresh(deployment.bank) == 1
    cold = deployment.service(bank_index(deployment.settings, deployment.session))
    assert deployment.check(cold, "copy", _copy(picture)).event_type is EventType.MATCH_FOUND


def test_the_template_keeps_snapshots_private_and_scheduled() -> None:
    stack = Stack.from_file(TEMPLATE, "hashmatch")
    bucket = stack.resources["SnapshotBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (deny,) = stack.resolve(stack.resources["SnapshotBucketPolicy"]["Properties"])["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    read = stack.resources["SnapshotReadPolicy"]["Properties"]
    assert read["Roles"] == [{"Ref": "CheckFunctionRole"}, {"Ref": "LookupFunctionRole"}]
    assert {s["Action"] for s in read["PolicyDocument"]["Statement"]} == {"s3:GetObject", "s3:ListBucket"}
    function = stack.resources["SnapshotFunction"]["Properties"]
    assert function["Events"]["Rebuild"] == {
        "Type": "Schedule",
        "Properties": {"Schedule": {"Ref": "SnapshotSchedule"}},
    }
    assert function["ReservedConcurrentExecutions"] == 1
    assert stack.function_environment("CheckFunction")["SNAPSHOT_BUCKET"] == stack.outputs()["SnapshotBucketName"]
