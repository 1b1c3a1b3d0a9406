"""Video matching on the reference videos and on edits of them made here with PyAV."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import astuple, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from hashmatch.bank.model import Provenance
from hashmatch.matching.policy import FRAME_CORROBORATION_THRESHOLD, FRAME_MATCH_THRESHOLD, MIN_MATCHED_FRAMES
from hashmatch.matching.video import FramePair, frame_queries, match_check_pairs, match_pairs, shared_frame_runs
from hashmatch.media.model import FrameHash, Limits, MediaHashes
from hashmatch.media.tilt import inscribed_share
from hashmatch.media.video import ALL_FRAMES, hash_video
from hashmatch.service.service import item_from_media
from hashmatch.signals.base import Orientation
from hashmatch_tools.oracles import frame_pairs, match_video, video_frames_showing_image, without_framings
from hashmatch_tools.reuploads import layouts as lay

pytestmark = pytest.mark.unit

CHAIRS = ("chair-orig-22-sd-bar", "chair-19-sd-bar", "chair-22-sd-grey-bar", "chair-22-with-small-logo-bar")
PATTERNS = ("pattern-hd-no-bar", "pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar")
OTHERS = ("doorknob-hd-no-bar",)
ALL = CHAIRS + PATTERNS + OTHERS
SOURCE = "chair-orig-22-sd-bar"
CLIP_FIRST, CLIP_FRAMES = 97, 180  # 6 s starting off any 1-fps grid (3.233 s)
EDIT_FRAMES = 300  # whole-video edits cover the first 10 s of the source


@pytest.fixture(scope="module")
def video_dir(shared_data: Path) -> Path:
    return shared_data / "video"


@pytest.fixture(scope="module")
def dense(video_dir: Path) -> dict[str, MediaHashes]:
    return {name: hash_video(str(video_dir / f"{name}.mp4"), Limits(), ALL_FRAMES) for name in ALL}


@pytest.fixture(scope="module")
def sparse(video_dir: Path) -> dict[str, MediaHashes]:
    return {name: hash_video(str(video_dir / f"{name}.mp4"), Limits()) for name in ALL}


def _family(name: str) -> str:
    return name.split("-")[0]


@pytest.mark.parametrize("check", ALL)
@pytest.mark.parametrize("shared", ALL)
def test_reference_families_match_each_other_and_nothing_else(
    check: str, shared: str, dense: dict[str, MediaHashes], sparse: dict[str, MediaHashes]
) -> None:
    result = match_video(sparse[check], dense[shared])
    if _family(check) == _family(shared):
        # The doorknob's frames are mostly a plain wall: flat (left out) after its first 1.3 s, and
        # grainy, so no bar is trimmed off its sides in one frame and not the next.
        assert result.matched, result
    else:
        assert not result.matched and not result.segments, result


def test_shorter_cut_reports_offsets_in_both_videos(
    dense: dict[str, MediaHashes], sparse: dict[str, MediaHashes]
) -> None:
    result = match_video(sparse["chair-19-sd-bar"], dense["chair-orig-22-sd-bar"])
    assert result.matched and result.check_coverage == 1.0
    (segment,) = result.segments
    # chair-19 is the last 18.8 s of the 22.4 s original.
    assert segment.check_start == pytest.approx(0.0, abs=0.1)
    assert segment.shared_start == pytest.approx(3.6, abs=0.6)
    assert segment.shared_end - segment.shared_start == pytest.approx(18.8, abs=1.0)


# --- edits made here -------------------------------------------------------------------------


def _moving_pattern(count: int, width: int, height: int, seed: int) -> Iterator[np.ndarray]:
    """Unrelated footage: seeded coloured noise, smoothed and scrolling."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    big = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))
    for index in range(count):
        shift = 2 * index
        yield np.roll(big, (shift, shift // 2), axis=(0, 1))[:height, :width]


class _Writer:
    def __init__(self, path: Path, width: int, height: int, fps: int) -> None:
        self.path = path
        self.container = av.open(str(path), "w")
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.options = {"preset": "ultrafast"}
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.count
        frame.time_base = Fraction(1, int(self.stream.average_rate or 30))
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


@pytest.fixture(scope="module")
def edits(video_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One decoding pass over the source writes every edit."""
    folder = tmp_path_factory.mktemp("video-edits")
    source = av.open(str(video_dir / f"{SOURCE}.mp4"))
    stream = source.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    pad = 120
    writers = {
        "clip": _Writer(folder / "clip.mp4", width, height, 30),
        "mirror": _Writer(folder / "mirror.mp4", width, height, 30),
        "letterbox": _Writer(folder / "letterbox.mp4", width, height + 2 * pad, 30),
        "half": _Writer(folder / "half.mp4", width // 2, height // 2, 30),
        "fps60": _Writer(folder / "fps60.mp4", width, height, 60),
        "splice": _Writer(folder / "splice.mp4", width, height, 30),
        "unrelated": _Writer(folder / "unrelated.mp4", width, height, 30),
    }
    for rgb in _moving_pattern(8 * 30, width, height, seed=7):
        writers["splice"].write(rgb)
    # The first EDIT_FRAMES frames of the source, streamed (never all in memory).
    for index, frame in enumerate(source.decode(stream)):
        if index >= EDIT_FRAMES:
            break
        rgb = frame.to_ndarray(format="rgb24")
        if CLIP_FIRST <= index < CLIP_FIRST + CLIP_FRAMES:
            writers["clip"].write(rgb)
            writers["splice"].write(rgb)
        writers["mirror"].write(rgb[:, ::-1])
        writers["letterbox"].write(np.pad(rgb, ((pad, pad), (0, 0), (0, 0))))
        writers["half"].write(rgb[::2, ::2])
        writers["fps60"].write(rgb)
        writers["fps60"].write(rgb)
    source.close()
    for rgb in _moving_pattern(6 * 30, width, height, seed=8):
        writers["splice"].write(rgb)
    for rgb in _moving_pattern(10 * 30, width, height, seed=9):
        writers["unrelated"].write(rgb)
    for writer in writers.values():
        writer.close()
    return {name: writer.path for name, writer in writers.items()}


@pytest.fixture(scope="module")
def edit_hashes(edits: dict[str, Path]) -> dict[str, MediaHashes]:
    return {name: hash_video(str(path), Limits()) for name, path in edits.items()}


@pytest.mark.parametrize("edit", ["clip", "mirror", "letterbox", "half", "fps60"])
def test_edited_copies_match_the_shared_original(
    edit: str, dense: dict[str, MediaHashes], edit_hashes: dict[str, MediaHashes]
) -> None:
    result = match_video(edit_hashes[edit], dense[SOURCE])
    assert result.matched, result
    if edit == "mirror":
        assert {s.orientation for s in result.segments} == {"flip_x"}


def test_clip_cut_off_the_grid_is_located_in_the_shared_video(
    dense: dict[str, MediaHashes], edit_hashes: dict[str, MediaHashes]
) -> None:
    result = match_video(edit_hashes["clip"], dense[SOURCE])
    assert result.reason == "check is a clip of the shared video"
    (segment,) = result.segments
    start = CLIP_FIRST / 30
    assert segment.shared_start == pytest.approx(start, abs=0.1)
    assert segment.shared_end == pytest.approx(start + CLIP_FRAMES / 30, abs=1.1)
    assert segment.best_distance <= 8


def test_splice_of_shared_clip_into_other_footage_matches(
    edits: dict[str, Path], edit_hashes: dict[str, MediaHashes]
) -> None:
    shared_clip = hash_video(str(edits["clip"]), Limits(), ALL_FRAMES)
    result = match_video(edit_hashes["splice"], shared_clip)
    assert result.matched and result.reason == "shared video found in check", result
    (segment,) = result.segments
    assert segment.check_start == pytest.approx(8.0, abs=1.0)
    assert segment.check_end == pytest.approx(14.0, abs=1.1)
    assert result.check_coverage < 0.5  # matched because the shared clip is inside the check


def test_unrelated_footage_matches_nothing(dense: dict[str, MediaHashes], edit_hashes: dict[str, MediaHashes]) -> None:
    for name, shared in dense.items():
        assert not match_video(edit_hashes["unrelated"], shared).matched, name


def test_single_frame_match_is_not_enough() -> None:
    pairs = [FramePair(5.0, 1.0, 1.0, 0, Orientation.ORIGINAL)]
    result = match_pairs(pairs, check_duration=1.0, shared_duration=1.0, sample_period=1.0)
    assert not result.matched and not result.segments
    aligned = [FramePair(5.0 + i, 1.0 + i, 1.0 + i, 3, Orientation.ORIGINAL) for i in range(MIN_MATCHED_FRAMES)]
    assert match_pairs(aligned, check_duration=10.0, shared_duration=4.0, sample_period=1.0).matched


def test_loosely_alike_pairs_align_only_beside_one_within_the_frame_threshold() -> None:
    loose = FRAME_CORROBORATION_THRESHOLD
    aligned = [FramePair(5.0 + i, 1.0 + i, 1.0 + i, loose, Orientation.ORIGINAL) for i in range(5)]
    assert not match_pairs(aligned, check_duration=10.0, shared_duration=6.0, sample_period=1.0).matched
    aligned[2] = replace(aligned[2], distance=FRAME_MATCH_THRESHOLD)
    result = match_pairs(aligned, check_duration=10.0, shared_duration=6.0, sample_period=1.0)
    assert result.matched and result.segments[0].frames == 5


def test_a_check_is_a_clip_when_its_watchable_footage_is_the_shared_videos() -> None:
    # 3 s of a long shared video, then 7 s of black (never queried): the clip is all the check shows.
    pairs = [FramePair(float(i), 20.0 + i, 20.0 + i, 4, Orientation.ORIGINAL) for i in range(3)]
    footage = [FrameHash(float(i), "a5" * 32, 90) for i in range(3)]

    def check(rest_quality: int) -> MediaHashes:
        rest = [FrameHash(float(i), "5a" * 32, rest_quality) for i in range(3, 10)]
        frames = (*footage, *rest)
        return MediaHashes(media="video", signals={}, frames=frames, duration=10.0, extra={"sample_fps": 1.0})

    result = match_check_pairs(check(0), pairs, shared_duration=60.0)
    assert result.matched and result.reason == "check is a clip of the shared video", result
    assert result.check_coverage == 1.0
    # The same 3 s beside 7 s of other watchable footage are too little of either video.
    other = match_check_pairs(check(90), pairs, shared_duration=60.0)
    assert not other.matched and other.check_coverage == pytest.approx(0.3)


def test_pairs_at_inconsistent_offsets_do_not_align() -> None:
    # Three lookalike frames, each at a different shift: no alignment.
    pairs = [FramePair(float(i), 10.0 * i, 10.0 * i, 5, Orientation.ORIGINAL) for i in range(5)]
    assert not match_pairs(pairs, check_duration=5.0, shared_duration=50.0, sample_period=1.0).matched


def _read_budgeted(pairs: list[FramePair], budget: int) -> list[FramePair]:
    """`pairs` again, as pairs that count the reads of their fields, all together: past `budget`
    reads, reading one fails the test."""
    names = {field.name for field in fields(FramePair)}
    reads = 0

    class Budgeted(FramePair):
        def __getattribute__(self, name: str) -> Any:
            nonlocal reads
            if name in names:
                reads += 1
                if reads > budget:
                    raise AssertionError(f"more than {budget} reads of frame pair fields")
            return super().__getattribute__(name)

    return [Budgeted(*astuple(pair)) for pair in pairs]


def test_alternating_shared_frames_cost_work_linear_in_the_pairs() -> None:
    """A member may share a hash list whose frames alternate between two hashes, A B A B ...:
    every frame is a run of its own, and each sample of a check showing A pairs with half of
    them, at as many time shifts. Scoring the shifts must read each pair a bounded number of
    times, not once per shift: here 40,000 pairs and about 4,000 shifts."""
    samples, shared_frames = 20, 4000
    pairs = [
        FramePair(float(sample), float(frame), float(frame), 0, Orientation.ORIGINAL)
        for sample in range(samples)
        for frame in range(0, shared_frames, 2)
    ]
    budgeted = _read_budgeted(pairs, budget=10 * len(pairs))
    result = match_pairs(
        budgeted, check_duration=float(samples), shared_duration=float(shared_frames), sample_period=1.0
    )
    # The verdict the shift-by-shift scan gave: two alignments, the odd samples' and the even
    # ones', each at the smallest shift that holds all ten of them (the shared video's end).
    assert result.matched and result.reason == "check is a clip of the shared video", result
    assert [(s.check_start, s.check_end, s.shared_start, s.shared_end, s.frames) for s in result.segments] == [
        (0.0, 19.0, 3980.0, 3999.0, 10),
        (1.0, 20.0, 3980.0, 3999.0, 10),
    ]


def test_blank_frames_are_never_stored_nor_queried() -> None:
    black = FrameHash(0.0, "0" * 64, 0)
    hashes = MediaHashes(media="video", signals={}, frames=(black, black))
    assert shared_frame_runs(hashes.frames) == []
    assert frame_queries(hashes) == []


def test_static_frames_are_stored_once_as_a_run() -> None:
    pdq = "a5" * 32
    frames = [FrameHash(i / 30, pdq, 90) for i in range(60)]
    (run,) = shared_frame_runs(frames)
    assert (run.start, run.end) == (0.0, pytest.approx(59 / 30))


def test_frame_queries_cover_eight_orientations(sparse: dict[str, MediaHashes]) -> None:
    queries = frame_queries(sparse[SOURCE])
    usable = [f for f in sparse[SOURCE].frames if f.quality >= 50]
    assert len(queries) == 8 * len(usable) + sum(len(f.framings) for f in sparse[SOURCE].frames)
    runs = shared_frame_runs(sparse[SOURCE].frames)
    assert frame_pairs(queries[:1], runs)[0].distance == 0


def test_video_matches_a_shared_still_image_when_a_frame_shows_it(
    dense: dict[str, MediaHashes], sparse: dict[str, MediaHashes]
) -> None:
    still = dense[SOURCE].frames[300].pdq  # a still taken from the shared footage at 10 s
    hits = video_frames_showing_image(sparse[SOURCE], [still])
    assert hits and any(abs(offset - 10.0) <= 1.0 for offset, _ in hits)
    other = dense["pattern-hd-no-bar"].frames[100].pdq
    assert video_frames_showing_image(sparse[SOURCE], [other]) == []


# --- footage shown inside something larger -------------------------------------------------------

LAYOUTS = {"caption bar": lay.caption_bar, "duet": lay.duet, "picture-in-picture": lay.picture_in_picture}


def _written(frames: Iterator[np.ndarray], path: Path) -> Path:
    """`frames` (RGB, of one size) written as 30 fps H.264, cut to even sides."""
    writer = None
    for rgb in frames:
        even = np.ascontiguousarray(rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2])
        if writer is None:
            writer = _Writer(path, even.shape[1], even.shape[0], 30)
        writer.write(even)
    assert writer is not None
    writer.close()
    return path


def _laid_out(frames: Iterator[np.ndarray], layout: str, path: Path) -> Path:
    """Every frame through one layout with one seed (the caption, the other half of a duet, the
    inset's place stay put as in a re-posted video), written as H.264."""
    edit = LAYOUTS[layout]
    return _written(
        (np.asarray(edit(Image.fromarray(rgb), random.Random(f"layout|{layout}")).convert("RGB")) for rgb in frames),
        path,
    )


def _source_frames(video_dir: Path, count: int, name: str = SOURCE) -> Iterator[np.ndarray]:
    with av.open(str(video_dir / f"{name}.mp4")) as source:
        for index, frame in enumerate(source.decode(video=0)):
            if index >= count:
                break
            yield frame.to_ndarray(format="rgb24")


@pytest.fixture(scope="module")
def layouts(video_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, MediaHashes]:
    folder = tmp_path_factory.mktemp("video-layouts")
    hashed = {}
    for layout in LAYOUTS:
        path = _laid_out(_source_frames(video_dir, EDIT_FRAMES), layout, folder / f"{layout}.mp4")
        hashed[layout] = hash_video(str(path), Limits())
    path = _laid_out(_moving_pattern(EDIT_FRAMES, 480, 720, seed=9), "duet", folder / "unrelated-duet.mp4")
    hashed["unrelated duet"] = hash_video(str(path), Limits())
    return hashed


def _found_by_framings(check: MediaHashes, shared: MediaHashes, *, left_out_of: str) -> None:
    """`check` matches `shared`, and does not once the framings of one side (the check's samples,
    or the shared runs' stored crops) are left out: those framings are what found it."""
    assert match_video(check, shared).matched
    if left_out_of == "check":
        assert not match_video(without_framings(check), shared).matched
    else:
        assert not match_video(check, without_framings(shared)).matched


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_footage_inside_a_layout_matches_by_the_frames_framings(
    layout: str, dense: dict[str, MediaHashes], layouts: dict[str, MediaHashes]
) -> None:
    check = layouts[layout]
    assert any(frame.framings for frame in check.frames)
    # The samples' whole frames alone do not find it: the framings do.
    _found_by_framings(check, dense[SOURCE], left_out_of="check")


def test_unrelated_footage_in_a_layout_matches_nothing(
    dense: dict[str, MediaHashes], layouts: dict[str, MediaHashes]
) -> None:
    for name, shared in dense.items():
        assert not match_video(layouts["unrelated duet"], shared).matched, name


# --- turned or zoomed in: toward the central crops a shared video stores --------------------------


def _turned_and_cut(rgb: np.ndarray, angle: float = 3.0) -> np.ndarray:
    """Turned by `angle` degrees, the corners the turn left empty cut away, back at the frame's size."""
    image = Image.fromarray(rgb)
    width, height = image.size
    share = inscribed_share(width, height, angle)
    turned = image.rotate(angle, resample=Image.Resampling.BICUBIC)
    box = (round(width * (1 - share) / 2), round(height * (1 - share) / 2))
    cut = turned.crop((box[0], box[1], width - box[0], height - box[1]))
    return np.asarray(cut.resize((width, height), Image.Resampling.BILINEAR))


def _zoomed_in(rgb: np.ndarray) -> np.ndarray:
    """The central 88% of the frame, back at the frame's size (a zoom-in, or 6% cut from each side)."""
    image = Image.fromarray(rgb)
    width, height = image.size
    left, top = round(width * 0.06), round(height * 0.06)
    return np.asarray(image.crop((left, top, width - left, height - top)).resize((width, height)))


GEOMETRIC = {"turned 3 degrees and cut": _turned_and_cut, "zoomed in to 88%": _zoomed_in}
# Footage without bars of its own: a zoom or a turn of a letterboxed video keeps its bars, moved.
GEOMETRIC_SOURCE = "pattern-hd-no-bar"


@pytest.fixture(scope="module")
def geometric(video_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, MediaHashes]:
    folder = tmp_path_factory.mktemp("video-geometric")
    hashed = {}
    for number, (name, edit) in enumerate(GEOMETRIC.items()):
        frames = (edit(rgb) for rgb in _source_frames(video_dir, EDIT_FRAMES, GEOMETRIC_SOURCE))
        hashed[name] = hash_video(str(_written(frames, folder / f"{number}.mp4")), Limits())
    return hashed


@pytest.mark.parametrize("edit", sorted(GEOMETRIC))
def test_a_turned_or_zoomed_copy_matches_by_the_crops_stored_with_the_runs(
    edit: str, dense: dict[str, MediaHashes], geometric: dict[str, MediaHashes]
) -> None:
    check = geometric[edit]
    # Against the shared runs' whole frames alone the same samples find nothing: the crops do.
    _found_by_framings(check, dense[GEOMETRIC_SOURCE], left_out_of="shared")
    for name in ALL:
        if _family(name) != _family(GEOMETRIC_SOURCE):
            assert not match_video(check, dense[name]).matched, name


def test_a_wide_video_turned_further_matches_by_the_deep_crops_stored_with_the_runs(
    video_dir: Path, dense: dict[str, MediaHashes], tmp_path: Path
) -> None:
    """Turned by 6.5 degrees and cut, a 16:9 frame keeps 83% of its sides: less than the 80% crop
    needs (0.8 <= 0.83 ** 2 fails), so the samples turned back aim at the stored 60% crops."""
    frames = (_turned_and_cut(rgb, 6.5) for rgb in _source_frames(video_dir, EDIT_FRAMES, GEOMETRIC_SOURCE))
    check = hash_video(str(_written(frames, tmp_path / "turned.mp4")), Limits())
    shared = dense[GEOMETRIC_SOURCE]
    assert match_video(check, shared).matched
    deep = "content+central_crop_60"
    without_deep = replace(
        shared,
        frames=tuple(replace(f, framings=tuple(x for x in f.framings if x[0] != deep)) for f in shared.frames),
    )
    assert any(x[0] == deep for f in shared.frames for x in f.framings)
    assert not match_video(check, without_deep).matched
    for name in ALL:
        if _family(name) != _family(GEOMETRIC_SOURCE):
            assert not match_video(check, dense[name]).matched, name


def _turned_on_a_grown_canvas(rgb: np.ndarray) -> np.ndarray:
    """Turned by 8 degrees, nothing cut, the corners black, back at the frame's size: beyond the
    turns tried on the whole frame, and no upright rectangle holds the footage."""
    image = Image.fromarray(rgb)
    turned = image.rotate(8.0, resample=Image.Resampling.BICUBIC, expand=True)
    return np.asarray(turned.resize(image.size, Image.Resampling.BILINEAR))


def test_a_video_turned_on_a_grown_canvas_matches_by_its_slanted_frame(
    video_dir: Path, dense: dict[str, MediaHashes], tmp_path: Path
) -> None:
    frames = (_turned_on_a_grown_canvas(rgb) for rgb in _source_frames(video_dir, EDIT_FRAMES, GEOMETRIC_SOURCE))
    check = hash_video(str(_written(frames, tmp_path / "turned.mp4")), Limits())
    labels = [label for frame in check.frames for label, _ in frame.framings]
    # Found on the first samples and kept for the rest: every sample is set upright inside it.
    assert sum(
        1 for frame in check.frames if any(label.startswith("inside_slanted") for label, _ in frame.framings)
    ) == len(check.frames)
    assert any(label.startswith("inside_slanted_frame") for label in labels)
    _found_by_framings(check, dense[GEOMETRIC_SOURCE], left_out_of="check")
    without_slanted = replace(
        check,
        frames=tuple(
            replace(frame, framings=tuple(f for f in frame.framings if not f[0].startswith("inside_slanted")))
            for frame in check.frames
        ),
    )
    assert not match_video(without_slanted, dense[GEOMETRIC_SOURCE]).matched
    for name in ALL:
        if _family(name) != _family(GEOMETRIC_SOURCE):
            assert not match_video(check, dense[name]).matched, name


def test_a_shared_video_stores_the_central_crops_of_each_runs_first_frame(
    dense: dict[str, MediaHashes], sparse: dict[str, MediaHashes]
) -> None:
    shared = dense[SOURCE]
    runs = shared_frame_runs(shared.frames)
    at = {frame.offset: frame for frame in shared.frames}
    # The hasher computes crops exactly for the frames that start a run, by the runs' own rule.
    assert sum(1 for frame in shared.frames if frame.framings) == len(runs)
    assert all(run.framings and run.framings == at[run.start].framings for run in runs)
    stored_labels = {label for run in runs for label, _ in run.framings}
    crops = {"content+central_crop_90", "content+central_crop_80", "content+central_crop_60", "content+core"}
    halves = {"content+half_top", "content+half_bottom", "content+half_left", "content+half_right"}
    assert stored_labels == crops | halves
    # The bank item indexes every one of them with the run's span: the crops as frames of the run,
    # the halves as halves (held to the stricter half threshold).
    item = item_from_media(shared, Provenance(contributor="tiktok", shared_at="2026-12-05T00:00:00Z"))
    timed = {(e.kind, e.value, e.offset, e.end) for e in item.near_entries if e.kind in ("frame", "half")}
    assert timed == {
        ("half" if label in halves else "frame", value, run.start, run.end)
        for run in runs
        for label, value in (("", run.pdq), *run.framings)
    }
    # A checked video's samples carry what they query (crops of the whole frame, turns), not these.
    labels = {label for frame in sparse[SOURCE].frames for label, _ in frame.framings}
    assert labels and not any(label.startswith("content+") for label in labels)
    assert any(label.startswith("tilted_") for label in labels) and "whole+central_crop_90" in labels
