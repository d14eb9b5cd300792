"""What a source file is: its format, text encoding, delimiter and first record, told from a sample."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from pathlib import Path

import charset_normalizer
from charset_normalizer.md import mess_ratio

from dms import row_messages as said
from dms.errors import Text
from dms.pipeline.source.contract import ReadError

# How much of a text file detection looks at: enough for a header and a few hundred rows, never the file.
SAMPLE_BYTES = 1024 * 1024
PROBE_BYTES = 64 * 1024
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
# Legacy code pages people really export in, and only those: a wider net makes short samples guess wrong.
LEGACY_ENCODINGS = ("gb18030", "big5", "shift_jis", "cp1252")
# How much decoded text the garbling check reads, and the mess ratio above which text reads as garbled
# (charset_normalizer's own threshold: clean text of any language scores near 0, mojibake well above).
GARBLE_CHECK_CHARS = 64 * 1024
GARBLED_MESS = 0.2
_UNICODE_NAMES = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32")

_EXTENSION_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".psv": "csv",
    ".dat": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".pkl": "pickle",
    ".pickle": "pickle",
}

XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PARQUET_MAGIC = b"PAR1"


def detect_format(path: str | os.PathLike[str], head: bytes) -> str:
    """The format by magic bytes first and by file extension second."""
    if head.startswith(XLSX_MAGIC) or head.startswith(OLE2_MAGIC):
        return "excel"
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    by_extension = extension_format(path)
    if by_extension == "pickle" or (by_extension in ("excel", "parquet") and _looks_binary(head)):
        # The extension promises a binary format the bytes do not show: let that reader say what is wrong.
        # (Text named .xls is common: legacy systems write tab-separated text under that name.)
        return by_extension
    text_start = _text_start(head)
    if text_start.startswith("["):
        after = text_start[1:].lstrip()
        # "[ID],[Name]" headers from SQL Server exports are CSV; a JSON array of records opens with "{" or "]".
        if after[:1] in ("{", "]", ""):
            return "json"
    if text_start.startswith("{"):
        after = text_start[1:].lstrip()
        if after[:1] in ('"', "}", ""):
            return "ndjson" if by_extension != "json" else "json"
    if by_extension in ("json", "ndjson"):
        return by_extension
    if _looks_binary(head):
        raise ReadError(
            "UNKNOWN_FORMAT",
            Text(
                "The file is neither delimited text nor a known spreadsheet, JSON, Parquet or pickle "
                "file. Export it as CSV, Excel, JSON or Parquet."
            ),
            file=path,
        )
    return "csv"


def extension_format(path: str | os.PathLike[str]) -> str | None:
    """The format the file's extension suggests, if any."""
    return _EXTENSION_FORMATS.get(Path(path).suffix.lower())


