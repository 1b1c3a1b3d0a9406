"""A 4-hour 720p video shared in segments (moto S3 and SQS, the real sandbox): hashed side by side,
shared whole once every segment is in, and matched afterwards.

The video has few distinct frames at 0.1 fps (encoding 432,000 frames of 30 fps footage takes
too long here), so its limits are scaled by the same factor: `LIMITS` hashes in one go the
footage a 30 fps video of this size gets with the default limits (~1,085 s), and the video is
cut in the windows a real 4-hour 720p30 stream is cut in (14).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import boto3
import numpy as np
import pytest

from hashmatch.aws.s3 import S3ObjectStore
from hashmatch.aws.segments import SEGMENTS_PREFIX, S3SegmentStore
from hashmatch.edge.ingest import EdgeHasher
from hashmatch.edge.sandbox import Sandbox, SandboxLimits
from hashmatch.edge.segments import segment_task_from_message
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import Limits
from hashmatch.service.handoffs import MemoryHandOffs
from hashmatch.service.notifications import EventType, ObjectRef
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.local.template import Stack
from hashmatch_tools.samples import scene

pytestmark = pytest.mark.integration

REGION = "us-east-1"
SECONDS = 4 * 3600
FPS = Fraction(1, 10)
SIZE = (1280, 720)
SCENES = 12  # 20 minutes each
LIMITS = Limits(max_shared_video_pixel_frames=Limits().max_shared_video_pixel_frames / 30)


def _encode(path: Path, seconds: float, fps: Fraction, scenes: list[np.ndarray]) -> None:
    """H.264 of `scenes` in turn, each for an equal share of `seconds`, streamed frame by frame."""
    count = int(seconds * fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        for n in range(count):
            frame = av.VideoFrame.from_ndarray(scenes[n * len(scenes) // count], format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def stream_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hashmatch-long-") as folder:
        path = Path(folder) / "stream.mp4"
        _encode(path, SECONDS, FPS, [np.asarray(scene(900 + n, SIZE)) for n in range(SCENES)])
        yield path


def _queued(sqs: Any, queue_url: str) -> list[Any]:
    """The segment tasks on the hashing queue, taken off it."""
    tasks = []
    while True:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not received:
            return tasks
        for message in received:
            task = segment_task_from_message(message["Body"])
            if task is not None:  # the bucket's own S3 events come here too
                tasks.append(task)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_a_four_hour_720p_video_is_shared_in_segments_and_its_footage_then_matches(
    moto_aws: Stack, stream_file: Path
) -> None:
    session = boto3.session.Session(region_name=REGION)
    s3, sqs = session.client("s3"), session.client("sqs")
    ingest = moto_aws.physical_names("IngestBucket")["ref"]
    signals = moto_aws.physical_names("SignalsBucket")["ref"]
    hash_queue = moto_aws.physical_names("HashQueue")["ref"]
    s3.put_object(Bucket=ingest, Key="share/tiktok/stream.mp4", Body=stream_file.read_bytes(),
                  Metadata={"labels": "suicide-self-harm"})  # fmt: skip
    head = s3.head_object(Bucket=ingest, Key="share/tiktok/stream.mp4")
    obj = ObjectRef(ingest, "share/tiktok/stream.mp4", head["ETag"], head["ContentLength"], "0001")
    # The coalition in memory: what the edge hands on is shared through the real service.
    bank, notifier = MemoryBank(), RecordingNotifier()
    coalition = service_on(bank, MemoryStore(), notifier, ("tiktok", "reddit"))
    segments = S3SegmentStore(signals, s3, hash_queue, sqs)

    def edge() -> EdgeHasher:  # one hashing function's instance: its own sandbox
        limits = SandboxLimits(cpu_seconds=300, wall_seconds=450)
        return EdgeHasher(
            store=S3ObjectStore(s3), sink=coalition.sink, hasher=Sandbox(limits, LIMITS).hash,
            platforms=("tiktok", "reddit"), handoffs=MemoryHandOffs(), limits=LIMITS, segments=segments,
        )  # fmt: skip

    edge().process(obj)
    tasks = _queued(sqs, hash_queue)
    assert len(tasks) == 14 and tasks[-1].end is None
    assert notifier.to("tiktok") == []  # nothing shared before every segment is in

    # Two instances side by side (this machine's two cores; Lambda runs all 14 at once).
    started = time.monotonic()
    pending = list(tasks)
    lock = threading.Lock()

    def worker() -> None:
        instance = edge()
        while True:
            with lock:
                if not pending:
                    return
                task = pending.pop()
            instance.process_segment(task)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started

    assert [n.event_type for n in notifier.to("tiktok")] == [EventType.SHARE_ACCEPTED], wall
    (submission,) = [s for s in coalition.sink.sent if s.hashes is not None]
    frames = submission.hashes.frames  # type: ignore[union-attr]
    assert len(frames) == int(SECONDS * FPS)  # every frame, once
    assert frames[0].offset == 0.0 and frames[-1].offset == pytest.approx(SECONDS - 10, abs=0.01)
    assert [f.offset for f in frames] == sorted(f.offset for f in frames)
    assert s3.list_objects_v2(Bucket=ingest, Prefix="share/").get("KeyCount", 0) == 0
    assert s3.list_objects_v2(Bucket=signals, Prefix=SEGMENTS_PREFIX).get("KeyCount", 0) == 0
    (item,) = bank.items.values()
    assert item.duration == pytest.approx(SECONDS, abs=1)

    # Footage from the fourth hour, re-uploaded as a clip, is caught.
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip.mp4"
        _encode(clip, 60, Fraction(5), [np.asarray(scene(900 + 10, SIZE))])
        matches = coalition.matcher.match(hash_file(clip))
    assert [m.item_id for m in matches] == [item.item_id]
    print(json.dumps({"segments": len(tasks), "frames": len(frames), "wall_seconds": round(wall, 1)}))


def test_the_hashing_function_can_queue_and_assemble_segments_and_nothing_more(moto_aws: Stack) -> None:
    """What the template grants the hashing function for segments (its full grants are pinned in
    tests/integration/test_template.py)."""
    properties = moto_aws.resources["HashFunction"]["Properties"]
    statements = {s["Sid"]: s for p in properties["Policies"] for s in p["Statement"]}
    assert moto_aws.resolve(statements["AssembleVideoSegments"]["Resource"]).endswith("/signals/segments/*")
    assert statements["ListVideoSegments"]["Condition"] == {"StringLike": {"s3:prefix": ["signals/segments/*"]}}
    queues = [moto_aws.resolve(r) for r in statements["QueueSubmissions"]["Resource"]]
    assert moto_aws.physical_names("HashQueue")["Arn"] in queues
    env = moto_aws.function_environment("HashFunction")
    assert env["HASH_QUEUE_URL"] == moto_aws.physical_names("HashQueue")["ref"]
