"""Video hashing speed: hashmatch's sampled hasher vs the reference vPDQ pipeline, one core.

Run: ``.venv/bin/python benchmarks/bench_video.py [--seconds 30] [--seed 1234]``

The input is a 1280x720, 30 fps H.264 video (x264 "veryfast" with B-frames and scene-cut keyframes,
at most `--keyint` frames between keyframes: 60, i.e. 2 s, like phone and platform uploads; try
250 for a long-GOP file) assembled from the reference videos in ../shared/data/video, each scaled
to 1280x720, in an order drawn with a fixed seed; it is built once into the temp directory.

Anchor: the reference vPDQ pipeline as `vpdq.computeHash` runs it (decode every frame, convert
each sampled frame to full-size RGB24, PDQ on the full-size luma), at the same 1 frame per
second. PyPI `vpdq` must compile against ffmpeg headers; when it is not importable, the anchor
is the same steps re-implemented with PyAV and `pdqhash` (the reference C++ PDQ), and the output
says which anchor ran. Real-time factor = video seconds hashed per second, wall and CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core: before numpy loads BLAS

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from hashmatch.media.framing import sample_framings
from hashmatch.media.model import Limits
from hashmatch.media.video import hash_video

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
SOURCES = (
    "chair-orig-22-sd-bar",
    "pattern-hd-no-bar",
    "doorknob-hd-no-bar",
    "chair-19-sd-bar",
    "pattern-sd-grey-bar",
    "test-padded-dimensions",
)
WIDTH, HEIGHT, FPS = 1280, 720, 30


def build_video(seconds: int, seed: int, keyint: int) -> Path:
    """The 720p benchmark input (cached by length, seed and keyframe interval)."""
    path = Path(tempfile.gettempdir()) / f"hashmatch-bench-720p-{seconds}s-seed{seed}-g{keyint}.mp4"
    if path.exists():
        return path
    rng = random.Random(seed)
    partial = path.with_suffix(".part.mp4")
    with av.open(str(partial), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "x264-params": f"keyint={keyint}"}
        count = 0
        while count < seconds * FPS:
            with av.open(str(DATA / f"{rng.choice(SOURCES)}.mp4")) as source:
                for frame in source.decode(video=0):
                    if count >= seconds * FPS:
                        break
                    scaled = frame.reformat(width=WIDTH, height=HEIGHT, format="yuv420p")
                    scaled.pts, scaled.time_base = count, Fraction(1, FPS)
                    scaled.pict_type = av.video.frame.PictureType.NONE  # the encoder picks keyframes
                    count += 1
                    for packet in stream.encode(scaled):
                        out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    partial.rename(path)
    return path


def reference_anchor() -> tuple[str, Callable[[str], int]]:
    """The anchor to run: PyPI vpdq when importable, else its steps with PyAV and pdqhash."""
    try:
        import vpdq

        def run_vpdq(path: str) -> int:
            return len(vpdq.computeHash(path, seconds_per_hash=1.0, thread_count=1))

        return "vpdq (PyPI, reference C++)", run_vpdq
    except ImportError:
        pass
    import numpy as np
    import pdqhash

    def run_steps(path: str) -> int:
        # vpdq's FFmpegHasher: every frame decoded, frame n kept when n % (fps * seconds_per_hash)
        # == 0, converted to RGB24 at full size, hashed with the reference PDQ on full-size luma.
        hashed = 0
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            every = max(1, int(1.0 * float(stream.average_rate or FPS)))
            for number, frame in enumerate(container.decode(stream)):
                if number % every == 0:
                    rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
                    pdqhash.compute(rgb)
                    hashed += 1
        return hashed

    return "vpdq steps re-implemented (PyAV decode + full-size RGB24 + pdqhash C++ PDQ)", run_steps


def measure(run: Callable[[], int], repeats: int) -> tuple[float, float, int]:
    """Best wall and CPU seconds over `repeats` runs, and frames hashed."""
    best_wall = best_cpu = float("inf")
    frames = 0
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        frames = run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keyint", type=int, default=60, help="most frames between keyframes")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"reference videos not found at {DATA}")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core for everything below
    path = str(build_video(args.seconds, args.seed, args.keyint))
    with av.open(path) as container:
        duration = float(container.duration or 0) / av.time_base
    anchor_name, anchor = reference_anchor()
    limits = Limits()
    ours = measure(lambda: len(hash_video(path, limits).frames), args.repeats)
    theirs = measure(lambda: anchor(path), args.repeats)
    dense = measure(lambda: len(hash_video(path, limits, float("inf")).frames), 1)
    print(f"input: {path} ({WIDTH}x{HEIGHT}, {duration:.1f} s, seed {args.seed}, keyint {args.keyint}); one core")
    print(f"anchor: {anchor_name}")
    rows = (
        ("hashmatch hash_video, 1 fps (check)", ours),
        ("reference vPDQ pipeline, 1 fps", theirs),
        ("hashmatch hash_video, every frame (share)", dense),
    )
    for label, (wall, cpu, frames) in rows:
        print(
            f"{label:44s} {frames:5d} frames  wall {wall:6.2f} s = {duration / wall:6.1f}x real time"
            f"  cpu {cpu:6.2f} s = {duration / cpu:6.1f}x"
        )
    print(f"speed-up vs anchor (1 fps): wall {theirs[0] / ours[0]:.1f}x, cpu {theirs[1] / ours[1]:.1f}x")
    cost, count = sample_framings_cost(path)
    print(f"of a check's samples, the framings each is queried with (framing.sample_framings): {cost}, {count}")


def sample_framings_cost(path: str) -> tuple[str, str]:
    """CPU time and hashes per sample of `sample_framings`, on the luma of one frame a second."""
    seconds: list[float] = []
    hashes: list[int] = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        next_at = 0.0
        for frame in container.decode(stream):
            if frame.time is None or frame.time < next_at:
                continue
            next_at = frame.time + 1.0
            luma = frame.to_ndarray(format="gray")
            started = time.process_time()
            hashes.append(len(sample_framings(luma)))
            seconds.append(time.process_time() - started)
    median_ms = 1000 * statistics.median(seconds)
    return (
        f"median {median_ms:.1f} ms CPU a sample",
        f"{statistics.mean(hashes):.1f} hashes a sample (max {max(hashes)})",
    )


if __name__ == "__main__":
    main()
