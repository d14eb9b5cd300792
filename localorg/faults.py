"""Fault injection: rules that make requests or records fail the way a busy real org does."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

KINDS = {
    "unavailable": "503 Service Unavailable",
    "request_limit": "403 REQUEST_LIMIT_EXCEEDED",
    "session_expired": "401 INVALID_SESSION_ID",
    "lock_row": "UNABLE_TO_LOCK_ROW on individual records (Bulk results, Collections, sObject writes)",
    "latency": "delay before answering",
}
_ALIASES = {
    "503": "unavailable",
    "request_limit_exceeded": "request_limit",
    "unable_to_lock_row": "lock_row",
    "expired_session": "session_expired",
    "expire_sessions": "session_expired",
}


class FaultSpecError(ValueError):
    """A fault rule that cannot be used, with the reason."""


@dataclass
class FaultRule:
    """One rule: what fails (kind), how often (rate or every_nth), where (path_prefix) and how many times."""

    kind: str
    rate: float = 0.0
    every_nth: int = 0
    path_prefix: str = ""
    latency_ms: int = 0
    times: int = 0  # 0 = unlimited
    injected: int = 0
    seen: int = 0

    def to_json(self) -> dict[str, Any]:
        """The rule as shown by GET /_localorg/faults."""
        return asdict(self)


def parse_rule(spec: Any) -> FaultRule:
    """Validate one rule from JSON."""
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault rule must be a JSON object")
    unknown = set(spec) - {"kind", "rate", "every_nth", "path_prefix", "latency_ms", "times"}
    if unknown:
        raise FaultSpecError(f"unknown fault keys: {sorted(unknown)}")
    kind = str(spec.get("kind", "")).lower()
    kind = _ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise FaultSpecError(f"kind must be one of {sorted(KINDS)}, got {spec.get('kind')!r}")
    try:
        rule = FaultRule(
            kind=kind,
            rate=float(spec.get("rate", 0.0)),
            every_nth=int(spec.get("every_nth", 0)),
            path_prefix=str(spec.get("path_prefix", "")),
            latency_ms=int(spec.get("latency_ms", 0)),
            times=int(spec.get("times", 0)),
        )
    except (TypeError, ValueError) as exc:
        raise FaultSpecError(f"bad number in fault rule: {exc}") from exc
    if not 0.0 <= rule.rate <= 1.0:
        raise FaultSpecError("rate must be between 0 and 1")
    if rule.every_nth < 0 or rule.latency_ms < 0 or rule.times < 0:
        raise FaultSpecError("every_nth, latency_ms and times must not be negative")
    if kind == "latency" and rule.latency_ms == 0:
        raise FaultSpecError("a latency rule needs latency_ms > 0")
    if kind != "latency" and rule.rate == 0 and rule.every_nth == 0:
        raise FaultSpecError("give rate (0..1) or every_nth (>= 1) to say how often the fault happens")
    return rule


class FaultInjector:
    """The active rules, consulted per request and per record."""

    def __init__(self, seed: int | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def set_rules(self, rules: list[FaultRule]) -> None:
        """Replace all rules."""
        with self._lock:
            self._rules = list(rules)

    def clear(self) -> None:
        """Remove all rules."""
        self.set_rules([])

    def rules(self) -> list[dict[str, Any]]:
        """The rules and their counters."""
        with self._lock:
            return [r.to_json() for r in self._rules]

    def _fires(self, rule: FaultRule) -> bool:
        rule.seen += 1
        if rule.times and rule.injected >= rule.times:
            return False
        hit = (rule.every_nth > 0 and rule.seen % rule.every_nth == 0) or (
            rule.rate > 0 and self._random.random() < rule.rate
        )
        if rule.kind == "latency" and rule.rate == 0 and rule.every_nth == 0:
            hit = True
        if hit:
            rule.injected += 1
        return hit

    def for_request(self, path: str, api_path: str) -> tuple[float, str | None]:
        """(seconds of latency to add, request-level fault kind or None) for one request."""
        delay = 0.0
        fault = None
        with self._lock:
            for rule in self._rules:
                if rule.kind == "lock_row" or not _matches(rule, path, api_path):
                    continue
                if self._fires(rule):
                    if rule.kind == "latency":
                        delay += rule.latency_ms / 1000.0
                    elif fault is None:
                        fault = rule.kind
        return delay, fault

    def failing_rows(self, path: str, api_path: str, count: int) -> set[int]:
        """Indexes of the records (of `count`) that a lock_row rule makes fail."""
        failing: set[int] = set()
        with self._lock:
            for rule in self._rules:
                if rule.kind != "lock_row" or not _matches(rule, path, api_path):
                    continue
                for index in range(count):
                    if self._fires(rule):
                        failing.add(index)
        return failing

    def has_row_faults(self) -> bool:
        """Whether any lock_row rule is active."""
        with self._lock:
            return any(r.kind == "lock_row" for r in self._rules)


def _matches(rule: FaultRule, path: str, api_path: str) -> bool:
    # A prefix matches the full path or the path after /services/data/vXX.X (so "/jobs/ingest" works).
    # Without a prefix a rule applies to the data API only, so logins still work.
    if not rule.path_prefix:
        return path.startswith("/services/data/")
    return path.startswith(rule.path_prefix) or api_path.startswith(rule.path_prefix)
