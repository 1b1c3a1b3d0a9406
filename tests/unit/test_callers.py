"""Members in their own accounts: the lookup API tells a member's session from every other caller
by the identity API Gateway establishes (`requestContext.authorizer.iam`), and only by that."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.governance.callers import NO_MEMBER_ROLES, AssumedRole, MemberCallers, assumed_role

pytestmark = pytest.mark.unit

COALITION = "123456789012"
CALLERS = MemberCallers(COALITION, {"tiktok": "hashmatch-tiktok", "facebook": "hashmatch-facebook"})


def _iam(arn: str, account: str | None = "") -> dict[str, object]:
    """`requestContext.authorizer.iam` as API Gateway fills it for a request signed by `arn`: the
    account is the ARN's (or `account`; None: left out)."""
    if account == "":
        parts = arn.split(":")
        account = parts[4] if len(parts) > 4 and parts[4] else COALITION
    identity: dict[str, object] = {
        "accessKey": "ASIAEXAMPLEEXAMPLE01",
        "callerId": "AROAEXAMPLEEXAMPLE01:uploader",
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": arn,
        "userId": "AROAEXAMPLEEXAMPLE01:uploader",
    }
    if account is not None:
        identity["accountId"] = account
    return identity


def _session(role: str, account: str = COALITION, session: str = "uploader", partition: str = "aws") -> str:
    return f"arn:{partition}:sts::{account}:assumed-role/{role}/{session}"


def test_a_session_of_a_platforms_role_is_that_member() -> None:
    assert CALLERS.member_of(_iam(_session("hashmatch-tiktok"))) == "tiktok"
    assert CALLERS.member_of(_iam(_session("hashmatch-facebook", session="i-0abc@batch.job"))) == "facebook"
    assert CALLERS.member_of(_iam(_session("hashmatch-tiktok", partition="aws-cn"))) == "tiktok"
    # API Gateway always names the account; an identity without it is judged by the ARN alone.
    assert CALLERS.member_of(_iam(_session("hashmatch-tiktok"), account=None)) == "tiktok"


@pytest.mark.parametrize(
    "arn",
    [
        # the role's own ARN is never a caller's: callers are sessions of it
        f"arn:aws:iam::{COALITION}:role/hashmatch-members/hashmatch/hashmatch-tiktok",
        # a role of the same name in any other account (the member's own included)
        _session("hashmatch-tiktok", account="111111111111"),
        _session("hashmatch-tiktok", account="999999999999"),
        # other principals of the coalition's account: operators, the hashing function, users
        _session("hashmatch-operators"),
        _session("hashmatch-HashFunctionRole-ABC123"),
        _session("other-stack-tiktok"),
        _session("hashmatch-tiktok-admin"),
        f"arn:aws:iam::{COALITION}:user/hashmatch-tiktok",
        f"arn:aws:iam::{COALITION}:root",
        f"arn:aws:sts::{COALITION}:federated-user/hashmatch-tiktok",
        # not an ARN at all, or one with something after it
        "",
        "hashmatch-tiktok",
        _session("hashmatch-tiktok") + "/extra",
        " " + _session("hashmatch-tiktok"),
    ],
)
def test_anyone_else_is_no_member(arn: str) -> None:
    assert CALLERS.member_of(_iam(arn)) is None


def test_an_identity_whose_account_disagrees_with_its_arn_is_no_member() -> None:
    assert CALLERS.member_of(_iam(_session("hashmatch-tiktok"), account="111111111111")) is None


def test_without_member_roles_nobody_is_a_member() -> None:
    identity = _iam(_session("hashmatch-tiktok"))
    assert NO_MEMBER_ROLES.member_of(identity) is None
    assert MemberCallers(COALITION, {}).member_of(identity) is None
    assert MemberCallers(None, {"tiktok": "hashmatch-tiktok"}).member_of(identity) is None


@pytest.mark.parametrize("identity", [None, {}, {"userArn": None}, {"userArn": 7}, {"accountId": COALITION}])
def test_a_missing_or_odd_identity_is_no_member(identity: dict[str, object] | None) -> None:
    assert CALLERS.member_of(identity) is None


def test_an_assumed_roles_arn_is_read_into_its_parts() -> None:
    expected = AssumedRole(COALITION, "hashmatch-tiktok", "s-1")
    assert assumed_role(_session("hashmatch-tiktok", session="s-1")) == expected
    assert assumed_role(f"arn:aws:iam::{COALITION}:user/u") is None
    assert assumed_role(_session("rôle")) is None  # IAM names are ASCII


@given(st.text(max_size=80))
def test_any_text_as_an_arn_is_answered(arn: str) -> None:
    found = CALLERS.member_of({"userArn": arn, "accountId": COALITION})
    assert found is None or arn in (_session(f"hashmatch-{found}", session=arn.rsplit("/", 1)[-1]),)
