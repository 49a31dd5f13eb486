"""A self-contained HTML page of what old logs say, chart by chart over log time.

:class:`ReportCollector` takes the store at every step of log time (as the
backfill writer does) and keeps, per program, only what the charts need: for a
counter, its sum by status class (``2xx``...) when it has a ``status`` label,
else its sum; for a histogram, its buckets summed over label sets. :func:`render_report`
turns that into one HTML page with inline SVG charts and CSS: no script, no
outside asset, so it opens from a file, in a mail, offline.

Each chart carries its total (``data-total``): the counter's value at the end,
the same number ``dry-run`` prints summed over the label sets.
"""

from __future__ import annotations

import html
import itertools
import math
import time
from collections import Counter
from dataclasses import dataclass, field

from logmetrics.store import Kind, Metric, MetricStore

#: Points drawn per chart at most; longer histories are summed into wider slots.
MAX_POINTS = 720
#: Distinct unparsed lines remembered (the most frequent are shown).
MAX_UNPARSED = 10_000
COLOURS = {"1xx": "#8e8e8e", "2xx": "#2e7d32", "3xx": "#1565c0", "4xx": "#ef6c00", "5xx": "#c62828",
           "total": "#37474f", "p50": "#1565c0", "p90": "#ef6c00", "p99": "#c62828", "5xx ratio": "#c62828",
           "4xx ratio": "#ef6c00"}


def _group(metric: Metric, key: tuple[str, ...]) -> str:
    if "status" in metric.labels:
        status = key[metric.labels.index("status")]
        return f"{status[:1]}xx" if status[:1].isdigit() else "other"
    return "total"


@dataclass
class _Series:
    """One metric's history: cumulative sums per group (counters) or buckets (histograms)."""

    metric: Metric
    points: list[dict[str, float]] = field(default_factory=list)
    buckets: list[list[float]] = field(default_factory=list)


class ReportCollector:
    """Snapshots of the store reduced to what the charts show, plus the lines no program read."""

    def __init__(self, store: MetricStore) -> None:
        self.store = store
        self.times: list[float] = []
        self.series: dict[tuple[str, str], _Series] = {}
        self.unparsed: Counter[str] = Counter()
        self.unparsed_total = 0

    def snapshot(self, when: float) -> None:
        """Record every exported counter and histogram as it stands at ``when``."""
        self.times.append(when)
        for metric in self.store:
            if metric.hidden or metric.kind not in (Kind.COUNTER, Kind.HISTOGRAM):
                continue
            series = self.series.get((metric.program, metric.name))
            if series is None:
                series = self.series[(metric.program, metric.name)] = _Series(metric)
                series.points.extend({} for _ in self.times[:-1])
                series.buckets.extend([] for _ in self.times[:-1])
            if metric.kind is Kind.COUNTER:
                sums: dict[str, float] = {}
                for key, value in metric.values.items():
                    group = _group(metric, key)
                    sums[group] = sums.get(group, 0) + value
                series.points.append(sums)
            else:
                merged = [0.0] * (len(metric.buckets) + 2)
                for value in metric.values.values():
                    for i, count in enumerate(value):
                        merged[i] += count
                series.buckets.append(merged)

    def unmatched(self, _name: str, lines: list[str], missed: list[int]) -> None:
        """Remember the lines no program matched (the most frequent are shown)."""
        self.unparsed_total += len(missed)
        for index in missed:
            line = lines[index][:300]
            if line in self.unparsed or len(self.unparsed) < MAX_UNPARSED:
                self.unparsed[line] += 1


# --- the page ---------------------------------------------------------------------------------


def _slots(count: int) -> int:
    """Steps summed into one point so that a chart has at most MAX_POINTS points."""
    return max(1, math.ceil(count / MAX_POINTS))


def _deltas(values: list[float]) -> list[float]:
    return [max(0.0, b - a) for a, b in itertools.pairwise(values)]


def _sum_slots(values: list[float], width: int) -> list[float]:
    return [sum(values[i:i + width]) for i in range(0, len(values), width)]


