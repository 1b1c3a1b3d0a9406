"""The light client through the whole local stack: one member shares a picture, another checks it
by hash with a content id in Cyrillic and Chinese, and both read typed notifications from queues
of their own subscribed to their topics."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hashmatch.media.codec import hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch_client import CheckCompleted, ItemsNotification, MatchFound, Member, Notification
from hashmatch_tools.client import Coalition
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_stack")]

SHARER, CHECKER = "instagram", "reddit"
CONTENT_ID = "пост-7 帖子"
TIMEOUT = 60


@pytest.fixture
def light_member(coalition: Coalition) -> Iterator[Callable[[str], Member]]:
    """Makes `platform` a light-client member reading a queue of its own (the default inbox is the
    other e2e tests'); the queues and subscriptions go when the test ends."""
    sqs, sns = coalition.clients("sqs"), coalition.clients("sns")
    made: list[tuple[str, str]] = []

    def member(platform: str) -> Member:
        url = sqs.create_queue(QueueName=f"light-{platform}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subscription = sns.subscribe(
            TopicArn=coalition.topic_arn(platform), Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        made.append((url, subscription))
        return Member(platform, coalition.bucket, url, s3_client=coalition.clients("s3"), sqs_client=sqs)

    yield member
    for url, subscription in made:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=url)


def _first(member: Member, wanted: Callable[[Notification], bool]) -> Notification:
    for notification in member.notifications(wait_seconds=TIMEOUT):
        if wanted(notification):
            return notification
    raise AssertionError(f"nothing wanted reached {member.platform} in {TIMEOUT} s")


def test_a_light_member_shares_and_another_checks_by_hash(
    light_member: Callable[[str], Member], tmp_path: Path
) -> None:
    sharer, checker = light_member(SHARER), light_member(CHECKER)
    picture = tmp_path / "picture.jpg"
    picture.write_bytes(jpeg_bytes(scene(611)))

    share_key = sharer.share("picture.jpg", picture, labels=["graphic-violence"], content_id="ролик-1")
    accepted = _first(sharer, lambda n: n.object is not None and n.object.key == share_key)
    assert isinstance(accepted, ItemsNotification) and accepted.event_type == "share.accepted"
    assert accepted.content_id == "ролик-1"
    (item,) = accepted.items
    assert item.contributor == SHARER and item.labels == ("graphic-violence",)

    check_key = checker.check_hashes([{"content_id": CONTENT_ID, **hashes_to_json(hash_file(picture))}])
    replies: dict[str, Notification] = {}
    for notification in checker.notifications(wait_seconds=TIMEOUT):
        if notification.object is not None and notification.object.key == check_key:
            replies[notification.event_type] = notification
            if {"match.found", "check.completed"} <= set(replies):
                break
    found, completed = replies.get("match.found"), replies.get("check.completed")
    assert isinstance(found, MatchFound), f"{CHECKER} heard {sorted(replies)}"
    assert found.content_id == CONTENT_ID and found.entry is not None and found.entry.line == 1
    assert (item.item_id, SHARER) in {(m.item_id, m.contributor) for m in found.matches}
    assert isinstance(completed, CheckCompleted)
    assert completed.counts.entries == 1 and completed.counts.matched == 1
