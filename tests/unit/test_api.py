"""The HTTP API's handler on an in-memory bank: lookups, items and statistics, and every refusal."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageEnhance

from hashmatch.aws.api import (
    MAX_CANDIDATE_FILES,
    MAX_CANDIDATES_BODY_BYTES,
    MAX_CONTENT_ID,
    MAX_GRID,
    MAX_LOOKUP_BODY_BYTES,
    MAX_LOOKUP_ENTRIES,
    _thresholds_of,
    handle_request,
)
from hashmatch.bank.model import Provenance, SharedItem
from hashmatch.governance.callers import NO_MEMBER_ROLES, MemberCallers
from hashmatch.governance.policy import CoalitionRules, MemberPolicy
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import Thresholds
from hashmatch.media.codec import MAX_FRAME_FRAMINGS, MAX_FRAMES, MAX_QUERIES, hashes_from_json, hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.service.notifications import item_body, match_body
from hashmatch.service.service import item_from_media
from hashmatch.signals import SIGNALS
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.samples import jpeg_bytes, mirrored, scene

pytestmark = pytest.mark.unit

OPENAPI = Path(__file__).resolve().parents[2] / "openapi" / "lookup.yaml"
MEMBERS = ("tiktok", "reddit", "twitch")
RULES = CoalitionRules(
    policies={
        "reddit": MemberPolicy(required_backers=2),
        "twitch": MemberPolicy(labels=frozenset({"graphic-violence"})),
    }
)
# Members in their own accounts: each platform's role in the coalition's account.
COALITION = "123456789012"
ROLES = MemberCallers(COALITION, {p: f"hashmatch-{p}" for p in MEMBERS})


def _session_of(role: str, account: str = COALITION) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/uploader"


@pytest.fixture(scope="module")
def shared() -> Image.Image:
    return scene(71)


@pytest.fixture(scope="module")
def copy_hashes(shared: Image.Image) -> dict[str, Any]:
    """A mirrored, re-encoded copy's query set, as `hashmatch hash --for-check` prints it."""
    return hashes_to_json(_hashes(mirrored(shared), quality=70))


@pytest.fixture(scope="module")
def brighter_copy_hashes(shared: Image.Image) -> dict[str, Any]:
    """A mirrored copy made brighter, re-encoded: no hash of it equals a stored one."""
    return hashes_to_json(_hashes(ImageEnhance.Brightness(mirrored(shared)).enhance(1.3), quality=70))


@pytest.fixture(scope="module")
def other_hashes() -> dict[str, Any]:
    return hashes_to_json(_hashes(scene(72)))


def _hashes(picture: Image.Image, *, quality: int = 90, for_sharing: bool = False) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "picture.jpg"
        path.write_bytes(jpeg_bytes(picture, quality))
        return hash_file(path, for_sharing=for_sharing)


class LookupApi:
    """A matcher on an in-memory bank holding one shared picture."""

    def __init__(self, picture: Image.Image) -> None:
        self.callers = ROLES
        self.thresholds: dict[str, Thresholds] = {}  # each member's own (PLATFORM_THRESHOLDS)
        self.bank = MemoryBank()
        self.matcher = Matcher(self.bank, BankIndex())
        provenance = Provenance("tiktok", "2026-01-01T00:00:00.000Z", ("graphic-violence",), "high")
        self.item: SharedItem = item_from_media(_hashes(picture, for_sharing=True), provenance)
        self.bank.put_items([self.item])

    def ask(
        self, method: str, path: str, body: object = None, *, raw: str | None = None, signer: str | None = None
    ) -> tuple[int, Any]:
        """`signer`: the ARN API Gateway names as the caller (none: an event without an identity)."""
        event: dict[str, Any] = {"rawPath": path, "requestContext": {"http": {"method": method}}}
        if signer is not None:
            iam = {"userArn": signer, "accountId": signer.split(":")[4], "callerId": "AROAEXAMPLE:uploader"}
            event["requestContext"]["authorizer"] = {"iam": iam}
        if raw is not None or body is not None:
            event["body"] = raw if raw is not None else json.dumps(body)
        answer = handle_request(
            event,
            lambda: self.matcher,
            lambda: (MEMBERS, RULES),
            lambda: self.callers,
            lambda member: self.thresholds.get(member, Thresholds()),
        )
        assert answer["headers"] == {"content-type": "application/json"}
        return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def api(shared: Image.Image) -> LookupApi:
    return LookupApi(shared)


