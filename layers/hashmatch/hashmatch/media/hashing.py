"""Hash any file a platform drops: sniff what it is, then hand it to the image or video hasher."""

from __future__ import annotations

from pathlib import Path

from hashmatch.media.model import Limits, MediaHashes, Rejected, RejectReason, sniff_media

__all__ = ["SNIFF_BYTES", "hash_file"]

SNIFF_BYTES = 64


def hash_file(
    path: str | Path,
    limits: Limits | None = None,
    *,
    for_sharing: bool = False,
    window: tuple[float, float | None] | None = None,
) -> MediaHashes:
    """All signals of the image or video at `path`.

    A video is sampled at `limits.video_fps` for a check, and hashed at every frame when it is
    being shared (`for_sharing`), so that a check sampled at any instant finds a shared frame.

    Raises `Rejected` (never anything else for bad input) when the file is empty, too large,
    not a supported image or video, corrupt, or a decompression bomb; `NeedsSegments` for a shared
    video too long to hash in one go, whose `window`s can then be hashed one by one.
    """
    limits = limits or Limits()
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise Rejected(RejectReason.EMPTY, "the file is empty")
    if size > limits.max_file_bytes:
        raise Rejected(RejectReason.TOO_LARGE, f"{size} bytes is over the {limits.max_file_bytes} limit")
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
    sniffed = sniff_media(head)
    if sniffed is None:
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, "not a supported image or video format")
    kind, _format = sniffed
    if kind == "image":
        from hashmatch.media.image import hash_image

        return hash_image(str(path), limits, for_sharing=for_sharing)
    from hashmatch.media.video import ALL_FRAMES, hash_video

    return hash_video(str(path), limits, fps=ALL_FRAMES if for_sharing else None, window=window)
