"""The uneven-crop search on a checked video: where a shared video's stored frame crops lie in a copy
cut unevenly on every side, or filled to another shape (a phone screen, a square).

Such a copy is cut the same way in every frame. So the grids of a picture's search
(`hashmatch.media.uneven.UnevenCropSearch`: the fine, mirrored, deep and core grids) are laid on
`PROBES` of its sampled frames only (a flat one, which lays no grid, gives way to the next nearest
the middle of the kept footage), one grid each, asked in the edge's batch question like a
picture's (`hashmatch.matching.rules.uneven_crop_candidates`: a shared video's frame entries carry
framing keys too). Each search toward a stored frame crop the coalition names finds a framing: a
rectangle of the copy, as it is or mirrored. That rectangle is then hashed on each of the first
`SEARCH_SAMPLES` usable samples, whose small lumas the hasher kept, and those hashes are queried as
the samples' ``uneven_crop`` framings (`refine`). What decides is the usual video rule
(`hashmatch.matching.video`): at least `MIN_MATCHED_FRAMES` samples aligned at one time shift, one
of them within the frame threshold. A framing that brought one probe near one stored frame proves
nothing on its own; the same rectangle agreeing on several samples, at one shift, does.

The samples kept are the first ones: a copy cut unevenly is cut so from its start, and
`SEARCH_SAMPLES` seconds at one frame a second are more than the `MIN_MATCHED_SECONDS` an excerpt
needs to match on its own. A copy whose shared footage starts later than that (spliced after
other footage) is searched on footage that is not the shared video's, and not found this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from hashmatch.matching.policy import MAX_UNEVEN_CROP_SEARCHES, MIN_MATCHED_FRAMES
from hashmatch.media.luma import AnalysisLuma, grey_from_json, grey_to_json
from hashmatch.media.model import UNEVEN_CROP_QUERY, Candidate, Grid, MediaHashes, Region, framing_label
from hashmatch.media.uneven import REFINED_WITHIN, UnevenCropSearch
from hashmatch.signals.base import Orientation

__all__ = ["MAX_PLACES", "PROBES", "SEARCH_SAMPLES", "VideoCropSearch"]

# The samples whose lumas a checked video keeps for the search (the first usable ones), and how
# many of them the grids are laid on: one grid each, a picture's question each.
SEARCH_SAMPLES = 16
PROBES = 2
# At most this many places found are hashed on each sample: one per search the coalition names
# (`MAX_UNEVEN_CROP_SEARCHES` a grid), so a sample's framings stay within what the JSON form takes
# (`hashmatch.media.codec.MAX_FRAME_FRAMINGS`).
MAX_PLACES = PROBES * MAX_UNEVEN_CROP_SEARCHES
# Framings found closer than this (share of a side, every edge) are one.
_SAME_PLACE = 0.004


class VideoCropSearch:
    """A checked video's uneven-crop search (`hashmatch.media.model.CropSearch`): `samples` are
    (offset, 8-bit small luma: `AnalysisLuma.grey`) of its first usable samples; `probes` (sample
    number, that sample's `UnevenCropSearch`) the grids asked about, by default laid on
    `probe_numbers` of the samples, or the next nearest the middle where one lays no grid."""

    def __init__(
        self,
        samples: Sequence[tuple[float, np.ndarray]],
        probes: Sequence[tuple[int, UnevenCropSearch]] | None = None,
    ) -> None:
        self._samples = tuple(samples)
        if probes is None:
            probes = self._probes_with_grids()
        self._probes = tuple((k, search) for k, search in probes if search.keys)

    def _probes_with_grids(self) -> list[tuple[int, UnevenCropSearch]]:
        """`PROBES` searches with a grid, on `probe_numbers` of the samples first, then on the others
        nearest the middle of the kept footage: a flat sample lays no grid."""
        count = len(self._samples)
        first = probe_numbers(count)
        order = first + sorted(set(range(count)) - set(first), key=lambda k: abs(2 * k + 1 - count))
        probes: list[tuple[int, UnevenCropSearch]] = []
        for number in order:
            search = UnevenCropSearch(self._luma(number))
            if search.keys:
                probes.append((number, search))
            if len(probes) == PROBES:
                break
        return probes

    @classmethod
    def of(cls, samples: Sequence[tuple[float, np.ndarray]]) -> VideoCropSearch | None:
        """The search over `samples`, or None when it could find nothing: fewer samples than an
        alignment needs, or no probe with a grid (too flat)."""
        if len(samples) < MIN_MATCHED_FRAMES:
            return None
        search = cls(samples)
        return search if search._probes else None

    def _luma(self, number: int) -> AnalysisLuma:
        return AnalysisLuma.from_pixels(self._samples[number][1])

    @property
    def grids(self) -> list[Grid]:
        """One grid per probe, in order."""
        return [(search.keys, search.hashes) for _, search in self._probes]

    def places(
        self, answers: Sequence[Sequence[Candidate]], within: int = REFINED_WITHIN
    ) -> list[tuple[Region, Orientation]]:
        """The framings the searches toward each probe's candidates found within `within` bits of
        the stored hash (the loosest threshold a platform may choose), one per place, at most
        `MAX_PLACES`."""
        if len(answers) != len(self._probes):
            raise ValueError(f"{len(answers)} answers for {len(self._probes)} grids")
        places: list[tuple[Region, Orientation]] = []
        for (_, search), candidates in zip(self._probes, answers, strict=True):
            for candidate in candidates:
                found = search.found(candidate)
                if found is None or found[0] > within:
                    continue
                _, region, orientation = found
                if not any(o == orientation and _near(region, r) for r, o in places):
                    places.append((region, orientation))
        return places[:MAX_PLACES]

    def refine(self, hashes: MediaHashes, answers: Sequence[Sequence[Candidate]]) -> MediaHashes:
        """`hashes` (this video's) with each place found (`places`) hashed on every kept sample and
        added to that sample's framings as ``uneven_crop`` (``uneven_crop/flip_x``), and the search
        dropped."""
        places = self.places(answers)
        added: dict[float, list[tuple[str, str]]] = {}
        for number, (offset, _) in enumerate(self._samples if places else ()):
            luma = self._luma(number)
            for orientation in dict.fromkeys(o for _, o in places):
                regions = [region for region, o in places if o == orientation]
                label = framing_label(UNEVEN_CROP_QUERY, None, orientation)
                for found in luma.region_hashes(regions, (orientation,)):
                    added.setdefault(offset, []).extend((label, value) for _, value in found)
        frames = tuple(
            replace(frame, framings=frame.framings + tuple(dict.fromkeys(added[frame.offset])))
            if frame.offset in added
            else frame
            for frame in hashes.frames
        )
        return replace(hashes, frames=frames, uneven_crops=None)

    def to_json(self) -> dict[str, object]:
        """The samples' lumas (8-bit, at most `WORK_SIDE` a side) and the probes' grids, for
        `from_json` in another process."""
        return {
            "samples": [{"offset": offset, **grey_to_json(grey)} for offset, grey in self._samples],
            "probes": [{"sample": number, **search.grid_json()} for number, search in self._probes],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> VideoCropSearch:
        """A search as `to_json` wrote it; raises ValueError, KeyError or TypeError on anything else."""
        if len(raw["samples"]) > SEARCH_SAMPLES or len(raw["probes"]) > PROBES:
            raise ValueError("more samples or probes than a video's search keeps")
        samples = [(float(sample["offset"]), grey_from_json(sample)) for sample in raw["samples"]]
        probes = []
        for probe in raw["probes"]:
            number = int(probe["sample"])
            if not 0 <= number < len(samples):
                raise ValueError(f"a probe on sample {number} of {len(samples)}")
            probes.append((number, UnevenCropSearch.from_json(probe, AnalysisLuma.from_pixels(samples[number][1]))))
        return cls(samples, probes)


def probe_numbers(count: int) -> list[int]:
    """Which of `count` samples the grids are laid on: `PROBES` of them spread inside the kept
    footage, away from its first sample (a title card or a fade-in)."""
    return sorted({(k + 1) * count // (PROBES + 1) for k in range(PROBES)} - {count}) if count else []


def _near(a: Region, b: Region) -> bool:
    return max(abs(x - y) for x, y in zip(a.edges(), b.edges(), strict=True)) < _SAME_PLACE
