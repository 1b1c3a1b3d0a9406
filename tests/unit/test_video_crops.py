"""The uneven-crop search on checked videos (`hashmatch.media.video_crops`): a copy cut unevenly or
filled to a phone screen matches its shared video once the edge searches toward the candidates
the coalition names, and not without; nothing else matches; the search crosses a process boundary
as JSON (the sandbox: `tests/unit/test_edge.py`)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hashmatch.bank.model import Provenance
from hashmatch.edge.ingest import refine, refine_many
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.media.hashing import hash_file
from hashmatch.media.luma import AnalysisLuma
from hashmatch.media.model import UNEVEN_CROP_QUERY, Candidate, MediaHashes
from hashmatch.media.uneven import MAX_GRID_ROWS
from hashmatch.media.video_crops import SEARCH_SAMPLES, VideoCropSearch, probe_numbers
from hashmatch.service.notifications import EventType
from hashmatch.service.service import item_from_media
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.reuploads.video import FRAME_EDITS, edited_frames
from hashmatch_tools.samples import panning_frames, scene, video_bytes

FPS = 24
SECONDS = 10.0
SIZE = (480, 360)
UNEVEN = "geometric: uneven crop 0-12%"
FILLED = "reframed: filled to a phone screen"


def _hashed(frames: list[np.ndarray], path: Path, *, for_sharing: bool = False) -> MediaHashes:
    path.write_bytes(video_bytes(frames, FPS))
    return hash_file(path, for_sharing=for_sharing)


@pytest.fixture(scope="module")
def scenes() -> dict[int, list[np.ndarray]]:
    return {seed: panning_frames(seed, SECONDS, FPS, SIZE) for seed in (101, 202)}


@pytest.fixture(scope="module")
def shared(scenes: dict[int, list[np.ndarray]], tmp_path_factory: pytest.TempPathFactory) -> dict[int, MediaHashes]:
    folder = tmp_path_factory.mktemp("shared")
    return {seed: _hashed(frames, folder / f"{seed}.mp4", for_sharing=True) for seed, frames in scenes.items()}


def _matcher(*videos: MediaHashes) -> tuple[Matcher, list[str]]:
    bank = MemoryBank()
    items = [item_from_media(v, Provenance(contributor="tiktok", shared_at="2026-12-06T00:00:00Z")) for v in videos]
    bank.put_items(items)
    return Matcher(bank, BankIndex()), [item.item_id for item in items]


@pytest.fixture(scope="module")
def copy_bytes(scenes: dict[int, list[np.ndarray]]) -> dict[str, bytes]:
    """Scene 202 cut unevenly and filled to a phone screen, as H.264 files."""
    return {
        name: video_bytes(edited_frames(scenes[202], FRAME_EDITS[name], f"1234|panning-202|{name}"), FPS)
        for name in (UNEVEN, FILLED)
    }


@pytest.fixture(scope="module")
def copies(copy_bytes: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> dict[str, MediaHashes]:
    """The copies checked (sampled, their search kept)."""
    folder = tmp_path_factory.mktemp("copies")
    found = {}
    for name, body in copy_bytes.items():
        (folder / "copy.mp4").write_bytes(body)
        found[name] = hash_file(folder / "copy.mp4")
    return found


class AskedOnce:
    """The coalition's candidates, each question's number of grids noted."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.questions: list[int] = []

    def uneven_crop_candidates_many(self, grids):
        self.questions.append(len(grids))
        return self.matcher.uneven_crop_candidates_many(grids)


def test_a_copy_dropped_as_media_is_found_through_the_edges_question(
    scenes: dict[int, list[np.ndarray]], copy_bytes: dict[str, bytes]
) -> None:
    store, notifier = MemoryStore(), RecordingNotifier()
    pipeline = service_on(MemoryBank(), store, notifier, ("tiktok", "reddit"))
    asked = AskedOnce(pipeline.coalition.matcher)
    pipeline.edge._candidates = asked
    share = store.put("in", "share/tiktok/v.mp4", video_bytes(scenes[202], FPS), {"labels": "terrorism"})
    pipeline.process(share)
    assert asked.questions == []  # a share asks nothing
    notifier.sent.clear()
    outcomes = pipeline.edge.process_many(
        [
            store.put("in", f"check/reddit/{n}.mp4", body, {"content-id": name})
            for n, (name, body) in enumerate(copy_bytes.items())
        ]
    )
    assert all(not isinstance(outcome, Exception) for outcome in outcomes)
    assert asked.questions == [4]  # both videos' two grids, in one question
    verdicts = {n.body["content_id"]: n.event_type for n in notifier.sent if n.body.get("platform") == "reddit"}
    assert verdicts == {UNEVEN: EventType.MATCH_FOUND, FILLED: EventType.MATCH_FOUND}


