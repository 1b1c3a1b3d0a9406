"""The client of the coalition's HTTP API (`openapi/lookup.yaml`): requests signed with SigV4 (IAM auth)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from hashmatch.media.model import Candidate, Grid

__all__ = ["LookupApiClient", "LookupApiError"]

TIMEOUT_SECONDS = 30.0
# Grids in one ``/v1/candidates`` request: the API's `MAX_CANDIDATE_FILES` (hashmatch.aws.api).
FILES_PER_REQUEST = 50


# An API refuses a grid with more rectangles than it takes with 413 and this message (an API from
# before the core grid takes 242, one from before the fine grids inside frames 442). Asking again
# with each grid's first rows asks about as many as that API takes, rows keeping their numbers, in
# the order `hashmatch.media.uneven._grid` lays them: the fine and the mirrored coarse grid on the
# whole copy, the fine grids inside frames, the deep grid, the core grids. What an older API is not
# asked about waits for the coalition's upgrade.
_GRID_LIMIT = re.compile(r"at most (\d+) grid rectangles")


class LookupApiError(RuntimeError):
    """The API answered with an error, or not at all; the message says which, `status` the HTTP
    status when there was an answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LookupApiClient:
    """`CandidateSource` over ``POST /v1/candidates`` at `base_url` (the many-copies form), and the
    API's other routes, signed with the session's credentials."""

    def __init__(self, base_url: str, session: boto3.session.Session | None = None, region: str | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._session = session or boto3.session.Session()
        self._region = region or self._session.region_name or "us-east-1"

    def uneven_crop_candidates_many(self, grids: Sequence[Grid]) -> list[list[Candidate]]:
        """One request per `FILES_PER_REQUEST` grids (``{"files": [...]}``), answered grid for grid.
        An API that takes fewer rectangles a grid than these hold (one deployed before the edge was
        upgraded) is asked again with each grid's first rows, as many as it says it takes."""
        found: list[list[Candidate]] = []
        for start in range(0, len(grids), FILES_PER_REQUEST):
            chunk = grids[start : start + FILES_PER_REQUEST]
            try:
                answer = self.post("/v1/candidates", _candidates_body(chunk)).get("files")
            except LookupApiError as refused:
                taken = _GRID_LIMIT.search(str(refused)) if refused.status == 413 else None
                if taken is None:
                    raise
                rows = int(taken.group(1))
                shorter = [(keys[:rows], hashes[:rows]) for keys, hashes in chunk]
                answer = self.post("/v1/candidates", _candidates_body(shorter)).get("files")
            if not isinstance(answer, list) or len(answer) != len(chunk):
                raise LookupApiError(f"/v1/candidates: {len(chunk)} files asked about, no answer for each")
            found += [[Candidate(int(c["row"]), str(c["stored"])) for c in one.get("candidates", [])] for one in answer]
        return found

    def lookup(self, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``POST /v1/lookup``: each entry (``{"content_id": ..., "hashes": <codec JSON form>}``)
        answered in order, with its ``matches``; raises `LookupApiError` (with the API's message)
        when the request is refused (an unreadable entry, more than 100 entries) or not answered."""
        answer = self.post("/v1/lookup", {"entries": [dict(entry) for entry in entries]})
        results = answer.get("results")
        if not isinstance(results, list):
            raise LookupApiError(f"/v1/lookup: no usable answer from {self._base_url}: no results")
        return results

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer of a signed POST; raises `LookupApiError` on an error or no answer."""
        return self._answer(path, *self.send("POST", path, json.dumps(body).encode()))

    def get(self, path: str) -> dict[str, Any]:
        """The JSON answer of a signed GET; raises `LookupApiError` on an error or no answer."""
        return self._answer(path, *self.send("GET", path))

    def send(self, method: str, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        """One signed request as it is, errors included: the HTTP status and the body answered.
        Raises `LookupApiError` only when nothing was answered."""
        headers = {"content-type": "application/json"} if data is not None else {}
        request = AWSRequest(method=method, url=f"{self._base_url}{path}", data=data, headers=headers)
        credentials = self._session.get_credentials()
        if credentials is None:
            raise LookupApiError("no AWS credentials to sign the request with")
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(request)
        prepared = urllib.request.Request(request.url, data=data, headers=dict(request.headers), method=method)
        try:
            with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), bytes(error.read())
        except (urllib.error.URLError, TimeoutError) as error:
            raise LookupApiError(f"{path}: no answer from {self._base_url}: {error}") from error

    def _answer(self, path: str, status: int, body: bytes) -> dict[str, Any]:
        if status >= 400:
            detail = body[:500].decode(errors="replace")
            raise LookupApiError(f"{path}: HTTP {status}: {detail}", status)
        try:
            answer = json.loads(body)
        except json.JSONDecodeError as error:
            raise LookupApiError(f"{path}: no usable answer from {self._base_url}: {error}") from error
        if not isinstance(answer, dict):
            raise LookupApiError(f"{path}: no usable answer from {self._base_url}: not a JSON object")
        return answer


def _candidates_body(grids: Sequence[Grid]) -> dict[str, Any]:
    return {"files": [{"keys": list(keys), "hashes": list(hashes)} for keys, hashes in grids]}
