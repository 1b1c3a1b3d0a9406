"""Governance through the local stack: what may enter the bank, disputes that quarantine, an
operator's restore, a member that needs two backers, and the audit log nobody can rewrite."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from hashmatch.aws.audit import S3AuditLog
from hashmatch.media.hashing import hash_file
from hashmatch_tools.cli import main
from hashmatch_tools.client import SHARE_REPLIES, Coalition
from hashmatch_tools.local.stack import LocalStack
from hashmatch_tools.samples import jpeg_bytes, mirrored, resized, scene

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_stack")]

TIMEOUT = 60.0
GOVERNANCE = ("hash.confirmed", "hash.disputed", "feedback.rejected")


def _pdq(picture) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.jpg"
        path.write_bytes(jpeg_bytes(picture))
        return replace(hash_file(path), uneven_crops=None).signals["pdq"]


def _share(coalition: Coalition, platform: str, body: bytes, labels: str, name: str = "s.jpg") -> dict:
    key = coalition.put("share", platform, name, body, {"labels": labels})
    (answer,) = coalition.verdicts(platform, {key}, TIMEOUT, event_types=(*SHARE_REPLIES, "share.rejected"))
    return answer


def _check(coalition: Coalition, platform: str, picture) -> dict:
    key = coalition.put("check", platform, "c.jpg", jpeg_bytes(mirrored(resized(picture, 0.8))))
    (verdict,) = coalition.verdicts(platform, {key}, TIMEOUT)
    return verdict


def _audit(coalition: Coalition) -> S3AuditLog:
    return S3AuditLog(coalition.outputs["AuditBucketName"], coalition.clients("s3"))


def _operator(coalition: Coalition, **request: object) -> dict:
    """Drop an operator's request; its audit record."""
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    key = f"operator/{uuid.uuid4().hex[:8]}.json"
    body = json.dumps({"operator": "alice", "reason": "reviewed", **request}).encode()
    coalition.clients("s3").put_object(Bucket=coalition.bucket, Key=key, Body=body)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = [r for r in _audit(coalition).read(since) if r.request == key]
        if found:
            return {"outcome": found[-1].outcome, "reason": found[-1].reason, "action": found[-1].action}
        time.sleep(0.5)
    raise AssertionError(f"no audit record for {key}")


def _feedback(coalition: Coalition, platform: str, target: str, verdict: str) -> None:
    request = {"target": target, "verdict": verdict, "reason": "a film still, out of scope"}
    coalition.put("feedback", platform, "f.json", json.dumps(request).encode())


def test_an_unknown_label_a_degenerate_hash_and_a_benign_collision_are_refused(coalition: Coalition) -> None:
    refused = _share(coalition, "tiktok", jpeg_bytes(scene(301)), "memes")
    assert refused["rejection"]["reason"] == "invalid_label"
    flat = _share(coalition, "tiktok", f"pdq {'0' * 64}\n".encode(), "graphic-violence", "flat.txt")
    assert flat["rejection"]["reason"] == "degenerate_hash"

    template = scene(302)
    assert _operator(coalition, action="benign", hashes=[{"pdq": _pdq(template), "note": "meme template"}]) == {
        "outcome": "done",
        "reason": "reviewed",
        "action": "benign",
    }
    collision = _share(coalition, "tiktok", jpeg_bytes(resized(template, 0.8)), "violent-extremism")
    assert collision["rejection"]["reason"] == "benign_collision"


