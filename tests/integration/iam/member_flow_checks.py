"""Run by tests/integration/test_iam_enforced.py in a process of its own (moto's IAM enforcement
is process-wide). Issue 11's done-when test: two members in AWS accounts of their own (tiktok in
111111111111, facebook in 222222222222) go through the whole flow (subscribe, share, check,
lookup, withdraw) through the roles the template makes for them, and a third identity (a role of
another account, 333333333333, that holds no PlatformAccess, named like tiktok's role to boot) is
refused at every door, as is each member at the other's.

What moto enforces here (IAM on, every request after the set-up authenticated and authorized
against the caller's identity policies, the template's own statements):
- S3 and SQS, per resource: the members' roles (PlatformAccess<platform>) writing their own
  prefixes and not another's, reading results, queueing submissions; each member's engineer,
  in its own account, making and reading its own inbox queue and not another's; the hashing,
  check and share functions' roles (their template Policies) reading, deleting and writing objects
  and queueing submissions; the third identity's every S3 and SQS call.
- IAM: the hashing function's role reading the members' roles' ids (iam:GetRole) to tell who wrote
  each object, as in AWS.
- STS: who each session is (the assumed-role ARN API Gateway would name).

What moto does not enforce, and is evaluated from the template instead:
- Trust policies: moto lets anyone assume any role. Before each AssumeRole the role's trust
  statement (the template's, resolved) is evaluated for the caller's account and external id.
- SNS and DynamoDB: moto authorizes them against resource "*", which the template's scoped
  grants never match. sns:Subscribe is decided by evaluating the role's PlatformAccess statements
  with moto's own policy evaluator (`IAMPolicy`) for the topic's ARN, and then made on moto by the
  coalition's administrator; the functions reach the table and topics with the administrator's
  credentials (their grants are checked by tests/integration/test_template.py). Resource policies
  (bucket, topic) are not evaluated by moto at all: test_template.py evaluates them.
- The lookup API: there is no API Gateway here. Its decision is evaluated as an HTTP API with IAM
  authorization makes it: the caller must be a principal of the API's own account (an HTTP API
  takes no resource policy) whose identity policy grants ``execute-api:Invoke`` on the route's
  ARN (moto's `IAMPolicy`); then the real handler is called with the ``requestContext`` API
  Gateway sends for that session (``authorizer.iam.userArn``: the assumed-role ARN STS gave).
- SNS delivery across accounts: moto delivers a topic's messages only to a queue of the topic's
  own account (it looks the subscribed queue's name up there). Each member's inbox is made in its
  own account by its engineer (SQS enforced) and subscribed by its ARN; what moto delivers to the
  queue of that name in the coalition's account is carried over to it (moto finds a queue by name
  in the caller's account, so the member's engineer puts it there), as SNS would deliver it.
- S3 events: moto's name no writer, so each event is given the ``userIdentity.principalId`` S3
  gives (``AWS:<RoleId>:<session>``) of the session that wrote the object.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from moto.iam.access_control import IAMPolicy, PermissionResult

from hashmatch.aws.api import handle_request
from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.aws.runtime import build_edge_runtime, build_runtime
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.media.codec import hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.service.events import objects_from_message
from hashmatch.service.settings import EdgeSettings, Settings
from hashmatch_tools.local.stack import provision
from hashmatch_tools.local.template import Stack
from hashmatch_tools.samples import jpeg_bytes, mirrored, scene

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
REGION = "us-east-1"
STACK = "hashmatch"
MEMBERS = {"tiktok": "111111111111", "facebook": "222222222222"}
INTRUDER = "333333333333"
EXTERNAL_ID = "flow-external-id-7"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# moto's trust is not checked (see above): the template's is evaluated before each AssumeRole.
ANYONE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*"}]}
FUNCTIONS = ("HashFunction", "CheckFunction", "ShareFunction")
# The requests made before IAM is enforced: the administrator (3), in each outside account a
# bootstrap session making that account's engineer (assume, user, policy, key: 4), and in the
# intruder's a role named as tiktok's (role, policy: 2).
NO_AUTH_REQUESTS = 3 + 4 * (len(MEMBERS) + 1) + 2


@pytest.fixture(autouse=True)
def emulated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    with mock_aws():
        yield


def _session(credentials: dict[str, Any]) -> boto3.session.Session:
    return boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


class FunctionSession:
    """A function's session: its own role's credentials for what moto enforces (S3, SQS, IAM), the
    administrator's for DynamoDB and SNS, which moto would refuse any scoped grant (see above)."""

    def __init__(self, own: boto3.session.Session, admin: boto3.session.Session) -> None:
        self._own, self._admin = own, admin

    def client(self, service: str, **kwargs: Any) -> Any:
        return (self._admin if service in ("dynamodb", "sns") else self._own).client(service, **kwargs)

    def resource(self, service: str, **kwargs: Any) -> Any:
        return (self._admin if service in ("dynamodb", "sns") else self._own).resource(service, **kwargs)


