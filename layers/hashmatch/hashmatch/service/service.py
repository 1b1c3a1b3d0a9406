"""The coalition's side of the three things a platform can ask: check, share and withdraw.

`HashmatchService.process` takes one `Submission` the edge made of an object a platform dropped
(hashes, never media: `hashmatch.edge`) and carries the request through: match or store, keep the
answer, and notify (`hashmatch.service.answers`: a retry republishes the answer kept the first
time, never a different one). It never reads the dropped object. Input that can never be
processed is answered with a `*.rejected` notification; an object the edge found gone, with
`*.expired`, unless an earlier attempt of the edge handed the object's submissions on
(`hashmatch.service.handoffs`): then the `gone` (or the edge's `failure`) is no answer, and the
real submissions give theirs. Anything else that fails raises, so the queue retries it and finally
dead-letters it (`fail`).

A share that fails on every try after an attempt of it stored its items is rolled back: `fail`
withdraws the items that share brought into the bank (each item records the share that made it
active), tells every member `hash.withdrawn` for them (any may have matched them meanwhile), and
the sharer `share.failed` saying so. Nothing of a failed share stays matching; an item another
share had made active stays.

Governance (`hashmatch.service.governance`): what each member is told of a check follows its own
policy; feedback and operators' requests arrive as submissions like the rest; shares pass the
coalition's rules (quota, benign bank); everything that changes the bank or is refused is
written to the audit log.

A check-by-hash list is answered entry by entry: the verdicts go to a results object (one JSON
line per entry, with its content id) announced by `check.completed`, and each entry that matched
is also published as its own `match.found`, so subscribers filtering on matches hear at once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hashmatch.bank.hashlist import HashListEntry
from hashmatch.bank.model import EntryKind, Match, NearEntry, Provenance, SharedItem, item_id_for
from hashmatch.governance.admission import admit
from hashmatch.governance.policy import CoalitionRules
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import Thresholds
from hashmatch.matching.rules import picture_is_usable
from hashmatch.matching.video import shared_frame_runs
from hashmatch.media.model import MediaHashes, Rejected, RejectReason, is_half, is_third
from hashmatch.service.answers import AnswerStore, KeptAnswer, MemoryAnswers
from hashmatch.service.governance import Governance, actor_of, asked_by, moved_by
from hashmatch.service.handoffs import HandOffs
from hashmatch.service.notifications import (
    EventType,
    Notification,
    completed_notification,
    expired_notification,
    failed_notification,
    items_notifications,
    rejection_notification,
    verdict_notification,
)
from hashmatch.service.ports import AuditLog, AuditRecord, Bank, Notifier, ResultStore
from hashmatch.service.retroactive import (
    RetainedCheck,
    RetainedChecks,
    RetainedScanFanOut,
    RetentionPolicy,
    RetroactiveScanner,
)
from hashmatch.service.routing import Outcome
from hashmatch.service.submission import CheckEntry, Kind, Submission
from hashmatch.service.telemetry import NO_TELEMETRY, Metric, Telemetry, Unit, timed
from hashmatch.signals import SIGNALS
from hashmatch.signals.pdq import PDQ

__all__ = ["HashmatchService", "Outcome", "item_from_media"]

logger = logging.getLogger(__name__)

# How long a submission's claim lasts when the caller does not say how long its attempt may run:
# the check and share functions' Timeout.
CLAIM_SECONDS = 300.0


# The check verdict each single-file answer counts as.
_VERDICTS = {
    EventType.MATCH_FOUND: "match",
    EventType.CHECK_CLEAN: "clean",
    EventType.CHECK_REJECTED: "rejected",
    EventType.CHECK_FAILED: "failed",
    EventType.CHECK_EXPIRED: "expired",
}


def _labels(raw: str | None) -> tuple[str, ...]:
    return tuple(sorted({label.strip() for label in (raw or "").split(",") if label.strip()}))


class HashmatchService:
    def __init__(
        self,
        *,
        bank: Bank,
        notifier: Notifier,
        matcher: Matcher,
        platforms: tuple[str, ...],
        results: ResultStore | None = None,
        thresholds: Callable[[str], Thresholds] = lambda _platform: Thresholds(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        telemetry: Telemetry = NO_TELEMETRY,
        answers: AnswerStore | None = None,
        retained: RetainedChecks | None = None,
        retention: RetentionPolicy | None = None,
        rules: CoalitionRules | None = None,
        audit: AuditLog | None = None,
        handoffs: HandOffs | None = None,
        retro_fan_out: RetainedScanFanOut | None = None,
    ) -> None:
        self._bank = bank
        self._notifier = notifier
        self._matcher = matcher
        self._results = results
        self._platforms = platforms
        self._thresholds = thresholds
        self._clock = clock
        self._telemetry = telemetry
        self._answers: AnswerStore = answers if answers is not None else MemoryAnswers()
        self._retained = retained
        self._retention = retention or RetentionPolicy({})
        self._scanner = (
            RetroactiveScanner(retained, self._retention, thresholds, retro_fan_out) if retained is not None else None
        )
        self._governance = Governance(
            bank=bank,
            platforms=platforms,
            rules=rules or CoalitionRules(),
            audit=audit,
            now=self._now,
        )
        self._handoffs = handoffs

    @property
    def matcher(self) -> Matcher:
        return self._matcher

    def process(self, submission: Submission, *, claim_seconds: float = CLAIM_SECONDS) -> Outcome:
        """Carry out what the submission asks for and publish what the platforms are told; a
        submission answered before is answered as it was (republished when its publishing was
        cut short, not at all when it was complete).

        The submission's key is claimed for `claim_seconds` (as long as this attempt may run)
        before anything is decided: a delivery that meets another attempt's live claim raises
        `AnswerInProgress`, to be tried again later (`hashmatch.service.answers`).

        A `gone` or `failure` submission for an object whose submissions an earlier attempt of
        the edge handed on is dropped (`ALREADY_PROCESSED`, nothing kept): those submissions
        answer the upload. It claims nothing, so one that is dropped leaves the key to them."""
        if submission.platform not in self._platforms and submission.action != "operator":
            raise ValueError(f"a submission for {submission.platform!r}, not a member platform")
        if submission.stands_in and self._handoffs is not None and self._handoffs.handed_on(submission.obj):
            logger.info("handed on by an earlier attempt: no answer of its own", extra={"key": submission.obj.key})
            return Outcome.ALREADY_PROCESSED
        claim = None if submission.stands_in else claim_seconds
        return self._settle(submission, lambda: self._answer(submission), claim_seconds=claim)

    def fail(self, submission: Submission, message: str) -> Outcome:
        """Answer a submission whose processing failed on every try: the answer kept by an
        earlier attempt when there is one, else `check.failed` / `share.failed`; for a share, the
        items an attempt of it had stored are withdrawn first (`hash.withdrawn` to every member).
        The failure is not kept as the answer: an operator's replay of the record (`hashmatch dlq
        replay`) then decides the verdict that follows. Raises when the withdrawal cannot be made:
        the dead letter is tried again."""
        return self._settle(submission, lambda: self._failed(submission, message), keep=False)

    def _failed(self, submission: Submission, message: str) -> list[Notification]:
        if submission.action == "operator":  # operators have no topic: the failure is on the record
            self._governance.record(
                AuditRecord(
                    "operator",
                    actor_of(submission),
                    self._now(),
                    outcome="failed",
                    reason=message[:1000],
                    **asked_by(submission),
                )
            )
            return []
        withdrawn = self._roll_back(submission)
        if not withdrawn:
            return [self.failure(submission, message)]
        message = f"{message}; the {len(withdrawn)} item(s) it had stored were withdrawn: nothing of it was shared"
        return [
            self.failure(submission, message),
            *self._item_notifications(EventType.HASH_WITHDRAWN, list(self._platforms), submission, withdrawn),
        ]

    def _roll_back(self, submission: Submission) -> list[SharedItem]:
        """The items this share brought into the bank (by any attempt), withdrawn now when still
        active; an item another share had made active is left alone."""
        if submission.action != "share" or submission.kind not in (Kind.HASHES, Kind.ENTRIES):
            return []
        provenance = self._provenance(submission)
        if submission.hashes is not None:
            candidates = [item_from_media(submission.hashes, provenance)]
        else:
            candidates = [_item_from_entry(entry, provenance) for entry in submission.entries]
        source = _source(submission)
        stored = self._bank.get_items([item.item_id for item in candidates])
        own = [item for item in stored.values() if item.source == source]
        active = [item for item in own if item.status == "active"]
        if active:
            logger.warning("a failed share is rolled back", extra={"key": submission.obj.key, "items": len(active)})
            with timed(self._telemetry, "store"):
                self._bank.withdraw_items(active, self._now())
        return own

    def _settle(
        self,
        submission: Submission,
        decide: Callable[[], list[Notification]],
        *,
        keep: bool = True,
        claim_seconds: float | None = None,
    ) -> Outcome:
        """Publish the answer kept for the submission, or decide, keep and publish one (`keep`
        False: publish what `decide` says without keeping it). With `claim_seconds`, the key is
        claimed first, which also says whether an answer is kept (no read of its own)."""
        key = submission.idempotency_key
        if claim_seconds is not None:
            standing = self._answers.claim(key, claim_seconds)
            kept = standing if isinstance(standing, KeptAnswer) else None
        else:
            kept = self._answers.kept(key)
        if kept is not None and kept.published:
            return Outcome.ALREADY_PROCESSED
        if kept is not None:
            self._telemetry.record(Metric.REPUBLISHED, 1, Unit.COUNT, {"action": submission.action})
            logger.warning("republishing the answer kept by an earlier attempt", extra={"key": submission.obj.key})
            self.publish(list(kept.notifications), count=False)
        elif keep:
            try:
                answer = self._answers.keep(key, decide())
            except Exception:
                if claim_seconds is not None:
                    self._answers.release(key)  # a retry need not wait for the claim to lapse
                raise
            self.publish(list(answer))
        else:
            self.publish(decide())
            return Outcome.PROCESSED
        self._answers.mark_published(key)
        return Outcome.PROCESSED

    def publish(self, notifications: list[Notification], *, count: bool = True) -> None:
        """Publish in order; `count`: record the metrics they stand for (not for a republished answer)."""
        with timed(self._telemetry, "publish"):
            for notification in notifications:
                self._notifier.publish(notification)
        if count:
            for notification in notifications:
                self._count(notification)

    def _count(self, notification: Notification) -> None:
        """The metrics a published answer stands for (see `hashmatch.service.telemetry`)."""
        record, body = self._telemetry.record, notification.body
        verdict = _VERDICTS.get(notification.event_type)
        if verdict is not None and "entry" not in body:  # a list's entries count in its check.completed
            record(Metric.CHECKS, 1, Unit.COUNT, {"platform": notification.platform, "verdict": verdict})
        if notification.event_type is EventType.CHECK_COMPLETED:
            for name, verdict in (("matched", "match"), ("clean", "clean"), ("rejected", "rejected")):
                count = body.get("counts", {}).get(name, 0)
                if count:
                    record(Metric.CHECKS, count, Unit.COUNT, {"platform": notification.platform, "verdict": verdict})
        for match in body.get("matches", []):
            for label in match.get("labels") or ["unlabelled"]:
                record(Metric.MATCHES, 1, Unit.COUNT, {"signal": match.get("signal", "?"), "label": label})
        rejection = body.get("rejection")
        if rejection is not None:
            action = {EventType.CHECK_REJECTED: "check", EventType.INCIDENT_REJECTED: "incident"}.get(
                notification.event_type, "share"
            )
            record(Metric.REJECTIONS, 1, Unit.COUNT, {"action": action, "reason": rejection.get("reason", "?")})
        if notification.event_type in (EventType.CHECK_FAILED, EventType.SHARE_FAILED):
            record(Metric.FAILURES, 1, Unit.COUNT, {"action": notification.event_type.value.split(".")[0]})
        if notification.event_type is EventType.SHARE_ACCEPTED:
            record(Metric.ITEMS_SHARED, len(body.get("items", [])), Unit.COUNT, {"platform": notification.platform})

    def _answer(self, submission: Submission) -> list[Notification]:
        action, kind = submission.action, submission.kind
        if action == "operator":
            return self._operator(submission)
        if action in ("feedback", "incident") and kind is Kind.REQUEST:
            carry_out = self._governance.feedback if action == "feedback" else self._governance.incident
            try:
                return carry_out(submission)
            except Rejected as refused:
                return [self._rejection(submission, refused, audited=True)]
        if kind is Kind.REJECTION:
            assert submission.rejection is not None
            return [self._rejection(submission, submission.rejection)]
        if kind is Kind.GONE:
            return [self._expired(submission)]
        if kind is Kind.FAILURE:
            return [self.failure(submission, submission.metadata.get("failure", "the edge could not hash it"))]
        if action == "check" and kind is Kind.HASHES and submission.hashes is not None:
            return [self._verdict(submission, submission.hashes, submission.content_id)]
        if action == "check" and kind is Kind.CHECKS:
            return self._check_list(submission)
        if action == "share" and kind is Kind.HASHES and submission.hashes is not None:
            hashes = submission.hashes
            return self._admitted_share(
                submission, lambda: [admit(item_from_media(hashes, self._provenance(submission)))]
            )
        if action == "share" and kind is Kind.ENTRIES:
            provenance = self._provenance(submission)
            return self._admitted_share(
                submission,
                lambda: [
                    admit(_item_from_entry(entry, provenance), f"line {entry.line}: ") for entry in submission.entries
                ],
            )
        if action == "withdraw" and kind is Kind.ENTRIES:
            return self._withdraw(submission)
        unusable = Rejected(RejectReason.UNSUPPORTED_MEDIA, f"a {kind.value} submission cannot be used to {action}")
        return [self._rejection(submission, unusable)]

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _operator(self, submission: Submission) -> list[Notification]:
        """An operator's request: carried out, or refused on the audit log (operators have no topic)."""
        if submission.kind is Kind.REQUEST:
            return self._governance.operator(submission)
        rejection = submission.rejection
        why = f"{rejection.reason.value}: {rejection.message}" if rejection else submission.metadata.get("failure", "")
        self._governance.record(
            AuditRecord(
                "operator",
                actor_of(submission),
                self._now(),
                outcome="refused",
                reason=f"{submission.kind.value}: {why}".rstrip(": "),
                **asked_by(submission),
            )
        )
        return []

    # -- checks -------------------------------------------------------------------------------

    def _matches(self, platform: str, queries: list[MediaHashes]) -> list[list[Match]]:
        with timed(self._telemetry, "match"):
            return self._matcher.match_many(queries, self._thresholds(platform), benign=True)

    def _verdict(
        self,
        submission: Submission,
        hashes: MediaHashes,
        content_id: str | None,
        entry: int | None = None,
        matches: list[Match] | None = None,
    ) -> Notification:
        """The verdict on `hashes`; `matches`: what they matched, when already matched with others."""
        if matches is None:
            (matches,) = self._matches(submission.platform, [hashes])
        matches = self._governance.acted_on(submission.platform, matches)
        checked_at = self._now()
        self._retain(submission, hashes, content_id, entry, checked_at)
        self._governance.count_incident_matches(submission.platform, matches, checked_at)
        # One line per verdict, naming the item matched first: the template's Contributor Insights
        # rules find an item that matches an outsized share of checks from these.
        logger.info(
            "verdict",
            extra={
                "platform": submission.platform,
                "verdict": "match" if matches else "clean",
                "item_id": matches[0].item_id if matches else "-",
            },
        )
        verdict = verdict_notification(
            platform=submission.platform,
            obj=submission.obj,
            content_id=content_id,
            occurred_at=checked_at,
            media=hashes.media,
            signals=hashes.signals,
            matches=matches,
            entry=entry,
        )
        if matches:  # so the member can confirm or dispute by the notification's id; and reports count it
            item_ids = sorted({m.item_id for m in matches if not m.benign})
            self._bank.remember_notice(verdict.body["notification_id"], submission.platform, item_ids)
            labels = sorted({label for m in matches if not m.benign for label in m.labels})
            self._bank.count_matches(submission.platform, checked_at[:13], labels)
        return verdict

    def _retain(
        self, submission: Submission, hashes: MediaHashes, content_id: str | None, entry: int | None, checked_at: str
    ) -> None:
        """Keep the check's hashes for retroactive matching when its platform opted in."""
        if self._retained is None or not self._retention.retains(submission.platform):
            return
        check = RetainedCheck(submission.platform, submission.obj, content_id, checked_at, hashes, entry)
        with timed(self._telemetry, "retain"):
            self._retained.retain(check, self._retention.days[submission.platform])

    def _check_list(self, submission: Submission) -> list[Notification]:
        """One chunk of a check-by-hash list: a verdict line per entry in a results object,
        `check.completed`, and a `match.found` per entry that matched."""
        if self._results is None:
            raise RuntimeError("check-by-hash lists need a results store")
        lines: list[dict[str, Any]] = []
        found: list[Notification] = []
        counts = {"entries": 0, "matched": 0, "clean": 0, "rejected": 0}
        # The chunk's entries matched together: one read of the bank's log tail for all of them.
        usable = [entry.hashes for entry in submission.checks if entry.hashes is not None]
        matched = iter(self._matches(submission.platform, usable))
        for entry in submission.checks:
            counts["entries"] += 1
            line = self._entry_result(submission, entry, next(matched) if entry.hashes is not None else [])
            lines.append(line.body if isinstance(line, Notification) else line)
            if isinstance(line, Notification) and line.event_type is EventType.MATCH_FOUND:
                counts["matched"] += 1
                found.append(line)
            elif isinstance(line, Notification):
                counts["clean"] += 1
            else:
                counts["rejected"] += 1
        results = self._results.put_results(submission.platform, submission.obj, submission.chunk, lines)
        completed = completed_notification(
            platform=submission.platform,
            obj=submission.obj,
            content_id=submission.content_id,
            occurred_at=self._now(),
            results=results,
            counts=counts,
            chunk=submission.chunk,
        )
        return [*found, completed]

    def _entry_result(
        self, submission: Submission, entry: CheckEntry, matches: list[Match]
    ) -> Notification | dict[str, Any]:
        if entry.hashes is None:
            return {
                "event_type": EventType.CHECK_REJECTED.value,
                "entry": {"line": entry.line},
                "content_id": entry.content_id,
                "rejection": {"reason": entry.reason.value, "message": entry.error or "unusable"},
            }
        return self._verdict(submission, entry.hashes, entry.content_id, entry.line, matches)

    # -- shares and withdrawals ---------------------------------------------------------------

    def _provenance(self, submission: Submission) -> Provenance:
        metadata = submission.metadata
        return Provenance(
            contributor=submission.platform,
            shared_at=self._now(),
            labels=_labels(metadata.get("labels")),
            severity=metadata.get("severity") or None,
            confidence=metadata.get("confidence") or None,
            incident=metadata.get("incident") or None,
            note=metadata.get("note") or None,
        )

    def _admitted_share(self, submission: Submission, items: Callable[[], list[SharedItem]]) -> list[Notification]:
        """Share the items when every one is admitted to the bank, else refuse the whole share."""
        try:
            admitted, known = self._governance.admit_share(submission, items())
        except Rejected as refused:
            return [self._rejection(submission, refused)]
        return self._share(submission, admitted, known)

    def _share(
        self, submission: Submission, items: list[SharedItem], known: Mapping[str, SharedItem]
    ) -> list[Notification]:
        with timed(self._telemetry, "store"):
            self._bank.put_items(self._with_source(submission, items, known), read=known)
        self._audit_share(submission, items, known)
        alerts = []
        for platform in self._platforms:
            wanted = self._governance.alerted(platform, [item for item in items if item.status == "active"])
            if platform != submission.platform and wanted:
                alerts += self._item_notifications(EventType.HASH_SHARED, [platform], submission, wanted)
        return [
            *self._item_notifications(EventType.SHARE_ACCEPTED, [submission.platform], submission, items),
            *alerts,
            *self._retroactive([item for item in items if item.status == "active"]),
        ]

    def _with_source(
        self, submission: Submission, items: list[SharedItem], earlier: Mapping[str, SharedItem]
    ) -> list[SharedItem]:
        """`items` naming this share as the one that stored them, except those already active from
        another share (a member sharing a file again): that share brought them in, and this one's
        failure must not withdraw them. `earlier`: the items as the bank held them before."""

        def source_of(item: SharedItem) -> str | None:
            kept = earlier.get(item.item_id)
            return kept.source if kept is not None and kept.status == "active" else _source(submission)

        return [replace(item, source=source_of(item)) for item in items]

    def _audit_share(self, submission: Submission, items: list[SharedItem], known: Mapping[str, SharedItem]) -> None:
        """One audit record for the items this share brought in, one for those shared before (a
        re-share keeps the first provenance; this record is the re-share's): a part of a long list
        is two writes, not one per item."""
        now = self._now()
        for action, chosen in (
            ("share", [item for item in items if item.item_id not in known]),
            ("reshare", [item for item in items if item.item_id in known]),
        ):
            if chosen:
                labels = sorted({label for item in chosen for label in item.provenance.labels})
                held = sorted({item.status for item in chosen} - {"active"})
                detail: dict[str, Any] = {"labels": labels, **({"held": held} if held else {})}
                if submission.chunk != (1, 1):
                    detail["part"] = list(submission.chunk)
                record = AuditRecord(
                    action,
                    actor_of(submission),
                    now,
                    item_ids=tuple(item.item_id for item in chosen),
                    **asked_by(submission),
                    detail=detail,
                )
                self._governance.record(record)

    def _retroactive(self, items: list[SharedItem]) -> list[Notification]:
        """`match.found` (retroactive) for each retained check the new items match, to the member
        that made it. Part of the share's answer: kept and published with it, once."""
        if self._scanner is None:
            return []
        with timed(self._telemetry, "retroactive_scan"):
            found = self._scanner.scan(items, self._clock())
        now = self._now()
        found = [
            replace(retro, matches=self._governance.acted_on(retro.check.platform, retro.matches)) for retro in found
        ]
        found = [retro for retro in found if retro.matches]
        for retro in found:
            logger.info("retroactive match", extra={"platform": retro.check.platform, "key": retro.check.obj.key})
        return [
            verdict_notification(
                platform=retro.check.platform,
                obj=retro.check.obj,
                content_id=retro.check.content_id,
                occurred_at=now,
                media=retro.check.hashes.media,
                signals=retro.check.hashes.signals,
                matches=retro.matches,
                entry=retro.check.entry,
                checked_at=retro.check.checked_at,
            )
            for retro in found
        ]

    def _withdraw(self, submission: Submission) -> list[Notification]:
        """Withdraw the platform's active items the list names. Items this very request withdrew
        already (an attempt that failed after it changed the bank: its audit record, its answer)
        count as withdrawn by it, at the time it did, so the retry records and tells the same."""
        platform, identity = submission.platform, submission.obj.identity
        items = {}
        for entry in submission.entries:
            for signal, value in entry.signals.items():
                for item in self._bank.items_by_exact(signal, value):
                    earlier = moved_by(item, "withdrawn", submission)
                    if item.provenance.contributor == platform and (item.status == "active" or earlier):
                        items[item.item_id] = item
        if not items:
            unknown = Rejected(RejectReason.UNKNOWN_ITEM, f"{platform} shared none of these hashes, or withdrew them")
            return [self._rejection(submission, unknown)]
        withdrawn = list(items.values())
        active = [item for item in withdrawn if item.status == "active"]
        now = self._now() if active else min(item.status_at or self._now() for item in withdrawn)
        self._bank.withdraw_items(active, now, by=identity)
        self._governance.record(
            AuditRecord("withdraw", actor_of(submission), now, item_ids=tuple(sorted(items)), **asked_by(submission))
        )
        return self._item_notifications(EventType.HASH_WITHDRAWN, list(self._platforms), submission, withdrawn)

    def _item_notifications(
        self, event_type: EventType, recipients: list[str], submission: Submission, items: list[SharedItem]
    ) -> list[Notification]:
        return items_notifications(
            owner=submission.platform,
            event_type=event_type,
            recipients=recipients,
            obj=submission.obj,
            content_id=submission.content_id,
            occurred_at=self._now(),
            items=items,
            part=submission.chunk,
        )

    # -- answers that are not verdicts --------------------------------------------------------

    def _rejection(self, submission: Submission, rejected: Rejected, *, audited: bool = False) -> Notification:
        """`check.rejected` / `share.rejected` / `feedback.rejected` / `incident.rejected`, the refusal
        on the audit log (unless `audited` already)."""
        logger.info("rejected", extra={"key": submission.obj.key, "reason": rejected.reason.value})
        if not audited:
            self._governance.record(
                AuditRecord(
                    submission.action,
                    actor_of(submission),
                    self._now(),
                    outcome="refused",
                    reason=f"{rejected.reason.value}: {rejected.message}",
                    **asked_by(submission),
                )
            )
        event_type = {
            "check": EventType.CHECK_REJECTED,
            "feedback": EventType.FEEDBACK_REJECTED,
            "incident": EventType.INCIDENT_REJECTED,
        }.get(submission.action, EventType.SHARE_REJECTED)
        return rejection_notification(
            event_type=event_type,
            platform=submission.platform,
            obj=submission.obj,
            content_id=submission.content_id,
            occurred_at=self._now(),
            reason=rejected.reason.value,
            message=rejected.message,
        )

    def failure(self, submission: Submission, message: str) -> Notification:
        """`check.failed` / `share.failed` for a submission that could not be processed."""
        logger.warning("failed", extra={"key": submission.obj.key, "reason": message})
        event_type = EventType.CHECK_FAILED if submission.action == "check" else EventType.SHARE_FAILED
        return failed_notification(
            event_type=event_type,
            platform=submission.platform,
            obj=submission.obj,
            content_id=submission.content_id,
            occurred_at=self._now(),
            message=message,
            chunk=submission.chunk,
        )

    def _expired(self, submission: Submission) -> Notification:
        logger.info("expired", extra={"key": submission.obj.key})
        event_type = EventType.CHECK_EXPIRED if submission.action == "check" else EventType.SHARE_EXPIRED
        return expired_notification(
            event_type=event_type,
            platform=submission.platform,
            obj=submission.obj,
            content_id=submission.content_id,
            occurred_at=self._now(),
            message="the object was gone before it could be processed: nothing was checked or shared; upload it again",
        )


def _source(submission: Submission) -> str:
    """What a stored item records of the share that stored it: a digest of its idempotency key."""
    return hashlib.sha256(submission.idempotency_key.encode()).hexdigest()[:32]


def _indexed_entries(signals: dict[str, str]) -> list[NearEntry]:
    """The main hashes of `signals` the matcher indexes (every indexed signal present)."""
    return [NearEntry(s.name, signals[s.name]) for s in SIGNALS.indexed() if s.name in signals]


def _kind(label: str, otherwise: EntryKind) -> EntryKind:
    """The index entry kind of a stored framing labelled `label`: a half (`is_half`), a third
    (`is_third`), else `otherwise`."""
    if is_half(label):
        return "half"
    return "third" if is_third(label) else otherwise


def item_from_media(hashes: MediaHashes, provenance: Provenance) -> SharedItem:
    """The bank item for shared media: its signals, and the entries the matcher will index (the
    main picture hashes when the picture is not flat, its stored framings and halves, a video's frame runs),
    and a picture's cut views for the retroactive scan (never stored)."""
    entries: list[NearEntry] = []
    if picture_is_usable(hashes):
        entries += _indexed_entries(hashes.signals)
    entries += [NearEntry(f.signal, f.value, _kind(f.label, "framing")) for f in hashes.framings]
    # A video's frames, stored as runs of near-identical consecutive frames (low quality left out),
    # each with the central crops of its first frame: any of them pairs a check sample with the run.
    entries += [
        NearEntry(PDQ.name, value, _kind(label, "frame"), run.start, run.end)
        for run in shared_frame_runs(hashes.frames)
        for label, value in (("", run.pdq), *run.framings)
    ]
    return SharedItem(
        item_id=item_id_for(provenance.contributor, "sha256", hashes.signals["sha256"]),
        provenance=provenance,
        media=hashes.media,
        signals=dict(hashes.signals),
        near_entries=tuple(entries),
        duration=hashes.duration,
        cut_views=hashes.cut_views,
    )


def _item_from_entry(entry: HashListEntry, provenance: Provenance) -> SharedItem:
    labels = entry.labels if entry.labels is not None else provenance.labels
    overrides = {
        name: entry.overrides.get(name) or getattr(provenance, name)
        for name in ("severity", "confidence", "incident", "note")
    }
    own = Provenance(provenance.contributor, provenance.shared_at, tuple(sorted(labels)), **overrides)
    if entry.hashes is not None and "sha256" in entry.hashes.signals:
        # A file's whole hashes, made at the member's edge: stored as a media share would be.
        return item_from_media(entry.hashes, own)
    primary = sorted(entry.signals.items())[0]
    return SharedItem(
        item_id=item_id_for(provenance.contributor, *primary),
        provenance=own,
        media="hashes",
        signals=dict(entry.signals),
        near_entries=tuple(_indexed_entries(entry.signals)),
    )
