"""Incidents: a live event (an attack filmed and spreading, a coordinated campaign) that members
share hashes under, with a lifecycle of its own.

An incident has an id (the ``incident`` a share names in its metadata), a title, taxonomy labels,
who opened it, and a timeline of what happened to it. Its lifecycle is one way::

    open -> escalated -> closed        (open -> closed as well)

A share naming an incident is admitted only while that incident is open or escalated
(`RejectReason.UNKNOWN_INCIDENT` otherwise). Plain data and rules here; the bank stores incidents
(`hashmatch.service.ports.Bank.put_incident`), `hashmatch.service.governance` carries out requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

__all__ = [
    "ACCEPTING",
    "INCIDENT_ID",
    "Incident",
    "IncidentMove",
    "IncidentStatus",
    "TimelineEntry",
    "hour_of",
    "moved",
    "opened",
]

IncidentStatus = Literal["open", "escalated", "closed"]
IncidentMove = Literal["open", "escalate", "close"]
# Statuses under which shares naming the incident are admitted.
ACCEPTING: tuple[IncidentStatus, ...] = ("open", "escalated")
# An incident id: what members write in a share's ``incident`` metadata, e.g. ``inc-7``. Match it
# with `fullmatch`: ``$`` would let ``inc-7\n`` through, an id other members read as ``inc-7``.
INCIDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# Which statuses each move starts from, and the status it leads to.
_MOVES: dict[str, tuple[tuple[IncidentStatus, ...], IncidentStatus]] = {
    "escalate": (("open",), "escalated"),
    "close": (("open", "escalated"), "closed"),
}


@dataclass(frozen=True)
class TimelineEntry:
    """One step of an incident's life: `action` (``opened``, ``escalated``, ``closed``) by `by`
    (``platform:<name>`` or ``operator:<name>``) at `at`."""

    at: str
    action: str
    by: str
    note: str = ""

    def to_json(self) -> dict[str, str]:
        record = {"at": self.at, "action": self.action, "by": self.by}
        if self.note:
            record["note"] = self.note
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> TimelineEntry:
        return cls(str(record["at"]), str(record["action"]), str(record["by"]), str(record.get("note", "")))


@dataclass(frozen=True)
class Incident:
    incident_id: str
    title: str
    labels: tuple[str, ...]
    status: IncidentStatus
    opened_by: str
    opened_at: str
    timeline: tuple[TimelineEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The incident as notifications, `hashmatch incident status` and the bank record show it."""
        return {
            "incident_id": self.incident_id,
            "title": self.title,
            "labels": list(self.labels),
            "status": self.status,
            "opened_by": self.opened_by,
            "opened_at": self.opened_at,
            "timeline": [step.to_json() for step in self.timeline],
        }

    @property
    def accepting(self) -> bool:
        """Shares naming it are admitted."""
        return self.status in ACCEPTING


def opened(incident_id: str, title: str, labels: tuple[str, ...], by: str, at: str) -> Incident:
    return Incident(incident_id, title, labels, "open", by, at, (TimelineEntry(at, "opened", by),))


def moved(incident: Incident, move: IncidentMove, by: str, at: str, note: str = "") -> Incident:
    """`incident` after `move`; raises `ValueError` saying why when its status does not allow it."""
    if move == "open":
        raise ValueError(f"incident {incident.incident_id} is already {incident.status}: an id is opened once")
    starts, status = _MOVES[move]
    if incident.status not in starts:
        raise ValueError(
            f"cannot {move} incident {incident.incident_id}: it is {incident.status}, not {' or '.join(starts)}"
        )
    step = TimelineEntry(at, status, by, note)
    return replace(incident, status=cast(IncidentStatus, status), timeline=(*incident.timeline, step))


def hour_of(at: str) -> str:
    """The UTC hour an ISO 8601 time (as the service writes it) falls in: ``2026-12-04T12``."""
    return at[:13]
