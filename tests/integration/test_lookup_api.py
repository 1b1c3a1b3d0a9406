"""The lookup API through the local stack, kept true to its OpenAPI document (openapi/lookup.yaml).

Every request is signed with SigV4 as `LookupApiClient` signs it and sent over HTTP to the local
stack's API on 127.0.0.1, which calls the LookupFunction handler the template names. Every
answer, errors included, is validated against the schema the document gives for its route and
status; requests meant to be valid are validated against the document's request schemas, and
requests refused as a whole are ones the document's request schema refuses too. The document's
routes are the template's.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import referencing
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from referencing.jsonschema import DRAFT202012

from hashmatch.aws.api import MAX_CANDIDATE_FILES, MAX_CANDIDATES_BODY_BYTES, MAX_LOOKUP_BODY_BYTES, MAX_LOOKUP_ENTRIES
from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.aws.lookup import FILES_PER_REQUEST, LookupApiClient, LookupApiError
from hashmatch.bank.model import Provenance, SharedItem
from hashmatch.edge.ingest import refine
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.media.codec import hashes_from_json, hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import MediaHashes
from hashmatch.media.uneven import MAX_GRID_ROWS
from hashmatch.service.notifications import item_body, match_body, notification_schema
from hashmatch.service.service import item_from_media
from hashmatch_tools.local.stack import LocalStack, member_access_key
from hashmatch_tools.local.template import load_template
from hashmatch_tools.samples import jpeg_bytes, mirrored, scene

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "openapi" / "lookup.yaml"
TEMPLATE = ROOT / "template.yaml"
DOCUMENT_URI = "urn:hashmatch:openapi:lookup"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Answered by API Gateway itself when the function fails; nothing here can make the handler fail.
GATEWAY_ONLY = {"500"}


def _pointer(*parts: str) -> str:
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class Contract:
    """The OpenAPI document as JSON Schemas: each route's request and response schemas."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = referencing.Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: referencing.Registry[Any] = referencing.Registry().with_resource(DOCUMENT_URI, resource)

    def routes(self) -> set[tuple[str, str]]:
        return {
            (method.upper(), path)
            for path, operations in self.document["paths"].items()
            for method in operations
            if method in HTTP_METHODS
        }

    def statuses(self, method: str, path: str) -> set[str]:
        return set(self.document["paths"][path][method.lower()]["responses"])

    def validator(self, pointer: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#{pointer}"},
            registry=self._registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )

    def schema(self, name: str) -> jsonschema.Draft202012Validator:
        return self.validator(_pointer("components", "schemas", name))

    def request(self, method: str, path: str) -> jsonschema.Draft202012Validator:
        return self.validator(
            _pointer("paths", path, method.lower(), "requestBody", "content", "application/json", "schema")
        )

    def response(self, method: str, path: str, status: int) -> jsonschema.Draft202012Validator:
        responses = ["paths", path, method.lower(), "responses", str(status)]
        response = self.document["paths"][path][method.lower()]["responses"].get(str(status))
        assert response is not None, f"{method} {path} answered {status}, which the document does not describe"
        if "$ref" in response:
            responses = response["$ref"].removeprefix("#/").split("/")
        return self.validator(_pointer(*responses, "content", "application/json", "schema"))


class Api:
    """Signed requests to the local stack's API (with `session`'s credentials: the local ones, an
    operator's, by default); every answer checked against the document."""

    def __init__(self, base_url: str, contract: Contract, session: boto3.session.Session | None = None) -> None:
        self.base_url = base_url
        self.client = LookupApiClient(base_url, session or boto3.session.Session())
        self.contract = contract
        self.seen: set[tuple[str, str, str]] = set()

    def send(self, method: str, path: str, route: str, data: bytes | None = None) -> tuple[int, Any]:
        status, raw = self.client.send(method, path, data)
        body = json.loads(raw)
        self.contract.response(method, route, status).validate(body)
        self.seen.add((method, route, str(status)))
        return status, body

    def lookup(self, body: object) -> tuple[int, Any]:
        return self.send("POST", "/v1/lookup", "/v1/lookup", json.dumps(body).encode())

    def item(self, item_id: str) -> tuple[int, Any]:
        return self.send("GET", f"/v1/items/{item_id}", "/v1/items/{item_id}")


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(yaml.safe_load(OPENAPI.read_text()))


