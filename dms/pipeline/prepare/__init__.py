"""The prepare floor: parse values, compile a mapping spec, and apply it to a chunk with every row checked.

Other floors import from here only: `compile_mapping` once per job, `prepare` per chunk, and for the
preview and the mapping editor `profile_columns` (over the first PROFILE_ROWS rows), `infer_column`, `new_mapping`,
`apply_profiles`, `check_mapping` and `sample_mapping` (a live sample of field rules).
"""

from dms.pipeline.prepare.automap import apply_profiles, auto_map, new_mapping, normalize_name
from dms.pipeline.prepare.booleans import FALSE_TOKENS, TRUE_TOKENS
from dms.pipeline.prepare.chunk import NULL_MARKER, Prepared, prepare
from dms.pipeline.prepare.compile import check_mapping, compile_mapping
from dms.pipeline.prepare.infer import PROFILE_ROWS, ColumnProfile, infer_column, profile_columns
from dms.pipeline.prepare.options import LookupResolver, PrepareOptions
from dms.pipeline.prepare.parsed import FormatError
from dms.pipeline.prepare.rejections import ErrorCode, RowError
from dms.pipeline.prepare.sample import sample_mapping
from dms.pipeline.prepare.spec import CompiledMapping, MappingError, MappingProblem

__all__ = [
    "FALSE_TOKENS",
    "TRUE_TOKENS",
    "NULL_MARKER",
    "PROFILE_ROWS",
    "ColumnProfile",
    "CompiledMapping",
    "ErrorCode",
    "FormatError",
    "LookupResolver",
    "MappingError",
    "MappingProblem",
    "PrepareOptions",
    "Prepared",
    "RowError",
    "apply_profiles",
    "auto_map",
    "check_mapping",
    "compile_mapping",
    "infer_column",
    "new_mapping",
    "normalize_name",
    "prepare",
    "profile_columns",
    "sample_mapping",
]
