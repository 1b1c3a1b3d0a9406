"""Run by tests/integration/test_iam_enforced.py in a process of its own (moto's IAM enforcement
is process-wide). The audit log under IAM, as moto enforces it: the template's own policies, attached to roles,
against an Object Lock bucket. A coalition function's role may add a record and nothing else; a
member's role may not touch the audit log, nor drop an operator's request; even an administrator
cannot delete a locked record's version. (moto does not check s3:PutObjectRetention against IAM:
that the lock cannot be shortened rests on compliance mode and the bucket policy's deny,
tests/integration/test_template.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from hashmatch_tools.local.template import Stack

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
REGION = "us-east-1"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


def _session(credentials: dict[str, str]) -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION, **credentials)


@pytest.fixture(autouse=True)
def emulated() -> Iterator[None]:
    with mock_aws():
        yield


def _setup() -> dict[str, Any]:
    """With IAM enforced after the first three requests (the administrator's user): the template's
    ingest and audit buckets (the audit one with its Object Lock), and one record in it."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    stack = Stack.from_file(TEMPLATE, "hashmatch")
    s3 = _session(admin).client("s3")
    audit = stack.physical_names("AuditBucket")["ref"]
    ingest = stack.physical_names("IngestBucket")["ref"]
    s3.create_bucket(Bucket=audit, ObjectLockEnabledForBucket=True)
    lock = stack.resolve(stack.resources["AuditBucket"]["Properties"]["ObjectLockConfiguration"])
    lock["Rule"]["DefaultRetention"]["Days"] = int(lock["Rule"]["DefaultRetention"]["Days"])
    s3.put_object_lock_configuration(Bucket=audit, ObjectLockConfiguration=lock)
    s3.create_bucket(Bucket=ingest)
    put = s3.put_object(Bucket=audit, Key="audit/2026-12-04/first.json", Body=b"{}", ChecksumAlgorithm="SHA256")
    return {"admin": admin, "stack": stack, "audit": audit, "ingest": ingest, "version": put["VersionId"]}


def _role(aws: dict[str, Any], name: str, statements: list[dict[str, Any]]) -> Any:
    """An S3 client with the credentials of a role holding `statements`."""
    admin = _session(aws["admin"])
    iam = admin.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(document))
    credentials = admin.client("sts").assume_role(RoleArn=arn, RoleSessionName=name)["Credentials"]
    return _session(
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    ).client("s3")


def _function_statements(stack: Stack, function: str) -> list[dict[str, Any]]:
    policies = stack.resources[function]["Properties"]["Policies"]
    return [statement for policy in policies for statement in stack.resolve(policy)["Statement"]]


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"] in ("AccessDenied", "403")
    return False


@pytest.mark.parametrize("function", ["CheckFunction", "ShareFunction"])
@set_initial_no_auth_action_count(3)
def test_a_function_role_adds_records_and_can_neither_delete_nor_unlock_nor_read_them(function: str) -> None:
    aws = _setup()
    s3 = _role(aws, function, _function_statements(aws["stack"], function))
    bucket, key = aws["audit"], "audit/2026-12-04/first.json"
    s3.put_object(Bucket=bucket, Key="audit/2026-12-04/second.json", Body=b"{}", ChecksumAlgorithm="SHA256")
    assert _denied(s3.delete_object, Bucket=bucket, Key=key)
    assert _denied(s3.delete_object, Bucket=bucket, Key=key, VersionId=aws["version"])
    assert _denied(s3.get_object, Bucket=bucket, Key=key)
    assert _denied(s3.put_object, Bucket=bucket, Key="elsewhere.json", Body=b"{}")


@set_initial_no_auth_action_count(3)
def test_a_member_role_cannot_touch_the_audit_log_or_drop_operator_requests() -> None:
    aws = _setup()
    stack = aws["stack"]
    policy = stack.resolve(stack.resources["PlatformAccesstiktok"]["Properties"]["PolicyDocument"])
    s3 = _role(aws, "tiktok", policy["Statement"])
    assert not _denied(s3.put_object, Bucket=aws["ingest"], Key="feedback/tiktok/f.json", Body=b"{}")
    assert _denied(s3.put_object, Bucket=aws["ingest"], Key="feedback/youtube/f.json", Body=b"{}")
    assert _denied(s3.put_object, Bucket=aws["ingest"], Key="operator/r.json", Body=b"{}")
    assert _denied(s3.get_object, Bucket=aws["audit"], Key="audit/2026-12-04/first.json")
    assert _denied(s3.list_objects_v2, Bucket=aws["audit"])


@set_initial_no_auth_action_count(3)
def test_the_operators_role_drops_requests_and_reads_the_log_but_cannot_erase_it() -> None:
    aws = _setup()
    stack = aws["stack"]
    policy = stack.resolve(stack.resources["OperatorAccess"]["Properties"]["PolicyDocument"])
    s3 = _role(aws, "operators", policy["Statement"])
    s3.put_object(Bucket=aws["ingest"], Key="operator/r.json", Body=b"{}")
    assert s3.get_object(Bucket=aws["audit"], Key="audit/2026-12-04/first.json")["Body"].read() == b"{}"
    assert _denied(s3.delete_object, Bucket=aws["audit"], Key="audit/2026-12-04/first.json", VersionId=aws["version"])
    assert _denied(s3.put_object, Bucket=aws["ingest"], Key="share/tiktok/x.jpg", Body=b"{}")


@set_initial_no_auth_action_count(3)
def test_not_even_an_administrator_deletes_a_locked_record() -> None:
    aws = _setup()
    s3 = _session(aws["admin"]).client("s3")
    assert _denied(s3.delete_object, Bucket=aws["audit"], Key="audit/2026-12-04/first.json", VersionId=aws["version"])
    assert s3.get_object(Bucket=aws["audit"], Key="audit/2026-12-04/first.json", VersionId=aws["version"])
