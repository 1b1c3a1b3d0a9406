"""Robustness of hashmatch's image matching against the edits copies come back with.

For every real photo found (the reference photos in ../shared/data, the sample photos shipped in
scikit-image and PyWavelets when installed, one frame of each reference video), the benchmark makes
seeded edited copies with `hashmatch.edits` (mirror, rotation, letterbox, 9:16 padding with solid or
blurred fill, crops, caption bars, meme text, watermark, JPEG, resize, colour filters and
combinations) and runs them through the service's own code path, in memory:

- every photo is written as a JPEG file (quality 95) and shared: `HashmatchService.process` hashes
  it with `hashing.hash_file(path, for_sharing=True)` and stores the item (main PDQ and pHash, the
  stored framings as "framing" entries) in a bank;
- every edited copy is written as a file (JPEG q95; PNG for the edits that end in a JPEG re-encode,
  so that their q30-50 pixels are not re-encoded again: `edits.encode_copy`) and checked: the same
  service hashes it with `hash_file(path)` and `matching.Matcher` answers with the verdict.

Per edit, the share of copies whose verdict names their own photo, beside anchors measured on the
same hashes: plain PDQ (main against main, within 31 bits), PDQ + 8 dihedral (the copy's 8
rotations/flips against the main), pHash within 10 bits. False matches: every verdict naming
another photo (every copy is checked against a bank holding every photo), and for the anchors every
pair of a copy and a different photo. A second table measures pHash thresholds: edits of one photo
against different photos of one scene (a stereo pair, two photos of one desk, video frames seconds
apart).

    .venv/bin/python benchmarks/bench_robustness.py            # whole run, a few minutes
    .venv/bin/python benchmarks/bench_robustness.py --quick    # a few photos, for a smoke test
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from hashmatch.bank.model import SharedItem
from hashmatch.edge.ingest import refine
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import FRAMING_KEY_THRESHOLD
from hashmatch.matching.rules import picture_queries
from hashmatch.media import framing
from hashmatch.media.codec import hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import MediaHashes
from hashmatch.service.notifications import EventType, Notification, ObjectRef
from hashmatch.service.ports import FetchedObject
from hashmatch.signals.bits import popcount_rows
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashmatch_tools.edits import EDITS, MILD_EDITS, REFERENCE_PHOTOS, encode_copy, open_photo
from hashmatch_tools.fakes import MemoryBank, service_on
from hashmatch_tools.oracles import uneven_crop_distance

SEED = 20240611
PHASH_ANCHOR_THRESHOLD = 10
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BUCKET = "ingest"
SHARER, CHECKER = "tiktok", "reddit"


# ---------------------------------------------------------------- photos


@dataclass
class Photo:
    name: str
    image: Image.Image


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _video_frame(path: Path, seconds: float) -> Image.Image | None:
    try:
        import av
    except ImportError:
        return None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_image().convert("RGB")
    return None


SKIMAGE_PHOTOS = [
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "clock_motion.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "microaneurysms.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
]
VIDEO_PHOTOS = ("chair-orig-22-sd-bar", "pattern-hd-no-bar", "doorknob-hd-no-bar")


def gather_photos() -> list[Photo]:
    """Every real photo available here, one per scene."""
    photos = [Photo(Path(p).stem, open_photo(DATA / p)) for p in REFERENCE_PHOTOS if (DATA / p).exists()]
    skimage = _package_dir("skimage")
    if skimage is not None:
        for name in SKIMAGE_PHOTOS:
            if (skimage / "data" / name).exists():
                photos.append(Photo(f"skimage:{Path(name).stem}", open_photo(skimage / "data" / name)))
    pywt = _package_dir("pywt")
    if pywt is not None:
        for name in ("aero", "ascent"):
            if (pywt / "data" / f"{name}.npz").exists():
                with np.load(pywt / "data" / f"{name}.npz") as archive:
                    pixels = archive[next(iter(archive.files))]
                photos.append(Photo(f"pywt:{name}", Image.fromarray(pixels.astype(np.uint8)).convert("RGB")))
    for name in VIDEO_PHOTOS:
        frame = _video_frame(DATA / "video" / f"{name}.mp4", 1.0)
        if frame is not None:
            photos.append(Photo(f"video:{name}", frame))
    return photos


def gather_scene_pairs() -> list[tuple[str, Image.Image, Image.Image]]:
    """Pairs of different photos of one scene: what a near-duplicate hash must not call copies."""
    pairs = []
    skimage = _package_dir("skimage")
    if skimage is not None and (skimage / "data" / "motorcycle_right.png").exists():
        pairs.append(
            (
                "motorcycle stereo pair",
                open_photo(skimage / "data" / "motorcycle_left.png"),
                open_photo(skimage / "data" / "motorcycle_right.png"),
            )
        )
    if (DATA / "pdq/misc-images/c.png").exists():
        pairs.append(
            (
                "pen and coaster, two shots",
                open_photo(DATA / "pdq/misc-images/c.png"),
                open_photo(DATA / "pdq/reg-test-input/pen-and-coaster.png"),
            )
        )
    for name in (*VIDEO_PHOTOS, "chair-19-sd-bar", "pattern-sd-grey-bar"):
        frames = [_video_frame(DATA / "video" / f"{name}.mp4", t) for t in (1.0, 2.0, 3.0, 5.0)]
        for (a, b), (ta, tb) in zip(
            ((frames[0], frames[1]), (frames[1], frames[2]), (frames[0], frames[3])),
            ((1, 2), (2, 3), (1, 5)),
            strict=True,
        ):
            if a is not None and b is not None:
                pairs.append((f"video {name} {ta}s vs {tb}s", a, b))
    return pairs


# ---------------------------------------------------------------- the service, in memory


class FolderStore:
    """`ports.ObjectStore` over files written beside each other in one folder (key = file name)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, body: bytes) -> ObjectRef:
        path = self.root / key.replace("/", "_")
        path.write_bytes(body)
        return ObjectRef(BUCKET, key, size=len(body))

    @contextmanager
    def fetch(self, obj: ObjectRef, max_bytes: int) -> Iterator[FetchedObject | None]:
        path = self.root / obj.key.replace("/", "_")
        if not path.exists():
            yield None
            return
        size = path.stat().st_size
        yield FetchedObject(path if size <= max_bytes else None, {}, size)

    def delete(self, obj: ObjectRef) -> None:
        (self.root / obj.key.replace("/", "_")).unlink(missing_ok=True)

    def metadata(self, obj: ObjectRef) -> dict[str, str] | None:
        return {} if (self.root / obj.key.replace("/", "_")).exists() else None


