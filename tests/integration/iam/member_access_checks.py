"""Run by tests/integration/test_iam_enforced.py in a process of its own (moto's IAM enforcement
is process-wide). Members in their own accounts, under IAM as moto enforces it: each platform's role holds the
template's own PlatformAccess<platform> policy; platform A's role cannot write under B's prefixes,
read B's uploads or results, or queue a submission; the hashing function's role reads the roles'
ids (and no other role) and tells A's session from B's.

moto holds S3, SQS and IAM to identity policies only (not to bucket or topic policies, nor to a
role's trust); it does not hold SNS to them at all. The bucket, topic and trust policies are
evaluated in tests/integration/test_template.py."""

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

from hashmatch.aws.member_roles import IamMemberRoles
from hashmatch.edge.principals import PrincipalCheck
from hashmatch.media.model import RejectReason
from hashmatch.service.routing import Route
from hashmatch_tools.local.template import Stack

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
REGION = "us-east-1"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}
MEMBERS = "tiktok:111111111111,facebook:222222222222"


@pytest.fixture(autouse=True)
def emulated() -> Iterator[None]:
    with mock_aws():
        yield


def _session(credentials: dict[str, str]) -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION, **credentials)


def _setup() -> dict[str, Any]:
    """With IAM enforced after the first three requests (the administrator's user): the stack with
    members, its ingest and results buckets and check queue, and tiktok's and facebook's roles as
    the template names them, each holding its platform's PlatformAccess statements."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    admin = _session({"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]})
    stack = Stack.from_file(TEMPLATE, "hashmatch", overrides={"Members": MEMBERS, "MemberExternalId": "x-7"})
    ingest, results = (stack.physical_names(b)["ref"] for b in ("IngestBucket", "ResultsBucket"))
    for bucket in (ingest, results):
        admin.client("s3").create_bucket(Bucket=bucket)
    queue = admin.client("sqs").create_queue(QueueName=stack.physical_names("CheckQueue")["QueueName"])["QueueUrl"]
    aws: dict[str, Any] = {"admin": admin, "stack": stack, "ingest": ingest, "results": results, "queue": queue}
    aws["roles"] = {platform: _platform_role(aws, platform) for platform in ("tiktok", "facebook")}
    return aws


def _platform_role(aws: dict[str, Any], platform: str) -> dict[str, Any]:
    """The platform's role (name and path from the template) with its PlatformAccess statements,
    and a session of it."""
    stack, iam = aws["stack"], aws["admin"].client("iam")
    spec = stack.resolve(stack.resources[f"MemberRole{platform}"]["Properties"])
    role = iam.create_role(
        RoleName=spec["RoleName"], Path=spec["Path"], AssumeRolePolicyDocument=json.dumps(TRUST), Tags=spec["Tags"]
    )["Role"]
    policy = stack.resolve(stack.resources[f"PlatformAccess{platform}"]["Properties"]["PolicyDocument"])
    iam.put_role_policy(RoleName=spec["RoleName"], PolicyName="access", PolicyDocument=json.dumps(policy))
    assumed = aws["admin"].client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName=f"{platform}-uploader")
    credentials = assumed["Credentials"]
    session = _session(
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    )
    # As S3 names the writer in an event record's userIdentity.principalId.
    principal = f"AWS:{assumed['AssumedRoleUser']['AssumedRoleId']}"
    return {"name": spec["RoleName"], "session": session, "principal": principal}


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"] in ("AccessDenied", "403", "AccessDeniedException")
    return False


@set_initial_no_auth_action_count(3)
def test_a_platforms_role_writes_its_own_prefixes_and_never_anothers() -> None:
    aws = _setup()
    s3 = aws["roles"]["tiktok"]["session"].client("s3")
    for action in ("check", "share", "withdraw", "feedback", "incident"):
        s3.put_object(Bucket=aws["ingest"], Key=f"{action}/tiktok/a.jpg", Body=b"x")
        assert _denied(s3.put_object, Bucket=aws["ingest"], Key=f"{action}/facebook/a.jpg", Body=b"x")
    assert _denied(s3.put_object, Bucket=aws["ingest"], Key="operator/r.json", Body=b"{}")
    listed = aws["admin"].client("s3").list_objects_v2(Bucket=aws["ingest"])["Contents"]
    assert sorted(o["Key"].split("/")[1] for o in listed) == ["tiktok"] * 5


@set_initial_no_auth_action_count(3)
def test_a_platforms_role_reads_neither_anothers_uploads_nor_its_results() -> None:
    aws = _setup()
    facebook = aws["roles"]["facebook"]["session"].client("s3")
    facebook.put_object(Bucket=aws["ingest"], Key="share/facebook/secret.jpg", Body=b"x")
    admin = aws["admin"].client("s3")
    for platform in ("tiktok", "facebook"):
        admin.put_object(Bucket=aws["results"], Key=f"results/{platform}/r.json", Body=b"{}")
    tiktok = aws["roles"]["tiktok"]["session"].client("s3")
    assert _denied(tiktok.get_object, Bucket=aws["ingest"], Key="share/facebook/secret.jpg")
    assert _denied(tiktok.list_objects_v2, Bucket=aws["ingest"], Prefix="share/facebook/")
    assert _denied(tiktok.delete_object, Bucket=aws["ingest"], Key="share/facebook/secret.jpg")
    assert tiktok.get_object(Bucket=aws["results"], Key="results/tiktok/r.json")["Body"].read() == b"{}"
    assert _denied(tiktok.get_object, Bucket=aws["results"], Key="results/facebook/r.json")


@set_initial_no_auth_action_count(3)
def test_a_platforms_role_cannot_queue_a_submission_past_the_hashing_function() -> None:
    aws = _setup()
    sqs = aws["roles"]["tiktok"]["session"].client("sqs")
    assert _denied(sqs.send_message, QueueUrl=aws["queue"], MessageBody="{}")


@set_initial_no_auth_action_count(3)
def test_the_hashing_function_reads_the_roles_ids_and_tells_one_platforms_session_from_anothers() -> None:
    aws = _setup()
    stack, iam = aws["stack"], aws["admin"].client("iam")
    iam.create_role(RoleName="unrelated", AssumeRolePolicyDocument=json.dumps(TRUST))
    statements = [
        s for p in stack.resources["HashFunction"]["Properties"]["Policies"] for s in stack.resolve(p)["Statement"]
    ]
    role = iam.create_role(RoleName="HashFunctionRole", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName="HashFunctionRole", PolicyName="hash", PolicyDocument=json.dumps(document))
    credentials = aws["admin"].client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="edge")["Credentials"]
    edge = _session(
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    ).client("iam")
    names = {platform: aws["roles"][platform]["name"] for platform in ("tiktok", "facebook")}
    check = PrincipalCheck(IamMemberRoles(names, edge))
    tiktok, facebook = (aws["roles"][p]["principal"] for p in ("tiktok", "facebook"))
    assert tiktok.startswith("AWS:AROA") and tiktok.endswith(":tiktok-uploader")
    assert check.refusal(Route("share", "tiktok"), tiktok) is None
    refused = check.refusal(Route("share", "tiktok"), facebook)
    assert refused is not None and refused.reason is RejectReason.WRONG_PRINCIPAL
    assert check.refusal(Route("share", "facebook"), facebook) is None
    assert _denied(edge.get_role, RoleName="unrelated")
    with pytest.raises(ClientError):  # a role it may not read is an error, never a pass
        IamMemberRoles({"tiktok": "unrelated"}, edge).role_ids()
