"""Per-frame PDQ hashes of a video file, decoded with PyAV (whose wheels bundle ffmpeg).

What the reference vPDQ (ThreatExchange `vpdq/cpp`) does, and what this module keeps of it:

- it decodes every frame, converts it to RGB24 at the video's own size (no downscaling by
  default), takes float luma and runs PDQ on the full-size luma. Downscaling to 512 px before PDQ
  moves frame hashes 6-26 bits (median) away from the reference, so this module also hashes the
  full-size luma, but reads it straight from the decoded frame's Y plane (no colour conversion)
  and folds PDQ's two box-filter passes and its 64x64 decimation into one cached matrix per axis,
  so a 720p frame costs two small float32 matrix products;
- it numbers frames in decoding output order and stamps them ``frame_number / frame_rate``; this
  module stamps each frame with its presentation time, which is the same for constant-rate files.

Two sampling modes:

- sparse (checks; ``fps`` frames per second, by default `Limits.video_fps`, or faster for a video
  too short to get `Limits.min_video_samples` samples at that rate, and again faster, up to
  `Limits.dense_check_samples`, for a short video whose samples are too few to align because its
  footage is mostly dark, blank or flat): a sample may be any
  decodable frame within half a sampling period of the grid point, so keyframes are preferred, the
  decoder skips non-reference frames, and packets after the last frame needed from a group of
  pictures are not decoded at all. Each sampled frame also carries the PDQ hashes of its seven
  rotations/flips (`FrameHash.orientations`) for mirror-proof queries, and its framings
  (`FrameHash.framings`, `hashmatch.media.framing.sample_framings`): the footage found inside a
  caption bar, padding or a larger frame, central crops and the frame turned back; the first
  `SEARCH_SAMPLES` usable samples also keep their small luma for the uneven-crop search
  (`MediaHashes.uneven_crops`, `hashmatch.media.video_crops`), which the edge runs toward the
  stored frame crops the coalition names;
- dense (`ALL_FRAMES`, for shared videos): every frame, so that a check sampled at any offset finds
  a near-identical shared frame (consecutive frames differ by 24-60 bits, so a grid on both sides
  misses clips cut off the grid); a frame that starts a run of near-identical frames also carries
  the central crops stored with the run (`hashmatch.media.framing.stored_frame_framings`).

Solid bars (letterbox, pillarbox, any uniform colour) are found on each hashed frame and trimmed
before hashing (`hashmatch.media.bars.content_box`, the detector pictures use too, and on a full
frame a bar must also be flat: a plain wall filmed at an edge is grainy), so a barred copy and the
bare original hash alike.
"""

from __future__ import annotations

import bisect
import math
import os
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from hashmatch.matching.policy import MIN_MATCHED_FRAMES
from hashmatch.matching.video import has_queries, starts_run
from hashmatch.media.bars import BarBox, content_box
from hashmatch.media.codec import MAX_FRAME_FRAMINGS
from hashmatch.media.framing import SlantedLayout, sample_framings, sample_luma, stored_frame_framings
from hashmatch.media.model import FrameHash, Limits, MediaHashes, NeedsSegments, Rejected, RejectReason, sniff_media
from hashmatch.media.video_crops import MAX_PLACES, SEARCH_SAMPLES, VideoCropSearch
from hashmatch.signals.digest import file_digests
from hashmatch.signals.pdq import PDQ, decimation_band, pdq_dihedral_from_luma, pdq_from_luma

__all__ = [
    "ALL_FRAMES",
    "BarBox",
    "find_bars",
    "frame_luma_block",
    "hash_video",
]

ALL_FRAMES = math.inf
"""Pass as ``fps`` to hash every frame (the dense mode used for shared videos)."""

