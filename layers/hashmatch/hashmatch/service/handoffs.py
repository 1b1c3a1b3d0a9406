"""Which dropped objects the edge handed on in full: so a later delivery that finds one gone is
known for a repeat, not taken for an object that expired unprocessed.

The edge hands on every submission made of an object, then records the hand-off, and only then
deletes the object (`hashmatch.edge.ingest`). An object found gone with a hand-off recorded was
therefore deleted by an earlier attempt whose submissions are on their way to the coalition,
each to be answered (or, dead-lettered, answered `*.failed`) under its own idempotency key. The
`gone` (or `failure`) submission such a retry sends is then no answer at all: the coalition
drops it rather than telling the platform `*.expired` (upload again) while the real verdict is
still waiting for its own retry. Without a hand-off record, `gone` is answered `*.expired` as
before: the object expired, or was deleted, before any attempt could hand it on.

Under retries and crashes: an edge that dies before recording left the object in place, so its
retry hashes and hands on again (the same idempotency keys); one that dies after recording and
before deleting does the same. A hand-off record is only ever written once everything it vouches
for was durably queued. `gone` and `failure` carry the idempotency key of the object's first
chunk; the functions settle them by the kept answers alone (`hashmatch.service.answers`: the
first kept wins) and claim nothing, so one that is dropped leaves that key to
the real submission.

`hashmatch.aws.handoffs.DynamoHandOffs` keeps the records in a table of their own (which the
edge may only write and the coalition only read); `MemoryHandOffs` here is for one process.
"""

from __future__ import annotations

import threading
from typing import Protocol

from hashmatch.service.notifications import ObjectRef

__all__ = ["HandOffs", "MemoryHandOffs"]


class HandOffs(Protocol):
    def record(self, obj: ObjectRef) -> None:
        """Every submission made of `obj` was handed on. Raises when it cannot be recorded: the
        object must not be deleted then."""
        ...

    def handed_on(self, obj: ObjectRef) -> bool:
        """Whether an edge recorded handing on every submission of `obj` (this S3 event's object:
        `ObjectRef.identity`)."""
        ...


class MemoryHandOffs:
    """Hand-off records in a set, for one process."""

    def __init__(self) -> None:
        self._handed_on: set[str] = set()
        self._lock = threading.Lock()

    def record(self, obj: ObjectRef) -> None:
        with self._lock:
            self._handed_on.add(obj.identity)

    def handed_on(self, obj: ObjectRef) -> bool:
        with self._lock:
            return obj.identity in self._handed_on
