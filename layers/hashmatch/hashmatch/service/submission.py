"""What the edge hands the coalition for one dropped object: hashes, never media.

A `Submission` says which object it came from (the S3 event's identity, for idempotence), what the
platform asked (check, share or withdraw), the object's metadata, and one of:

- `hashes`: one file's hashes (a media check or share), in `hashmatch.media.codec` form;
- `checks`: entries of a check-by-hash list (each its own line number, content id, and hashes or
  an error saying why the line was unusable), one chunk of the list at a time;
- `entries`: a share or withdrawal hash list, validated as a whole;
- `rejection`: why the object can never be processed (the platform is told);
- `gone`: the object was no longer there when the edge came to fetch it;
- `failure`: the edge tried as often as the queue allows and could not hash it (a bug, an outage):
  the platform is told it has no verdict, so it never reads silence as clean;
- `request`: a member's feedback or incident request or an operator's request, the JSON object as
  dropped (the coalition validates it, `hashmatch.governance.requests`).

As JSON (`to_json` / `submission_from_json`) it travels in a queue message, or, when larger than
a queue message allows, as an object in the hash-only signals bucket the message points to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from hashmatch.bank.hashlist import HashListEntry
from hashmatch.media.codec import hashes_from_json, hashes_to_json
from hashmatch.media.model import MediaHashes, Rejected, RejectReason
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.routing import ACTIONS, Action

__all__ = ["CheckEntry", "Kind", "Submission", "submission_from_json"]

FORMAT_VERSION = 1
_REASONS = frozenset(reason.value for reason in RejectReason)


class Kind(StrEnum):
    HASHES = "hashes"
    CHECKS = "checks"
    ENTRIES = "entries"
    REJECTION = "rejection"
    GONE = "gone"
    FAILURE = "failure"
    REQUEST = "request"


@dataclass(frozen=True)
class CheckEntry:
    """One line of a check-by-hash list: the hashes to check, or why the line could not be used
    (`reason`: `invalid_hash_list` for a malformed line; the edge's own rejection of the file)."""

    line: int
    content_id: str | None
    hashes: MediaHashes | None = None
    error: str | None = None
    reason: RejectReason = RejectReason.INVALID_HASH_LIST


@dataclass(frozen=True)
class Submission:
    action: Action
    platform: str
    obj: ObjectRef
    kind: Kind
    metadata: dict[str, str] = field(default_factory=dict)
    hashes: MediaHashes | None = None
    checks: tuple[CheckEntry, ...] = ()
    entries: tuple[HashListEntry, ...] = ()
    rejection: Rejected | None = None
    chunk: tuple[int, int] = (1, 1)
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def content_id(self) -> str | None:
        return self.metadata.get("content-id")

    @property
    def stands_in(self) -> bool:
        """A `gone` or `failure` submission: what the edge sends when it has no hashes to hand on.
        No answer of its own when an earlier attempt handed the object's submissions on."""
        return self.kind in (Kind.GONE, Kind.FAILURE)

    @property
    def idempotency_key(self) -> str:
        """The same for every delivery of one chunk of one S3 event, whatever the edge found: a
        `gone` submission for an object already processed is recognised as a repeat."""
        return f"{self.obj.identity}#chunk{self.chunk[0]}"

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "action": self.action,
            "platform": self.platform,
            "object": {
                "bucket": self.obj.bucket,
                "key": self.obj.key,
                "etag": self.obj.etag,
                "size": self.obj.size,
                "sequencer": self.obj.sequencer,
                **({"principal": self.obj.principal} if self.obj.principal else {}),
            },
            "kind": self.kind.value,
            "metadata": dict(self.metadata),
            "chunk": list(self.chunk),
        }
        if self.hashes is not None:
            document["hashes"] = hashes_to_json(self.hashes)
        if self.checks:
            document["checks"] = [_check_json(entry) for entry in self.checks]
        if self.entries:
            document["entries"] = [_entry_json(entry) for entry in self.entries]
        if self.rejection is not None:
            document["rejection"] = {"reason": self.rejection.reason.value, "message": self.rejection.message}
        if self.kind is Kind.REQUEST:
            document["request"] = self.request
        return document


