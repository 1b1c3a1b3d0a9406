from __future__ import annotations

import pytest
from hashmatch.settings import Settings, SettingsError

pytestmark = pytest.mark.unit

ENV = {
    "TABLE_NAME": "bank",
    "INGEST_BUCKET": "ingest",
    "PLATFORMS": "tiktok, reddit",
    "TOPIC_ARN_TEMPLATE": "arn:aws:sns:us-east-1:1:hm-{platform}",
}


def test_settings_from_environment() -> None:
    settings = Settings.from_environment(ENV)
    assert settings.platforms == ("tiktok", "reddit")
    assert settings.topic_arn("reddit") == "arn:aws:sns:us-east-1:1:hm-reddit"


@pytest.mark.parametrize("missing", sorted(ENV))
def test_a_missing_variable_is_named(missing: str) -> None:
    with pytest.raises(SettingsError, match=missing):
        Settings.from_environment({k: v for k, v in ENV.items() if k != missing})


def test_topic_template_needs_the_placeholder() -> None:
    with pytest.raises(SettingsError, match="platform"):
        Settings.from_environment({**ENV, "TOPIC_ARN_TEMPLATE": "arn:aws:sns:us-east-1:1:fixed"})