class Coalition:
    """The edge and the coalition on in-memory ports (`hashmatch_tools.fakes`), hashing with
    `hash_file` in process, keeping every hash computed (for the anchors) and the CPU time hashing
    took. A check runs both ways: the copy dropped as media, and its hashes (made here, refined
    through the coalition's uneven-crop candidates) dropped as a one-line check-by-hash list."""

    def __init__(self, root: Path, framing_key_threshold: int = FRAMING_KEY_THRESHOLD) -> None:
        self.store = FolderStore(root)
        self.bank = MemoryBank()
        self.sent: list[Notification] = []
        self.hashed: dict[str, MediaHashes] = {}
        self.hash_ms: dict[bool, list[float]] = {True: [], False: []}
        self.rest_ms: dict[bool, list[float]] = {True: [], False: []}  # CPU ms of processing beside hashing
        self.last: MediaHashes | None = None
        index = BankIndex()
        self.pipeline = service_on(self.bank, self.store, self, (SHARER, CHECKER), hasher=self._hash, index=index)  # type: ignore[arg-type]
        self.pipeline.coalition._matcher = Matcher(self.bank, index, framing_key_threshold=framing_key_threshold)
        self.pipeline.edge._candidates = self.pipeline.coalition.matcher

    def publish(self, notification: Notification) -> None:
        self.sent.append(notification)

    def _hash(self, path: Path, *, for_sharing: bool = False) -> MediaHashes:
        start = time.process_time()
        hashes = hash_file(path, for_sharing=for_sharing)
        self.hash_ms[for_sharing].append((time.process_time() - start) * 1000)
        # Kept without the uneven-crop search, which holds the picture's luma (~1 MB): only the
        # last file's is kept whole.
        self.hashed[path.name] = replace(hashes, uneven_crops=None)
        self.last = hashes
        return hashes

    def _drop(self, action: str, platform: str, name: str, body: bytes) -> list[Notification]:
        key = f"{action}/{platform}/{len(self.sent):06d}-{name}"
        obj = self.store.put(key, body)
        sent = len(self.sent)
        start, hashing = time.process_time(), sum(self.hash_ms[action == "share"])
        self.pipeline.process(obj)
        hashing = sum(self.hash_ms[action == "share"]) - hashing
        self.rest_ms[action == "share"].append((time.process_time() - start) * 1000 - hashing)
        return [n for n in self.sent[sent:] if n.platform == platform]

    def share(self, name: str, body: bytes) -> tuple[SharedItem, MediaHashes]:
        (answer,) = self._drop("share", SHARER, name, body)
        assert answer.event_type is EventType.SHARE_ACCEPTED, answer.body
        assert self.last is not None
        return self.bank.items[answer.body["items"][0]["item_id"]], self.last

    def check(self, name: str, body: bytes) -> tuple[dict[str, dict], dict[str, dict], MediaHashes]:
        """The matches by item id of the copy checked as media and checked by hash, and its hashes."""
        (answer,) = self._drop("check", CHECKER, name, body)
        assert answer.event_type in (EventType.MATCH_FOUND, EventType.CHECK_CLEAN), answer.body
        assert self.last is not None
        hashes = self.last
        refined = replace(refine(hashes, self.pipeline.matcher), uneven_crops=None)
        line = json.dumps({**hashes_to_json(refined), "content_id": name})
        replies = self._drop("check", CHECKER, f"{name}.jsonl", line.encode())
        (completed,) = [n for n in replies if n.event_type is EventType.CHECK_COMPLETED]
        (by_hash,) = self.pipeline.results.objects[completed.body["results"]["key"]]
        by_media = {m["item_id"]: m for m in answer.body["matches"]}
        return by_media, {m["item_id"]: m for m in by_hash.get("matches", [])}, hashes