# tiktok and facebook in AWS accounts of their own; facebook acts on suicide-self-harm only.
PARAMETERS = {
    "LogLevel": "WARNING",
    "Members": "tiktok:111111111111,facebook:222222222222",
    "MemberExternalId": "lookup-test-external-id",
    "MemberPolicies": json.dumps({"facebook": {"labels": ["suicide-self-harm"]}}),
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """A local stack of its own, its API only (nothing here goes through the queues); the
    environment it sets for its functions is put back after."""
    saved = dict(os.environ)
    # Its own stack name: moto's state is per process, and the e2e tests' stack may run in this one.
    stack = LocalStack(stack_name="hashmatch-lookup-test", parameters=PARAMETERS).start(poll=False)
    try:
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def bank(stack: LocalStack) -> DynamoBank:
    assert stack.stack is not None
    table = stack.stack.physical_names("BankTable")["ref"]
    return DynamoBank(table, boto3.session.Session().resource("dynamodb", endpoint_url=stack.endpoint))


@pytest.fixture(scope="module")
def api(stack: LocalStack, contract: Contract) -> Api:
    return Api(stack.api_endpoint, contract)


def _hashes(picture: Image.Image, *, quality: int = 90, for_sharing: bool = False) -> MediaHashes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "picture.jpg"
        path.write_bytes(jpeg_bytes(picture, quality))
        return hash_file(path, for_sharing=for_sharing)


class Shared:
    """The bank's items: one active, one withdrawn."""

    def __init__(self, bank: DynamoBank) -> None:
        self.picture, self.gone_picture = scene(81), scene(82)
        self.active = item_from_media(
            _hashes(self.picture, for_sharing=True),
            Provenance("tiktok", "2026-01-01T00:00:00.000Z", ("graphic-violence",), "high", "incident-7", "a note"),
        )
        self.withdrawn = item_from_media(
            _hashes(self.gone_picture, for_sharing=True), Provenance("reddit", "2026-01-02T00:00:00.000Z")
        )
        bank.put_items([self.active, self.withdrawn])
        bank.withdraw_items([self.withdrawn], "2026-01-03T00:00:00.000Z")


@pytest.fixture(scope="module")
def shared(bank: DynamoBank) -> Shared:
    return Shared(bank)


@pytest.fixture(scope="module")
def copy_hashes(shared: Shared, api: Api) -> dict[str, Any]:
    """A mirrored, re-encoded copy's query set, refined through the API as the edge refines it."""
    return hashes_to_json(refine(_hashes(mirrored(shared.picture), quality=70), api.client))


def _notification_definition(name: str) -> dict[str, Any]:
    """The notification schema's definition `name`, as a schema of its own."""
    return {"$defs": notification_schema()["$defs"], "$ref": f"#/$defs/{name}"}


# ---------------------------------------------------------------- the document


def test_the_document_is_openapi_3_1(contract: Contract) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    assert contract.document["openapi"].startswith("3.1.")
    validator.validate(contract.document)


def test_the_local_stack_serves_exactly_the_documented_routes(stack: LocalStack, contract: Contract) -> None:
    assert set(stack.routes) == contract.routes()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/lookup"),
        ("POST", "/v1/stats"),
        ("GET", "/v1/items/"),
        ("GET", "/v1/items/a/b"),
        ("GET", "/v2/stats"),
        ("PUT", "/v1/lookup"),
        ("DELETE", "/v1/items/" + "0" * 32),
        ("TRACE", "/v1/stats"),
        ("OPTIONS", "/v1/candidates"),
        ("QUERY", "/v1/lookup"),
    ],
)
def test_a_path_no_route_takes_is_not_found_as_api_gateway_says_it(api: Api, method: str, path: str) -> None:
    status, body = api.client.send(method, path, b"{}" if method == "POST" else None)
    assert status == 404 and json.loads(body) == {"message": "Not Found"}


def test_the_documents_routes_are_the_templates(contract: Contract) -> None:
    resources = load_template(TEMPLATE)["Resources"]
    routes = {
        (str(event["Properties"]["Method"]).upper(), str(event["Properties"]["Path"]))
        for resource in resources.values()
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function"
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event.get("Type") == "HttpApi" and event["Properties"].get("ApiId") == {"Ref": "LookupApi"}
    }
    assert routes == contract.routes()


