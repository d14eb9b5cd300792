"""The order of a plan's steps, from their references: what runs when, and which fields wait for a second pass.

A step loads once the steps it refers to have loaded (their keys have Ids). References that close a loop, a
step referring to itself (Account.ParentId, Contact.ReportsToId) or steps referring to each other, cannot be
resolved on the first pass: those fields are deferred. The step is loaded without them, and an update pass sets
them once every step they refer to has loaded. Within a loop, the plan's own order of steps decides which
direction waits: a reference to a step listed earlier is resolved at once, one to itself or to a step listed
later is deferred. Every other reference only orders the steps, whatever their order in the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dms.migration.spec import MigrationPlan, Reference


@dataclass(frozen=True)
class Deferred:
    """A reference set by the update pass, and why."""

    reference: Reference
    reason: str


@dataclass(frozen=True)
class StepOrder:
    """The plan's schedule: per step, what its load and its update pass wait for."""

    load_after: dict[str, tuple[str, ...]]  # step -> steps whose loads it waits for
    update_after: dict[str, tuple[str, ...]]  # step with deferred fields -> loads its update pass waits for
    deferred: tuple[Deferred, ...]
    waves: tuple[tuple[str, ...], ...]  # the loads in waves: each wave's steps may run in parallel

    def deferred_of(self, step: str) -> tuple[Deferred, ...]:
        return tuple(d for d in self.deferred if d.reference.step == step)


def components(nodes: list[str], edges: dict[str, set[str]]) -> dict[str, int]:
    """Strongly connected components (Tarjan, iterative): node -> component number."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    counter = 0
    found = 0  # components closed so far: the next one's number
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = found
                    if member == node:
                        break
                found += 1
    return component


def order_steps(plan: MigrationPlan) -> StepOrder:
    """Which references are deferred, and the waves the loads run in."""
    names = [s.name for s in plan.steps]
    position = {name: i for i, name in enumerate(names)}
    edges: dict[str, set[str]] = {name: set() for name in names}
    for ref in plan.references:
        edges[ref.step].update(ref.steps)
    component = components(names, edges)
    deferred: list[Deferred] = []
    load_after: dict[str, set[str]] = {name: set() for name in names}
    update_after: dict[str, set[str]] = {}
    for ref in plan.references:
        closing = [
            t for t in ref.steps if component[t] == component[ref.step] and position[t] >= position[ref.step]
        ]
        if closing:
            deferred.append(Deferred(ref, _reason(ref, closing, component, names)))
            update_after.setdefault(ref.step, {ref.step}).update(ref.steps)
        else:
            load_after[ref.step].update(ref.steps)
    return StepOrder(
        load_after={k: tuple(sorted(v, key=position.__getitem__)) for k, v in load_after.items()},
        update_after={k: tuple(sorted(v, key=position.__getitem__)) for k, v in update_after.items()},
        deferred=tuple(deferred),
        waves=_waves(names, load_after),
    )


def _reason(ref: Reference, closing: Iterable[str], component: dict[str, int], names: list[str]) -> str:
    closing = list(closing)
    if closing == [ref.step]:
        return f"{ref.target} refers to records of its own step ({ref.step}): set after they are all loaded."
    loop = [n for n in names if component[n] == component[ref.step]]
    return (
        f"{ref.target} refers to step {', '.join(closing)}, which refers back to {ref.step} "
        f"(a loop: {' -> '.join(loop)}): set after both are loaded."
    )


def _waves(names: list[str], load_after: dict[str, set[str]]) -> tuple[tuple[str, ...], ...]:
    done: set[str] = set()
    waves: list[tuple[str, ...]] = []
    while len(done) < len(names):
        ready = tuple(n for n in names if n not in done and load_after[n] <= done)
        if not ready:  # unreachable: every loop's closing references were deferred
            raise AssertionError(f"steps left in a loop: {sorted(set(names) - done)}")
        waves.append(ready)
        done.update(ready)
    return tuple(waves)
