"""The coalition's governance, carried out: feedback, operators' actions, what a share must pass,
and what each member is told of a check. Every step that changes the bank or is refused goes on
the audit log (`hashmatch.service.ports.AuditLog`).

- **Feedback** (`feedback`): a member confirms or disputes an item (by its id, or by the id of a
  `match.found` it received). Its contributor can do neither. Confirmations add corroboration
  (`SharedItem.backers`); when disputes from `CoalitionRules.dispute_quorum` distinct members are
  in, the item is quarantined at once for everyone: it stops matching (the matcher reports active
  items only) and every member hears `hash.quarantined`. Every dispute is announced as
  `hash.disputed`; only the contributor's copy says who disputed and why.
- **Operators** (`operator`): quarantine, restore (disputes forgotten: they were reviewed) and
  remove (for good: it leaves the indexes) any item, and load the benign bank. Their requests
  come from ``operator/``, which only the operators' role may write; the answer is on the audit
  log, and members hear `hash.quarantined` / `hash.restored` / `hash.removed`.
- **Incidents** (`incident`, and operators' ``incident-*`` actions): any member or operator opens
  an incident or escalates it; its opener or an operator closes it. Every member hears
  `incident.opened` / `incident.escalated` / `incident.closed`; a refused request is
  `incident.rejected` to the member (operators: the audit log).
- **Shares** (`admit_share`): naming an incident that is not open or escalated is
  `unknown_incident`; over the member's daily quota is `rate_limited`; a hash matching the
  benign bank is `benign_collision`; an item shared before keeps its first provenance, its
  feedback and a status that is not the contributor's to lift (quarantined, removed).
- **Checks** (`acted_on`): each member's policy (labels, trusted contributors, backers required);
  `count_incident_matches`: the matches on incidents' items, per incident, hour and member.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypedDict

from hashmatch.bank.model import ItemStatus, Match, NearEntry, Provenance, SharedItem, item_id_for
from hashmatch.governance.admission import BenignScreen, refuse_degenerate
from hashmatch.governance.incidents import hour_of, moved, opened
from hashmatch.governance.policy import CoalitionRules
from hashmatch.governance.requests import (
    Feedback,
    IncidentRequest,
    OperatorRequest,
    feedback_from_json,
    incident_request_from_json,
    operator_request_from_json,
)
from hashmatch.media.model import Rejected, RejectReason
from hashmatch.service.notifications import (
    EventType,
    Notification,
    governance_notifications,
    incident_notifications,
)
from hashmatch.service.ports import AuditLog, AuditRecord, Bank
from hashmatch.service.routing import OPERATOR
from hashmatch.service.submission import Submission
from hashmatch.signals import SIGNALS

__all__ = ["BENIGN_CONTRIBUTOR", "Governance", "asked_by", "moved_by"]

logger = logging.getLogger(__name__)

BENIGN_CONTRIBUTOR = "benign-bank"
# Statuses a contributor's re-share must not lift.
_HELD = ("quarantined", "removed", "benign")
_INCIDENT_EVENTS = {
    "open": EventType.INCIDENT_OPENED,
    "escalate": EventType.INCIDENT_ESCALATED,
    "close": EventType.INCIDENT_CLOSED,
}


def actor_of(submission: Submission) -> str:
    return "operator" if submission.platform == OPERATOR else f"platform:{submission.platform}"


class Governance:
    def __init__(
        self,
        *,
        bank: Bank,
        platforms: tuple[str, ...],
        rules: CoalitionRules,
        audit: AuditLog | None,
        now: Callable[[], str],
    ) -> None:
        self._bank = bank
        self._platforms = platforms
        self._rules = rules
        self._audit = audit
        self._now = now

    @property
    def rules(self) -> CoalitionRules:
        return self._rules

    def record(self, *records: AuditRecord) -> None:
        if self._audit is not None and records:
            self._audit.append(records)

    # -- checks -----------------------------------------------------------------------------

    def acted_on(self, platform: str, matches: list[Match]) -> list[Match]:
        return self._rules.policy(platform).acted_on(matches)

    def alerted(self, platform: str, items: Sequence[SharedItem]) -> list[SharedItem]:
        policy = self._rules.policy(platform)
        return [item for item in items if policy.alerted_by(item)]

    def count_incident_matches(self, platform: str, matches: Sequence[Match], at: str) -> None:
        """Count one match for each incident the items `platform` was told of belong to, in the hour
        of `at`. Counted when the verdict is decided: a check retried after that may count twice."""
        for incident in sorted({m.incident for m in matches if m.incident and not m.benign}):
            self._bank.count_incident_matches(incident, hour_of(at), platform, 1)

    # -- shares -----------------------------------------------------------------------------

    def admit_share(
        self, submission: Submission, items: list[SharedItem]
    ) -> tuple[list[SharedItem], dict[str, SharedItem]]:
        """`items` as the bank will hold them, and those shared before as the bank holds them; raises
        `Rejected` (`unknown_incident`, `benign_collision`, `rate_limited`) when the share may not go in."""
        self._refuse_unknown_incidents(items)
        known = self._bank.get_items([item.item_id for item in items])
        new = [item for item in items if item.item_id not in known]
        if new:
            self._refuse_benign(new)
        day = self._now()[:10]
        if new and not self._bank.count_shares(submission.platform, day, len(new), self._rules.share_quota):
            raise Rejected(
                RejectReason.RATE_LIMITED,
                f"{len(new)} new items would pass {submission.platform}'s quota of {self._rules.share_quota} "
                f"items shared per day (UTC {day}); share the rest tomorrow or ask the operators",
            )
        kept = [_keep_first(item, known[item.item_id]) if item.item_id in known else item for item in items]
        return kept, known

    def _refuse_benign(self, items: list[SharedItem]) -> None:
        """Raise `Rejected` (`benign_collision`) for the first item with a hash (main or a stored
        framing) near the benign bank's; the bank is read once for the whole share."""
        screen = BenignScreen(self._bank.benign_hashes())
        for item in items:
            hashes = [*item.signals.items(), *((entry.signal, entry.value) for entry in item.near_entries)]
            collision = screen.collision(hashes)
            if collision is not None:
                benign_id, signal, distance = collision
                raise Rejected(
                    RejectReason.BENIGN_COLLISION,
                    f"its {signal} hash is {distance} bits from the benign bank's item {benign_id} (a common "
                    "harmless picture, such as a meme template or a logo); sharing it would flag harmless uploads",
                )

    def _refuse_unknown_incidents(self, items: list[SharedItem]) -> None:
        for name in sorted({item.provenance.incident for item in items if item.provenance.incident}):
            incident = self._bank.get_incident(name)
            if incident is None or not incident.accepting:
                why = "no incident of that id was opened" if incident is None else "it was closed"
                raise Rejected(
                    RejectReason.UNKNOWN_INCIDENT,
                    f"the share names incident {name!r}, but {why}; open it first (`hashmatch incident open`), "
                    "or share without an incident",
                )

    # -- incidents --------------------------------------------------------------------------

    def incident(self, submission: Submission) -> list[Notification]:
        """A member's incident request carried out; raises `Rejected` (on the audit log) when refused."""
        try:
            request = incident_request_from_json(submission.request)
            return self._move_incident(submission, request, actor_of(submission))
        except Rejected as refused:
            self.record(self._refused(submission, f"incident-{submission.request.get('action', '?')}", refused))
            raise

    def _move_incident(self, submission: Submission, request: IncidentRequest, actor: str) -> list[Notification]:
        now = self._now()
        current = self._bank.get_incident(request.incident)
        if request.move == "open":
            if current is not None:
                raise Rejected(
                    RejectReason.INVALID_REQUEST,
                    f"incident {request.incident} exists already ({current.status}); an id is opened once",
                )
            incident = opened(request.incident, request.title, request.labels, actor, now)
        else:
            if current is None:
                raise Rejected(RejectReason.UNKNOWN_INCIDENT, f"no incident {request.incident!r} was opened")
            if request.move == "close" and actor != current.opened_by and not actor.startswith("operator:"):
                raise Rejected(
                    RejectReason.INVALID_REQUEST,
                    f"incident {request.incident} was opened by {current.opened_by}: only it or an operator closes it",
                )
            try:
                incident = moved(current, request.move, actor, now, request.note)
            except ValueError as error:
                raise Rejected(RejectReason.INVALID_REQUEST, str(error)) from None
        if not self._bank.put_incident(incident, expected=None if current is None else current.status):
            raise Rejected(
                RejectReason.INVALID_REQUEST,
                f"incident {request.incident} changed while this request was carried out; look at it and ask again",
            )
        self.record(
            AuditRecord(
                f"incident-{request.move}",
                actor,
                now,
                reason=request.note,
                **asked_by(submission),
                detail={"incident": request.incident, "status": incident.status},
            )
        )
        logger.info("incident", extra={"incident": incident.incident_id, "status": incident.status})
        return incident_notifications(
            _INCIDENT_EVENTS[request.move], list(self._platforms), incident, now, submission.obj.identity
        )

    # -- feedback ---------------------------------------------------------------------------

    def feedback(self, submission: Submission) -> list[Notification]:
        member = submission.platform
        try:
            said = feedback_from_json(submission.request)
            targets = self._targets(member, said)
        except Rejected as refused:
            self.record(self._refused(submission, "feedback", refused))
            raise
        notifications: list[Notification] = []
        for item in targets:
            notifications += self._feedback_on(submission, item, said)
        return notifications

    def _targets(self, member: str, said: Feedback) -> list[SharedItem]:
        notice = self._bank.notice(said.target)
        if notice is not None and notice[0] != member:
            raise Rejected(RejectReason.UNKNOWN_ITEM, f"{said.target} is not a notification {member} received")
        ids = list(notice[1]) if notice is not None else [said.target]
        found = self._bank.get_items(ids)
        items = [found[i] for i in ids if i in found and found[i].status in ("active", "quarantined")]
        if not items:
            raise Rejected(
                RejectReason.UNKNOWN_ITEM,
                f"{said.target} names no item in the bank (or only withdrawn or removed ones), nor a match.found "
                f"{member} received",
            )
        if all(item.provenance.contributor == member for item in items):
            raise Rejected(RejectReason.OWN_ITEM, f"{member} shared {said.target} itself: withdraw it instead")
        return [item for item in items if item.provenance.contributor != member]

    def _feedback_on(self, submission: Submission, item: SharedItem, said: Feedback) -> list[Notification]:
        member, now = submission.platform, self._now()
        updated = self._bank.record_feedback(item.item_id, member, said.verdict, said.reason)
        if updated is None:
            raise RuntimeError(f"item {item.item_id} vanished while its feedback was recorded")
        self.record(
            AuditRecord(
                said.verdict,
                actor_of(submission),
                now,
                item_ids=(item.item_id,),
                reason=said.reason,
                **asked_by(submission),
            )
        )
        contributor = updated.provenance.contributor
        dedupe = f"{submission.obj.identity}#{item.item_id}"
        if said.verdict == "confirm":
            detail = {"action": "confirmed", "by": member, "confirmations": len(updated.confirmed_by)}
            return governance_notifications(
                EventType.HASH_CONFIRMED, sorted({contributor, member}), updated, now, dedupe, lambda _p: detail
            )
        disputes = len(updated.disputed_by)
        quorum = self._rules.dispute_quorum

        def disputed(platform: str) -> dict[str, object]:
            detail: dict[str, object] = {"action": "disputed", "disputes": disputes, "quorum": quorum}
            if platform in (contributor, member):
                detail.update(by=member, reason=said.reason)
            return detail

        notifications = governance_notifications(
            EventType.HASH_DISPUTED, list(self._platforms), updated, now, dedupe, disputed
        )
        if disputes >= quorum and (updated.status == "active" or moved_by(updated, "quarantined", submission)):
            notifications += self._quarantine_by_disputes(submission, updated)
        return notifications

    def _quarantine_by_disputes(self, submission: Submission, item: SharedItem) -> list[Notification]:
        now = self._now()
        quarantined = self._bank.set_status(
            item.item_id, "quarantined", now, expected=("active",), by=submission.obj.identity
        )
        if quarantined is None and moved_by(item, "quarantined", submission):
            # This dispute's quarantine, retried after it was made: on the record and told again as then.
            quarantined, now = item, item.status_at or now
        if quarantined is None:  # a concurrent dispute got there first, or an operator acted
            return []
        reasons = self._bank.dispute_reasons(item.item_id)
        self.record(
            AuditRecord(
                "quarantine",
                "coalition",
                now,
                item_ids=(item.item_id,),
                reason=f"disputed by {len(reasons)} members (quorum {self._rules.dispute_quorum})",
                **asked_by(submission),
                detail={"disputes": reasons},
            )
        )
        contributor = item.provenance.contributor

        def detail(platform: str) -> dict[str, object]:
            said: dict[str, object] = {"action": "quarantined", "by": "disputes", "disputes": len(reasons)}
            said["quorum"] = self._rules.dispute_quorum
            if platform == contributor:
                said["disputes_by"] = [{"member": m, "reason": r} for m, r in sorted(reasons.items())]
            return said

        logger.warning("item quarantined by disputes", extra={"item_id": item.item_id})
        return governance_notifications(
            EventType.HASH_QUARANTINED, list(self._platforms), quarantined, now, f"{item.item_id}#disputes", detail
        )

    # -- operators --------------------------------------------------------------------------

    def operator(self, submission: Submission) -> list[Notification]:
        """Carry out an operator's request; its answer is on the audit log (refusals included)."""
        try:
            request = operator_request_from_json(submission.request)
            if request.action == "benign":
                return self._load_benign(submission, request)
            if request.incident is not None:
                return self._move_incident(submission, request.incident, f"operator:{request.operator}")
            return self._operator_on_item(submission, request)
        except Rejected as refused:
            self.record(self._refused(submission, str(submission.request.get("action", "operator")), refused))
            return []

    def _operator_on_item(self, submission: Submission, request: OperatorRequest) -> list[Notification]:
        moves = {
            "quarantine": ("quarantined", ("active",), EventType.HASH_QUARANTINED),
            "restore": ("active", ("quarantined",), EventType.HASH_RESTORED),
            "remove": ("removed", ("active", "quarantined"), EventType.HASH_REMOVED),
        }
        status, expected, event_type = moves[request.action]
        now = self._now()
        moved = self._bank.set_status(
            request.item_id,
            status,
            now,
            expected=expected,
            clear_disputes=request.action == "restore",
            by=submission.obj.identity,
        )
        if moved is None:
            current = self._bank.get_items([request.item_id]).get(request.item_id)
            if current is not None and moved_by(current, status, submission):
                # This request's move, retried after it was made (the audit record or the answer
                # failed): on the record and told again exactly as then.
                moved, now = current, current.status_at or now
            else:
                why = "no such item" if current is None else f"it is {current.status}, not {' or '.join(expected)}"
                raise Rejected(RejectReason.UNKNOWN_ITEM, f"cannot {request.action} {request.item_id}: {why}")
        actor = f"operator:{request.operator}"
        self.record(
            AuditRecord(
                request.action, actor, now, item_ids=(moved.item_id,), reason=request.reason, **asked_by(submission)
            )
        )
        detail = {"action": status if status != "active" else "restored", "by": actor, "reason": request.reason}
        return governance_notifications(
            event_type, list(self._platforms), moved, now, submission.obj.identity, lambda _p: detail
        )

    def _load_benign(self, submission: Submission, request: OperatorRequest) -> list[Notification]:
        now = self._now()
        refuse_degenerate((h.signal, h.value) for h in request.hashes)
        items = [
            SharedItem(
                item_id=item_id_for(BENIGN_CONTRIBUTOR, h.signal, h.value),
                provenance=Provenance(BENIGN_CONTRIBUTOR, now, note=h.note or None),
                media="hashes",
                signals={h.signal: h.value},
                near_entries=(NearEntry(h.signal, h.value),) if SIGNALS.get(h.signal) in SIGNALS.indexed() else (),
                status="benign",
            )
            for h in request.hashes
        ]
        self._bank.put_items(items)
        self.record(
            AuditRecord(
                "benign",
                f"operator:{request.operator}",
                now,
                item_ids=tuple(item.item_id for item in items),
                reason=request.reason,
                **asked_by(submission),
            )
        )
        return []

    def _refused(self, submission: Submission, action: str, refused: Rejected) -> AuditRecord:
        return AuditRecord(
            action,
            actor_of(submission),
            self._now(),
            outcome="refused",
            reason=f"{refused.reason.value}: {refused.message}",
            **asked_by(submission),
        )


def _keep_first(item: SharedItem, first: SharedItem) -> SharedItem:
    """A re-shared item: its first provenance, feedback and a held status stay; the hashes are the
    new share's (the same item id means the same main hash)."""
    status: ItemStatus = first.status if first.status in _HELD else "active"
    return replace(
        item,
        provenance=first.provenance,
        status=status,
        confirmed_by=first.confirmed_by,
        disputed_by=first.disputed_by,
    )


def moved_by(item: SharedItem, status: str, submission: Submission) -> bool:
    """Whether `item` is in `status` because `submission` (an earlier attempt at it) put it there."""
    return item.status == status and item.status_by is not None and item.status_by == submission.obj.identity


class AskedBy(TypedDict):
    request: str
    writer: str


def asked_by(submission: Submission) -> AskedBy:
    """The audit record's `request` and `writer`: the object key that asked, and who S3 says wrote it."""
    return {"request": submission.obj.key, "writer": submission.obj.principal}
