"""The coalition's HTTP API (API Gateway HTTP API, IAM auth), as one handler over its routes.

``POST /v1/candidates``: the edge's uneven-crop question. Body ``{"keys": [16-hex ...],
"hashes": [64-hex ...]}`` (an unevenly cut copy's grid: `hashmatch.media.uneven`), answer
``{"candidates": [{"row": n, "stored": "<pdq hex>"}, ...]}``: the stored framings to search
toward. Hashes in, hashes out; the API never sees pixels.

Errors are JSON ``{"error": {"code": ..., "message": ...}}`` with 400 (bad request), 404 (no
such route) or 413 (too large).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from hashmatch.matching.matcher import Matcher
from hashmatch.media.uneven import UNEVEN_CUTS
from hashmatch.signals.pdq import PDQ

__all__ = ["MAX_BODY_BYTES", "handle_request"]

MAX_BODY_BYTES = 1024 * 1024
MAX_GRID = len(UNEVEN_CUTS) ** 4 * 2  # a grid, mirrored
KEY_DIGITS = 16  # PDQ's 64 low-frequency bits (`hashmatch.signals.pdq.low_frequency_key`)
_HEX = frozenset("0123456789abcdef")


class BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400, code: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def handle_request(event: dict[str, Any], matcher: Callable[[], Matcher]) -> dict[str, Any]:
    """An API Gateway (payload format 2.0) event answered."""
    http = event.get("requestContext", {}).get("http", {})
    route = (http.get("method", ""), event.get("rawPath", ""))
    try:
        if route == ("POST", "/v1/candidates"):
            return _json(200, _candidates(_body(event), matcher()))
        raise BadRequest(f"no route {route[0]} {route[1]}", 404, "not_found")
    except BadRequest as error:
        return _json(error.status, {"error": {"code": error.code, "message": str(error)}})


def _body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8", errors="replace")
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"a request body is at most {MAX_BODY_BYTES} bytes", 413, "too_large")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as error:
        raise BadRequest(f"the body is not JSON: {error.msg}") from error
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _candidates(body: dict[str, Any], matcher: Matcher) -> dict[str, Any]:
    keys, hashes = body.get("keys"), body.get("hashes")
    if not isinstance(keys, list) or not isinstance(hashes, list) or len(keys) != len(hashes):
        raise BadRequest("keys and hashes must be lists of equal length")
    if len(keys) > MAX_GRID:
        raise BadRequest(f"at most {MAX_GRID} grid rectangles", 413, "too_large")
    parsed_keys = [str(k).strip().lower() for k in keys]
    if any(len(k) != KEY_DIGITS or not set(k) <= _HEX for k in parsed_keys):
        raise BadRequest(f"a framing key is {KEY_DIGITS} hex digits")
    try:
        parsed_hashes = [PDQ.parse(str(h)) for h in hashes]
    except ValueError as error:
        raise BadRequest(str(error)) from error
    found = matcher.uneven_crop_candidates(parsed_keys, parsed_hashes)
    return {"candidates": [{"row": c.row, "stored": c.stored} for c in found]}


def _json(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