def _error(status_and_body: tuple[int, Any]) -> tuple[int, str]:
    status, body = status_and_body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"} and body["error"]["message"]
    return status, body["error"]["code"]


# ---------------------------------------------------------------- POST /v1/lookup


def test_a_lookup_naming_a_member_answers_what_its_policy_acts_on(api: LookupApi, copy_hashes: dict[str, Any]) -> None:
    entries = [{"content_id": "c1", "hashes": copy_hashes}]
    status, anyone = api.ask("POST", "/v1/lookup", {"entries": entries})
    assert status == 200 and anyone["results"][0]["matches"]
    assert api.ask("POST", "/v1/lookup", {"entries": entries, "member": "twitch"})[1] == anyone
    status, reddit = api.ask("POST", "/v1/lookup", {"entries": entries, "member": "reddit"})
    assert status == 200 and reddit["results"][0]["matches"] == []  # one contributor; reddit wants two
    status, message = _error(api.ask("POST", "/v1/lookup", {"entries": entries, "member": "nobody"}))
    assert (status, message) == (400, "bad_request")


def test_a_members_role_is_answered_with_its_own_policy_named_or_not(api: LookupApi, copy_hashes: dict) -> None:
    entries = [{"content_id": "c1", "hashes": copy_hashes}]
    reddit, twitch = _session_of("hashmatch-reddit"), _session_of("hashmatch-twitch")
    assert api.ask("POST", "/v1/lookup", {"entries": entries})[1]["results"][0]["matches"]
    for body in ({"entries": entries}, {"entries": entries, "member": "reddit"}):
        status, answer = api.ask("POST", "/v1/lookup", body, signer=reddit)
        assert status == 200 and answer["results"][0]["matches"] == []  # reddit wants two backers
    status, answer = api.ask("POST", "/v1/lookup", {"entries": entries}, signer=twitch)
    assert status == 200 and answer["results"][0]["matches"]  # twitch acts on graphic-violence


def test_a_members_lookups_are_matched_at_its_own_thresholds(api: LookupApi, brighter_copy_hashes: dict) -> None:
    entries = [{"hashes": brighter_copy_hashes}]
    twitch = _session_of("hashmatch-twitch")
    (match,) = api.ask("POST", "/v1/lookup", {"entries": entries}, signer=twitch)[1]["results"][0]["matches"]
    assert match["distance"] > 0
    # Stricter than the copy is close: twitch's own lookup no longer matches it, as its check would not.
    api.thresholds["twitch"] = Thresholds({match["signal"]: match["distance"] - 1})
    assert api.ask("POST", "/v1/lookup", {"entries": entries}, signer=twitch)[1]["results"][0]["matches"] == []
    # Anyone naming twitch gets its stricter thresholds too; naming nobody, the defaults.
    assert api.ask("POST", "/v1/lookup", {"entries": entries, "member": "twitch"})[1]["results"][0]["matches"] == []
    assert api.ask("POST", "/v1/lookup", {"entries": entries})[1]["results"][0]["matches"] == [match]
    # Looser than the defaults: its own role gets them; a caller naming it on its word, the defaults.
    default = Thresholds().pdq
    api.thresholds["twitch"] = Thresholds({"pdq": default + 9, "phash": 4})
    assert _thresholds_of("twitch", "twitch", api.thresholds.__getitem__) == api.thresholds["twitch"]
    assert _thresholds_of("twitch", None, api.thresholds.__getitem__) == Thresholds({"pdq": default, "phash": 4})
    assert _thresholds_of(None, None, api.thresholds.__getitem__) is None


