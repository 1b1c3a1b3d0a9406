"""Synthetic banks for benchmarks: a `BankIndex` holding millions of random entries, built with
array operations (replaying millions of log entries in Python would take the benchmark's time)."""

from __future__ import annotations

import numpy as np

from hashmatch.bank.model import ENTRY_KINDS, MAX_STORED_FRAMINGS, MAX_STORED_HALVES, MAX_STORED_THIRDS
from hashmatch.index.bank_index import ITEM_ID_DTYPE, BankIndex, EntryTable, IndexState
from hashmatch.index.hamming import HammingIndex
from hashmatch.index.spec import SignalIndex
from hashmatch.signals.pdq import FRAMING_KEYS, PDQ_PARTS

__all__ = [
    "FRAMINGS_PER_IMAGE",
    "HALVES_PER_IMAGE",
    "HASHES_PER_IMAGE",
    "PARTS_PER_IMAGE",
    "THIRDS_PER_IMAGE",
    "synthetic_bank_index",
]

# `hashmatch.media.framing.stored_framings` (a test holds them equal)
FRAMINGS_PER_IMAGE = MAX_STORED_FRAMINGS
HALVES_PER_IMAGE = MAX_STORED_HALVES
THIRDS_PER_IMAGE = MAX_STORED_THIRDS
PARTS_PER_IMAGE = HALVES_PER_IMAGE + THIRDS_PER_IMAGE
HASHES_PER_IMAGE = 2 + FRAMINGS_PER_IMAGE + PARTS_PER_IMAGE  # main PDQ, pHash, framings, halves, thirds
_POSITION = "2026-01-01T00:00:00.000000Z#synthetic#add#00000"


def synthetic_bank_index(images: int, rng: np.random.Generator) -> BankIndex:
    """A `BankIndex` as if `images` pictures had been shared: each with a main PDQ, a pHash,
    `FRAMINGS_PER_IMAGE` PDQ framings (with their framing keys), `HALVES_PER_IMAGE` PDQ halves and
    `THIRDS_PER_IMAGE` PDQ thirds, all random."""
    n = images
    main = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    framings = rng.integers(0, 256, size=(n * FRAMINGS_PER_IMAGE, 32), dtype=np.uint8)
    phash = rng.integers(0, 256, size=(n, 8), dtype=np.uint8)
    parts = rng.integers(0, 256, size=(n * PARTS_PER_IMAGE, 32), dtype=np.uint8)  # halves, then thirds
    ids = np.unique(rng.integers(0, 2**63 - 1, size=int(HASHES_PER_IMAGE * n * 1.01) + 64, dtype=np.int64))
    rng.shuffle(ids)
    ids = ids[: HASHES_PER_IMAGE * n]
    main_ids, phash_ids = ids[:n], ids[n : 2 * n]
    framing_ids, part_ids = ids[2 * n : (2 + FRAMINGS_PER_IMAGE) * n], ids[(2 + FRAMINGS_PER_IMAGE) * n :]
    indexes: dict[str, SignalIndex] = {
        "pdq": HammingIndex.build(256, np.concatenate([main_ids, framing_ids]), np.concatenate([main, framings])),
        "phash": HammingIndex.build(64, phash_ids, phash),
        FRAMING_KEYS.name: HammingIndex.build(64, framing_ids, FRAMING_KEYS.key(framings)),
        PDQ_PARTS.name: HammingIndex.build(256, part_ids, parts),
    }
    item_keys = np.unique(rng.integers(0, 256, size=(int(n * 1.01) + 64, 16), dtype=np.uint8).view("S16").ravel())
    item_ids = np.array([key.hex().encode() for key in item_keys[:n].tolist()], dtype=ITEM_ID_DTYPE)
    item_ids.sort()
    owner = rng.permutation(n).astype(np.uint32)
    per_image = (
        np.repeat(owner, FRAMINGS_PER_IMAGE),
        np.repeat(owner, HALVES_PER_IMAGE),
        np.repeat(owner, THIRDS_PER_IMAGE),
    )
    entry_items = np.concatenate([owner, owner, *per_image])
    pdq, phash_signal = np.zeros(n, np.uint8), np.ones(n, np.uint8)
    signals = np.concatenate([pdq, phash_signal, np.zeros((FRAMINGS_PER_IMAGE + PARTS_PER_IMAGE) * n, np.uint8)])
    kind = {name: np.uint8(code) for code, name in enumerate(ENTRY_KINDS)}
    kinds = np.concatenate(
        [
            np.full(2 * n, kind["hash"]),
            np.full(FRAMINGS_PER_IMAGE * n, kind["framing"]),
            np.full(HALVES_PER_IMAGE * n, kind["half"]),
            np.full(THIRDS_PER_IMAGE * n, kind["third"]),
        ]
    )
    all_ids = np.concatenate([main_ids, phash_ids, framing_ids, part_ids])
    by_id = np.argsort(all_ids, kind="stable")
    table = EntryTable.grouped(
        item_ids=item_ids,
        entry_ids=all_ids[by_id],
        entry_items=entry_items[by_id],
        entry_signals=signals[by_id],
        entry_kinds=kinds[by_id],
        timed_rows=np.empty(0, dtype=np.uint32),
        times=np.empty((0, 2), dtype=np.float64),
    )
    return BankIndex.from_state(IndexState(("pdq", "phash"), indexes, table, _POSITION, ()))