@dataclasses.dataclass
class Member:
    """A platform: its engineer in its own account, its role's session in the coalition's, its inbox."""

    platform: str
    account: str
    engineer: boto3.session.Session
    role: boto3.session.Session | None = None
    role_arn: str = ""  # the assumed-role ARN STS names its session by
    principal: str = ""  # as S3 names the writer: AWS:<RoleId>:<session>
    policy: dict[str, Any] = dataclasses.field(default_factory=dict)
    inbox: str = ""


class Coalition:
    """The stack with members, provisioned on moto from template.yaml, and everyone around it."""

    def __init__(self) -> None:
        iam = boto3.client("iam", region_name=REGION)
        iam.create_user(UserName="admin")
        iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN))
        self.admin = _session(iam.create_access_key(UserName="admin")["AccessKey"])
        self.engineers = {a: self._engineer(a) for a in (*MEMBERS.values(), INTRUDER)}
        self.account = self.admin.client("sts").get_caller_identity()["Account"]
        members = ",".join(f"{p}:{a}" for p, a in MEMBERS.items())
        self.stack = Stack.from_file(
            TEMPLATE,
            STACK,
            overrides={"Members": members, "MemberExternalId": EXTERNAL_ID, "Platforms": ",".join(MEMBERS)},
        )
        provision(self.stack, lambda service: self.admin.client(service))
        self.names = {n: self.stack.physical_names(n)["ref"] for n in ("IngestBucket", "ResultsBucket", "HashQueue")}
        self.queues = {n: self.stack.physical_names(n)["ref"] for n in ("CheckQueue", "ShareQueue")}
        self.members = {p: Member(p, a, self.engineers[a]) for p, a in MEMBERS.items()}
        for member in self.members.values():
            self._member_role(member)
        self.functions = {f: self._function_role(f) for f in FUNCTIONS}
        self.relays: dict[str, str] = {}

    def _engineer(self, account: str) -> boto3.session.Session:
        """A user of `account` who may do anything in that account and assume roles elsewhere
        (made before IAM is enforced, through a bootstrap session into that account)."""
        sts = boto3.client("sts", region_name=REGION)
        arn = f"arn:aws:iam::{account}:role/bootstrap"
        bootstrap = _session(sts.assume_role(RoleArn=arn, RoleSessionName="bootstrap")["Credentials"]).client("iam")
        bootstrap.create_user(UserName="engineer")
        own = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["sqs:*"], "Resource": f"arn:aws:sqs:{REGION}:{account}:*"},
                # moto authorizes CreateQueue against "*" (it names no queue before there is one).
                {"Effect": "Allow", "Action": ["sqs:CreateQueue"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["s3:*"], "Resource": [f"arn:aws:s3:::own-{account}*"]},
                {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:GetCallerIdentity"], "Resource": "*"},
            ],
        }
        bootstrap.put_user_policy(UserName="engineer", PolicyName="own-account", PolicyDocument=json.dumps(own))
        if account == INTRUDER:  # a role of its own account, named as tiktok's, holding the same
            bootstrap.create_role(RoleName=f"{STACK}-tiktok", AssumeRolePolicyDocument=json.dumps(ANYONE))
            bootstrap.put_role_policy(RoleName=f"{STACK}-tiktok", PolicyName="own", PolicyDocument=json.dumps(own))
        return _session(bootstrap.create_access_key(UserName="engineer")["AccessKey"])

    def _member_role(self, member: Member) -> None:
        stack, iam = self.stack, self.admin.client("iam")
        spec = stack.resolve(stack.resources[f"MemberRole{member.platform}"]["Properties"])
        iam.create_role(
            RoleName=spec["RoleName"], Path=spec["Path"], AssumeRolePolicyDocument=json.dumps(ANYONE), Tags=spec["Tags"]
        )
        member.policy = stack.resolve(
            stack.resources[f"PlatformAccess{member.platform}"]["Properties"]["PolicyDocument"]
        )
        iam.put_role_policy(RoleName=spec["RoleName"], PolicyName="access", PolicyDocument=json.dumps(member.policy))
        assumed = self.assume(member.engineer, member.platform, EXTERNAL_ID)
        member.role = _session(assumed["Credentials"])
        member.role_arn = assumed["AssumedRoleUser"]["Arn"]
        member.principal = f"AWS:{assumed['AssumedRoleUser']['AssumedRoleId']}"

    def role_arn(self, platform: str) -> str:
        spec = self.stack.resolve(self.stack.resources[f"MemberRole{platform}"]["Properties"])
        return f"arn:aws:iam::{self.account}:role{spec['Path']}{spec['RoleName']}"

    def trusts(self, caller: boto3.session.Session, platform: str, external_id: str | None) -> bool:
        """Whether the template's trust policy of `platform`'s role admits `caller` with `external_id`."""
        spec = self.stack.resolve(self.stack.resources[f"MemberRole{platform}"]["Properties"])
        account = caller.client("sts").get_caller_identity()["Account"]
        for statement in spec["AssumeRolePolicyDocument"]["Statement"]:
            admitted = statement["Principal"]["AWS"] == f"arn:aws:iam::{account}:root"
            wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
            if statement["Effect"] == "Allow" and admitted and wanted == external_id:
                return True
        return False

    def assume(self, caller: boto3.session.Session, platform: str, external_id: str | None) -> dict[str, Any]:
        """AssumeRole of `platform`'s role, refused (as STS would) when its trust does not admit the caller."""
        if not self.trusts(caller, platform, external_id):
            raise PermissionError(f"the trust policy of {platform}'s role does not admit this caller")
        kwargs = {"ExternalId": external_id} if external_id else {}
        arn = self.role_arn(platform)
        return dict(caller.client("sts").assume_role(RoleArn=arn, RoleSessionName=f"{platform}-uploads", **kwargs))

    def _function_role(self, function: str) -> FunctionSession:
        """A session of a role holding what the template grants `function`: its own Policies and
        the policies the template attaches to its role (the snapshot reads, say)."""
        documents = list(self.stack.resources[function]["Properties"]["Policies"])
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for spec in self.stack.of_type(kind).values():
                if {"Ref": f"{function}Role"} in spec.get("Properties", {}).get("Roles", []):
                    documents.append(spec["Properties"]["PolicyDocument"])
        # Sids are unique per document only: several documents in one need none.
        statements = [
            {k: v for k, v in s.items() if k != "Sid"} for d in documents for s in self.stack.resolve(d)["Statement"]
        ]
        iam = self.admin.client("iam")
        arn = iam.create_role(RoleName=f"{function}Role", AssumeRolePolicyDocument=json.dumps(ANYONE))["Role"]["Arn"]
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=f"{function}Role", PolicyName="own", PolicyDocument=json.dumps(document))
        credentials = self.admin.client("sts").assume_role(RoleArn=arn, RoleSessionName=function)["Credentials"]
        return FunctionSession(_session(credentials), self.admin)

    def environment(self, function: str) -> dict[str, str]:
        env = self.stack.function_environment(function)
        env.pop("LOOKUP_API_URL", None)  # no API Gateway here: the edge asks it for no candidates
        return env

    # ---------------------------------------------------------------- the doors

    def subscribe(self, member: Member, platform: str) -> None:
        """`hashmatch subscribe` as `member` runs it: an encrypted queue in its own account that only
        `platform`'s topic may write, subscribed (by its role) to that topic."""
        sqs = member.engineer.client("sqs")
        url = sqs.create_queue(QueueName=f"inbox-{member.platform}", Attributes={"SqsManagedSseEnabled": "true"})
        queue_arn = sqs.get_queue_attributes(QueueUrl=url["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]
        topic = self.topic(platform)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn["QueueArn"],
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url["QueueUrl"], Attributes={"Policy": json.dumps(policy)})
        if not permitted(member.policy, "sns:Subscribe", topic):
            raise PermissionError(f"{member.platform}'s role may not subscribe to {platform}'s topic")
        self.admin.client("sns").subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["QueueArn"], Attributes={"RawMessageDelivery": "true"}
        )
        member.inbox = url["QueueUrl"]
        self.relays[member.platform] = self.admin.client("sqs").create_queue(QueueName=f"inbox-{member.platform}")[
            "QueueUrl"
        ]

    def inbox(self, member: Member) -> list[dict[str, Any]]:
        """The notifications waiting in `member`'s inbox, read by its engineer (consumed)."""
        own = member.engineer.client("sqs")
        for body in list(_drain(self.admin.client("sqs"), self.relays[member.platform])):
            own.send_message(QueueUrl=member.inbox, MessageBody=body)
        return [json.loads(body) for body in _drain(own, member.inbox)]

    def topic(self, platform: str) -> str:
        return self.stack.physical_names(f"PlatformTopic{platform}")["TopicArn"]

    def drop(self, member: Member, key: str, body: bytes, **metadata: str) -> None:
        """`member`'s role puts an object, and the pipeline runs on it with the functions' own roles."""
        assert member.role is not None
        member.role.client("s3").put_object(
            Bucket=self.names["IngestBucket"], Key=key, Body=body, Metadata=metadata, ServerSideEncryption="AES256"
        )
        self.run_pipeline(member.principal)

    def run_pipeline(self, writer: str) -> None:
        """Each S3 event waiting on the hashing function's queue (given its writer, as S3 names it)
        hashed by the real `EdgeHasher`, then each submission processed by the check or share
        function's real runtime."""
        sqs = self.admin.client("sqs")
        edge = build_edge_runtime(
            EdgeSettings.from_environment(self.environment("HashFunction")), cast(Any, self.functions["HashFunction"])
        )
        for message in _drain(sqs, self.names["HashQueue"]):
            for obj in objects_from_message(message):
                edge.process(dataclasses.replace(obj, principal=writer))
        for function, queue in (("CheckFunction", "CheckQueue"), ("ShareFunction", "ShareQueue")):
            runtime = build_runtime(
                Settings.from_environment(self.environment(function)), cast(Any, self.functions[function])
            )
            for message in _drain(sqs, self.queues[queue]):
                runtime.process(message)

    def lookup(self, caller: boto3.session.Session, caller_arn: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST /v1/lookup as API Gateway (HTTP API, IAM auth) would answer `caller`."""
        api = self.stack.physical_names("LookupApi")["ref"]
        route = f"arn:aws:execute-api:{REGION}:{self.account}:{api}/$default/POST/v1/lookup"
        identity = caller.client("sts").get_caller_identity()
        policy = self.identity_policy(caller_arn)
        if identity["Account"] != self.account or not permitted(policy, "execute-api:Invoke", route):
            return 403, {"message": "Forbidden"}
        iam = {"accountId": identity["Account"], "userArn": identity["Arn"], "callerId": identity["UserId"]}
        event = {
            "version": "2.0",
            "rawPath": "/v1/lookup",
            "body": json.dumps(body),
            "requestContext": {"accountId": self.account, "http": {"method": "POST"}, "authorizer": {"iam": iam}},
        }
        settings = Settings.from_environment(self.environment("LookupFunction"))
        bank = DynamoBank(settings.table_name, self.admin.resource("dynamodb"))
        answer = handle_request(
            event,
            lambda: Matcher(bank, BankIndex()),
            lambda: (settings.platforms, settings.rules),
            lambda: settings.member_callers,
        )
        return answer["statusCode"], json.loads(answer["body"])

    def identity_policy(self, session_arn: str) -> dict[str, Any]:
        """The statements of the role a session ARN names (a role of this account), or none."""
        parts = session_arn.split(":")
        if parts[4] != self.account:
            return {"Statement": []}
        role = parts[5].split("/")[1]
        iam = self.admin.client("iam")
        statements = [
            s
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
            for s in iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]["Statement"]
        ]
        return {"Version": "2012-10-17", "Statement": statements}


def permitted(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether identity `policy` allows `action` on `resource` (moto's evaluator: Allow, Deny, NotAction...)."""
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource) == PermissionResult.PERMITTED


