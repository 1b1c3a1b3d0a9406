"""Robustness of hashmatch's image matching against the edits copies come back with.

Real photos (`hashmatch_tools.reuploads.photos`: the reference photos in ../shared/data, frames of
its reference videos, and the sample photos shipped in scikit-image, scikit-learn and PyWavelets)
are shared, and seeded edited copies of every photo are checked through the service's own code
path, in memory:

- every shared photo is written as a JPEG file (quality 95) and shared: `HashmatchService.process`
  hashes it with `hashing.hash_file(path, for_sharing=True)` and stores the item in a bank;
- every copy is written as a file (JPEG q95; PNG when its edit ends in a JPEG re-encode, so that it
  is not re-encoded twice) and checked twice: dropped as media (hashed, refined through the
  coalition's uneven-crop candidates, matched) and as a one-line check-by-hash list of the same
  hashes. Copies of the look-alikes (`photos.NEGATIVES`: other shots of a shared photo's scene,
  never shared) are checked too: any verdict on them is a false match.

The copies come in sets, reported side by side:

- TUNED families (`hashmatch_tools.reuploads.TUNED`) on the TUNED photos: what matching was tuned on;
- TUNED families on the HELD-OUT photos (`photos.HELD_OUT_PHOTOS`);
- HELD-OUT families (`reuploads.HELD_OUT`) on every photo: never tuned on;
- the catalogue (`hashmatch_tools.edits.EDITS`: dihedral turns, bars, 9:16 padding, crops,
  captions, meme text...), the edits hashmatch handled before the families existed.

Per family and per set: the share of copies whose verdict names their own photo (as media, and by
hash), beside anchors measured in the same run on the same copies: plain PDQ (main against main,
within 31 bits), PDQ with the copy's 8 rotations/flips, pHash within 10 bits, dHash within 10 bits
(`imagehash`). False matches: verdicts naming any other photo, and for the anchors every pair of a
copy and a different shared photo within their threshold. The closest distance: how near any PDQ
hash queried for a copy came to any stored for a different photo, and where the uneven-crop search,
started toward other photos as an adversary would, ended.

    .venv/bin/python benchmarks/bench_robustness.py                 # every set, ~30-60 minutes
    .venv/bin/python benchmarks/bench_robustness.py --quick         # 6 photos, tuned + held-out sets only
    .venv/bin/python benchmarks/bench_robustness.py --set held-out  # one set (repeatable)
    .venv/bin/python benchmarks/bench_robustness.py --edit rotate --copies 4   # families by name
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from hashmatch.bank.model import SharedItem
from hashmatch.edge.ingest import refine
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import (
    CORROBORATED_PDQ_LIMIT,
    FRAMING_KEY_THRESHOLD,
    HALF_MATCH_THRESHOLD,
    PHASH_CORROBORATION_THRESHOLD,
    THIRD_MATCH_THRESHOLD,
    THIRDS_AGREEING,
    UNEVEN_CROP_START_LIMIT,
)
from hashmatch.matching.rules import picture_queries
from hashmatch.media import framing
from hashmatch.media.codec import hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import MediaHashes, is_half, is_third
from hashmatch.media.uneven import MAX_GRID_ROWS
from hashmatch.service.notifications import EventType, Notification, ObjectRef
from hashmatch.service.ports import FetchedObject
from hashmatch.signals.bits import popcount_rows
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashmatch_tools import reuploads
from hashmatch_tools.edits import EDITS, MILD_EDITS, encode_copy
from hashmatch_tools.fakes import MemoryBank, service_on
from hashmatch_tools.oracles import pdq_distance, uneven_crop_distance
from hashmatch_tools.reuploads.photos import Photo, gather_photos

SEED = 20240611
PHASH_ANCHOR_THRESHOLD = 10
DHASH_ANCHOR_THRESHOLD = 10
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BUCKET = "ingest"
SHARER, CHECKER = "tiktok", "reddit"
UPLOAD_JPEG_QUALITY = 95
QUICK_SETS = ("tuned", "tuned-held-out-photos", "held-out")
QUICK_PHOTOS = ("bridge", "desk-1", "desk-3", "skimage:astronaut", "skimage:chelsea", "skimage:motorcycle_right")

Edit = Callable[[Image.Image, random.Random], Image.Image]


@dataclass(frozen=True)
class EditSet:
    """Families of edits applied to some of the photos, reported as one column."""

    name: str
    families: dict[str, Edit]
    takes: Callable[[Photo], bool]


def edit_sets() -> dict[str, EditSet]:
    """The sets of copies, by the name `--set` takes."""
    return {
        "tuned": EditSet("TUNED families, tuned photos", reuploads.TUNED, lambda photo: not photo.held_out),
        "tuned-held-out-photos": EditSet(
            "TUNED families, held-out photos", reuploads.TUNED, lambda photo: photo.held_out
        ),
        "held-out": EditSet("HELD-OUT families, all photos", reuploads.HELD_OUT, lambda photo: True),
        "catalogue": EditSet("catalogue of known edits, all photos", EDITS, lambda photo: True),
    }


def encoded(image: Image.Image, family: str, seed: str) -> tuple[bytes, str]:
    """The file a platform would receive for a copy: PNG when its edit ends in a JPEG re-encode (a
    JPEG family, or a composition with a JPEG step, replayed from the copy's seed), else JPEG q95."""
    if family in EDITS:
        return encode_copy(image, family)
    steps = [family]
    if family.startswith("compose"):
        steps = reuploads.chain_steps("tuned" if family in reuploads.TUNED else "held_out", random.Random(seed))
    buffer = io.BytesIO()
    if any(step in reuploads.JPEG_FAMILIES for step in steps):
        image.convert("RGB").save(buffer, "PNG", compress_level=1)
        return buffer.getvalue(), ".png"
    image.convert("RGB").save(buffer, "JPEG", quality=UPLOAD_JPEG_QUALITY)
    return buffer.getvalue(), ".jpg"


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

    def __init__(
        self,
        root: Path,
        framing_key_threshold: int = FRAMING_KEY_THRESHOLD,
        start_limit: int = UNEVEN_CROP_START_LIMIT,
    ) -> None:
        self.store = FolderStore(root)
        self.bank = MemoryBank()
        self.sent: list[Notification] = []
        self.hashed: dict[str, MediaHashes] = {}
        self.hash_ms: dict[bool, list[float]] = {True: [], False: []}
        self.rest_ms: dict[bool, list[float]] = {True: [], False: []}  # CPU ms of processing beside hashing
        self.last: MediaHashes | None = None
        self.grid_rows: list[int] = []  # the uneven-crop grid's rows of each check (0: no search)
        index = BankIndex()
        self.pipeline = service_on(self.bank, self.store, self, (SHARER, CHECKER), hasher=self._hash, index=index)  # type: ignore[arg-type]
        self.pipeline.coalition._matcher = Matcher(
            self.bank, index, framing_key_threshold=framing_key_threshold, start_limit=start_limit
        )
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
        if not for_sharing:
            grids = [] if hashes.uneven_crops is None else hashes.uneven_crops.grids
            self.grid_rows.append(sum(len(keys) for keys, _ in grids))
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


def _part(label: str) -> str:
    """What part of a picture a query label names: "half", "third" or "whole" (anything else)."""
    return "half" if is_half(label) else "third" if is_third(label) else "whole"


def queried_pdq(hashes: MediaHashes, part: str | None = None) -> list[str]:
    """Every PDQ hash the Matcher queries for a checked image: the main one and its 7 rotations/flips
    (when of usable quality), and its framings; only those of one `part` ("whole", "half", "third")
    when given."""
    return [q.value for q in picture_queries(hashes, "pdq") if part is None or _part(q.label) == part]


def stored_pdq(item: SharedItem, part: str | None = None) -> list[str]:
    """Every PDQ hash stored for `item`; only those of one `part` ("whole", "half", "third") when given."""
    return [
        entry.value
        for entry in item.near_entries
        if entry.signal == "pdq" and (part is None or _STORED_PARTS.get(entry.kind, "whole") == part)
    ]


_STORED_PARTS = {"half": "half", "third": "third"}


def _found_without_thirds(coalition: Coalition, copy: MediaHashes, own: Shared) -> bool:
    """Whether anything but the shared picture's stored thirds brings `copy` (its uneven-crop finds
    included) within the threshold, by PDQ (`oracles.pdq_distance`) or pHash corroboration."""
    stored = replace(own.hashes, framings=tuple(f for f in own.hashes.framings if not is_third(f.label)))
    refined = refine(copy, coalition.pipeline.matcher)
    if pdq_distance(refined, stored) <= PDQ_MATCH_THRESHOLD:
        return True
    judged = anchors(copy, None, own)
    upright = _min_distance([copy.signals["pdq"]], [own.hashes.signals["pdq"]])
    return upright <= CORROBORATED_PDQ_LIMIT and judged.phash_distance <= PHASH_CORROBORATION_THRESHOLD


def agreeing_parts_distance(copy: MediaHashes, item: SharedItem) -> int:
    """The closest `item`'s stored parts (halves and thirds) come to `copy` as the Matcher counts a
    stored third's agreement (`THIRDS_AGREEING` = 2): the least D at which two different queries of
    the copy lie within D of two different stored parts."""
    queries = picture_queries(copy, "pdq")
    parts = stored_pdq(item, "half") + stored_pdq(item, "third")
    if len(queries) < 2 or len(parts) < 2:
        return 256
    bits_q, bits_p = _bits([q.value for q in queries]), _bits(parts)
    xor = np.bitwise_xor(bits_q[:, None, :], bits_p[None, :, :]).reshape(-1, bits_q.shape[1])
    distances = popcount_rows(xor).reshape(len(queries), len(parts))
    labels = [q.label for q in queries]
    # Per stored part, its closest query and the closest with another label.
    best: list[tuple[int, str, int]] = []
    for column in distances.T:
        order = np.argsort(column, kind="stable")
        first = int(order[0])
        second = next((int(k) for k in order[1:] if labels[int(k)] != labels[first]), None)
        best.append((int(column[first]), labels[first], 256 if second is None else int(column[second])))
    closest = 256
    for j in range(len(best)):
        for k in range(j + 1, len(best)):
            (dj, lj, sj), (dk, lk, sk) = best[j], best[k]
            pair = max(dj, dk) if lj != lk else min(max(dj, sk), max(sj, dk))
            closest = min(closest, pair)
    return closest


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


def closest_search(copy: MediaHashes, others: list[SharedItem], starts: int = 2) -> tuple[int, int]:
    """How close the uneven-crop search brings `copy` to other photos, searched as an adversary would:
    toward the `starts` stored framings of other photos that its grid comes closest to in PDQ, from
    that closest rectangle, whatever the keys (the matcher searches only where keys agree). The
    distance, and which of `others` it came that close to (-1: none searched)."""
    search = copy.uneven_crops
    if search is None:
        return 256, -1
    framings = [(stored, k) for k, item in enumerate(others) for stored in stored_framings(item)]
    nearest = sorted(framings, key=lambda pair: _min_distance(list(search.hashes), [pair[0]]))[:starts]
    return min(((uneven_crop_distance(search, stored, any_start=True), k) for stored, k in nearest), default=(256, -1))


def _bits(hashes: list[str]) -> np.ndarray:
    if not hashes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hashes)), dtype=np.uint8).reshape(len(hashes), -1)