def test_matches_and_items_have_the_fields_notifications_give_them(contract: Contract) -> None:
    definitions = notification_schema()["$defs"]
    schemas = contract.document["components"]["schemas"]
    assert set(schemas["Match"]["properties"]) == set(definitions["match"]["properties"])
    assert set(schemas["Match"]["required"]) == set(definitions["match"]["required"])
    assert set(schemas["ItemRecord"]["properties"]) == set(definitions["item"]["properties"]) | {"status"}
    assert set(schemas["ItemRecord"]["required"]) == set(definitions["item"]["required"]) | {"status"}


def test_the_sample_events_are_requests_the_document_describes(contract: Contract) -> None:
    for name, route in (("lookup-request.json", "/v1/lookup"), ("lookup-candidates.json", "/v1/candidates")):
        event = json.loads((ROOT / "events" / name).read_text())
        assert event["routeKey"] == f"POST {route}"
        contract.request("POST", route).validate(json.loads(event["body"]))


# ---------------------------------------------------------------- POST /v1/lookup


def test_a_lookup_answers_each_entry_as_the_matcher_would(
    api: Api, bank: DynamoBank, shared: Shared, copy_hashes: dict[str, Any], contract: Contract
) -> None:
    unrelated = hashes_to_json(_hashes(scene(83)))
    gone_copy = hashes_to_json(_hashes(shared.gone_picture, quality=75))
    request = {
        "entries": [
            {"content_id": "пост-1 投稿", "hashes": copy_hashes},
            {"content_id": "post-2", "hashes": unrelated},
            {"hashes": gone_copy},
        ]
    }
    contract.request("POST", "/v1/lookup").validate(request)
    status, body = api.lookup(request)
    assert status == 200
    matcher = Matcher(bank, BankIndex())
    expected = [[match_body(m) for m in matcher.match(hashes_from_json(e["hashes"]))] for e in request["entries"]]
    assert expected[0] and {m["item_id"] for m in expected[0]} == {shared.active.item_id}
    assert body == {
        "results": [
            {"entry": 0, "content_id": "пост-1 投稿", "matches": expected[0]},
            {"entry": 1, "content_id": "post-2", "matches": []},
            {"entry": 2, "content_id": None, "matches": []},  # its item is withdrawn
        ]
    }
    match = body["results"][0]["matches"][0]
    assert (match["contributor"], match["labels"], match["severity"]) == ("tiktok", ["graphic-violence"], "high")
    for found in body["results"][0]["matches"]:
        jsonschema.validate(found, _notification_definition("match"))


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"content_id": "a", "hashes": {"signals": {"pdq": "not hex"}}}, "entries[1]: hashes: a pdq hash is 64 hex"),
        ({"content_id": "c"}, "entries[1]: hashes is missing"),
        ("not an object", "entries[1]: an entry is an object"),
        ({"content_id": "d", "hashes": {"signals": {"nosuchsignal": "00"}}}, "nosuchsignal"),
    ],
)
def test_an_unreadable_entry_refuses_the_request_naming_it(
    api: Api, contract: Contract, copy_hashes: dict[str, Any], entry: object, says: str
) -> None:
    request = {"entries": [{"content_id": "b", "hashes": copy_hashes}, entry]}
    status, body = api.lookup(request)
    assert (status, body["error"]["code"]) == (400, "bad_request") and says in body["error"]["message"], body
    assert not contract.request("POST", "/v1/lookup").is_valid(request)  # the document refuses it too


@pytest.mark.parametrize(
    ("data", "status", "says"),
    [
        (b"not json", 400, "not JSON"),
        (b"[]", 400, "JSON object"),
        (b"{}", 400, "entries"),
        (b'{"entries": "x"}', 400, "entries"),
        (b'{"entries": []}', 400, "entries"),
        (b'{"entries": [], "platform": "tiktok"}', 400, "platform"),
        (
            json.dumps({"entries": [{"hashes": {}}] * (MAX_LOOKUP_ENTRIES + 1)}).encode(),
            413,
            f"{MAX_LOOKUP_ENTRIES + 1} query sets, more than the limit of {MAX_LOOKUP_ENTRIES}",
        ),
        (
            json.dumps({"entries": [{"content_id": "x" * (MAX_LOOKUP_BODY_BYTES + 1)}]}).encode(),
            413,
            f"at most {MAX_LOOKUP_BODY_BYTES} bytes",
        ),
    ],
)
def test_a_malformed_or_oversize_request_is_refused_as_a_whole(
    api: Api, contract: Contract, data: bytes, status: int, says: str
) -> None:
    answered, body = api.send("POST", "/v1/lookup", "/v1/lookup", data)
    assert answered == status and says in body["error"]["message"], body
    assert body["error"]["code"] == ("too_large" if status == 413 else "bad_request")
    try:
        request = json.loads(data)
    except json.JSONDecodeError:
        return
    assert not contract.request("POST", "/v1/lookup").is_valid(request)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