@pytest.mark.parametrize("edit", [UNEVEN, FILLED])
def test_a_video_cut_or_filled_to_a_screen_matches_only_through_the_search(
    edit: str, shared: dict[int, MediaHashes], copies: dict[str, MediaHashes]
) -> None:
    matcher, (item_id, other_id) = _matcher(shared[202], shared[101])
    check = copies[edit]
    assert isinstance(check.uneven_crops, VideoCropSearch)
    assert len(check.uneven_crops.grids) == 2
    # Without the search, no stored crop is near enough: the copy goes unmatched.
    assert item_id not in {m.item_id for m in matcher.match(replace(check, uneven_crops=None))}
    refined = refine(check, matcher)
    assert refined.uneven_crops is None
    searched = [f for f in refined.frames if any(label.startswith(UNEVEN_CROP_QUERY) for label, _ in f.framings)]
    assert 3 <= len(searched) <= SEARCH_SAMPLES
    matched = {m.item_id for m in matcher.match(refined)}
    assert item_id in matched and other_id not in matched


def test_a_copy_of_another_scene_finds_nothing(shared: dict[int, MediaHashes], copies: dict[str, MediaHashes]) -> None:
    matcher, _ = _matcher(shared[101])
    for check in copies.values():
        assert matcher.match(refine(check, matcher)) == []


def test_the_search_keeps_the_first_samples_and_lays_its_grids_inside_them(copies: dict[str, MediaHashes]) -> None:
    check = copies[UNEVEN]
    search = check.uneven_crops
    assert isinstance(search, VideoCropSearch)
    raw = search.to_json()
    offsets = [sample["offset"] for sample in raw["samples"]]
    assert offsets == [f.offset for f in check.frames][: len(offsets)] and len(offsets) == min(
        SEARCH_SAMPLES, len(check.frames)
    )
    assert [probe["sample"] for probe in raw["probes"]] == probe_numbers(len(offsets))
    assert probe_numbers(16) == [5, 10] and probe_numbers(8) == [2, 5] and probe_numbers(0) == []


def test_the_search_crosses_a_process_boundary_as_json(
    shared: dict[int, MediaHashes], copies: dict[str, MediaHashes]
) -> None:
    matcher, _ = _matcher(shared[202])
    check = copies[UNEVEN]
    search = check.uneven_crops
    assert isinstance(search, VideoCropSearch)
    again = VideoCropSearch.from_json(json.loads(json.dumps(search.to_json())))
    assert again.grids == search.grids
    answers = matcher.uneven_crop_candidates_many(search.grids)
    assert any(answers)
    assert again.refine(check, answers) == search.refine(check, answers)


def test_a_malformed_search_is_refused(copies: dict[str, MediaHashes]) -> None:
    search = copies[UNEVEN].uneven_crops
    assert isinstance(search, VideoCropSearch)
    raw = search.to_json()
    short = {
        **raw,
        "samples": [{**raw["samples"][0], "luma": base64.b64encode(bytes(10)).decode()}, *raw["samples"][1:]],
    }
    with pytest.raises(ValueError, match="bytes of luma"):
        VideoCropSearch.from_json(short)
    with pytest.raises(ValueError, match="more samples"):
        VideoCropSearch.from_json({**raw, "samples": raw["samples"] * 2})
    with pytest.raises(ValueError, match="a probe on sample"):
        VideoCropSearch.from_json({**raw, "probes": [{**raw["probes"][0], "sample": 99}]})
    probe = raw["probes"][0]
    times = MAX_GRID_ROWS // len(probe["regions"]) + 1
    huge = {**probe, **{key: probe[key] * times for key in ("regions", "orientations", "hashes")}}
    with pytest.raises(ValueError, match="more than a search lays"):
        VideoCropSearch.from_json({**raw, "probes": [huge]})
    with pytest.raises(ValueError, match="answers for"):
        search.refine(copies[UNEVEN], [[Candidate(0, "0" * 64)]])


def test_an_answer_for_each_grid_or_none_refined(copies: dict[str, MediaHashes]) -> None:
    class Short:
        def uneven_crop_candidates_many(self, grids):
            return [[] for _ in grids[1:]]

    with pytest.raises(ValueError, match="answered 1 of 2"):
        refine_many([copies[UNEVEN]], Short())
    # No coalition to ask: the search is dropped, nothing added.
    (alone,) = refine_many([copies[UNEVEN]], None)
    assert alone == replace(copies[UNEVEN], uneven_crops=None) and alone.uneven_crops is None


def test_a_flat_probe_sample_gives_way_to_the_next_nearest_the_middle() -> None:
    textured = AnalysisLuma(scene(5, (256, 144))).grey()
    flat = np.full_like(textured, 128)
    samples = [(float(k), flat if k in probe_numbers(8) else textured) for k in range(8)]
    search = VideoCropSearch(samples)
    assert probe_numbers(8) == [2, 5]
    assert [probe["sample"] for probe in search.to_json()["probes"]] == [3, 4]
    assert len(search.grids) == 2
    assert VideoCropSearch.of([(float(k), flat) for k in range(8)]) is None  # nothing lays a grid
    assert VideoCropSearch.of(samples[:2]) is None  # too few samples for an alignment