def _min_distance(left: list[str], right: list[str]) -> int:
    if not left or not right:
        return 256
    a, b = _bits(left), _bits(right)
    return int(popcount_rows(np.bitwise_xor(a[:, None, :], b[None, :, :]).reshape(-1, a.shape[1])).min())


def _hex_distance(left: str, right: str) -> int:
    return (int(left, 16) ^ int(right, 16)).bit_count()


def dhash_of(body: bytes) -> str | None:
    """The dHash anchor (`imagehash.dhash` of the decoded file), or None without imagehash."""
    try:
        import imagehash
    except ImportError:
        return None
    with Image.open(io.BytesIO(body)) as image:
        return str(imagehash.dhash(image.convert("RGB")))


@dataclass
class Shared:
    photo: Photo
    item: SharedItem
    hashes: MediaHashes
    dhash: str | None


@dataclass(frozen=True)
class Anchors:
    plain: bool
    dihedral: bool
    phash: bool
    dhash: bool
    phash_distance: int


def anchors(copy: MediaHashes, copy_dhash: str | None, shared: Shared) -> Anchors:
    """How plain PDQ, PDQ with 8 rotations/flips, pHash and dHash judge `copy` against `shared`."""
    phash_distance = _hex_distance(copy.signals["phash"], shared.hashes.signals["phash"])
    usable = copy.pdq_quality is not None and copy.pdq_quality >= PDQ_MIN_QUALITY
    upright = _min_distance([copy.signals["pdq"]], [shared.hashes.signals["pdq"]]) if usable else 256
    turned = _min_distance(list(copy.orientation_hashes("pdq")), [shared.hashes.signals["pdq"]]) if usable else 256
    dhash = copy_dhash is not None and shared.dhash is not None
    return Anchors(
        upright <= PDQ_MATCH_THRESHOLD,
        min(upright, turned) <= PDQ_MATCH_THRESHOLD,
        phash_distance <= PHASH_ANCHOR_THRESHOLD,
        dhash and _hex_distance(copy_dhash or "0", shared.dhash or "0") <= DHASH_ANCHOR_THRESHOLD,
        phash_distance,
    )


