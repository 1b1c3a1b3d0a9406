"""The matching policy: every threshold and margin the matcher applies, stated once.

Single-signal thresholds (PDQ's 31 bits, pHash's 6) are declared by the signals themselves
(`hashmatch.signals`) and a platform may move them within the signal's operator bounds
(`Thresholds`). Everything that combines signals, or decides how far a search may go, is here:

- flat pictures: a picture whose PDQ quality is below 50 is as alike as any other flat picture
  under every perceptual hash, so none of its picture hashes is stored or queried;
- parts: half a picture matches only when very close; a third only beside another part;
- corroboration: PDQ a little past its threshold still matches an upright picture when pHash
  agrees closely (text or a logo over the picture moves PDQ further than pHash);
- lone signals: pHash never overrules PDQ (two photos of one scene can be 2-4 pHash bits apart),
  so it matches on its own only items shared without a PDQ;
- the uneven-crop search: how close a framing key must be to start one, how far from the stored
  framing it may start, and how many run per check;
- video alignment: the clip/splice rules of `hashmatch.matching.video`.

Each number is measured in `benchmarks/bench_robustness.py` or `benchmarks/bench_video.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hashmatch.signals import SIGNALS
from hashmatch.signals.pdq import PDQ, PDQ_MATCH_THRESHOLD
from hashmatch.signals.phash import PHASH

__all__ = [
    "CHECK_COVERAGE",
    "CORROBORATED_PDQ_LIMIT",
    "CORROBORATION_MARGIN",
    "DEDUPE_BITS",
    "FRAME_CORROBORATION_THRESHOLD",
    "FRAME_MATCH_THRESHOLD",
    "FRAMING_KEY_THRESHOLD",
    "HALF_MATCH_THRESHOLD",
    "LONE_SIGNALS",
    "MAX_CORROBORATED_VIEWS",
    "MAX_UNEVEN_CROP_SEARCHES",
    "MIN_MATCHED_FRAMES",
    "MIN_MATCHED_SECONDS",
    "OFFSET_TOLERANCE",
    "PHASH_CORROBORATION_THRESHOLD",
    "PICTURE_QUALITY_SIGNAL",
    "SAME_SEARCH_BITS",
    "SEGMENT_GAP",
    "SHARED_COVERAGE",
    "THIRDS_AGREEING",
    "THIRD_MATCH_THRESHOLD",
    "UNEVEN_CROP_SEARCHES_PER_ITEM",
    "UNEVEN_CROP_START_LIMIT",
    "Thresholds",
    "corroborated_pdq_limit",
]


@dataclass(frozen=True)
class Thresholds:
    """The largest distance that still counts as a match, per signal: the signal's default unless
    a platform set its own (within the operators' bounds, `hashmatch.service.settings`)."""

    values: Mapping[str, int] = field(default_factory=dict)

    def for_signal(self, name: str) -> int:
        if name in self.values:
            return self.values[name]
        return SIGNALS.get(name).default_threshold

    @property
    def pdq(self) -> int:
        return self.for_signal(PDQ.name)


# ---------------------------------------------------------------- pictures

# The signal whose quality judges a whole picture (`SignalType.min_quality`): below it, the
# picture is flat and none of its picture hashes is stored or queried.
PICTURE_QUALITY_SIGNAL = PDQ.name

# Corroboration: an upright checked picture whose PDQ is past the threshold, by at most
# CORROBORATION_MARGIN bits and never past CORROBORATED_PDQ_LIMIT, matches a stored picture's
# main PDQ when their pHashes are within PHASH_CORROBORATION_THRESHOLD. Measured: text or a logo
# over a picture moves its PDQ up to 48 bits while pHash stays within 8; different photos came no
# closer than 80 PDQ bits. Only upright whole views qualify, pHash having no rotated or cropped
# forms: the picture as it is, and the views of it a check hashes with pHash too because they may
# show a shared picture whole (`hashmatch.media.model.PHASH_VIEWS`: inside bars or caption bars,
# inside a frame found, painted over), each view's PDQ with its own pHash.
CORROBORATION_MARGIN = 17
CORROBORATED_PDQ_LIMIT = PDQ_MATCH_THRESHOLD + CORROBORATION_MARGIN  # 48
PHASH_CORROBORATION_THRESHOLD = 8
# At most this many views of a check are looked up for corroboration, the picture as it is first:
# as many as an edge makes (one of each `hashmatch.media.model.PHASH_VIEWS` but the frames, two
# frames). Each is a lookup within CORROBORATED_PDQ_LIMIT, the widest the matcher makes, so a
# hash list cannot make a check cost more by sending more.
MAX_CORROBORATED_VIEWS = 9


def corroborated_pdq_limit(pdq_threshold: int) -> int:
    """The largest PDQ distance corroboration may accept for a platform whose PDQ threshold is
    `pdq_threshold`: the margin past its own threshold, never past the measured limit."""
    return max(pdq_threshold, min(pdq_threshold + CORROBORATION_MARGIN, CORROBORATED_PDQ_LIMIT))


# Halves: a shared picture stores the PDQ of each half of its content (top, bottom, left, right)
# and a check queries the halves of every rectangle it looks at, so that a copy with a text box,
# a sticker, a logo or a person pasted over one side still matches by the other. A half matches
# only within this many bits, on either side of the pair. Measured (`benchmarks/bench_robustness.py`,
# 1,872 copies): a pair with a half came no closer than 66 bits to a photo of another scene; of the
# same scene, two frames 2.5 s apart of one test-card video, whose top halves differ only by a
# counter, 22 bits. TUNED copies whose best match was a half lay within 8 bits of it but one (10),
# and 8, 10 or 12 find the same (`benchmarks/study_halves.py`).
HALF_MATCH_THRESHOLD = 10
# Thirds: a shared picture also stores the PDQ of its thirds (three bands across it, three down
# it) and a check queries the thirds of every rectangle it looks at, for overlays that straddle
# the middle and leave no half clean (a text box across the centre, a sticker on each side). A
# third is a third of the picture: alone, it is too little. Two frames of one test-card video
# 2.5 s apart (`bench_robustness.py`'s look-alikes video-padded@1s and @3.5s) have the same top
# third (within the third threshold: `tests/unit/test_thirds.py`) and differ below. So a stored
# third counts only when at least this many of its item's stored parts (halves or thirds) agree
# with different queries of the check: two thirds cover at least 5/9 of the picture, more than a
# half that matches alone.
# And a pair with a third on either side matches within fewer bits than a half: the test card's
# frames have a second part 12-14 bits apart (mirrored), while the copies only stored thirds found
# had both their agreeing parts within 0-2 bits (TUNED families) and 0-8 (HELD-OUT), as
# `bench_robustness.py --set tuned --set tuned-held-out-photos --set held-out` prints them.
THIRDS_AGREEING = 2
THIRD_MATCH_THRESHOLD = 8

# Lone signals: a signal named here matches on its own only items shared without the signal it
# maps to (pHash alone only for items shared with no PDQ, e.g. a hash list from a system that has
# pHash alone); otherwise it only corroborates.
LONE_SIGNALS: Mapping[str, str] = {PHASH.name: PDQ.name}

# The uneven-crop search (`hashmatch.media.uneven`). A grid rectangle's low-frequency key within
# this many of its 64 bits of a stored framing's makes that framing a candidate: of 384 seeded
# copies 12 bits would find 376 (97.9%) instead of 368 (95.8%), for 1.5-2.4x the key lookup's CPU
# (`bench_index.py --framing-keys --key-threshold 12`); keys of different photos came no closer than 15.
FRAMING_KEY_THRESHOLD = 10
# A search starts from a grid rectangle at most this many PDQ bits from the stored framing (copies
# start 32 bits away at the median, 84 at the 99th percentile; different photos 96 and more), and
# at most this many run per check, closest starts first: a search costs ~5-10 ms at the edge. In a
# large bank some stored framings' keys agree with a grid's by chance, and such a framing shares
# most of those 64 bits of its PDQ with the rectangle: it starts ~10 + 96 +- 7 bits away. At 100,
# ~20% of those started a search: at 10M hashes (`benchmarks/bench_cost.py --start-limit 100`) 28
# of 30 checks of pictures not in the bank searched (77 searches, ~20 ms at the median); at 90, 7 of
# 30, with every family of `benchmarks/bench_robustness.py --set tuned --set tuned-held-out-photos
# --set held-out` where it was at 100 (`--start-limit 84` loses a TUNED zoom-in copy).
UNEVEN_CROP_START_LIMIT = 90
MAX_UNEVEN_CROP_SEARCHES = 4
# Searches toward one item: the stored framings of one picture whose keys agree with the grid's
# (its 80% crop, its deep crop, its core) are searched from different rectangles, and the one whose
# start is closest is not always the one that ends closest (TUNED copies of a duet, a mirrored copy
# cut under a caption, a cover-crop). So where fewer than `MAX_UNEVEN_CROP_SEARCHES` items are
# candidates, the searches left go to a second framing of each, closest first; never to one within
# `SAME_SEARCH_BITS` of the framing already searched (a video's frame entries of one run are a few
# bits apart: the same search twice).
UNEVEN_CROP_SEARCHES_PER_ITEM = 2
SAME_SEARCH_BITS = 10

# ---------------------------------------------------------------- video

# Per frame: the PDQ standard. Measured on the reference videos (check sampled at 1 fps, shared
# dense, bars trimmed, best of 8 orientations): copies of one scene are 0-8 bits apart (median),
# 16-24 with a logo overlay; frames of different scenes are never closer than 90 bits.
FRAME_MATCH_THRESHOLD = PDQ_MATCH_THRESHOLD
# A sample further off (an overlay over the middle of the footage, a crop or turn the stored crops
# only nearly follow) still counts for an alignment within this many bits, but only for one that
# holds a pair within FRAME_MATCH_THRESHOLD and MIN_MATCHED_FRAMES samples in all: time-consistent
# agreement corroborates it. Frames of different scenes measure >= 74 bits apart (re-post edits of
# 5 scenes, `benchmarks/bench_video_robustness.py`), different photos of one scene >= 46.
FRAME_CORROBORATION_THRESHOLD = 40
# Consecutive shared frames this close are stored once, as a run; a check frame matching a dropped
# frame within T bits is within T + 4 of the kept one. It halves a static shot's storage, and
# hand-held footage keeps 80-95% of its frames.
DEDUPE_BITS = 4
# An alignment needs this many distinct check samples (3 seconds at 1 fps; a fraction of a second
# in a short check sampled again densely, `hashmatch.media.model.Limits.dense_check_samples`):
# never one frame.
MIN_MATCHED_FRAMES = 3
# Pairs of one alignment agree on check-minus-shared time to this many seconds: with every shared
# frame stored, the true shift is found to within one frame period; 0.5 s also absorbs sampling
# jitter and a few dropped frames, while a static scene's runs carry their whole span.
OFFSET_TOLERANCE = 0.5
# Matched samples of one alignment further apart than this (check seconds) are separate segments.
SEGMENT_GAP = 3.0
# Coverage rules. Measured on the reference families: re-encodes, tints and bars cover 85-100%
# of either side, a logo overlay 60-100%; a 6 s clip of a 22 s video covers 100% of the check and
# ~27% of the shared video; a 6 s shared clip spliced into 20 s of other footage covers 100% of
# the shared video and ~30% of the check. Half of either side leaves room for heavier edits.
SHARED_COVERAGE = 0.5
CHECK_COVERAGE = 0.5
# A few seconds of a shared video spliced into unrelated footage cover little of either side: an
# aligned excerpt this long (at least MIN_MATCHED_FRAMES samples at one time shift, each within
# the frame threshold, where different scenes measure >= 90 bits apart) is a match on its own.
# A 5 s excerpt of a 12 s shared video inside 15 s of other footage covers 42% / 33%.
MIN_MATCHED_SECONDS = 4.0
