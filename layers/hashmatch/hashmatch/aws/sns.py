"""Notifications on each platform's own SNS topic, with attributes subscribers can filter on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3

from hashmatch.service.notifications import Notification


class SnsNotifier:
    """`hashmatch.service.ports.Notifier` on SNS: one topic per platform, named by `topic_arn(platform)`."""

    def __init__(self, topic_arn: Callable[[str], str], sns_client: Any = None) -> None:
        self._sns = sns_client or boto3.client("sns")
        self._topic_arn = topic_arn

    def publish(self, notification: Notification) -> None:
        attributes: dict[str, dict[str, str]] = {
            "event_type": {"DataType": "String", "StringValue": notification.event_type.value},
            "platform": {"DataType": "String", "StringValue": notification.platform},
        }
        if notification.labels:
            attributes["labels"] = {"DataType": "String.Array", "StringValue": json.dumps(list(notification.labels))}
        self._sns.publish(
            TopicArn=self._topic_arn(notification.platform),
            Message=notification.to_json(),
            MessageAttributes=attributes,
        )