def _pdq_only(match: dict) -> bool:
    """Whether a match stands without pHash corroboration: exact, or PDQ within 31 bits."""
    return match["signal"] in ("sha256", "md5") or (
        match["signal"] == "pdq" and match["distance"] <= PDQ_MATCH_THRESHOLD
    )


# ---------------------------------------------------------------- the run


_COUNTS = ("copies", "hashmatch", "by_hash", "pdq_only", "plain", "dihedral", "phash", "dhash")
_FALSE = ("false_hashmatch", "false_by_hash", "false_plain", "false_dihedral", "false_phash", "false_dhash")


@dataclass
class Tally:
    """Verdicts on the copies of one family (or a whole set): `copies` of shared photos, of which
    each method found so many; false matches over every copy, look-alikes' copies included."""

    copies: int = 0
    hashmatch: int = 0
    by_hash: int = 0
    pdq_only: int = 0
    plain: int = 0
    dihedral: int = 0
    phash: int = 0
    dhash: int = 0
    lookalike_copies: int = 0
    false_hashmatch: int = 0
    false_by_hash: int = 0
    false_plain: int = 0
    false_dihedral: int = 0
    false_phash: int = 0
    false_dhash: int = 0
    false_on_lookalikes: int = 0
    closest_other: int = 256
    closest_half: int = 256
    closest_half_other_scene: int = 256  # the same, photos of another scene than the copy's
    closest_agreeing: int = 256  # two stored parts agreeing with two queries (a stored third's rule)
    thirds_only: list[int] = field(default_factory=list)  # copies only thirds found: their agreeing distance
    closest_searched: int = 256
    closest_pair: str = ""
    half_pair: str = ""
    agreeing_pair: str = ""
    searched_pair: str = ""
    distances: list[int] = field(default_factory=list)
    phash_distances: list[int] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in (*_COUNTS, *_FALSE, "lookalike_copies", "false_on_lookalikes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.closest_other < self.closest_other:
            self.closest_other, self.closest_pair = other.closest_other, other.closest_pair
        if other.closest_half < self.closest_half:
            self.closest_half, self.half_pair = other.closest_half, other.half_pair
        self.closest_half_other_scene = min(self.closest_half_other_scene, other.closest_half_other_scene)
        if other.closest_agreeing < self.closest_agreeing:
            self.closest_agreeing, self.agreeing_pair = other.closest_agreeing, other.agreeing_pair
        self.thirds_only += other.thirds_only
        if other.closest_searched < self.closest_searched:
            self.closest_searched, self.searched_pair = other.closest_searched, other.searched_pair
        self.distances += other.distances
        self.phash_distances += other.phash_distances


def _unchanged(image: Image.Image, rng: random.Random) -> Image.Image:
    return image


def share_all(coalition: Coalition, photos: list[Photo]) -> tuple[list[Shared], list[Photo]]:
    """Every shared photo shared as a JPEG q95 file; those whose PDQ quality is below 50 are left
    out (the service stores no PDQ for them, so only an exact copy could match)."""
    shared, rejected = [], []
    for photo in photos:
        if not photo.shared:
            continue
        body, suffix = encode_copy(photo.image, "original")
        item, hashes = coalition.share(f"{_file_name(photo.name)}{suffix}", body)
        if hashes.pdq_quality is not None and hashes.pdq_quality >= PDQ_MIN_QUALITY:
            shared.append(Shared(photo, item, hashes, dhash_of(body)))
        else:
            rejected.append(photo)
    return shared, rejected


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "-" for c in name)


