"""Fixtures for integration tests: moto in process, Amazon's DynamoDB Local, and the bank table.

Every table is created from template.yaml's own definition. DynamoDB Local runs only inside a
private network namespace (see tests/integration/dynamodb_local.py); elsewhere its tests are
skipped with a reason that says so, or fail when CI demands it (CI set and
HASHMATCH_REQUIRE_DYNAMODB_LOCAL=1).
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from hashmatch_tools.local.stack import LOCAL_CREDENTIALS, _create_table, provision
from hashmatch_tools.local.template import Stack
from tests.integration.dynamodb_local import (
    DynamoDBLocal,
    DynamoDBLocalUnavailable,
    find_installation,
    isolation_problem,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
STACK_NAME = "hashmatch-test"
REGION = LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"]
BANK_TABLE = "BankTable"
REQUIRE_DYNAMODB_LOCAL = "HASHMATCH_REQUIRE_DYNAMODB_LOCAL"
UNAVAILABLE_BANNER = "DYNAMODB LOCAL NOT RUNNING, ITS TESTS DID NOT RUN"


def _dynamodb_local_required() -> bool:
    return bool(os.environ.get("CI")) and os.environ.get(REQUIRE_DYNAMODB_LOCAL) == "1"


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """The endpoint of an in-memory DynamoDB Local for this session (one per xdist worker).

    Skips when the jar is not installed or the process is not in a private network namespace;
    fails instead when CI is set and HASHMATCH_REQUIRE_DYNAMODB_LOCAL=1.
    """
    problems = []
    installation = None
    try:
        installation = find_installation()
    except DynamoDBLocalUnavailable as error:
        problems.append(str(error))
    isolation = isolation_problem()
    if isolation:
        problems.append(isolation)
    server = DynamoDBLocal(installation)
    if not problems:
        try:
            server.start()
        except DynamoDBLocalUnavailable as error:
            problems.append(str(error))
    if problems:
        reason = f"{UNAVAILABLE_BANNER}: " + "; ".join(problems)
        if _dynamodb_local_required():
            pytest.fail(f"{reason} (required: CI is set and {REQUIRE_DYNAMODB_LOCAL}=1)", pytrace=False)
        pytest.skip(reason)
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; no endpoint override left over from a local stack in this process."""
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def moto_in_process() -> Iterator[None]:
    """moto's `mock_aws`, minus its resets of moto's state on the way in and out.

    moto holds one set of backends per process, which a moto server thread in the same process
    (the e2e local stack, when pytest-xdist puts both in one worker) serves too: the default
    reset would empty that server in mid-session. Tests here stay apart by unique resource names
    and delete what they created.
    """
    mock = mock_aws()
    mock.start(reset=False)
    try:
        yield
    finally:
        mock.stop(remove_data=False)


def _unique_stack() -> Stack:
    return Stack.from_file(TEMPLATE, f"{STACK_NAME}-{uuid.uuid4().hex[:12]}")


def _delete_resources(stack: Stack, make_client: Callable[[str], Any]) -> None:
    """Deletes what `provision` created for `stack` (what is gone already is skipped)."""
    dynamodb, sqs, sns, s3 = (make_client(name) for name in ("dynamodb", "sqs", "sns", "s3"))
    deletions: list[Callable[[], Any]] = []
    for logical in stack.of_type("AWS::DynamoDB::Table"):
        deletions.append(functools.partial(dynamodb.delete_table, TableName=stack.physical_names(logical)["ref"]))
    for logical in stack.of_type("AWS::SQS::Queue"):
        deletions.append(functools.partial(sqs.delete_queue, QueueUrl=stack.physical_names(logical)["ref"]))
    for logical in stack.of_type("AWS::SNS::Topic"):
        deletions.append(functools.partial(sns.delete_topic, TopicArn=stack.physical_names(logical)["ref"]))
    for logical in stack.of_type("AWS::S3::Bucket"):
        bucket = stack.physical_names(logical)["ref"]
        deletions.append(functools.partial(_empty_bucket, s3, bucket))
        deletions.append(functools.partial(s3.delete_bucket, Bucket=bucket))
    for delete in deletions:
        with suppress(ClientError):
            delete()


def _empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for listed in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=listed["Key"])


@pytest.fixture
def moto_aws(aws_credentials: None) -> Iterator[Stack]:
    """moto in process with template.yaml's tables, topics, queues and buckets; yields the Stack.

    The stack is named `hashmatch-test-<random>`: resources are found by `stack.physical_names`.
    """
    stack = _unique_stack()
    with moto_in_process():

        def make_client(service: str) -> Any:
            return boto3.session.Session(region_name=REGION).client(service)

        provision(stack, make_client)
        try:
            yield stack
        finally:
            _delete_resources(stack, make_client)


@dataclass(frozen=True)
class BankBackend:
    """A DynamoDB implementation holding a fresh bank table built from template.yaml."""

    name: str
    table_name: str
    resource: Any
    client: Any


@pytest.fixture(params=["moto", "dynamodb-local"])
def bank_backend(request: pytest.FixtureRequest, aws_credentials: None) -> Iterator[BankBackend]:
    """A fresh bank table on moto in process, then on DynamoDB Local (skipped or failed as its fixture decides).

    Both get the table alone, built by the local stack's own table builder from template.yaml's
    definition: provisioning every resource of the template on moto costs 1-2 s per test.
    """
    # One stack name (so one table) per test: tests share a server (and moto its state), never a table.
    stack = _unique_stack()
    table_name = stack.physical_names(BANK_TABLE)["ref"]
    properties = stack.resolve(stack.resources[BANK_TABLE].get("Properties", {}))
    session = boto3.session.Session(region_name=REGION)
    if request.param == "moto":
        with moto_in_process():
            client = session.client("dynamodb")
            _create_table(client, table_name, properties)
            try:
                yield BankBackend("moto", table_name, session.resource("dynamodb"), client)
            finally:
                client.delete_table(TableName=table_name)
        return
    endpoint: str = request.getfixturevalue("dynamodb_local_endpoint")
    client = session.client("dynamodb", endpoint_url=endpoint)
    _create_table(client, table_name, properties)
    try:
        yield BankBackend("dynamodb-local", table_name, session.resource("dynamodb", endpoint_url=endpoint), client)
    finally:
        client.delete_table(TableName=table_name)
