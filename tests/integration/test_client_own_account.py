"""The CLI's client for a member in an AWS account of its own (moto): its inbox queue is made and
read in its own account, everything else goes through the role the coalition made for it.

moto lets any session assume any role and enforces no policy here: what each role may do is in
tests/integration/test_template.py and tests/integration/iam/; this holds where each call goes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from hashmatch_tools.client import Clients, Coalition
from hashmatch_tools.local.template import Stack

pytestmark = pytest.mark.integration

REGION = "us-east-1"
MEMBER_ACCOUNT = "111111111111"


def _engineer() -> boto3.session.Session:
    """A session of the member's own account (its engineer's)."""
    sts = boto3.client("sts", region_name=REGION)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/engineer", RoleSessionName="engineer")[
        "Credentials"
    ]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def _coalition(stack: Stack) -> Coalition:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName=f"{stack.name}-tiktok",
        Path=f"/hashmatch-members/{stack.name}/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    outputs = {k: str(v) for k, v in stack.outputs().items()}
    clients = Clients(region=REGION, coalition_role=role, external_id="shared-secret", session=_engineer())
    coalition = Coalition(outputs["IngestBucketName"], list(stack.parameters["Platforms"]), clients, {}, None, outputs)
    return coalition


def test_a_member_in_its_own_account_keeps_its_inbox_there_and_reaches_the_coalition_through_its_role(
    moto_aws: Stack,
) -> None:
    coalition = _coalition(moto_aws)

    subscribed = coalition.subscribe("tiktok", confirm_seconds=0)

    assert f"/{MEMBER_ACCOUNT}/" in subscribed["queue_url"]  # the queue is the member's own
    sns = boto3.client("sns", region_name=REGION)
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=coalition.topic_arn("tiktok"))["Subscriptions"]
    assert subscription["Endpoint"].split(":")[4] == MEMBER_ACCOUNT
    assert subscribed["confirmed"] is False  # moto asks for no confirmation
    identity = coalition.clients.coalition_session.client("sts").get_caller_identity()
    assert identity["Arn"].startswith(f"arn:aws:sts::{moto_aws.account_id}:assumed-role/{moto_aws.name}-tiktok/")

    key = coalition.put("share", "tiktok", "a.jpg", b"x")

    s3 = boto3.client("s3", region_name=REGION)
    assert s3.head_object(Bucket=coalition.bucket, Key=key)["ContentLength"] == 1
    assert coalition.inbox_url("tiktok") == subscribed["queue_url"]


def test_a_subscription_from_another_account_is_confirmed_through_the_role(moto_aws: Stack) -> None:
    coalition = _coalition(moto_aws)
    queue = coalition.clients("sqs").create_queue(QueueName=coalition.inbox_name("tiktok"))["QueueUrl"]
    topic = coalition.topic_arn("tiktok")
    confirmation = {"Type": "SubscriptionConfirmation", "TopicArn": topic, "Token": "t0k3n", "Message": "confirm"}
    coalition.clients("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(confirmation))
    confirmed: list[dict[str, Any]] = []
    sns = coalition.clients("sns")
    real = sns.confirm_subscription

    def recorded(**request: Any) -> Any:
        confirmed.append(request)
        return real(**request)

    sns.confirm_subscription = recorded

    subscribed = coalition.subscribe("tiktok", confirm_seconds=5)

    assert subscribed["confirmed"] is True
    assert confirmed == [{"TopicArn": topic, "Token": "t0k3n", "AuthenticateOnUnsubscribe": "true"}]
    assert coalition.clients("sqs").receive_message(QueueUrl=queue).get("Messages", []) == []
