"""The store at many moments of log time, as OpenMetrics with timestamps, for promtool.

``promtool tsdb create-blocks-from openmetrics FILE DIR`` wants each family's
samples together and every series' samples in time order. So each snapshot's
samples go to one scratch file per family, and :meth:`HistoryWriter.close`
joins them under their ``# TYPE``/``# HELP`` lines and ends with ``# EOF``.

Sample lines are those of the Prometheus text writer (:mod:`.text`): the same
names, labels and values as ``/metrics`` serves, with the snapshot's time in
seconds added. A label set whose value did not change since the last snapshot
reuses its lines. A counter or histogram label set seen for the first time
is also written at 0 one step before, so that ``increase()`` and ``rate()``
count the line that created it (Prometheus cannot know a series' first
increment otherwise).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from logmetrics.exposition.families import base_name, exported, help_text, joins, label_names, type_name
from logmetrics.exposition.text import safe_name, sample_lines
from logmetrics.store import Kind, Metric, MetricStore


@dataclass
class _Values:
    """A stand-in for a metric holding given values (only what the text writer reads)."""

    kind: Kind
    export_name: str
    buckets: tuple[float, ...]
    values: list[tuple[tuple[str, ...], Any]]
    stamps: dict[tuple[str, ...], float] = field(default_factory=dict)

    def snapshot(self) -> list[tuple[tuple[str, ...], Any]]:
        return self.values


@dataclass
class _Family:
    name: str  # the OpenMetrics family name (a counter's without "_total")
    first: Metric
    metrics: list[Metric]
    labels: list[str]
    file: IO[str]
    #: Per metric (by id), per label set: its last value and its sample lines without a time.
    last: dict[int, dict[tuple[str, ...], tuple[Any, list[str]]]] = field(default_factory=dict)


def _zero(metric: Metric) -> Any:
    return [0] * (len(metric.buckets) + 1) + [0.0] if metric.kind is Kind.HISTOGRAM else 0


class HistoryWriter:
    """Writes snapshots of a store to ``path``; see the module docstring."""

    def __init__(self, path: Path, store: MetricStore, prog_label: bool = False,
                 labels: dict[str, str] | None = None) -> None:
        self.path = path
        self.store = store
        self.prog_label = prog_label
        self.extra = dict(labels or {})
        self.scratch = Path(tempfile.mkdtemp(prefix=".logmetrics-backfill-", dir=path.parent))
        self.families: dict[str, _Family] = {}
        self.previous: float | None = None
        self.samples = 0

    def _family(self, metric: Metric) -> _Family | None:
        key = metric.export_name
        family = self.families.get(key)
        if family is None:
            labels = [*label_names(metric, self.prog_label), *self.extra]
            file = (self.scratch / f"{len(self.families)}.txt").open("w", encoding="utf-8")
            family = self.families[key] = _Family(base_name(metric), metric, [], labels, file)
        elif not joins(family.first, metric):
            return None  # reported at load time; the first declaration wins
        if metric not in family.metrics:
            family.metrics.append(metric)
        return family

    def snapshot(self, when: float) -> None:
        """Write every exported series as it stands now, stamped ``when`` (seconds)."""
        stamp = f" {_seconds(when)}\n"
        before = None if self.previous is None else f" {_seconds(self.previous)}\n"
        for metric in self.store:
            if not exported(metric):
                continue
            family = self._family(metric)
            if family is None:
                continue
            extra = [*([metric.program] if self.prog_label else []), *self.extra.values()]
            # Lines by label set: only the label sets whose value changed are written anew.
            known = family.last.setdefault(id(metric), {})
            # Sorted, as the text writer writes them, so that its lines can be told apart by label set.
            changed = sorted((k, v) for k, v in metric.snapshot() if k not in known or known[k][0] != v)
            if changed:
                each = len(metric.buckets) + 3 if metric.kind is Kind.HISTOGRAM else 1
                fresh = _Values(metric.kind, metric.export_name, metric.buckets, changed)
                made = list(sample_lines(fresh, family.labels, extra, False))  # type: ignore[arg-type]
                if before is not None and metric.kind in (Kind.COUNTER, Kind.HISTOGRAM):
                    new = [(k, _zero(metric)) for k, _ in changed if k not in known]
                    if new:
                        zero = _Values(metric.kind, metric.export_name, metric.buckets, new)
                        zeros = sample_lines(zero, family.labels, extra, False)  # type: ignore[arg-type]
                        family.file.writelines(line[:-1] + before for line in zeros)
                for i, (key, value) in enumerate(changed):
                    known[key] = (value, [line[:-1] for line in made[i * each:(i + 1) * each]])
                if len(known) > len(metric.values):  # label sets deleted (del, limit): not written
                    for key in [k for k in known if k not in metric.values]:
                        del known[key]
            family.file.writelines(text + stamp for _value, lines in known.values() for text in lines)
            self.samples += sum(len(lines) for _value, lines in known.values())
        self.previous = when

    def close(self) -> None:
        """Join the families into the output file (atomically replaced) and remove the scratch."""
        try:
            partial = self.path.with_name(f".{self.path.name}.partial")
            with partial.open("w", encoding="utf-8") as out:
                for family in self.families.values():
                    family.file.close()
                    metric = family.first
                    name = safe_name(family.name)
                    out.write(f"# TYPE {name} {type_name(metric)}\n")
                    out.write(f"# HELP {name} {help_text(metric)}\n")
                    with (self.scratch / Path(family.file.name).name).open(encoding="utf-8") as part:
                        shutil.copyfileobj(part, out)
                out.write("# EOF\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, self.path)
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the scratch files (on failure, without writing the output)."""
        for family in self.families.values():
            family.file.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _seconds(when: float) -> str:
    return str(int(when)) if float(when).is_integer() else repr(float(when))