@pytest.mark.parametrize("named", ["twitch", "tiktok"])
def test_a_members_role_naming_another_member_is_forbidden(api: LookupApi, copy_hashes: dict, named: str) -> None:
    body = {"entries": [{"hashes": copy_hashes}], "member": named}
    status, answer = api.ask("POST", "/v1/lookup", body, signer=_session_of("hashmatch-reddit"))
    assert _error((status, answer)) == (403, "wrong_member")
    assert "reddit's role" in answer["error"]["message"] and repr(named) in answer["error"]["message"]
    # A name that is no member at all is a malformed request, whoever sends it.
    body["member"] = "nobody"
    assert _error(api.ask("POST", "/v1/lookup", body, signer=_session_of("hashmatch-reddit"))) == (400, "bad_request")


@pytest.mark.parametrize(
    "signer",
    [
        None,  # an event without an identity
        _session_of("hashmatch-operators"),  # the operators' own role
        f"arn:aws:iam::{COALITION}:user/admin",
        _session_of("hashmatch-reddit", account="222222222222"),  # reddit's role's name, another account
    ],
)
def test_a_caller_that_is_no_members_role_is_answered_as_before(
    api: LookupApi, copy_hashes: dict, signer: str | None
) -> None:
    entries = [{"hashes": copy_hashes}]
    assert api.ask("POST", "/v1/lookup", {"entries": entries}, signer=signer)[1]["results"][0]["matches"]
    status, answer = api.ask("POST", "/v1/lookup", {"entries": entries, "member": "reddit"}, signer=signer)
    assert status == 200 and answer["results"][0]["matches"] == []


def test_without_member_roles_a_platforms_session_is_answered_as_before(api: LookupApi, copy_hashes: dict) -> None:
    api.callers = NO_MEMBER_ROLES  # Members empty: no role is any member's
    entries = [{"hashes": copy_hashes}]
    reddit = _session_of("hashmatch-reddit")
    assert api.ask("POST", "/v1/lookup", {"entries": entries}, signer=reddit)[1]["results"][0]["matches"]
    assert api.ask("POST", "/v1/lookup", {"entries": entries, "member": "twitch"}, signer=reddit)[0] == 200


def test_the_other_routes_answer_a_members_role_as_anyone(api: LookupApi) -> None:
    tiktok = _session_of("hashmatch-tiktok")
    for path in (f"/v1/items/{api.item.item_id}", "/v1/stats"):
        (status, signed), (_, anonymous) = api.ask("GET", path, signer=tiktok), api.ask("GET", path)
        assert status == 200 and signed | {"refreshed_at": None} == anonymous | {"refreshed_at": None}


