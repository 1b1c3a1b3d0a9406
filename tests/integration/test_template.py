"""Security and wiring properties of template.yaml, checked on the template itself (no AWS, no network).

The template is read with the same loader the local stack uses (`hashmatch.local.template`), which turns
CloudFormation's short tags into data and expands `Fn::ForEach` per platform, so these tests also show
that the local stack can read what is deployed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hashmatch.service.routing import ACTIONS
from hashmatch_tools.local.template import Stack, load_template

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
STACK_NAME = "hashmatch"
ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = f"{STACK_NAME}-ingest-{ACCOUNT}-{REGION}"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
PLATFORMS = ["tiktok", "facebook", "instagram", "youtube", "twitter", "twitch", "snapchat", "pinterest", "reddit"]
QUEUES = {
    "HashQueue": "HashDeadLetterQueue",
    "CheckQueue": "CheckDeadLetterQueue",
    "ShareQueue": "ShareDeadLetterQueue",
}
FUNCTIONS = {"HashFunction": "HashQueue", "CheckFunction": "CheckQueue", "ShareFunction": "ShareQueue"}
COALITION_FUNCTIONS = ("CheckFunction", "ShareFunction")
RETAINED_SHARD_WRITES = ("s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack.from_file(TEMPLATE, STACK_NAME)


def _props(stack: Stack, logical: str) -> dict[str, Any]:
    return stack.resources[logical].get("Properties", {})


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return _as_list(document["Statement"])


def _denies_insecure_transport(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {}).get("Bool", {})
    return (
        statement["Effect"] == "Deny"
        and statement.get("Principal") == "*"
        and str(condition.get("aws:SecureTransport")).lower() == "false"
    )


def _function_properties(template: dict[str, Any], stack: Stack, logical: str) -> dict[str, Any]:
    return {**template.get("Globals", {}).get("Function", {}), **_props(stack, logical)}


# ---------------------------------------------------------------- parameters and shape


def test_platforms_parameter_default_and_pattern(template: dict[str, Any]) -> None:
    spec = template["Parameters"]["Platforms"]
    assert spec["Type"] == "CommaDelimitedList"
    assert spec["Default"].split(",") == PLATFORMS
    # Names become logical IDs (Fn::ForEach), S3 prefixes and topic names.
    pattern = re.compile(spec["AllowedPattern"])
    assert all(pattern.fullmatch(p) for p in PLATFORMS)
    for bad in ("TikTok", "x-platform", "a b", "", "9gag"):
        assert not pattern.fullmatch(bad), bad


def test_every_platform_gets_topic_policy_and_access_policy(stack: Stack) -> None:
    for platform in PLATFORMS:
        assert stack.resources[f"PlatformTopic{platform}"]["Type"] == "AWS::SNS::Topic"
        assert stack.resources[f"PlatformTopicPolicy{platform}"]["Type"] == "AWS::SNS::TopicPolicy"
        assert stack.resources[f"PlatformAccess{platform}"]["Type"] == "AWS::IAM::ManagedPolicy"
        topic = stack.physical_names(f"PlatformTopic{platform}")
        assert topic["TopicName"] == f"{STACK_NAME}-{platform}"


def test_fewer_platforms_give_fewer_resources() -> None:
    stack = Stack.from_file(TEMPLATE, STACK_NAME, overrides={"Platforms": "alpha,beta"})
    topics = sorted(stack.of_type("AWS::SNS::Topic"))
    assert topics == ["OperatorAlarmTopic", "PlatformTopicalpha", "PlatformTopicbeta"]


MATCHING_FUNCTIONS = ("CheckFunction", "ShareFunction", "RetroScanFunction", "LookupFunction")


def test_function_environment_contract(template: dict[str, Any], stack: Stack) -> None:
    for logical in COALITION_FUNCTIONS:
        env = stack.function_environment(logical)
        assert env["TABLE_NAME"] == stack.physical_names("BankTable")["ref"]
        assert env["PLATFORMS"] == ",".join(PLATFORMS)
        assert env["TOPIC_ARN_TEMPLATE"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK_NAME}-{{platform}}"
        assert env["POWERTOOLS_SERVICE_NAME"] == "hashmatch"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        # Every platform topic is where the template says it is.
        for platform in PLATFORMS:
            topic = stack.physical_names(f"PlatformTopic{platform}")["TopicArn"]
            assert env["TOPIC_ARN_TEMPLATE"].replace("{platform}", platform) == topic
    # Whatever matches does so at the member's thresholds: checks, retroactive scans and their
    # slices, and lookups.
    thresholds = {stack.function_environment(f).get("PLATFORM_THRESHOLDS") for f in MATCHING_FUNCTIONS}
    assert thresholds == {stack.function_environment("CheckFunction")["PLATFORM_THRESHOLDS"]}
    edge = stack.function_environment("HashFunction")
    assert edge["CHECK_QUEUE_URL"] == stack.physical_names("CheckQueue")["ref"]
    assert edge["SHARE_QUEUE_URL"] == stack.physical_names("ShareQueue")["ref"]
    assert edge["SIGNALS_BUCKET"] == stack.physical_names("SignalsBucket")["ref"]
    handoffs = stack.physical_names("HandOffTable")["ref"]
    assert edge["HANDOFF_TABLE"] == handoffs
    # Who reads the edge's hand-off records (a `gone` for an object handed on is no answer).
    assert {f for f in COALITION_FUNCTIONS if stack.function_environment(f).get("HANDOFF_TABLE") == handoffs} == {
        "CheckFunction",
        "ShareFunction",
    }
    assert edge["LOOKUP_API_URL"].startswith("https://")
    # The hashing function is told of no table, topic or snapshot.
    assert not {"TABLE_NAME", "TOPIC_ARN_TEMPLATE", "SNAPSHOT_BUCKET", "RESULTS_BUCKET"} & set(edge)
    function = template["Globals"]["Function"]
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["x86_64"]


def test_outputs(stack: Stack) -> None:
    outputs = stack.outputs()
    for name in (
        "IngestBucketName",
        "BankTableName",
        "HashQueueUrl",
        "HashDeadLetterQueueUrl",
        "SignalsBucketName",
        "ResultsBucketName",
        "LookupApiUrl",
        "CheckQueueUrl",
        "ShareQueueUrl",
        "CheckDeadLetterQueueUrl",
        "ShareDeadLetterQueueUrl",
        "TopicArnTemplate",
        "PlatformList",
    ):
        assert name in outputs, name
    assert outputs["IngestBucketName"] == BUCKET
    assert outputs["PlatformList"] == ",".join(PLATFORMS)
    for platform in PLATFORMS:
        assert outputs[f"Topic{platform}Arn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK_NAME}-{platform}"


# ---------------------------------------------------------------- ingest bucket


def test_bucket_is_private_encrypted_and_owner_enforced(stack: Stack) -> None:
    bucket = _props(stack, "IngestBucket")
    assert stack.resolve(bucket["BucketName"]) == BUCKET
    block = bucket["PublicAccessBlockConfiguration"]
    for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        assert block[key] is True, key
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "VersioningConfiguration" not in bucket  # versions would keep deleted media


def test_raw_objects_expire_under_every_ingest_prefix(stack: Stack) -> None:
    rules = _props(stack, "IngestBucket")["LifecycleConfiguration"]["Rules"]
    expiring = {r["Prefix"]: r["ExpirationInDays"] for r in rules if r["Status"] == "Enabled" and "Prefix" in r}
    assert set(expiring) >= {f"{action}/" for action in ACTIONS}
    assert all(days == {"Ref": "RawObjectRetentionDays"} for days in expiring.values())
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)


def test_every_dropped_object_goes_to_the_hashing_function_first(stack: Stack) -> None:
    bucket = stack.resources["IngestBucket"]
    assert bucket["DependsOn"] in ("IngestQueuePolicy", ["IngestQueuePolicy"])
    routes = {}
    for entry in bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]:
        assert entry["Event"] == "s3:ObjectCreated:*"
        (rule,) = entry["Filter"]["S3Key"]["Rules"]
        assert rule["Name"] == "prefix"
        routes[rule["Value"]] = entry["Queue"]
    assert routes == {f"{action}/": {"Fn::GetAtt": ["HashQueue", "Arn"]} for action in ACTIONS}


def test_bucket_policy_is_tls_only_and_confines_writes(stack: Stack) -> None:
    policy = stack.resolve(_props(stack, "IngestBucketPolicy"))
    statements = _statements(policy["PolicyDocument"])
    assert not [s for s in statements if s["Effect"] == "Allow"], "access is granted by identity policies only"
    tls = [s for s in statements if _denies_insecure_transport(s)]
    assert tls and tls[0]["Action"] == "s3:*"
    assert set(_as_list(tls[0]["Resource"])) == {BUCKET_ARN, f"{BUCKET_ARN}/*"}
    outside = [s for s in statements if "NotResource" in s]
    assert len(outside) == 1 and outside[0]["Effect"] == "Deny"
    assert set(outside[0]["NotResource"]) == {f"{BUCKET_ARN}/{action}/*" for action in ACTIONS}


# ---------------------------------------------------------------- queues


@pytest.mark.parametrize(("queue", "dead_letter_queue"), QUEUES.items())
def test_queue_redrives_to_its_dead_letter_queue(stack: Stack, queue: str, dead_letter_queue: str) -> None:
    redrive = _props(stack, queue)["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dead_letter_queue, "Arn"]}
    assert int(redrive["maxReceiveCount"]) == 5
    assert int(_props(stack, dead_letter_queue)["MessageRetentionPeriod"]) == 14 * 24 * 3600


@pytest.mark.parametrize(("function", "queue"), FUNCTIONS.items())
def test_visibility_timeout_covers_six_function_timeouts(
    template: dict[str, Any], stack: Stack, function: str, queue: str
) -> None:
    timeout = int(_function_properties(template, stack, function)["Timeout"])
    assert int(_props(stack, queue)["VisibilityTimeout"]) >= 6 * timeout


def test_every_queue_is_encrypted(stack: Stack) -> None:
    queues = stack.of_type("AWS::SQS::Queue")
    assert set(queues) == set(QUEUES) | set(QUEUES.values()) | {"ParkedQueue"}
    for logical, spec in queues.items():
        properties = spec["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, logical


def test_ingest_queue_policy_admits_only_this_bucket(stack: Stack) -> None:
    properties = _props(stack, "IngestQueuePolicy")
    assert properties["Queues"] == [{"Ref": "HashQueue"}]
    statements = _statements(stack.resolve(properties["PolicyDocument"]))
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == BUCKET_ARN
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    assert any(_denies_insecure_transport(s) for s in statements)


def test_submission_and_dead_letter_queues_are_tls_only_and_grant_nothing(stack: Stack) -> None:
    properties = _props(stack, "InternalQueuePolicy")
    internal = ["CheckQueue", "ShareQueue", *QUEUES.values(), "ParkedQueue"]
    assert sorted(properties["Queues"], key=str) == sorted(({"Ref": q} for q in internal), key=str)
    statements = _statements(properties["PolicyDocument"])
    assert all(s["Effect"] == "Deny" for s in statements)
    assert any(_denies_insecure_transport(s) for s in statements)


# ---------------------------------------------------------------- bank


def test_bank_table(stack: Stack) -> None:
    table = _props(stack, "BankTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    attributes = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert attributes == {"pk": "S", "sk": "S"}
    # No secondary index: every query reads a partition of the table itself, and no write pays twice.
    assert "GlobalSecondaryIndexes" not in table and "LocalSecondaryIndexes" not in table
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert stack.resolve(table["DeletionProtectionEnabled"]) is True  # default: Retain


# ---------------------------------------------------------------- topics and platform access


def test_topics_are_encrypted(stack: Stack) -> None:
    for logical, spec in stack.of_type("AWS::SNS::Topic").items():
        assert spec["Properties"].get("KmsMasterKeyId"), logical


def _unless_conditional(stack: Stack, statements: list[Any]) -> list[dict[str, Any]]:
    """`statements` with each `Fn::If` one resolved (dropped when it gives `AWS::NoValue`), the others as written."""
    chosen = [stack.resolve(s) if set(s) == {"Fn::If"} else s for s in statements]
    return [s for s in chosen if s is not None]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_topic_policy_grants_nothing_and_is_tls_only(stack: Stack, platform: str) -> None:
    properties = _props(stack, f"PlatformTopicPolicy{platform}")
    own_topic = {"Fn::GetAtt": [{"Fn::Sub": f"PlatformTopic{platform}"}, "TopicArn"]}
    assert properties["Topics"] == [own_topic]
    statements = _unless_conditional(stack, _statements(properties["PolicyDocument"]))
    # No Allow: the account-wide default topic policy is replaced; identity policies decide.
    assert all(s["Effect"] == "Deny" for s in statements)
    assert all(s["Resource"] == own_topic for s in statements)
    assert any(_denies_insecure_transport(s) for s in statements)
    (publish,) = [s for s in statements if s["Action"] == "sns:Publish"]
    allowed_publishers = publish["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert allowed_publishers == [{"Fn::GetAtt": [f, "Arn"]} for f in ("CheckFunctionRole", "ShareFunctionRole")]
    (subscribe,) = [s for s in statements if s["Action"] == "sns:Subscribe"]
    assert "http" not in subscribe["Condition"]["StringNotEquals"]["sns:Protocol"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_platform_access_grants_only_its_own_prefixes_and_topic(stack: Stack, platform: str) -> None:
    from hashmatch.aws.retained import RETAINED_PREFIX

    document = stack.resolve(_props(stack, f"PlatformAccess{platform}")["PolicyDocument"])
    granted: dict[str, set[str]] = {}
    for statement in _statements(document):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in _as_list(statement["Action"]):
            granted.setdefault(action, set()).update(_as_list(statement["Resource"]))
            if action.startswith("dynamodb:"):  # only its own retained checks (`hashmatch purge`)
                own = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{RETAINED_PREFIX}{platform}#*"]}}
                assert statement["Condition"] == own
    results = stack.physical_names("ResultsBucket")["Arn"]
    retained = stack.physical_names("RetainedBucket")["Arn"]
    api = stack.physical_names("LookupApi")["ref"]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{stack.physical_names('BankTable')['ref']}"
    expected = {
        "s3:PutObject": {f"{BUCKET_ARN}/{action}/{platform}/*" for action in ACTIONS if action != "operator"},
        "s3:GetObject": {f"{results}/results/{platform}/*"},
        # Its own topic: subscribe, find its subscriptions, confirm one from its own account.
        **{
            action: {f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK_NAME}-{platform}"}
            for action in ("sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:ConfirmSubscription")
        },
        # The stack's outputs, for `--stack-name` through its role.
        "cloudformation:DescribeStacks": {f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/*"},
        "execute-api:Invoke": {
            f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/*/{route}"
            for route in ("POST/v1/candidates", "POST/v1/lookup", "GET/v1/items/*", "GET/v1/stats")
        },
        "dynamodb:Query": {table},
        "dynamodb:DeleteItem": {table},
        "dynamodb:BatchWriteItem": {table},
        "s3:ListBucket": {retained},
    }
    # Its own compacted retained checks: listed, read, rewritten or deleted by `hashmatch purge`.
    for action in RETAINED_SHARD_WRITES:
        expected.setdefault(action, set()).add(f"{retained}/retained/{platform}/*")
    assert granted == expected
    (listing,) = [s for s in _statements(document) if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"retained/{platform}/*"]}}


# ---------------------------------------------------------------- functions


@pytest.mark.parametrize(("function", "queue"), FUNCTIONS.items())
def test_event_source_reports_batch_item_failures(
    template: dict[str, Any], stack: Stack, function: str, queue: str
) -> None:
    properties = _function_properties(template, stack, function)
    events = properties["Events"]
    # Its queue, and its own dead-letter queue (answered and parked, `hashmatch.aws.entrypoint`).
    assert {e["Properties"]["Queue"]["Fn::GetAtt"][0] for e in events.values()} == {queue, QUEUES[queue]}
    for event in events.values():
        assert event["Type"] == "SQS"
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["Handler"] == "app.handler"
    assert properties["Layers"] == [{"Ref": "HashmatchLayer"}, {"Ref": "DepsLayer"}]


def test_every_dead_letter_queue_is_known_with_the_queue_it_serves(stack: Stack) -> None:
    env = stack.function_environment("CheckFunction")
    dead_letters = json.loads(env["DEAD_LETTERS"])
    assert dead_letters == {
        stack.physical_names(dlq)["Arn"]: stack.physical_names(queue)["ref"] for queue, dlq in QUEUES.items()
    }
    assert env["PARKED_QUEUE_URL"] == stack.physical_names("ParkedQueue")["ref"]


def _granted(stack: Stack, function: str) -> dict[str, set[str]]:
    """Every action the function's own policies allow, with the resources, checked for wildcards."""
    policies = _props(stack, function)["Policies"]
    assert all(isinstance(p, dict) and set(p) == {"Statement"} for p in policies), "inline statements only"
    statements = [s for p in policies for s in stack.resolve(p)["Statement"]]
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in _as_list(statement["Action"]):
            assert "*" not in action, action
            granted.setdefault(action, set()).update(_as_list(statement["Resource"]))
    assert all(r != "*" for resources in granted.values() for r in resources)
    return granted


