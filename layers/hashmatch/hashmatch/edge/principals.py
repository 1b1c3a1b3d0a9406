"""Members in their own AWS accounts: is the writer of a dropped object the platform its key names?

With members in their own accounts (the template's ``Members``), every platform writes through a
role of its own in the coalition's account (``MemberRole<platform>``, assumable only from the
account ``Members`` names for it, or from the coalition's own account for a platform it does not
name, and only with the external id). S3 names the writer in each event record's
``userIdentity.principalId``: for an assumed role ``AWS:<RoleId>:<session name>``, the role's
unique id (``AROA...``); a presigned URL carries its signer's. `PrincipalCheck` compares that
RoleId with the RoleId of the role of the platform the key names (``share/<platform>/...``), and
refuses (`RejectReason.WRONG_PRINCIPAL`):

- an object under a platform's prefixes written by anyone but that platform's role (another
  platform's role, a user or another role of the coalition's account, an event naming nobody);
- an object under ``operator/`` written by a platform's role.

With no members in accounts of their own nothing is checked: platforms' principals hold
``PlatformAccess<platform>`` in the coalition's account, as before, and the key's prefix is trusted.

RoleIds, not role ARNs, because the event names the id; a role deleted and created again gets a
new one, so an id that does not match is looked up again (at most once a minute) before a refusal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from hashmatch.media.model import Rejected, RejectReason
from hashmatch.service.routing import OPERATOR, Route

__all__ = ["REFRESH_SECONDS", "MemberRoles", "PrincipalCheck", "role_id_of"]

REFRESH_SECONDS = 60.0


class MemberRoles(Protocol):
    def role_ids(self, *, fresh: bool = False) -> Mapping[str, str]:
        """Each platform's role's RoleId (``AROA...``), none without members in accounts of their
        own; `fresh`: looked up again, not cached.

        Raises when a role cannot be looked up: the object is then retried, never let through."""
        ...


def role_id_of(principal: str) -> str | None:
    """The RoleId in an S3 event's principal (``AWS:AROA...:session``, or without ``AWS:``);
    None for a principal that is no assumed role (a user ``AWS:AIDA...``, an account, nothing)."""
    unique_id = principal.removeprefix("AWS:").split(":", 1)[0]
    return unique_id if unique_id.startswith("AROA") else None


class PrincipalCheck:
    def __init__(
        self,
        roles: MemberRoles,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._roles = roles
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._refreshed_at: float | None = None

    def refusal(self, route: Route, principal: str) -> Rejected | None:
        """Why `principal` may not have written under `route`'s prefix, or None when it may."""
        refusal = _refusal(route, principal, self._roles.role_ids())
        if refusal is None:
            return None
        now = self._clock()
        if self._refreshed_at is None or now - self._refreshed_at >= self._refresh_seconds:
            self._refreshed_at = now
            refusal = _refusal(route, principal, self._roles.role_ids(fresh=True))
        return refusal


def _refusal(route: Route, principal: str, role_ids: Mapping[str, str]) -> Rejected | None:
    if not role_ids:
        return None
    found = role_id_of(principal)
    writer = next((platform for platform, role_id in role_ids.items() if role_id == found), None)
    expected = role_ids.get(route.platform)
    if expected is not None and found == expected:
        return None
    if expected is None and writer is None:
        return None
    who = f"{writer}'s role" if writer else f"principal {principal or '(not named by the event)'}"
    if expected is not None:
        return Rejected(
            RejectReason.WRONG_PRINCIPAL,
            f"written by {who}; only {route.platform}'s role may write under {route.platform}'s prefixes",
        )
    place = "operator/" if route.platform == OPERATOR else f"{route.platform}'s prefixes"
    return Rejected(
        RejectReason.WRONG_PRINCIPAL, f"written by {who}, which may write under its own prefixes only, not {place}"
    )
