"""Video hashing: conformance with the reference vPDQ, containers, sampling and rejections."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from hashmatch.matching.policy import MIN_MATCHED_FRAMES
from hashmatch.media.model import Limits, MediaHashes, Rejected, RejectReason
from hashmatch.media.video import ALL_FRAMES, find_bars, frame_luma_block, hash_video
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import PDQ
from hashmatch_tools.oracles import match_video
from hashmatch_tools.samples import panning_frames, video_bytes

pytestmark = pytest.mark.unit

# A correct PDQ port lands within 10 bits of the reference for frames of quality >= 80.
CONFORMANCE_BITS = 10
CONFORMANCE_QUALITY = 80
CONFORMANCE_VIDEOS = ("chair-19-sd-bar", "pattern-hd-no-bar", "doorknob-hd-no-bar", "test-padded-dimensions")


@pytest.fixture(scope="module")
def video_dir(shared_data: Path) -> Path:
    return shared_data / "video"


def _reference(path: Path) -> list[tuple[int, int, str, float]]:
    """NAME.vpdq.txt: frame_number, quality, pdq_hex, timestamp_seconds per line."""
    rows = []
    for line in path.read_text().splitlines():
        number, quality, pdq, stamp = line.strip().split(",")
        rows.append((int(number), int(quality), pdq, float(stamp)))
    return rows


@pytest.mark.parametrize("name", CONFORMANCE_VIDEOS)
def test_every_frame_is_within_pdq_tolerance_of_the_reference_vpdq(video_dir: Path, name: str) -> None:
    reference = _reference(video_dir / f"{name}.vpdq.txt")
    ours = hash_video(str(video_dir / f"{name}.mp4"), Limits(), ALL_FRAMES, trim_bars=False)
    assert len(ours.frames) == len(reference)
    rate = (len(reference) - 1) / reference[-1][3]
    distances = []
    for frame in ours.frames:
        # The reference stamps frame n at n / frame_rate: align by frame number from our timestamps.
        _number, quality, pdq, stamp = reference[round(frame.offset * rate)]
        assert frame.offset == pytest.approx(stamp, abs=0.002)
        assert abs(frame.quality - quality) <= 2
        if quality >= CONFORMANCE_QUALITY:
            distances.append(hex_distance(frame.pdq, pdq))
    assert distances
    assert max(distances) <= CONFORMANCE_BITS
    assert np.median(distances) <= 2


def test_decimation_block_equals_reference_filtering_of_full_luma() -> None:
    rng = np.random.default_rng(3)
    luma = rng.integers(0, 256, (333, 517)).astype(np.float64)
    # The reference's two box-filter passes (window ceil(n / 128)) and centre sampling, directly.
    expected = luma
    for axis, length in ((1, 517), (0, 333)):
        window = (length + 127) // 128
        half = (window + 2) // 2
        for _ in range(2):
            sums = np.concatenate([np.zeros_like(np.take(expected, [0], axis=axis)), np.cumsum(expected, axis)], axis)
            low = np.maximum(0, np.arange(length) - (window - half))
            high = np.minimum(length, np.arange(length) + half)
            shape = [1, 1]
            shape[axis] = length
            expected = (np.take(sums, high, axis) - np.take(sums, low, axis)) / (high - low).reshape(shape)
    rows = ((np.arange(64) + 0.5) * 333 / 64).astype(int)
    cols = ((np.arange(64) + 0.5) * 517 / 64).astype(int)
    np.testing.assert_allclose(frame_luma_block(luma), expected[np.ix_(rows, cols)], atol=1e-2)


def test_sparse_sampling_takes_about_one_frame_per_second(video_dir: Path) -> None:
    hashes = hash_video(str(video_dir / "chair-19-sd-bar.mp4"), Limits())
    offsets = [f.offset for f in hashes.frames]
    assert hashes.media == "video" and hashes.duration is not None
    assert hashes.duration == pytest.approx(18.8, abs=0.1)
    assert (hashes.width, hashes.height) == (480, 720)
    assert len(offsets) >= 0.9 * hashes.duration
    assert offsets == sorted(offsets) and max(np.diff(offsets)) < 2.0
    assert all(len(f.orientations) == 7 for f in hashes.frames)
    assert set(hashes.signals) == {"sha256", "md5"}


def test_sampling_rate_is_configurable(video_dir: Path) -> None:
    path = str(video_dir / "pattern-hd-no-bar.mp4")
    two = hash_video(path, Limits(), fps=2.0)
    limited = hash_video(path, Limits(video_fps=0.5))
    assert len(two.frames) > len(limited.frames) >= 3


def test_a_short_video_is_sampled_faster_to_get_enough_samples(video_dir: Path) -> None:
    path = str(video_dir / "doorknob-hd-no-bar.mp4")  # 4.3 s at 30 fps
    once_a_second = hash_video(path, Limits(), fps=1.0)  # an explicit rate is kept
    assert len(once_a_second.frames) in (4, 5)
    checked = hash_video(path, Limits())
    assert len(checked.frames) >= Limits().min_video_samples
    assert checked.extra["sample_fps"] == pytest.approx(Limits().min_video_samples / checked.duration, rel=0.01)
    offsets = [f.offset for f in checked.frames]
    assert max(np.diff(offsets)) < 0.8 and offsets[-1] > 3.5
    every_frame = hash_video(path, Limits(min_video_samples=1000))  # never faster than the video's frames
    assert every_frame.extra["sample_fps"] == pytest.approx(30.0, rel=0.01)
    long = hash_video(str(video_dir / "chair-19-sd-bar.mp4"), Limits())  # 18.8 s: once a second
    assert long.extra["sample_fps"] == 1.0


def test_a_short_video_mostly_dark_is_sampled_again_faster_so_that_enough_samples_align(tmp_path: Path) -> None:
    # 2 s at 30 fps: a third of a second of a panning scene, then black.
    scene = panning_frames(7, 2.0, 30, (320, 240))
    frames = [frame if index < 10 else np.zeros_like(frame) for index, frame in enumerate(scene)]
    path = tmp_path / "clip.mp4"
    path.write_bytes(video_bytes(frames, 30))

    def queried(hashes: MediaHashes) -> int:
        return sum(1 for frame in hashes.frames if PDQ.usable(frame.quality) or frame.framings)

    sparse = hash_video(str(path), Limits(dense_check_samples=Limits().min_video_samples))
    assert sparse.extra["sample_fps"] == pytest.approx(4.0, rel=0.02)
    assert queried(sparse) < MIN_MATCHED_FRAMES  # never enough to align
    checked = hash_video(str(path), Limits())
    assert checked.extra["sample_fps"] == pytest.approx(Limits().dense_check_samples / 2.0, rel=0.02)
    assert queried(checked) >= MIN_MATCHED_FRAMES
    shared = hash_video(str(path), Limits(), fps=ALL_FRAMES)
    assert match_video(checked, shared).matched and not match_video(sparse, shared).matched
    # Footage that is watchable throughout keeps its rate; so does an explicit one.
    lit = tmp_path / "lit.mp4"
    lit.write_bytes(video_bytes(scene, 30))
    assert hash_video(str(lit), Limits()).extra["sample_fps"] == pytest.approx(4.0, rel=0.02)
    assert hash_video(str(path), Limits(), fps=4.0).extra["sample_fps"] == 4.0
    # Nor is a video for which sampling again would not at least double the samples.
    assert hash_video(str(path), Limits(dense_check_samples=15)).extra["sample_fps"] == pytest.approx(4.0, rel=0.02)


def test_odd_dimensions_decode(video_dir: Path) -> None:
    hashes = hash_video(str(video_dir / "test-padded-dimensions.mp4"), Limits())
    assert hashes.frames and all(f.quality >= 50 for f in hashes.frames)


def test_bars_are_trimmed_per_frame() -> None:
    content = np.random.default_rng(1).integers(0, 256, (100, 60), dtype=np.uint8)
    barred = np.pad(content, ((20, 20), (10, 10)))
    box = find_bars(barred)
    assert box is not None and (box.top, box.bottom, box.left, box.right) == (20, 120, 10, 70)
    assert find_bars(content) is None
    assert find_bars(np.zeros((100, 100), dtype=np.uint8)) is None  # a blank frame stays whole


def test_a_grainy_plain_edge_is_no_bar() -> None:
    rng = np.random.default_rng(2)
    content = rng.integers(0, 256, (200, 200)).astype(np.float64)
    wall = np.clip(120 + rng.normal(0, 3, (200, 80)), 0, 255)  # a plain wall, filmed: grain, no bar
    assert find_bars(np.hstack([wall, content])) is None
    flat = np.full((200, 80), 120.0)
    box = find_bars(np.hstack([flat, content]))
    assert box is not None and (box.left, box.right) == (80, 280)


def test_a_bar_an_overlay_crosses_is_trimmed_whole() -> None:
    """A caption box across the left bar to the frame's edge, a sticker over the right bar short of
    it: the bars' lines they cross are no longer clean, yet the bars end where the footage starts."""
    content = np.random.default_rng(3).integers(0, 256, (200, 160), dtype=np.uint8)
    barred = np.pad(content, ((0, 0), (40, 40)))
    barred[30:70, 0:150] = 235  # the caption box
    barred[120:160, 180:228] = 200  # the sticker, 12 pixels short of the right edge
    box = find_bars(barred)
    assert box is not None and (box.top, box.bottom, box.left, box.right) == (0, 200, 40, 200)