def test_the_hashing_function_holds_no_bank_and_no_topic(stack: Stack) -> None:
    """A decoder exploit in the hashing function can read and delete dropped objects, queue
    submissions (which the coalition validates) and record hand-offs in a table of their own: it
    cannot read or write the bank or speak to a platform."""
    granted = _granted(stack, "HashFunction")
    handoffs = stack.physical_names("HandOffTable")["Arn"]
    assert granted.get("dynamodb:PutItem") == {handoffs}
    assert not [a for a in granted if a.startswith("sns:") or (a.startswith("dynamodb:") and a != "dynamodb:PutItem")]
    parked = stack.physical_names("ParkedQueue")["Arn"]
    objects = {f"{BUCKET_ARN}/{action}/*" for action in ACTIONS}
    signals = stack.physical_names("SignalsBucket")["Arn"]
    api = stack.physical_names("LookupApi")["ref"]
    # A long shared video's segments: queued back to the hashing queue, their hashes kept and read
    # under signals/segments/ until all are in.
    segments = f"{signals}/signals/segments/*"
    assert granted == {
        "s3:GetObject": objects | {segments},
        "s3:DeleteObject": objects | {segments},
        "s3:ListBucket": {BUCKET_ARN, signals},
        "s3:PutObject": {f"{signals}/signals/*"},
        "sqs:SendMessage": {stack.physical_names(q)["Arn"] for q in ("CheckQueue", "ShareQueue", "HashQueue")}
        | {parked},
        "execute-api:Invoke": {f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/*/POST/v1/candidates"},
        # Members in their own accounts: the ids of the platforms' roles, to tell who wrote an object.
        "iam:GetRole": {f"arn:aws:iam::{ACCOUNT}:role/hashmatch-members/{STACK_NAME}/*"},
        "dynamodb:PutItem": {handoffs},
    }


@pytest.mark.parametrize("function", COALITION_FUNCTIONS)
def test_the_coalition_functions_never_read_media(stack: Stack, function: str) -> None:
    granted = _granted(stack, function)
    ingest = [r for resources in granted.values() for r in resources if r.startswith(BUCKET_ARN)]
    assert ingest == [], "no access to the ingest bucket, where media is"
    signals = stack.physical_names("SignalsBucket")["Arn"]
    results = stack.physical_names("ResultsBucket")["Arn"]
    answers = f"{results}/answers/*"  # kept answers too large for their bank record
    # The share function's retroactive scan reads compacted retained checks (hashes only).
    retained = stack.physical_names("RetainedBucket")["Arn"]
    shards = {f"{retained}/retained/*"} if function == "ShareFunction" else set()
    # ... and fans it out: the new items for the workers, their answers too large to return.
    scans = {f"{retained}/scans/*"} if function == "ShareFunction" else set()
    assert granted.pop("s3:GetObject") == {f"{signals}/signals/*", answers, *shards, *scans}
    assert granted.pop("s3:DeleteObject") == {f"{signals}/signals/*", *scans}
    assert granted.pop("s3:ListBucket") == {signals, *({retained} if shards else set())}
    assert granted.pop("sns:Publish") == {f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK_NAME}-*"}
    assert granted.pop("sqs:SendMessage") == {stack.physical_names("ParkedQueue")["Arn"]}
    audit = f"{stack.physical_names('AuditBucket')['Arn']}/audit/*"
    if function == "CheckFunction":
        assert granted.pop("s3:PutObject") == {f"{results}/results/*", answers, audit}
    else:
        assert granted.pop("s3:PutObject") == {answers, audit, *scans}
    if function == "ShareFunction":
        assert granted.pop("lambda:InvokeFunction") == {stack.physical_names("RetroScanFunction")["Arn"]}
    # The edge's hand-off records: read, nothing else.
    handoffs = stack.physical_names("HandOffTable")["Arn"]
    assert handoffs in granted["dynamodb:GetItem"]
    granted["dynamodb:GetItem"].discard(handoffs)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{stack.physical_names('BankTable')['ref']}"
    assert all(action.startswith("dynamodb:") for action in granted)
    assert all(resources <= {table} for resources in granted.values()), granted


def test_a_matcher_writes_only_kept_answers_and_its_own_records(stack: Stack) -> None:
    from hashmatch.aws.answers import ANSWER_PREFIX

    statements = [s for p in _props(stack, "CheckFunction")["Policies"] for s in p["Statement"]]
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    writing = [s for s in statements if writes & set(_as_list(s["Action"]))]
    from hashmatch.aws.dynamodb import INCIDENT_MATCHES_PREFIX, INCIDENT_PREFIX
    from hashmatch.aws.retained import RETAINED_PREFIX

    allowed = [
        f"{ANSWER_PREFIX}*",
        f"{RETAINED_PREFIX}*",
        "NOTICE#*",
        "MATCHES#*",
        f"{INCIDENT_MATCHES_PREFIX}*",
    ]
    assert writing and all(
        s["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": allowed}} for s in writing
    )
    # No bank partition starts like a kept answer's.
    for prefix in ("ITEM#", "HASH#", "LOG", "QUOTA#", INCIDENT_PREFIX):
        assert not any(prefix.startswith(a.rstrip("*")) for a in allowed), prefix


def test_the_audit_log_is_locked_and_nobody_may_rewrite_it(stack: Stack) -> None:
    """Object Lock in compliance mode, versioned; the bucket policy denies deletes (delete markers
    included), lock changes and ACLs to every principal; functions may only add records and no
    member policy names the bucket."""
    bucket = _props(stack, "AuditBucket")
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    arn = stack.physical_names("AuditBucket")["Arn"]
    statements = _statements(stack.resolve(_props(stack, "AuditBucketPolicy"))["PolicyDocument"])
    assert any(_denies_insecure_transport(s) for s in statements)
    (deny,) = [s for s in statements if s.get("Sid") == "DenyRewritingTheRecord"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Resource"] == f"{arn}/*"
    assert {
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutObjectRetention",
        "s3:BypassGovernanceRetention",
    } <= set(deny["Action"])
    assert "Condition" not in deny
    (overwrite,) = [s for s in statements if s.get("Sid") == "DenyOverwritingARecord"]
    assert overwrite["Effect"] == "Deny" and overwrite["Principal"] == "*" and overwrite["Resource"] == f"{arn}/*"
    assert overwrite["Action"] == "s3:PutObject"
    assert overwrite["Condition"] == {"Null": {"s3:if-none-match": "true"}}
    for function in (*COALITION_FUNCTIONS, "HashFunction"):
        on_audit = {
            a for a, resources in _granted(stack, function).items() if any(r.startswith(arn) for r in resources)
        }
        assert on_audit <= {"s3:PutObject"}, (function, on_audit)
    for platform in PLATFORMS:
        document = json.dumps(_props(stack, f"PlatformAccess{platform}"))
        assert arn not in document and "operator/" not in document
    operator = _statements(stack.resolve(_props(stack, "OperatorAccess"))["PolicyDocument"])
    assert {a for s in operator for a in _as_list(s["Action"])} == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListBucket",
        "dynamodb:GetItem",
        "dynamodb:Query",
    }
    (incidents,) = [s for s in operator if "dynamodb:Query" in _as_list(s["Action"])]
    leading = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["INCIDENT#*", "INCIDENT_MATCHES#*"]}}
    assert incidents["Condition"] == leading, "operators read incidents and their counts, nothing else of the bank"
    (drop,) = [s for s in operator if s["Action"] == "s3:PutObject"]
    assert drop["Resource"] == f"{BUCKET_ARN}/operator/*"


def test_the_lookup_api_takes_iam_callers_only_and_reads_only(stack: Stack) -> None:
    api = _props(stack, "LookupApi")
    assert api["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    granted = _granted(stack, "LookupFunction")
    assert set(granted) == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
    assert _props(stack, "SnapshotReadPolicy")["Roles"] == [{"Ref": "CheckFunctionRole"}, {"Ref": "LookupFunctionRole"}]


@pytest.mark.parametrize("bucket", ["SignalsBucket", "ResultsBucket"])
def test_hash_buckets_are_private_encrypted_tls_only_and_expire(stack: Stack, bucket: str) -> None:
    properties = _props(stack, bucket)
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(int(r["ExpirationInDays"]) <= 15 for r in properties["LifecycleConfiguration"]["Rules"])
    policy = _props(stack, f"{bucket}Policy")["PolicyDocument"]
    assert all(s["Effect"] == "Deny" for s in _statements(policy))
    assert any(_denies_insecure_transport(s) for s in _statements(policy))


@pytest.mark.parametrize("function", [*FUNCTIONS, "LookupFunction", "CompactionFunction"])
def test_functions_have_a_log_group(template: dict[str, Any], stack: Stack, function: str) -> None:
    properties = _function_properties(template, stack, function)
    if function == "HashFunction":  # it streams videos up to 2 GB to /tmp and decodes them
        assert properties["EphemeralStorage"]["Size"] == 10240
        assert int(stack.resolve(properties["MemorySize"])) >= 2048
    (group,) = [
        spec["Properties"]
        for spec in stack.of_type("AWS::Logs::LogGroup").values()
        if spec["Properties"].get("LogGroupName") == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
    ]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_retained_shards_are_private_encrypted_tls_only_unversioned_and_expire_by_tier(stack: Stack) -> None:
    from hashmatch.aws.retained_shards import RETENTION_TAG, RETENTION_TIERS, SHARD_PREFIX

    properties = _props(stack, "RetainedBucket")
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert "VersioningConfiguration" not in properties  # a purge must leave no copy behind
    rules = properties["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r and r.get("Prefix") == SHARD_PREFIX]
    # A fanned-out scan's objects outlive it by at most a day (a share function killed mid-scan).
    scans = [r for r in rules if r.get("Prefix") == "scans/"]
    assert [(r["Status"], r["ExpirationInDays"], "TagFilters" in r) for r in scans] == [("Enabled", 1, False)]
    assert len(expiring) + len(scans) == len([r for r in rules if "ExpirationInDays" in r])
    assert {(r["Prefix"], r["TagFilters"][0]["Key"], r["TagFilters"][0]["Value"]) for r in expiring} == {
        (SHARD_PREFIX, RETENTION_TAG, str(tier)) for tier in RETENTION_TIERS
    }
    assert all(int(r["ExpirationInDays"]) == int(r["TagFilters"][0]["Value"]) for r in expiring)
    policy = _props(stack, "RetainedBucketPolicy")["PolicyDocument"]
    assert all(s["Effect"] == "Deny" for s in _statements(policy))
    assert any(_denies_insecure_transport(s) for s in _statements(policy))


def test_the_compaction_moves_only_retained_checks_and_only_the_share_function_reads_shards(stack: Stack) -> None:
    from hashmatch.aws.retained import RETAINED_PREFIX

    retained = stack.physical_names("RetainedBucket")["Arn"]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{stack.physical_names('BankTable')['ref']}"
    properties = _props(stack, "CompactionFunction")
    assert properties["ReservedConcurrentExecutions"] == 1
    assert properties["Events"]["Compact"]["Type"] == "Schedule"
    env = stack.function_environment("CompactionFunction")
    assert env["RETAINED_BUCKET"] == stack.physical_names("RetainedBucket")["ref"]
    granted = _granted(stack, "CompactionFunction")
    assert granted == {
        "dynamodb:Query": {table},
        "dynamodb:DeleteItem": {table},
        "dynamodb:BatchWriteItem": {table},
        "dynamodb:DescribeTable": {table},  # its creation time bounds the days read
        **{action: {f"{retained}/retained/*"} for action in RETAINED_SHARD_WRITES},
        "s3:ListBucket": {retained},
    }
    statements = [s for p in _props(stack, "CompactionFunction")["Policies"] for s in p["Statement"]]
    for statement in statements:
        if statement["Action"][0].startswith("dynamodb:"):
            assert statement["Condition"] == {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{RETAINED_PREFIX}*"]}
            }
    share = _granted(stack, "ShareFunction")
    assert {a for a, r in share.items() if f"{retained}/retained/*" in r or retained in r} == {
        "s3:GetObject",
        "s3:ListBucket",
    }
    assert {x for r in share.values() for x in r if x.startswith(f"{retained}/")} == {
        f"{retained}/retained/*",
        f"{retained}/scans/*",
    }
    # The scan's workers only read retained checks (and the scan's own request, where they may
    # leave an answer too large to return) and the table's description (its creation time bounds
    # the days read): no bank write, no topic, no other table partition.
    assert _granted(stack, "RetroScanFunction") == {
        "dynamodb:Query": {table},
        "dynamodb:DescribeTable": {table},
        "s3:GetObject": {f"{retained}/retained/*", f"{retained}/scans/*"},
        "s3:PutObject": {f"{retained}/scans/*"},
    }
    for statement in (s for p in _props(stack, "RetroScanFunction")["Policies"] for s in p["Statement"]):
        if statement["Action"] == "dynamodb:Query":
            assert statement["Condition"] == {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{RETAINED_PREFIX}*"]}
            }
    assert (
        stack.function_environment("ShareFunction")["RETRO_SCAN_FUNCTION"]
        == stack.physical_names("RetroScanFunction")["ref"]
    )
    assert (
        stack.function_environment("ShareFunction")["RETAINED_BUCKET"] == stack.physical_names("RetainedBucket")["ref"]
    )
    check = _granted(stack, "CheckFunction")
    assert not any(x.startswith(retained) for r in check.values() for x in r)
    assert "RETAINED_BUCKET" not in stack.function_environment("CheckFunction")


# ---------------------------------------------------------------- watching it


def _alarms(stack: Stack) -> dict[str, dict[str, Any]]:
    return {logical: spec["Properties"] for logical, spec in stack.of_type("AWS::CloudWatch::Alarm").items()}


def _metrics_of(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """(namespace, metric name, dimensions) of an alarm, whether on one metric or on metric math."""
    if "MetricName" in alarm:
        return [{"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"], "Dimensions": alarm["Dimensions"]}]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def test_every_alarm_tells_the_operators(stack: Stack) -> None:
    alarms = _alarms(stack)
    assert len(alarms) >= 8
    for logical, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "OperatorAlarmTopic"}], logical
        assert alarm["AlarmDescription"], logical
    assert _props(stack, "OperatorAlarmTopic")["KmsMasterKeyId"] == "alias/aws/sns"


def test_alarms_cover_dead_letters_waiting_work_errors_throttles_and_snapshots(stack: Stack) -> None:
    watched = [
        (metric["Namespace"], metric["MetricName"], json.dumps(metric["Dimensions"], sort_keys=True))
        for alarm in _alarms(stack).values()
        for metric in _metrics_of(alarm)
    ]
    for queue in QUEUES:
        assert any(name == "ApproximateAgeOfOldestMessage" and queue in dims for _ns, name, dims in watched), (
            f"no oldest-message alarm on {queue}"
        )
    assert any(name == "ApproximateNumberOfMessagesVisible" and "ParkedQueue" in dims for _n, name, dims in watched)
    for function in ("HashFunction", "CheckFunction", "ShareFunction", "LookupFunction", "SnapshotFunction"):
        for metric in ("Errors", "Throttles"):
            assert any(name == metric and function in dims for _n, name, dims in watched), (function, metric)
    snapshot = _alarms(stack)["SnapshotAgeAlarm"]
    assert snapshot["TreatMissingData"] == "breaching"  # no run at all is the failure it exists for


def test_alarms_and_dashboard_name_the_metrics_the_functions_write(stack: Stack) -> None:
    from hashmatch.service.telemetry import Metric

    ours = {
        metric["MetricName"]
        for alarm in _alarms(stack).values()
        for metric in _metrics_of(alarm)
        if metric["Namespace"] == "hashmatch"
    }
    assert ours and ours <= {m.value for m in Metric}
    body = stack.resolve(_props(stack, "OperationsDashboard")["DashboardBody"])
    widgets = json.loads(body)["widgets"]
    named = set(re.findall(r'MetricName=\\?"(\w+)\\?"', body)) | {
        row[1] for widget in widgets for row in widget["properties"]["metrics"] if row and isinstance(row[0], str)
    }
    expected = {Metric.CHECKS, Metric.MATCHES, Metric.REJECTIONS, Metric.FAILURES, Metric.STAGE_LATENCY}
    assert {m.value for m in expected} | {"IndexEntries", "SnapshotRuns"} <= named


def test_outsized_item_rules_read_the_check_functions_verdict_lines(stack: Stack) -> None:
    rules = stack.of_type("AWS::CloudWatch::InsightRule")
    assert len(rules) == 2
    for spec in rules.values():
        body = json.loads(stack.resolve(spec["Properties"]["RuleBody"]))
        assert body["LogGroupNames"] == [stack.physical_names("CheckFunctionLogGroup")["ref"]]
        assert {"Match": "$.message", "In": ["verdict"]} in body["Contribution"]["Filters"]
    alarm = _alarms(stack)["OutsizedItemAlarm"]
    assert [q["Id"] for q in alarm["Metrics"] if q.get("ReturnData")] == ["share"]


def test_hashing_concurrency_is_capped_so_a_surge_cannot_starve_matching(stack: Stack) -> None:
    uploads = _props(stack, "HashFunction")["Events"]["Uploads"]["Properties"]
    assert 2 <= uploads["ScalingConfig"]["MaximumConcurrency"] <= 100


# ---------------------------------------------------------------- linter


def test_cfn_lint_finds_nothing() -> None:
    try:
        from cfnlint.api import lint_file
    except ImportError:
        pytest.skip("cfn-lint is NOT installed: template.yaml was NOT linted (pip install -e '.[dev]' to lint it)")
    matches = lint_file(TEMPLATE, config={"regions": [REGION]})
    assert not matches, "\n".join(str(m) for m in matches)


def test_platforms_may_call_each_route_of_the_lookup_api_by_name(stack: Stack) -> None:
    """Every route the LookupFunction serves is granted to platforms, one by one (no wildcard that
    would grant a route added later), and nothing else of the API."""
    api = stack.physical_names("LookupApi")["ref"]
    routes = {
        str(event["Properties"]["Method"]).upper() + re.sub(r"\{\w+\}", "*", event["Properties"]["Path"])
        for event in _props(stack, "LookupFunction")["Events"].values()
        if event["Type"] == "HttpApi"
    }
    assert routes == {"POST/v1/candidates", "POST/v1/lookup", "GET/v1/items/*", "GET/v1/stats"}
    for platform in PLATFORMS:
        document = stack.resolve(_props(stack, f"PlatformAccess{platform}")["PolicyDocument"])
        (invoke,) = [s for s in _statements(document) if s["Action"] == "execute-api:Invoke"]
        prefix = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/*/"
        assert {r.removeprefix(prefix) for r in _as_list(invoke["Resource"])} == routes


# ---------------------------------------------------------------- members in their own accounts

MEMBERS = {"tiktok": "111111111111", "facebook": "222222222222"}
EXTERNAL_ID = "coalition-external-id-7"


@pytest.fixture(scope="module")
def members() -> Stack:
    """The stack with tiktok and facebook in AWS accounts of their own. The roles SAM makes for the
    functions are not in the template: they stand in as plain roles, so their ARNs resolve."""
    overrides = {"Members": ",".join(f"{p}:{a}" for p, a in MEMBERS.items()), "MemberExternalId": EXTERNAL_ID}
    stack = Stack.from_file(TEMPLATE, STACK_NAME, overrides=overrides)
    for function in FUNCTIONS:
        stack.resources[f"{function}Role"] = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": f"{function}Role"}}
    return stack


def _role_arn(platform: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/hashmatch-members/{STACK_NAME}/{STACK_NAME}-{platform}"


def test_members_parameters(template: dict[str, Any]) -> None:
    spec = template["Parameters"]["Members"]
    assert spec["Default"] == "", "no members in accounts of their own unless named: nothing changes"
    pattern = re.compile(spec["AllowedPattern"])
    for good in ("", "tiktok:111111111111", "tiktok:111111111111,facebook:222222222222"):
        assert pattern.fullmatch(good), good
    for bad in ("tiktok", "tiktok:1111", "TikTok:111111111111", "tiktok:111111111111,", "tiktok:111111111111, x:2"):
        assert not pattern.fullmatch(bad), bad
    secret = template["Parameters"]["MemberExternalId"]
    assert secret["NoEcho"] is True and secret["Default"] == ""
    # Every member role may describe the stack: what it would show of the members is masked.
    for about_members in ("Members", "PlatformThresholds", "RetroactivePlatforms", "MemberPolicies"):
        assert template["Parameters"][about_members].get("NoEcho") is True, about_members
    outputs = json.dumps(template.get("Outputs", {}), default=str)
    assert not any(name in outputs for name in ("PlatformThresholds", "RetroactivePlatforms", "MemberPolicies"))
    # Deploying members without an external id is refused before anything is created.
    (rule,) = template["Rules"].values()
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "Members"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "MemberExternalId"}, ""]}]}