def _drain(sqs: Any, url: str) -> Iterator[str]:
    """Each message waiting on the queue (moto finds it by name in `sqs`'s own account), deleted."""
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            yield message["Body"]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"] in ("AccessDenied", "403", "AccessDeniedException")
    except PermissionError:
        return True
    return False


def _query(picture: Any, tmp: Path) -> dict[str, Any]:
    path = tmp / "copy.jpg"
    path.write_bytes(jpeg_bytes(mirrored(picture), 70))
    return hashes_to_json(hash_file(path))


# ---------------------------------------------------------------- the flow


@set_initial_no_auth_action_count(NO_AUTH_REQUESTS)
def test_two_members_in_their_own_accounts_go_through_the_whole_flow(tmp_path: Path) -> None:
    coalition = Coalition()
    tiktok, facebook = coalition.members["tiktok"], coalition.members["facebook"]
    # Each member's session is what API Gateway would name: its role in the coalition's account.
    assert tiktok.role_arn == f"arn:aws:sts::{coalition.account}:assumed-role/{STACK}-tiktok/tiktok-uploads"
    for member in (tiktok, facebook):
        coalition.subscribe(member, member.platform)

    # share: tiktok's role drops a picture; facebook is told
    picture = scene(91)
    coalition.drop(tiktok, "share/tiktok/clip-1.jpg", jpeg_bytes(picture, 90), labels="graphic-violence")
    (shared,) = [n for n in coalition.inbox(facebook) if n["event_type"] == "hash.shared"]
    (item,) = shared["items"]
    item_id = item["item_id"]
    assert item["contributor"] == "tiktok" and item["labels"] == ["graphic-violence"]

    # check: facebook's role drops a mirrored copy; facebook is told of the match
    coalition.drop(facebook, "check/facebook/upload-7.jpg", jpeg_bytes(mirrored(picture), 70), **{"content-id": "u7"})
    verdicts = [n for n in coalition.inbox(facebook) if n["event_type"] == "match.found"]
    assert [m["item_id"] for v in verdicts for m in v["matches"]] == [item_id]

    # lookup: each member's session is that member; naming the other is refused
    query = {"entries": [{"content_id": "u8", "hashes": _query(picture, tmp_path)}]}
    for member in (tiktok, facebook):
        assert member.role is not None
        status, answer = coalition.lookup(member.role, member.role_arn, query)
        assert status == 200 and [m["item_id"] for m in answer["results"][0]["matches"]] == [item_id]
    assert facebook.role is not None
    status, answer = coalition.lookup(facebook.role, facebook.role_arn, {**query, "member": "tiktok"})
    assert (status, answer["error"]["code"]) == (403, "wrong_member")

    # withdraw: tiktok takes its item back; facebook is told, and the lookup finds nothing
    sha256 = item["signals"]["sha256"]
    coalition.drop(tiktok, "withdraw/tiktok/w.txt", f"sha256:{sha256}\n".encode())
    withdrawn = [n for n in coalition.inbox(facebook) if n["event_type"] == "hash.withdrawn"]
    assert [i["item_id"] for n in withdrawn for i in n["items"]] == [item_id]
    status, answer = coalition.lookup(facebook.role, facebook.role_arn, query)
    assert status == 200 and answer["results"][0]["matches"] == []