# ---------------------------------------------------------------- anchors and distances


def queried_pdq(hashes: MediaHashes) -> list[str]:
    """Every PDQ hash the Matcher queries for a checked image: the main one and its 7 rotations/flips
    (when of usable quality), and its framings."""
    return [q.value for q in picture_queries(hashes, "pdq")]


def stored_pdq(item: SharedItem) -> list[str]:
    return [entry.value for entry in item.near_entries if entry.signal == "pdq"]


def stored_framings(item: SharedItem) -> list[str]:
    return [entry.value for entry in item.near_entries if entry.signal == "pdq" and entry.kind == "framing"]


def best_distance(copy: MediaHashes, item: SharedItem) -> int:
    """The closest any hash of `copy` comes to any stored for `item`, the uneven-crop search included
    (started as the matcher starts it)."""
    direct = _min_distance(queried_pdq(copy), stored_pdq(item))
    search = copy.uneven_crops
    if search is None:
        return direct
    return min([direct, *(uneven_crop_distance(search, stored) for stored in stored_framings(item))])


def closest_search(copy: MediaHashes, others: list[SharedItem], starts: int = 2) -> int:
    """How close the uneven-crop search brings `copy` to other photos, searched as an adversary would:
    toward the `starts` stored framings of other photos that its grid comes closest to in PDQ, from
    that closest rectangle, whatever the keys (the matcher searches only where keys agree)."""
    search = copy.uneven_crops
    if search is None:
        return 256
    framings = [stored for item in others for stored in stored_framings(item)]
    nearest = sorted(framings, key=lambda stored: _min_distance(list(search.hashes), [stored]))[:starts]
    return min((uneven_crop_distance(search, stored, any_start=True) for stored in nearest), default=256)


def _bits(hashes: list[str]) -> np.ndarray:
    if not hashes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hashes)), dtype=np.uint8).reshape(len(hashes), -1)


def _min_distance(left: list[str], right: list[str]) -> int:
    if not left or not right:
        return 256
    a, b = _bits(left), _bits(right)
    return int(popcount_rows(np.bitwise_xor(a[:, None, :], b[None, :, :]).reshape(-1, a.shape[1])).min())


def _phash_distance(left: str, right: str) -> int:
    return (int(left, 16) ^ int(right, 16)).bit_count()


@dataclass
class Anchors:
    plain: bool
    dihedral: bool
    phash: bool
    phash_distance: int


def anchors(copy: MediaHashes, shared: MediaHashes) -> Anchors:
    """How plain PDQ, PDQ with 8 dihedral variants and pHash judge `copy` against `shared`."""
    phash_distance = _phash_distance(copy.signals["phash"], shared.signals["phash"])
    usable = copy.pdq_quality is not None and copy.pdq_quality >= PDQ_MIN_QUALITY
    upright = _min_distance([copy.signals["pdq"]], [shared.signals["pdq"]]) if usable else 256
    turned = _min_distance(list(copy.orientation_hashes("pdq")), [shared.signals["pdq"]]) if usable else 256
    return Anchors(
        upright <= PDQ_MATCH_THRESHOLD,
        min(upright, turned) <= PDQ_MATCH_THRESHOLD,
        phash_distance <= PHASH_ANCHOR_THRESHOLD,
        phash_distance,
    )


