"""One final answer per submission: kept before it is published, republished as kept.

A verdict depends on the bank at the moment it was reached: a check retried after its first
attempt died between deciding and publishing could be answered `check.clean` once and
`match.found` the next time. So the coalition keeps each submission's answer (the notifications,
in order) under the submission's idempotency key *before* publishing it, and a retry publishes the
kept answer again instead of deciding anew. The first answer kept wins: `keep` returns the answer
that stands, which is another attempt's when two raced.

States of a key: absent (nothing decided) -> kept (decided, maybe partly published) -> published.
A retry in the kept state republishes the whole answer (same notification ids: subscribers that
dedupe on `notification_id` see it once); in the published state it does nothing.

`hashmatch.aws.answers` keeps answers in the bank table (large ones in S3); `MemoryAnswers` here
is for one process (the CLI's local runs and tests).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from hashmatch.service.notifications import EventType, Notification

__all__ = ["AnswerStore", "KeptAnswer", "MemoryAnswers", "answer_from_json", "answer_to_json"]


@dataclass(frozen=True)
class KeptAnswer:
    notifications: tuple[Notification, ...]
    published: bool


class AnswerStore(Protocol):
    def kept(self, key: str) -> KeptAnswer | None:
        """The answer kept for `key`, or None when nothing was decided yet."""
        ...

    def keep(self, key: str, notifications: list[Notification]) -> tuple[Notification, ...]:
        """Keep `notifications` as the answer for `key` unless one is kept already; the answer that
        stands (this one, or the one kept first). Raises when it cannot be stored: nothing may be
        published that is not kept."""
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

    def __init__(self) -> None:
        self._answers: dict[str, KeptAnswer] = {}
        self._lock = threading.Lock()

    def kept(self, key: str) -> KeptAnswer | None:
        return self._answers.get(key)

    def keep(self, key: str, notifications: list[Notification]) -> tuple[Notification, ...]:
        with self._lock:
            if key not in self._answers:
                # Through JSON, as a store outside the process would: what is republished is what was kept.
                self._answers[key] = KeptAnswer(answer_from_json(answer_to_json(notifications)), published=False)
            return self._answers[key].notifications

    def mark_published(self, key: str) -> None:
        with self._lock:
            answer = self._answers[key]
            self._answers[key] = KeptAnswer(answer.notifications, published=True)
