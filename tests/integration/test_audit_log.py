"""The audit log on S3 (moto, Object Lock): a record is written once, where none is."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
from moto import mock_aws

from hashmatch.aws.audit import S3AuditLog, record_key
from hashmatch.service.ports import AuditRecord

pytestmark = pytest.mark.integration

BUCKET = "coalition-audit"


def test_a_record_written_again_is_not_a_second_version_and_reads_once() -> None:
    # A retried function writes the same record again: it is there already, under the same key.
    record = AuditRecord("remove", "operator:alice", "2026-12-04T10:00:00.000Z", item_ids=("i1",), reason="csam")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        log = S3AuditLog(BUCKET, s3, today=lambda: date(2026, 12, 4))
        log.append([record])
        log.append([record])
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix=record_key(record))["Versions"]
        assert len(versions) == 1
        assert list(log.read("2026-12-04T00:00:00.000Z")) == [record]
