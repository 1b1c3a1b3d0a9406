"""What a decoder exploited by a hostile file could reach: not the function's AWS credentials."""

from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path

import pytest

from hashmatch.edge.sandbox import Sandbox, _decoded, _hash_in_child, decoder_environment
from hashmatch.matching.policy import MAX_UNEVEN_CROP_SEARCHES
from hashmatch.media.codec import MAX_QUERIES
from hashmatch.media.model import Limits, Rejected, RejectReason
from hashmatch_tools.samples import jpeg_bytes, smooth_photo

_PR_GET_DUMPABLE = 3


def test_the_decoders_environment_holds_no_aws_variable() -> None:
    environment = {
        "AWS_ACCESS_KEY_ID": "AKIA...",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "aws_profile": "default",
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/creds",
        "PATH": "/usr/bin",
        "PYTHONPATH": "/opt/python",
    }
    kept = decoder_environment(environment)
    assert kept == {
        "PATH": "/usr/bin",
        "PYTHONPATH": "/opt/python",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and prctl, Linux only")
def test_the_fork_server_runs_without_the_credentials_and_cannot_read_them_from_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "never-in-a-decoder")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "never-in-a-decoder-either")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(smooth_photo(3, (320, 240))))
    sandbox = Sandbox()
    try:
        assert sandbox.hash(photo).signals["sha256"]
        server = sandbox._server
        assert server is not None
        environ = Path(f"/proc/{server.pid}/environ").read_bytes()
        assert b"never-in-a-decoder" not in environ and b"AWS_" not in environ
    finally:
        sandbox.close()
    # The parent is not dumpable: a process of the same user cannot read its environ.
    assert ctypes.CDLL(None).prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 0


def _answer(tmp_path: Path) -> dict:
    """What the child answers for a checked photo: its hashes and its uneven-crop search."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(smooth_photo(5, (480, 320))))
    answer = json.loads(_hash_in_child(str(photo), False, Limits()))
    assert answer["uneven"]["regions"] and answer["hashes"]["queries"]
    return answer


def test_an_answer_whose_grid_is_out_of_the_picture_is_a_rejection_of_that_file_alone(tmp_path: Path) -> None:
    # Refining runs once for a whole batch: a rectangle with an edge at infinity used to fail there,
    # for every file of the batch, other members' included.
    answer = _answer(tmp_path)
    assert _decoded(json.dumps(answer).encode(), Limits()).uneven_crops is not None
    for edges in (["inf", 0, 1, 1], [0, 0, 1.5, 1], [0.5, 0, 0.4, 1], ["nan", 0, 1, 1], [0, 0, 1]):
        answer["uneven"]["regions"][0] = edges
        with pytest.raises(Rejected) as rejected:
            _decoded(json.dumps(answer).encode().replace(b'"inf"', b"Infinity").replace(b'"nan"', b"NaN"), Limits())
        assert rejected.value.reason is RejectReason.CORRUPT


def test_an_answer_that_leaves_no_room_for_the_searchs_findings_is_a_rejection(tmp_path: Path) -> None:
    # The edge adds what the search finds to the queries: past what the coalition reads, the check
    # could never be answered.
    answer = _answer(tmp_path)
    query = answer["hashes"]["queries"][0]
    answer["hashes"]["queries"] = [query] * (MAX_QUERIES - MAX_UNEVEN_CROP_SEARCHES)
    assert _decoded(json.dumps(answer).encode(), Limits()).uneven_crops is not None
    answer["hashes"]["queries"] = [query] * MAX_QUERIES
    with pytest.raises(Rejected, match="no room"):
        _decoded(json.dumps(answer).encode(), Limits())
