"""The ports the edge and the coalition talk through; `hashmatch.aws` implements them on AWS,
`hashmatch_tools.fakes` in memory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hashmatch.bank.model import NearEntry, SharedItem
from hashmatch.governance.incidents import Incident
from hashmatch.media.model import Candidate, Grid
from hashmatch.service.notifications import Notification, ObjectRef

if TYPE_CHECKING:
    from hashmatch.service.submission import Submission


@dataclass(frozen=True)
class FetchedObject:
    """A dropped object copied to local storage, with its user metadata (x-amz-meta-*).

    `path` is None when the object is larger than the fetch allowed, so it was not copied.
    """

    path: Path | None
    metadata: dict[str, str] = field(default_factory=dict)
    size: int = 0


class ObjectStore(Protocol):
    def fetch(self, obj: ObjectRef, max_bytes: int) -> AbstractContextManager[FetchedObject | None]:
        """The object in a temporary file for the `with` block, or None when it is already gone."""
        ...

    def delete(self, obj: ObjectRef) -> None: ...

    def metadata(self, obj: ObjectRef) -> dict[str, str] | None:
        """The object's user metadata without its body, or None when it is gone."""
        ...


class Notifier(Protocol):
    def publish(self, notification: Notification) -> None: ...


class SubmissionSink(Protocol):
    """Where the edge hands submissions (hashes only) to the coalition."""

    def send(self, submission: Submission) -> None:
        """Hand `submission` on; returns once it is durably queued (raises otherwise)."""
        ...


class CandidateSource(Protocol):
    """The coalition's answer to the edge's uneven-crop question: which stored framings to search toward."""

    def uneven_crop_candidates_many(self, grids: Sequence[Grid]) -> list[list[Candidate]]:
        """The candidates of many copies at once, grid for grid: one question for all of them."""
        ...


class ResultStore(Protocol):
    """Where the verdicts of a check-by-hash list go, one JSON line per entry, for its platform to read."""

    def put_results(
        self, platform: str, obj: ObjectRef, chunk: tuple[int, int], lines: list[dict[str, Any]]
    ) -> tuple[str, str]:
        """Write the lines; returns (bucket, key) of the results object. Idempotent for one chunk."""
        ...


class ItemMoved(RuntimeError):
    """An item changed status between a share reading it and writing it again."""


@dataclass(frozen=True)
class BankChange:
    """One entry of the bank's change log: items whose near-match entries were added or removed."""

    position: str
    operation: str
    item_id: str
    entries: tuple[NearEntry, ...] = ()


@dataclass(frozen=True)
class AuditRecord:
    """One entry of the append-only audit log: who did what to which items, when and why.

    `actor` is the acting principal: ``platform:<name>`` (a member, by the prefix its role may
    write), ``operator:<name>`` (the name the request gives), or ``coalition`` (a rule acting, e.g.
    a dispute quorum reached). `outcome` is ``done`` or ``refused``; `request` the object key that
    asked, and `writer` who wrote it as S3 named them in its event (``AWS:<unique id>:<session>``
    for an assumed role; "" where the event did not say): what an operator's name is checked
    against."""

    action: str
    actor: str
    at: str
    outcome: str = "done"
    item_ids: tuple[str, ...] = ()
    reason: str = ""
    request: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    writer: str = ""


class AuditLog(Protocol):
    def append(self, records: Sequence[AuditRecord]) -> None:
        """Write the records; neither this function nor any member can change them afterwards."""
        ...

    def read(self, since: str) -> Iterator[AuditRecord]:
        """Records made at or after `since` (ISO 8601 UTC), oldest first."""
        ...


class BankReader(Protocol):
    """What matching reads of the bank: exact lookups, items, and the change log."""

    def items_by_exact(self, signal: str, value: str) -> list[SharedItem]: ...

    def get_items(self, item_ids: Sequence[str]) -> dict[str, SharedItem]: ...

    def changes_since(self, position: str | None) -> Iterator[BankChange]:
        """Change-log entries after `position` (all of them for None), oldest first."""
        ...


