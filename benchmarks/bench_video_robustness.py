"""Robustness of video matching against the edits re-posted videos come back with.

Run: ``.venv/bin/python benchmarks/bench_video_robustness.py [--seed 1234] [--seconds 12]``

Scenes: the three distinct scenes of the reference videos in ../shared/data/video (chair, pattern,
doorknob; at most `--seconds` of each) and two generated panning scenes (`samples.panning_frames`),
so that it runs without ../shared too. Each scene is shared (hashed at every frame, as a share is)
into an in-memory bank; every edited copy is written as an H.264 file and checked through the real
`hash_file` (sampled at 1 frame per second), its uneven-crop search refined toward the candidates
the bank names (`hashmatch.edge.ingest.refine`, as the edge does), and `Matcher`, with every other
scene in the bank.

Edits (`hashmatch_tools.reuploads.video`): each picture edit run on every frame with one seed, so
logos, captions, layouts and crops stay put while the footage moves; and the edits only a video has,
a clip (the middle half) and a stretch spliced into other footage.

Beside it, the same matcher on the same copies with each sample queried by its whole frame only (its
8 orientations, without its framings: `FrameHash.framings`, the footage found inside it, its crops
and turns), against the same bank (the shared runs keep their stored crops). Anchor, same process,
same copies: vPDQ's published matching rule (ThreatExchange `vpdq` defaults: a frame matches within
31 bits, and the copy matches when at least 80% of its frames of quality >= 50 do), on the copy's
upright frame hashes against the shared video's frames.

False matches: a verdict naming another scene, and for the anchor any other scene passing its rule
(a splice also shows the footage it was spliced into: that scene is left out of its count).
The closest distance: the nearest any query of a copy's samples (any orientation, any framing)
came to a hash stored for another scene (a run's frame or its crops).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image

from hashmatch.bank.model import Provenance
from hashmatch.edge.ingest import refine
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import HALF_MATCH_THRESHOLD
from hashmatch.matching.video import frame_queries, shared_frame_runs
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import Limits, MediaHashes, is_half
from hashmatch.service.service import item_from_media
from hashmatch.signals.bits import popcount_rows, unpack_hex_rows
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.oracles import without_framings
from hashmatch_tools.reuploads.video import FRAME_EDITS, HELD_OUT_FRAME_EDITS, FrameEdit, edited_frames
from hashmatch_tools.samples import panning_frames, video_bytes

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
REFERENCE_SCENES = ("chair-orig-22-sd-bar", "pattern-hd-no-bar", "doorknob-hd-no-bar")
GENERATED_SCENES = (101, 202)  # panning_frames seeds
FPS = 24
VPDQ_FRAME_THRESHOLD = PDQ_MATCH_THRESHOLD  # 31
VPDQ_QUERY_MATCH_PERCENT = 80.0


@dataclass
class Scene:
    name: str
    frames: list[np.ndarray]
    fps: int
    item_id: str = ""
    stored: np.ndarray = field(default_factory=lambda: np.zeros((0, 32), dtype=np.uint8))  # runs' frames
    indexed: np.ndarray = field(default_factory=lambda: np.zeros((0, 32), dtype=np.uint8))  # and their crops
    halves: np.ndarray = field(default_factory=lambda: np.zeros((0, 32), dtype=np.uint8))  # their halves


@dataclass
class Tally:
    copies: int = 0
    ours: int = 0
    whole_frames: int = 0
    anchor: int = 0
    false_ours: int = 0
    false_anchor: int = 0
    closest_other: int = 256
    closest_half: int = 256  # pairs with a half on either side (they match within HALF_MATCH_THRESHOLD)
    misses: list[str] = field(default_factory=list)


def reference_scenes(seconds: float) -> list[Scene]:
    scenes = []
    for name in REFERENCE_SCENES:
        path = DATA / f"{name}.mp4"
        if not path.exists():
            continue
        with av.open(str(path)) as container:
            rate = round(float(container.streams.video[0].average_rate or 30))
            frames = []
            for frame in container.decode(video=0):
                if len(frames) >= seconds * rate:
                    break
                rgb = frame.to_ndarray(format="rgb24")
                frames.append(np.ascontiguousarray(rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]))
        scenes.append(Scene(name.split("-")[0], frames, rate))
    return scenes


def generated_scenes(seconds: float) -> list[Scene]:
    return [Scene(f"panning-{seed}", panning_frames(seed, seconds, FPS, (480, 360)), FPS) for seed in GENERATED_SCENES]


def hashed(body: bytes, folder: Path, *, for_sharing: bool = False, limits: Limits | None = None) -> MediaHashes:
    path = folder / "video.mp4"
    path.write_bytes(body)
    return hash_file(path, limits, for_sharing=for_sharing)


SPLICE = "splice: half of it inside other footage"
TUNED = "TUNED video edits"
HELD_OUT = "HELD-OUT video edits"


def copies_of(scene: Scene, other: Scene, seed: int) -> Iterator[tuple[str, list[np.ndarray]]]:
    """Every tuned edit of `scene`, one at a time: the frame edits, a clip and a splice into
    `other`'s footage (`SPLICE`: that copy shows `other` too, so a verdict naming `other` is no
    false match)."""
    yield from frame_copies(scene, FRAME_EDITS, seed)
    count = len(scene.frames)
    yield "clip: the middle half", scene.frames[count // 4 : count - count // 4]
    size = scene.frames[0].shape[:2]
    filler = [_fitted(frame, size) for frame in other.frames]
    half = len(filler) // 2
    yield SPLICE, filler[:half] + scene.frames[count // 4 : count - count // 4] + filler[half:]


def frame_copies(scene: Scene, edits: dict[str, FrameEdit], seed: int) -> Iterator[tuple[str, list[np.ndarray]]]:
    """`scene` through each of `edits`, every frame with the same seed, one copy at a time (a copy's
    frames are large: holding them all at once took ~24 GB)."""
    for name, edit in edits.items():
        yield name, edited_frames(scene.frames, edit, f"{seed}|{scene.name}|{name}")


def _fitted(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.BILINEAR))


def vpdq_rule(check: MediaHashes, stored: np.ndarray) -> bool:
    """vPDQ's rule on the copy's upright frames: at least 80% of its usable frames within 31 bits
    of some stored frame."""
    usable = [f.pdq for f in check.frames if f.quality >= PDQ_MIN_QUALITY]
    if not usable or not len(stored):
        return False
    nearest = np.array([int(popcount_rows(np.bitwise_xor(stored, row)).min()) for row in unpack_hex_rows(usable)])
    return 100.0 * float((nearest <= VPDQ_FRAME_THRESHOLD).mean()) >= VPDQ_QUERY_MATCH_PERCENT


def closest_any_orientation(check: MediaHashes, scene: Scene) -> tuple[int, int]:
    """The closest any query of `check` comes to what `scene` stores: of pairs without a half, and
    of pairs with a half on either side (held to the half threshold)."""
    queries = frame_queries(check)
    whole, halves = [q.pdq for q in queries if not q.half], [q.pdq for q in queries if q.half]
    every = np.concatenate([scene.indexed, scene.halves])
    return _closest(whole, scene.indexed), min(_closest(halves, every), _closest(whole, scene.halves))


def _closest(queries: list[str], stored: np.ndarray) -> int:
    if not queries or not len(stored):
        return 256
    return min(int(popcount_rows(np.bitwise_xor(stored, row)).min()) for row in unpack_hex_rows(queries))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--seconds", type=float, default=12.0, help="at most this much of each scene")
    parser.add_argument("--tuned-only", action="store_true", help="leave out the held-out edits")
    parser.add_argument(
        "--scene", action="append", default=[], help="check copies of this scene only (repeatable; all are shared)"
    )
    parser.add_argument(
        "--edit", action="append", default=[], help="check copies made by this edit only (repeatable; a prefix)"
    )
    parser.add_argument(
        "--min-video-samples",
        type=int,
        default=Limits().min_video_samples,
        help="samples a short check gets at least (`Limits.min_video_samples`; 1: once a second, as before it)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    limits = Limits(min_video_samples=args.min_video_samples)
    scenes = reference_scenes(args.seconds) + generated_scenes(min(args.seconds, 10.0))
    if len(scenes) == len(GENERATED_SCENES):
        print(f"(no reference videos in {DATA}: generated scenes only)", file=sys.stderr)
    bank = MemoryBank()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for scene in scenes:
            shared = hashed(video_bytes(scene.frames, scene.fps), work, for_sharing=True)
            item = item_from_media(shared, Provenance(contributor="tiktok", shared_at="2026-12-05T00:00:00Z"))
            bank.put_items([item])
            scene.item_id = item.item_id
            runs = shared_frame_runs(shared.frames)
            scene.stored = unpack_hex_rows([run.pdq for run in runs])
            crops = [pdq for run in runs for label, pdq in run.framings if not is_half(label)]
            scene.indexed = unpack_hex_rows([run.pdq for run in runs] + crops)
            halves = [pdq for run in runs for label, pdq in run.framings if is_half(label)]
            scene.halves = unpack_hex_rows(halves) if halves else scene.halves
        matcher = Matcher(bank, BankIndex())
        sets: dict[str, dict[str, Tally]] = {TUNED: {}, HELD_OUT: {}}
        framings: list[int] = []  # per sample of every copy
        refines: list[float] = []  # CPU seconds of each copy's uneven-crop search (`refine`)
        rng = random.Random(args.seed)
        for scene in scenes:
            other = rng.choice([s for s in scenes if s is not scene])
            if args.scene and scene.name not in args.scene:
                continue
            copies = [(TUNED, copies_of(scene, other, args.seed))]
            if not args.tuned_only:
                copies.append((HELD_OUT, frame_copies(scene, HELD_OUT_FRAME_EDITS, args.seed)))
            for half, name, frames in ((h, n, f) for h, edits in copies for n, f in edits):
                if args.edit and not any(name.startswith(edit) for edit in args.edit):
                    continue
                searched = hashed(video_bytes(frames, scene.fps), work, limits=limits)
                started_refine = time.process_time()
                check = refine(searched, matcher)
                refines.append(time.process_time() - started_refine)
                matched = {m.item_id for m in matcher.match(check)}
                tally = sets[half].setdefault(name, Tally())
                tally.copies += 1
                tally.ours += scene.item_id in matched
                tally.whole_frames += scene.item_id in {m.item_id for m in matcher.match(without_framings(check))}
                framings.extend(len(frame.framings) for frame in check.frames)
                tally.anchor += vpdq_rule(check, scene.stored)
                if scene.item_id not in matched:
                    tally.misses.append(scene.name)
                for different in scenes:
                    if different is scene or (name == SPLICE and different is other):
                        continue
                    tally.false_ours += different.item_id in matched
                    tally.false_anchor += vpdq_rule(check, different.stored)
                    closest, with_a_half = closest_any_orientation(check, different)
                    tally.closest_other = min(tally.closest_other, closest)
                    tally.closest_half = min(tally.closest_half, with_a_half)
    names = [s.name for s in scenes]
    print(f"Video re-upload edits, seed {args.seed}: {len(names)} scenes shared ({', '.join(names)}), one copy each")
    totals = {half: print_table(half, tallies) for half, tallies in sets.items() if tallies}
    header = "| set | copies | **hashmatch** | whole frames only | vPDQ rule (anchor) | false: hashmatch / anchor"
    print(f"\n{header} | closest other scene | closest, with a half (match <= {HALF_MATCH_THRESHOLD}) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for half, total in totals.items():
        print(
            f"| {half} | {total.copies} | **{total.ours} = {_pct(total.ours, total.copies)}** "
            f"| {total.whole_frames} = {_pct(total.whole_frames, total.copies)} "
            f"| {total.anchor} = {_pct(total.anchor, total.copies)} "
            f"| {total.false_ours} / {total.false_anchor} | {total.closest_other} | {total.closest_half} |"
        )
    print(f"sample framings per sample: mean {np.mean(framings):.1f}, max {max(framings)} ({len(framings)} samples)")
    print(
        f"the edge's uneven-crop search per copy (`refine`: the bank's candidates, the searches, the places "
        f"hashed on the kept samples), CPU: median {1000 * np.median(refines):.1f} ms, "
        f"max {1000 * max(refines):.1f} ms ({len(refines)} copies)"
    )
    print(f"\n({time.perf_counter() - started:.0f} s wall)")
    return 0


def print_table(half: str, tallies: dict[str, Tally]) -> Tally:
    """One set's table, by edit; its totals."""
    print(f"\n#### {half}\n")
    print(
        "| edit | copies | **hashmatch** | whole frames only | vPDQ rule (anchor) | false matches: hashmatch / anchor "
        "| closest other scene (PDQ bits) | closest, with a half | missed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    total = Tally()
    for name, t in tallies.items():
        missed = ", ".join(t.misses) or "-"
        false = f"{t.false_ours} / {t.false_anchor}"
        counts = f"{t.copies} | **{t.ours}** | {t.whole_frames} | {t.anchor}"
        print(f"| {name} | {counts} | {false} | {t.closest_other} | {t.closest_half} | {missed} |")
        total.copies += t.copies
        total.ours += t.ours
        total.whole_frames += t.whole_frames
        total.anchor += t.anchor
        total.false_ours += t.false_ours
        total.false_anchor += t.false_anchor
        total.closest_other = min(total.closest_other, t.closest_other)
        total.closest_half = min(total.closest_half, t.closest_half)
    ours, anchor = _pct(total.ours, total.copies), _pct(total.anchor, total.copies)
    false = f"{total.false_ours} / {total.false_anchor}"
    whole = _pct(total.whole_frames, total.copies)
    counts = f"{total.copies} | **{total.ours} = {ours}** | {total.whole_frames} = {whole} | {total.anchor} = {anchor}"
    print(f"| **all** | {counts} | {false} | {total.closest_other} | {total.closest_half} | |")
    print(
        f"\nvideo robustness ({half}): copies {total.copies} hashmatch {total.ours} whole frames only "
        f"{total.whole_frames} anchor {total.anchor} false {false} closest other scene {total.closest_other}, "
        f"with a half {total.closest_half}"
    )
    return total


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / max(1, whole):.1f}%"


if __name__ == "__main__":
    sys.exit(main())
