"""A long shared video hashed in segments, side by side, and shared once all are in.

A shared video is hashed at every frame, and one invocation hashes at most
`Limits.max_shared_video_pixel_frames` of it (a few minutes of one core). A longer one (a live
stream's recording) raises `NeedsSegments` in the sandbox, before anything is decoded; the edge
then plans its windows (`plan_segments`: at most `MAX_SEGMENTS`, each within the limit) and queues
one `SegmentTask` per window on the hashing queue, leaving the object where it is. Each task
fetches the object (pinned to the event's ETag), hashes its window only (frames keep their times
in the whole video), and stores its part (`SegmentStore.put_part`). The task that finds every
part in assembles them (`assemble`: the frames in time order) and hands on one share submission,
exactly as an unsegmented share; then the hand-off is recorded, the object deleted and the parts
removed. Nothing matches before that: the coalition sees the share whole or not at all.

Two tasks finishing together both hand on the same submission: it has the object's identity, so
the coalition processes it once. A task whose window is unreadable rejects the whole share (the
platform is told, the object deleted; the other tasks then find it gone, which the coalition
drops, the hand-off being recorded). A task that fails on every try is answered as any dead-lettered
upload is: `share.failed` to its platform.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hashmatch.media.model import MediaHashes, NeedsSegments, Rejected, RejectReason
from hashmatch.service.notifications import ObjectRef

__all__ = ["MAX_SEGMENTS", "SegmentStore", "SegmentTask", "assemble", "plan_segments", "segment_task_from_message"]

# Windows one shared video may be split into: a 4-hour 720p30 video needs 14 (about 17 minutes
# of it each); more means a frame size and rate no re-upload has (e.g. 8K at 240 fps for hours).
MAX_SEGMENTS = 64


@dataclass(frozen=True)
class SegmentTask:
    """Hash one window (`start` to `end` seconds; `end` None: to the end) of a shared video, the
    `index`-th of `count`."""

    obj: ObjectRef
    index: int
    count: int
    start: float
    end: float | None

    @property
    def share_id(self) -> str:
        """The same for every segment of one delivery of the object."""
        return hashlib.sha256(self.obj.identity.encode()).hexdigest()[:32]

    @property
    def window(self) -> tuple[float, float | None]:
        return self.start, self.end

    def to_json(self) -> dict[str, Any]:
        obj = self.obj
        return {
            "segment": {
                "object": {
                    "bucket": obj.bucket,
                    "key": obj.key,
                    "etag": obj.etag,
                    "size": obj.size,
                    "sequencer": obj.sequencer,
                    "principal": obj.principal,
                },
                "index": self.index,
                "count": self.count,
                "start": self.start,
                "end": self.end,
            }
        }


def segment_task_from_message(body: str) -> SegmentTask | None:
    """The task a hashing-queue message carries, or None for any other message (an S3 event).
    Raises ValueError for a segment message that is malformed."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(message, dict) or "segment" not in message:
        return None
    try:
        task = message["segment"]
        raw = task["object"]
        obj = ObjectRef(
            str(raw["bucket"]), str(raw["key"]), str(raw["etag"]), int(raw["size"]), str(raw["sequencer"]),
            str(raw.get("principal", "")),
        )  # fmt: skip
        end = None if task["end"] is None else float(task["end"])
        found = SegmentTask(obj, int(task["index"]), int(task["count"]), float(task["start"]), end)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"a malformed segment task: {error}") from error
    if not (0 <= found.index < found.count <= MAX_SEGMENTS) or found.start < 0:
        raise ValueError(f"a segment task out of bounds: {found.index} of {found.count} from {found.start} s")
    return found


def plan_segments(obj: ObjectRef, long: NeedsSegments) -> list[SegmentTask]:
    """One task per window of `long`; raises `Rejected` (too_large) past `MAX_SEGMENTS`."""
    windows = long.windows()
    if len(windows) > MAX_SEGMENTS:
        raise Rejected(
            RejectReason.TOO_LARGE,
            f"{long.message}; in windows of {long.longest:.0f} s it needs {len(windows)} segments, "
            f"over the {MAX_SEGMENTS} one share may have",
        )
    return [SegmentTask(obj, n, len(windows), start, end) for n, (start, end) in enumerate(windows)]


def assemble(parts: Sequence[MediaHashes]) -> MediaHashes:
    """One video's hashes from its segments' (each the frames of its window): the frames in time order."""
    if not parts:
        raise ValueError("no segments to assemble")
    frames = sorted((frame for part in parts for frame in part.frames), key=lambda frame: frame.offset)
    return replace(parts[0], frames=tuple(frames))


class SegmentStore(Protocol):
    """Where segment tasks are queued and their parts kept until the share is assembled."""

    def schedule(self, tasks: Sequence[SegmentTask]) -> None:
        """Queue every task (to the hashing queue)."""
        ...

    def put_part(self, task: SegmentTask, hashes: MediaHashes) -> None:
        """Keep `task`'s part (idempotent: a retry writes the same part again)."""
        ...

    def parts(self, task: SegmentTask) -> list[MediaHashes] | None:
        """Every part of `task`'s share, in order, once all `task.count` are in; else None."""
        ...

    def discard(self, task: SegmentTask) -> None:
        """Remove the parts of `task`'s share (after it was handed on or rejected)."""
        ...
