"""pandas DataFrame pickles: off by default, and then only through an allow-list that cannot run code."""

from __future__ import annotations

import datetime
import decimal
import importlib
import inspect
import logging
import math
import os
import pickle
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dms.errors import Text
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.source.chunking import value_text
from dms.pipeline.source.contract import (
    Chunk,
    ReadError,
    ReadLimits,
    ReadOptions,
    SourceInfo,
    check_readable,
    unique_column_names,
)

log = logging.getLogger(__name__)

# A pickle is loaded whole; past this it is the wrong format for the job.
MAX_PICKLE_BYTES = 1024 * 1024 * 1024

DISABLED_MESSAGE = Text(
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
            "SOURCE_CHANGED", Text("The DataFrame's columns differ from when it was sniffed."), file=path
        )
    arrays = [_column_to_arrow(frame.iloc[:, position]) for position in range(len(frame.columns))]
    arrays.append(pa.array(np.arange(1, len(frame) + 1, dtype=np.int64)))
    table = pa.Table.from_arrays(arrays, names=[*info.columns, ROW_COLUMN])
    try:
        # Arrow-backed columns arrive as raw buffers from the pickle: check offsets and lengths before use.
        table.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise ReadError(
            "CORRUPT_FILE",
            Text("The pickled DataFrame holds inconsistent data: %(exc)s.", exc=exc),
            file=path,
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
            Text(
                "The pickle is %(size)s bytes; pickles are loaded whole and the limit is %(limit)s. "
                "Export Parquet instead.",
                size=f"{size:,}",
                limit=f"{limit:,}",
            ),
            file=path,
        )
    with open(path, "rb") as source:
        try:
            loaded = DataFrameUnpickler(source, options.limits).load()
        except ForbiddenGlobal as exc:
            log.warning("reader=pickle file=%s refused=%s.%s", Path(path).name, exc.module, exc.name)
            raise ReadError("PICKLE_FORBIDDEN", exc.args[0], file=path) from None
        except AllocationRefused as exc:
            log.warning("reader=pickle file=%s refused=%s bytes=%d", Path(path).name, exc.call, exc.size)
            raise ReadError("PICKLE_TOO_LARGE", exc.args[0], file=path, limit=exc.limit) from None
        except RecursionError:
            raise ReadError("CORRUPT_FILE", Text("The pickle nests too deeply to load."), file=path) from None
        except Exception as exc:  # noqa: BLE001 - any failure of a hostile or damaged pickle is a read error
            raise ReadError(
                "CORRUPT_FILE",
                Text(
                    "The pickle cannot be loaded (%(type_name)s: %(exc)s). It may come from an incompatible "
                    "pandas version: export Parquet or CSV instead.",
                    type_name=type(exc).__name__,
                    exc=exc,
                ),
                file=path,
            ) from None
    if isinstance(loaded, pd.Series):
        loaded = loaded.to_frame()
    if not isinstance(loaded, pd.DataFrame):
        raise ReadError(
            "UNSUPPORTED_FORMAT",
            Text(
                "The pickle holds a %(type_name)s, not a pandas DataFrame.", type_name=type(loaded).__name__
            ),
            file=path,
        )
    return _with_index_as_columns(loaded)


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a function or class outside the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        super().__init__(
            Text(
                "The pickle asks to load %(module)s.%(name)s, which is not part of a pandas DataFrame; it was "
                "refused without running it, because loading a pickle can run arbitrary code. Export the data "
                "as Parquet or CSV.",
                module=module,
                name=name,
            )
        )


class AllocationRefused(pickle.UnpicklingError):
    """The pickle asks one construction to allocate more than the limit (`bytearray(10**10)` is 37 bytes)."""

    def __init__(self, call: str, size: int, limit: int) -> None:
        self.call = call
        self.size = size
        self.limit = limit
        super().__init__(
            Text(
                "The pickle asks %(call)s to allocate %(size)s bytes at once, over the limit of %(limit)s "
                "(setting DMS_PICKLE_MAX_ALLOC_BYTES); a DataFrame's pickle carries its data, it does not ask "
                "for space. It was refused before anything was allocated. Export the data as Parquet or CSV.",
                call=call,
                size=f"{size:,}",
                limit=f"{limit:,}",
            )
        )