def _text_start(head: bytes) -> str:
    """The first characters of a text file, for any of the encodings with a BOM or a 16-bit layout."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) : 512].decode(encoding, errors="ignore").lstrip()
    guessed_utf16 = _bomless_utf16(head)
    if guessed_utf16:
        return head[:512].decode(guessed_utf16, errors="ignore").lstrip()
    return head[:512].decode("latin-1").lstrip()


def _looks_binary(head: bytes) -> bool:
    """True for bytes no text export contains: NULs (outside UTF-16) or many control characters."""
    if _text_start(head) and (
        head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _bomless_utf16(head)
    ):
        return False
    sample = head[:4096]
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 9 or 13 < byte < 32)
    return controls > len(sample) // 20


def _bomless_utf16(head: bytes) -> str | None:
    """UTF-16 without a BOM, told by NUL bytes in every other position of mostly-ASCII text."""
    sample = head[:4096]
    if len(sample) < 8:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nuls > half * 0.6 and even_nuls < half * 0.05:
        return "utf-16-le"
    if even_nuls > half * 0.6 and odd_nuls < half * 0.05:
        return "utf-16-be"
    return None


def read_probes(path: str | os.PathLike[str], size: int) -> tuple[bytes, bytes]:
    """The head of the file (SAMPLE_BYTES) and probes from its middle and end, for encoding checks."""
    with open(path, "rb") as source:
        head = source.read(SAMPLE_BYTES)
        extra = b""
        if size > SAMPLE_BYTES + 2 * PROBE_BYTES:
            # Middle and end: a file can be plain ASCII for a megabyte and Latin-1 after row 10,000.
            for offset in (size // 2, size - PROBE_BYTES):
                source.seek(offset)
                probe = source.read(PROBE_BYTES)
                start = probe.find(b"\n") + 1
                end = probe.rfind(b"\n")
                if 0 < start < end:
                    extra += probe[start : end + 1]
        elif size > SAMPLE_BYTES:
            source.seek(SAMPLE_BYTES)
            extra = source.read()
    return head, extra


def detect_encoding(head: bytes, extra: bytes = b"") -> tuple[str, float]:
    """The text encoding and a 0..1 confidence: BOM, then strict UTF-8, then the legacy code pages."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", 1.0
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 1.0
    guessed_utf16 = _bomless_utf16(head)
    if guessed_utf16:
        return guessed_utf16, 0.9
    head = _whole_lines(head)
    sample = head + extra
    if _is_strict_utf8(head) and _is_strict_utf8(extra):
        if sample.isascii():
            # Every listed encoding agrees on ASCII; utf-8 reads the rest of the file best if it strays.
            return "utf-8", 0.9
        return "utf-8", 0.99
    matches = charset_normalizer.from_bytes(
        sample[: 2 * PROBE_BYTES * 4], cp_isolation=list(LEGACY_ENCODINGS)
    )
    best = matches.best()
    if best is not None:
        encoding = codecs.lookup(best.encoding).name
        confidence = max(0.0, 1.0 - best.chaos)
        rivals = [m for m in matches if m is not best and abs(m.chaos - best.chaos) < 0.01]
        if rivals:
            # Several code pages read the sample equally well: short samples of CJK text often do.
            confidence *= 0.5
        if _decodes(sample, encoding):
            return encoding, round(min(confidence, 0.95), 3)
    if _decodes(sample, "cp1252"):
        return "cp1252", 0.3
    return "latin-1", 0.2


def _whole_lines(data: bytes) -> bytes:
    """The data up to its last line break, so a sample never ends inside a multi-byte character."""
    cut = data.rfind(b"\n")
    return data[: cut + 1] if cut > 0 else data


