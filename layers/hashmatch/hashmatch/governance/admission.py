"""What may enter the bank: every shared item passes `admit` before anything is written.

An item is refused (the whole share with it, so nothing is half-written) when a label or its
severity is outside the taxonomy, or when a hash it would have the matcher index carries too
little information to share: a flat or near-constant bit pattern matches unrelated content, and
the matcher sees through captions and crops, so one such hash would flood every member with
false matches. Labels are stored as taxonomy ids (aliases resolved).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from hashmatch.bank.hashlist import HashListEntry
from hashmatch.bank.model import SharedItem
from hashmatch.governance.taxonomy import Taxonomy, TaxonomyError, taxonomy
from hashmatch.media.model import Rejected, RejectReason
from hashmatch.signals import SIGNALS
from hashmatch.signals.base import MatchKind
from hashmatch.signals.bits import hex_to_bytes, popcount_rows, unpack_hex_rows

__all__ = ["BenignScreen", "admit", "admitted_confidence", "admitted_labels", "refuse_degenerate", "refuse_list"]


def admit(item: SharedItem, where: str = "", scheme: Taxonomy | None = None) -> SharedItem:
    """`item` with its labels as taxonomy ids and its severity on the scale; raises `Rejected`
    (`invalid_label`, `invalid_severity`, `invalid_confidence`, `degenerate_hash`) saying what is wrong, prefixed by
    `where` (e.g. "line 3: ") for an entry of a hash list."""
    provenance = item.provenance
    labels, severity = admitted_labels(provenance.labels, provenance.severity, where, scheme)
    confidence = admitted_confidence(provenance.confidence, where, scheme)
    refuse_degenerate(((entry.signal, entry.value) for entry in item.near_entries), where)
    return replace(item, provenance=replace(provenance, labels=labels, severity=severity, confidence=confidence))


def admitted_labels(
    labels: Iterable[str], severity: str | None, where: str = "", scheme: Taxonomy | None = None
) -> tuple[tuple[str, ...], str | None]:
    """The labels as taxonomy ids and the severity on the scale; raises `Rejected` otherwise."""
    scheme = scheme or taxonomy()
    try:
        ids = scheme.canonical_labels(labels)
    except TaxonomyError as error:
        raise Rejected(RejectReason.INVALID_LABEL, f"{where}{error}") from None
    try:
        return ids, scheme.severity(severity)
    except TaxonomyError as error:
        raise Rejected(RejectReason.INVALID_SEVERITY, f"{where}{error}") from None


def admitted_confidence(confidence: str | None, where: str = "", scheme: Taxonomy | None = None) -> str | None:
    """The confidence on the taxonomy's scale; raises `Rejected` (`invalid_confidence`) otherwise."""
    try:
        return (scheme or taxonomy()).confidence(confidence)
    except TaxonomyError as error:
        raise Rejected(RejectReason.INVALID_CONFIDENCE, f"{where}{error}") from None


def refuse_degenerate(hashes: Iterable[tuple[str, str]], where: str = "") -> None:
    """Raise `Rejected` (`degenerate_hash`) for the first (signal, value) too poor to share."""
    for signal, value in hashes:
        if signal not in SIGNALS:
            continue
        why = SIGNALS.get(signal).degenerate(value)
        if why is not None:
            raise Rejected(
                RejectReason.DEGENERATE_HASH,
                f"{where}the {signal} hash {value} cannot be shared: {why}; it would match unrelated content",
            )


def refuse_list(entries: Sequence[HashListEntry], metadata: Mapping[str, str]) -> None:
    """Raise `Rejected` for the first entry of a shared hash list the bank would not admit, so a
    list shared in several parts is refused whole before any part is stored. An entry's own
    labels and severity stand in for the file's, as when it is stored."""
    file_labels = [label for label in metadata.get("labels", "").split(",") if label.strip()]
    for entry in entries:
        where = f"line {entry.line}: "
        labels = entry.labels if entry.labels is not None else file_labels
        admitted_labels(labels, entry.overrides.get("severity") or metadata.get("severity") or None, where)
        admitted_confidence(entry.overrides.get("confidence") or metadata.get("confidence") or None, where)
        refuse_degenerate(entry.signals.items(), where)


class BenignScreen:
    """The benign bank, ready to screen shares: a shared hash within its signal's match threshold
    of a benign hash (exact signals: equal) collides. Built from `Bank.benign_hashes()` per share,
    compared in numpy, so a 5,000-line list part against thousands of benign hashes takes well
    under a second."""

    def __init__(self, benign: Iterable[tuple[str, str, str]]) -> None:
        by_signal: dict[str, list[tuple[str, str]]] = {}
        for item_id, signal, value in benign:
            by_signal.setdefault(signal, []).append((item_id, value))
        self._ids = {signal: [item_id for item_id, _ in rows] for signal, rows in by_signal.items()}
        self._exact = {signal: {value: item_id for item_id, value in rows} for signal, rows in by_signal.items()}
        self._packed = {
            signal: unpack_hex_rows([value for _, value in rows])
            for signal, rows in by_signal.items()
            if signal in SIGNALS and SIGNALS.get(signal).match is MatchKind.NEAR
        }

    def collision(self, hashes: Iterable[tuple[str, str]]) -> tuple[str, str, int] | None:
        """(benign item id, signal, distance) of the first of `hashes` that collides, else None."""
        for signal, value in hashes:
            if signal in self._exact and value in self._exact[signal]:
                return self._exact[signal][value], signal, 0
            packed = self._packed.get(signal)
            if packed is None or not len(packed) or len(value) != 2 * packed.shape[1]:
                continue
            distances = popcount_rows(np.bitwise_xor(packed, hex_to_bytes(value, len(value))))
            nearest = int(np.argmin(distances))
            if distances[nearest] <= SIGNALS.get(signal).default_threshold:
                return self._ids[signal][nearest], signal, int(distances[nearest])
        return None
