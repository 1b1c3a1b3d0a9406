"""Exporting the bank: its active items, with provenance, in the formats the field already speaks.

    hashmatch export --format jsonl|csv|threatexchange [--label L] [--contributor P] [--since T] [--output FILE]

Three formats:

- ``jsonl``: one JSON object per item: ``item_id``, ``contributor``, ``shared_at``, ``labels``,
  ``severity``/``confidence``/``incident``/``note`` where set, ``media`` and ``signals`` (name to hash);
- ``csv``: header ``signal_type,signal_str,contributor,shared_at,labels``, one row per signal of
  each item (hashmatch's signal names; labels ``;``-separated);
- ``threatexchange``: python-threatexchange's ``<signal_type> <signal_str>`` lines, one per signal
  tx has a type for (``pdq``; md5 as ``video_md5``, sha256 as ``video_sha256``): what a tx
  local-file collab reads (``tx config collab edit local_file NAME --create --filename FILE``) and
  what `tx dataset -P -S` prints. It carries no provenance. pHash is left out, because tx has no
  pHash type (tx would drop those lines silently anyway); the hashes left out are counted.
  tx keeps md5 and sha256 for video only (`tx match video FILE`), and a tx collab whose pdq list
  holds exactly one hash never matches (a faiss quirk of tx 1.2.17), so the export warns then.

Each format reads back as a share list (`hashmatch.bank.hashlist.parse_hash_list`): jsonl item by
item with its signals, labels and overrides; csv signal by signal with its labels; threatexchange
signal by signal (labels then come from the share's metadata). A video's frame hashes and a
picture's framings are not exported: the bank keeps them in its change log for the matcher's
index, not in the item's record, so an exported video is its exact hashes.

Withdrawn items are never exported. Filters: ``label`` (the item carries it), ``contributor`` (the
member platform that shared it) and ``since`` (shared at or after that ISO 8601 time; UTC where
no offset is given).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from hashmatch.bank.model import SharedItem
from hashmatch.service.ports import Bank
from hashmatch.signals import SIGNALS

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "TX_SIGNAL_TYPES",
    "ExportSummary",
    "add_export_command",
    "export_bank",
    "export_command",
    "export_items",
    "parse_time",
]

FORMATS = ("jsonl", "csv", "threatexchange")
CSV_COLUMNS = ("signal_type", "signal_str", "contributor", "shared_at", "labels")
# hashmatch's signal names to python-threatexchange's `SignalType.get_name()`; signals missing here
# (phash) have no tx type and are left out of a threatexchange export.
TX_SIGNAL_TYPES = {"pdq": "pdq", "md5": "video_md5", "sha256": "video_sha256"}
_PROVENANCE_NOTES = ("severity", "confidence", "incident", "note")
# The CLI redraws its progress line at most this often.
_PROGRESS_SECONDS = 0.25


@dataclass
class ExportSummary:
    """What an export wrote: `items` exported, `lines` written (a CSV's header not counted),
    `read` items read from the bank (withdrawn and filtered-out ones included), `skipped` hashes
    left out by signal name, and `warnings` for the reader of the file."""

    items: int = 0
    lines: int = 0
    read: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (a date alone is its midnight; no offset means UTC) as an aware UTC datetime;
    raises ValueError for anything else."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def export_bank(
    bank: Bank,
    out: TextIO,
    fmt: str,
    label: str | None = None,
    contributor: str | None = None,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the bank's active items (those matching every filter given) to `out` in `fmt`
    (``jsonl``, ``csv`` or ``threatexchange``); returns how many items were exported.

    ``threatexchange`` leaves pHash hashes out (python-threatexchange has no pHash type);
    `export_items` returns how many it left out, with the rest of the summary. `progress` is
    called with the number of items read from the bank so far, as they are read.
    """
    return export_items(bank, out, fmt, label=label, contributor=contributor, since=since, progress=progress).items


def export_items(
    bank: Bank,
    out: TextIO,
    fmt: str,
    *,
    label: str | None = None,
    contributor: str | None = None,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """`export_bank`, returning the whole `ExportSummary`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    summary = ExportSummary()
    items = _selected(bank, summary, label, contributor, since, progress)
    if fmt == "jsonl":
        _write_jsonl(items, out, summary)
    elif fmt == "csv":
        _write_csv(items, out, summary)
    else:
        _write_threatexchange(items, out, summary)
    if progress is not None:
        progress(summary.read)
    return summary


def _selected(
    bank: Bank,
    summary: ExportSummary,
    label: str | None,
    contributor: str | None,
    since: str | None,
    progress: Callable[[int], None] | None,
) -> Iterator[SharedItem]:
    """The bank's active items passing the filters, counted into `summary` as they are read."""
    since_at = None if since is None else parse_time(since)
    # The bank compares `shared_at` as text: ask from the start of the second (a prefix of every
    # time in it, whatever its precision or suffix) and compare exactly here.
    bank_since = None if since_at is None else since_at.strftime("%Y-%m-%dT%H:%M:%S")
    for item in bank.iter_items(bank_since):
        summary.read += 1
        if progress is not None:
            progress(summary.read)
        provenance = item.provenance
        if item.status != "active":
            continue
        if label is not None and label not in provenance.labels:
            continue
        if contributor is not None and provenance.contributor != contributor:
            continue
        if since_at is not None and not _shared_since(provenance.shared_at, since_at):
            continue
        summary.items += 1
        yield item


def _shared_since(shared_at: str, since: datetime) -> bool:
    try:
        return parse_time(shared_at) >= since
    except ValueError:
        return shared_at >= since.isoformat()


def _ordered_signals(item: SharedItem) -> list[tuple[str, str]]:
    """The item's signals in the registry's order (any the registry no longer has last, by name)."""
    known = [(s.name, item.signals[s.name]) for s in SIGNALS if s.name in item.signals]
    names = {name for name, _ in known}
    return known + sorted((name, value) for name, value in item.signals.items() if name not in names)


def _item_json(item: SharedItem) -> dict[str, Any]:
    provenance = item.provenance
    record: dict[str, Any] = {
        "item_id": item.item_id,
        "contributor": provenance.contributor,
        "shared_at": provenance.shared_at,
        "labels": list(provenance.labels),
    }
    for name in _PROVENANCE_NOTES:
        if getattr(provenance, name):
            record[name] = getattr(provenance, name)
    record["media"] = item.media
    record["signals"] = dict(_ordered_signals(item))
    return record


def _write_jsonl(items: Iterator[SharedItem], out: TextIO, summary: ExportSummary) -> None:
    for item in items:
        out.write(json.dumps(_item_json(item), ensure_ascii=False, separators=(",", ":")) + "\n")
        summary.lines += 1


def _write_csv(items: Iterator[SharedItem], out: TextIO, summary: ExportSummary) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        provenance = item.provenance
        labels = ";".join(provenance.labels)
        for name, value in _ordered_signals(item):
            writer.writerow((name, value, provenance.contributor, provenance.shared_at, labels))
            summary.lines += 1


def _write_threatexchange(items: Iterator[SharedItem], out: TextIO, summary: ExportSummary) -> None:
    pdq_lines = 0
    for item in items:
        for name, value in _ordered_signals(item):
            tx_name = TX_SIGNAL_TYPES.get(name)
            if tx_name is None:
                summary.skipped[name] = summary.skipped.get(name, 0) + 1
                continue
            # tx's pdq accepts lower case only, and its md5/sha256 index never matches upper case.
            out.write(f"{tx_name} {value.lower()}\n")
            summary.lines += 1
            pdq_lines += tx_name == "pdq"
    for name, count in sorted(summary.skipped.items()):
        summary.warnings.append(
            f"left out {count} {name} hash{'es' if count != 1 else ''}: python-threatexchange has no {name} type"
        )
    if pdq_lines == 1:
        summary.warnings.append(
            "the file holds exactly one pdq hash: python-threatexchange 1.2.17 never matches a collab whose "
            "pdq list has a single hash (a faiss quirk); export more items, or add a second pdq line"
        )


# -- the `hashmatch export` sub-command ------------------------------------------------------------


def _time_argument(text: str) -> str:
    try:
        moment = parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)"
        ) from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def add_export_command(subparsers: Any, where: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """Define ``hashmatch export`` on the CLI's sub-parsers; `where` adds the options saying where
    the stack is. Run it with `export_command(args, bank)`."""
    export = subparsers.add_parser(
        "export",
        help="write the bank's active items with provenance to a file (jsonl, csv or threatexchange)",
        description="Write the bank's active (not withdrawn) items, with who shared them, when and their "
        "labels, as JSON Lines, CSV, or python-threatexchange's '<signal_type> <hash>' lines. "
        "Reads the whole bank table (a DynamoDB Scan): meant for occasional exports.",
    )
    export.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="jsonl: one item per line with provenance; csv: signal_type,signal_str,contributor,shared_at,labels, "
        "one row per signal; threatexchange: '<signal_type> <hash>' lines a tx local_file collab reads "
        "(pdq, video_md5, video_sha256; pHash left out, tx has no pHash)",
    )
    export.add_argument("--label", metavar="LABEL", help="only items carrying this label")
    export.add_argument("--contributor", metavar="PLATFORM", help="only items this member platform shared")
    export.add_argument(
        "--since",
        type=_time_argument,
        metavar="TIME",
        help="only items shared at or after TIME, ISO 8601 (2026-01-31, 2026-01-31T12:00:00Z; UTC without an offset)",
    )
    export.add_argument(
        "--output",
        metavar="FILE",
        help="write to FILE (default: standard output); written beside it first and renamed when complete",
    )
    where(export)
    return export