class Bank(BankReader, Protocol):
    def put_items(self, items: Sequence[SharedItem], *, read: Mapping[str, SharedItem] | None = None) -> None:
        """Store items with their exact-hash records and change-log entries; safe to repeat.

        `read`: the items among them the bank held already, as the share read them (a re-share).
        Each is written only while its status is still the one read, raising `ItemMoved`
        otherwise (a quarantine or removal landed meanwhile: retry the share, which reads again),
        and what others wrote about it is kept (disputes and their reasons, confirmations, the last
        status change). A removed item is never put back in the near-match indexes."""
        ...

    def withdraw_items(self, items: Sequence[SharedItem], withdrawn_at: str, *, by: str | None = None) -> None:
        """Mark items withdrawn at `withdrawn_at` by the request `by` (noted as their last status
        change), out of the near-match indexes."""
        ...

    def set_status(
        self,
        item_id: str,
        status: str,
        at: str,
        *,
        expected: Sequence[str],
        clear_disputes: bool = False,
        by: str | None = None,
    ) -> SharedItem | None:
        """Move an item to `status` when it is in one of `expected`, atomically (quarantine,
        restore, remove), noting `at` and the request it was made `by`; the item as it is now, or
        None when it is absent or in another status. `clear_disputes`: forget its disputes (an
        operator reviewed them)."""
        ...

    def record_feedback(self, item_id: str, member: str, verdict: str, reason: str) -> SharedItem | None:
        """Add `member`'s confirmation or dispute (once per member); the item now, or None."""
        ...

    def dispute_reasons(self, item_id: str) -> dict[str, str]:
        """Who disputed the item and why."""
        ...

    def count_shares(self, member: str, day: str, count: int, quota: int) -> bool:
        """Count `count` more items shared by `member` on `day` unless that passes `quota` (then
        count nothing and return False); atomic across concurrent shares."""
        ...

    def remember_notice(self, notification_id: str, member: str, item_ids: Sequence[str]) -> None:
        """Which items a `match.found` sent to `member` named (feedback may name the notification)."""
        ...

    def notice(self, notification_id: str) -> tuple[str, tuple[str, ...]] | None: ...

    def benign_hashes(self) -> list[tuple[str, str, str]]:
        """(item id, signal, value) of every hash in the benign bank (operators keep it small)."""
        ...

    def count_matches(self, member: str, hour: str, labels: Sequence[str]) -> None:
        """Count one check of `member` in `hour` (``2026-12-04T13``) that matched items of `labels`
        (counts only, for transparency reports: no content, no ids)."""
        ...

    def match_counts(self, since: str) -> Iterator[tuple[str, str, str, int]]:
        """(hour, member, label, checks matched) from `since` (``YYYY-MM-DD``) on."""
        ...

    def get_incident(self, incident_id: str) -> Incident | None:
        """The incident as stored (its timeline included), or None when no such id was opened."""
        ...

    def put_incident(self, incident: Incident, *, expected: str | None) -> bool:
        """Store `incident` when the stored one is in status `expected` (None: when there is none
        yet), atomically; False (nothing written) otherwise."""
        ...

    def count_incident_matches(self, incident_id: str, hour: str, member: str, count: int) -> None:
        """Add `count` matches of `member`'s checks on items of the incident in UTC `hour`
        (``2026-12-04T12``); atomic across concurrent checks."""
        ...

    def incident_counts(self, incident_id: str) -> dict[tuple[str, str], int]:
        """(hour, member) -> matches counted by `count_incident_matches`."""
        ...

    def iter_items(self, since: str | None = None) -> Iterator[SharedItem]:
        """Every item in the bank, active and withdrawn alike (the caller filters), in no particular
        order; with `since`, only those whose `shared_at` is at or after it, compared as text (so
        pass a prefix of the ISO 8601 UTC form the bank writes, such as ``2026-01-31T12:00:00``).

        Reads the whole bank: meant for occasional exports (`hashmatch_tools.export`), never a
        request path. Items may come without their near-match entries (`DynamoBank` keeps those in
        the change log only).
        """
        ...
