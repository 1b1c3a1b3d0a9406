"""Typed settings, built once from the environment, failing fast on what is missing.

`Settings` for the coalition's functions (bank, topics, thresholds), `EdgeSettings` for the
hashing function (where submissions go): each function reads only what it is given.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hashmatch.governance.callers import MemberCallers
from hashmatch.governance.policy import CoalitionRules, PolicyError, parse_member_policies
from hashmatch.matching.policy import Thresholds
from hashmatch.service.retroactive import RetentionError, RetentionPolicy
from hashmatch.signals import SIGNALS, ThresholdBounds, UnknownSignal

TABLE_NAME = "TABLE_NAME"
PLATFORMS = "PLATFORMS"
TOPIC_ARN_TEMPLATE = "TOPIC_ARN_TEMPLATE"
PLATFORM_THRESHOLDS = "PLATFORM_THRESHOLDS"
THRESHOLD_BOUNDS = "THRESHOLD_BOUNDS"
SNAPSHOT_BUCKET = "SNAPSHOT_BUCKET"
# Where retained checks are compacted into hourly shards (hashmatch.aws.retained_shards).
RETAINED_BUCKET = "RETAINED_BUCKET"
SIGNALS_BUCKET = "SIGNALS_BUCKET"
# The edge's hand-off records (hashmatch.aws.handoffs): the hashing function writes, the check and
# share functions read.
HANDOFF_TABLE = "HANDOFF_TABLE"
# The function a share's retroactive scan fans out to (one slice of the retained checks each);
# unset: the share function scans them all itself.
RETRO_SCAN_FUNCTION = "RETRO_SCAN_FUNCTION"
RESULTS_BUCKET = "RESULTS_BUCKET"
CHECK_QUEUE_URL = "CHECK_QUEUE_URL"
SHARE_QUEUE_URL = "SHARE_QUEUE_URL"
LOOKUP_API_URL = "LOOKUP_API_URL"
# The hashing queue itself: where the edge queues the segments of a long shared video.
HASH_QUEUE_URL = "HASH_QUEUE_URL"
# "tiktok:30,facebook:7" (or "*:30"): platforms whose checks are retained for retroactive matching.
RETROACTIVE_PLATFORMS = "RETROACTIVE_PLATFORMS"
# Governance: each member's policy (JSON), the dispute quorum, items a member may share per day,
# and the Object Lock bucket of the audit log.
MEMBER_POLICIES = "MEMBER_POLICIES"
DISPUTE_QUORUM = "DISPUTE_QUORUM"
SHARE_QUOTA_PER_DAY = "SHARE_QUOTA_PER_DAY"
AUDIT_BUCKET = "AUDIT_BUCKET"
# Members in their own AWS accounts ("tiktok:111111111111,facebook:222222222222", the template's
# Members parameter) and what the platforms' roles' names start with (the platform follows). When
# any member has an account of its own, every platform writes through its role and the hashing
# function checks who wrote each object; empty: nothing is checked.
MEMBERS = "MEMBERS"
MEMBER_ROLE_PREFIX = "MEMBER_ROLE_PREFIX"
# The coalition's own account, where the members' roles are: the lookup API tells a member's
# session (hashmatch.governance.callers) by its role's name in this account.
COALITION_ACCOUNT_ID = "COALITION_ACCOUNT_ID"
_MEMBER = re.compile(r"([a-z][a-z0-9]{0,31}):([0-9]{12})")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required")
    return value


def _platforms(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(p.strip() for p in _required(env, PLATFORMS).split(",") if p.strip())


@dataclass(frozen=True)
class EdgeSettings:
    """The hashing function's: the members, the queues submissions go to, the hash-only bucket for
    those too large for a message, and the lookup API that names uneven-crop candidates."""

    platforms: tuple[str, ...]
    check_queue_url: str
    share_queue_url: str
    signals_bucket: str
    # Where hand-offs are recorded before the object is deleted.
    handoff_table: str
    lookup_api_url: str | None = None
    # With members in their own accounts: each platform's role's name; empty: nothing is checked.
    member_roles: dict[str, str] = field(default_factory=dict)
    # Where segments of a long shared video are queued (None: such a video is refused, too_large).
    hash_queue_url: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> EdgeSettings:
        env = os.environ if environ is None else environ
        platforms = _platforms(env)
        return cls(
            platforms=platforms,
            check_queue_url=_required(env, CHECK_QUEUE_URL),
            share_queue_url=_required(env, SHARE_QUEUE_URL),
            signals_bucket=_required(env, SIGNALS_BUCKET),
            handoff_table=_required(env, HANDOFF_TABLE),
            lookup_api_url=env.get(LOOKUP_API_URL, "").strip() or None,
            member_roles=_member_roles(env, platforms),
            hash_queue_url=env.get(HASH_QUEUE_URL, "").strip() or None,
        )


def _member_roles(env: Mapping[str, str], platforms: tuple[str, ...]) -> dict[str, str]:
    """{platform: its role's name} for every platform when `MEMBERS` names any member, else {};
    raises `SettingsError` naming what is wrong. A name not among the platforms has no role (the
    template makes roles for `Platforms` only) and changes nothing here: every platform's role is
    checked either way."""
    raw = env.get(MEMBERS, "").strip()
    if not raw:
        return {}
    prefix = _required(env, MEMBER_ROLE_PREFIX)
    named: set[str] = set()
    for pair in raw.split(","):
        found = _MEMBER.fullmatch(pair.strip())
        if found is None:
            raise SettingsError(f"{MEMBERS}: {pair.strip()!r} is not <platform>:<12-digit AWS account id>")
        platform = found.group(1)
        if platform in named:
            raise SettingsError(f"{MEMBERS}: {platform!r} is named twice")
        named.add(platform)
    return {platform: f"{prefix}{platform}" for platform in platforms}


def default_bounds() -> dict[str, ThresholdBounds]:
    """How far operators let a platform move its own thresholds by default: each signal's own
    `bounds` (`hashmatch.signals`), for the signals that have them."""
    return {signal.name: signal.bounds for signal in SIGNALS if signal.bounds is not None}


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    platforms: tuple[str, ...]
    topic_arn_template: str
    platform_thresholds: dict[str, Thresholds] = field(default_factory=dict)
    # Where near-match snapshots are published; None: every cold matcher replays the whole log.
    snapshot_bucket: str | None = None
    # Where retained checks are compacted to (None: they stay in the bank table, read from there).
    retained_bucket: str | None = None
    # Where check-by-hash results go (None: such lists cannot be answered).
    results_bucket: str | None = None
    # Where the edge records its hand-offs (None: a `gone` submission is always answered `*.expired`).
    handoff_table: str | None = None
    # Which platforms retain their checks for retroactive matching, and for how many days.
    retention: RetentionPolicy = field(default_factory=lambda: RetentionPolicy({}))
    # Member policies and the operators' rules (`hashmatch.governance.policy`).
    rules: CoalitionRules = field(default_factory=CoalitionRules)
    # Where the audit log is written (None: nowhere, for tests without one).
    audit_bucket: str | None = None
    # The retroactive scan's worker function (None: the share function scans alone).
    retro_scan_function: str | None = None
    # With members in their own accounts: each platform's role's name, and the account the roles
    # are in (`COALITION_ACCOUNT_ID`); empty: no caller of the lookup API is a member's role.
    member_callers: MemberCallers = field(default_factory=MemberCallers)

    def thresholds_for(self, platform: str) -> Thresholds:
        """The thresholds `platform` asked for, or the defaults."""
        return self.platform_thresholds.get(platform, Thresholds())

    def topic_arn(self, platform: str) -> str:
        """The SNS topic ARN of `platform`; `{platform}` in the template is replaced by its name."""
        return self.topic_arn_template.replace("{platform}", platform)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        platforms = _platforms(env)
        template = _required(env, TOPIC_ARN_TEMPLATE)
        if "{platform}" not in template:
            raise SettingsError(f"{TOPIC_ARN_TEMPLATE} must contain '{{platform}}', got {template!r}")
        bounds = _bounds(_json(env, THRESHOLD_BOUNDS)) or default_bounds()
        return cls(
            table_name=_required(env, TABLE_NAME),
            platforms=platforms,
            topic_arn_template=template,
            platform_thresholds=_platform_thresholds(_json(env, PLATFORM_THRESHOLDS), bounds, platforms),
            snapshot_bucket=env.get(SNAPSHOT_BUCKET, "").strip() or None,
            retained_bucket=env.get(RETAINED_BUCKET, "").strip() or None,
            results_bucket=env.get(RESULTS_BUCKET, "").strip() or None,
            handoff_table=env.get(HANDOFF_TABLE, "").strip() or None,
            retention=_retention(env.get(RETROACTIVE_PLATFORMS, ""), platforms),
            rules=_rules(env, platforms),
            audit_bucket=env.get(AUDIT_BUCKET, "").strip() or None,
            retro_scan_function=env.get(RETRO_SCAN_FUNCTION, "").strip() or None,
            member_callers=_member_callers(env, platforms),
        )


def _member_callers(env: Mapping[str, str], platforms: tuple[str, ...]) -> MemberCallers:
    roles = _member_roles(env, platforms)
    if not roles:
        return MemberCallers()
    account = _required(env, COALITION_ACCOUNT_ID)
    if not re.fullmatch(r"[0-9]{12}", account):
        raise SettingsError(f"{COALITION_ACCOUNT_ID} must be a 12-digit AWS account id, got {account!r}")
    return MemberCallers(account, roles)


def _rules(env: Mapping[str, str], platforms: tuple[str, ...]) -> CoalitionRules:
    defaults = CoalitionRules()
    try:
        return CoalitionRules(
            dispute_quorum=_integer(env, DISPUTE_QUORUM, defaults.dispute_quorum),
            share_quota=_integer(env, SHARE_QUOTA_PER_DAY, defaults.share_quota),
            policies=parse_member_policies(_json(env, MEMBER_POLICIES), platforms),
        )
    except PolicyError as error:
        raise SettingsError(f"governance settings: {error}") from None


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _retention(raw: str, platforms: tuple[str, ...]) -> RetentionPolicy:
    try:
        return RetentionPolicy.parse(raw, platforms)
    except RetentionError as error:
        raise SettingsError(f"{RETROACTIVE_PLATFORMS}: {error}") from None


def _json(env: Mapping[str, str], name: str) -> dict[str, object]:
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{name} is not valid JSON: {error.msg}") from error
    if not isinstance(value, dict):
        raise SettingsError(f"{name} must be a JSON object")
    return value


def _bounds(raw: Mapping[str, object]) -> dict[str, ThresholdBounds]:
    """Operator bounds from `{"pdq": [16, 40]}`; raises SettingsError naming what is wrong."""
    bounds = {}
    for name, limits in raw.items():
        try:
            signal = SIGNALS.get(name)
        except UnknownSignal as error:
            raise SettingsError(f"{THRESHOLD_BOUNDS}: {error}") from None
        if (
            not isinstance(limits, list | tuple)
            or len(limits) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in limits)
            or limits[0] > limits[1]
        ):
            raise SettingsError(f"{THRESHOLD_BOUNDS}[{name!r}] must be [low, high] integers, got {limits!r}")
        bounds[signal.name] = ThresholdBounds(limits[0], limits[1])
    return bounds


def _platform_thresholds(
    requested: Mapping[str, object], bounds: Mapping[str, ThresholdBounds], platforms: tuple[str, ...]
) -> dict[str, Thresholds]:
    """`{"tiktok": {"pdq": 24}}` checked against the operators' bounds."""
    resolved = {}
    for platform, asked in requested.items():
        if platform not in platforms:
            raise SettingsError(f"{PLATFORM_THRESHOLDS} names {platform!r}, not a member platform")
        if not isinstance(asked, dict):
            raise SettingsError(f"{PLATFORM_THRESHOLDS}[{platform!r}] must map signal names to integers")
        values = {}
        for signal, threshold in asked.items():
            limits = bounds.get(signal)
            if limits is None:
                raise SettingsError(f"{PLATFORM_THRESHOLDS}[{platform!r}] sets {signal!r}, which has no bounds")
            if threshold not in limits:
                raise SettingsError(
                    f"{PLATFORM_THRESHOLDS}[{platform!r}][{signal!r}] = {threshold!r} is outside "
                    f"{limits.low}..{limits.high}"
                )
            values[signal] = threshold
        resolved[platform] = Thresholds(values)
    return resolved