_HEX = st.sampled_from(["0" * 64, "f" * 64, "0" * 32, "0" * 16, "xyz", ""])
_HASHES = st.fixed_dictionaries(
    {"signals": st.dictionaries(st.sampled_from(["pdq", "md5", "phash", "sha256", "video_md5", "x"]), _HEX | _JSON)},
    optional={
        "media": st.sampled_from(["image", "video", "hashes", "audio"]),
        "queries": st.lists(st.tuples(st.sampled_from(["pdq", "phash"]), st.text(max_size=6), _HEX).map(list)),
        "frames": st.lists(st.tuples(st.floats(-1, 100), _HEX, st.integers(-1, 101)).map(list), max_size=3),
        "quality": st.dictionaries(st.sampled_from(["pdq", "x"]), st.integers(-5, 105)),
        "width": st.integers(-2, 4000),
    },
)
_ENTRY = st.fixed_dictionaries({}, optional={"content_id": st.text(max_size=12) | _JSON, "hashes": _HASHES | _JSON})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(_ENTRY | _JSON, max_size=4) | _JSON)
def test_any_request_gets_an_answer_the_document_describes(api: Api, entries: object) -> None:
    status, body = api.lookup({"entries": entries})  # validated against the document there
    assert status in (200, 400)
    if status == 200:
        assert isinstance(entries, list) and len(body["results"]) == len(entries)


def _member_api(stack: LocalStack, contract: Contract, platform: str) -> Api:
    """The API as `platform` calls it: signed with its own local key, a session of its role."""
    session = boto3.session.Session(
        aws_access_key_id=member_access_key(platform), aws_secret_access_key="local", region_name="us-east-1"
    )
    return Api(stack.api_endpoint, contract, session)


def test_a_members_role_is_answered_as_that_member_and_may_name_no_other(
    stack: LocalStack, api: Api, contract: Contract, shared: Shared, copy_hashes: dict[str, Any]
) -> None:
    entries = [{"content_id": "upload-1", "hashes": copy_hashes}]
    tiktok, facebook = _member_api(stack, contract, "tiktok"), _member_api(stack, contract, "facebook")
    status, body = tiktok.lookup({"entries": entries})
    assert status == 200 and {m["item_id"] for m in body["results"][0]["matches"]} == {shared.active.item_id}
    # The item is graphic-violence; facebook acts on suicide-self-harm only, named or not.
    for request in ({"entries": entries}, {"entries": entries, "member": "facebook"}):
        status, body = facebook.lookup(request)
        assert status == 200 and body["results"][0]["matches"] == [], request
    # A member looks up as itself: naming another is refused, though the document admits the body.
    request = {"entries": entries, "member": "tiktok"}
    contract.request("POST", "/v1/lookup").validate(request)
    status, body = facebook.lookup(request)
    assert (status, body["error"]["code"]) == (403, "wrong_member"), body
    assert "facebook's role" in body["error"]["message"] and "'tiktok'" in body["error"]["message"]
    # The operators' principal (the local credentials) is no member: it names whom it likes, as before.
    status, body = api.lookup({"entries": entries, "member": "facebook"})
    assert status == 200 and body["results"][0]["matches"] == []
    assert api.lookup({"entries": entries, "member": "tiktok"})[1] == tiktok.lookup({"entries": entries})[1]


# ---------------------------------------------------------------- GET /v1/items/{item_id}


def test_an_item_is_its_public_record(api: Api, shared: Shared) -> None:
    status, body = api.item(shared.active.item_id)
    assert status == 200 and body == {**item_body(shared.active), "status": "active"}
    jsonschema.validate({k: v for k, v in body.items() if k != "status"}, _notification_definition("item"))


def test_a_withdrawn_item_says_so(api: Api, shared: Shared) -> None:
    status, body = api.item(shared.withdrawn.item_id)
    assert status == 200 and body["status"] == "withdrawn" and body["contributor"] == "reddit"


def test_an_unknown_or_malformed_item_is_refused(api: Api, shared: Shared) -> None:
    status, body = api.item("0" * 32)
    assert status == 404 and body["error"]["code"] == "unknown_item"
    for malformed in ("nothex", shared.active.item_id.upper(), "0" * 31):
        status, body = api.item(malformed)
        assert status == 400 and body["error"]["code"] == "bad_request"


