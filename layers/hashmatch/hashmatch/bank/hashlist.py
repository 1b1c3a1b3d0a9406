"""Hash-list files: sharing or withdrawing hashes without releasing the media.

Five formats, told apart by content:

- JSON Lines: one object per line, ``{"signal": "pdq", "hash": "..."}`` or
  ``{"signals": {"pdq": "...", "md5": "..."}}``, optionally with ``labels``, ``severity``,
  ``incident`` and ``note``, which override the file's metadata for that line; a line may also
  carry a file's whole hashes as `hashmatch hash --for-share` prints them (``framings``,
  ``frames``, ``quality``, ``media``: `hashmatch.media.codec`), so a share made at the member's
  edge is stored as robustly as media dropped here (`hashmatch export --format jsonl` writes
  this form too);
- CSV with a header: either ``signal,hash[,labels,...]`` or one column per signal
  (``sha256,md5,pdq,phash``); ``labels`` is ``;``-separated inside a cell;
- python-threatexchange's dataset CSV (``tx dataset -P --csv``), or any CSV headed
  ``signal_type,signal_str[,...]`` (`hashmatch export --format csv`): ``signal_type`` and
  ``signal_str`` are read as ``signal`` and ``hash``; its ``tags`` (space-separated) become the
  row's labels when it has no ``labels`` column; ``collab``, ``contributor`` and ``shared_at`` are
  ignored (whoever drops the file is the contributor). A row whose ``category`` is
  ``NEGATIVE_CLASS`` (tx's mark for false positives and test data) rejects the file;
- python-threatexchange's ``<signal_type> <signal_str>`` lines, one signal each, separated by
  spaces: what `tx hash` prints, what `tx dataset -P -S` prints and what its local-file collab
  reads (``pdq <64 hex>``, ``video_md5 <32 hex>``, ``video_sha256 <64 hex>``);
- one hash per line, as ``signal:hash`` or a bare hash whose length names the signal
  (32 hex digits: md5, 16: phash; 64 is sha256 or pdq, so those need the prefix, or the
  whole file a ``signal`` metadata value).

Signal names are the registry's (`hashmatch.signals.SIGNALS`), aliases included, so lists written
by other systems with their own names for a signal read as they are (tx's ``video_md5`` and
``video_sha256`` are md5 and sha256); which bare lengths name a signal is derived from the
registry too. A type hashmatch does not know (tx's ``url``, ``url_md5``, ``raw_text``,
``trend_query``, ``text_tlsh``, ``pdq_ocr``) rejects the file naming the line and the type: it is
never dropped silently, as tx drops the types it does not know.

A signal without a single-hash text form (``vpdq``: a video's frame hashes, which tx prints as a
JSON list of ``"pdq_hex,quality,timestamp"`` strings) is rejected too, naming the line: the bank
keeps a shared video under its sha256 and the frame runs the service derives from its
`MediaHashes`, and a vpdq line alone carries no sha256 to keep it under (nor can the hash-list
entry it would become cross to the service without one). Share such a video as media, or as the
line `hashmatch hash --for-share` prints for it; `tx hash video` without the vpdq extension (or
with ``-S video_sha256``) prints only lines that read here.

Blank lines and lines starting with ``#`` are skipped. The whole file is validated before
anything is stored: one bad line rejects the file, naming the line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from hashmatch.media.codec import hashes_from_json, member_json
from hashmatch.media.model import MediaHashes, Rejected, RejectReason
from hashmatch.signals import SIGNALS, SignalType, UnknownSignal

MAX_HASH_LIST_BYTES = 64 * 1024**2
MAX_HASH_LIST_ENTRIES = 1_000_000
# Fields of a JSON Lines entry or CSV column that carry metadata, not hashes.
_OVERRIDES = ("severity", "confidence", "incident", "note")
# The most characters a line's own note (or other override) may have: it goes to every member with
# the item, a hundred items to a message.
MAX_OVERRIDE = 1000
# Fields only a file's whole hashes have (`hashmatch.media.codec`).
_WHOLE_HASHES = frozenset({"media", "framings", "frames", "quality"})
# CSV columns naming a row's signal and holding its hash: ours, then python-threatexchange's.
_CSV_SIGNAL_COLUMNS = ("signal", "signal_type")
_CSV_HASH_COLUMNS = ("hash", "signal_str")
# python-threatexchange's opinion category for false positives and test data: never shared.
_NEGATIVE_CATEGORY = "negative_class"
# `signal:hash` (spaces around the colon allowed) and python-threatexchange's `signal_type signal_str`.
_PREFIXED_LINE = re.compile(r"([A-Za-z0-9_]+)\s*:\s*(.*)")
_TYPED_LINE = re.compile(r"([A-Za-z0-9_]+)\s+(\S.*)")


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
    if _is_csv_header(first):
        return _csv_entries(lines)
    return [_plain_entry(number, line, default_signal) for number, line in lines]


def _invalid(line: int, message: str) -> Rejected:
    return Rejected(RejectReason.INVALID_HASH_LIST, f"line {line}: {message}")


def _known_signal_names() -> str:
    signals = SIGNALS.hash_signals()
    aliases = [alias for signal in signals for alias in signal.aliases]
    names = ", ".join(signal.name for signal in signals)
    return f"{names} (also {', '.join(aliases)})" if aliases else names


def _signal_type(line: int, name: str) -> SignalType:
    """The registered signal `name` names, if a hash list can hold it; otherwise the rejection."""
    try:
        signal = SIGNALS.get(name.strip().lower())
    except UnknownSignal:
        raise _invalid(line, f"unknown signal type {name!r}; known: {_known_signal_names()}") from None
    if signal.hex_length is None:
        raise _invalid(
            line,
            f"{name} (a video's frame hashes) cannot be read from a hash list: a shared video is kept "
            f"under its sha256, which a {name} line does not carry. Share the video itself or the line "
            f"`hashmatch hash --for-share` prints for it, or leave the {name} lines out "
            "(`tx hash video` without the vpdq extension prints only video_md5 and video_sha256)",
        )
    return signal


def _signals(line: int, pairs: dict[str, str]) -> dict[str, str]:
    if not pairs:
        raise _invalid(line, "no hash")
    signals: dict[str, str] = {}
    for name, value in pairs.items():
        signal = _signal_type(line, name)
        if signal.name in signals:  # "pdq" and "PDQ", or a name and its alias: neither may silently win
            raise _invalid(line, f"{signal.name} is given twice (as {name!r} and an earlier spelling)")
        try:
            signals[signal.name] = signal.parse(value)
        except ValueError as error:
            raise _invalid(line, str(error)) from error
    return signals


def _labels(line: int, value: object) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return tuple(label.strip() for label in value.replace(";", ",").split(",") if label.strip())
    if isinstance(value, list) and all(isinstance(label, str) for label in value):
        return tuple(value)
    raise _invalid(line, "labels must be a string or a list of strings")


def _tags(value: str | None) -> tuple[str, ...] | None:
    """python-threatexchange's tags cell (space-separated; commas and semicolons read too) as labels."""
    tags = tuple(tag for tag in re.split(r"[\s,;]+", value or "") if tag)
    return tags or None


