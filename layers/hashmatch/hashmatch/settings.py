"""One typed settings object, built once from the environment, failing fast on what is missing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

TABLE_NAME = "TABLE_NAME"
INGEST_BUCKET = "INGEST_BUCKET"
PLATFORMS = "PLATFORMS"
TOPIC_ARN_TEMPLATE = "TOPIC_ARN_TEMPLATE"
PLATFORM_THRESHOLDS = "PLATFORM_THRESHOLDS"


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    ingest_bucket: str
    platforms: tuple[str, ...]
    topic_arn_template: str
    platform_thresholds: str = ""

    def topic_arn(self, platform: str) -> str:
        """The SNS topic ARN of `platform`; `{platform}` in the template is replaced by its name."""
        return self.topic_arn_template.replace("{platform}", platform)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is required")
            return value

        platforms = tuple(p.strip() for p in required(PLATFORMS).split(",") if p.strip())
        template = required(TOPIC_ARN_TEMPLATE)
        if "{platform}" not in template:
            raise SettingsError(f"{TOPIC_ARN_TEMPLATE} must contain '{{platform}}', got {template!r}")
        return cls(
            table_name=required(TABLE_NAME),
            ingest_bucket=required(INGEST_BUCKET),
            platforms=platforms,
            topic_arn_template=template,
            platform_thresholds=env.get(PLATFORM_THRESHOLDS, ""),
        )