def test_a_dark_side_of_the_picture_facing_a_narrower_bar_is_no_crossed_bar() -> None:
    """The footage's own black side next to a bar, broken by shapes of its own (a test card's), is
    as straight-edged as a bar an overlay crosses, but the bar facing it is narrower: it stays footage."""
    content = np.random.default_rng(5).integers(0, 256, (200, 160), dtype=np.uint8)
    content[40:160, 130:] = 0  # 30 black columns down 60% of the footage's right side
    barred = np.pad(content, ((0, 0), (40, 40)))
    box = find_bars(barred)
    assert box is not None and (box.left, box.right) == (40, 200)


def test_a_bar_crossed_by_more_than_an_overlay_is_no_bar() -> None:
    """Crossed over most of its length, what is left of a bar is no evidence of one."""
    content = np.random.default_rng(4).integers(0, 256, (200, 160), dtype=np.uint8)
    barred = np.pad(content, ((0, 0), (40, 40)))
    barred[10:110, 0:150] = 235
    barred[:, 200:] = content[:, :40]  # no right bar either
    assert find_bars(barred) is None


def test_the_doorknob_videos_walls_are_no_bars(video_dir: Path) -> None:
    # Its first frame: a plain wall each side of the door, trimmed as bars before.
    with av.open(str(video_dir / "doorknob-hd-no-bar.mp4")) as container:
        first = next(container.decode(video=0)).to_ndarray(format="gray")
    assert find_bars(first) is None