# ---------------------------------------------------------------- GET /v1/stats


def test_stats_count_what_the_index_holds(api: Api, shared: Shared) -> None:
    status, stats = api.send("GET", "/v1/stats", "/v1/stats")
    assert status == 200
    assert stats["items"] == 1  # the withdrawn item left the index
    assert stats["entries"] == len(shared.active.near_entries)
    assert sum(s["entries"] for s in stats["signals"].values()) == stats["entries"]
    assert stats["newest_change_at"] and stats["position"].startswith(stats["newest_change_at"])


# ---------------------------------------------------------------- POST /v1/candidates


def test_candidates_are_the_matchers(api: Api, bank: DynamoBank, shared: Shared, contract: Contract) -> None:
    width, height = shared.picture.size
    cut = shared.picture.crop((round(0.08 * width), round(0.01 * height), round(0.98 * width), round(0.93 * height)))
    search = _hashes(cut).uneven_crops
    assert search is not None
    request = {"keys": list(search.keys), "hashes": list(search.hashes)}
    contract.request("POST", "/v1/candidates").validate(request)
    status, body = api.send("POST", "/v1/candidates", "/v1/candidates", json.dumps(request).encode())
    expected = Matcher(bank, BankIndex()).uneven_crop_candidates(search.keys, search.hashes)
    assert status == 200 and body == {"candidates": [{"row": c.row, "stored": c.stored} for c in expected]}


