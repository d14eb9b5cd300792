"""Detection: the encodings legacy exports really use, formats told by content, delimiters sniffed."""

from __future__ import annotations

import codecs

import pytest

from dms.pipeline.source import ReadError, ReadOptions, sniff

SIMPLIFIED = "客户名称,金额,城市\n北京科技有限公司,1200.50,北京\n上海贸易公司,300,上海\n"
TRADITIONAL = "客戶名稱,金額,城市\n台北科技有限公司,1200.50,台北\n高雄貿易公司,300,高雄\n"
JAPANESE = "顧客名,金額,都市\n東京株式会社,1200.50,東京\n大阪商事,300,大阪\n"
WESTERN = "Name,Amount,City\nCafé Müller,1200.50,Zürich\nSão Paulo Ltda – “best”,300,Köln\n"


@pytest.mark.parametrize(
    ("text", "write_as", "detected"),
    [
        (SIMPLIFIED, "utf-8", "utf-8"),
        (SIMPLIFIED, "utf-8-sig", "utf-8-sig"),
        (SIMPLIFIED, "utf-16", "utf-16"),
        (SIMPLIFIED, "utf-16-be-bom", "utf-16"),
        (SIMPLIFIED, "utf-16-le-bom", "utf-16"),
        (SIMPLIFIED, "gbk", "gb18030"),
        (SIMPLIFIED, "gb18030", "gb18030"),
        (TRADITIONAL, "big5", "big5"),
        (JAPANESE, "shift_jis", "shift_jis"),
        (WESTERN, "cp1252", "cp1252"),
    ],
)
def test_encoding_is_detected_and_text_reads_back(text, write_as, detected, write_bytes, read_all):
    if write_as == "utf-16-be-bom":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    elif write_as == "utf-16-le-bom":
        data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    else:
        data = text.encode(write_as)
    path = write_bytes(f"{write_as}.csv", data)

    info, table, problems = read_all(path)

    assert info.encoding == detected
    assert 0.0 < info.encoding_confidence <= 1.0
    header, first, second = (line.split(",") for line in text.strip().split("\n"))
    assert info.columns == header
    assert table.column(header[0]).to_pylist() == [first[0], second[0]]
    assert table.column(header[2]).to_pylist() == [first[2], second[2]]
    assert problems == []


def test_gbk_header_with_only_the_brief_example(write_bytes, read_all):
    path = write_bytes("gbk.csv", "客户名称\n北京\n上海\n".encode("gbk"))
    info, table, _ = read_all(path)
    assert info.columns == ["客户名称"]
    assert table.column("客户名称").to_pylist() == ["北京", "上海"]


def test_encoding_override_is_used_as_given(write_bytes, read_all):
    # Latin-1 bytes that also happen to be valid (nonsense) GB18030: only the override reads them right.
    path = write_bytes("latin.csv", "name\nçé\n".encode("latin-1"))
    info, table, _ = read_all(path, ReadOptions(encoding="latin-1"))
    assert info.encoding == "iso8859-1"
    assert info.encoding_confidence == 1.0
    assert table.column("name").to_pylist() == ["çé"]


def test_unknown_encoding_option_is_refused(write_bytes):
    path = write_bytes("a.csv", b"a\n1\n")
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(encoding="klingon-8"))
    assert (caught.value.code, caught.value.http_status) == ("INVALID_ENCODING", 400)
    assert caught.value.where["field"] == "encoding"


@pytest.mark.parametrize(
    "codec",
    ["zlib", "rot13", "base64", "hex", "uu", "bz2", "quopri", "idna", "punycode", "undefined", "utf\x00-8"],
)
@pytest.mark.parametrize("name", ["a.csv", "a.jsonl"])
def test_codec_that_is_not_a_text_encoding_is_refused_as_an_option(write_bytes, codec, name):
    path = write_bytes(name, b'{"a": 1}\n' if name.endswith("jsonl") else b"a,b\n1,2\n")
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(encoding=codec))
    assert (caught.value.code, caught.value.http_status) == ("INVALID_ENCODING", 400)
    assert caught.value.where["field"] == "encoding"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "cp1252", "utf-8-sig"])
def test_text_encodings_with_wide_or_legacy_bytes_still_read(write_bytes, read_all, encoding):
    path = write_bytes("wide.csv", "name,n\nZoë,1\n".encode(encoding))
    _, table, _ = read_all(path, ReadOptions(encoding=encoding))
    assert table.column("name").to_pylist() == ["Zoë"]


