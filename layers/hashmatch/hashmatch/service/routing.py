"""Where a dropped object's key says it goes.

- ``<check|share|withdraw>/<platform>/<name>``: media or a hash list a member asks about;
- ``feedback/<platform>/<name>``: a member's confirmation or dispute of a bank item (a small
  JSON request, `hashmatch.governance.requests`);
- ``incident/<platform>/<name>``: a member opening, escalating or closing an incident (a small
  JSON request, `hashmatch.governance.incidents`);
- ``operator/<name>``: an operator's request (quarantine, restore, remove an item; load the
  benign bank). Only the operators' role may write there (`OperatorAccess` in the template);
  it is no member's, so its answers go to the audit log and to every member, never to a topic
  of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, cast

__all__ = ["ACTIONS", "OPERATOR", "REQUEST_ACTIONS", "Action", "Outcome", "Route", "UnroutableObject", "route_for"]

Action = Literal["check", "share", "withdraw", "feedback", "incident", "operator"]
ACTIONS: tuple[Action, ...] = ("check", "share", "withdraw", "feedback", "incident", "operator")
# Actions whose object is a small JSON request, not media or a hash list.
REQUEST_ACTIONS: tuple[Action, ...] = ("feedback", "incident", "operator")
# Who an ``operator/`` request comes from: not a platform name (those are alphanumeric).
OPERATOR = "@operator"


class Outcome(StrEnum):
    """What processing one dropped object (or its submission) came to."""

    PROCESSED = "processed"
    ALREADY_PROCESSED = "already_processed"


class UnroutableObject(Exception):
    """An object key outside the layout above for a known platform: an operator error."""


@dataclass(frozen=True)
class Route:
    action: Action
    platform: str


def route_for(key: str, platforms: tuple[str, ...]) -> Route:
    """The action and platform an object key asks for; raises `UnroutableObject` otherwise."""
    parts = key.split("/")
    if parts[0] == "operator":
        if len(parts) < 2 or not parts[-1]:
            raise UnroutableObject(f"key {key!r} is not operator/<name>")
        return Route("operator", OPERATOR)
    if len(parts) < 3 or parts[0] not in ACTIONS or not parts[2]:
        raise UnroutableObject(
            f"key {key!r} is not <{'|'.join(a for a in ACTIONS if a != 'operator')}>/<platform>/<name>"
        )
    if parts[1] not in platforms:
        raise UnroutableObject(f"key {key!r} names platform {parts[1]!r}, not one of {', '.join(platforms)}")
    return Route(cast(Action, parts[0]), parts[1])
