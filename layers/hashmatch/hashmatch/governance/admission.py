"""What may enter the bank: every shared item passes `admit` before anything is written.

An item is refused (the whole share with it, so nothing is half-written) when a label or its
severity is outside the taxonomy, or when a hash it would have the matcher index carries too
little information to share: a flat or near-constant bit pattern matches unrelated content, and
the matcher sees through captions and crops, so one such hash would flood every member with
false matches. Labels are stored as taxonomy ids (aliases resolved).
"""

from __future__ import annotations

from dataclasses import replace

from hashmatch.bank.model import SharedItem
from hashmatch.governance.taxonomy import Taxonomy, TaxonomyError, taxonomy
from hashmatch.media.model import Rejected, RejectReason
from hashmatch.signals import SIGNALS

__all__ = ["admit"]


def admit(item: SharedItem, where: str = "", scheme: Taxonomy | None = None) -> SharedItem:
    """`item` with its labels as taxonomy ids and its severity on the scale; raises `Rejected`
    (`invalid_label`, `invalid_severity`, `degenerate_hash`) saying what is wrong, prefixed by
    `where` (e.g. "line 3: ") for an entry of a hash list."""
    scheme = scheme or taxonomy()
    provenance = item.provenance
    try:
        labels = scheme.canonical_labels(provenance.labels)
    except TaxonomyError as error:
        raise Rejected(RejectReason.INVALID_LABEL, f"{where}{error}") from None
    try:
        severity = scheme.severity(provenance.severity)
    except TaxonomyError as error:
        raise Rejected(RejectReason.INVALID_SEVERITY, f"{where}{error}") from None
    for entry in item.near_entries:
        if entry.signal not in SIGNALS:
            continue
        why = SIGNALS.get(entry.signal).degenerate(entry.value)
        if why is not None:
            raise Rejected(
                RejectReason.DEGENERATE_HASH,
                f"{where}the {entry.signal} hash {entry.value} cannot be shared: {why}; "
                "it would match unrelated content",
            )
    return replace(item, provenance=replace(provenance, labels=labels, severity=severity))