class DataFrameUnpickler(pickle._Unpickler):
    """An Unpickler that admits only what pandas and numpy need to rebuild a DataFrame, and caps what any one
    construction may allocate.

    The allow-list stops code from running, not memory from being asked for: `bytearray(10**10)`, an array of a
    shape the pickle only names, a RangeIndex of a trillion rows that a frame then fills. So every call the
    pickle makes (REDUCE, NEWOBJ, OBJ/INST) is checked first; that needs Python's own Unpickler, whose opcodes
    can be overridden (the C one cannot), and costs little: a frame's data arrives in a few large buffers.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, source: Any, limits: ReadLimits | None = None) -> None:
        super().__init__(source)
        self.max_alloc = (limits or ReadLimits()).pickle_max_alloc_bytes

    def _load_reduce(self) -> None:
        stack = self.stack  # type: ignore[attr-defined]
        args = stack.pop()
        func = stack[-1]
        self._check_call(func, args, {}, construct=False)
        stack[-1] = func(*args)

    def _load_newobj(self) -> None:
        args = self.stack.pop()  # type: ignore[attr-defined]
        cls = self.stack.pop()  # type: ignore[attr-defined]
        self._check_call(cls, args, {}, construct=True)
        self.append(cls.__new__(cls, *args))  # type: ignore[attr-defined]

    def _load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()  # type: ignore[attr-defined]
        args = self.stack.pop()  # type: ignore[attr-defined]
        cls = self.stack.pop()  # type: ignore[attr-defined]
        self._check_call(cls, args, kwargs, construct=True)
        self.append(cls.__new__(cls, *args, **kwargs))  # type: ignore[attr-defined]

    def _instantiate(self, klass: Any, args: Any) -> None:
        self._check_call(klass, tuple(args), {}, construct=False)
        super()._instantiate(klass, args)  # type: ignore[misc]

    dispatch[pickle.REDUCE[0]] = _load_reduce  # type: ignore[assignment]
    dispatch[pickle.NEWOBJ[0]] = _load_newobj  # type: ignore[assignment]
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex  # type: ignore[assignment]

    def _check_call(
        self, func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], *, construct: bool
    ) -> None:
        """Refuse a call that would build a data-holding object from arguments, or allocate past the limit."""
        if isinstance(func, type) and issubclass(func, _DATA_HOLDERS) and (args or kwargs or not construct):
            # Pickles rebuild frames, series, indexes and arrays empty and fill them from their state; called
            # with arguments they broadcast a scalar over any length the pickle names.
            raise ForbiddenGlobal(func.__module__, f"{func.__qualname__}(...) called with arguments")
        measure = _ALLOCATIONS.get(id(func))
        if measure is None or measure[0] is not func:
            return
        try:
            size = measure[1](args, kwargs)
        except (TypeError, ValueError, OverflowError, KeyError, IndexError):
            return  # not a shape this call accepts: the call itself fails
        if size > self.max_alloc:
            name = getattr(func, "__qualname__", type(func).__name__)
            shown = ", ".join(repr(arg)[:40] for arg in args)
            raise AllocationRefused(f"{name}({shown})", size, self.max_alloc)

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


def _itemsize(dtype: Any) -> int:
    return int(np.dtype(dtype).itemsize)


def _shape_bytes(shape: Any, dtype: Any) -> int:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    return math.prod(int(dim) for dim in dims) * max(_itemsize(dtype), 1)


def _range_bytes(start: Any, stop: Any, step: Any) -> int:
    # A RangeIndex costs nothing until a frame is filled over it or it is numbered: 8 bytes a row then.
    return len(range(int(start or 0), int(stop or 0), int(step or 1))) * 8


def _new_index_bytes(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    cls, state = args[0], args[1]
    if isinstance(cls, type) and issubclass(cls, pd.RangeIndex) and isinstance(state, dict):
        return _range_bytes(state.get("start", 0), state.get("stop", 0), state.get("step", 1))
    return 0


# What the constructions that allocate by argument would ask for, in bytes: (the callable, its measure).
_Measure = Callable[[tuple[Any, ...], Mapping[str, Any]], int]
_DATA_HOLDERS: tuple[type, ...] = (
    pd.DataFrame,
    pd.Series,
    pd.Index,
    pd.api.extensions.ExtensionArray,
    np.ndarray,
)
_ALLOCATIONS: dict[int, tuple[object, _Measure]] = {}


def _register_allocations() -> None:
    multiarray = importlib.import_module("numpy._core.multiarray")
    indexes = importlib.import_module("pandas.core.indexes.base")
    measures: list[tuple[object, _Measure]] = [
        (bytearray, lambda args, _: int(args[0]) if args and isinstance(args[0], int) else 0),
        (multiarray._reconstruct, lambda args, _: _shape_bytes(args[1], args[2])),
        (multiarray.scalar, lambda args, _: _itemsize(args[0])),
        # A RangeIndex is rebuilt only through _new_Index: called directly it is a data holder, refused.
        (indexes._new_Index, _new_index_bytes),
    ]
    _ALLOCATIONS.update({id(func): (func, measure) for func, measure in measures})


_register_allocations()


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
