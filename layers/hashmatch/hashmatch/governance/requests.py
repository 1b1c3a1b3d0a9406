"""The small JSON requests members and operators drop to govern the bank.

A member's feedback (``feedback/<platform>/<name>``)::

    {"target": "<item id, or the notification_id of a match.found it received>",
     "verdict": "confirm" | "dispute", "reason": "why (required for a dispute)"}

An operator's request (``operator/<name>``)::

    {"action": "quarantine" | "restore" | "remove", "item_id": "...", "reason": "...", "operator": "who"}
    {"action": "benign", "hashes": [{"pdq": "...", "note": "meme template"}, ...], "reason": "...", "operator": "who"}
    {"action": "incident-open" | "incident-escalate" | "incident-close", "incident": "inc-7",
     "title": "...", "labels": [...], "reason": "...", "operator": "who"}

A member's incident request (``incident/<platform>/<name>``)::

    {"action": "open" | "escalate" | "close", "incident": "inc-7", "title": "what happened",
     "labels": ["violent-extremism"], "note": "why (optional)"}

``title`` is required to open (and ignored otherwise); ``labels`` are taxonomy ids or aliases.

Parsing is strict: an unknown field, a missing one or a value of the wrong kind is refused
(`invalid_request`) with a message naming it, so a typo never becomes a silent no-op.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from hashmatch.governance.incidents import INCIDENT_ID, IncidentMove
from hashmatch.governance.taxonomy import TaxonomyError, taxonomy
from hashmatch.media.model import Rejected, RejectReason
from hashmatch.signals import SIGNALS, UnknownSignal

__all__ = [
    "MAX_BENIGN_HASHES",
    "MAX_REASON",
    "MAX_REQUEST_BYTES",
    "MAX_TITLE",
    "BenignHash",
    "Feedback",
    "IncidentRequest",
    "OperatorAction",
    "OperatorRequest",
    "feedback_from_json",
    "incident_request_from_json",
    "operator_request_from_json",
]

MAX_REQUEST_BYTES = 256 * 1024
MAX_REASON = 1000
MAX_BENIGN_HASHES = 1000
MAX_TITLE = 200
_ID = re.compile(r"[0-9a-f]{32}")  # matched whole (fullmatch): an id and a newline is no id

Verdict = Literal["confirm", "dispute"]
OperatorAction = Literal[
    "quarantine", "restore", "remove", "benign", "incident-open", "incident-escalate", "incident-close"
]
OPERATOR_ACTIONS: tuple[OperatorAction, ...] = (
    "quarantine",
    "restore",
    "remove",
    "benign",
    "incident-open",
    "incident-escalate",
    "incident-close",
)
INCIDENT_MOVES: tuple[IncidentMove, ...] = ("open", "escalate", "close")


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
class IncidentRequest:
    """Open, escalate or close incident `incident`; `title` and `labels` matter only to open it."""

    move: IncidentMove
    incident: str
    title: str = ""
    labels: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class OperatorRequest:
    action: OperatorAction
    operator: str
    reason: str
    item_id: str = ""
    hashes: tuple[BenignHash, ...] = ()
    incident: IncidentRequest | None = None


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
    if not isinstance(value, str) or not _ID.fullmatch(value):
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
    fields = _fields(document, {"action", "reason", "operator"}, {"item_id", "hashes", "incident", "title", "labels"})
    action = fields["action"]
    if action not in OPERATOR_ACTIONS:
        raise _invalid(f"action must be one of {', '.join(OPERATOR_ACTIONS)}, got {action!r}")
    reason, operator = _text(fields, "reason"), _text(fields, "operator", 200)
    if not reason or not operator:
        raise _invalid("an operator request names its operator and its reason: both go on the record")
    if action.startswith("incident-"):
        move = cast(IncidentMove, action.removeprefix("incident-"))
        incident = _incident_request(move, fields, reason)
        return OperatorRequest(cast(OperatorAction, action), operator, reason, incident=incident)
    if action != "benign":
        return OperatorRequest(
            cast(OperatorAction, action), operator, reason, item_id=_id(fields.get("item_id"), "item_id")
        )
    return OperatorRequest("benign", operator, reason, hashes=_benign_hashes(fields.get("hashes")))


def incident_request_from_json(document: Any) -> IncidentRequest:
    """A member's incident request; raises `Rejected` (`invalid_request`, `invalid_label`) naming
    what is wrong."""
    fields = _fields(document, {"action", "incident"}, {"title", "labels", "note"})
    move = fields["action"]
    if move not in INCIDENT_MOVES:
        raise _invalid(f"action must be one of {', '.join(INCIDENT_MOVES)}, got {move!r}")
    return _incident_request(cast(IncidentMove, move), fields, _text(fields, "note"))


def _incident_request(move: IncidentMove, fields: Mapping[str, Any], note: str) -> IncidentRequest:
    incident = fields.get("incident")
    if not isinstance(incident, str) or not INCIDENT_ID.fullmatch(incident):
        raise _invalid(
            f"incident must be an id of 1 to 64 letters, digits, '.', '_' or '-' (such as inc-7), got {incident!r}"
        )
    if move != "open":
        return IncidentRequest(move, incident, note=note)
    title = _text(fields, "title", MAX_TITLE)
    if not title:
        raise _invalid(f"opening an incident needs a title (at most {MAX_TITLE} characters): every member sees it")
    raw = fields.get("labels", [])
    if not isinstance(raw, list) or not all(isinstance(label, str) for label in raw):
        raise _invalid("labels must be a list of taxonomy labels (`hashmatch taxonomy` lists them)")
    try:
        labels = taxonomy().canonical_labels(raw)
    except TaxonomyError as error:
        raise Rejected(RejectReason.INVALID_LABEL, str(error)) from None
    return IncidentRequest(move, incident, title, labels, note)


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
