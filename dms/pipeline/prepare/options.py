"""The knobs of `prepare` that are not part of the mapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# (object, field, values) -> the values that exist as that field on records of that object.
LookupResolver = Callable[[str, str, set[str]], set[str]]


@dataclass
class PrepareOptions:
    """How `prepare` treats null tokens, lookups, URL shapes and Id prefixes (besides the mapping)."""

    # Cell texts that mean "no value" in this export besides blanks (e.g. "NULL", "N/A"); case-insensitive.
    null_values: Sequence[str] = ()
    # Which of these parent keys exist? (object, field, values) -> existing values. None skips the check.
    resolve_lookups: LookupResolver | None = None
    # Salesforce itself accepts any text in URL fields; the shape check catches obvious column mix-ups.
    check_url_shape: bool = True
    key_prefixes: Mapping[str, str] = field(default_factory=dict)  # object -> 3-char Id prefix
    parent_describes: Mapping[str, Any] = field(default_factory=dict)  # object -> describe JSON
