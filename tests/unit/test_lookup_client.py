"""The lookup API's client against an API deployed before the edge was upgraded (fewer grid rows)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from hashmatch.aws import api as lookup_api
from hashmatch.aws.lookup import LookupApiClient, LookupApiError
from hashmatch.media.uneven import MAX_GRID_ROWS

pytestmark = pytest.mark.unit

OLDER_LIMIT = 242  # the rows a grid held before the core grid


def refusal(limit: int, rows: int) -> str:
    """What the lookup API says of a grid of `rows` rectangles when it takes `limit`: its own words."""
    grid = {"keys": ["0" * 16] * rows, "hashes": ["0" * 64] * rows}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lookup_api, "MAX_GRID", limit)
        with pytest.raises(lookup_api.BadRequest) as refused:
            lookup_api._grid(grid)
    assert refused.value.status == 413
    return str(refused.value)


class OlderApi:
    """``POST /v1/candidates`` as an API taking `limit` rows a grid answers it: 413 in the API's
    words for a longer grid, else one candidate per grid, from its last row."""

    def __init__(self, limit: int = OLDER_LIMIT) -> None:
        self.limit = limit
        self.asked: list[list[int]] = []  # rows per grid, per request

    def send(self, method: str, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        assert (method, path) == ("POST", "/v1/candidates") and data is not None
        files = json.loads(data)["files"]
        self.asked.append([len(grid["keys"]) for grid in files])
        for number, grid in enumerate(files):
            if len(grid["keys"]) > self.limit:
                message = f"files[{number}]: {refusal(self.limit, len(grid['keys']))}"
                return 413, json.dumps({"error": {"code": "too_large", "message": message}}).encode()
        answer = {"files": [{"candidates": [{"row": len(g["keys"]) - 1, "stored": g["hashes"][-1]}]} for g in files]}
        return 200, json.dumps(answer).encode()


def client_on(api: Any, monkeypatch: pytest.MonkeyPatch) -> LookupApiClient:
    client = LookupApiClient("https://lookup.example", boto3.session.Session(region_name="us-east-1"))
    monkeypatch.setattr(client, "send", api.send)
    return client


def grid(rows: int, seed: int) -> tuple[list[str], list[str]]:
    return [f"{seed:04x}{row:012x}" for row in range(rows)], [f"{seed:04x}{row:060x}" for row in range(rows)]


def test_an_older_api_is_asked_again_with_each_grids_first_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    api = OlderApi()
    client = client_on(api, monkeypatch)
    grids = [grid(MAX_GRID_ROWS, 1), grid(100, 2), grid(OLDER_LIMIT + 1, 3)]
    found = client.uneven_crop_candidates_many(grids)
    assert api.asked == [[MAX_GRID_ROWS, 100, OLDER_LIMIT + 1], [OLDER_LIMIT, 100, OLDER_LIMIT]]
    # Rows keep their numbers: the first rows are the same rows.
    assert [[(c.row, c.stored) for c in one] for one in found] == [
        [(OLDER_LIMIT - 1, grids[0][1][OLDER_LIMIT - 1])],
        [(99, grids[1][1][99])],
        [(OLDER_LIMIT - 1, grids[2][1][OLDER_LIMIT - 1])],
    ]


def test_a_current_api_is_asked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    api = OlderApi(limit=MAX_GRID_ROWS)
    found = client_on(api, monkeypatch).uneven_crop_candidates_many([grid(MAX_GRID_ROWS, 1)])
    assert api.asked == [[MAX_GRID_ROWS]] and found[0][0].row == MAX_GRID_ROWS - 1


def test_other_refusals_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bytes | None] = []

    def refuse(method: str, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        asked.append(data)
        return 413, json.dumps({"error": {"code": "too_large", "message": "at most 50 files"}}).encode()

    client = LookupApiClient("https://lookup.example", boto3.session.Session(region_name="us-east-1"))
    monkeypatch.setattr(client, "send", refuse)
    with pytest.raises(LookupApiError, match="at most 50 files") as refused:
        client.uneven_crop_candidates_many([grid(10, 1)])
    assert refused.value.status == 413 and len(asked) == 1