def run(
    coalition: Coalition,
    shared: list[Shared],
    photos: list[Photo],
    sets: dict[str, EditSet],
    seed: int,
    only: list[str] | None = None,
    copies: int = 1,
) -> dict[str, dict[str, Tally]]:
    """Per set and family: the verdict on every copy (`copies` seeded copies per photo), and how
    the anchors judge it against every shared photo."""
    results: dict[str, dict[str, Tally]] = {}
    by_name = {s.photo.name: s for s in shared}
    for key, edit_set in sets.items():
        families = {"original": _unchanged, **edit_set.families} if key == "catalogue" else edit_set.families
        for family, edit in families.items():
            if only and family != "original" and not any(part in family for part in only):
                continue
            tally = results.setdefault(key, {}).setdefault(family, Tally())
            for photo in photos:
                if not edit_set.takes(photo) or (photo.shared and photo.name not in by_name):
                    continue
                for k in range(copies):
                    copy_seed = f"{seed}|{photo.name}|{family}|{k}"
                    body, suffix = encoded(edit(photo.image, random.Random(copy_seed)), family, copy_seed)
                    name = f"{_file_name(photo.name)}-{len(coalition.sent):06d}{suffix}"
                    what = f"{family}: {photo.name}"
                    judge(coalition, tally, by_name.get(photo.name), shared, body, name, what, scene=photo.scene)
    return results


