"""The real photos the robustness benchmark edits: shared ones, split TUNED / HELD-OUT, and
never-shared look-alikes that must not match.

Sources: the reference media beside a checkout (``../shared/data``: the ThreatExchange PDQ sample
photos, and frames of its reference videos) and sample photos shipped inside installed packages
(scikit-image, scikit-learn, PyWavelets; the ``[bench]`` extra). Whatever is missing is left out.

The split is fixed here, like the edits' (`hashmatch_tools.reuploads`): `HELD_OUT_PHOTOS` are never
tuned on. The look-alikes (`NEGATIVES`) are other shots of a shared photo's scene: two more desk
shots, the motorcycle's stereo partner, frames of the shared videos seconds apart; they are split
the same way. Left out on purpose: ``misc-images/b.jpg`` (pixel for pixel the bridge photo) and
PyWavelets' camera (scikit-image's camera), which would count as look-alikes while being copies.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

__all__ = ["HELD_OUT_PHOTOS", "MAX_SIDE", "NEGATIVES", "Photo", "gather_photos"]

# Photos are capped at this many pixels on the long side, so that editing stays fast; shared and
# edited copies are made from the capped photo alike.
MAX_SIDE = 1600


@dataclass(frozen=True)
class Photo:
    """A real photo: `shared` ones go into the bank, the others are look-alikes never shared.
    Photos of one `scene` are look-alikes of each other."""

    name: str
    image: Image.Image
    shared: bool
    held_out: bool
    scene: str


# name -> (file under the reference media folder, scene)
_REFERENCE_PHOTOS = {
    "bridge": ("pdq/bridge-mods/aaa-orig.jpg", "bridge"),
    "coaster-c": ("pdq/misc-images/c.png", "coaster"),
    "pen-and-coaster": ("pdq/reg-test-input/pen-and-coaster.png", "coaster"),
    "desk-1": ("pdq/reg-test-input/exif-rotn/exif-rotn-1.jpg", "desk"),
    "desk-6": ("pdq/reg-test-input/exif-rotn/exif-rotn-6.jpg", "desk"),
    **{
        f"labelme-{n}": (f"pdq/reg-test-input/labelme-subset/{n}.jpg", f"labelme-{n}")
        for n in ("q0122", "q0291", "q0746", "q1050", "q2821")
    },
    # never shared
    "desk-3": ("pdq/reg-test-input/exif-rotn/exif-rotn-3.jpg", "desk"),
    "desk-8": ("pdq/reg-test-input/exif-rotn/exif-rotn-8.jpg", "desk"),
    "labelme-q0003": ("pdq/reg-test-input/labelme-subset/q0003.jpg", "labelme-q0003"),
    "labelme-q0004": ("pdq/reg-test-input/labelme-subset/q0004.jpg", "labelme-q0004"),
}
# name -> (reference video, seconds)
_VIDEO_FRAMES = {
    "video-chair@1s": ("chair-orig-22-sd-bar", 1.0),
    "video-pattern@1s": ("pattern-hd-no-bar", 1.0),
    "video-doorknob@1s": ("doorknob-hd-no-bar", 1.0),
    "video-padded@1s": ("test-padded-dimensions", 1.0),
    # never shared
    "video-chair@4s": ("chair-orig-22-sd-bar", 4.0),
    "video-chair@9s": ("chair-orig-22-sd-bar", 9.0),
    "video-chair19@5s": ("chair-19-sd-bar", 5.0),
    "video-pattern@3.5s": ("pattern-hd-no-bar", 3.5),
    "video-doorknob@3s": ("doorknob-hd-no-bar", 3.0),
    "video-padded@3.5s": ("test-padded-dimensions", 3.5),
}
_SKIMAGE_PHOTOS = (
    *("astronaut", "brick", "camera", "cell", "chelsea", "clock_motion", "coffee", "coins", "grass", "gravel"),
    *("hubble_deep_field", "ihc", "microaneurysms", "moon", "motorcycle_left", "page", "retina", "rocket", "text"),
)
NEGATIVES = frozenset(
    {
        *("desk-3", "desk-8", "labelme-q0003", "labelme-q0004", "skimage:motorcycle_right"),
        # PDQ quality 34: nothing can be near-matched to it, so it only ever counts as a look-alike
        "skimage:clock_motion",
        *("video-chair@4s", "video-chair@9s", "video-chair19@5s", "video-pattern@3.5s", "video-doorknob@3s"),
        "video-padded@3.5s",
    }
)
HELD_OUT_PHOTOS = frozenset(
    {
        *("pen-and-coaster", "desk-6", "labelme-q0746", "labelme-q2821", "skimage:brick", "skimage:chelsea"),
        *("skimage:coins", "skimage:gravel", "skimage:microaneurysms", "skimage:page", "skimage:rocket"),
        *("sklearn:flower", "pywt:ascent", "video-doorknob@1s", "mpl:grace_hopper"),
        # look-alikes
        *("desk-8", "labelme-q0004", "video-chair@9s", "video-doorknob@3s", "video-padded@3.5s"),
    }
)


def gather_photos(data: Path | None) -> list[Photo]:
    """Every photo available: from the reference media folder `data` (None or missing: none of
    those) and from the installed packages. Shared photos first, in a fixed order."""
    photos: list[Photo] = []

    def add(name: str, scene: str, image: Image.Image | None) -> None:
        if image is not None:
            photos.append(Photo(name, image, name not in NEGATIVES, name in HELD_OUT_PHOTOS, scene))

    if data is not None and data.is_dir():
        for name, (relative, scene) in _REFERENCE_PHOTOS.items():
            add(name, scene, _open(data / relative) if (data / relative).is_file() else None)
        for name, (video, seconds) in _VIDEO_FRAMES.items():
            add(name, f"video-{video.split('-')[0]}", _frame(data / "video" / f"{video}.mp4", seconds))
    skimage = _package_dir("skimage")
    if skimage is not None:
        for stem in (*_SKIMAGE_PHOTOS, "motorcycle_right"):
            scene = "motorcycle" if stem.startswith("motorcycle") else f"skimage:{stem}"
            add(f"skimage:{stem}", scene, _first(skimage / "data", stem))
    sklearn = _package_dir("sklearn")
    if sklearn is not None:
        for stem in ("china", "flower"):
            add(f"sklearn:{stem}", f"sklearn:{stem}", _first(sklearn / "datasets" / "images", stem))
    pywt = _package_dir("pywt")
    if pywt is not None:
        for stem in ("aero", "ascent"):
            add(f"pywt:{stem}", f"pywt:{stem}", _archived(pywt / "data" / f"{stem}.npz"))
    return sorted(photos, key=lambda photo: not photo.shared)


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _capped(image: Image.Image) -> Image.Image:
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def _open(path: Path) -> Image.Image:
    """A photo upright (EXIF applied), transparency shown on white, in RGB."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        return _capped(image.convert("RGB"))


def _first(folder: Path, stem: str) -> Image.Image | None:
    for suffix in (".png", ".jpg"):
        if (folder / f"{stem}{suffix}").is_file():
            return _open(folder / f"{stem}{suffix}")
    return None


def _archived(path: Path) -> Image.Image | None:
    if not path.is_file():
        return None
    with np.load(path) as archive:
        pixels = archive[archive.files[0]]
    return _capped(Image.fromarray(pixels.astype(np.uint8)).convert("RGB"))


def _frame(path: Path, seconds: float) -> Image.Image | None:
    """The first frame at or after `seconds` of the video at `path` (None without it or PyAV)."""
    if not path.is_file():
        return None
    try:
        import av
    except ImportError:
        return None
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is not None and frame.time >= seconds:
                return _capped(frame.to_image().convert("RGB"))
    return None