def _picture_query(tmp_path: Path) -> dict[str, Any]:
    return {"entries": [{"hashes": _query(scene(92), tmp_path)}]}


@set_initial_no_auth_action_count(NO_AUTH_REQUESTS)
def test_a_third_identity_is_refused_at_every_door(tmp_path: Path) -> None:
    """A role of another account, holding no PlatformAccess, named as tiktok's role to boot."""
    coalition = Coalition()
    tiktok = coalition.members["tiktok"]
    coalition.subscribe(tiktok, "tiktok")
    engineer = coalition.engineers[INTRUDER]
    assumed = engineer.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{INTRUDER}:role/{STACK}-tiktok", RoleSessionName="tiktok-uploads"
    )
    intruder, arn = _session(assumed["Credentials"]), assumed["AssumedRoleUser"]["Arn"]
    assert arn == f"arn:aws:sts::{INTRUDER}:assumed-role/{STACK}-tiktok/tiktok-uploads"
    # the coalition's roles: no trust admits its account, external id or not
    for platform in MEMBERS:
        for caller in (engineer, intruder):
            assert _denied(coalition.assume, caller=caller, platform=platform, external_id=EXTERNAL_ID)
    # the ingest bucket, the results, the queues (moto)
    s3, sqs = intruder.client("s3"), intruder.client("sqs")
    for key in ("share/tiktok/x.jpg", "check/tiktok/x.jpg", "withdraw/tiktok/w.txt", "operator/r.json"):
        assert _denied(s3.put_object, Bucket=coalition.names["IngestBucket"], Key=key, Body=b"x")
    coalition.admin.client("s3").put_object(
        Bucket=coalition.names["ResultsBucket"], Key="results/tiktok/r.json", Body=b"{}"
    )
    assert _denied(s3.get_object, Bucket=coalition.names["ResultsBucket"], Key="results/tiktok/r.json")
    assert _denied(s3.list_objects_v2, Bucket=coalition.names["IngestBucket"])
    assert _denied(sqs.send_message, QueueUrl=coalition.queues["CheckQueue"], MessageBody="{}")
    assert _denied(sqs.receive_message, QueueUrl=tiktok.inbox)
    # the topic (its identity policy, evaluated): no subscription, to tiktok's topic or any
    assert not permitted(coalition.identity_policy(arn), "sns:Subscribe", coalition.topic("tiktok"))
    # the lookup API: API Gateway admits no other account, whatever the role is called
    status, answer = coalition.lookup(intruder, arn, _picture_query(tmp_path))
    assert (status, answer) == (403, {"message": "Forbidden"})


