"""Hash-list files: sharing or withdrawing hashes without releasing the media.

Three formats, told apart by content:

- JSON Lines: one object per line, ``{"signal": "pdq", "hash": "..."}`` or
  ``{"signals": {"pdq": "...", "md5": "..."}}``, optionally with ``labels``, ``severity``,
  ``incident`` and ``note``, which override the file's metadata for that line; a line may also
  carry a file's whole hashes as `hashmatch hash --for-share` prints them (``framings``,
  ``frames``, ``quality``, ``media``: `hashmatch.media.codec`), so a share made at the member's
  edge is stored as robustly as media dropped here;
- CSV with a header: either ``signal,hash[,labels,...]`` or one column per signal
  (``sha256,md5,pdq,phash``); ``labels`` is ``;``-separated inside a cell;
- one hash per line, as ``signal:hash`` or a bare hash whose length names the signal
  (32 hex digits: md5, 16: phash; 64 is sha256 or pdq, so those need the prefix, or the
  whole file a ``signal`` metadata value).

Signal names are the registry's (`hashmatch.signals.SIGNALS`), aliases included, so lists written
by other systems with their own names for a signal read as they are; which bare lengths name a
signal is derived from the registry too.

Blank lines and lines starting with ``#`` are skipped. The whole file is validated before
anything is stored: one bad line rejects the file, naming the line.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from hashmatch.media.codec import hashes_from_json
from hashmatch.media.model import MediaHashes, Rejected, RejectReason
from hashmatch.signals import SIGNALS, UnknownSignal

MAX_HASH_LIST_BYTES = 64 * 1024**2
MAX_HASH_LIST_ENTRIES = 1_000_000
# Fields of a JSON Lines entry or CSV column that carry metadata, not hashes.
_OVERRIDES = ("severity", "incident", "note")
# Fields only a file's whole hashes have (`hashmatch.media.codec`).
_WHOLE_HASHES = frozenset({"media", "framings", "frames", "quality"})


@dataclass(frozen=True)
class HashListEntry:
    """The hashes of one piece of media, with per-entry overrides of the file's metadata, and
    where the line carried them, the file's whole hashes (framings, frames)."""

    signals: dict[str, str]
    line: int
    labels: tuple[str, ...] | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    hashes: MediaHashes | None = None


def looks_like_hash_list(head: bytes) -> bool:
    """True when the file's first bytes are text, as every hash-list format is."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        if error.start < len(head) - 4:
            return False
    return b"\x00" not in head


def parse_hash_list(data: bytes, default_signal: str | None = None) -> list[HashListEntry]:
    """Every entry of a hash-list file; raises `Rejected(INVALID_HASH_LIST)` naming the bad line."""
    if len(data) > MAX_HASH_LIST_BYTES:
        raise Rejected(RejectReason.TOO_LARGE, f"a hash list is at most {MAX_HASH_LIST_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Rejected(RejectReason.INVALID_HASH_LIST, "a hash list must be UTF-8 text") from error
    if default_signal is not None:
        try:
            default_signal = SIGNALS.get(default_signal.strip().lower()).name
        except UnknownSignal as error:
            raise Rejected(RejectReason.INVALID_HASH_LIST, f"metadata signal: {error}") from error
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)]
    lines = [(number, line) for number, line in lines if line and not line.startswith("#")]
    if not lines:
        raise Rejected(RejectReason.INVALID_HASH_LIST, "the hash list has no entries")
    if len(lines) > MAX_HASH_LIST_ENTRIES + 1:
        raise Rejected(RejectReason.TOO_LARGE, f"a hash list has at most {MAX_HASH_LIST_ENTRIES} entries")
    first = lines[0][1]
    if first.startswith("{"):
        return [_json_entry(number, line) for number, line in lines]
    if "," in first and not _is_hash_token(first.split(",")[0]):
        return _csv_entries(lines)
    return [_plain_entry(number, line, default_signal) for number, line in lines]


def _invalid(line: int, message: str) -> Rejected:
    return Rejected(RejectReason.INVALID_HASH_LIST, f"line {line}: {message}")


def _signals(line: int, pairs: dict[str, str]) -> dict[str, str]:
    if not pairs:
        raise _invalid(line, "no hash")
    signals: dict[str, str] = {}
    for name, value in pairs.items():
        try:
            signal, normalised = SIGNALS.parse(name, value)
        except ValueError as error:
            raise _invalid(line, str(error)) from error
        signals[signal] = normalised
    return signals


def _labels(line: int, value: object) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return tuple(label.strip() for label in value.replace(";", ",").split(",") if label.strip())
    if isinstance(value, list) and all(isinstance(label, str) for label in value):
        return tuple(value)
    raise _invalid(line, "labels must be a string or a list of strings")


def _overrides(source: dict[str, object]) -> dict[str, str]:
    return {k: str(source[k]) for k in _OVERRIDES if source.get(k) not in (None, "")}


def _json_entry(line: int, text: str) -> HashListEntry:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(line, f"not JSON ({error.msg})") from error
    if not isinstance(record, dict):
        raise _invalid(line, "each line must be a JSON object")
    if _WHOLE_HASHES & record.keys():
        try:
            hashes = hashes_from_json(record)
        except ValueError as error:
            raise _invalid(line, str(error)) from error
        labels = _labels(line, record.get("labels"))
        return HashListEntry(hashes.signals, line, labels, _overrides(record), hashes)
    if isinstance(record.get("signals"), dict):
        pairs = {str(k): str(v) for k, v in record["signals"].items()}
    elif "signal" in record and "hash" in record:
        pairs = {str(record["signal"]): str(record["hash"])}
    else:
        pairs = {k: str(v) for k, v in record.items() if k in SIGNALS}
    return HashListEntry(_signals(line, pairs), line, _labels(line, record.get("labels")), _overrides(record))


def _csv_entries(lines: list[tuple[int, str]]) -> list[HashListEntry]:
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    reader.fieldnames = header
    by_signal_column = [name for name in header if name in SIGNALS]
    if not by_signal_column and not {"signal", "hash"} <= set(header):
        raise _invalid(lines[0][0], "a CSV header needs signal,hash or signal-named columns")
    entries = []
    for (number, _), row in zip(lines[1:], reader, strict=True):
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if by_signal_column:
            pairs = {name: cells[name] for name in by_signal_column if cells.get(name)}
        else:
            pairs = {cells.get("signal", ""): cells.get("hash", "")}
        entries.append(
            HashListEntry(_signals(number, pairs), number, _labels(number, cells.get("labels")), _overrides(cells))
        )
    if not entries:
        raise _invalid(lines[0][0], "the CSV has a header but no rows")
    return entries


def _is_hash_token(token: str) -> bool:
    token = token.strip().lower()
    if ":" in token:
        token = token.split(":", 1)[1]
    return bool(SIGNALS.by_hex_length(len(token))) and all(c in "0123456789abcdef" for c in token)


def _plain_entry(line: int, text: str, default_signal: str | None) -> HashListEntry:
    if ":" in text:
        signal, value = (part.strip() for part in text.split(":", 1))
    elif default_signal:
        signal, value = default_signal, text
    else:
        candidates = SIGNALS.by_hex_length(len(text))
        if not candidates:
            raise _invalid(line, f"cannot tell the signal of {text!r}")
        if len(candidates) > 1:
            names = " or ".join(s.name for s in candidates)
            prefixed = " or ".join(f"{s.name}:HASH" for s in candidates)
            raise _invalid(line, f"a {len(text)}-digit hash is {names}: write {prefixed}")
        signal, value = candidates[0].name, text
    return HashListEntry(_signals(line, {signal.lower(): value}), line)