def judge(
    coalition: Coalition,
    tally: Tally,
    own: Shared | None,
    shared: list[Shared],
    body: bytes,
    name: str,
    what: str,
    scene: str = "",
) -> None:
    """Checks one copy (of `own`, or of a look-alike when None; of a photo of `scene`) both ways and
    adds the verdicts, the anchors and the closest distances to `tally`."""
    matched, matched_by_hash, copy = coalition.check(name, body)
    copy_dhash = dhash_of(body)
    others = [s for s in shared if s is not own]
    if own is not None:
        mine = matched.get(own.item.item_id)
        judged = anchors(copy, copy_dhash, own)
        tally.copies += 1
        tally.hashmatch += mine is not None
        tally.by_hash += own.item.item_id in matched_by_hash
        tally.pdq_only += mine is not None and _pdq_only(mine)
        tally.plain += judged.plain
        tally.dihedral += judged.dihedral
        tally.phash += judged.phash
        tally.dhash += judged.dhash
        tally.distances.append(best_distance(copy, own.item))
        tally.phash_distances.append(judged.phash_distance)
        if (
            mine is not None
            and mine.get("detail", {}).get("shared_third")
            and not _found_without_thirds(coalition, copy, own)
        ):
            tally.thirds_only.append(agreeing_parts_distance(copy, own.item))
        if mine is None:
            tally.misses.append(what)
    else:
        tally.lookalike_copies += 1
        tally.false_on_lookalikes += sum(other.item.item_id in matched for other in others)
    whole, parts = queried_pdq(copy, "whole"), queried_pdq(copy, "half") + queried_pdq(copy, "third")
    for other in others:
        wrong = anchors(copy, copy_dhash, other)
        tally.false_hashmatch += other.item.item_id in matched
        tally.false_by_hash += other.item.item_id in matched_by_hash
        tally.false_plain += wrong.plain
        tally.false_dihedral += wrong.dihedral
        tally.false_phash += wrong.phash
        tally.false_dhash += wrong.dhash
        closest = _min_distance(whole, stored_pdq(other.item, "whole"))
        if closest < tally.closest_other:
            tally.closest_other, tally.closest_pair = closest, f"{what} vs {other.photo.name}"
        # Pairs with a part on either side match only within HALF_MATCH_THRESHOLD: kept apart. A
        # queried part (half or third) or a stored half matches alone; a stored third only beside
        # another stored part (THIRDS_AGREEING): kept apart too.
        alone = stored_pdq(other.item, "whole") + stored_pdq(other.item, "half")
        closest = min(_min_distance(parts, alone), _min_distance(whole, stored_pdq(other.item, "half")))
        if closest < tally.closest_half:
            tally.closest_half, tally.half_pair = closest, f"{what} vs {other.photo.name}"
        if other.photo.scene != scene:
            tally.closest_half_other_scene = min(tally.closest_half_other_scene, closest)
        closest = agreeing_parts_distance(copy, other.item)
        if closest < tally.closest_agreeing:
            tally.closest_agreeing, tally.agreeing_pair = closest, f"{what} vs {other.photo.name}"
    searched, k = closest_search(copy, [other.item for other in others])
    if searched < tally.closest_searched:
        tally.closest_searched, tally.searched_pair = searched, f"{what} vs {others[k].photo.name}"


# ---------------------------------------------------------------- tables


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _with_false(part: int, whole: int, false: int) -> str:
    return _pct(part, whole) + (f" ({false} FP)" if false else "")


