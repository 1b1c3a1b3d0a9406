"""The coalition's closed taxonomy: the only labels a share may carry, and the severity scale.

The taxonomy is one file deployed with the code (`taxonomy.json` beside this module): each label's
id, definition, what it includes, what is out of scope, and the names other systems use for it
(aliases, accepted on shares and stored as the id). A share whose labels are not all in it is
refused whole (`share.rejected`, reason `invalid_label`), so a member cannot widen the scope by
inventing a label; changing the taxonomy means deploying a new version, and every notification
names the version it was made under (`taxonomy_version`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

__all__ = ["Label", "Taxonomy", "TaxonomyError", "taxonomy"]


class TaxonomyError(ValueError):
    """Labels or a severity outside the taxonomy; the message names them and what is allowed."""


@dataclass(frozen=True)
class Label:
    id: str
    definition: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    aliases: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "definition": self.definition,
            "include": list(self.include),
            "exclude": list(self.exclude),
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class Taxonomy:
    version: str
    labels: tuple[Label, ...]
    severities: tuple[str, ...]
    # How sure a contributor is that an item is in scope.
    confidences: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.labels)

    @cached_property
    def _id_by_name(self) -> dict[str, str]:
        return {name: label.id for label in self.labels for name in (label.id, *label.aliases)}

    def canonical_labels(self, raw: Iterable[str]) -> tuple[str, ...]:
        """`raw` labels as taxonomy ids (aliases resolved, case and spaces ignored), sorted and
        without repeats; raises `TaxonomyError` naming every label outside the taxonomy."""
        canonical, unknown = set(), []
        for label in raw:
            name = label.strip().lower().replace(" ", "-").replace("_", "-")
            if name in self._id_by_name:
                canonical.add(self._id_by_name[name])
            else:
                unknown.append(label)
        if unknown:
            raise TaxonomyError(
                f"labels outside the coalition's taxonomy (version {self.version}): {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(self.ids)} (`hashmatch taxonomy` prints their definitions)"
            )
        return tuple(sorted(canonical))

    def severity(self, raw: str | None) -> str | None:
        """`raw` as a severity of the scale (None stays None); raises `TaxonomyError` otherwise."""
        return _on_scale(raw, self.severities, "severity")

    def confidence(self, raw: str | None) -> str | None:
        """`raw` as a confidence of the scale (None stays None); raises `TaxonomyError` otherwise."""
        return _on_scale(raw, self.confidences, "confidence")


def _on_scale(raw: str | None, scale: tuple[str, ...], what: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value not in scale:
        raise TaxonomyError(f"{what} {raw!r} is not on the scale: {', '.join(scale)}")
    return value


def taxonomy_from_json(document: dict[str, Any]) -> Taxonomy:
    labels = tuple(
        Label(
            id=str(raw["id"]),
            definition=str(raw["definition"]),
            include=tuple(raw.get("include", ())),
            exclude=tuple(raw.get("exclude", ())),
            aliases=tuple(raw.get("aliases", ())),
        )
        for raw in document["labels"]
    )
    names = [name for label in labels for name in (label.id, *label.aliases)]
    if len(names) != len(set(names)):
        raise ValueError("a taxonomy label id or alias is given twice")
    return Taxonomy(
        version=str(document["version"]),
        labels=labels,
        severities=tuple(document["severities"]),
        confidences=tuple(document.get("confidences", ())),
    )


@cache
def taxonomy() -> Taxonomy:
    """The deployed taxonomy (read once per process)."""
    text = resources.files("hashmatch.governance").joinpath("taxonomy.json").read_text(encoding="utf-8")
    return taxonomy_from_json(json.loads(text))
