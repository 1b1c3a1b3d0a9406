"""`MediaHashes` as JSON: the one form hashes cross from where media is (the edge) to the coalition.

This is all that crosses: hashes, their quality, the labels saying which framing or rotation each
is, a video's frame hashes with their times, and the media's kind, size and duration. Never pixels,
never the analysis luma the uneven-crop search keeps.

    {"media": "image", "signals": {"sha256": "...", "md5": "...", "pdq": "...", "phash": "..."},
     "quality": {"pdq": 100},
     "queries": [["pdq", "rotate_90", "<hex>"], ["pdq", "uneven_crop", "<hex>", [l, t, r, b]], ...],
     "framings": [["pdq", "content+central_crop_90", "<hex>"], ...],
     "cut_views": ["<pdq hex>", ...],
     "frames": [[12.0, "<pdq hex>", 87, ["<rotate_90 hex>", ...], [["inside_frame/flip_x", "<hex>"], ...]], ...],
     "duration": 22.1, "width": 1280, "height": 720, "sample_fps": 1.0}

`queries` are what a check is looked up with besides its main hashes (rotations/flips, framings,
framings found by the uneven-crop search with the region they cover, and the pHash of the framings
that may show the picture whole, `hashmatch.media.model.PHASH_VIEWS`, labelled as their PDQ); `framings` what a share
stores besides its main hashes, `cut_views` the PDQ hashes of a shared picture as unevenly cut
copies show it (`hashmatch.media.uneven.cut_views`: for the retroactive scan, never stored). A
checked video's frames carry their rotations/flips and their framings (the footage inside a
caption bar, padding or a larger frame, central crops, the frame turned back: labelled as a
picture's framings are); a shared video's frame that starts a run of near-identical frames
carries the central crops stored with the run (``content+central_crop_90``, ``..._80``); a frame
written with three or four elements, as before, has none.
Members write this form in hash lists too, so `hashes_from_json` treats it as untrusted: every
signal name and hash is checked against the registry (each signal named once, however it is
spelt), every list is bounded, every time (a duration, a frame's offset) is one the bank can store
(`MAX_SECONDS`), and anything else is a `ValueError` that names the field.

`member_json` decodes the JSON text members write (check and hash lists, requests, API bodies)
into what `hashes_from_json` and the other readers take, so malformed text is one `ValueError`
wherever it arrives.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from hashmatch.media.model import FrameHash, LabelledHash, MediaHashes, Region
from hashmatch.signals import SIGNALS

__all__ = [
    "MAX_FRAMES",
    "MAX_FRAME_FRAMINGS",
    "MAX_QUERIES",
    "MAX_SECONDS",
    "fitted_hashes",
    "hashes_from_json",
    "hashes_to_json",
    "member_json",
]

_Encoded = TypeVar("_Encoded")

# A checked picture: 138 at the mean, 346 the most measured (`bench_robustness.py`); a share's 16,
# its cut views 625.
MAX_QUERIES = 1024
MAX_FRAMES = 500_000  # a shared 4-hour video stored as runs of near-identical frames
MAX_ORIENTATIONS = 7
# a sampled frame's: up to ~30 regions found, 10 crops, 8 halves, 40 turns and 18 slanted views
# (each mirrored; 78 the most measured with 24 turns, `bench_video_robustness.py`; the 16 turns and
# 8 halves since added make 102; 10 more where something seems drawn over it, painted over: the
# hasher keeps a sample's first 120), and up to 8 places the uneven-crop search found
# (`hashmatch.media.video_crops.MAX_PLACES`); a shared run's first frame's: 3 crops, its core and 4 halves
MAX_FRAME_FRAMINGS = 128
# A duration or a frame's offset, in seconds: at most a day (six times the longest video hashed,
# `Limits.max_video_seconds`), and 0 or at least a nanosecond (finer than any container's time
# base). The bank stores them as DynamoDB numbers, which overflow past 1e125 and underflow under
# 1e-130: a share carrying such a time would fail at the bank write on every retry.
MAX_SECONDS = 24 * 3600.0
MIN_SECONDS = 1e-9
_MEDIA = ("image", "video", "hashes")
_LABEL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_+/@.")
MAX_LABEL = 64


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def member_json(text: bytes | str) -> Any:
    """The JSON value `text` holds; raises ValueError saying what is wrong with it.

    `json.loads` refuses untrusted text with more than `JSONDecodeError`: bytes that are not
    UTF-8 raise `UnicodeDecodeError`, deep nesting `RecursionError`, an integer of more digits
    than Python converts (`sys.get_int_max_str_digits`, 4,300) a plain ValueError. Each is one
    ValueError here, so a reader rejects the line or the request instead of failing whole."""
    try:
        value = json.loads(text)
        # JSON's \u escapes can spell half a UTF-16 pair, which no store or message takes. Only
        # text that escapes a surrogate at all (an emoji, say) is written out again to find one.
        if _SURROGATE_ESCAPE.search(text.encode() if isinstance(text, str) else text):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeEncodeError:
        raise ValueError("not JSON that can be read: text holds half a UTF-16 surrogate pair") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg} at character {error.pos})") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"not JSON (not UTF-8: {error.reason} at byte {error.start})") from None
    except RecursionError:
        raise ValueError("not JSON that can be read: it nests too deep") from None
    except ValueError as error:
        if "integer string conversion" not in str(error):
            raise ValueError(f"not JSON that can be read ({error})") from None
        limit = sys.get_int_max_str_digits()
        raise ValueError(f"not JSON that can be read: a number of more than {limit} digits") from None


def hashes_to_json(hashes: MediaHashes) -> dict[str, Any]:
    """The JSON form of `hashes` (the uneven-crop search, which holds pixels, is left out)."""
    document: dict[str, Any] = {"media": hashes.media, "signals": dict(hashes.signals)}
    if hashes.quality:
        document["quality"] = dict(hashes.quality)
    if hashes.queries:
        document["queries"] = [_labelled(q) for q in hashes.queries]
    if hashes.framings:
        document["framings"] = [_labelled(f) for f in hashes.framings]
    if hashes.cut_views:
        document["cut_views"] = list(hashes.cut_views)
    if hashes.frames:
        document["frames"] = [_frame(f) for f in hashes.frames]
    for name in ("duration", "width", "height"):
        if getattr(hashes, name) is not None:
            document[name] = getattr(hashes, name)
    sample_fps = hashes.extra.get("sample_fps")
    if isinstance(sample_fps, int | float) and math.isfinite(sample_fps):
        document["sample_fps"] = sample_fps
    return document


def hashes_from_json(document: object) -> MediaHashes:
    """`MediaHashes` from its JSON form; raises ValueError naming the first thing wrong."""
    if not isinstance(document, dict):
        raise ValueError("hashes must be a JSON object")
    media = document.get("media", "image")
    if media not in _MEDIA:
        raise ValueError(f"media must be one of {', '.join(_MEDIA)}, got {media!r}")
    signals = _signals(document.get("signals"))
    quality = _quality(document.get("quality", {}))
    queries = _labelled_list(document.get("queries", []), "queries")
    framings = _labelled_list(document.get("framings", []), "framings")
    cut_views = _pdq_list(document.get("cut_views", []), "cut_views")
    frames = _frames(document.get("frames", []))
    extra: dict[str, object] = {}
    if "sample_fps" in document:
        extra["sample_fps"] = _number(document["sample_fps"], "sample_fps", positive=True)
    return MediaHashes(
        media=media,
        signals=signals,
        quality=quality,
        queries=queries,
        framings=framings,
        cut_views=cut_views,
        frames=frames,
        duration=None if document.get("duration") is None else _seconds(document["duration"], "duration"),
        width=_optional_int(document.get("width"), "width"),
        height=_optional_int(document.get("height"), "height"),
        extra=extra,
    )


def _labelled(labelled: LabelledHash) -> list[Any]:
    fields: list[Any] = [labelled.signal, labelled.label, labelled.value]
    if labelled.region is not None:
        fields.append(labelled.region.edges())
    return fields


def _signals(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise ValueError("signals must be a non-empty object of signal name to hash")
    signals: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            raise ValueError(f"signals.{name} must be a string")
        signal, normalised = SIGNALS.parse(str(name), value)
        if signal in signals:  # "pdq" and "PDQ", or a name and its alias: neither may silently win
            raise ValueError(f"signals names {signal} twice (as {name!r} and an earlier spelling)")
        signals[signal] = normalised
    return signals


def _quality(raw: object) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise ValueError("quality must be an object of signal name to 0-100")
    quality: dict[str, int] = {}
    for name, value in raw.items():
        integer = _integer(value)
        if integer is None or not 0 <= integer <= 100:
            raise ValueError(f"quality.{name} must be an integer 0-100")
        signal = SIGNALS.get(str(name)).name
        if signal in quality:
            raise ValueError(f"quality names {signal} twice (as {name!r} and an earlier spelling)")
        quality[signal] = integer
    return quality


def _labelled_list(raw: object, field: str) -> tuple[LabelledHash, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{field} must be a list")
    if len(raw) > MAX_QUERIES:
        raise ValueError(f"{field} holds {len(raw)} hashes, more than {MAX_QUERIES}")
    found = []
    for position, item in enumerate(raw):
        if not isinstance(item, list) or len(item) not in (3, 4) or not all(isinstance(x, str) for x in item[:3]):
            raise ValueError(f"{field}[{position}] must be [signal, label, hash] or [signal, label, hash, region]")
        name, label, value = item[:3]
        signal, normalised = SIGNALS.parse(name, value)
        _check_label(label, f"{field}[{position}]")
        region = _region(item[3], f"{field}[{position}]") if len(item) == 4 else None
        found.append(LabelledHash(signal, normalised, label, region))
    return tuple(found)


def _pdq_list(raw: object, field: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{field} must be a list")
    if len(raw) > MAX_QUERIES:
        raise ValueError(f"{field} holds {len(raw)} hashes, more than {MAX_QUERIES}")
    found = []
    for position, value in enumerate(raw):
        try:
            found.append(SIGNALS.parse("pdq", value if isinstance(value, str) else "")[1])
        except ValueError as error:
            raise ValueError(f"{field}[{position}] must be a PDQ hash ({error})") from None
    return tuple(found)


def _region(raw: object, where: str) -> Region:
    if not isinstance(raw, list) or len(raw) != 4:
        raise ValueError(f"{where}: a region is [left, top, right, bottom]")
    left, top, right, bottom = (_number(v, where) for v in raw)
    if not 0.0 <= left < right <= 1.0 or not 0.0 <= top < bottom <= 1.0:
        raise ValueError(f"{where}: a region's edges are shares of the sides, left < right and top < bottom")
    return Region(left, top, right, bottom)


def _frame(frame: FrameHash) -> list[Any]:
    row: list[Any] = [frame.offset, frame.pdq, frame.quality, list(frame.orientations)]
    if frame.framings:
        row.append([[label, value] for label, value in frame.framings])
    return row


def _frames(raw: object) -> tuple[FrameHash, ...]:
    if not isinstance(raw, list):
        raise ValueError("frames must be a list")
    if len(raw) > MAX_FRAMES:
        raise ValueError(f"frames holds {len(raw)} frames, more than {MAX_FRAMES}")
    pdq = SIGNALS.get("pdq")
    frames = []
    for position, item in enumerate(raw):
        if not isinstance(item, list) or len(item) not in (3, 4, 5):
            raise ValueError(
                f"frames[{position}] must be [offset, pdq, quality], [offset, pdq, quality, orientations]"
                " or [offset, pdq, quality, orientations, framings]"
            )
        offset = _seconds(item[0], f"frames[{position}] offset")
        value = pdq.parse(item[1]) if isinstance(item[1], str) else None
        quality = _integer(item[2])
        if value is None or quality is None or not 0 <= quality <= 100:
            raise ValueError(f"frames[{position}] needs a PDQ hash and a quality 0-100")
        orientations = item[3] if len(item) >= 4 else []
        if not isinstance(orientations, list) or len(orientations) > MAX_ORIENTATIONS:
            raise ValueError(f"frames[{position}] orientations must be a list of at most {MAX_ORIENTATIONS} hashes")
        turned = tuple(pdq.parse(v) if isinstance(v, str) else pdq.parse("") for v in orientations)
        framings = _frame_framings(item[4], f"frames[{position}] framings") if len(item) == 5 else ()
        frames.append(FrameHash(offset, value, quality, turned, framings))
    return tuple(frames)


def _check_label(label: str, where: str) -> None:
    if not label or len(label) > MAX_LABEL or not set(label) <= _LABEL_CHARACTERS:
        raise ValueError(f"{where} has a malformed label {label!r}")


def _frame_framings(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or len(raw) > MAX_FRAME_FRAMINGS:
        raise ValueError(f"{where} must be a list of at most {MAX_FRAME_FRAMINGS} [label, pdq] pairs")
    pdq = SIGNALS.get("pdq")
    found = []
    for position, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise ValueError(f"{where}[{position}] must be [label, pdq]")
        label, value = pair
        _check_label(label, f"{where}[{position}]")
        found.append((label, pdq.parse(value)))
    return tuple(found)


def _number(raw: object, where: str, *, positive: bool = False) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ValueError(f"{where} must be a finite number")
    if positive and raw <= 0:
        raise ValueError(f"{where} must be positive")
    return float(raw)


def _seconds(raw: object, where: str) -> float:
    """A time in seconds the bank can store: 0, or `MIN_SECONDS` to `MAX_SECONDS`."""
    seconds = _number(raw, where)
    if seconds != 0 and not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ValueError(f"{where} must be 0 or {MIN_SECONDS:g} to {MAX_SECONDS:.0f} seconds (a day), got {seconds:g}")
    return seconds


def _optional_int(raw: object, where: str) -> int | None:
    if raw is None:
        return None
    integer = _integer(raw)
    if integer is None or integer <= 0:
        raise ValueError(f"{where} must be a positive integer")
    return integer


def _integer(raw: object) -> int | None:
    """`raw` as an int when it is one; JSON (and JSON Schema) count 100.0 as the integer 100."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return None


def fitted_hashes(
    hashes: MediaHashes, encode: Callable[[MediaHashes], _Encoded], fits: Callable[[_Encoded], bool]
) -> tuple[_Encoded, str | None]:
    """`encode(hashes)` when it `fits`; else a video's made to fit, encoded without its frames'
    framings and then with every second, fourth... frame, and what was left out (None when nothing
    was). A long video's check can outgrow what carries it (a DynamoDB item, a line of a check
    list): it is matched on fewer hashes rather than refused. A picture's hashes are encoded as
    they are. Each version is encoded once."""
    encoded = encode(hashes)
    if fits(encoded) or not hashes.frames:
        return encoded, None
    frames = tuple(replace(frame, framings=()) for frame in hashes.frames)
    step = 1
    while True:
        kept = frames[::step]
        encoded = encode(replace(hashes, frames=kept))
        if fits(encoded) or len(kept) == 1:
            sampled = "every sample" if step == 1 else f"1 sample in {step}"
            return encoded, f"the samples' framings left out; {sampled} kept ({len(kept)} of {len(frames)})"
        step *= 2