class _ProgressLine:
    """A progress line on stderr, redrawn in place while items are read (only on a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._started = time.monotonic()
        self._drawn = 0.0

    def __call__(self, read: int) -> None:
        now = time.monotonic()
        if not self._enabled or now - self._drawn < _PROGRESS_SECONDS:
            return
        self._drawn = now
        rate = read / max(now - self._started, 1e-9)
        self._stream.write(f"\rhashmatch export: {read:,} items read ({rate:,.0f}/s)\x1b[K")
        self._stream.flush()

    def close(self) -> None:
        if self._enabled and self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


def export_command(args: argparse.Namespace, bank: Bank) -> int:
    """Run ``hashmatch export`` on `bank`; returns the exit code (0, or 2 when the output cannot be
    written). A summary (and any warning about the file) goes to stderr; AWS errors propagate."""
    output = Path(args.output) if args.output else None
    progress = _ProgressLine(sys.stderr)
    partial = None if output is None else output.with_name(f".{output.name}.partial")
    try:
        stream = sys.stdout if partial is None else partial.open("w", encoding="utf-8", newline="")
    except OSError as error:
        print(f"hashmatch: cannot write {output}: {error.strerror or error}", file=sys.stderr)
        return 2
    try:
        summary = export_items(
            bank,
            stream,
            args.format,
            label=args.label,
            contributor=args.contributor,
            since=args.since,
            progress=progress,
        )
        stream.flush()
    except BaseException:
        if partial is not None:
            stream.close()
            partial.unlink(missing_ok=True)
        raise
    finally:
        progress.close()
    if partial is not None and output is not None:
        stream.close()
        os.replace(partial, output)
    destination = f" to {output}" if output is not None else ""
    print(
        f"hashmatch export: {summary.items:,} items ({summary.lines:,} lines) as {args.format}{destination}; "
        f"{summary.read:,} read",
        file=sys.stderr,
    )
    for warning in summary.warnings:
        print(f"hashmatch export: {warning}", file=sys.stderr)
    return 0