def _quantile(q: float, bounds: tuple[float, ...], counts: list[float]) -> float | None:
    """A quantile from bucket counts (not cumulative), interpolated as histogram_quantile does."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    running = 0.0
    for i, count in enumerate(counts):
        if running + count >= rank and count > 0:
            if i >= len(bounds):
                return bounds[-1] if bounds else None  # in +Inf: the highest finite bound
            low = bounds[i - 1] if i > 0 else 0.0
            return low + (bounds[i] - low) * (rank - running) / count
        running += count
    return None


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def _chart(title: str, unit: str, times: list[float], lines: dict[str, list[float | None]],
           total: float | None, metric: str) -> str:
    """One SVG line chart with its title, legend and total."""
    width, height, left, bottom = 860, 220, 70, 30
    top = 10
    values = [v for points in lines.values() for v in points if v is not None]
    peak = max(values, default=0.0) or 1.0
    start, end = (times[0], times[-1]) if times else (0.0, 1.0)
    span = (end - start) or 1.0

    def x(t: float) -> float:
        return left + (width - left - 10) * (t - start) / span

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / peak)

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
             'class="axis"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" class="axis"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{_number(peak)}</text>',
             f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>']
    for i in range(5):
        t = start + span * i / 4
        stamp = time.strftime("%b %d %H:%M", time.gmtime(t))
        anchor = "start" if i == 0 else ("end" if i == 4 else "middle")
        parts.append(f'<text x="{x(t):.1f}" y="{height - 10}" text-anchor="{anchor}">{stamp}</text>')
    legend = []
    for name, points in lines.items():
        colour = COLOURS.get(name, "#6a1b9a")
        segments: list[list[str]] = [[]]
        for t, v in zip(times, points, strict=False):
            if v is None:
                if segments[-1]:
                    segments.append([])
                continue
            segments[-1].append(f"{x(t):.1f},{y(v):.1f}")
        for segment in segments:
            if segment:
                parts.append(f'<polyline points="{" ".join(segment)}" stroke="{colour}">'
                             f"<title>{html.escape(name)}</title></polyline>")
        legend.append(f'<span class="key" style="--c:{colour}">{html.escape(name)}</span>')
    parts.append("</svg>")
    shown = "" if total is None else f'<span class="total">total {_number(total)}</span>'
    data = "" if total is None else f' data-total="{total:g}"'
    return (f'<figure class="chart" data-metric="{html.escape(metric)}" '
            f'data-title="{html.escape(title)}"{data}>'
            f"<figcaption>{html.escape(title)} <small>{html.escape(unit)}</small> {shown}</figcaption>"
            f'<div class="legend">{"".join(legend)}</div>{"".join(parts)}</figure>')


def _program_charts(collector: ReportCollector, program: str) -> tuple[list[str], list[tuple[str, float]]]:
    charts: list[str] = []
    totals: list[tuple[str, float]] = []
    times = collector.times
    width = _slots(max(0, len(times) - 1))
    slot_times = times[1::width] if len(times) > 1 else times
    minutes = width * ((times[1] - times[0]) if len(times) > 1 else 60.0) / 60.0
    for (prog, _name), series in collector.series.items():  # in the order of declaration
        if prog != program:
            continue
        metric = series.metric
        if metric.kind is Kind.COUNTER:
            groups = sorted({g for point in series.points for g in point})
            if not groups:
                continue
            per_group = {g: _sum_slots(_deltas([p.get(g, 0.0) for p in series.points]), width)
                         for g in groups}
            total = sum(series.points[-1].values()) if series.points else 0.0
            totals.append((metric.export_name, total))
            what = "bytes" if "bytes" in metric.name else "lines" if "lines" in metric.name else "events"
            by = " by status class" if "status" in metric.labels else ""
            rates = {g: [v / minutes for v in values] for g, values in per_group.items()}
            charts.append(_chart(f"{metric.export_name}{by}", f"{what} per minute", slot_times,
                                 rates, total, metric.export_name))  # type: ignore[arg-type]
            if "status" in metric.labels and "bytes" not in metric.name:
                everything = [sum(values) for values in zip(*per_group.values(), strict=True)]
                ratios: dict[str, list[float | None]] = {}
                for cls in ("5xx", "4xx"):
                    counts = per_group.get(cls, [0.0] * len(everything))
                    ratios[f"{cls} ratio"] = [c / n if n else None
                                              for c, n in zip(counts, everything, strict=True)]
                charts.append(_chart(f"{metric.export_name} error ratio", "share of requests", slot_times,
                                     ratios, None, metric.export_name + ":ratio"))
        else:
            if not any(series.buckets):
                continue
            filled = [b or [0.0] * (len(metric.buckets) + 2) for b in series.buckets]
            steps = [[max(0.0, b - a) for a, b in zip(before, after, strict=True)]
                     for before, after in itertools.pairwise(filled)]
            slots = [[sum(col) for col in zip(*steps[i:i + width], strict=True)]
                     for i in range(0, len(steps), width)]
            quantiles = {f"p{int(q * 100)}": [_quantile(q, metric.buckets, s[:-1]) for s in slots]
                         for q in (0.5, 0.9, 0.99)}
            count = sum(filled[-1][:-1])
            totals.append((f"{metric.export_name}_count", count))
            charts.append(_chart(f"{metric.export_name} quantiles", "seconds (from the histogram's buckets)",
                                 slot_times, quantiles, count, metric.export_name))
    return charts, totals


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:920px;color:#212121}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
figure.chart{margin:16px 0}figcaption{font-weight:600}figcaption small{font-weight:400;color:#666}
.total{float:right;font-weight:400}.legend .key{margin-right:12px}
.legend .key::before{content:"";display:inline-block;width:10px;height:10px;margin-right:4px;
background:var(--c)}
svg{width:100%;height:auto}svg text{font-size:11px;fill:#555}.axis{stroke:#999}
polyline{fill:none;stroke-width:1.5}table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left}
td.n{text-align:right}pre{white-space:pre-wrap;word-break:break-all;margin:0}
"""


def render_report(collector: ReportCollector, programs: list[str], summary: list[str], title: str) -> str:
    """The whole page."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in summary)
    body = [f"<h1>{html.escape(title)}</h1>", f"<ul>{items}</ul>"]
    for program in programs:
        charts, totals = _program_charts(collector, program)
        name = html.escape(program)
        body.append(f'<section class="program" data-program="{name}"><h2>{name}</h2>')
        if totals:
            rows = "".join(f'<tr><td>{html.escape(name)}</td><td class="n">{_number(value)}</td></tr>'
                           for name, value in totals)
            body.append(f'<table class="totals"><tr><th>metric</th><th>total</th></tr>{rows}'
                        "</table>")
        body.extend(charts)
        body.append("</section>")
    body.append(f'<section class="unparsed"><h2>Lines no program matched ({collector.unparsed_total:,})</h2>')
    if collector.unparsed:
        rows = "".join(f'<tr><td class="n">{n:,}</td><td><pre>{html.escape(line)}</pre></td></tr>'
                       for line, n in collector.unparsed.most_common(20))
        body.append(f"<table>{rows}</table>")
    else:
        body.append("<p>None.</p>")
    body.append("</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
