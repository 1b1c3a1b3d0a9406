from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.bank.hashlist import looks_like_hash_list, parse_hash_list
from hashmatch.media.model import Rejected

pytestmark = pytest.mark.unit

PDQ = "f" * 32 + "0" * 32
MD5 = "0123456789abcdef0123456789abcdef"
PHASH = "a5a5a5a5a5a5a5a5"
SHA = "ab" * 32


def test_json_lines_with_overrides() -> None:
    data = (
        f'{{"signal": "pdq", "hash": "{PDQ}", "labels": ["gore"], "severity": "high"}}\n'
        f'{{"signals": {{"md5": "{MD5.upper()}", "phash": "{PHASH}"}}}}\n'
        f'{{"sha256": "{SHA}", "note": "from the stream"}}\n'
    ).encode()
    first, second, third = parse_hash_list(data)
    assert first.signals == {"pdq": PDQ} and first.labels == ("gore",) and first.overrides == {"severity": "high"}
    assert second.signals == {"md5": MD5, "phash": PHASH} and second.labels is None
    assert third.signals == {"sha256": SHA} and third.overrides == {"note": "from the stream"}


def test_csv_by_signal_column_and_by_signal_hash() -> None:
    by_column = parse_hash_list(f"pdq,md5,labels\n{PDQ},{MD5},gore;violence\n,{MD5},\n".encode())
    assert by_column[0].signals == {"pdq": PDQ, "md5": MD5} and by_column[0].labels == ("gore", "violence")
    assert by_column[1].signals == {"md5": MD5}
    pairs = parse_hash_list(f"signal,hash\npdq,{PDQ}\nphash,{PHASH}\n".encode())
    assert [e.signals for e in pairs] == [{"pdq": PDQ}, {"phash": PHASH}]


def test_plain_lines_infer_the_signal_where_the_length_tells() -> None:
    entries = parse_hash_list(f"# comment\n{MD5}\n\n{PHASH}\npdq:{PDQ}\nSHA256:{SHA}\n".encode())
    assert [e.signals for e in entries] == [{"md5": MD5}, {"phash": PHASH}, {"pdq": PDQ}, {"sha256": SHA}]
    assert [e.line for e in entries] == [2, 4, 5, 6]


def test_a_64_digit_hash_needs_its_signal() -> None:
    with pytest.raises(Rejected, match="line 1: a 64-digit hash is sha256 or pdq"):
        parse_hash_list(f"{PDQ}\n".encode())
    assert parse_hash_list(f"{PDQ}\n".encode(), default_signal="pdq")[0].signals == {"pdq": PDQ}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no entries"),
        (b"# only a comment\n", "no entries"),
        (f"md5:{MD5}\npdq:xyz\n".encode(), "line 2"),
        (b'{"signal": "pdq"}\n', "line 1: no hash"),
        (b"{not json\n", "line 1: not JSON"),
        (f"md5,labels\n{MD5},7\nzz,\n".encode(), "line 3"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (f"nosuch:{MD5}\n".encode(), "unknown signal"),
    ],
)
def test_invalid_lists_are_rejected_naming_the_line(data: bytes, message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        parse_hash_list(data)
    assert caught.value.reason.value == "invalid_hash_list"


def test_text_is_told_from_media() -> None:
    assert looks_like_hash_list(f"md5:{MD5}\n".encode())
    assert looks_like_hash_list("é".encode()[:1] * 0 + "labels,é".encode())
    assert not looks_like_hash_list(b"\x89PNG\r\n\x1a\n\x00\x00")


@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=20))
def test_any_md5_list_round_trips(digests: list[bytes]) -> None:
    text = "\n".join(d.hex() for d in digests)
    assert [e.signals["md5"] for e in parse_hash_list(text.encode())] == [d.hex() for d in digests]
