"""The edge's one job: turn an object a platform dropped into a `Submission` of hashes.

`EdgeHasher.process` fetches the object, and

- media (judged by content) is hashed in the sandbox (`hashmatch.edge.sandbox`): a checked
  picture is also searched for uneven crops toward the stored framings the coalition names as
  candidates (`CandidateSource`), and what the search finds is added to its queries; a shared
  video too long to hash in one go is hashed in segments side by side and handed on once all
  are in (`hashmatch.edge.segments`);
- a text file is a hash list: under ``share/`` or ``withdraw/`` it is validated as a whole (one
  bad line rejects the file, naming the line), its size checked before it is read, and a long
  list goes on in parts of `SHARE_PART_ENTRIES`, each its own share (announced with its ``part``,
  answered once however often it is delivered); under ``check/`` it is a check-by-hash list, each
  line one file's hashes as `hashmatch hash --for-check` prints them (or, from a member's edge
  stack, ``{"content_id": ..., "rejection": {"reason": ..., "message": ...}}`` for a file it could
  not hash), checked entry by entry, so a bad line (an over-long one too, never read whole) is one
  rejected entry, its size checked before it is read, and long lists go on in chunks;
- a member's feedback or incident request, or an operator's request (``feedback/``,
  ``incident/``, ``operator/``) is a small JSON object, its size checked before it is read,
  handed on as it is for the coalition to validate;
- anything unusable becomes a rejection the platform will be told of;
- with members in their own accounts (`PrincipalCheck`), an object written by anyone but the
  role of the platform its key names is not fetched at all: it is refused (``wrong_principal``)
  to the platform the key names, and deleted.

The submissions go to the coalition (`SubmissionSink`), the hand-off is recorded (`HandOffs`),
and only then is the raw object deleted, so nothing is lost if the edge dies half way. An object
already gone is handed on as ``gone``: the coalition tells an earlier delivery of the same event
(its hand-off recorded, or its answer kept) from an object that expired unprocessed
(`hashmatch.service.handoffs`).

The edge holds no bank and publishes nothing: it may read and delete dropped objects and hand on
submissions, and that is all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hashmatch.bank.hashlist import MAX_HASH_LIST_BYTES, looks_like_hash_list, parse_hash_list
from hashmatch.edge.principals import PrincipalCheck
from hashmatch.edge.segments import SegmentStore, SegmentTask, assemble, plan_segments
from hashmatch.governance.admission import refuse_list
from hashmatch.governance.requests import MAX_REQUEST_BYTES
from hashmatch.media.codec import fitted_hashes, hashes_from_json, hashes_to_json, member_json
from hashmatch.media.hashing import SNIFF_BYTES
from hashmatch.media.model import Candidate, Limits, MediaHashes, NeedsSegments, Rejected, RejectReason, sniff_media
from hashmatch.service.handoffs import HandOffs
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.ports import CandidateSource, FetchedObject, ObjectStore, SubmissionSink
from hashmatch.service.routing import REQUEST_ACTIONS, Outcome, Route, route_for
from hashmatch.service.submission import CheckEntry, Kind, Submission
from hashmatch.service.telemetry import NO_TELEMETRY, Telemetry, timed

__all__ = [
    "CHECK_CHUNK_ENTRIES",
    "MAX_CHECK_LINE_BYTES",
    "MAX_CHECK_LIST_BYTES",
    "MAX_CHECK_LIST_ENTRIES",
    "SHARE_PART_ENTRIES",
    "EdgeHasher",
    "Hasher",
    "check_line",
    "refine",
]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# Entries of a check-by-hash list answered per submission: ~10 KB of hashes each, so a chunk is
# a ~5 MB signals object and one matcher invocation of a few seconds at 10M hashes.
CHECK_CHUNK_ENTRIES = 500
MAX_CHECK_LIST_ENTRIES = 100_000
# Entries of a shared (or withdrawn) hash list stored and announced per submission: a part's
# writes and its alerts to every member take well under a minute, so no part nears the timeout.
SHARE_PART_ENTRIES = 5_000
MAX_CHECK_LINE_BYTES = 4 * 1024**2
# 16 KiB a line on average over the most entries a list may have (1.53 GiB, under the 2 GB any
# object may be): a checked picture's line is 6-13 KB (`tests/unit/test_bounds.py` measures seeded
# 1.3 MP photos'), so a full list of pictures fits with room for larger ones; a list of long
# videos' lines (each at most `MAX_CHECK_LINE_BYTES`) holds ~390.
MAX_CHECK_LIST_BYTES = MAX_CHECK_LIST_ENTRIES * 16 * 1024
MAX_CONTENT_ID = 1024
# Bytes read of a check list's line at most at once: the longest line allowed and its line ending.
_CHECK_LINE_READ = MAX_CHECK_LINE_BYTES + 2
# Bytes read at once of the rest of an over-long line, which is skipped.
_SKIP_READ = 64 * 1024


def check_line(hashes: MediaHashes, fields: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A check list's line for one file's `hashes` with `fields` (its ``content_id``, ...), made
    to fit `MAX_CHECK_LINE_BYTES` (`hashmatch.media.codec.fitted_hashes`: a long video's samples
    without their framings, then fewer samples), and what was left out (None when nothing was)."""
    return fitted_hashes(
        hashes,
        lambda kept: {**fields, **hashes_to_json(kept)},
        lambda line: len(json.dumps(line).encode()) <= MAX_CHECK_LINE_BYTES,
    )