def test_without_members_there_are_no_roles_and_no_extra_statements(stack: Stack) -> None:
    assert not stack.condition("HasMembers")
    assert all(stack.resources[f"MemberRole{p}"]["Condition"] == "HasMembers" for p in PLATFORMS)
    sids = {s["Sid"] for s in stack.resolve(_props(stack, "IngestBucketPolicy"))["PolicyDocument"]["Statement"]}
    assert not {"OnlyMemberRolesWritePlatformPrefixes", "MemberRolesWriteOnlyTheirOwnPrefixes"} & sids
    assert stack.function_environment("HashFunction")["MEMBERS"] == ""
    assert not [name for name in stack.outputs() if name.startswith("MemberRole")]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_platforms_role_is_assumable_only_from_its_account_with_the_external_id(
    members: Stack, platform: str
) -> None:
    assert members.condition("HasMembers")
    role = members.resolve(_props(members, f"MemberRole{platform}"))
    assert f"arn:aws:iam::{ACCOUNT}:role{role['Path']}{role['RoleName']}" == _role_arn(platform)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    # A platform Members does not name writes from the coalition's own account, through its role too.
    account = MEMBERS.get(platform, ACCOUNT)
    assert trust == {
        "Sid": "OnlyTheMembersAccountWithTheExternalId",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
    }
    # The platform's policy and nothing else; its tag names the platform for the bucket policy.
    assert role["ManagedPolicyArns"] == [members.physical_names(f"PlatformAccess{platform}")["PolicyArn"]]
    assert not {"Policies", "PermissionsBoundary"} & set(role)
    assert role["Tags"] == [{"Key": "hashmatch-platform", "Value": platform}]
    assert len(role["RoleName"]) <= 64
    assert members.outputs()[f"MemberRole{platform}Arn"] == _role_arn(platform)