def _overrides(line: int, source: Mapping[str, object]) -> dict[str, str]:
    """The line's own severity, confidence, incident and note; raises `Rejected` for one longer
    than `MAX_OVERRIDE` characters (every member is sent them with the item)."""
    found = {k: str(source[k]) for k in _OVERRIDES if source.get(k) not in (None, "")}
    for name, value in found.items():
        if len(value) > MAX_OVERRIDE:
            raise _invalid(line, f"{name} is {len(value)} characters; at most {MAX_OVERRIDE}")
    return found


def _json_entry(line: int, text: str) -> HashListEntry:
    try:
        record = member_json(text)
    except ValueError as error:
        raise _invalid(line, str(error)) from None
    if not isinstance(record, dict):
        raise _invalid(line, "each line must be a JSON object")
    if _WHOLE_HASHES & record.keys():
        try:
            hashes = hashes_from_json(record)
        except ValueError as error:
            raise _invalid(line, str(error)) from error
        labels = _labels(line, record.get("labels"))
        return HashListEntry(hashes.signals, line, labels, _overrides(line, record), hashes)
    if isinstance(record.get("signals"), dict):
        pairs = {str(k): str(v) for k, v in record["signals"].items()}
    elif "signal" in record and "hash" in record:
        pairs = {str(record["signal"]): str(record["hash"])}
    else:
        pairs = {k: str(v) for k, v in record.items() if k in SIGNALS}
    return HashListEntry(_signals(line, pairs), line, _labels(line, record.get("labels")), _overrides(line, record))


