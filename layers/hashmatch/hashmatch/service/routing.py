"""Where a dropped object's key says it goes: ``<action>/<platform>/<name>``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, cast

__all__ = ["ACTIONS", "Action", "Outcome", "Route", "UnroutableObject", "route_for"]

Action = Literal["check", "share", "withdraw"]
ACTIONS: tuple[Action, ...] = ("check", "share", "withdraw")


class Outcome(StrEnum):
    """What processing one dropped object (or its submission) came to."""

    PROCESSED = "processed"
    ALREADY_PROCESSED = "already_processed"


class UnroutableObject(Exception):
    """An object key outside ``<action>/<platform>/...`` for a known platform: an operator error."""


@dataclass(frozen=True)
class Route:
    action: Action
    platform: str


def route_for(key: str, platforms: tuple[str, ...]) -> Route:
    """The action and platform an object key asks for; raises `UnroutableObject` otherwise."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] not in ACTIONS or not parts[2]:
        raise UnroutableObject(f"key {key!r} is not <check|share|withdraw>/<platform>/<name>")
    if parts[1] not in platforms:
        raise UnroutableObject(f"key {key!r} names platform {parts[1]!r}, not one of {', '.join(platforms)}")
    return Route(cast(Action, parts[0]), parts[1])
