"""What generated code runs with: the names its namespace binds, and how they are built.

The code generator writes a program's ``process`` function and a
:class:`NamespacePlan`: the plain data its namespace is made of (the metrics
declared, each regex's text and engine, the ``strptime`` helpers). Building
the namespace from the plan needs neither the parser nor the checker, so a
program loaded from the compile cache (``lang.cache``) runs in the namespace a
fresh compile gives it: both are built here, by :meth:`NamespacePlan.build`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from logmetrics.lang import builtins
from logmetrics.lang.golayout import TimeCheck
from logmetrics.store.metric import Kind, Metric

#: Seconds one search of a guarded pattern may take before the line is given up.
TIME_BUDGET = 0.1


class Regex(Protocol):
    """What programs use of a compiled regex, the same on ``re`` and ``regex``."""

    def search(self, _string: str, /) -> Any: ...

    def sub(self, _repl: Callable[[Any], str], _string: str, /) -> str: ...


def searcher(regex: Regex, guarded: bool) -> Callable[[str], Any]:
    """The search function compiled programs call: under :data:`TIME_BUDGET` when ``guarded``."""
    if guarded:
        search: Callable[..., Any] = regex.search  # the regex engine's: it takes a timeout
        return functools.partial(search, timeout=TIME_BUDGET)
    return regex.search


class RegexPlan(NamedTuple):
    """One regex as the checker compiled it: its Python-syntax text and its engine."""

    source: str
    engine: str  # "re", or "regex" (which every guarded pattern runs on)
    guarded: bool

    def compile(self) -> Regex:
        """The regex object again (only from text that compiled before, on this engine)."""
        if self.engine == "re":
            return re.compile(self.source)
        import regex  # only for the few patterns that need it

        # No flags but V0, as lang.regexes and grok compile them.
        compiled: Regex = regex.compile(self.source, regex.V0)
        return compiled


class MetricPlan(NamedTuple):
    """One declared metric, as the store makes it."""

    name: str
    export_name: str
    kind: str
    labels: tuple[str, ...]
    program: str
    hidden: bool
    buckets: tuple[float, ...]
    limit: int | None

    def metric(self) -> Metric:
        return Metric(name=self.name, export_name=self.export_name, kind=Kind(self.kind),
                      labels=self.labels, program=self.program, hidden=self.hidden,
                      buckets=self.buckets, limit=self.limit)


class StoreNames(NamedTuple):
    """The names by which generated code reaches one metric of the store: the few dicts
    and methods that per-line code may touch, bound once into the namespace."""

    values: str
    stamps: str
    expiry: str
    updated: str
    admit: str
    new_histogram: str
    observe: str
    delete: str
    expire_after: str

    @classmethod
    def of(cls, name: str) -> StoreNames:
        shorts = ("v", "t", "e", "u", "admit", "new", "o", "del", "after")
        return cls(*(f"_{short}_{name}" for short in shorts))

    def bind(self, metric: Metric, namespace: dict[str, Any]) -> None:
        namespace[self.values] = metric.values
        namespace[self.stamps] = metric.stamps
        namespace[self.expiry] = metric.expiry
        namespace[self.updated] = metric.updated
        namespace[self.admit] = metric.admit
        namespace[self.delete] = metric.delete
        namespace[self.expire_after] = metric.expire_after
        if metric.kind is Kind.HISTOGRAM:
            namespace[self.new_histogram] = metric.new_histogram
            namespace[self.observe] = metric.observer()


def _base() -> dict[str, Any]:
    """The helpers every program's code may call (see ``builtins``)."""
    return {
        "_num": builtins.to_number,
        "_int": builtins.to_int,
        "_float": builtins.to_float,
        "_bool": builtins.to_bool,
        "_fmt": builtins.format_value,
        "_idiv": builtins.int_div,
        "_imod": builtins.int_mod,
        "_cap": builtins.first_group,
        "_strptime": builtins.strptime,
        "_strptime_into": builtins.strptime_into,
        "_strtol": builtins.strtol,
        "_settime": builtins.settime,
        "_now": builtins.now,
        "_env": builtins.ENVELOPE,
    }


@dataclass
class NamespacePlan:
    """Everything a program's namespace is made of, as plain data (the plans are named tuples:
    cheaper to define than dataclasses, at every start)."""

    metrics: list[MetricPlan] = field(default_factory=list)
    #: Every regex, by number (``_r<n>`` is its search, ``_p<n>`` the regex itself).
    regexes: list[RegexPlan] = field(default_factory=list)
    #: ``strptime()`` checkers by name, with their layouts (see ``golayout.TimeCheck``).
    time_checks: dict[str, str] = field(default_factory=dict)
    #: The per-call-site caches of ``strptime()`` values, by name.
    time_caches: list[str] = field(default_factory=list)

    def build(self, compiled: Sequence[Regex] | None = None) -> tuple[dict[str, Any], dict[str, Metric]]:
        """A fresh namespace and the metrics it writes; ``compiled`` are the regexes already
        compiled (by number), else they are compiled from their text."""
        namespace = _base()
        metrics: dict[str, Metric] = {}
        for plan in self.metrics:
            metric = metrics[plan.name] = plan.metric()
            StoreNames.of(plan.name).bind(metric, namespace)
        for number, pattern in enumerate(self.regexes):
            regex = compiled[number] if compiled is not None else pattern.compile()
            namespace[f"_r{number}"] = searcher(regex, pattern.guarded)
            namespace[f"_p{number}"] = regex
        for name, layout in self.time_checks.items():
            namespace[name] = TimeCheck(layout)
        for name in self.time_caches:
            namespace[name] = {}
        namespace["_hits"] = [0] * len(self.regexes)
        return namespace, metrics
