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
        # What json.loads and csv refuse with more than a decoding error: one rejection all the same.
        (
            f'{{"md5": "{MD5}"}}\n'.encode() + b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
            "line 2: .*nests too deep",
        ),
        (b'{"signal": "md5", "hash": ' + b"1" * 5000 + b"}\n", r"line 1: .*more than \d+ digits"),
        (f"signal,hash,note\nmd5,{MD5},ok\nmd5,{MD5},{'x' * 200_000}\n".encode(), "line 3: not CSV"),
        # One signal twice, as a name and its alias or in two cases: neither may silently win.
        (f'{{"signals": {{"md5": "{MD5}", "MD5": "{"1" * 32}"}}}}\n'.encode(), "line 1: md5 is given twice"),
        (f"md5,video_md5\n{MD5},{'1' * 32}\n".encode(), "line 2: md5 is given twice"),
        # Every member is sent a line's note with its item: a few KB each made messages SNS refuses.
        (f'{{"md5": "{MD5}", "note": "{"x" * 1001}"}}\n'.encode(), "line 1: note is 1001 characters; at most 1000"),
        (f"signal,hash,note\nmd5,{MD5},{'x' * 3000}\n".encode(), "line 2: note is 3000 characters"),
        # Half a UTF-16 pair, as JSON may escape it: no store or message would take it later.
        (f'{{"md5": "{MD5}", "note": "\\ud800"}}\n'.encode(), "line 1: .*surrogate"),
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


# -- python-threatexchange's formats ------------------------------------------------------------
# Lines as python-threatexchange 1.2.17 writes them (`tx hash`, `tx dataset -P -S`, `tx dataset -P --csv`).

TX_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
TX_PDQ_2 = "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"
TX_MD5 = "0a21c8f85a55a9e276ffc2c53f6887c4"
TX_SHA = "13e290f217e19427f959b9cd629c336eeb04b035ae8fe0e28c345d37ec906882"
TX_VPDQ = (
    'vpdq ["e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,100,0.0", '
    '"df83b48f2ad34d68169c36bc6d2f6b36ce5ed08701a301e9cbb9fc12f80b8154,100,1.0"]'
)


def test_tx_hash_output_reads_with_tx_names_as_aliases() -> None:
    photo = f"pdq {TX_PDQ}\npdq {TX_PDQ_2}\n"
    video = f"video_md5 {TX_MD5}\nvideo_sha256 {TX_SHA}\n"
    entries = parse_hash_list((photo + video).encode())
    assert [e.signals for e in entries] == [{"pdq": TX_PDQ}, {"pdq": TX_PDQ_2}, {"md5": TX_MD5}, {"sha256": TX_SHA}]
    assert [e.line for e in entries] == [1, 2, 3, 4]
    assert all(e.labels is None and e.hashes is None and not e.overrides for e in entries)


def test_tx_lines_mix_with_ours_and_are_normalised() -> None:
    # CRLF (tx's CSV and Windows editors), a tab, upper-case hex and type, our prefixes beside tx's.
    data = f"# exported from tx\r\nPDQ {TX_PDQ.upper()}\r\nvideo_md5\t{TX_MD5}\r\nsha256:{TX_SHA}\r\n\r\n{MD5}\r\n"
    entries = parse_hash_list(data.encode())
    assert [e.signals for e in entries] == [{"pdq": TX_PDQ}, {"md5": TX_MD5}, {"sha256": TX_SHA}, {"md5": MD5}]
    assert [e.line for e in entries] == [2, 3, 4, 6]


def test_a_file_of_tx_lines_with_commas_is_not_taken_for_csv() -> None:
    # A vpdq line (or a raw_text one) holds commas: it must not be read as a CSV header.
    with pytest.raises(Rejected, match="line 1: vpdq"):
        parse_hash_list(f"{TX_VPDQ}\npdq {TX_PDQ}\n".encode())
    with pytest.raises(Rejected, match="line 1: unknown signal type 'raw_text'"):
        parse_hash_list(b"raw_text We the People, in Order to form\n")


def test_vpdq_lines_are_rejected_naming_the_line_and_saying_what_to_do() -> None:
    data = f"video_md5 {TX_MD5}\nvideo_sha256 {TX_SHA}\n{TX_VPDQ}\n"
    with pytest.raises(Rejected) as caught:
        parse_hash_list(data.encode())
    message = caught.value.message
    assert message.startswith("line 3: vpdq")
    assert "sha256" in message and "hashmatch hash --for-share" in message
    assert caught.value.reason.value == "invalid_hash_list"
    # The same signal in our other formats says the same.
    with pytest.raises(Rejected, match="line 2: vpdq"):
        parse_hash_list(f'signal_type,signal_str\nvpdq,"[""{TX_PDQ},100,0.0""]"\n'.encode())
    with pytest.raises(Rejected, match="line 1: vpdq"):
        parse_hash_list(b'{"signal": "vpdq", "hash": "[]"}\n')