def test_a_lookup_answers_each_entry_in_order_with_the_matches_notifications_carry(
    api: LookupApi, copy_hashes: dict[str, Any], other_hashes: dict[str, Any]
) -> None:
    entries = [
        {"content_id": "пост-1", "hashes": copy_hashes},
        {"hashes": other_hashes},
        {"content_id": "post-3", "hashes": copy_hashes},
    ]
    status, body = api.ask("POST", "/v1/lookup", {"entries": entries})
    assert status == 200
    first, second, third = body["results"]
    expected = [match_body(m) for m in Matcher(api.bank, BankIndex()).match(hashes_from_json(copy_hashes))]
    assert expected and {m["item_id"] for m in expected} == {api.item.item_id}
    assert first == {"entry": 0, "content_id": "пост-1", "matches": expected}
    assert second == {"entry": 1, "content_id": None, "matches": []}
    assert third == {"entry": 2, "content_id": "post-3", "matches": expected}
    assert first["matches"][0]["labels"] == ["graphic-violence"] and first["matches"][0]["contributor"] == "tiktok"


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("not an object", "an entry is an object"),
        ({"content_id": "x"}, "hashes is missing"),
        ({"hashes": {"signals": {"pdq": "zz"}}}, "hashes: a pdq hash is 64 hex digits"),
        ({"hashes": {"signals": {"nosuchsignal": "00"}}}, "unknown signal"),
        ({"hashes": {"signals": {}}}, "signals"),
        ({"hashes": []}, "hashes must be a JSON object"),
        ({"hashes": {"signals": {"md5": "0" * 32}, "queries": "no"}}, "queries must be a list"),
        ({"content_id": 7, "hashes": {"signals": {"md5": "0" * 32}}}, "content_id"),
        ({"content_id": "x" * (MAX_CONTENT_ID + 1), "hashes": {"signals": {"md5": "0" * 32}}}, "content_id"),
        ({"platform": "tiktok", "hashes": {"signals": {"md5": "0" * 32}}}, "unknown field 'platform'"),
    ],
)
def test_an_unreadable_entry_refuses_the_request_naming_the_entry_and_field(
    api: LookupApi, copy_hashes: dict[str, Any], entry: object, says: str
) -> None:
    good = {"content_id": "ok", "hashes": copy_hashes}
    status, body = api.ask("POST", "/v1/lookup", {"entries": [good, entry, good]})
    assert (status, body["error"]["code"]) == (400, "bad_request")
    message = body["error"]["message"]
    assert message.startswith("entries[1]: ") and says in message, message
    assert set(body) == {"error"}  # nothing of the readable entries is answered


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("not json", (400, "bad_request")),
        ("[1, 2]", (400, "bad_request")),
        ("{}", (400, "bad_request")),
        ('{"entries": {}}', (400, "bad_request")),
        ('{"entries": []}', (400, "bad_request")),
        ('{"entries": [], "platform": "tiktok"}', (400, "bad_request")),
        ('{"entries": ' + "[" * 100_000 + "]" * 100_000 + "}", (400, "bad_request")),
        ('{"entries": [{"hashes": {"width": ' + "1" * 5000 + "}}]}", (400, "bad_request")),
        (json.dumps({"entries": [{"hashes": {}}] * (MAX_LOOKUP_ENTRIES + 1)}), (413, "too_large")),
        (json.dumps({"entries": ["x" * (MAX_LOOKUP_BODY_BYTES + 1)]}), (413, "too_large")),
    ],
)
def test_a_malformed_or_oversize_request_is_refused_as_a_whole(api: LookupApi, raw: str, expected: tuple) -> None:
    assert _error(api.ask("POST", "/v1/lookup", raw=raw)) == expected


def test_a_grid_of_json_numbers_is_refused_not_read_as_their_digits(api: LookupApi) -> None:
    """A key of 16 decimal digits and a hash of 64 are hex digits once str() is applied: they are
    refused all the same, as the API document (strings) has it."""
    keys, hashes = [1234567890123456], [int("1" * 64)]
    assert _error(api.ask("POST", "/v1/candidates", {"keys": keys, "hashes": hashes})) == (400, "bad_request")
    assert _error(api.ask("POST", "/v1/candidates", {"files": [{"keys": keys, "hashes": hashes}]})) == (
        400,
        "bad_request",
    )
    as_text = {"keys": [str(k) for k in keys], "hashes": [str(h) for h in hashes]}
    assert api.ask("POST", "/v1/candidates", as_text)[0] == 200


def test_integers_written_as_json_floats_are_integers(api: LookupApi, copy_hashes: dict[str, Any]) -> None:
    """JSON (and the document's schema) count 90.0 as the integer 90: a client's serializer may write it so."""
    as_floats = {
        **copy_hashes,
        "quality": {name: float(value) for name, value in copy_hashes["quality"].items()},
        "width": float(copy_hashes["width"]),
    }
    assert as_floats["quality"] and all(".0" in json.dumps(v) for v in as_floats["quality"].values())
    answers = [api.ask("POST", "/v1/lookup", {"entries": [{"hashes": h}]}) for h in (copy_hashes, as_floats)]
    assert answers[0] == answers[1] and answers[0][0] == 200 and answers[0][1]["results"][0]["matches"]
    half = {**copy_hashes, "quality": {"pdq": 90.5}}
    assert _error(api.ask("POST", "/v1/lookup", {"entries": [{"hashes": half}]})) == (400, "bad_request")


