"""The reference photos in ../shared/data (beside the checkout), for the image tests; a test
that needs one is skipped, saying where it looked, when the folder is absent."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from PIL import Image, ImageOps

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def reference_photo(relative: str, *, side: int, draft: int | None = None) -> Image.Image:
    """The photo at `relative` under the data folder, upright, RGB, at most `side` pixels a side
    (decoded at `draft` pixels or more when given, as the imaging module may hand it over)."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"reference media not found at {path} (the shared data folder beside the checkout)")
    return _load(path, side, draft)


def reference_frame(relative: str, seconds: float) -> Image.Image:
    """The first frame at or after `seconds` of the reference video at `relative`, RGB."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"reference media not found at {path} (the shared data folder beside the checkout)")
    return _frame(path, seconds)


@functools.cache
def _frame(path: Path, seconds: float) -> Image.Image:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_image().convert("RGB")
    raise ValueError(f"{path} has no frame at or after {seconds} s")


@functools.cache
def _load(path: Path, side: int, draft: int | None) -> Image.Image:
    with Image.open(path) as image:
        if draft is not None:
            image.draft("RGB", (draft, draft))
        photo = ImageOps.exif_transpose(image).convert("RGB")
    photo.thumbnail((side, side))
    return photo
