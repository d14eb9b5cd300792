"""Salesforce record ids: 15/18-character forms, checksum suffix, key prefixes and allocation."""

from __future__ import annotations

import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# The two "instance" characters and the reserved character that follow the key prefix.
INSTANCE = "5L0"
COUNTER_WIDTH = 9

_ID_SHAPE = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")
_UPPER_AS_BIT = str.maketrans({c: "1" if "A" <= c <= "Z" else "0" for c in BASE62})


def _chunk_bits(chunk: str) -> int:
    """Bit i set when character i of a 5-character chunk is an upper-case letter."""
    return int(chunk[::-1].translate(_UPPER_AS_BIT), 2)


def checksum(id15: str) -> str:
    """Return the 3-character suffix Salesforce appends to a 15-character id."""
    return "".join(CHECKSUM_ALPHABET[_chunk_bits(id15[i : i + 5])] for i in (0, 5, 10))


def to_18(record_id: str) -> str | None:
    """Return the 18-character form of a 15/18-character id, or None if it is malformed."""
    if not isinstance(record_id, str) or not _ID_SHAPE.fullmatch(record_id):
        return None
    id15 = record_id[:15]
    suffix = checksum(id15)
    if len(record_id) == 18:
        # Salesforce compares the suffix case-insensitively; a wrong suffix is a malformed id.
        if record_id[15:].upper() != suffix:
            return None
    return id15 + suffix


def encode_base62(number: int, width: int) -> str:
    """Encode a non-negative integer as fixed-width base62 (0-9A-Za-z, most significant first)."""
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    if number:
        raise OverflowError("id counter exhausted")
    return "".join(reversed(digits))


_TAILS = [(a + b, _chunk_bits("000" + a + b)) for a in BASE62 for b in BASE62]


def make_ids(key_prefix: str, first_seq: int, count: int) -> list[str]:
    """Return `count` consecutive 18-character ids starting at counter value `first_seq`."""
    ids: list[str] = []
    seq = first_seq
    end = first_seq + count
    while seq < end:
        # Ids sharing all but the last two counter digits share two of the three checksum chunks,
        # so build a run of up to 3,844 ids at once from a precomputed table of the last two digits.
        high = seq // 3844
        start_tail = seq % 3844
        run = min(3844 - start_tail, end - seq)
        head = key_prefix + INSTANCE + encode_base62(high, COUNTER_WIDTH - 2)
        c1 = CHECKSUM_ALPHABET[_chunk_bits(head[0:5])]
        c2 = CHECKSUM_ALPHABET[_chunk_bits(head[5:10])]
        high_bits = _chunk_bits(head[10:13] + "00")
        for tail, tail_bits in _TAILS[start_tail : start_tail + run]:
            ids.append(head + tail + c1 + c2 + CHECKSUM_ALPHABET[high_bits | tail_bits])
        seq += run
    return ids


def custom_key_prefix(index: int) -> str:
    """Key prefix for the index-th custom object: a00, a01, ... a0Z, a0a, ... a10 ..."""
    return "a" + encode_base62(index, 2)