def test_disputes_quarantine_an_operator_restores_and_two_backers_are_required(
    coalition: Coalition, local_stack: LocalStack
) -> None:
    picture = scene(303)
    accepted = _share(coalition, "tiktok", jpeg_bytes(picture), "graphic-violence")
    item = accepted["items"][0]["item_id"]
    assert _check(coalition, "facebook", picture)["event_type"] == "match.found"
    # twitter requires two members behind a match: one contributor is not enough.
    assert _check(coalition, "twitter", picture)["event_type"] == "check.clean"

    for platform in ("facebook", "youtube", "reddit"):
        _feedback(coalition, platform, item, "dispute")
    deadline = time.monotonic() + TIMEOUT
    while _check(coalition, "snapchat", picture)["event_type"] != "check.clean":
        assert time.monotonic() < deadline, "three disputes did not quarantine the item"
    quarantined = [n for n in coalition.notifications("tiktok", 2) if n["event_type"] == "hash.quarantined"]
    assert quarantined and [d["member"] for d in quarantined[-1]["governance"]["disputes_by"]] == [
        "facebook",
        "reddit",
        "youtube",
    ]

    assert _operator(coalition, action="restore", item_id=item)["outcome"] == "done"
    assert _check(coalition, "snapchat", picture)["event_type"] == "match.found"

    _feedback(coalition, "youtube", item, "confirm")
    deadline = time.monotonic() + TIMEOUT
    while (verdict := _check(coalition, "twitter", picture))["event_type"] != "match.found":
        assert time.monotonic() < deadline, "a confirmation did not make the second backer"
    assert verdict["corroboration"] == ["tiktok", "youtube"]

    records = [r for r in _audit(coalition).read("2000-01-01") if item in r.item_ids]
    actions = [(r.action, r.actor) for r in records]
    assert ("share", "platform:tiktok") in actions
    assert sorted(a for a in actions if a[0] == "dispute") == [
        ("dispute", f"platform:{p}") for p in ("facebook", "reddit", "youtube")
    ]
    assert ("quarantine", "coalition") in actions
    assert ("restore", "operator:alice") in actions
    assert ("confirm", "platform:youtube") in actions


def test_an_audit_record_cannot_be_deleted_or_its_lock_shortened(coalition: Coalition) -> None:
    """Object Lock in compliance mode (the template's AuditBucket): deleting a record's version,
    which is what a function role would need to erase it, is refused whoever asks. (What moto does
    not enforce, shortening the lock and delete markers, the bucket policy denies to everyone:
    tests/integration/test_template.py.)"""
    _share(coalition, "tiktok", jpeg_bytes(scene(304)), "memes")  # a refusal: on the record
    s3 = coalition.clients("s3")
    bucket = coalition.outputs["AuditBucketName"]
    versions = s3.list_object_versions(Bucket=bucket, Prefix="audit/")["Versions"]
    assert versions
    record = versions[0]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=record["Key"], VersionId=record["VersionId"])
    assert s3.get_object(Bucket=bucket, Key=record["Key"], VersionId=record["VersionId"])["Body"].read()


def test_the_cli_gives_feedback_acts_as_operator_reads_the_audit_log_and_reports(
    coalition: Coalition, local_stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    where = ["--endpoint-url", local_stack.endpoint]
    item = _share(coalition, "pinterest", jpeg_bytes(scene(305)), "violent-extremism")["items"][0]["item_id"]

    assert main(["feedback", "--platform", "facebook", item, "--dispute", "--reason", "satire", *where]) == 0
    assert main(["feedback", "--platform", "facebook", item, "--dispute", *where]) == 2  # a dispute needs a reason
    capsys.readouterr()
    assert main(["operator", "quarantine", item, "--reason", "under review", "--operator", "bob", *where]) == 0
    (done,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (done["action"], done["actor"], done["outcome"]) == ("quarantine", "operator:bob", "done")
    assert main(["operator", "restore", "f" * 32, "--reason", "typo", *where]) == 1
    assert "no such item" in json.loads(capsys.readouterr().out)["reason"]

    deadline = time.monotonic() + TIMEOUT
    while True:
        assert main(["audit", "--item", item, *where]) == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        actions = [(r["action"], r["actor"]) for r in records]
        if ("dispute", "platform:facebook") in actions or time.monotonic() > deadline:
            break
    assert actions[0] == ("share", "platform:pinterest")
    assert ("dispute", "platform:facebook") in actions and ("quarantine", "operator:bob") in actions

    chart = tmp_path / "report.png"
    assert main(["report", "--format", "json", "--chart", str(chart), *where]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["items_by_contributor"]["pinterest"]["quarantined"] >= 1
    assert report["taxonomy_version"] and chart.stat().st_size > 0