class Hasher(Protocol):
    def __call__(
        self, path: Path, *, for_sharing: bool = False, window: tuple[float, float | None] | None = None
    ) -> MediaHashes: ...


class _Segmented(Exception):
    """A shared video to hash in segments: its tasks are queued, the object stays for them."""

    def __init__(self, tasks: list[SegmentTask]) -> None:
        super().__init__(f"{len(tasks)} segments")
        self.tasks = tasks


def refine(hashes: MediaHashes, candidates: CandidateSource | None) -> MediaHashes:
    """A checked picture's or video's hashes with the framings its uneven-crop search found toward
    the coalition's candidates added as queries (a video's to its samples' framings), and the
    search (which holds pixels) dropped."""
    (refined,) = refine_many([hashes], candidates)
    return refined


def refine_many(hashes: Sequence[MediaHashes], candidates: CandidateSource | None) -> list[MediaHashes]:
    """`refine` for many checked files: one question to the coalition for all their searches' grids."""
    searching = [(n, h.uneven_crops) for n, h in enumerate(hashes) if h.uneven_crops is not None]
    grids = [grid for _, search in searching for grid in search.grids]
    if candidates is None:  # no coalition to ask: the searches find nothing
        answers: list[Sequence[Candidate]] = [[] for _ in grids]
    else:
        answers = list(candidates.uneven_crop_candidates_many(grids)) if grids else []
    if len(answers) != len(grids):
        raise ValueError(f"the coalition answered {len(answers)} of {len(grids)} uneven-crop grids")
    refined, asked = list(hashes), iter(answers)
    for n, search in searching:
        refined[n] = search.refine(hashes[n], [next(asked) for _ in search.grids])
    return refined


