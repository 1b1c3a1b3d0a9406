"""The coalition's HTTP API (API Gateway HTTP API, IAM auth), as one handler over its routes.

Hashes in, answers out: the API never sees pixels and changes nothing. `openapi/lookup.yaml`
describes every route, request and response; the integration tests keep it true against the
local stack.

- ``POST /v1/candidates``: the edge's uneven-crop question. Body ``{"keys": [16-hex ...],
  "hashes": [64-hex ...]}`` (an unevenly cut copy's grid: `hashmatch.media.uneven`), answer
  ``{"candidates": [{"row": n, "stored": "<pdq hex>"}, ...]}``: the stored framings to search
  toward. Many copies in one request: ``{"files": [{"keys": [...], "hashes": [...]}, ...]}``
  (at most `MAX_CANDIDATE_FILES`), answered ``{"files": [{"candidates": [...]}, ...]}`` in order;
  a grid that cannot be read refuses the request, its message naming it (``files[3]: ...``).
- ``POST /v1/lookup``: blocking at upload time. Body ``{"entries": [{"content_id": ...,
  "hashes": {...}}, ...], "member": "tiktok"}``, at most `MAX_LOOKUP_ENTRIES` query sets, each in the JSON form of
  `hashmatch.media.codec` (what ``hashmatch hash --for-check`` prints). Answer ``{"results":
  [...]}``, one per entry in request order: ``{"entry": n, "content_id": ..., "matches": [...]}``
  with the match fields notifications carry (`match_body`). An entry that cannot be read (a bad
  hash, an unknown signal, a missing field) refuses the request as a whole with 400, the message
  naming the entry and the field (``entries[2]: hashes: a pdq hash is 64 hex digits, ...``).
  The matches are those the calling member's policy acts on (`MEMBER_POLICIES`: its labels,
  trusted contributors and backers required), as its checks through the bucket are. Who calls is
  API Gateway's answer (below); ``member`` in the body names a member for a caller that is no
  member's role, and a member's role may name only itself (403 ``wrong_member`` otherwise).
- ``GET /v1/items/{item_id}``: one item's public record, as notifications describe items
  (`item_body`), with its ``status`` (``active``, ``withdrawn``, ``quarantined``, ``removed`` or ``benign``).
- ``GET /v1/stats``: what the matcher's near-match index holds (entries per signal and kind,
  items, the change-log position it reflects), read from memory after reading the log's tail:
  no table scan. Items shared with exact digests only are not in the index, so not counted.

Who may call is IAM's answer, as for ``/v1/candidates``: API Gateway verifies the SigV4
signature and refuses (403) a principal whose policies do not grant the route
(``PlatformAccess<platform>`` grants each route by name; the hashing function's role only
``/v1/candidates``), then names the caller in ``requestContext.authorizer.iam``. With members in
their own accounts (``Members``), a caller signing as a session of a platform's role
(``<stack>-<platform>`` in the coalition's account: `hashmatch.governance.callers`) is that
member: its lookups are answered with its own policy, whether or not the body names it, and a body
naming another member is refused (403 ``wrong_member``), not answered as that member. Any other
caller (the operators' principals, any caller without ``Members``) is answered as before: with the
policy of the member the body names, taken on the caller's word because a policy only hides
matches (a caller naming another member sees less, never more, than naming none). A member's
role is matched at its own thresholds (``PLATFORM_THRESHOLDS``), as its checks through the ingest
bucket are; a member named on the caller's word, at its own only where they are stricter than the
coalition's defaults (so naming a member still shows no more); any other lookup at the defaults.

Errors are JSON ``{"error": {"code": ..., "message": ...}}`` with 400 (bad request), 403 (a
member's role naming another member), 404 (no such route, or no such item) or 413 (too large).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hashmatch.bank.model import ENTRY_KINDS
from hashmatch.governance.callers import NO_MEMBER_ROLES, MemberCallers
from hashmatch.governance.policy import CoalitionRules
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import Thresholds
from hashmatch.media.codec import hashes_from_json, member_json
from hashmatch.media.model import Candidate, MediaHashes
from hashmatch.media.uneven import MAX_GRID_ROWS
from hashmatch.service.notifications import item_body, match_body
from hashmatch.signals.pdq import PDQ

__all__ = [
    "MAX_CANDIDATES_BODY_BYTES",
    "MAX_CANDIDATE_FILES",
    "MAX_CONTENT_ID",
    "MAX_LOOKUP_BODY_BYTES",
    "MAX_LOOKUP_ENTRIES",
    "handle_request",
]

logger = logging.getLogger(__name__)

# A checked picture's query set is ~6 KB, so 100 of them ~0.6 MB; the rest leaves room for video
# frames, under Lambda's 6 MB request limit.
MAX_LOOKUP_BODY_BYTES = 4 * 1024 * 1024
MAX_LOOKUP_ENTRIES = 100
MAX_CONTENT_ID = 1024  # as in check lists (`hashmatch.edge.ingest`)
MAX_GRID = MAX_GRID_ROWS  # the rectangles of one copy's uneven-crop search
# Grids asked about in one request (~80 KB each at most, 3.8 MiB for 50: inside
# `MAX_CANDIDATES_BODY_BYTES`, and that under Lambda's 6 MB request limit): a member checking many
# files pays one request, and one refresh of the index, for all of them.
MAX_CANDIDATE_FILES = 50
MAX_CANDIDATES_BODY_BYTES = 4 * 1024 * 1024
KEY_DIGITS = 16  # PDQ's 64 low-frequency bits (`hashmatch.signals.pdq.low_frequency_key`)
_HEX = frozenset("0123456789abcdef")
_ITEM_PATH = re.compile(r"/v1/items/(?P<item_id>[^/]*)")
_ITEM_ID = re.compile(r"[0-9a-f]{32}")  # `hashmatch.bank.model.item_id_for`
_LOOKUP_FIELDS = frozenset({"entries", "member"})
_ENTRY_FIELDS = frozenset({"content_id", "hashes"})


# The member platforms and the coalition's rules, for a lookup that names a member.
MemberRules = tuple[tuple[str, ...], CoalitionRules]
NO_MEMBERS: MemberRules = ((), CoalitionRules())


class BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400, code: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def handle_request(
    event: dict[str, Any],
    matcher: Callable[[], Matcher],
    rules: Callable[[], MemberRules] = lambda: NO_MEMBERS,
    callers: Callable[[], MemberCallers] = lambda: NO_MEMBER_ROLES,
    thresholds: Callable[[str], Thresholds] = lambda member: Thresholds(),
) -> dict[str, Any]:
    """An API Gateway (payload format 2.0) event answered: a JSON response, 200 or an error.
    `rules`: the member platforms and the coalition's rules (member policies) for ``member``;
    `callers`: the member roles a caller may be (`requestContext.authorizer.iam` is checked against them);
    `thresholds`: each member's own (``PLATFORM_THRESHOLDS``), for a lookup answered as that member.

    Errors of the bank or of the index (throttling, a bug) are raised: API Gateway answers 500
    and the caller may retry.
    """
    http = event.get("requestContext", {}).get("http", {})
    method, path = str(http.get("method", "")), str(event.get("rawPath", ""))
    try:
        return _json(200, _answer(method, path, event, matcher, rules, callers, thresholds))
    except BadRequest as error:
        return _json(error.status, {"error": {"code": error.code, "message": str(error)}})


def _answer(
    method: str,
    path: str,
    event: dict[str, Any],
    matcher: Callable[[], Matcher],
    rules: Callable[[], MemberRules],
    callers: Callable[[], MemberCallers],
    thresholds: Callable[[str], Thresholds],
) -> dict[str, Any]:
    if (method, path) == ("POST", "/v1/candidates"):
        return _candidates(_body(event, MAX_CANDIDATES_BODY_BYTES), matcher())
    if (method, path) == ("POST", "/v1/lookup"):
        caller = callers().member_of(((event.get("requestContext") or {}).get("authorizer") or {}).get("iam"))
        return _lookup(_body(event, MAX_LOOKUP_BODY_BYTES), matcher(), rules, caller, thresholds)
    if (method, path) == ("GET", "/v1/stats"):
        return _stats(matcher())
    item = _ITEM_PATH.fullmatch(path)
    if method == "GET" and item is not None:
        return _item(item["item_id"], matcher())
    raise BadRequest(f"no route {method} {path}", 404, "not_found")


def _body(event: dict[str, Any], limit: int) -> dict[str, Any]:
    raw = event.get("body") or ""
    try:
        data = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode("utf-8")
    except (binascii.Error, ValueError) as error:
        raise BadRequest("the body is not valid base64") from error
    if len(data) > limit:
        raise BadRequest(f"a request body is at most {limit} bytes", 413, "too_large")
    try:
        body = member_json(data)
    except ValueError as error:
        raise BadRequest(f"the body is {error}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _candidates(body: dict[str, Any], matcher: Matcher) -> dict[str, Any]:
    if "files" not in body:
        (found,) = matcher.uneven_crop_candidates_many([_grid(body)])
        return _candidates_json(found)
    files = body["files"]
    if set(body) != {"files"}:
        raise BadRequest('the body is {"keys": [...], "hashes": [...]} or {"files": [...]}, not both')
    if not isinstance(files, list) or not files:
        raise BadRequest('files must be a non-empty list of {"keys": [...], "hashes": [...]}')
    if len(files) > MAX_CANDIDATE_FILES:
        raise BadRequest(f"at most {MAX_CANDIDATE_FILES} files", 413, "too_large")
    grids = []
    for n, grid in enumerate(files):
        try:
            if not isinstance(grid, dict):
                raise BadRequest('each file is {"keys": [...], "hashes": [...]}')
            grids.append(_grid(grid))
        except BadRequest as error:
            raise BadRequest(f"files[{n}]: {error}", error.status, error.code) from error
    answers = matcher.uneven_crop_candidates_many(grids)  # one refresh of the index for all
    return {"files": [_candidates_json(found) for found in answers]}


def _candidates_json(found: list[Candidate]) -> dict[str, Any]:
    return {"candidates": [{"row": c.row, "stored": c.stored} for c in found]}


def _grid(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    """One copy's grid, read: its framing keys and PDQ hashes (strings, as the API document has
    them: a JSON number is refused, not read as its digits), row for row."""
    keys, hashes = body.get("keys"), body.get("hashes")
    if not isinstance(keys, list) or not isinstance(hashes, list) or len(keys) != len(hashes):
        raise BadRequest("keys and hashes must be lists of equal length")
    if len(keys) > MAX_GRID:
        raise BadRequest(f"at most {MAX_GRID} grid rectangles", 413, "too_large")
    if not all(isinstance(value, str) for value in (*keys, *hashes)):
        raise BadRequest("keys and hashes must be lists of strings (hex digits)")
    parsed_keys = [k.strip().lower() for k in keys]
    if any(len(k) != KEY_DIGITS or not set(k) <= _HEX for k in parsed_keys):
        raise BadRequest(f"a framing key is {KEY_DIGITS} hex digits")
    try:
        parsed_hashes = [PDQ.parse(h) for h in hashes]
    except ValueError as error:
        raise BadRequest(str(error)) from error
    return parsed_keys, parsed_hashes


def _lookup(
    body: dict[str, Any],
    matcher: Matcher,
    rules: Callable[[], MemberRules],
    caller: str | None,
    thresholds: Callable[[str], Thresholds],
) -> dict[str, Any]:
    unknown = sorted(set(body) - _LOOKUP_FIELDS)
    if unknown:
        raise BadRequest(f'unknown field {unknown[0]!r}: the body is {{"entries": [...], "member": ...}}')
    member = _answered_as(body.get("member"), rules, caller)
    policy = rules()[1].policy(member) if member is not None else None
    entries = body.get("entries")
    if not isinstance(entries, list) or not entries:
        raise BadRequest(f"entries must be a list of 1 to {MAX_LOOKUP_ENTRIES} query sets")
    if len(entries) > MAX_LOOKUP_ENTRIES:
        raise BadRequest(
            f"entries holds {len(entries)} query sets, more than the limit of {MAX_LOOKUP_ENTRIES}: split the batch",
            413,
            "too_large",
        )
    # Every entry is read before any is matched: a request with one unreadable entry is a
    # client's bug, refused as a whole with the entry and the field named, not half answered.
    parsed: list[tuple[str | None, MediaHashes]] = []
    for position, entry in enumerate(entries):
        try:
            parsed.append(_query_set(entry))
        except ValueError as error:
            raise BadRequest(f"entries[{position}]: {error}") from error
    # One read of the log tail for all, at the member's thresholds (`_thresholds_of`).
    answers = matcher.match_many([hashes for _, hashes in parsed], _thresholds_of(member, caller, thresholds))
    if policy is not None:
        answers = [policy.acted_on(matches) for matches in answers]
    results = [
        {"entry": position, "content_id": content_id, "matches": [match_body(m) for m in matches]}
        for position, ((content_id, _), matches) in enumerate(zip(parsed, answers, strict=True))
    ]
    matched = sum(bool(r["matches"]) for r in results)
    logger.info("lookup", extra={"entries": len(entries), "matched": matched, "caller_member": caller})
    return {"results": results}


def _answered_as(member: object, rules: Callable[[], MemberRules], caller: str | None) -> str | None:
    """The member whose policy and thresholds answer the lookup: the calling member, else the
    named one, else none (the coalition's defaults)."""
    if member is None and caller is None:
        return None
    platforms, _ = rules()
    if member is not None and (not isinstance(member, str) or member not in platforms):
        raise BadRequest(f"member must name a member platform ({', '.join(platforms)}), got {member!r}")
    if caller is not None and member not in (None, caller):
        raise BadRequest(
            f"this request is signed by {caller}'s role, and a member looks up as itself: member names {member!r} "
            f"(name {caller!r} or leave member out)",
            403,
            "wrong_member",
        )
    return caller or str(member)


def _thresholds_of(
    member: str | None, caller: str | None, thresholds: Callable[[str], Thresholds]
) -> Thresholds | None:
    """A lookup's thresholds: the calling member's own, as its checks are matched; a member named
    on the caller's word, its own where they are stricter than the defaults (naming a member shows
    no more than naming none); no member, the defaults."""
    if member is None:
        return None
    own = thresholds(member)
    if member == caller:
        return own
    defaults = Thresholds()
    return Thresholds({name: min(value, defaults.for_signal(name)) for name, value in own.values.items()})


def _query_set(entry: object) -> tuple[str | None, MediaHashes]:
    """The content id and hashes of one entry; raises ValueError naming what is wrong with it."""
    if not isinstance(entry, dict):
        raise ValueError('an entry is an object {"content_id": ..., "hashes": {...}}')
    unknown = sorted(set(entry) - _ENTRY_FIELDS)
    if unknown:
        raise ValueError(f'unknown field {unknown[0]!r}: an entry is {{"content_id": ..., "hashes": {{...}}}}')
    content_id = entry.get("content_id")
    if content_id is not None and (not isinstance(content_id, str) or len(content_id) > MAX_CONTENT_ID):
        raise ValueError(f"content_id must be a string of at most {MAX_CONTENT_ID} characters")
    if "hashes" not in entry:
        raise ValueError("hashes is missing")
    try:
        return content_id, hashes_from_json(entry["hashes"])
    except ValueError as error:
        raise ValueError(f"hashes: {error}") from error


def _item(item_id: str, matcher: Matcher) -> dict[str, Any]:
    if not _ITEM_ID.fullmatch(item_id):
        raise BadRequest("an item id is 32 lowercase hex digits")
    found = matcher.bank.get_items([item_id]).get(item_id)
    if found is None:
        raise BadRequest(f"no item {item_id} in the bank", 404, "unknown_item")
    return {**item_body(found), "status": found.status}


def _stats(matcher: Matcher) -> dict[str, Any]:
    """The index's counts after reading the change log's tail (a query of the log partition).

    Recent adds are merged into the index's arrays first (what a snapshot does): linear in the
    index's size, about half a second at 10M entries, and work the index would do soon anyway.
    """
    index = matcher.index
    index.refresh(matcher.bank)
    kinds = len(ENTRY_KINDS)
    with index.frozen_state() as state:
        table = state.table
        codes = table.entry_signals.astype(np.int64) * kinds + table.entry_kinds
        counts = np.bincount(codes, minlength=len(state.signals) * kinds).tolist()
        entries, items, position = len(table), int(table.item_ids.shape[0]), state.position
        signals = {
            name: {
                "entries": sum(counts[code * kinds : (code + 1) * kinds]),
                "kinds": {kind: counts[code * kinds + k] for k, kind in enumerate(ENTRY_KINDS)},
            }
            for code, name in enumerate(state.signals)
        }
    return {
        "entries": entries,
        "items": items,
        "signals": signals,
        "position": position,
        "newest_change_at": position.split("#", 1)[0] if position else None,
        "refreshed_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "index_bytes": index.nbytes,
    }


def _json(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