@pytest.mark.parametrize(
    ("line", "signal_type"),
    [
        ("url https://developers.facebook.com/docs/threat-exchange/reference/apis/", "url"),
        ("url_md5 95c3a3934d38b06959d4f6d5bfe48a79", "url_md5"),
        ("raw_text The quick brown fox jumps over the lazy dog", "raw_text"),
        ('trend_query {"and": [{"or": ["basketball", "hoops"]}], "not": ["tomorrow"]}', "trend_query"),
        ("text_tlsh T1A2B3", "text_tlsh"),
        (f"pdq_ocr {TX_PDQ},some text", "pdq_ocr"),
        (f"photo_md5:{MD5}", "photo_md5"),
    ],
)
def test_unknown_signal_types_reject_the_file_naming_line_and_type(line: str, signal_type: str) -> None:
    data = f"pdq {TX_PDQ}\n{line}\nvideo_md5 {TX_MD5}\n"
    with pytest.raises(Rejected) as caught:
        parse_hash_list(data.encode())
    assert caught.value.message.startswith(f"line 2: unknown signal type '{signal_type}'")
    assert "known: sha256, md5, pdq, phash" in caught.value.message
    assert "video_md5" in caught.value.message


def test_extra_text_after_a_hash_is_rejected_with_a_hint() -> None:
    # `tx dataset -P` without -S appends the collab and the category.
    with pytest.raises(Rejected, match=r"line 1: text after the pdq hash.*-P -S"):
        parse_hash_list(f"pdq {TX_PDQ} 'Sample Signals' INVESTIGATION_SEED\n".encode())
    # md5sum's `<hash>  <file>` is not a tx line.
    with pytest.raises(Rejected, match="line 1: text after the hash"):
        parse_hash_list(f"{MD5}  photo.jpg\n".encode())


TX_DATASET_CSV = (
    "signal_type,signal_str,collab,category,tags\r\n"
    f"video_sha256,{TX_SHA},hashmatch-export,INVESTIGATION_SEED,\r\n"
    f"video_md5,{TX_MD5},hashmatch-export,POSITIVE_CLASS,csam media_type_video\r\n"
    f"pdq,{TX_PDQ},Sample Signals,INVESTIGATION_SEED,gore\r\n"
)


def test_the_tx_dataset_csv_reads_with_tags_as_labels() -> None:
    entries = parse_hash_list(TX_DATASET_CSV.encode())
    assert [e.signals for e in entries] == [{"sha256": TX_SHA}, {"md5": TX_MD5}, {"pdq": TX_PDQ}]
    assert [e.labels for e in entries] == [None, ("csam", "media_type_video"), ("gore",)]
    assert [e.line for e in entries] == [2, 3, 4]
    assert all(not e.overrides for e in entries)


def test_the_tx_dataset_csv_with_unknown_types_is_rejected_naming_the_row() -> None:
    # As tx writes its demo data: JSON and text cells quoted, a text cell running over two lines.
    data = (
        TX_DATASET_CSV + '"raw_text","two\r\nlines",Sample Signals,INVESTIGATION_SEED,\r\n'
        'trend_query,"{""and"": [{""or"": [""a"", ""b""]}]}",Sample Signals,INVESTIGATION_SEED,\r\n'
    )
    with pytest.raises(Rejected, match="line 5: unknown signal type 'raw_text'"):
        parse_hash_list(data.encode())
    rows_after_a_quoted_newline = TX_DATASET_CSV + f'pdq,{TX_PDQ_2},"a\r\ncollab",X,\r\nurl,https://a.example/,c,X,\r\n'
    with pytest.raises(Rejected, match="line 7: unknown signal type 'url'"):
        parse_hash_list(rows_after_a_quoted_newline.encode())


def test_a_negative_class_row_is_never_shared() -> None:
    data = TX_DATASET_CSV + f"pdq,{TX_PDQ_2},Sample Signals,NEGATIVE_CLASS,\r\n"
    with pytest.raises(Rejected, match="line 5: category NEGATIVE_CLASS"):
        parse_hash_list(data.encode())


def test_our_export_csv_reads_back_with_its_labels() -> None:
    data = (
        "signal_type,signal_str,contributor,shared_at,labels\n"
        f"sha256,{SHA},tiktok,2026-01-10T09:00:00.000Z,gore;violence\n"
        f"phash,{PHASH},tiktok,2026-01-10T09:00:00.000Z,\n"
    )
    first, second = parse_hash_list(data.encode())
    assert first.signals == {"sha256": SHA} and first.labels == ("gore", "violence")
    assert second.signals == {"phash": PHASH} and second.labels is None