def test_read_options_of_the_wrong_json_type_are_refused_naming_the_option():
    with pytest.raises(ReadError) as caught:
        ReadOptions.from_json({"encoding": ["utf-8"]}, prefix="read_options.")
    assert (caught.value.http_status, caught.value.where["field"]) == (400, "read_options.encoding")
    with pytest.raises(ReadError) as caught:
        ReadOptions.from_json({"sheet": True})
    assert caught.value.where["field"] == "sheet"
    assert ReadOptions.from_json({"sheet": 2, "has_header": False, "other": 1}).sheet == 2


def test_legacy_bytes_far_down_the_file_are_seen_by_detection(write_bytes, read_all):
    ascii_rows = b"".join(
        b"%d,plain ascii row\n" % i for i in range(60_000)
    )  # > 1 MB before the first accent
    path = write_bytes("late.csv", b"id,text\n" + ascii_rows + "99,Café crème\n".encode("cp1252"))

    info, table, problems = read_all(path)

    assert info.encoding == "cp1252"
    assert table.column("text").to_pylist()[-1] == "Café crème"
    assert problems == []


def test_wrong_legacy_encoding_fails_with_a_clear_error(write_bytes, read_all):
    path = write_bytes("sjis.csv", "名前\n東京\n".encode("shift_jis") + b"x\xffy\n")
    with pytest.raises(ReadError) as caught:
        read_all(path, ReadOptions(encoding="shift_jis"))
    assert caught.value.code == "ENCODING_ERROR"
    assert "shift_jis" in caught.value.message


def test_bomless_utf16_is_recognised(write_bytes, read_all):
    path = write_bytes("u16.csv", "id,name\n1,Zoë\n2,Ana\n".encode("utf-16-le"))
    info, table, _ = read_all(path)
    assert info.encoding == "utf-16-le"
    assert table.column("name").to_pylist() == ["Zoë", "Ana"]


def test_json_detected_by_content_whatever_its_name(write_bytes):
    assert sniff(write_bytes("x.txt", b' [ {"a": 1} ]')).format == "json"
    assert sniff(write_bytes("y.txt", b'{"a": 1}\n{"a": 2}\n')).format == "ndjson"


def test_pretty_printed_single_object_is_not_mistaken_for_ndjson(write_bytes):
    path = write_bytes("one.txt", b'{\n  "a": 1\n}\n')
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "INVALID_JSON"


def test_unrecognisable_binary_is_refused(write_bytes):
    path = write_bytes("blob.bin", bytes(range(256)) * 20)
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "UNKNOWN_FORMAT"


def test_tab_separated_text_named_xls_is_read_as_text_with_a_warning(write_bytes, read_all):
    path = write_bytes("legacy.xls", "Name\tCity\nJosé\tLyon\n".encode("cp1252"))
    info, table, _ = read_all(path)
    assert info.format == "csv" and info.delimiter == "\t"
    assert table.column("Name").to_pylist() == ["José"]
    assert any("'.xls'" in warning for warning in info.warnings)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_and_values_split_on_it(delimiter, write_bytes, read_all):
    rows = [["id", "name", "amount"], ["1", "Acme, Inc.", "10,5"], ["2", "Globex", "3"]]
    quoted = [[f'"{v}"' if delimiter in v or "," in v else v for v in row] for row in rows]
    path = write_bytes("data.txt", "\n".join(delimiter.join(row) for row in quoted).encode() + b"\n")

    info, table, problems = read_all(path)

    assert info.delimiter == delimiter
    assert info.columns == ["id", "name", "amount"]
    assert table.column("name").to_pylist() == ["Acme, Inc.", "Globex"]
    assert table.column("amount").to_pylist() == ["10,5", "3"]
    assert problems == []


def test_delimiter_override_wins_over_sniffing(write_bytes, read_all):
    path = write_bytes("data.csv", b"a;b,c\n1;2,3\n4;5,6\n")

    sniffed, _, _ = read_all(path)
    info, table, _ = read_all(path, ReadOptions(delimiter=";"))

    assert sniffed.delimiter == ","  # two columns either way; comma is preferred on a tie
    assert info.delimiter == ";"
    assert table.column("b,c").to_pylist() == ["2,3", "5,6"]


def test_sql_server_bracket_headers_are_csv_not_json(write_bytes, read_all):
    path = write_bytes("export.csv", b"[ID],[Name]\n1,Acme\n")
    info, table, _ = read_all(path)
    assert info.format == "csv"
    assert info.columns == ["[ID]", "[Name]"]