def test_candidates_of_many_copies_come_in_one_request(
    api: Api, bank: DynamoBank, shared: Shared, contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    width, height = shared.picture.size
    cuts = [(0.08, 0.01, 0.98, 0.93), (0.02, 0.09, 0.9, 0.97), (0.1, 0.1, 0.95, 0.9)]
    pictures = [shared.picture.crop((round(a * width), round(b * height), round(c * width), round(d * height)))
                for a, b, c, d in cuts] + [scene(991)]  # fmt: skip
    searches = [_hashes(picture).uneven_crops for picture in pictures]
    assert all(search is not None for search in searches)
    grids = [(search.keys, search.hashes) for search in searches if search is not None]
    request = {"files": [{"keys": list(keys), "hashes": list(hashes)} for keys, hashes in grids]}
    contract.request("POST", "/v1/candidates").validate(request)
    status, body = api.send("POST", "/v1/candidates", "/v1/candidates", json.dumps(request).encode())
    matcher = Matcher(bank, BankIndex())
    expected = [matcher.uneven_crop_candidates(keys, hashes) for keys, hashes in grids]
    assert status == 200
    assert body == {"files": [{"candidates": [{"row": c.row, "stored": c.stored} for c in one]} for one in expected]}
    assert expected[0] and not expected[-1], "the cut copies have candidates, the unrelated picture none"
    # The client asks about up to 50 grids a request, and answers grid for grid.
    posted: list[int] = []
    post = api.client.post
    monkeypatch.setattr(api.client, "post", lambda path, body: posted.append(len(body["files"])) or post(path, body))
    assert api.client.uneven_crop_candidates_many(grids * 13) == expected * 13
    assert posted == [FILES_PER_REQUEST, 13 * len(grids) - FILES_PER_REQUEST]
    assert FILES_PER_REQUEST == MAX_CANDIDATE_FILES
    # A grid that cannot be read refuses the request, naming it; more than 50 is too large.
    bad = {"files": [request["files"][0], {"keys": ["xyz"], "hashes": ["0" * 64]}]}
    status, body = api.send("POST", "/v1/candidates", "/v1/candidates", json.dumps(bad).encode())
    assert status == 400 and body["error"]["message"].startswith("files[1]: ")
    many = {"files": [request["files"][0]] * (MAX_CANDIDATE_FILES + 1)}
    assert api.send("POST", "/v1/candidates", "/v1/candidates", json.dumps(many).encode())[0] == 413
    # 50 grids of the most rectangles a search lays fit in one body; a larger body is too large.
    full = {"keys": ["f" * 16] * MAX_GRID_ROWS, "hashes": ["f" * 64] * MAX_GRID_ROWS}
    fullest = json.dumps({"files": [full] * MAX_CANDIDATE_FILES}).encode()
    assert api.send("POST", "/v1/candidates", "/v1/candidates", fullest)[0] == 200
    padded = fullest[:-1] + b" " * (MAX_CANDIDATES_BODY_BYTES - len(fullest) + 1) + b"}"
    assert api.send("POST", "/v1/candidates", "/v1/candidates", padded)[0] == 413
    both = {**request, "keys": [], "hashes": []}
    assert api.send("POST", "/v1/candidates", "/v1/candidates", json.dumps(both).encode())[0] == 400


# ---------------------------------------------------------------- every documented answer


def test_every_documented_answer_is_given(api: Api, shared: Shared, copy_hashes: dict[str, Any]) -> None:
    """One request for each route and status the document describes (but a failing function's 500)."""
    too_many = json.dumps({"keys": ["0" * 16] * 1000, "hashes": ["0" * 64] * 1000}).encode()
    requests: list[tuple[str, str, str, bytes | None, int]] = [
        ("POST", "/v1/candidates", "/v1/candidates", b'{"keys": [], "hashes": []}', 200),
        ("POST", "/v1/candidates", "/v1/candidates", b'{"keys": ["xyz"], "hashes": ["00"]}', 400),
        ("POST", "/v1/candidates", "/v1/candidates", too_many, 413),
        ("POST", "/v1/lookup", "/v1/lookup", json.dumps({"entries": [{"hashes": copy_hashes}]}).encode(), 200),
        ("POST", "/v1/lookup", "/v1/lookup", b"{}", 400),
        ("POST", "/v1/lookup", "/v1/lookup", json.dumps({"entries": [{}] * 101}).encode(), 413),
        ("GET", f"/v1/items/{shared.active.item_id}", "/v1/items/{item_id}", None, 200),
        ("GET", "/v1/items/nothex", "/v1/items/{item_id}", None, 400),
        ("GET", f"/v1/items/{'0' * 32}", "/v1/items/{item_id}", None, 404),
        ("GET", "/v1/stats", "/v1/stats", None, 200),
    ]
    for method, path, route, data, status in requests:
        assert api.send(method, path, route, data)[0] == status, (method, path)
    for method, route in api.contract.routes():
        path = route.replace("{item_id}", shared.active.item_id)
        assert _unsigned(api, method, path, route) == 403
    documented = {
        (method, route, status)
        for method, route in api.contract.routes()
        for status in api.contract.statuses(method, route) - GATEWAY_ONLY
    }
    assert documented == {(m, r, str(s)) for m, _, r, _, s in requests} | {
        (m, r, "403") for m, r in api.contract.routes()
    }


def _unsigned(api: Api, method: str, path: str, route: str) -> int:
    """An unsigned request's status; its body validated against the document."""
    request = urllib.request.Request(f"{api.base_url}{path}", data=b"{}" if method == "POST" else None)
    request.method = method
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    api.contract.response(method, route, status).validate(json.loads(raw))
    return int(status)


def test_a_shared_item_reaches_the_lookup_at_once(api: Api, bank: DynamoBank, contract: Contract) -> None:
    """The warm function's index reads the log's tail on each lookup: a new share matches the next one."""
    picture = scene(84)
    item: SharedItem = item_from_media(_hashes(picture, for_sharing=True), Provenance("youtube", "2026-01-05"))
    query = {"entries": [{"hashes": hashes_to_json(_hashes(picture, quality=60))}]}
    assert api.lookup(query)[1]["results"][0]["matches"] == []
    bank.put_items([item])
    try:
        matches = api.lookup(query)[1]["results"][0]["matches"]
        assert {m["item_id"] for m in matches} == {item.item_id}
    finally:
        bank.withdraw_items([item], "2026-01-06T00:00:00.000Z")


# ---------------------------------------------------------------- the client


def test_the_client_looks_up_reads_and_names_what_was_refused(api: Api, shared: Shared, copy_hashes: dict) -> None:
    (result,) = api.client.lookup([{"content_id": "upload-9", "hashes": copy_hashes}])
    assert result["content_id"] == "upload-9" and {m["item_id"] for m in result["matches"]} == {shared.active.item_id}
    assert api.client.get(f"/v1/items/{shared.active.item_id}")["status"] == "active"
    assert api.client.get("/v1/stats")["items"] >= 1
    with pytest.raises(LookupApiError, match=rf"HTTP 413.*limit of {MAX_LOOKUP_ENTRIES}"):
        api.client.lookup([{"hashes": copy_hashes}] * (MAX_LOOKUP_ENTRIES + 1))
    with pytest.raises(LookupApiError, match=r"HTTP 404.*unknown_item"):
        api.client.get(f"/v1/items/{'0' * 32}")