# --- containers and damaged files made here -----------------------------------------------------


def _write(
    path: Path,
    codec: str,
    count: int = 45,
    size: tuple[int, int] = (160, 120),
    fps: int = 15,
    options: dict[str, str] | None = None,
) -> Path:
    rng = np.random.default_rng(5)
    base = np.kron(
        rng.integers(0, 256, (size[1] // 8 + 4, size[0] // 8 + 4, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8)
    )
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        for index in range(count):
            rgb = np.ascontiguousarray(np.roll(base, index, axis=(0, 1))[: size[1], : size[0]])
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        ("mp4", "libx264"),
        ("mov", "libx264"),
        ("mkv", "libx264"),
        ("webm", "libvpx-vp9"),
        ("avi", "mpeg4"),
        ("gif", "gif"),
    ],
)
def test_containers_decode(tmp_path: Path, suffix: str, codec: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    path = _write(tmp_path / f"clip.{suffix}", codec)
    hashes = hash_video(str(path), Limits())
    assert len(hashes.frames) >= 2 and hashes.width == 160
    assert all(len(f.pdq) == 64 for f in hashes.frames)


def _rejection(path: Path, limits: Limits | None = None) -> RejectReason:
    with pytest.raises(Rejected) as caught:
        hash_video(str(path), limits or Limits())
    return caught.value.reason


def test_empty_and_unknown_files_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "noise.bin").write_bytes(np.random.default_rng(0).bytes(4096))
    assert _rejection(tmp_path / "empty.mp4") == RejectReason.EMPTY
    assert _rejection(tmp_path / "noise.bin") == RejectReason.UNSUPPORTED_MEDIA


def test_truncated_and_corrupt_videos_are_rejected(tmp_path: Path) -> None:
    data = _write(tmp_path / "whole.mp4", "libx264", count=90).read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])
    assert _rejection(tmp_path / "truncated.mp4") == RejectReason.CORRUPT
    faststart = tmp_path / "faststart.mp4"  # index first: the cut file still opens
    _write(faststart, "libx264", count=90, options={"movflags": "faststart"})
    data_first = faststart.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data_first[: len(data_first) // 2])
    assert _rejection(tmp_path / "cut.mp4") == RejectReason.CORRUPT
    garbled = data[:64] + np.random.default_rng(1).bytes(len(data) - 64)
    (tmp_path / "garbled.mp4").write_bytes(garbled)
    assert _rejection(tmp_path / "garbled.mp4") == RejectReason.CORRUPT


def test_audio_only_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        samples = np.zeros((1, 1024), dtype=np.float32)
        for index in range(40):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, index * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert _rejection(path) == RejectReason.UNSUPPORTED_MEDIA


def test_video_stream_without_frames_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = 64, 64
        container.start_encoding()  # a valid file that never received a frame
    assert path.stat().st_size > 0
    assert _rejection(path) == RejectReason.NO_FRAMES


def test_limits_bound_size_and_duration(video_dir: Path) -> None:
    path = video_dir / "pattern-hd-no-bar.mp4"
    assert _rejection(path, Limits(max_file_bytes=1000)) == RejectReason.TOO_LARGE
    assert _rejection(path, Limits(max_video_seconds=5.0)) == RejectReason.TOO_LARGE


def test_hashes_are_value_objects(video_dir: Path) -> None:
    hashes = hash_video(str(video_dir / "pattern-sd-grey-bar.mp4"), Limits())
    assert isinstance(hashes, MediaHashes)
    assert all(f.pdq == f.pdq.lower() for f in hashes.frames)