def submission_from_json(document: Any) -> Submission:
    """A submission from its JSON form; raises ValueError naming what is wrong."""
    try:
        if document.get("version") != FORMAT_VERSION:
            raise ValueError(f"submission format version {document.get('version')!r}, expected {FORMAT_VERSION}")
        action = document["action"]
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        obj = document["object"]
        rejection = document.get("rejection")
        number, of = (int(v) for v in document.get("chunk", (1, 1)))
        return Submission(
            action=cast(Action, action),
            platform=str(document["platform"]),
            obj=ObjectRef(
                str(obj["bucket"]),
                str(obj["key"]),
                str(obj["etag"]),
                int(obj["size"]),
                str(obj["sequencer"]),
                _principal(obj.get("principal", "")),
            ),
            kind=Kind(document["kind"]),
            metadata={str(k): str(v) for k, v in document.get("metadata", {}).items()},
            hashes=hashes_from_json(document["hashes"]) if "hashes" in document else None,
            checks=tuple(_check_from_json(entry) for entry in document.get("checks", [])),
            entries=tuple(_entry_from_json(entry) for entry in document.get("entries", [])),
            rejection=None
            if rejection is None
            else Rejected(RejectReason(rejection["reason"]), str(rejection["message"])),
            chunk=(number, of),
            request=dict(document.get("request", {})),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"malformed submission: {error!r}") from error


def _check_json(entry: CheckEntry) -> dict[str, Any]:
    document: dict[str, Any] = {"line": entry.line, "content_id": entry.content_id}
    if entry.hashes is not None:
        document["hashes"] = hashes_to_json(entry.hashes)
    if entry.error is not None:
        document["error"] = entry.error
        document["reason"] = entry.reason.value
    return document


def _check_from_json(document: dict[str, Any]) -> CheckEntry:
    """A check-list entry from its JSON form, with the reason its error carries (a member's edge
    refusing the file as ``too_large``, say), which must be a known `RejectReason`."""
    hashes = hashes_from_json(document["hashes"]) if "hashes" in document else None
    content_id = document.get("content_id")
    reason = document.get("reason", RejectReason.INVALID_HASH_LIST.value)
    if not isinstance(reason, str) or reason not in _REASONS:
        raise ValueError(f"check entry reason {reason!r} is none of {', '.join(sorted(_REASONS))}")
    return CheckEntry(
        int(document["line"]),
        None if content_id is None else str(content_id),
        hashes,
        document.get("error"),
        RejectReason(reason),
    )


def _entry_json(entry: HashListEntry) -> dict[str, Any]:
    document: dict[str, Any] = {"line": entry.line, "signals": dict(entry.signals)}
    if entry.labels is not None:
        document["labels"] = list(entry.labels)
    if entry.overrides:
        document["overrides"] = dict(entry.overrides)
    if entry.hashes is not None:
        document["hashes"] = hashes_to_json(entry.hashes)
    return document


def _entry_from_json(document: dict[str, Any]) -> HashListEntry:
    labels = document.get("labels")
    return HashListEntry(
        signals={str(k): str(v) for k, v in document["signals"].items()},
        line=int(document["line"]),
        labels=None if labels is None else tuple(str(label) for label in labels),
        overrides={str(k): str(v) for k, v in document.get("overrides", {}).items()},
        hashes=hashes_from_json(document["hashes"]) if "hashes" in document else None,
    )


# What of the principal S3 names in an event is kept (``AWS:<unique id>:<session name>`` is at most
# ~90 characters).
MAX_PRINCIPAL = 256


def _principal(raw: object) -> str:
    """Who wrote the object, as the S3 event named them: at most `MAX_PRINCIPAL` characters kept,
    anything unprintable shown as ``?`` (it is only ever recorded); raises ValueError for what is
    not text."""
    if not isinstance(raw, str):
        raise ValueError("object principal must be text")
    return "".join(c if c.isprintable() else "?" for c in raw[:MAX_PRINCIPAL])