def test_the_hashing_function_is_told_the_members_and_may_read_exactly_their_roles(members: Stack) -> None:
    from fnmatch import fnmatchcase

    env = members.function_environment("HashFunction")
    assert env["MEMBERS"] == "tiktok:111111111111,facebook:222222222222"
    (read,) = [
        s
        for p in _props(members, "HashFunction")["Policies"]
        for s in members.resolve(p)["Statement"]
        if s["Action"] == "iam:GetRole"
    ]
    for platform in PLATFORMS:
        assert members.physical_names(f"MemberRole{platform}")["ref"] == env["MEMBER_ROLE_PREFIX"] + platform
        assert fnmatchcase(_role_arn(platform), read["Resource"])
    for other in ("HashFunctionRole", "CheckFunctionRole"):
        assert not fnmatchcase(members.physical_names(other)["Arn"], read["Resource"])


def test_the_lookup_function_is_told_the_member_roles_and_their_account(members: Stack, stack: Stack) -> None:
    """The lookup API tells a member's session by its role's name in the coalition's account."""
    env = members.function_environment("LookupFunction")
    assert env["MEMBERS"] == "tiktok:111111111111,facebook:222222222222"
    assert env["COALITION_ACCOUNT_ID"] == ACCOUNT
    for platform in PLATFORMS:
        role = members.resolve(_props(members, f"MemberRole{platform}"))
        assert env["MEMBER_ROLE_PREFIX"] + platform == role["RoleName"]
    assert stack.function_environment("LookupFunction")["MEMBERS"] == ""