def _is_csv_header(first: str) -> bool:
    """Whether the first line is a CSV header: comma-separated, and its first cell neither a hash
    nor python-threatexchange's ``signal_type signal_str`` (whose signal_str may hold commas)."""
    if "," not in first:
        return False
    cell = first.split(",", 1)[0].strip()
    return not _is_hash_token(cell) and not any(c.isspace() for c in cell)


def _csv_rows(lines: list[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each CSV row, a row named by the line it starts on (a quoted cell
    may span lines). A row `csv` cannot read (a cell over its field limit, 128 KiB) rejects the
    list naming the line, as any other bad line does."""
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)))
    consumed = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _invalid(lines[consumed][0], f"not CSV that can be read ({error})") from None
        yield lines[consumed][0], row
        consumed = reader.line_num


def _csv_entries(lines: list[tuple[int, str]]) -> list[HashListEntry]:
    rows = _csv_rows(lines)
    header = [name.strip().lower() for name in next(rows)[1]]
    by_signal_column = [name for name in header if name in SIGNALS]
    signal_column = next((name for name in _CSV_SIGNAL_COLUMNS if name in header), None)
    hash_column = next((name for name in _CSV_HASH_COLUMNS if name in header), None)
    if not by_signal_column and (signal_column is None or hash_column is None):
        raise _invalid(lines[0][0], "a CSV header needs signal,hash or signal_type,signal_str, or signal-named columns")
    entries = []
    for number, row in rows:
        cells = {name: cell.strip() for name, cell in zip(header, row, strict=False)}
        if cells.get("category", "").lower() == _NEGATIVE_CATEGORY:
            raise _invalid(
                number,
                "category NEGATIVE_CLASS marks a signal as a false positive or test data, not harmful "
                "media: leave such rows out of the list",
            )
        if by_signal_column:
            pairs = {name: cells[name] for name in by_signal_column if cells.get(name)}
        else:
            assert signal_column is not None and hash_column is not None
            pairs = {cells.get(signal_column, ""): cells.get(hash_column, "")}
        labels = _labels(number, cells["labels"]) if "labels" in cells else _tags(cells.get("tags"))
        entries.append(HashListEntry(_signals(number, pairs), number, labels, _overrides(number, cells)))
    if not entries:
        raise _invalid(lines[0][0], "the CSV has a header but no rows")
    return entries


def _is_hash_token(token: str) -> bool:
    token = token.strip().lower()
    if ":" in token:
        token = token.split(":", 1)[1]
    return bool(SIGNALS.by_hex_length(len(token))) and all(c in "0123456789abcdef" for c in token)


def _plain_entry(line: int, text: str, default_signal: str | None) -> HashListEntry:
    if prefixed := _PREFIXED_LINE.fullmatch(text):
        signal, value = prefixed.group(1), prefixed.group(2).strip()
    elif typed := _TYPED_LINE.fullmatch(text):
        signal, value = typed.group(1), typed.group(2).strip()
        if _is_hash_token(signal):
            raise _invalid(line, f"text after the hash: {value!r}; write one hash a line, or <signal_type> <hash>")
        known = _signal_type(line, signal)
        if any(c.isspace() for c in value):
            raise _invalid(
                line,
                f"text after the {known.name} hash: a line is <signal_type> <hash> and nothing more "
                "(tx dataset -P adds the collab and category: use tx dataset -P -S, or --csv)",
            )
    elif ":" in text:
        signal, value = (part.strip() for part in text.split(":", 1))
    elif default_signal:
        signal, value = default_signal, text
    else:
        candidates = SIGNALS.by_hex_length(len(text))
        if not candidates:
            raise _invalid(line, f"cannot tell the signal of {text!r}")
        if len(candidates) > 1:
            names = " or ".join(s.name for s in candidates)
            prefixed_forms = " or ".join(f"{s.name}:HASH" for s in candidates)
            raise _invalid(line, f"a {len(text)}-digit hash is {names}: write {prefixed_forms}")
        signal, value = candidates[0].name, text
    return HashListEntry(_signals(line, {signal: value}), line)
