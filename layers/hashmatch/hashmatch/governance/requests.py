"""The small JSON requests members and operators drop to govern the bank.

A member's feedback (``feedback/<platform>/<name>``)::

    {"target": "<item id, or the notification_id of a match.found it received>",
     "verdict": "confirm" | "dispute", "reason": "why (required for a dispute)"}

An operator's request (``operator/<name>``)::

    {"action": "quarantine" | "restore" | "remove", "item_id": "...", "reason": "...", "operator": "who"}
    {"action": "benign", "hashes": [{"pdq": "...", "note": "meme template"}, ...], "reason": "...", "operator": "who"}

Parsing is strict: an unknown field, a missing one or a value of the wrong kind is refused
(`invalid_request`) with a message naming it, so a typo never becomes a silent no-op.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from hashmatch.media.model import Rejected, RejectReason
from hashmatch.signals import SIGNALS, UnknownSignal

__all__ = [
    "MAX_BENIGN_HASHES",
    "MAX_REASON",
    "MAX_REQUEST_BYTES",
    "BenignHash",
    "Feedback",
    "OperatorAction",
    "OperatorRequest",
    "feedback_from_json",
    "operator_request_from_json",
]

MAX_REQUEST_BYTES = 256 * 1024
MAX_REASON = 1000
MAX_BENIGN_HASHES = 1000
_ID = re.compile(r"^[0-9a-f]{32}$")

Verdict = Literal["confirm", "dispute"]
OperatorAction = Literal["quarantine", "restore", "remove", "benign"]
OPERATOR_ACTIONS: tuple[OperatorAction, ...] = ("quarantine", "restore", "remove", "benign")


@dataclass(frozen=True)
class Feedback:
    """A member's word on an item: `target` is an item id or a notification id it received."""

    target: str
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True)
class BenignHash:
    signal: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class OperatorRequest:
    action: OperatorAction
    operator: str
    reason: str
    item_id: str = ""
    hashes: tuple[BenignHash, ...] = ()


def _invalid(message: str) -> Rejected:
    return Rejected(RejectReason.INVALID_REQUEST, message)


def _fields(document: Any, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(document, dict):
        raise _invalid("the request must be a JSON object")
    unknown = sorted(set(document) - required - optional)
    if unknown:
        raise _invalid(f"unknown field {unknown[0]!r}; fields are {', '.join(sorted(required | optional))}")
    missing = sorted(required - set(document))
    if missing:
        raise _invalid(f"missing field {missing[0]!r}")
    return document


def _text(document: Mapping[str, Any], name: str, limit: int = MAX_REASON) -> str:
    value = document.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise _invalid(f"{name} must be text of at most {limit} characters")
    return value.strip()


def _id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise _invalid(f"{name} must be 32 lowercase hex digits (an item or notification id), got {value!r}")
    return value


def feedback_from_json(document: Any) -> Feedback:
    """A member's feedback; raises `Rejected` (`invalid_request`) naming what is wrong."""
    fields = _fields(document, {"target", "verdict"}, {"reason"})
    verdict = fields["verdict"]
    if verdict not in ("confirm", "dispute"):
        raise _invalid(f"verdict must be 'confirm' or 'dispute', got {verdict!r}")
    reason = _text(fields, "reason")
    if verdict == "dispute" and not reason:
        raise _invalid("a dispute needs a reason: the contributor is told who disputed and why")
    return Feedback(_id(fields["target"], "target"), cast(Verdict, verdict), reason)


def operator_request_from_json(document: Any) -> OperatorRequest:
    """An operator's request; raises `Rejected` (`invalid_request`) naming what is wrong."""
    fields = _fields(document, {"action", "reason", "operator"}, {"item_id", "hashes"})
    action = fields["action"]
    if action not in OPERATOR_ACTIONS:
        raise _invalid(f"action must be one of {', '.join(OPERATOR_ACTIONS)}, got {action!r}")
    reason, operator = _text(fields, "reason"), _text(fields, "operator", 200)
    if not reason or not operator:
        raise _invalid("an operator request names its operator and its reason: both go on the record")
    if action != "benign":
        return OperatorRequest(
            cast(OperatorAction, action), operator, reason, item_id=_id(fields.get("item_id"), "item_id")
        )
    return OperatorRequest("benign", operator, reason, hashes=_benign_hashes(fields.get("hashes")))


def _benign_hashes(raw: Any) -> tuple[BenignHash, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BENIGN_HASHES:
        raise _invalid(f"hashes must be a list of 1 to {MAX_BENIGN_HASHES} objects such as {{'pdq': '...'}}")
    found = []
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise _invalid(f"hashes[{number}] must be an object such as {{'pdq': '...'}}")
        note = entry.get("note", "")
        named = {k: v for k, v in entry.items() if k != "note"}
        if len(named) != 1 or not isinstance(note, str):
            raise _invalid(f"hashes[{number}] must hold one signal and an optional note")
        ((name, value),) = named.items()
        try:
            signal = SIGNALS.get(str(name))
            value = signal.parse(str(value))
        except (UnknownSignal, ValueError) as error:
            raise _invalid(f"hashes[{number}]: {error}") from None
        found.append(BenignHash(signal.name, value, note[:MAX_REASON]))
    return tuple(found)
