"""Hashing untrusted files in a child process with memory and CPU limits.

Pillow, libheif and ffmpeg parse files that members' users uploaded; a file that makes a decoder
allocate without end, spin, or crash must end as a rejection of that file, never as an
out-of-memory kill of the whole batch or a hung function. So each file is hashed in a child
process with an address-space limit (`RLIMIT_AS`) and a CPU-time limit (`RLIMIT_CPU`), and a
wall-clock deadline.

The children come from a fork server: one helper process per `Sandbox`, started on first use as
``python -m hashmatch.edge.sandbox`` with the decoders imported, single-threaded, so forking it is
safe and cheap (no re-import per file). It reads one request per line on stdin, forks a child per
request, and writes one framed answer back.

What comes back is JSON, never a pickle: the parent treats the child's output as untrusted and
parses it with the strict codec (`hashmatch.media.codec`). The analysis luma that the uneven-crop
search needs comes back as raw 8-bit pixels of at most 256 x 256.

A decoder that a file exploits runs code as the server's child, so the server is started without
the cloud's credentials and addresses (every ``AWS_*`` variable: the keys and session token a
Lambda function holds, the container-credentials and runtime-API endpoints; `decoder_environment`),
and the process that starts it marks itself not dumpable, so that a child running as the same user
cannot read them from its ``/proc/<pid>/environ`` or its memory either. What is left to such code
is what the operating system lets that user do: read the file it was given and what else the
function's filesystem holds, and reach the network (no decoder needs it; Lambda offers no way to
take it away short of a VPC without a route out).
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

from PIL import Image

from hashmatch.matching.policy import MAX_UNEVEN_CROP_SEARCHES
from hashmatch.media.codec import MAX_FRAME_FRAMINGS, MAX_QUERIES, hashes_from_json, hashes_to_json, member_json
from hashmatch.media.model import CropSearch, Limits, MediaHashes, NeedsSegments, Rejected, RejectReason
from hashmatch.media.uneven import UnevenCropSearch
from hashmatch.media.video_crops import MAX_PLACES, VideoCropSearch

__all__ = ["DEFAULT_MEMORY_BYTES", "DEFAULT_SECONDS", "Sandbox", "SandboxLimits", "decoder_environment"]

# A 100 MP image peaks near 1.2 GB in the decoder, a 720p video's frame loop under 300 MB: the
# hasher function has 2048 MB, of which the server and the parent take ~250 MB.
DEFAULT_MEMORY_BYTES = 1536 * 1024**2
DEFAULT_SECONDS = 240.0
# The most a child may write back: a 4-hour video sampled at 1 fps with 8 orientations per frame.
MAX_RESULT_BYTES = 64 * 1024**2
# Seconds the server may take to start (importing numpy, Pillow, PyAV) and to answer beyond the
# child's own deadline.
_START_SECONDS = 60.0
_ANSWER_SLACK_SECONDS = 10.0
_PR_SET_DUMPABLE = 4  # linux/prctl.h

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxLimits:
    """What one file's hashing may use: bytes of address space beyond the child's start, CPU
    seconds, and wall-clock seconds (decoding waits on disk too)."""

    memory_bytes: int = DEFAULT_MEMORY_BYTES
    cpu_seconds: float = DEFAULT_SECONDS
    wall_seconds: float = DEFAULT_SECONDS * 1.5


class Sandbox:
    """Runs `hash_file` on one path in a limited child process.

    `hash(path, for_sharing=...)` returns `MediaHashes` (with the uneven-crop search rebuilt from
    the child's luma for a checked image) or raises `Rejected`: the file's own rejection, or
    ``too_large`` when the child ran out of memory or time, or ``corrupt`` when it crashed.
    Thread-safe (one request at a time); `close()` stops the fork server.
    """

    def __init__(self, limits: SandboxLimits | None = None, media_limits: Limits | None = None) -> None:
        self._limits = limits or SandboxLimits()
        self._media_limits = media_limits or Limits()
        self._server: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def hash(
        self, path: Path, *, for_sharing: bool = False, window: tuple[float, float | None] | None = None
    ) -> MediaHashes:
        """Raises `NeedsSegments` for a shared video too long for one go (hash its windows then)."""
        request = {
            "path": str(path),
            "for_sharing": for_sharing,
            "window": list(window) if window is not None else None,
            "limits": asdict(self._limits),
            "media_limits": asdict(self._media_limits),
        }
        with self._lock:
            server = self._running_server()
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(json.dumps(request).encode() + b"\n")
            server.stdin.flush()
            frame = _read_frame(server.stdout, self._limits.wall_seconds + _ANSWER_SLACK_SECONDS)
            if frame is None:
                self.close()
                raise Rejected(RejectReason.TOO_LARGE, "hashing did not answer in time")
        exitcode, payload = frame
        if payload is None:
            raise _failure(exitcode, self._limits)
        return _decoded(payload, self._media_limits)

    def close(self) -> None:
        if self._server is not None:
            self._server.kill()
            self._server.wait(timeout=10)
            self._server = None

    def _running_server(self) -> subprocess.Popen[bytes]:
        if self._server is None or self._server.poll() is not None:
            _not_dumpable()
            self._server = subprocess.Popen(
                [sys.executable, "-m", "hashmatch.edge.sandbox"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=decoder_environment(os.environ),
            )
        return self._server


def decoder_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """What the fork server and its children run with: `environment` without any ``AWS_*``
    variable, single-threaded numerics."""
    kept = {name: value for name, value in environment.items() if not name.upper().startswith("AWS_")}
    return {**kept, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _not_dumpable() -> None:
    """This process marked not dumpable (Linux ``PR_SET_DUMPABLE`` 0): processes of the same user,
    the decoders' among them, can then neither read its ``/proc/<pid>/environ`` nor attach to it.
    Elsewhere, or where the call fails, nothing changes (logged)."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    except (OSError, AttributeError):
        logger.warning("could not mark the process not dumpable", exc_info=True)


def _read_frame(stream: IO[bytes], seconds: float) -> tuple[int, bytes | None] | None:
    """(child exit code, its answer or None) from the server, or None when it fell silent."""
    deadline = time.monotonic() + seconds
    header = _read_exactly(stream, 8, deadline)
    if header is None:
        return None
    exitcode, size = struct.unpack(">iI", header)
    if size > MAX_RESULT_BYTES:
        return None
    if size == 0:
        return exitcode, None
    body = _read_exactly(stream, size, deadline)
    return None if body is None else (exitcode, body)


def _read_exactly(stream: IO[bytes], size: int, deadline: float) -> bytes | None:
    chunks, left = [], size
    descriptor = stream.fileno()
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([descriptor], [], [], remaining)[0]:
            return None
        chunk = os.read(descriptor, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _failure(exitcode: int, limits: SandboxLimits) -> Rejected:
    if exitcode in (-signal.SIGKILL, -signal.SIGXCPU):
        return Rejected(
            RejectReason.TOO_LARGE,
            f"hashing did not finish within {limits.cpu_seconds:.0f} s of CPU ({limits.wall_seconds:.0f} s wall)",
        )
    if exitcode < 0:
        return Rejected(RejectReason.CORRUPT, f"the decoder crashed on this file (signal {-exitcode})")
    return Rejected(RejectReason.CORRUPT, f"the decoder stopped on this file (exit code {exitcode})")


def _decoded(payload: bytes, media_limits: Limits) -> MediaHashes:
    """The child's JSON answer, checked as untrusted input; raises its rejection."""
    refusal: Exception | None = None
    try:
        answer = member_json(payload)
        if "rejected" in answer:
            refusal = Rejected(RejectReason(answer["rejected"]["reason"]), str(answer["rejected"]["message"])[:500])
        elif "segments" in answer:
            long = answer["segments"]
            duration, longest = float(long["duration"]), float(long["longest"])
            if not (longest > 0 and 0 < duration <= Limits().max_video_seconds * 2):
                raise ValueError(f"a video of {duration} s in windows of {longest} s")
            refusal = NeedsSegments(duration, longest, str(long["message"])[:500])
        else:
            hashes = hashes_from_json(answer["hashes"])
            search = _search(answer.get("uneven"))
            if search is not None:
                _room_for_the_search(hashes, search)
    except (ValueError, KeyError, TypeError) as error:
        raise Rejected(RejectReason.CORRUPT, f"the hasher's answer was malformed: {error}") from error
    if refusal is not None:
        raise refusal
    return hashes if search is None else replace(hashes, uneven_crops=search)


def _room_for_the_search(hashes: MediaHashes, search: CropSearch) -> None:
    """Raises ValueError unless what the search may add to `hashes` (`refine`) still fits what the
    coalition reads (`hashmatch.media.codec`): a picture's search adds a query per candidate it
    finds, a video's up to `MAX_PLACES` framings to each sample. A hasher never comes near these
    limits; a child that does is not answering as the hasher would."""
    if isinstance(search, VideoCropSearch):
        fullest = max((len(frame.framings) for frame in hashes.frames), default=0)
        if fullest > MAX_FRAME_FRAMINGS - MAX_PLACES:
            raise ValueError(f"a sample with {fullest} framings leaves no room for the search's places")
    elif len(hashes.queries) > MAX_QUERIES - MAX_UNEVEN_CROP_SEARCHES:
        raise ValueError(f"{len(hashes.queries)} queries leave no room for the search's findings")


def _search(raw: Any) -> CropSearch | None:
    """The child's search, checked as untrusted input: a video's (its samples and probes) or a picture's."""
    if raw is None:
        return None
    return VideoCropSearch.from_json(raw) if "samples" in raw else UnevenCropSearch.from_json(raw)


def _hash_in_child(
    path: str, for_sharing: bool, media_limits: Limits, window: tuple[float, float | None] | None = None
) -> bytes:
    """In the child: hash and answer in JSON."""
    from hashmatch.media.hashing import hash_file

    try:
        hashes = hash_file(path, media_limits, for_sharing=for_sharing, window=window)
        answer: dict[str, Any] = {"hashes": hashes_to_json(hashes)}
        if hashes.uneven_crops is not None:
            answer["uneven"] = hashes.uneven_crops.to_json()
    except Rejected as rejected:
        answer = {"rejected": {"reason": rejected.reason.value, "message": rejected.message}}
    except NeedsSegments as long:
        answer = {"segments": {"duration": long.duration, "longest": long.longest, "message": long.message}}
    except MemoryError:
        answer = {"rejected": {"reason": RejectReason.TOO_LARGE.value, "message": "hashing ran out of memory"}}
    return json.dumps(answer).encode()


def _limit_resources(limits: SandboxLimits) -> None:
    memory = _address_space_bytes() + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(limits.cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def _address_space_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _serve_one(request: dict[str, Any]) -> tuple[int, bytes]:
    """Fork a child for one request; its exit code and answer (b"" when it gave none)."""
    limits = SandboxLimits(**request["limits"])
    media_limits = Limits(**request["media_limits"])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        code = 0
        try:
            _limit_resources(limits)
            window = request.get("window")
            answer = _hash_in_child(
                request["path"],
                bool(request["for_sharing"]),
                media_limits,
                (float(window[0]), None if window[1] is None else float(window[1])) if window else None,
            )
            with os.fdopen(write_end, "wb") as out:
                out.write(answer)
        except BaseException:
            code = 70  # EX_SOFTWARE: an error the child could not even report
        os._exit(code)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + limits.wall_seconds
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
            os.kill(pid, signal.SIGKILL)
            break
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_RESULT_BYTES:
            os.kill(pid, signal.SIGKILL)
            chunks = []
            break
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    exitcode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    answer = b"".join(chunks)
    return exitcode, answer if exitcode == 0 else b""


def _warm_up() -> None:
    """Import every decoder and fill the caches a first hash fills (Pillow's plugin registry, PDQ's
    filter matrices, the DCT), once in the server, so no forked child pays for them."""
    import tempfile

    import numpy as np

    import hashmatch.media.video  # noqa: F401
    from hashmatch.media.hashing import hash_file

    Image.init()
    gradient = np.add.outer(np.arange(480), np.arange(640)).astype(np.uint8)
    picture = Image.fromarray(np.stack([gradient, gradient[::-1], gradient[:, ::-1]], axis=-1))
    with tempfile.TemporaryDirectory(prefix="hashmatch-warm-") as folder:
        for name in ("warm.jpg", "warm.png"):
            path = Path(folder) / name
            picture.save(path)
            hash_file(path)


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The fork server's loop: one JSON request per line in, one framed answer per request out."""
    import hashmatch.media.hashing
    import hashmatch.media.image
    import hashmatch.media.video  # noqa: F401

    for line in requests:
        exitcode, answer = _serve_one(json.loads(line))
        answers.write(struct.pack(">iI", exitcode, len(answer)) + answer)
        answers.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