def _pdq_only(match: dict) -> bool:
    """Whether a match stands without pHash corroboration: exact, or PDQ within 31 bits."""
    return match["signal"] in ("sha256", "md5") or (
        match["signal"] == "pdq" and match["distance"] <= PDQ_MATCH_THRESHOLD
    )


# ---------------------------------------------------------------- the run


@dataclass
class EditResult:
    copies: int = 0
    hashmatch: int = 0
    by_hash: int = 0
    pdq_only: int = 0
    plain: int = 0
    dihedral: int = 0
    phash: int = 0
    false_hashmatch: int = 0
    false_by_hash: int = 0
    false_plain: int = 0
    false_phash: int = 0
    closest_other: int = 256
    closest_searched: int = 256
    distances: list[int] = field(default_factory=list)
    phash_distances: list[int] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def add(self, other: EditResult) -> None:
        for name in ("copies", "hashmatch", "by_hash", "pdq_only", "plain", "dihedral", "phash"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("false_hashmatch", "false_by_hash", "false_plain", "false_phash"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.closest_other = min(self.closest_other, other.closest_other)
        self.closest_searched = min(self.closest_searched, other.closest_searched)


@dataclass
class Shared:
    photo: Photo
    item: SharedItem
    hashes: MediaHashes


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "-"


def _unchanged(image: Image.Image, rng: random.Random) -> Image.Image:
    return image


def share_all(coalition: Coalition, photos: list[Photo]) -> tuple[list[Shared], list[Photo]]:
    """Every photo shared as a JPEG q95 file; those whose PDQ quality is below 50 are left out
    (the service stores no PDQ for them, so only an exact copy could match)."""
    shared, rejected = [], []
    for photo in photos:
        body, suffix = encode_copy(photo.image, "original")
        item, hashes = coalition.share(f"{photo.name.replace(':', '-')}{suffix}", body)
        if hashes.pdq_quality is not None and hashes.pdq_quality >= PDQ_MIN_QUALITY:
            shared.append(Shared(photo, item, hashes))
        else:
            rejected.append(photo)
    return shared, rejected


def run(
    coalition: Coalition, shared: list[Shared], seed: int, only: list[str] | None = None, copies: int = 1
) -> dict[str, EditResult]:
    """Per edit: the verdict on every copy (`copies` seeded copies per photo), and how the anchors
    judge it against every photo."""
    results: dict[str, EditResult] = {}
    for edit_index, (edit_name, edit) in enumerate({"original": _unchanged, **EDITS}.items()):
        if only and edit_name != "original" and not any(part in edit_name for part in only):
            continue
        result = results.setdefault(edit_name, EditResult())
        for photo_index, own in [(p, s) for _ in range(copies) for p, s in enumerate(shared)]:
            copy_index = len(result.distances) // len(shared)
            rng = random.Random(seed * 1000 + edit_index * 100 + photo_index + 1_000_000 * copy_index)
            body, suffix = encode_copy(edit(own.photo.image, rng), edit_name)
            matched, matched_by_hash, copy = coalition.check(f"{own.photo.name.replace(':', '-')}{suffix}", body)
            mine = matched.get(own.item.item_id)
            result.by_hash += own.item.item_id in matched_by_hash
            result.false_by_hash += sum(other.item.item_id in matched_by_hash for other in shared if other is not own)
            judged = anchors(copy, own.hashes)
            result.copies += 1
            result.hashmatch += mine is not None
            result.pdq_only += mine is not None and _pdq_only(mine)
            result.plain += judged.plain
            result.dihedral += judged.dihedral
            result.phash += judged.phash
            result.distances.append(best_distance(copy, own.item))
            result.phash_distances.append(judged.phash_distance)
            if mine is None:
                result.misses.append(own.photo.name)
            queried = queried_pdq(copy)
            for other in shared:
                if other is own:
                    continue
                wrong = anchors(copy, other.hashes)
                result.false_hashmatch += other.item.item_id in matched
                result.false_plain += wrong.plain
                result.false_phash += wrong.phash
                result.closest_other = min(result.closest_other, _min_distance(queried, stored_pdq(other.item)))
            others = [other.item for other in shared if other is not own]
            result.closest_searched = min(result.closest_searched, closest_search(copy, others))
    return results


def print_table(results: dict[str, EditResult]) -> None:
    print(
        "| edit | copies | **hashmatch** | hashmatch by hash | hashmatch, PDQ only | plain PDQ | PDQ + 8 dihedral "
        f"| pHash <= {PHASH_ANCHOR_THRESHOLD} | median / max best distance "
        "| false matches: hashmatch / by hash / plain PDQ / pHash | closest other photo (PDQ bits) "
        "| closest other photo, uneven-crop search |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    total = EditResult()
    for name, r in results.items():
        print(
            f"| {name} | {r.copies} | **{_pct(r.hashmatch, r.copies)}** | {_pct(r.by_hash, r.copies)} "
            f"| {_pct(r.pdq_only, r.copies)} "
            f"| {_pct(r.plain, r.copies)} | {_pct(r.dihedral, r.copies)} | {_pct(r.phash, r.copies)} "
            f"| {statistics.median(r.distances):.0f} / {max(r.distances)} "
            f"| {r.false_hashmatch} / {r.false_by_hash} / {r.false_plain} / {r.false_phash} "
            f"| {r.closest_other} | {r.closest_searched} |"
        )
        if name != "original":
            total.add(r)
    t = total
    print(
        f"| **all edits** | {t.copies} | **{100.0 * t.hashmatch / t.copies:.1f}% ({t.hashmatch})** "
        f"| {100.0 * t.by_hash / t.copies:.1f}% ({t.by_hash}) | {_pct(t.pdq_only, t.copies)} "
        f"| {_pct(t.plain, t.copies)} | {_pct(t.dihedral, t.copies)} | {_pct(t.phash, t.copies)} | "
        f"| {t.false_hashmatch} / {t.false_by_hash} / {t.false_plain} / {t.false_phash} "
        f"| {t.closest_other} | {t.closest_searched} |"
    )


def print_misses(results: dict[str, EditResult]) -> None:
    misses = {name: r.misses for name, r in results.items() if r.misses}
    if misses:
        print("\nCopies hashmatch missed:")
        for name, photos in misses.items():
            print(f"- {name}: {', '.join(photos)}")


def phash_thresholds(coalition: Coalition, results: dict[str, EditResult], shared: list[Shared]) -> None:
    """pHash distance: edits of one photo vs different photos (of one scene, and unrelated)."""
    scene = []
    for name, a, b in gather_scene_pairs():
        (ha, hb) = (hash_file(_written(coalition, image)) for image in (a, b))
        scene.append(
            (
                name,
                _phash_distance(ha.signals["phash"], hb.signals["phash"]),
                _min_distance([ha.signals["pdq"]], [hb.signals["pdq"]]),
            )
        )
    hashes = [s.hashes.signals["phash"] for s in shared]
    unrelated = [_phash_distance(hashes[i], hashes[j]) for i in range(len(hashes)) for j in range(i + 1, len(hashes))]
    mild = [d for name in MILD_EDITS if name in results for d in results[name].phash_distances]
    every = [d for name, r in results.items() if name != "original" for d in r.phash_distances]
    print("\npHash distances (64 bits):")
    print(f"- pairs of different photos of one scene: {sorted(d for _, d, _ in scene)}")
    for name, d, pdq_d in scene:
        print(f"  - {name}: pHash {d}, PDQ {pdq_d}")
    print(f"- unrelated photos: min {min(unrelated)}, 1st percentile {np.percentile(unrelated, 1):.0f}")
    print(
        "\n| pHash threshold | mild edits matched (JPEG, resize, colour, watermark) | all edits matched "
        "| scene pairs matched (false) | unrelated pairs matched (false) |"
    )
    print("|---:|---:|---:|---:|---:|")
    for threshold in (4, 6, 8, 10, 12):
        print(
            f"| {threshold} | {_pct(sum(d <= threshold for d in mild), len(mild))} "
            f"| {_pct(sum(d <= threshold for d in every), len(every))} "
            f"| {sum(d <= threshold for _, d, _ in scene)} of {len(scene)} "
            f"| {sum(d <= threshold for d in unrelated)} of {len(unrelated)} |"
        )


def _written(coalition: Coalition, image: Image.Image) -> Path:
    body, suffix = encode_copy(image, "original")
    path = coalition.store.root / f"scene-{time.perf_counter_ns()}{suffix}"
    path.write_bytes(body)
    return path


def cost(coalition: Coalition, shared: list[Shared]) -> None:
    """CPU milliseconds per image: `stored_framings` + `check_framings` alone at 512 and 1024 px, and
    `hash_file` as a whole (decode, sha256/md5, PDQ and its rotations, pHash, framings) as run.

    CPU time of this process (`time.process_time`), so that other work on a shared machine does not
    count; numpy here runs single-threaded (no BLAS-sized products).
    """
    for side in (512, 1024):
        images = []
        for s in shared:
            image = s.photo.image.copy()
            image.thumbnail((side, side))
            images.append(image)
        index_ms: list[float] = []
        query_ms: list[float] = []
        for _ in range(3):
            for image in images:
                start = time.process_time()
                framing.stored_framings(image)
                middle = time.process_time()
                framing.check_framings(image)
                end = time.process_time()
                index_ms.append((middle - start) * 1000)
                query_ms.append((end - middle) * 1000)
        both = [a + b for a, b in zip(index_ms, query_ms, strict=True)]
        print(
            f"- at most {side} px: stored_framings {statistics.median(index_ms):.1f} ms, "
            f"check_framings {statistics.median(query_ms):.1f} ms, both: median "
            f"{statistics.median(both):.1f} ms, p95 {np.percentile(both, 95):.1f} ms"
        )
    search_ms = []
    for index, own in enumerate(shared):
        _, search = framing.check_framings(
            EDITS["crop 0-10% per side, asymmetric"](own.photo.image, random.Random(index))
        )
        if search is None:
            continue
        for stored in stored_framings(own.item):
            start = min(range(len(search.hashes)), key=lambda row: _min_distance([search.hashes[row]], [stored]))
            began = time.process_time()
            search.closest(start, stored)
            search_ms.append((time.process_time() - began) * 1000)
    print(
        f"- one uneven-crop search (`UnevenCropSearch.closest`, toward each stored framing of an unevenly "
        f"cropped copy): median {statistics.median(search_ms):.1f} ms, p95 {np.percentile(search_ms, 95):.1f} ms"
    )
    for for_sharing, what in ((True, "share"), (False, "check")):
        ms = coalition.hash_ms[for_sharing]
        print(
            f"- hash_file for a {what}, whole files as written here: median {statistics.median(ms):.1f} ms, "
            f"p95 {np.percentile(ms, 95):.1f} ms ({len(ms)} files)"
        )
    ms = coalition.rest_ms[False]
    print(
        f"- the rest of a check (matching, uneven-crop searches included; verdict) on this small bank: "
        f"median {statistics.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, max {max(ms):.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help="six photos only")
    parser.add_argument("--edit", action="append", help="only edits whose name contains this (repeatable)")
    parser.add_argument("--copies", type=int, default=1, help="seeded copies per photo and edit (default 1)")
    parser.add_argument(
        "--key-threshold",
        type=int,
        default=FRAMING_KEY_THRESHOLD,
        help=f"the matcher's framing-key threshold (default {FRAMING_KEY_THRESHOLD})",
    )
    args = parser.parse_args(argv)
    photos = gather_photos()
    if not photos:
        print("no photos found: needs ../shared/data or scikit-image installed", file=sys.stderr)
        return 1
    if args.quick:
        photos = photos[:6]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-robustness-") as folder:
        coalition = Coalition(Path(folder), args.key_threshold)
        shared, rejected = share_all(coalition, photos)
        results = run(coalition, shared, args.seed, args.edit, args.copies)
        print(f"Robustness of image matching through HashmatchService, seed {args.seed}, {len(shared)} photos")
        print(
            f"({len(photos)} gathered; PDQ quality < {PDQ_MIN_QUALITY}, so no PDQ stored: "
            f"{', '.join(p.name for p in rejected) or 'none'})\n"
        )
        print_table(results)
        print_misses(results)
        if args.edit:
            return 0
        stored = [sum(e.kind == "framing" for e in s.item.near_entries) for s in shared]
        queried = [len(coalition.hashed[k].framing_hashes()) for k in coalition.hashed if k.startswith("check_")]
        print(
            f"\nStored per image: 1 main + {statistics.mean(stored):.2f} framings (max {max(stored)}); "
            f"queried per image: 8 + {statistics.mean(queried):.1f} framings (max {max(queried)})"
        )
        print("\nCost on one core:")
        cost(coalition, shared)
        phash_thresholds(coalition, results, shared)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
