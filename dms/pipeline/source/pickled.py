"""pandas DataFrame pickles: off by default, and then only through an allow-list that cannot run code."""

from __future__ import annotations

import datetime
import decimal
import importlib
import inspect
import logging
import os
import pickle
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.source.chunking import value_text
from dms.pipeline.source.contract import (
    Chunk,
    ReadError,
    ReadOptions,
    SourceInfo,
    check_readable,
    unique_column_names,
)

log = logging.getLogger(__name__)

# A pickle is loaded whole; past this it is the wrong format for the job.
MAX_PICKLE_BYTES = 1024 * 1024 * 1024

DISABLED_MESSAGE = (
    "Pickle files can run arbitrary code on the server when they are loaded, so DMS does not read them unless "
    "the deployment enables it (ReadOptions.allow_pickle, set from the deployment's configuration). Export the "
    "DataFrame as Parquet (df.to_parquet) or CSV (df.to_csv) and upload that instead."
)

# Only the top-level packages whose names may be imported while resolving a pickle's globals; anything else is
# refused before it is imported.
_IMPORTABLE_ROOTS = {
    "pandas",
    "numpy",
    "pyarrow",
    "datetime",
    "decimal",
    "zoneinfo",
    "builtins",
    "_codecs",
    "collections",
}
_RENAMED_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def describe(path: str | os.PathLike[str], options: ReadOptions) -> SourceInfo:
    """The DataFrame's columns (a meaningful index becomes leading columns)."""
    frame = load_dataframe(path, options)
    warnings: list[str] = []
    columns = unique_column_names([str(name) for name in frame.columns], warnings)
    return SourceInfo(format="pickle", columns=columns, warnings=warnings)


def iter_chunks(path: str | os.PathLike[str], options: ReadOptions, info: SourceInfo) -> Iterator[Chunk]:
    """The DataFrame as Arrow, in chunks of chunk_rows rows."""
    frame = load_dataframe(path, options)
    if len(frame.columns) != len(info.columns):
        raise ReadError(
            "SOURCE_CHANGED", "The DataFrame's columns differ from when it was sniffed.", file=path
        )
    arrays = [_column_to_arrow(frame.iloc[:, position]) for position in range(len(frame.columns))]
    arrays.append(pa.array(np.arange(1, len(frame) + 1, dtype=np.int64)))
    table = pa.Table.from_arrays(arrays, names=[*info.columns, ROW_COLUMN])
    try:
        # Arrow-backed columns arrive as raw buffers from the pickle: check offsets and lengths before use.
        table.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise ReadError(
            "CORRUPT_FILE", f"The pickled DataFrame holds inconsistent data: {exc}.", file=path
        ) from exc
    del frame
    for index, start in enumerate(range(0, table.num_rows, options.chunk_rows)):
        yield Chunk(index, table.slice(start, options.chunk_rows), [])


def load_dataframe(path: str | os.PathLike[str], options: ReadOptions) -> pd.DataFrame:
    """The DataFrame in the pickle, loaded through the allow-list; ReadError when disabled or refused."""
    if not options.allow_pickle:
        raise ReadError("PICKLE_DISABLED", DISABLED_MESSAGE, file=path)
    size = check_readable(path)
    limit = min(MAX_PICKLE_BYTES, options.max_unzipped_bytes)
    if size > limit:
        raise ReadError(
            "FILE_TOO_LARGE",
            f"The pickle is {size:,} bytes; pickles are loaded whole and the limit is {limit:,}. Export Parquet instead.",
            file=path,
        )
    with open(path, "rb") as source:
        try:
            loaded = DataFrameUnpickler(source).load()
        except ForbiddenGlobal as exc:
            log.warning("reader=pickle file=%s refused=%s.%s", Path(path).name, exc.module, exc.name)
            raise ReadError("PICKLE_FORBIDDEN", str(exc), file=path) from None
        except RecursionError:
            raise ReadError("CORRUPT_FILE", "The pickle nests too deeply to load.", file=path) from None
        except Exception as exc:  # noqa: BLE001 - any failure of a hostile or damaged pickle is a read error
            raise ReadError(
                "CORRUPT_FILE",
                f"The pickle cannot be loaded ({type(exc).__name__}: {exc}). It may come from an incompatible pandas "
                "version: export Parquet or CSV instead.",
                file=path,
            ) from None
    if isinstance(loaded, pd.Series):
        loaded = loaded.to_frame()
    if not isinstance(loaded, pd.DataFrame):
        raise ReadError(
            "UNSUPPORTED_FORMAT",
            f"The pickle holds a {type(loaded).__name__}, not a pandas DataFrame.",
            file=path,
        )
    return _with_index_as_columns(loaded)


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a function or class outside the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        super().__init__(
            f"The pickle asks to load {module}.{name}, which is not part of a pandas DataFrame; it was refused "
            "without running it, because loading a pickle can run arbitrary code. Export the data as Parquet or CSV."
        )


class DataFrameUnpickler(pickle.Unpickler):
    """An Unpickler whose find_class admits only what pandas and numpy need to rebuild a DataFrame."""

    def find_class(self, module: str, name: str) -> Any:
        module = _RENAMED_MODULES.get(module, module)
        if module.split(".")[0] not in _IMPORTABLE_ROOTS:
            raise ForbiddenGlobal(module, name)
        if module == "builtins" and name == "getattr":
            return _restricted_getattr
        try:
            found: Any = importlib.import_module(module)
            for part in name.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            raise ForbiddenGlobal(module, name) from None
        # Compared by identity, so an alias (pandas.arrays.X for pandas.core.arrays.x.X) is judged as what it is.
        if _allowed_objects().get(id(found)) is not found:
            raise ForbiddenGlobal(module, name)
        return found