@set_initial_no_auth_action_count(NO_AUTH_REQUESTS)
def test_a_member_is_refused_at_every_door_of_another(tmp_path: Path) -> None:
    coalition = Coalition()
    tiktok, facebook = coalition.members["tiktok"], coalition.members["facebook"]
    coalition.subscribe(facebook, "facebook")
    assert tiktok.role is not None
    # facebook's role: tiktok's account is not its trusted one; tiktok's own needs the external id
    assert _denied(coalition.assume, caller=tiktok.engineer, platform="facebook", external_id=EXTERNAL_ID)
    assert _denied(coalition.assume, caller=tiktok.engineer, platform="tiktok", external_id=None)
    # facebook's prefixes, uploads and results (moto)
    s3 = tiktok.role.client("s3")
    for action in ("share", "check", "withdraw", "feedback", "incident"):
        assert _denied(s3.put_object, Bucket=coalition.names["IngestBucket"], Key=f"{action}/facebook/x", Body=b"x")
    admin = coalition.admin.client("s3")
    admin.put_object(Bucket=coalition.names["IngestBucket"], Key="check/facebook/private.jpg", Body=b"x")
    admin.put_object(Bucket=coalition.names["ResultsBucket"], Key="results/facebook/r.json", Body=b"{}")
    assert _denied(s3.get_object, Bucket=coalition.names["IngestBucket"], Key="check/facebook/private.jpg")
    assert _denied(s3.get_object, Bucket=coalition.names["ResultsBucket"], Key="results/facebook/r.json")
    # facebook's topic (evaluated) and inbox (moto: the queue is in facebook's account)
    assert _denied(coalition.subscribe, member=tiktok, platform="facebook")
    assert _denied(tiktok.engineer.client("sqs").receive_message, QueueUrl=facebook.inbox)
    assert _denied(tiktok.role.client("sqs").receive_message, QueueUrl=facebook.inbox)
    # the lookup API: tiktok's session is tiktok, and may not look up as facebook
    status, answer = coalition.lookup(tiktok.role, tiktok.role_arn, {**_picture_query(tmp_path), "member": "facebook"})
    assert (status, answer["error"]["code"]) == (403, "wrong_member")
    assert coalition.lookup(tiktok.role, tiktok.role_arn, _picture_query(tmp_path))[0] == 200