# A resource policy's Deny statements, evaluated for one request: the operators and keys this
# template uses, with `context` the request's keys (absent keys as IAM treats them).
def _matches(pattern: str, value: str, context: dict[str, str]) -> bool:
    from fnmatch import fnmatchcase

    for key, known in context.items():
        pattern = pattern.replace(f"${{{key}}}", known)
    return "${" not in pattern and fnmatchcase(value, pattern)


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            values, present = _as_list(expected), key in context
            if operator == "Null":
                holds = (str(values[0]).lower() == "true") != present
            elif operator.endswith("IfExists") and not present:
                holds = True
            else:
                base = operator.removesuffix("IfExists")
                negated = "Not" in base
                found = present and any(
                    _matches(str(v), context[key], {}) if "Like" in base or "Arn" in base else context[key] == str(v)
                    for v in values
                )
                holds = not found if negated else found
            if not holds:
                return False
    return True


def _denied(policy: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    # Over TLS, with the bucket's own encryption asked for (as `hashmatch` uploads).
    context = {"aws:SecureTransport": "true", "s3:x-amz-server-side-encryption": "AES256", **context}
    for statement in _statements(policy):
        if statement["Effect"] != "Deny" or not any(_matches(a, action, {}) for a in _as_list(statement["Action"])):
            continue
        if "Resource" in statement:
            concerned = any(_matches(r, resource, context) for r in _as_list(statement["Resource"]))
        else:
            concerned = not any(_matches(r, resource, context) for r in _as_list(statement["NotResource"]))
        if concerned and _condition_holds(statement.get("Condition", {}), context):
            return True
    return False


def _principal(platform_role: str | None = None, arn: str | None = None) -> dict[str, str]:
    if platform_role is not None:
        return {"aws:PrincipalArn": _role_arn(platform_role), "aws:PrincipalTag/hashmatch-platform": platform_role}
    return {"aws:PrincipalArn": str(arn)}


ADMIN = f"arn:aws:iam::{ACCOUNT}:user/admin"
# A principal of the coalition's account that holds PlatformAccesstiktok, as before members.
TIKTOK_USER = f"arn:aws:iam::{ACCOUNT}:user/tiktok-uploader"


@pytest.mark.parametrize("action", [a for a in ACTIONS if a != "operator"])
def test_with_members_only_a_platforms_role_writes_under_its_prefixes(members: Stack, action: str) -> None:
    policy = members.resolve(_props(members, "IngestBucketPolicy"))["PolicyDocument"]
    put = "s3:PutObject"
    for platform in ("tiktok", "reddit"):  # a member in its own account, and one in the coalition's
        key = f"{BUCKET_ARN}/{action}/{platform}/a.jpg"
        assert not _denied(policy, put, key, _principal(platform))
        assert _denied(policy, put, key, {"s3:x-amz-server-side-encryption": "aws:kms", **_principal(platform)})
        for other in ("facebook", "reddit" if platform == "tiktok" else "tiktok"):
            assert _denied(policy, put, key, _principal(other)), (other, key)
        for outsider in (ADMIN, TIKTOK_USER):
            assert _denied(policy, put, key, _principal(arn=outsider)), (outsider, key)
    assert _denied(policy, put, f"{BUCKET_ARN}/operator/r.json", _principal("tiktok"))
    operators = f"arn:aws:iam::{ACCOUNT}:role/operators"
    assert not _denied(policy, put, f"{BUCKET_ARN}/operator/r.json", _principal(arn=operators))


def test_without_members_the_bucket_policy_leaves_writes_to_identity_policies(stack: Stack) -> None:
    policy = stack.resolve(_props(stack, "IngestBucketPolicy"))["PolicyDocument"]
    assert not _denied(policy, "s3:PutObject", f"{BUCKET_ARN}/share/tiktok/a.jpg", _principal(arn=TIKTOK_USER))
    assert _denied(policy, "s3:PutObject", f"{BUCKET_ARN}/elsewhere/a.jpg", _principal(arn=TIKTOK_USER))


@pytest.mark.parametrize("platform", ["tiktok", "facebook", "reddit"])
def test_with_members_only_a_platforms_role_subscribes_to_its_topic(members: Stack, platform: str) -> None:
    """moto does not hold SNS to IAM (it authorizes SNS actions against resource "*"), so the topic
    policy is evaluated here; the identity side is the PlatformAccess test above."""
    policy = members.resolve(_props(members, f"PlatformTopicPolicy{platform}"))["PolicyDocument"]
    topic = members.physical_names(f"PlatformTopic{platform}")["TopicArn"]
    sqs = {"sns:Protocol": "sqs"}
    assert not _denied(policy, "sns:Subscribe", topic, {**sqs, **_principal(platform)})
    for other in {"tiktok", "facebook", "reddit"} - {platform}:
        assert _denied(policy, "sns:Subscribe", topic, {**sqs, **_principal(other)})
    assert _denied(policy, "sns:Subscribe", topic, {**sqs, **_principal(arn=ADMIN)})
    assert _denied(policy, "sns:Subscribe", topic, {"sns:Protocol": "http", **_principal(platform)})
    # Members act on verdicts: no role of theirs may publish on a topic.
    assert _denied(policy, "sns:Publish", topic, _principal(platform))
    check = members.physical_names("CheckFunctionRole")["Arn"]
    assert not _denied(policy, "sns:Publish", topic, _principal(arn=check))


def test_without_members_the_topic_policy_leaves_subscribing_to_identity_policies(stack: Stack) -> None:
    for function in FUNCTIONS:
        stack.resources.setdefault(f"{function}Role", {"Type": "AWS::IAM::Role", "Properties": {}})
    policy = stack.resolve(_props(stack, "PlatformTopicPolicytiktok"))["PolicyDocument"]
    topic = stack.physical_names("PlatformTopictiktok")["TopicArn"]
    assert not _denied(policy, "sns:Subscribe", topic, {"sns:Protocol": "sqs", **_principal(arn=TIKTOK_USER)})