def _restricted_getattr(target: object, attribute: str, *default: object) -> object:
    # pandas pickles use getattr only to reach ZoneInfo._unpickle; a free getattr would reach anything.
    if target is zoneinfo.ZoneInfo and attribute == "_unpickle":
        return zoneinfo.ZoneInfo._unpickle  # type: ignore[attr-defined]
    raise ForbiddenGlobal(
        "builtins", f"getattr({getattr(target, '__name__', type(target).__name__)}, {attribute!r})"
    )


_ALLOWED: dict[int, object] = {}


def _allowed_objects() -> dict[int, object]:
    """The classes and functions a DataFrame pickle may name, keyed by id (pd.NA cannot be hashed safely)."""
    if _ALLOWED:
        return _ALLOWED
    allowed: list[object] = [
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        decimal.Decimal,
        zoneinfo.ZoneInfo,
        slice,
        bytearray,
        complex,
        frozenset,
        set,
        np.ndarray,
        np.dtype,
    ]
    named = {
        "_codecs": ["encode"],
        "collections": ["OrderedDict"],
        "numpy._core.multiarray": ["_reconstruct", "scalar"],
        "numpy._core.numeric": ["_frombuffer"],
        "pyarrow.lib": ["_restore_array", "py_buffer", "type_for_alias"],
        "pandas": [
            "DataFrame",
            "Series",
            "Index",
            "RangeIndex",
            "MultiIndex",
            "DatetimeIndex",
            "TimedeltaIndex",
            "PeriodIndex",
            "CategoricalIndex",
            "IntervalIndex",
            "Categorical",
            "CategoricalDtype",
            "DatetimeTZDtype",
            "PeriodDtype",
            "IntervalDtype",
            "StringDtype",
            "BooleanDtype",
            "ArrowDtype",
            "Int8Dtype",
            "Int16Dtype",
            "Int32Dtype",
            "Int64Dtype",
            "UInt8Dtype",
            "UInt16Dtype",
            "UInt32Dtype",
            "UInt64Dtype",
            "Float32Dtype",
            "Float64Dtype",
            "NA",
            "NaT",
            "Timestamp",
            "Timedelta",
            "Period",
            "Interval",
        ],
        "pandas.arrays": [
            "ArrowExtensionArray",
            "ArrowStringArray",
            "BooleanArray",
            "DatetimeArray",
            "FloatingArray",
            "IntegerArray",
            "IntervalArray",
            "NumpyExtensionArray",
            "PeriodArray",
            "StringArray",
            "TimedeltaArray",
        ],
        "pandas.core.internals.managers": ["BlockManager", "SingleBlockManager"],
        "pandas._libs.internals": ["_unpickle_block", "BlockPlacement"],
        "pandas._libs.arrays": ["__pyx_unpickle_NDArrayBacked"],
        "pandas.core.indexes.base": ["_new_Index"],
        "pandas.core.indexes.datetimes": ["_new_DatetimeIndex"],
        "pandas.core.indexes.period": ["_new_PeriodIndex"],
        "pandas._libs.tslibs.timestamps": ["_unpickle_timestamp"],
        "pandas._libs.tslibs.timedeltas": ["_timedelta_unpickle"],
        "pandas._libs.tslibs.nattype": ["__nat_unpickle"],
    }
    for module_name, names in named.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        allowed.extend(getattr(module, name) for name in names if hasattr(module, name))
    # numpy's dtype classes and pandas' date offsets (a DatetimeIndex's freq) are plain value types.
    allowed.extend(value for value in vars(np.dtypes).values() if inspect.isclass(value))
    offsets = importlib.import_module("pandas._libs.tslibs.offsets")
    allowed.extend(
        value
        for value in vars(offsets).values()
        if inspect.isclass(value) and issubclass(value, offsets.BaseOffset)
    )
    _ALLOWED.update({id(item): item for item in allowed})
    return _ALLOWED


def _with_index_as_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A meaningful index (named, or not 0..n-1) becomes leading columns; a default one is dropped."""
    index = frame.index
    is_default = (
        isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None
    )
    if is_default:
        return frame
    names = [
        name if name is not None else ("index" if index.nlevels == 1 else f"level_{n}")
        for n, name in enumerate(index.names)
    ]
    frame = frame.copy(deep=False)
    frame.index = frame.index.set_names(names)
    return frame.reset_index(allow_duplicates=True)


def _column_to_arrow(column: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column in its native Arrow type, or as text when Arrow has no plain type for its values."""
    try:
        array = pa.array(column, from_pandas=True)
        if pa.types.is_dictionary(array.type):
            # Categoricals: the readers hand out values, not codes.
            array = array.cast(array.type.value_type)
        if pa.types.is_large_string(array.type):
            array = array.cast(pa.string())
        if not isinstance(array.type, pa.ExtensionType):
            return array
    except (
        pa.ArrowInvalid,
        pa.ArrowTypeError,
        pa.ArrowNotImplementedError,
        TypeError,
        ValueError,
        OverflowError,
    ):
        pass
    # Mixed objects, periods, intervals and the like: every value kept, as text.
    return pa.array(
        [None if _is_missing(value) else value_text(value) for value in column.tolist()], pa.string()
    )


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