def test_the_lookup_body_may_come_base64_encoded(api: LookupApi, copy_hashes: dict[str, Any]) -> None:
    body = json.dumps({"entries": [{"hashes": copy_hashes}]}).encode()
    event = {
        "rawPath": "/v1/lookup",
        "requestContext": {"http": {"method": "POST"}},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    answer = handle_request(event, lambda: api.matcher)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["results"][0]["matches"]
    event["body"] = "%%% not base64"
    assert handle_request(event, lambda: api.matcher)["statusCode"] == 400


def test_a_withdrawn_item_matches_nothing_any_more(api: LookupApi, copy_hashes: dict[str, Any]) -> None:
    api.bank.withdraw_items([api.item], "2026-01-02T00:00:00.000Z")
    status, body = api.ask("POST", "/v1/lookup", {"entries": [{"hashes": copy_hashes}]})
    assert status == 200 and body["results"][0]["matches"] == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "content_id": _JSON,
        "hashes": st.fixed_dictionaries(
            {},
            optional={
                "media": st.sampled_from(["image", "video", "hashes", "audio"]) | _JSON,
                "signals": st.dictionaries(st.sampled_from(["pdq", "md5", "phash", "sha256", "x"]), _JSON) | _JSON,
                "queries": st.lists(st.lists(_JSON, max_size=5), max_size=3) | _JSON,
                "frames": st.lists(st.lists(_JSON, max_size=5), max_size=3) | _JSON,
                "quality": _JSON,
                "width": _JSON,
            },
        )
        | _JSON,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(_ENTRY | _JSON, max_size=5) | _JSON)
def test_any_json_body_is_answered_never_raised(api: LookupApi, entries: object) -> None:
    status, body = api.ask("POST", "/v1/lookup", {"entries": entries})
    assert status in (200, 400, 413)
    if status == 200:
        assert isinstance(entries, list)
        assert [r["entry"] for r in body["results"]] == list(range(len(entries)))
        assert all(set(r) == {"entry", "content_id", "matches"} for r in body["results"])
    else:
        assert body["error"]["message"]


# ---------------------------------------------------------------- GET /v1/items/{item_id}


def test_an_item_is_described_as_notifications_describe_it(api: LookupApi) -> None:
    status, body = api.ask("GET", f"/v1/items/{api.item.item_id}")
    assert status == 200
    assert body == {**item_body(api.item), "status": "active"}
    assert body["labels"] == ["graphic-violence"] and body["severity"] == "high"


def test_a_withdrawn_item_says_so(api: LookupApi) -> None:
    api.bank.withdraw_items([api.item], "2026-01-02T00:00:00.000Z")
    status, body = api.ask("GET", f"/v1/items/{api.item.item_id}")
    assert status == 200 and body["status"] == "withdrawn" and body["item_id"] == api.item.item_id


def test_an_unknown_or_malformed_item_id_is_refused(api: LookupApi) -> None:
    assert _error(api.ask("GET", f"/v1/items/{'0' * 32}")) == (404, "unknown_item")
    for malformed in ("xyz", "0" * 33, api.item.item_id.upper(), ""):
        assert _error(api.ask("GET", f"/v1/items/{malformed}")) == (400, "bad_request")
    assert _error(api.ask("GET", f"/v1/items/{api.item.item_id}/more")) == (404, "not_found")


# ---------------------------------------------------------------- GET /v1/stats


