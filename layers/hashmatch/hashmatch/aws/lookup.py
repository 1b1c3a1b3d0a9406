"""The edge's client of the coalition's HTTP API: requests signed with SigV4 (IAM auth)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from hashmatch.media.model import Candidate

__all__ = ["LookupApiClient", "LookupApiError"]

TIMEOUT_SECONDS = 30.0


class LookupApiError(RuntimeError):
    """The API answered with an error, or not at all; the message says which."""


class LookupApiClient:
    """`CandidateSource` over ``POST /v1/candidates`` at `base_url`, signed with the session's credentials."""

    def __init__(self, base_url: str, session: boto3.session.Session | None = None, region: str | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._session = session or boto3.session.Session()
        self._region = region or self._session.region_name or "us-east-1"

    def uneven_crop_candidates(self, keys: Sequence[str], grid_hashes: Sequence[str]) -> list[Candidate]:
        answer = self.post("/v1/candidates", {"keys": list(keys), "hashes": list(grid_hashes)})
        return [Candidate(int(c["row"]), str(c["stored"])) for c in answer.get("candidates", [])]

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer of a signed POST; raises `LookupApiError` on an error or no answer."""
        data = json.dumps(body).encode()
        request = AWSRequest(
            method="POST", url=f"{self._base_url}{path}", data=data, headers={"content-type": "application/json"}
        )
        credentials = self._session.get_credentials()
        if credentials is None:
            raise LookupApiError("no AWS credentials to sign the request with")
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(request)
        prepared = urllib.request.Request(request.url, data=data, headers=dict(request.headers), method="POST")
        try:
            with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as error:
            detail = error.read()[:500].decode(errors="replace")
            raise LookupApiError(f"{path}: HTTP {error.code}: {detail}") from error
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as error:
            raise LookupApiError(f"{path}: no usable answer from {self._base_url}: {error}") from error