def print_family_table(title: str, tallies: dict[str, Tally], dhash: bool) -> Tally:
    """One set's families, and its total (returned)."""
    print(f"\n#### {title}\n")
    print(
        "| family | copies | **hashmatch** | by hash | PDQ only | plain PDQ | PDQ + 8 dihedral "
        f"| pHash <= {PHASH_ANCHOR_THRESHOLD} | dHash <= {DHASH_ANCHOR_THRESHOLD} | median / max best distance "
        "| false matches: hashmatch / by hash | closest other photo (PDQ bits) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    total = Tally()
    for family, t in tallies.items():
        distances = f"{statistics.median(t.distances):.0f} / {max(t.distances)}" if t.distances else "-"
        print(
            f"| {family} | {t.copies} | **{_with_false(t.hashmatch, t.copies, t.false_hashmatch)}** "
            f"| {_pct(t.by_hash, t.copies)} | {_pct(t.pdq_only, t.copies)} "
            f"| {_with_false(t.plain, t.copies, t.false_plain)} "
            f"| {_with_false(t.dihedral, t.copies, t.false_dihedral)} "
            f"| {_with_false(t.phash, t.copies, t.false_phash)} "
            f"| {_with_false(t.dhash, t.copies, t.false_dhash) if dhash else '-'} "
            f"| {distances} | {t.false_hashmatch} / {t.false_by_hash} | {t.closest_other} |"
        )
        if family != "original":
            total.add(t)
    return total


def print_summary(totals: dict[str, Tally], sets: dict[str, EditSet], dhash: bool) -> None:
    """Every set side by side: recall with its false matches, for hashmatch and the anchors."""
    print("\n#### All sets, side by side\n")
    print(
        "| set | copies (+ look-alikes') | **hashmatch** | by hash | plain PDQ <= 31 | PDQ + 8 dihedral <= 31 "
        f"| pHash <= {PHASH_ANCHOR_THRESHOLD} | dHash <= {DHASH_ANCHOR_THRESHOLD} "
        "| false matches on look-alikes' copies | closest other photo (PDQ bits) "
        f"| closest, halves (match <= {HALF_MATCH_THRESHOLD}) | closest, uneven-crop search |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, t in totals.items():
        print(
            f"| {sets[key].name} | {t.copies} (+{t.lookalike_copies}) "
            f"| **{t.hashmatch} = {_pct(t.hashmatch, t.copies)}** ({t.false_hashmatch} FP) "
            f"| {_pct(t.by_hash, t.copies)} ({t.false_by_hash} FP) "
            f"| {_pct(t.plain, t.copies)} ({t.false_plain} FP) | {_pct(t.dihedral, t.copies)} ({t.false_dihedral} FP) "
            f"| {_pct(t.phash, t.copies)} ({t.false_phash} FP) "
            f"| {f'{_pct(t.dhash, t.copies)} ({t.false_dhash} FP)' if dhash else '-'} "
            f"| {t.false_on_lookalikes} | {t.closest_other} | {t.closest_half} | {t.closest_searched} |"
        )
    for key, t in totals.items():
        if t.closest_pair:
            print(f"- closest in {sets[key].name}: {t.closest_other} bits, {t.closest_pair}")
        if t.half_pair:
            print(
                f"- closest with a half (or a queried third) in {sets[key].name}: {t.closest_half} bits, "
                f"{t.half_pair}; to a photo of another scene: {t.closest_half_other_scene} bits"
            )
        if t.agreeing_pair:
            print(
                f"- closest with {THIRDS_AGREEING} stored parts agreeing (what a stored third needs: within "
                f"{THIRD_MATCH_THRESHOLD} bits a third, {HALF_MATCH_THRESHOLD} a half) in {sets[key].name}: "
                f"{t.closest_agreeing} bits, {t.agreeing_pair}"
            )
        print(
            f"- copies found only through stored thirds in {sets[key].name}: {len(t.thirds_only)}"
            + (f", their parts agreeing within {sorted(t.thirds_only)} bits" if t.thirds_only else "")
        )
        if t.searched_pair:
            print(
                f"- closest by the uneven-crop search in {sets[key].name}: {t.closest_searched} bits, {t.searched_pair}"
            )


def _ratio(ours: int, anchor: int) -> str:
    return f"{ours / anchor:.2f}x" if anchor else ("-" if not ours else "inf")


def print_headline(totals: dict[str, Tally], sets: dict[str, EditSet], seed: int) -> None:
    """The figures to quote: per set, copies matched by hashmatch and by the anchors (PDQ with the
    copy's 8 rotations/flips, the industry's usual query; plain PDQ), with the ratio; and false
    matches over every pair of a copy and a different photo (look-alikes' copies included)."""
    print(f"\n#### Headline: hashmatch against the anchors, same process, same copies, seed {seed}\n")
    print(
        "| set | copies | **hashmatch** | PDQ + 8 dihedral (anchor) | ratio | plain PDQ | ratio "
        "| false matches: hashmatch / anchor / plain PDQ |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key, t in totals.items():
        print(
            f"| {sets[key].name} | {t.copies} | **{_pct(t.hashmatch, t.copies)}** | {_pct(t.dihedral, t.copies)} "
            f"| {_ratio(t.hashmatch, t.dihedral)} | {_pct(t.plain, t.copies)} | {_ratio(t.hashmatch, t.plain)} "
            f"| {t.false_hashmatch} / {t.false_dihedral} / {t.false_plain} |"
        )
    every = Tally()
    for t in totals.values():
        every.add(t)
    print(
        f"\nFalse matches on distinct images (every copy, {every.lookalike_copies} of them of never-shared "
        f"look-alikes, against every other shared photo): hashmatch {every.false_hashmatch} as media, "
        f"{every.false_by_hash} by hash; PDQ + 8 dihedral {every.false_dihedral}; plain PDQ {every.false_plain}; "
        f"closest PDQ distance to a different photo {every.closest_other} bits (threshold {PDQ_MATCH_THRESHOLD}), "
        f"with a half on either side (or a queried third) {every.closest_half} bits (threshold "
        f"{HALF_MATCH_THRESHOLD}), with {THIRDS_AGREEING} stored parts agreeing {every.closest_agreeing} bits "
        f"(threshold {THIRD_MATCH_THRESHOLD} a third)"
    )


def print_misses(results: dict[str, dict[str, Tally]], sets: dict[str, EditSet]) -> None:
    """The copies missed, by set and family (a family is in more than one set)."""
    misses = [
        (sets[key].name, family, t.misses)
        for key, tallies in results.items()
        for family, t in tallies.items()
        if t.misses
    ]
    if misses:
        print("\nCopies hashmatch missed:")
        for set_name, family, what in misses:
            print(f"- {set_name}, {family}: {', '.join(sorted({w.split(': ', 1)[1] for w in what}))} ({len(what)})")


def phash_thresholds(results: dict[str, dict[str, Tally]], shared: list[Shared], photos: list[Photo]) -> None:
    """pHash distance: edits of one photo vs different photos (of one scene, and unrelated)."""
    hashed = {}
    for photo in photos:
        body, _ = encode_copy(photo.image, "original")
        path = Path(tempfile.gettempdir()) / f"bench-robustness-{time.perf_counter_ns()}.jpg"
        path.write_bytes(body)
        hashed[photo.name] = hash_file(path)
        path.unlink()
    scene = [
        (f"{a.name} vs {b.name}", _hex_distance(hashed[a.name].signals["phash"], hashed[b.name].signals["phash"]))
        for i, a in enumerate(photos)
        for b in photos[i + 1 :]
        if a.scene == b.scene
    ]
    hashes = [s.hashes.signals["phash"] for s in shared]
    unrelated = [_hex_distance(hashes[i], hashes[j]) for i in range(len(hashes)) for j in range(i + 1, len(hashes))]
    catalogue = results.get("catalogue", {})
    mild = [d for name in MILD_EDITS if name in catalogue for d in catalogue[name].phash_distances]
    every = [
        d
        for tallies in results.values()
        for name, t in tallies.items()
        if name != "original"
        for d in t.phash_distances
    ]
    print("\npHash distances (64 bits):")
    print(f"- pairs of different photos of one scene: {sorted(d for _, d in scene)}")
    for name, d in scene:
        print(f"  - {name}: pHash {d}")
    if unrelated:
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
            f"| {sum(d <= threshold for _, d in scene)} of {len(scene)} "
            f"| {sum(d <= threshold for d in unrelated)} of {len(unrelated)} |"
        )


def cost(coalition: Coalition, shared: list[Shared]) -> None:
    """CPU milliseconds per image: `stored_framings` + `check_framings` alone at 512 and 1024 px
    (and at 512 the stages a check added with the edits' families: frames found, tilts, the
    uneven-crop grid), one uneven-crop search, and `hash_file` as a whole (decode, sha256/md5, PDQ
    and its rotations, pHash, framings) as run.

    CPU time of this process (`time.process_time`), so that other work on a shared machine does not
    count; numpy here runs single-threaded (no BLAS-sized products).
    """
    from hashmatch.media.luma import AnalysisLuma
    from hashmatch.media.regions import frame_rectangles
    from hashmatch.media.tilt import tilted_views
    from hashmatch.media.uneven import UnevenCropSearch
    from hashmatch.signals.base import Orientation

    mirrored = (Orientation.ORIGINAL, Orientation.FLIP_X)
    for side in (512, 1024):
        images = []
        for s in shared:
            image = s.photo.image.copy()
            image.thumbnail((side, side))
            images.append(image)
        index_ms: list[float] = []
        query_ms: list[float] = []
        stages: dict[str, list[float]] = {"frames found": [], "tilts": [], "uneven-crop grid": []}
        for _ in range(3):
            for image in images:
                start = time.process_time()
                framing.stored_framings(image)
                middle = time.process_time()
                framing.check_framings(image)
                end = time.process_time()
                index_ms.append((middle - start) * 1000)
                query_ms.append((end - middle) * 1000)
                if side == 512:
                    luma = AnalysisLuma(image)
                    began = time.process_time()
                    frames = frame_rectangles(framing._frame_luma(image))
                    found = time.process_time()
                    tilted_views(luma, (framing.INDEX_CROP_SCALES[-1], framing.DEEP_CROP_SCALE), mirrored)
                    tilted = time.process_time()
                    UnevenCropSearch(luma, frames=frames)
                    gridded = time.process_time()
                    for stage, ms in zip(
                        stages.values(), (found - began, tilted - found, gridded - tilted), strict=True
                    ):
                        stage.append(ms * 1000)
        both = [a + b for a, b in zip(index_ms, query_ms, strict=True)]
        print(
            f"- at most {side} px: stored_framings {statistics.median(index_ms):.1f} ms, "
            f"check_framings {statistics.median(query_ms):.1f} ms, both: median "
            f"{statistics.median(both):.1f} ms, p95 {np.percentile(both, 95):.1f} ms"
        )
        if side == 512:
            print("  of which: " + ", ".join(f"{name} {statistics.median(ms):.1f} ms" for name, ms in stages.items()))
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
    painted = [
        sum(q.label.startswith(framing.Framing.uncovered("")) for q in hashes.queries)
        for hashes in coalition.hashed.values()
        if hashes.media == "image" and hashes.queries
    ]
    over = [n for n in painted if n]
    print(
        f"- checks with something found drawn over them, painted over (`hashmatch.media.overlays`): {len(over)} "
        f"of {len(painted)}, {statistics.median(over) if over else 0:.0f} more PDQ queries each at the median"
    )
    ms = coalition.rest_ms[False]
    print(
        f"- the rest of a check (matching, uneven-crop searches included; verdict) on this small bank: "
        f"median {statistics.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, max {max(ms):.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    sets = edit_sets()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{len(QUICK_PHOTOS)} photos, and without --set only the tuned and held-out sets (a few minutes)",
    )
    parser.add_argument(
        "--set", action="append", choices=sorted(sets), help="only these sets of copies (repeatable; default all)"
    )
    parser.add_argument("--edit", action="append", help="only families whose name contains this (repeatable)")
    parser.add_argument("--copies", type=int, default=1, help="seeded copies per photo and family (default 1)")
    parser.add_argument(
        "--key-threshold",
        type=int,
        default=FRAMING_KEY_THRESHOLD,
        help=f"the matcher's framing-key threshold (default {FRAMING_KEY_THRESHOLD})",
    )
    parser.add_argument(
        "--start-limit",
        type=int,
        default=UNEVEN_CROP_START_LIMIT,
        help=f"the PDQ bits an uneven-crop search may start from (default {UNEVEN_CROP_START_LIMIT})",
    )
    parser.add_argument("--json", type=Path, help="also write every set's totals and misses here")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(
            f"reference media not found at {DATA} (the shared/data folder beside the checkout): "
            "running on the photos shipped in installed packages only",
            file=sys.stderr,
        )
    photos = gather_photos(DATA)
    if not any(photo.shared for photo in photos):
        print("no photos found: needs ../shared/data or the [bench] extra (scikit-image...)", file=sys.stderr)
        return 1
    if args.quick:
        photos = [photo for photo in photos if photo.name in QUICK_PHOTOS] or photos[:6]
    wanted = args.set or (QUICK_SETS if args.quick else list(sets))
    chosen = {key: sets[key] for key in sets if key in wanted}
    dhash = dhash_of(encode_copy(Image.new("RGB", (8, 8)), "original")[0]) is not None
    started, started_cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="bench-robustness-") as folder:
        coalition = Coalition(Path(folder), args.key_threshold, args.start_limit)
        shared, rejected = share_all(coalition, photos)
        results = run(coalition, shared, photos, chosen, args.seed, args.edit, args.copies)
        lookalikes = [photo.name for photo in photos if not photo.shared]
        print(
            f"Robustness of image matching through HashmatchService, seed {args.seed}: {len(shared)} photos shared, "
            f"{len(lookalikes)} look-alikes never shared ({', '.join(lookalikes) or 'none'})"
        )
        print(
            f"(PDQ quality < {PDQ_MIN_QUALITY}, so not shared: {', '.join(p.name for p in rejected) or 'none'}; "
            f"dHash anchor: {'imagehash' if dhash else 'not installed'})"
        )
        totals = {key: print_family_table(chosen[key].name, tallies, dhash) for key, tallies in results.items()}
        print_summary(totals, chosen, dhash)
        print_headline(totals, chosen, args.seed)
        print_misses(results, chosen)
        if args.json is not None:
            document = {
                key: {
                    "name": chosen[key].name,
                    "total": _totals(t),
                    "families": {f: _totals(x) for f, x in results[key].items()},
                }
                for key, t in totals.items()
            }
            args.json.write_text(json.dumps(document, indent=1))
        if not args.edit and not args.quick:
            stored = [sum(e.kind == "framing" for e in s.item.near_entries) for s in shared]
            stored_halves = [sum(e.kind == "half" for e in s.item.near_entries) for s in shared]
            stored_thirds = [sum(e.kind == "third" for e in s.item.near_entries) for s in shared]
            checked = [h for k, h in coalition.hashed.items() if k.startswith("check_")]
            queried = [len(h.framing_hashes()) for h in checked]
            halves = [sum(is_half(q.label) for q in h.framing_hashes()) for h in checked]
            thirds = [sum(is_third(q.label) for q in h.framing_hashes()) for h in checked]
            print(
                f"\nStored per image: 1 main + {statistics.mean(stored):.2f} framings (max {max(stored)}) "
                f"+ {statistics.mean(stored_halves):.2f} halves + {statistics.mean(stored_thirds):.2f} thirds; "
                f"queried per image: 8 + {statistics.mean(queried):.1f} framings (max {max(queried)}), "
                f"{statistics.mean(halves):.1f} of them halves (max {max(halves)}), "
                f"{statistics.mean(thirds):.1f} thirds (max {max(thirds)})"
            )
            rows = coalition.grid_rows
            print(
                f"Uneven-crop grid per check (keys sent to the lookup API): mean {statistics.mean(rows):.1f}, "
                f"median {statistics.median(rows):.0f}, max {max(rows)} (the limit is {MAX_GRID_ROWS}), "
                f"over {len(rows)} checks"
            )
            print("\nCost on one core:")
            cost(coalition, shared)
            phash_thresholds(results, shared, photos)
    print(f"\n({time.perf_counter() - started:.0f} s wall, {time.process_time() - started_cpu:.0f} s CPU)")
    return 0


def _totals(t: Tally) -> dict[str, object]:
    return {
        **{name: getattr(t, name) for name in (*_COUNTS, *_FALSE, "lookalike_copies", "false_on_lookalikes")},
        "closest_other": t.closest_other,
        "closest_half": t.closest_half,
        "closest_half_other_scene": t.closest_half_other_scene,
        "closest_agreeing": t.closest_agreeing,
        "thirds_only": t.thirds_only,
        "agreeing_pair": t.agreeing_pair,
        "closest_searched": t.closest_searched,
        "closest_pair": t.closest_pair,
        "half_pair": t.half_pair,
        "searched_pair": t.searched_pair,
        "misses": t.misses,
    }


if __name__ == "__main__":
    raise SystemExit(main())
