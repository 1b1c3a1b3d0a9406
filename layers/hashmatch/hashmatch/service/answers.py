"""One final answer per submission: kept before it is published, republished as kept.

A verdict depends on the bank at the moment it was reached: a check retried after its first
attempt died between deciding and publishing could be answered `check.clean` once and
`match.found` the next time. So the coalition keeps each submission's answer (the notifications,
in order) under the submission's idempotency key *before* publishing it, and a retry publishes the
kept answer again instead of deciding anew. The first answer kept wins: `keep` returns the answer
that stands, which is another attempt's when two raced.

States of a key: absent (nothing decided) -> claimed (an attempt is deciding) -> kept (decided,
maybe partly published) -> published. A retry in the kept state republishes the whole answer (same
notification ids: subscribers that dedupe on `notification_id` see it once); in the published
state it does nothing.

An attempt claims the key before deciding (`claim`), so two deliveries of one submission at once
never both decide: the second finds the first's claim and is retried later (`AnswerInProgress`),
by which time the answer is kept. A claim lasts as long as its attempt may run (the function's
remaining time); the claim of an attempt that died lapses then, and the next delivery decides.
What deciding writes besides the answer (retained checks, notice records, match counts) is thus
written by one attempt at a time. The claim is the same record as the answer: one conditional
write that, when it fails, also says what stands, so a first delivery pays no read.

`hashmatch.aws.answers` keeps answers in the bank table (large ones in S3); `MemoryAnswers` here
is for one process (the CLI's local runs and tests).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hashmatch.service.notifications import EventType, Notification

__all__ = [
    "CLAIMED",
    "AnswerInProgress",
    "AnswerStore",
    "KeptAnswer",
    "MemoryAnswers",
    "Standing",
    "answer_from_json",
    "answer_to_json",
]


@dataclass(frozen=True)
class KeptAnswer:
    notifications: tuple[Notification, ...]
    published: bool


class AnswerInProgress(RuntimeError):
    """Another attempt holds the claim on this submission and is deciding its answer: this
    delivery is to be tried again later (its queue shows it again after the visibility timeout)."""


class _Claimed:
    """`claim`'s answer when this attempt now holds the claim and is to decide."""

    def __repr__(self) -> str:
        return "CLAIMED"


CLAIMED = _Claimed()
# What `claim` finds: CLAIMED (decide now), or the answer another attempt kept.
Standing = _Claimed | KeptAnswer


class AnswerStore(Protocol):
    def kept(self, key: str) -> KeptAnswer | None:
        """The answer kept for `key`, or None when nothing was decided yet."""
        ...

    def claim(self, key: str, seconds: float) -> Standing:
        """Claim `key` for `seconds` to decide its answer: CLAIMED when nothing is kept and no other
        attempt's claim is live, else the answer kept. Raises `AnswerInProgress` when another
        attempt's claim is live."""
        ...

    def keep(self, key: str, notifications: list[Notification]) -> tuple[Notification, ...]:
        """Keep `notifications` as the answer for `key` unless one is kept already; the answer that
        stands (this one, or the one kept first). Raises when it cannot be stored: nothing may be
        published that is not kept."""
        ...

    def release(self, key: str) -> None:
        """This attempt failed before keeping an answer: give up its claim on `key` so a retry need
        not wait for it to lapse. Leaves a kept answer alone."""
        ...

    def mark_published(self, key: str) -> None:
        """Every notification of the kept answer was published."""
        ...


def answer_to_json(notifications: tuple[Notification, ...] | list[Notification]) -> str:
    return json.dumps(
        [{"platform": n.platform, "event_type": n.event_type.value, "body": n.body} for n in notifications],
        separators=(",", ":"),
        sort_keys=True,
    )


def answer_from_json(text: str | bytes) -> tuple[Notification, ...]:
    raw: list[dict[str, Any]] = json.loads(text)
    return tuple(Notification(n["platform"], EventType(n["event_type"]), n["body"]) for n in raw)


class MemoryAnswers:
    """Answers in a dictionary, for one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._answers: dict[str, KeptAnswer] = {}
        self._claims: dict[str, float] = {}  # key -> until
        self._lock = threading.Lock()
        self._clock = clock

    def kept(self, key: str) -> KeptAnswer | None:
        return self._answers.get(key)

    def claim(self, key: str, seconds: float) -> Standing:
        with self._lock:
            if key in self._answers:
                return self._answers[key]
            now = self._clock()
            if self._claims.get(key, now) > now:
                raise AnswerInProgress(f"another attempt is deciding the answer to {key!r}")
            self._claims[key] = now + seconds
            return CLAIMED

    def keep(self, key: str, notifications: list[Notification]) -> tuple[Notification, ...]:
        with self._lock:
            if key not in self._answers:
                # Through JSON, as a store outside the process would: what is republished is what was kept.
                self._answers[key] = KeptAnswer(answer_from_json(answer_to_json(notifications)), published=False)
            self._claims.pop(key, None)
            return self._answers[key].notifications

    def release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)

    def mark_published(self, key: str) -> None:
        with self._lock:
            answer = self._answers[key]
            self._answers[key] = KeptAnswer(answer.notifications, published=True)