def _is_strict_utf8(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def chosen_encoding_check(head: bytes, extra: bytes, encoding: str) -> tuple[float, str | None]:
    """How well an encoding a person chose reads the sample (0..1), and a warning when the text comes out
    garbled: replacement characters, UTF-8 read as a code page (mojibake), or text no language looks like."""
    text = _decoded(head, encoding)[:GARBLE_CHECK_CHARS]
    if not text:
        return 1.0, None
    replaced = text.count("\ufffd")
    utf8_as_code_page = (
        encoding not in _UNICODE_NAMES and not head.isascii() and _is_strict_utf8(_whole_lines(head))
    )
    mess = mess_ratio(text, maximum_threshold=1.0)
    if not (replaced or utf8_as_code_page or mess > GARBLED_MESS):
        return 1.0, None
    detected, detected_confidence = detect_encoding(head, extra)
    sample = _garbled_example(text, _decoded(head, detected))
    if utf8_as_code_page or mess > GARBLED_MESS:
        confidence = round(max(0.0, min(0.2, 1.0 - mess)), 3)
        problem = said.MOJIBAKE() if utf8_as_code_page else said.LOOKS_GARBLED()
    else:
        confidence = round(max(0.0, min(0.5, 1.0 - replaced / len(text))), 3)
        replacements = said.REPLACEMENT_CHARACTERS if replaced != 1 else said.REPLACEMENT_CHARACTER
        problem = replacements(count=f"{replaced:,}")
    if codecs.lookup(detected).name != codecs.lookup(encoding).name:
        sentence = said.GARBLED_READS_AS_EXAMPLE if sample else said.GARBLED_READS_AS
    else:
        sentence = said.GARBLED_CHECK_EXAMPLE if sample else said.GARBLED_CHECK
    warning = sentence(
        encoding=encoding,
        problem=problem,
        example=sample,
        detected=detected,
        sure=f"{detected_confidence:.0%}",
    )
    return confidence, warning


def _decoded(data: bytes, encoding: str) -> str:
    """Bytes as text in `encoding`, undecodable bytes as U+FFFD, without a BOM."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(data, final=False).removeprefix("\ufeff")


def _garbled_example(text: str, better: str) -> str:
    """'"MÃ¼ller" where utf-8 reads "Müller"': the first word the two readings disagree on."""
    if text == better:
        word = next((w for w in re.split(r"[\s,;|]+", text) if "\ufffd" in w or not w.isascii()), "")
        return said.FOR_EXAMPLE(text=repr(word[:40])) if word else ""
    for ours, theirs in zip(text.splitlines(), better.splitlines(), strict=False):
        if ours == theirs:
            continue
        pairs = zip(re.split(r"[\s,;|]+", ours), re.split(r"[\s,;|]+", theirs), strict=False)
        for word, right in pairs:
            if word != right:
                return said.FOR_EXAMPLE_AGAINST(text=repr(word[:40]), right=repr(right[:40]))
        return said.FOR_EXAMPLE(text=repr(ours[:40]))
    return ""


def decode_sample(head: bytes, encoding: str, warnings: list[str]) -> str:
    """The sample as text without a BOM; bytes that do not decode show as U+FFFD and add a warning."""
    if encoding == "utf-8-sig":
        head, encoding = head.removeprefix(codecs.BOM_UTF8), "utf-8"
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        warnings.append(
            said.UNDECODABLE_BYTE(byte=f"0x{head[exc.start]:02X}", offset=exc.start, encoding=encoding)
        )
        text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    return text.removeprefix("\ufeff")


def sniff_delimiter(text: str, suffix: str = "") -> str:
    """The delimiter among , ; tab | that splits the sample's records most consistently into 2+ fields."""
    lines = text.splitlines(keepends=True)
    # Drop a last line that the sample may have cut short.
    sample = "".join(lines[:-1] if len(lines) > 1 else lines)[: 256 * 1024]
    preferred = "\t" if suffix in (".tsv", ".tab") else "|" if suffix == ".psv" else ","
    best, best_score = preferred, (0.0, 0, 0)
    for candidate in DELIMITER_CANDIDATES:
        widths = [len(record) for record in _records(sample, candidate, limit=200) if record]
        if not widths:
            continue
        most_common = max(set(widths), key=widths.count)
        if most_common < 2:
            continue
        consistency = widths.count(most_common) / len(widths)
        score = (round(consistency, 2), most_common, 1 if candidate == preferred else 0)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _records(text: str, delimiter: str, limit: int) -> list[list[str]]:
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True, strict=False
    )
    records = []
    try:
        for record in reader:
            records.append(record)
            if len(records) >= limit:
                break
    except csv.Error:
        pass
    return records


def first_record(text: str, delimiter: str) -> tuple[list[str] | None, int]:
    """The first non-blank record of the sample (quotes honoured) and the offset where it ends.

    None when the sample holds no complete record: it is blank, or a quote opened in it is never closed.
    """
    for strict in (True, False):
        # Strict parsing tells an unclosed quote from a row that merely ends the file; a stray quote inside a
        # field ('ab"c') only fails strict parsing, so that case is parsed again leniently, as Arrow does.
        lines = io.StringIO(text, newline="")
        reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=strict)
        try:
            for record in reader:
                if record:
                    return record, lines.tell()
            return None, len(text)
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                return None, len(text)
    return None, len(text)
