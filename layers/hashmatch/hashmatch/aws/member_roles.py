"""`hashmatch.edge.principals.MemberRoles` on IAM: each member role's RoleId, read with iam:GetRole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IamMemberRoles"]


class IamMemberRoles:
    """The RoleIds of the roles named in `role_names` ({platform: role name}), read on first use and
    kept until asked `fresh`. A role that cannot be read raises botocore's `ClientError`: the
    object is retried (and in the end answered as failed), never let through unchecked."""

    def __init__(self, role_names: Mapping[str, str], iam_client: Any) -> None:
        self._role_names = dict(role_names)
        self._iam = iam_client
        self._role_ids: dict[str, str] | None = None

    def role_ids(self, *, fresh: bool = False) -> Mapping[str, str]:
        if self._role_ids is None or fresh:
            self._role_ids = {
                platform: str(self._iam.get_role(RoleName=name)["Role"]["RoleId"])
                for platform, name in self._role_names.items()
            }
        return self._role_ids