class EdgeHasher:
    def __init__(
        self,
        *,
        store: ObjectStore,
        sink: SubmissionSink,
        hasher: Hasher,
        platforms: tuple[str, ...],
        candidates: CandidateSource | None = None,
        handoffs: HandOffs | None = None,
        limits: Limits | None = None,
        check_chunk: int = CHECK_CHUNK_ENTRIES,
        share_part: int = SHARE_PART_ENTRIES,
        telemetry: Telemetry = NO_TELEMETRY,
        principals: PrincipalCheck | None = None,
        segments: SegmentStore | None = None,
    ) -> None:
        self._store = store
        self._sink = sink
        self._hasher = hasher
        self._platforms = platforms
        self._candidates = candidates
        self._handoffs = handoffs
        self._limits = limits or Limits()
        self._check_chunk = check_chunk
        self._share_part = share_part
        self._telemetry = telemetry
        self._principals = principals
        self._segments = segments

    def process(self, obj: ObjectRef) -> Outcome:
        """Hash the object, hand the submissions on, record the hand-off, delete the object."""
        (outcome,) = self.process_many([obj])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def process_many(self, objs: Sequence[ObjectRef]) -> list[Outcome | Exception]:
        """`process` for a batch of objects, with one question to the coalition for all their
        uneven-crop searches. Each object is hashed in turn, and what asks nothing (a list, a
        share, a request, a rejection) is handed on at once, its hand-off recorded and the object
        deleted, so a batch of slow files still makes progress however it ends. The checked
        pictures and videos wait for the batch's one question (`refine_many`), then go on the
        same way. An object that fails has its exception in its place and the others go on; an
        unanswered question fails the checks that asked it."""
        prepared = [_attempt(self._prepare, obj) for obj in objs]
        asked = [hashes for ready in prepared if isinstance(ready, list) for _, hashes in ready]
        refined: Iterator[MediaHashes] = iter(())
        if asked:
            try:
                with timed(self._telemetry, "candidates"):
                    refined = iter(refine_many(asked, self._candidates))
            except Exception as error:  # unanswered: the checks that asked fail, nothing else
                return [error if isinstance(ready, list) else ready for ready in prepared]
        return [
            _attempt(self._hand_on, obj, [replace(s, hashes=next(refined)) for s, _ in ready])
            if isinstance(ready, list)
            else ready
            for obj, ready in zip(objs, prepared, strict=True)
        ]

    def _hand_on(self, obj: ObjectRef, submissions: list[Submission]) -> Outcome:
        for submission in submissions:
            self._sink.send(submission)
        self._finish(obj)
        return Outcome.PROCESSED

    def _prepare(self, obj: ObjectRef) -> list[tuple[Submission, MediaHashes]] | Outcome:
        """Hash the object and hand on what asks the coalition nothing as it comes (a long check
        list a chunk at a time, never whole in memory), then record the hand-off and delete the
        object; its outcome. A checked picture's or video's submission, whose uneven-crop search
        waits for the batch's question, is returned instead (with its hashes), the object kept
        until it is handed on."""
        route = route_for(obj.key, self._platforms)
        refusal = self._principals.refusal(route, obj.principal) if self._principals else None
        if refusal is not None:
            return self._refuse(route, obj, refusal)
        waiting: list[tuple[Submission, MediaHashes]] = []
        with self._store.fetch(obj, self._limits.max_file_bytes) as fetched:
            if fetched is None:
                logger.info("object gone before hashing", extra={"key": obj.key})
                self._sink.send(Submission(route.action, route.platform, obj, Kind.GONE))
                return Outcome.ALREADY_PROCESSED
            try:
                for submission in self._submissions(route, obj, fetched):
                    if submission.hashes is not None and submission.hashes.uneven_crops is not None:
                        waiting.append((submission, submission.hashes))
                    else:
                        self._sink.send(submission)
            except _Segmented as segmented:
                assert self._segments is not None
                self._segments.schedule(segmented.tasks)
                logger.info("shared video queued in segments", extra={"key": obj.key, "segments": len(segmented.tasks)})
                return Outcome.PROCESSED  # the object stays for its segments
        if waiting:
            return waiting
        self._finish(obj)
        return Outcome.PROCESSED

    def process_segment(self, task: SegmentTask) -> Outcome:
        """Hash one window of a long shared video and keep it; the task that completes the set
        hands on the whole share (`hashmatch.edge.segments`)."""
        if self._segments is None:
            raise RuntimeError("a segment task reached an edge with no segment store")
        obj = task.obj
        route = route_for(obj.key, self._platforms)
        if route.action != "share":  # only shares are hashed at every frame, and so segmented
            raise ValueError(f"a segment task for {obj.key!r}, which is no share")
        with self._store.fetch(obj, self._limits.max_file_bytes) as fetched:
            if fetched is None:
                # Assembled by a sibling task and deleted, or expired: the coalition tells which.
                self._sink.send(Submission(route.action, route.platform, obj, Kind.GONE))
                return Outcome.ALREADY_PROCESSED
            base = Submission(route.action, route.platform, obj, Kind.REJECTION, dict(fetched.metadata))
            try:
                if fetched.path is None:
                    raise Rejected(RejectReason.TOO_LARGE, f"{fetched.size} bytes is over the limit")
                with timed(self._telemetry, "hash"):
                    part = self._hasher(fetched.path, for_sharing=True, window=task.window)
            except (Rejected, NeedsSegments) as refused:
                rejection = refused.as_rejection() if isinstance(refused, NeedsSegments) else refused
                self._sink.send(replace(base, rejection=rejection))
            else:
                self._segments.put_part(task, replace(part, uneven_crops=None))
                parts = self._segments.parts(task)
                if parts is None:
                    return Outcome.PROCESSED  # the last segment in hands the share on
                self._sink.send(replace(base, kind=Kind.HASHES, hashes=assemble(parts)))
        self._finish(obj)
        self._segments.discard(task)
        return Outcome.PROCESSED

    def _finish(self, obj: ObjectRef) -> None:
        """After handing on: record the hand-off, then delete the raw object."""
        if self._handoffs is not None:
            self._handoffs.record(obj)
        self._store.delete(obj)

    def _refuse(self, route: Route, obj: ObjectRef, refusal: Rejected) -> Outcome:
        """Hand on a refusal of an object whose body is never read (its metadata names the
        content id the platform knows it by), record the hand-off, delete the object."""
        metadata = self._store.metadata(obj)
        if metadata is None:
            logger.info("object gone before hashing", extra={"key": obj.key})
            self._sink.send(Submission(route.action, route.platform, obj, Kind.GONE))
            return Outcome.ALREADY_PROCESSED
        logger.warning("refused its writer", extra={"key": obj.key, "principal": obj.principal})
        self._sink.send(Submission(route.action, route.platform, obj, Kind.REJECTION, metadata, rejection=refusal))
        self._finish(obj)
        return Outcome.PROCESSED

    def fail(self, obj: ObjectRef, message: str) -> None:
        """Hand on that `obj` could not be hashed however often it was tried (its record reached the
        dead-letter queue): the coalition tells the platform `check.failed` / `share.failed`. The
        object is left for an operator's replay; it expires with the bucket's lifecycle."""
        route = route_for(obj.key, self._platforms)
        metadata = self._store.metadata(obj) or {}
        metadata["failure"] = message
        self._sink.send(Submission(route.action, route.platform, obj, Kind.FAILURE, metadata))

    def _submissions(self, route: Route, obj: ObjectRef, fetched: FetchedObject) -> Iterator[Submission]:
        metadata = dict(fetched.metadata)
        base = Submission(route.action, route.platform, obj, Kind.REJECTION, metadata)
        path = fetched.path
        if path is None:
            too_large = f"{fetched.size} bytes is over the {self._limits.max_file_bytes} byte limit"
            yield replace(base, rejection=Rejected(RejectReason.TOO_LARGE, too_large))
            return
        if route.action in REQUEST_ACTIONS:
            try:
                yield replace(base, kind=Kind.REQUEST, request=_request(path))
            except Rejected as rejected:
                yield replace(base, rejection=rejected)
            return
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
        is_text = sniff_media(head) is None and looks_like_hash_list(head)
        try:
            if not head:
                raise Rejected(RejectReason.EMPTY, "the file is empty (0 bytes)")
            if route.action == "check" and is_text:
                yield from self._check_list(base, path)
            elif is_text:
                yield from self._hash_list_parts(base, path, metadata.get("signal"))
            elif route.action == "withdraw":
                raise Rejected(RejectReason.INVALID_HASH_LIST, "a withdrawal is a hash list, not media")
            else:
                with timed(self._telemetry, "hash"):
                    try:
                        hashes = self._hasher(path, for_sharing=route.action == "share")
                    except NeedsSegments as long:
                        if self._segments is None:
                            raise long.as_rejection() from None
                        raise _Segmented(plan_segments(obj, long)) from None
                if route.action != "check":  # a check's search is refined with the batch's (`process_many`)
                    hashes = replace(hashes, uneven_crops=None)
                yield replace(base, kind=Kind.HASHES, hashes=hashes)
        except Rejected as rejected:
            yield replace(base, rejection=rejected)

    def _hash_list_parts(self, base: Submission, path: Path, signal: str | None) -> Iterator[Submission]:
        """A shared or withdrawn hash list, validated whole (its size first, before reading it), in
        parts of `share_part` entries."""
        _refuse_over(path, MAX_HASH_LIST_BYTES, "a hash list")
        entries = parse_hash_list(path.read_bytes(), signal)
        if base.action == "share":
            refuse_list(entries, base.metadata)  # the coalition checks each part again
        parts = max(1, -(-len(entries) // self._share_part))
        for number in range(parts):
            part = tuple(entries[number * self._share_part : (number + 1) * self._share_part])
            yield replace(base, kind=Kind.ENTRIES, entries=part, chunk=(number + 1, parts))

    def _check_list(self, base: Submission, path: Path) -> Iterator[Submission]:
        """A check-by-hash list in chunks, read twice (counted, then parsed a chunk at a time) so a
        100,000-entry list never sits in memory whole; a bad line is a rejected entry, a list over
        the limits (`MAX_CHECK_LIST_BYTES`, checked before it is read, and `MAX_CHECK_LIST_ENTRIES`)
        a rejection."""
        _refuse_over(path, MAX_CHECK_LIST_BYTES, "a check list")
        first = next(_entry_lines(path), None)
        if first is None or not first[1].lstrip().startswith(b"{"):
            raise Rejected(
                RejectReason.UNSUPPORTED_MEDIA,
                "neither media nor a check list (JSON Lines of hashes, as `hashmatch hash --for-check` prints)",
            )
        count = sum(1 for _ in _entry_lines(path))
        if count > MAX_CHECK_LIST_ENTRIES:
            raise Rejected(
                RejectReason.TOO_LARGE, f"{count} entries: a check list has at most {MAX_CHECK_LIST_ENTRIES}"
            )
        chunks = -(-count // self._check_chunk)
        chunk: list[CheckEntry] = []
        number = 0
        for line, text in _entry_lines(path):
            chunk.append(_check_entry(line, text))
            if len(chunk) == self._check_chunk:
                number += 1
                yield replace(base, kind=Kind.CHECKS, checks=tuple(chunk), chunk=(number, chunks))
                chunk = []
        if chunk:
            yield replace(base, kind=Kind.CHECKS, checks=tuple(chunk), chunk=(number + 1, chunks))


def _attempt(step: Callable[..., _T], *args: Any) -> _T | Exception:
    """What `step` returns, or the exception it raised: one object's failure, the batch going on."""
    try:
        return step(*args)
    except Exception as error:
        return error


def _refuse_over(path: Path, limit: int, what: str) -> None:
    """Refuse (`too_large`) a list or request over `limit` bytes, from its size alone, before any of
    it is read."""
    size = path.stat().st_size
    if size > limit:
        raise Rejected(RejectReason.TOO_LARGE, f"{size} bytes: {what} is at most {limit} bytes")


def _request(path: Path) -> dict[str, object]:
    """A feedback, incident or operator request: one JSON object of at most `MAX_REQUEST_BYTES`."""
    _refuse_over(path, MAX_REQUEST_BYTES, "a request")
    try:
        document = member_json(path.read_bytes())
    except ValueError as error:
        raise Rejected(RejectReason.INVALID_REQUEST, str(error)) from None
    if not isinstance(document, dict):
        raise Rejected(RejectReason.INVALID_REQUEST, "a request is one JSON object")
    return document


def _entry_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, text) of every line of a check list that is not blank or a # comment.

    A line is read `_CHECK_LINE_READ` bytes at most at a time, so one over `MAX_CHECK_LINE_BYTES`
    never sits in memory whole: it comes as its first `_CHECK_LINE_READ` bytes, which
    `_check_entry` refuses by their length, and the rest of it is skipped."""
    with path.open("rb") as stream:
        number = 0
        while raw := stream.readline(_CHECK_LINE_READ):
            number += 1
            if raw.endswith(b"\n") or len(raw) < _CHECK_LINE_READ:  # the whole line
                text = raw.strip()
                if text and not text.startswith(b"#"):
                    yield number, text
                continue
            rest = raw
            while rest and not rest.endswith(b"\n"):
                rest = stream.readline(_SKIP_READ)
            if not raw.lstrip().startswith(b"#"):
                yield number, raw


def _check_entry(line: int, text: bytes) -> CheckEntry:
    if len(text) > MAX_CHECK_LINE_BYTES:
        return CheckEntry(line, None, error=f"line {line}: over {MAX_CHECK_LINE_BYTES} bytes")
    try:
        record = member_json(text)
    except ValueError as error:
        return CheckEntry(line, None, error=f"line {line}: {error}")
    content_id = record.get("content_id") if isinstance(record, dict) else None
    if content_id is not None and (not isinstance(content_id, str) or len(content_id) > MAX_CONTENT_ID):
        return CheckEntry(line, None, error=f"line {line}: content_id must be a string of at most {MAX_CONTENT_ID}")
    rejection = record.get("rejection") if isinstance(record, dict) else None
    if isinstance(rejection, dict):  # a file the member's edge could not hash: its reason, passed on
        try:
            reason = RejectReason(str(rejection.get("reason")))
        except ValueError:
            reason = RejectReason.CORRUPT
        return CheckEntry(line, content_id, error=str(rejection.get("message", ""))[:1000], reason=reason)
    try:
        return CheckEntry(line, content_id, hashes=hashes_from_json(record))
    except ValueError as error:
        return CheckEntry(line, content_id, error=f"line {line}: {error}")
