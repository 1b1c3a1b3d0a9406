"""Members in their own AWS accounts: which member signed a request to the lookup API?

API Gateway verifies a request's SigV4 signature (the HTTP API's IAM authorization) and hands the
function the caller it established, in ``requestContext.authorizer.iam`` (payload format 2.0):
``userArn``, ``accountId``, ``callerId``, ``userId``, ``accessKey``. An HTTP API takes no resource
policy, so only principals of the API's own account can be granted a route: a member in an
account of its own calls through the role the coalition made for it there (``<stack>-<platform>``,
template.yaml ``MemberRole<platform>``, assumable only from the account ``Members`` names for it,
with the external id). Its requests arrive signed by a session of that role::

    arn:aws:sts::<coalition account>:assumed-role/<stack>-<platform>/<session name>

(an assumed role's ARN names neither the role's path nor the account the session came from: that
the session came from the member's own account is the role's trust policy's guarantee).
`MemberCallers.member_of` turns such an identity into the platform, and anything else into None:
a user or another role of the coalition's account (the operators', the hashing function's), a
role of the same name in any other account, or every caller when no member has a role
(``Members`` empty). Pure: no AWS call, the names come from the settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["NO_MEMBER_ROLES", "AssumedRole", "MemberCallers", "assumed_role"]

# IAM's role and session name characters; an assumed role's ARN carries no path.
_ASSUMED_ROLE = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):sts::(?P<account>[0-9]{12}):"
    r"assumed-role/(?P<role>[\w+=,.@-]{1,64})/(?P<session>[\w+=,.@-]{2,64})",
    re.ASCII,
)


@dataclass(frozen=True)
class AssumedRole:
    account: str
    role_name: str
    session_name: str


def assumed_role(arn: str) -> AssumedRole | None:
    """The account, role and session of an assumed-role session's ARN; None for any other ARN (a
    user, an account root, a role's own ``arn:aws:iam::...:role/...``) or for text that is none."""
    found = _ASSUMED_ROLE.fullmatch(arn)
    if found is None:
        return None
    return AssumedRole(found["account"], found["role"], found["session"])


@dataclass(frozen=True)
class MemberCallers:
    """The member roles a lookup's caller may be: `role_names` ({platform: role name}) in the
    coalition's account `account_id`. Empty `role_names`: no member has a role, nobody is one."""

    account_id: str | None = None
    role_names: Mapping[str, str] = field(default_factory=dict)

    def member_of(self, identity: Mapping[str, object] | None) -> str | None:
        """The platform whose role signed the request (`identity`: ``requestContext.authorizer.iam``),
        or None when the caller is no member's role. Never raises: a missing or odd identity is None."""
        if not self.role_names or not self.account_id or not identity:
            return None
        session = assumed_role(str(identity.get("userArn") or ""))
        if session is None or session.account != self.account_id:
            return None
        # API Gateway names the caller's account beside the ARN: both must say the same.
        if str(identity.get("accountId") or session.account) != session.account:
            return None
        return next((p for p, name in self.role_names.items() if name == session.role_name), None)


NO_MEMBER_ROLES = MemberCallers()
