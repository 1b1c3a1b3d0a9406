"""How flat the bars a frame or a shared picture would have trimmed are (`hashmatch.media.bars.BAR_NOISE`).

For every reference video (a frame every 20) and every reference photo's analysis luma (as a shared
picture is trimmed), the bars `solid_bars` finds and the noise of each (`bar_noise`: the median
over its lines of their standard deviation, in grey levels; of a bar an overlay crosses, over the
positions it does not cross). Bars drawn or encoded are flat; a plain wall filmed at an edge, or a
photo's dark vignette, is grainy, and `flat_bars` keeps only bars at most `BAR_NOISE`.

    .venv/bin/python benchmarks/study_bars.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np

from hashmatch.media.bars import BAR_NOISE, FRAME_PROBE_STEP, bar_noise, solid_bars
from hashmatch.media.luma import AnalysisLuma
from hashmatch_tools.reuploads.photos import gather_photos

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FRAME_STEP = 20


def noise_of_bars(luma: np.ndarray, probe_step: int) -> list[tuple[str, int, float]]:
    """Each side's bar found by `solid_bars`: (side, thickness, noise)."""
    height, width = luma.shape
    left, top, right, bottom = solid_bars(luma, probe_step)
    bars = {
        "left": luma[:, :left].T,
        "top": luma[:top],
        "right": luma[:, width - right :].T,
        "bottom": luma[height - bottom :],
    }
    return [(side, len(bar), bar_noise(bar, probe_step)) for side, bar in bars.items() if len(bar)]


def main() -> int:
    if not DATA.is_dir():
        print(f"reference media not found: {DATA}")
        return 2
    print(f"bars kept when their noise is at most {BAR_NOISE} grey levels\n")
    print("| source | bars found (side thickness: noise) |\n|---|---|")
    for path in sorted((DATA / "video").glob("*.mp4")):
        noises: dict[str, list[float]] = {}
        with av.open(str(path)) as container:
            for number, frame in enumerate(container.decode(video=0)):
                if number % FRAME_STEP == 0:
                    for side, _, noise in noise_of_bars(frame.to_ndarray(format="gray"), FRAME_PROBE_STEP):
                        noises.setdefault(side, []).append(noise)
        found = ", ".join(f"{side}: {min(n):.1f}-{max(n):.1f} ({len(n)} frames)" for side, n in noises.items())
        print(f"| video {path.stem} | {found or '-'} |")
    for photo in gather_photos(DATA):
        found_bars = noise_of_bars(np.asarray(AnalysisLuma(photo.image).pixels, dtype=np.float64), 1)
        if found_bars:
            print(f"| photo {photo.name} | {', '.join(f'{s} {t}: {n:.1f}' for s, t, n in found_bars)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
