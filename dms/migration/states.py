"""A plan's states and what its counters mean, apart from the runner: the CLI follows a plan to its end
without loading the runner's dependencies (pyarrow, the stores)."""

from __future__ import annotations

from enum import StrEnum


class PlanState(StrEnum):
    RUNNING = "running"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"


PLAN_FINAL = frozenset(
    {PlanState.COMPLETED, PlanState.COMPLETED_WITH_ERRORS, PlanState.FAILED, PlanState.CANCELLED}
)
# What a pass's job left undone (a step's rows not loaded, or deferred fields not set): a retry runs the pass
# again when any is left.
LEFTOVER_COUNTERS = ("failed", "invalid", "cancelled", "pending")