# Codecs whose keyframe flags are trustworthy, so packets of a group of pictures after the last
# frame we need can be dropped without corrupting the next group.
_SKIPPABLE_CODECS = frozenset(
    {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg1video", "mpeg2video", "h263", "msmpeg4v3"}
)
# 8-bit YUV layouts whose first plane is the luma we want, one byte per pixel.
_YUV8_FORMATS = frozenset(
    {
        "yuv420p",
        "yuvj420p",
        "yuv422p",
        "yuvj422p",
        "yuv444p",
        "yuvj444p",
        "yuv440p",
        "yuvj440p",
        "yuv411p",
        "yuv410p",
        "nv12",
        "nv21",
        "gray",
    }
)
_FULL_RANGE_FORMATS = frozenset({"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p", "gray"})
_AVCOL_RANGE_JPEG = 2

TRUNCATION_SLACK = 1.0  # seconds a stream may end short of its declared duration
_MAX_DECODE_ERROR_SHARE = 0.5


def hash_video(
    path: str,
    limits: Limits,
    fps: float | None = None,
    *,
    trim_bars: bool = True,
    dihedral: bool | None = None,
    window: tuple[float, float | None] | None = None,
) -> MediaHashes:
    """Digests and per-frame PDQ hashes of the video at `path` (a local file, streamed, never slurped).

    `fps` is the sampling rate (default `limits.video_fps`, faster for a short video: at least
    `limits.min_video_samples` samples, at most one per frame, and again at up to
    `limits.dense_check_samples` when fewer than `MIN_MATCHED_FRAMES` samples have anything to
    query and that at least doubles the rate: `_denser_rate`); `ALL_FRAMES` hashes every frame.
    `trim_bars` trims each frame's solid bars (`find_bars`). `dihedral` (default: on when sampling
    sparsely) adds each frame's seven rotation/flip hashes as `FrameHash.orientations`.
    `window` (start, end or None: seconds): only the frames in it, at their times in the whole
    video (one segment of a long shared video, `NeedsSegments`).

    Raises `Rejected`: ``empty`` (0 bytes), ``too_large`` (over `limits.max_file_bytes`, longer
    than `limits.max_video_seconds`, frames over `limits.max_video_frame_pixels`, a rate over
    `limits.max_video_fps`, or, hashed at every frame, over
    `limits.max_shared_video_pixel_frames` for a window; all checked before decoding), ``unsupported_media``
    (not a container ffmpeg reads, or no video stream, e.g. audio only), ``corrupt`` (unreadable
    or truncated), ``no_frames`` (a video stream without a decodable frame).
    """
    rate = limits.video_fps if fps is None else fps
    if not rate > 0:
        raise ValueError(f"fps must be positive, got {rate}")
    dense = math.isinf(rate)
    with_dihedrals = (not dense) if dihedral is None else dihedral

    size = os.path.getsize(path)
    if size == 0:
        raise Rejected(RejectReason.EMPTY, "the file is empty")
    if size > limits.max_file_bytes:
        raise Rejected(RejectReason.TOO_LARGE, f"{size} bytes exceeds {limits.max_file_bytes}")
    with open(path, "rb") as stream:
        head = stream.read(64)
        stream.seek(0)
        signals = file_digests(stream)

    probe = _probe(path, head, limits)
    if dense:
        _check_shareable(probe, limits, window)
    elif fps is None:
        rate = _check_rate(rate, probe, limits)
    kept: list[tuple[float, np.ndarray]] | None = [] if with_dihedrals and not dense else None
    frames, truncated = _hash_frames(path, probe, rate, limits, with_dihedrals, trim_bars, window, kept)
    denser = _denser_rate(rate, probe, limits, frames) if fps is None and not dense and not truncated else None
    if denser is not None and probe.duration is not None:
        # Within the duration the file declares (a file running past it gets no more samples than
        # that rate gives there); kept only when decoded whole.
        again: list[tuple[float, np.ndarray]] | None = [] if kept is not None else None
        bounded = (0.0, probe.duration + TRUNCATION_SLACK)
        more, damaged = _hash_frames(path, probe, denser, limits, with_dihedrals, trim_bars, bounded, again)
        if more and not damaged:
            frames, kept, rate = more, again, denser
    if not frames:
        raise Rejected(RejectReason.NO_FRAMES, "the video stream has no decodable frame")
    if truncated:
        raise Rejected(RejectReason.CORRUPT, "the video stream is truncated or damaged")
    extra: dict[str, object] = {
        "codec": probe.codec,
        "sample_fps": rate,
    }
    duration = probe.duration if probe.duration is not None else frames[-1].offset
    return MediaHashes(
        media="video",
        signals=signals,
        frames=tuple(frames),
        duration=round(duration, 3),
        width=probe.width,
        height=probe.height,
        extra=extra,
        uneven_crops=VideoCropSearch.of(kept) if kept is not None else None,
    )


def frame_luma_block(luma: np.ndarray, *, full_range: bool = True) -> np.ndarray:
    """PDQ's 64x64 filtered and decimated block of a 2-D luma array of any size (uint8 or float).

    The result is what the reference computes from the same luma before its DCT, so
    ``pdq_from_luma(frame_luma_block(luma))`` is the reference PDQ hash of the full-size luma.
    With ``full_range=False`` the luma is taken as limited range (16-235) and stretched to 0-255,
    which keeps the quality score comparable to the reference's RGB-derived luma.
    """
    rows, cols = luma.shape
    row_indices, row_weights = decimation_band(rows)
    col_indices, col_weights = decimation_band(cols)
    gathered = np.asarray(luma)[row_indices].astype(np.float32)  # 64 x band x cols
    by_rows = np.matmul(row_weights[:, np.newaxis, :], gathered)[:, 0, :]  # 64 x cols
    block = np.einsum("rcb,cb->rc", by_rows[:, col_indices], col_weights)
    if not full_range:
        block = (block - 16.0) * (255.0 / 219.0)
    return block.astype(np.float64)


def find_bars(luma: np.ndarray) -> BarBox | None:
    """The content box of one frame after trimming solid bars, or None when there is nothing to trim
    (`hashmatch.media.bars.content_box`)."""
    return content_box(luma)


@dataclass(frozen=True)
class _Probe:
    codec: str
    width: int
    height: int
    duration: float | None
    start: float
    keyframes: tuple[float, ...]
    fps: float = 0.0


def _probe(path: str, head: bytes, limits: Limits) -> _Probe:
    """Open the file, check its limits, and list keyframe times (demuxing only, no decoding)."""
    with _open_container(path, head) as container:
        stream = _video_stream(container)
        duration = _duration(container, stream)
        if duration is not None and duration > limits.max_video_seconds:
            raise Rejected(RejectReason.TOO_LARGE, f"{duration:.0f} s exceeds {limits.max_video_seconds:.0f} s")
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > limits.max_video_frame_pixels:
            raise Rejected(
                RejectReason.TOO_LARGE,
                f"{width}x{height} frames exceed the limit of {limits.max_video_frame_pixels} pixels per frame",
            )
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        if fps > limits.max_video_fps:
            raise Rejected(RejectReason.TOO_LARGE, f"{fps:.0f} frames per second exceeds {limits.max_video_fps:.0f}")
        base = stream.time_base
        start = float(stream.start_time * base) if stream.start_time is not None and base else 0.0
        keyframes: list[float] = []
        last = 0.0
        try:
            for packet in container.demux(stream):
                if packet.pts is None or base is None:
                    continue
                at = float(packet.pts * base) - start
                last = max(last, at + float((packet.duration or 0) * base))
                if packet.is_keyframe:
                    keyframes.append(at)
        except av.error.FFmpegError as error:
            raise Rejected(RejectReason.CORRUPT, f"cannot read the container: {error}") from error
        declared = float(stream.duration * base) if stream.duration is not None and base else None
        if declared is not None and last < declared - max(TRUNCATION_SLACK, 0.02 * declared):
            # The index promises more than the file holds: cut off in transfer or on disk.
            raise Rejected(
                RejectReason.CORRUPT, f"the video stream ends at {last:.1f} s of a declared {declared:.1f} s"
            )
        return _Probe(
            codec=stream.codec_context.name,
            width=width,
            height=height,
            duration=duration,
            start=start,
            keyframes=tuple(sorted(set(keyframes))),
            fps=fps,
        )


def _check_rate(rate: float, probe: _Probe, limits: Limits) -> float:
    """The sampling rate of a checked video: `rate`, or faster for a video too short to get
    `limits.min_video_samples` samples at it (never faster than the video's own frame rate)."""
    wanted = _rate_for(limits.min_video_samples, probe)
    return rate if wanted is None else max(rate, wanted)


def _rate_for(samples: int, probe: _Probe) -> float | None:
    """The rate that spreads `samples` over the video's declared duration, never faster than its
    own frame rate; None without a duration."""
    if probe.duration is None or probe.duration <= 0:
        return None
    wanted = samples / probe.duration
    return min(wanted, probe.fps) if probe.fps > 0 else wanted


def _denser_rate(rate: float, probe: _Probe, limits: Limits, frames: list[FrameHash]) -> float | None:
    """A faster rate for a checked video sampled at `rate` whose `frames` hold fewer samples with
    anything to query than an alignment needs (`MIN_MATCHED_FRAMES`): `limits.dense_check_samples`
    over its duration, never faster than its own frame rate; None when that is not at least twice
    `rate` (a longer video would be decoded again for a few more samples)."""
    if sum(has_queries(frame) for frame in frames) >= MIN_MATCHED_FRAMES:
        return None
    wanted = _rate_for(limits.dense_check_samples, probe)
    return wanted if wanted is not None and wanted >= 2.0 * rate else None


def _check_shareable(probe: _Probe, limits: Limits, window: tuple[float, float | None] | None = None) -> None:
    """Before decoding: a video (or its `window`) too long to hash at every frame in one go raises
    `NeedsSegments` (naming the limit); a window over the limit, `Rejected`."""
    seconds = probe.duration if probe.duration is not None else (probe.keyframes[-1] if probe.keyframes else 0.0)
    per_second = probe.width * probe.height * max(probe.fps, 1.0)
    longest = limits.max_shared_video_pixel_frames / per_second
    if window is not None:
        start, end = window
        span = (seconds if end is None else end) - start
        if span > longest * 1.001:
            raise Rejected(
                RejectReason.TOO_LARGE, f"a window of {span:.0f} s is over the {longest:.0f} s hashed in one go"
            )
        return
    pixel_frames = per_second * seconds
    if pixel_frames > limits.max_shared_video_pixel_frames:
        raise NeedsSegments(
            seconds,
            longest,
            f"a shared video is hashed at every frame: {probe.width}x{probe.height} at {probe.fps:.0f} fps "
            f"for {seconds:.0f} s is {pixel_frames:.2g} pixel-frames, over the limit of "
            f"{limits.max_shared_video_pixel_frames:.2g} (at this size and rate, {longest:.0f} s); "
            "share it in shorter parts",
        )


def _hash_frames(
    path: str,
    probe: _Probe,
    rate: float,
    limits: Limits,
    with_dihedrals: bool,
    trim_bars: bool,
    window: tuple[float, float | None] | None = None,
    kept: list[tuple[float, np.ndarray]] | None = None,
) -> tuple[list[FrameHash], bool]:
    """Decode and hash the sampled frames (those at `window`'s start and before its end, when
    given: decoding starts at the keyframe before it); the flag says decoding stopped on damage.
    `kept` receives (offset, small luma) of the first `SEARCH_SAMPLES` usable samples, for the
    uneven-crop search (`hashmatch.media.video_crops`)."""
    first, last = window if window is not None else (0.0, None)
    dense = math.isinf(rate)
    period = 0.0 if dense else 1.0 / rate
    skippable = not dense and probe.codec in _SKIPPABLE_CODECS
    frames: list[FrameHash] = []
    next_window = -math.inf  # the earliest time the next sample may have
    runs = _RunStarts() if dense else None
    layout = SlantedLayout() if with_dihedrals else None
    decoded = errors = 0
    truncated = False
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if skippable:
            stream.codec_context.skip_frame = "NONREF"
        if first > 0 and stream.time_base:
            container.seek(int((first + probe.start) / stream.time_base), stream=stream, backward=True)
        try:
            for packet in container.demux(stream):
                if skippable and not packet.is_keyframe and packet.size:
                    at = _packet_time(packet, probe.start)
                    if at is not None and not _frame_needed(at, next_window, period, probe.keyframes):
                        continue
                try:
                    decoded_frames = _decode_packet(stream, packet)
                except av.error.InvalidDataError:
                    errors += 1
                    continue
                for frame in decoded_frames:
                    decoded += 1
                    offset = _frame_time(frame, probe.start, decoded, stream)
                    if offset > limits.max_video_seconds:
                        raise Rejected(
                            RejectReason.TOO_LARGE,
                            f"frames beyond {limits.max_video_seconds:.0f} s",
                        )
                    if offset < first:
                        continue
                    if last is not None and offset >= last:
                        return frames, False
                    if not dense and offset < next_window:
                        continue
                    frames.append(_hash_frame(frame, offset, trim_bars, with_dihedrals, runs, layout, kept))
                    if not dense:
                        next_window = (math.floor(offset / period + 0.5) + 0.5) * period
        except av.error.EOFError:
            truncated = True
        except av.error.FFmpegError:
            truncated = True
    if errors and errors > _MAX_DECODE_ERROR_SHARE * max(1, decoded + errors):
        truncated = True
    return frames, truncated


def _frame_needed(at: float, next_window: float, period: float, keyframes: tuple[float, ...]) -> bool:
    """Whether a non-key packet at `at` may be needed: no keyframe serves the pending window."""
    following = bisect.bisect_right(keyframes, at + 1e-6)
    next_key = keyframes[following] if following < len(keyframes) else math.inf
    if not math.isfinite(next_window):
        return True  # no sample yet: the first decodable frame is it
    if next_key <= next_window:
        return False  # every frame before the next keyframe is too early to be the next sample
    # The next keyframe lands inside the pending window: it will be the sample.
    return next_key >= next_window + period


class _RunStarts:
    """A shared video's frames in order: which start a run of near-identical frames, by the rule
    `hashmatch.matching.video.shared_frame_runs` stores them by (`starts_run`)."""

    def __init__(self) -> None:
        self._first: str | None = None

    def starts(self, pdq: str, quality: int) -> bool:
        if not starts_run(self._first, pdq, quality):
            return False
        self._first = pdq
        return True


def _hash_frame(
    frame: av.VideoFrame,
    offset: float,
    trim_bars: bool,
    with_dihedrals: bool,
    runs: _RunStarts | None = None,
    layout: SlantedLayout | None = None,
    kept: list[tuple[float, np.ndarray]] | None = None,
) -> FrameHash:
    """A sampled frame's hashes (`with_dihedrals`: its rotations/flips and framings to query, the
    footage inside the video's slanted frames among them: `layout`; its small luma added to `kept`
    while that holds fewer than `SEARCH_SAMPLES` and the frame is usable), or a shared video's
    frame's (`runs`: the frames before it): its PDQ and, where it starts a run, the central crops
    stored with the run (`stored_frame_framings`)."""
    luma, full_range = _luma(frame)
    bars = find_bars(luma) if trim_bars else None
    if bars is not None:
        luma = luma[bars.top : bars.bottom, bars.left : bars.right]
    block = frame_luma_block(luma, full_range=full_range)
    if not with_dihedrals:
        pdq = pdq_from_luma(block)
        stored = stored_frame_framings(luma) if runs is not None and runs.starts(pdq.hex, pdq.quality) else ()
        return FrameHash(round(offset, 3), pdq.hex, pdq.quality, (), stored)
    original, *others = pdq_dihedral_from_luma(block)
    analysis = sample_luma(luma)
    # Within what a sample's JSON form takes, with room for the places the uneven-crop search adds
    # (`VideoCropSearch.refine`); the last framings (those painted over) give way first.
    framings = sample_framings(luma, layout.frames_for(luma) if layout is not None else (), analysis)
    framings = framings[: MAX_FRAME_FRAMINGS - MAX_PLACES]
    offset = round(offset, 3)
    usable = PDQ.usable(original.quality) and not analysis.too_small
    if kept is not None and len(kept) < SEARCH_SAMPLES and usable:
        kept.append((offset, analysis.grey()))
    return FrameHash(offset, original.hex, original.quality, tuple(h.hex for h in others), framings)


def _luma(frame: av.VideoFrame) -> tuple[np.ndarray, bool]:
    """The frame's luma as a 2-D uint8 view (no copy for 8-bit YUV), and whether it is full range."""
    name = frame.format.name
    if name in _YUV8_FORMATS:
        plane = frame.planes[0]
        values = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
        full = name in _FULL_RANGE_FORMATS or frame.color_range == _AVCOL_RANGE_JPEG
        return values[: frame.height, : frame.width], full
    gray = frame.reformat(format="gray").to_ndarray()
    return gray, True


def _open_container(path: str, head: bytes) -> Any:
    try:
        return av.open(path)
    except av.error.FFmpegError as error:
        if sniff_media(head) is not None:
            # A known media format that ffmpeg cannot open is damaged (e.g. an MP4 cut before its index).
            raise Rejected(RejectReason.CORRUPT, f"cannot open the video: {error}") from error
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, f"not a video ffmpeg can read: {error}") from error


def _video_stream(container: Any) -> Any:
    if not container.streams:
        raise Rejected(RejectReason.NO_FRAMES, "the container holds no stream at all")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, f"no video stream (found {', '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, "the video codec is not supported")
    return stream


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _decode_packet(stream: Any, packet: Any) -> list[av.VideoFrame]:
    return list(stream.decode(packet))


def _packet_time(packet: Any, start: float) -> float | None:
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None or packet.time_base is None:
        return None
    return float(stamp * packet.time_base) - start


def _frame_time(frame: av.VideoFrame, start: float, ordinal: int, stream: Any) -> float:
    if frame.time is not None:
        return max(0.0, frame.time - start)
    rate = stream.average_rate or stream.guessed_rate or 30
    return (ordinal - 1) / float(rate)
