"""Salesforce record Ids: the 15/18-character shape, the case checksum, and the object's key prefix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.describe import STANDARD_KEY_PREFIXES, FieldInfo, ObjectDescribe
from dms.pipeline.prepare.options import PrepareOptions
from dms.pipeline.prepare.rejections import ErrorCode, Flag, flag, quote
from dms.pipeline.prepare.spec import CompiledMapping
from dms.row_messages import NOT_AN_ID, WRONG_ID_TYPE

_ID_SHAPE = r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$"
_ID_SUFFIX = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)


def _key_prefixes(objects: Sequence[str], options: PrepareOptions) -> set[str] | None:
    prefixes = set()
    for name in objects:
        prefix = options.key_prefixes.get(name) or STANDARD_KEY_PREFIXES.get(name)
        parent = options.parent_describes.get(name)
        if prefix is None and isinstance(parent, ObjectDescribe):
            prefix = parent.key_prefix
        elif prefix is None and isinstance(parent, Mapping):
            prefix = parent.get("keyPrefix")
        if not prefix:
            return None  # one unknown target type: the prefix cannot be checked
        prefixes.add(prefix)
    return prefixes or None


def convert_id(
    text: pa.Array, info: FieldInfo, mapping: CompiledMapping, options: PrepareOptions
) -> tuple[pa.Array, list[Flag]]:
    """Flag values that are not Salesforce Ids, or are Ids of another object than the field points to."""
    shape_ok = pc.fill_null(pc.match_substring_regex(text, _ID_SHAPE), True).to_numpy(zero_copy_only=False)
    malformed = ~shape_ok | _bad_checksums(text)
    flags = [
        flag(
            malformed,
            ErrorCode.INVALID_ID,
            lambda v: NOT_AN_ID(value=quote(v)),
            text,
        )
    ]
    if info.name == "Id":
        objects: Sequence[str] = (mapping.object,)
        own = mapping.describe.key_prefix
        prefixes = {own} if own else _key_prefixes(objects, options)
    else:
        objects = info.reference_to
        prefixes = _key_prefixes(objects, options) if objects else None
    if prefixes:
        prefix = pc.utf8_slice_codeunits(text, 0, 3)
        wrong = pc.and_(pc.invert(pc.is_in(prefix, value_set=pa.array(sorted(prefixes)))), pc.is_valid(text))
        wrong_mask = pc.fill_null(wrong, False).to_numpy(zero_copy_only=False) & ~malformed
        kinds = " or ".join(objects)
        code = ErrorCode.INVALID_ID if info.name == "Id" else ErrorCode.WRONG_ID_TYPE
        flags.append(flag(wrong_mask, code, lambda v: WRONG_ID_TYPE(value=quote(v), objects=kinds), text))
    return text, flags


def _bad_checksums(text: pa.Array) -> np.ndarray:
    """Rows holding an 18-character Id whose last 3 characters do not match its case checksum."""
    n = len(text)
    bad = np.zeros(n, dtype=bool)
    eighteen = pc.fill_null(pc.equal(pc.binary_length(text), 18), False)
    rows = pc.indices_nonzero(eighteen).to_numpy(zero_copy_only=False)
    if len(rows) == 0:
        return bad
    ids = pc.take(text, pa.array(rows))  # a fresh array: every value is exactly 18 bytes, back to back
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32, count=len(ids) + 1, offset=ids.offset * 4)
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8, count=len(rows) * 18, offset=int(offsets[0]))
    matrix = data.reshape(len(rows), 18)
    upper = ((matrix[:, :15] >= 65) & (matrix[:, :15] <= 90)).reshape(len(rows), 3, 5)
    weights = np.array([1, 2, 4, 8, 16], dtype=np.int64)
    expected = _ID_SUFFIX[upper @ weights]
    suffix = matrix[:, 15:].copy()
    lower = (suffix >= 97) & (suffix <= 122)
    suffix[lower] -= 32  # the checksum letters are compared without case
    bad[rows] = (expected != suffix).any(axis=1)
    return bad
