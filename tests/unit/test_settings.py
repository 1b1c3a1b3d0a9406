from __future__ import annotations

import pytest

from hashmatch.service.settings import EdgeSettings, Settings, SettingsError

pytestmark = pytest.mark.unit

ENV = {
    "TABLE_NAME": "bank",
    "PLATFORMS": "tiktok, reddit",
    "TOPIC_ARN_TEMPLATE": "arn:aws:sns:us-east-1:1:hm-{platform}",
}


def test_settings_from_environment() -> None:
    settings = Settings.from_environment(ENV)
    assert settings.platforms == ("tiktok", "reddit")
    assert settings.topic_arn("reddit") == "arn:aws:sns:us-east-1:1:hm-reddit"
    # Without the edge's hand-off records a `gone` is always answered `*.expired`.
    assert settings.handoff_table is None
    assert Settings.from_environment({**ENV, "HANDOFF_TABLE": " handoffs "}).handoff_table == "handoffs"


@pytest.mark.parametrize("missing", sorted(ENV))
def test_a_missing_variable_is_named(missing: str) -> None:
    with pytest.raises(SettingsError, match=missing):
        Settings.from_environment({k: v for k, v in ENV.items() if k != missing})


def test_topic_template_needs_the_placeholder() -> None:
    with pytest.raises(SettingsError, match="platform"):
        Settings.from_environment({**ENV, "TOPIC_ARN_TEMPLATE": "arn:aws:sns:us-east-1:1:fixed"})


def test_platforms_choose_thresholds_within_the_operators_bounds() -> None:
    settings = Settings.from_environment({**ENV, "PLATFORM_THRESHOLDS": '{"tiktok": {"pdq": 24}}'})
    assert settings.thresholds_for("tiktok").pdq == 24
    tiktok, reddit = settings.thresholds_for("tiktok"), settings.thresholds_for("reddit")
    assert tiktok.for_signal("phash") == reddit.for_signal("phash") == 6
    assert settings.thresholds_for("reddit").pdq == 31


@pytest.mark.parametrize(
    ("thresholds", "bounds", "message"),
    [
        ('{"tiktok": {"pdq": 60}}', "", "outside 16..40"),
        ('{"tiktok": {"pdq": 20}}', '{"pdq": [24, 32]}', "outside 24..32"),
        ('{"nobody": {"pdq": 20}}', "", "not a member"),
        ('{"tiktok": {"md5": 3}}', "", "no bounds"),
        ('{"tiktok": 3}', "", "must map"),
        ("{not json", "", "not valid JSON"),
    ],
)
def test_bad_threshold_configuration_fails_fast(thresholds: str, bounds: str, message: str) -> None:
    env = {**ENV, "PLATFORM_THRESHOLDS": thresholds, "THRESHOLD_BOUNDS": bounds}
    with pytest.raises(SettingsError, match=message):
        Settings.from_environment(env)


EDGE_ENV = {
    "PLATFORMS": "tiktok, reddit",
    "CHECK_QUEUE_URL": "https://sqs/check",
    "SHARE_QUEUE_URL": "https://sqs/share",
    "SIGNALS_BUCKET": "signals",
    "HANDOFF_TABLE": "handoffs",
}


def test_edge_settings_from_environment() -> None:
    settings = EdgeSettings.from_environment({**EDGE_ENV, "LOOKUP_API_URL": "https://api"})
    assert settings.platforms == ("tiktok", "reddit") and settings.lookup_api_url == "https://api"
    assert EdgeSettings.from_environment(EDGE_ENV).lookup_api_url is None
    assert settings.handoff_table == "handoffs"


@pytest.mark.parametrize("missing", sorted(EDGE_ENV))
def test_a_missing_edge_variable_is_named(missing: str) -> None:
    with pytest.raises(SettingsError, match=missing):
        EdgeSettings.from_environment({k: v for k, v in EDGE_ENV.items() if k != missing})


def test_members_in_their_own_accounts_name_their_roles() -> None:
    env = {**EDGE_ENV, "MEMBERS": "tiktok:111111111111", "MEMBER_ROLE_PREFIX": "hm-"}
    # One member in an account of its own: every platform writes through its role.
    assert EdgeSettings.from_environment(env).member_roles == {"tiktok": "hm-tiktok", "reddit": "hm-reddit"}
    assert EdgeSettings.from_environment({**EDGE_ENV, "MEMBERS": ""}).member_roles == {}
    # A name outside PLATFORMS has no role to check; the platforms' roles are checked all the same.
    named_elsewhere = {**env, "MEMBERS": "youtube:111111111111"}
    assert EdgeSettings.from_environment(named_elsewhere).member_roles == {"tiktok": "hm-tiktok", "reddit": "hm-reddit"}


@pytest.mark.parametrize(
    ("members", "named"),
    [
        ("tiktok:1111", "tiktok:1111"),
        ("tiktok:111111111111,tiktok:222222222222", "twice"),
        ("tiktok", "tiktok"),
    ],
)
def test_a_malformed_member_list_is_named(members: str, named: str) -> None:
    env = {**EDGE_ENV, "MEMBERS": members, "MEMBER_ROLE_PREFIX": "hm-"}
    with pytest.raises(SettingsError, match=named):
        EdgeSettings.from_environment(env)
    with pytest.raises(SettingsError, match="MEMBER_ROLE_PREFIX"):
        EdgeSettings.from_environment({**EDGE_ENV, "MEMBERS": "tiktok:111111111111"})


def test_the_lookup_api_knows_the_member_roles_and_their_account() -> None:
    env = {**ENV, "MEMBERS": "tiktok:111111111111", "MEMBER_ROLE_PREFIX": "hm-", "COALITION_ACCOUNT_ID": "123456789012"}
    callers = Settings.from_environment(env).member_callers
    assert callers.account_id == "123456789012"
    assert callers.role_names == {"tiktok": "hm-tiktok", "reddit": "hm-reddit"}
    assert not Settings.from_environment(ENV).member_callers.role_names
    assert not Settings.from_environment({**ENV, "MEMBERS": ""}).member_callers.role_names
    for missing in ("COALITION_ACCOUNT_ID", "MEMBER_ROLE_PREFIX"):
        with pytest.raises(SettingsError, match=missing):
            Settings.from_environment({k: v for k, v in env.items() if k != missing})
    with pytest.raises(SettingsError, match="12-digit"):
        Settings.from_environment({**env, "COALITION_ACCOUNT_ID": "1234"})
