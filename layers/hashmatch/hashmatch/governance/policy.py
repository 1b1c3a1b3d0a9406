"""Who decides what: each member's own policy, and the coalition's rules no member can bend.

`MemberPolicy` is a member's choice, within the operators' bounds: which labels it acts on, which
contributors it trusts, and how many independent members must stand behind an item before its
checks report it. `CoalitionRules` are the operators': how many members' disputes quarantine an
item, how many items a member may share a day, and the bounds on member policies. Both come from
configuration (`hashmatch.service.settings`); every limit, its default and its bounds are listed in
the README's limits table.

Corroboration: the members standing behind a match are the contributors of the items the upload
matched and the members who confirmed those items (`SharedItem.backers`); several members sharing
the same picture, or one sharing and another confirming, are independent contributors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hashmatch.bank.model import Match, SharedItem
from hashmatch.governance.taxonomy import TaxonomyError, taxonomy

__all__ = ["CoalitionRules", "MemberPolicy", "PolicyError", "corroboration", "parse_member_policies"]

DEFAULT_DISPUTE_QUORUM = 3
DISPUTE_QUORUM_BOUNDS = (2, 9)
DEFAULT_SHARE_QUOTA = 100_000
SHARE_QUOTA_BOUNDS = (1, 10_000_000)
MAX_REQUIRED_BACKERS = 3


class PolicyError(ValueError):
    """A member policy or a coalition rule outside what operators allow; the message says which."""


@dataclass(frozen=True)
class MemberPolicy:
    """What one member acts on. `labels`: only items with one of these (None: every label; an
    item without labels is then reported too); `trusted`: only items from these contributors
    count (None: every member); `required_backers`: members that must stand behind an upload's
    matches (1: the contributor alone suffices)."""

    labels: frozenset[str] | None = None
    trusted: frozenset[str] | None = None
    required_backers: int = 1

    def wants_labels(self, labels: Iterable[str]) -> bool:
        return self.labels is None or bool(self.labels & set(labels))

    def counts(self, member: str) -> bool:
        return self.trusted is None or member in self.trusted

    def acted_on(self, matches: Sequence[Match]) -> list[Match]:
        """The matches this member is told of: benign-bank matches pass (they explain, never
        accuse); the rest must carry a wanted label and a trusted contributor, and together be
        backed by `required_backers` trusted members, else none is reported."""
        benign = [m for m in matches if m.benign]
        wanted = [m for m in matches if not m.benign and self.wants_labels(m.labels) and self.counts(m.contributor)]
        if len({b for b in corroboration(wanted) if self.counts(b)}) < self.required_backers:
            wanted = []
        return wanted + benign if wanted else []

    def alerted_by(self, item: SharedItem) -> bool:
        """Whether `hash.shared` of `item` is for this member."""
        return self.wants_labels(item.provenance.labels) and self.counts(item.provenance.contributor)


def corroboration(matches: Iterable[Match]) -> tuple[str, ...]:
    """The distinct members standing behind `matches` (contributors and confirmers)."""
    return tuple(sorted({member for match in matches if not match.benign for member in match.backers}))


@dataclass(frozen=True)
class CoalitionRules:
    """The operators' rules: the dispute quorum (distinct members, the contributor never counted)
    and the items a member may share per UTC day."""

    dispute_quorum: int = DEFAULT_DISPUTE_QUORUM
    share_quota: int = DEFAULT_SHARE_QUOTA
    policies: Mapping[str, MemberPolicy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        low, high = DISPUTE_QUORUM_BOUNDS
        if not low <= self.dispute_quorum <= high:
            raise PolicyError(f"the dispute quorum is {self.dispute_quorum}; operators allow {low}..{high}")
        low, high = SHARE_QUOTA_BOUNDS
        if not low <= self.share_quota <= high:
            raise PolicyError(f"the share quota is {self.share_quota} items a day; operators allow {low}..{high}")

    def policy(self, member: str) -> MemberPolicy:
        return self.policies.get(member, MemberPolicy())


def parse_member_policies(raw: Mapping[str, object], platforms: Sequence[str]) -> dict[str, MemberPolicy]:
    """``{"tiktok": {"labels": ["violent-extremism"], "trusted": ["youtube"], "required_backers": 2}}``
    checked against the taxonomy, the members and the bounds; raises `PolicyError` naming what is wrong."""
    policies = {}
    for member, asked in raw.items():
        where = f"policy of {member!r}"
        if member not in platforms:
            raise PolicyError(f"a policy for {member!r}, not a member platform")
        if not isinstance(asked, dict):
            raise PolicyError(f"{where} must be an object with labels, trusted, required_backers")
        unknown = sorted(set(asked) - {"labels", "trusted", "required_backers"})
        if unknown:
            raise PolicyError(f"{where}: unknown field {unknown[0]!r}")
        labels = asked.get("labels")
        if labels is not None:
            if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
                raise PolicyError(f"{where}: labels must be a list of taxonomy ids")
            try:
                labels = frozenset(taxonomy().canonical_labels(labels))
            except TaxonomyError as error:
                raise PolicyError(f"{where}: {error}") from None
        trusted = asked.get("trusted")
        if trusted is not None:
            if not isinstance(trusted, list) or not set(trusted) <= set(platforms):
                raise PolicyError(f"{where}: trusted must list member platforms ({', '.join(platforms)})")
            trusted = frozenset({*trusted, member})
        backers = asked.get("required_backers", 1)
        if not isinstance(backers, int) or isinstance(backers, bool) or not 1 <= backers <= MAX_REQUIRED_BACKERS:
            raise PolicyError(f"{where}: required_backers must be 1..{MAX_REQUIRED_BACKERS}, got {backers!r}")
        policies[member] = MemberPolicy(labels, trusted, backers)
    return policies