def test_stats_count_the_index_and_follow_shares_and_withdrawals(shared: Image.Image) -> None:
    api = LookupApi(shared)
    status, stats = api.ask("GET", "/v1/stats")
    assert status == 200
    near = list(api.item.near_entries)
    by_signal: dict[str, dict[str, int]] = {}
    for entry in near:
        kinds = by_signal.setdefault(entry.signal, {"hash": 0, "framing": 0, "frame": 0, "half": 0, "third": 0})
        kinds[entry.kind] += 1
    assert stats["entries"] == len(near) and stats["items"] == 1
    for name, kinds in by_signal.items():
        assert stats["signals"][name] == {"entries": sum(kinds.values()), "kinds": kinds}
    assert set(stats["signals"]) == set(api.matcher.index.signal_names)
    assert stats["position"] and stats["newest_change_at"] == stats["position"].split("#")[0]
    assert stats["index_bytes"] > 0 and stats["refreshed_at"].endswith("Z")

    api.bank.put_items([item_from_media(_hashes(scene(73), for_sharing=True), Provenance("reddit", "2026-01-03"))])
    assert api.ask("GET", "/v1/stats")[1]["items"] == 2
    api.bank.withdraw_items([api.item], "2026-01-04T00:00:00.000Z")
    after = api.ask("GET", "/v1/stats")[1]
    assert after["items"] == 1 and after["position"] > stats["position"]


def test_stats_of_an_empty_bank() -> None:
    matcher = Matcher(MemoryBank(), BankIndex())
    answer = handle_request({"rawPath": "/v1/stats", "requestContext": {"http": {"method": "GET"}}}, lambda: matcher)
    stats = json.loads(answer["body"])
    assert answer["statusCode"] == 200
    assert stats["entries"] == stats["items"] == 0 and stats["position"] is None and stats["newest_change_at"] is None


# ---------------------------------------------------------------- routes and the document


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/lookup"), ("POST", "/v1/stats"), ("POST", "/v1/items/x"), ("GET", "/")]
)
def test_no_such_route(api: LookupApi, method: str, path: str) -> None:
    assert _error(api.ask(method, path, {})) == (404, "not_found")


def test_the_documents_signal_names_and_lengths_are_the_registrys() -> None:
    """What `signals` may hold, by name and hex length, is what `hashes_from_json` reads."""
    schemas = yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]
    documented = schemas["MediaHashes"]["properties"]["signals"]["properties"]
    assert schemas["MediaHashes"]["properties"]["signals"]["additionalProperties"] is False
    readable = {}
    for name in [name for signal in SIGNALS for name in (signal.name, *signal.aliases)]:
        for digits in range(1, 129):
            try:
                SIGNALS.parse(name, "0" * digits)
            except ValueError:
                continue
            readable[name] = digits
    assert set(documented) == set(readable)
    for name, schema in documented.items():
        pattern = schemas[schema["$ref"].rsplit("/", 1)[1]]["pattern"]
        assert pattern == f"^[0-9a-fA-F]{{{readable[name]}}}$", name


def test_the_documents_limits_are_the_handlers() -> None:
    schemas = yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]
    assert schemas["LookupRequest"]["properties"]["entries"]["maxItems"] == MAX_LOOKUP_ENTRIES
    assert schemas["ContentId"]["maxLength"] == MAX_CONTENT_ID
    assert schemas["MediaHashes"]["properties"]["queries"]["maxItems"] == MAX_QUERIES
    assert schemas["MediaHashes"]["properties"]["framings"]["maxItems"] == MAX_QUERIES
    assert schemas["MediaHashes"]["properties"]["frames"]["maxItems"] == MAX_FRAMES
    assert schemas["FrameHash"]["prefixItems"][4]["maxItems"] == MAX_FRAME_FRAMINGS
    assert schemas["Grid"]["properties"]["keys"]["maxItems"] == MAX_GRID
    assert schemas["Grid"]["properties"]["hashes"]["maxItems"] == MAX_GRID
    many = schemas["CandidatesRequest"]["oneOf"][1]["properties"]["files"]
    assert many["maxItems"] == MAX_CANDIDATE_FILES
    candidates = yaml.safe_load(OPENAPI.read_text())["paths"]["/v1/candidates"]["post"]["description"]
    assert f"at most {MAX_CANDIDATE_FILES}" in candidates
    assert f"at most {MAX_CANDIDATES_BODY_BYTES // 1024**2} MiB" in candidates
    described = yaml.safe_load(OPENAPI.read_text())["paths"]["/v1/lookup"]["post"]["description"]
    assert f"{MAX_LOOKUP_BODY_BYTES // 1024**2} MiB" in described
