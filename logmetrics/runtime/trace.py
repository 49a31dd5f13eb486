"""The per-line trace: for one line, which program matched it, at which pattern site, with which captures.

Used by the playground and by ``dry-run --explain``. A line goes through the
runtime as any line does (so its metrics are updated exactly as in a run);
the sites that matched are read from the programs' per-site counters before
and after, and the captures are found again by searching the site's regex
on the line, converted as the program converts them (``:int``, ``:float``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO

from logmetrics.lang.builtins import to_number
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.program import Program
from logmetrics.sources.envelope import NO_ENVELOPE, Envelope


@dataclass
class Capture:
    """One named or numbered capture of a match, raw and as the program reads it."""

    name: str
    text: str | None  # None: the group did not take part in the match
    type: str  # "int", "float" or "string"
    value: int | float | str | None


@dataclass
class SiteMatch:
    """A pattern site that matched the line."""

    number: int  # the site's regex number (see lang.sites)
    where: str  # file:line
    source: str  # the program's text at that line
    captures: list[Capture] | None  # None: the site matches another string than the line (=~)


@dataclass
class ProgramTrace:
    """What one program did with the line."""

    program: str
    matched: bool
    sites: list[SiteMatch] = field(default_factory=list)
    error: str | None = None


def convert(text: str | None, kind: str) -> int | float | str | None:
    """A captured text as the program reads it: ``:int`` and ``:float`` captures are numbers."""
    if text is None:
        return None
    if kind == "string":
        return text
    try:
        value = to_number(text)
    except (TypeError, ValueError):
        return None
    return int(value) if kind == "int" else float(value) if kind == "float" else value


def captures_of(site: Any, line: str) -> list[Capture] | None:
    """The captures of ``site``'s regex on ``line`` (None when the site does not search the line)."""
    if not site.on_line:
        return None
    try:
        match = site.search(line)
    except TimeoutError:
        return []
    if match is None:
        return []
    out = []
    named = {g for name, info in site.captures.items() if not name.isdigit() for g in info.groups}
    for name, info in site.captures.items():
        if name.isdigit() and named.issuperset(info.groups):
            continue  # $1 is also $method: shown once, by its name
        text = next((match.group(g) for g in info.groups if match.group(g) is not None), None)
        out.append(Capture(name, text, info.type, convert(text, info.type)))
    return out


def _hits(program: Program) -> list[int]:
    return list(program.site_hits)


def explain_line(runtime: Runtime, line: str, filename: str, captures: bool = True,
                 envelope: Envelope = NO_ENVELOPE) -> list[ProgramTrace]:
    """Run one line through ``runtime`` (updating its metrics) and say what each program did;
    ``captures=False`` names the sites without searching their captures again."""
    programs = runtime.programs
    if runtime.router is not None:
        programs = runtime.router.select(filename, programs, envelope.stream)
    before = {p.name: (_hits(p), p.stats.lines_matched, p.stats.runtime_errors) for p in programs}
    runtime.process([line], filename, envelope=envelope)
    traces = []
    for program in programs:
        hits, matched, errors = before[program.name]
        after = program.site_hits
        trace = ProgramTrace(program.name, program.stats.lines_matched > matched)
        for site in program.sites:
            if site.number < len(after) and after[site.number] > hits[site.number]:
                found = captures_of(site, line) if captures else None
                trace.sites.append(SiteMatch(site.number, site.where, site.text, found))
        if program.stats.runtime_errors > errors and program.stats.recent_errors:
            trace.error = program.stats.recent_errors[-1]
        traces.append(trace)
    return traces


def format_trace(where: str, line: str, traces: list[ProgramTrace]) -> list[str]:
    """The trace of one line as text lines, for a terminal."""
    out = [f"{where}: {line[:300]}"]
    for trace in traces:
        if not trace.sites and not trace.error:
            out.append(f"  {trace.program}: " + ("matched" if trace.matched else "no pattern matched"))
        for site in trace.sites:
            out.append(f"  {trace.program}: {site.where} matched  {site.source}")
            if site.captures is None:
                out.append("      (matched against an expression, not the line: captures not shown)")
                continue
            for cap in site.captures:
                shown = "(unset)" if cap.text is None else repr(cap.text)
                if cap.type != "string" and cap.value is not None:
                    shown += f" -> {cap.type} {cap.value!r}"
                out.append(f"      ${cap.name} = {shown}")
        if trace.error:
            out.append(f"  {trace.program}: runtime error: {trace.error}")
    return out


class Explainer:
    """``dry-run --explain N``: the trace of the first ``limit`` lines, written to ``out``.

    It runs its own copy of the programs (compiled apart from the ones that make the metrics),
    fed the same lines in the same order, so that explaining changes no metric and no count.
    """

    def __init__(self, runtime: Runtime, limit: int, out: TextIO) -> None:
        self.runtime = runtime
        self.left = limit
        self.out = out

    def feed(self, lines: list[str], filename: str, first_line: int, envelope: Envelope = NO_ENVELOPE,
             label: str = "") -> None:
        """Explain the lines of a batch while the limit lasts (``first_line``: the batch's first number;
        ``label``: how the trace names the file, ``filename`` by default)."""
        if self.left <= 0:
            return
        for offset, line in enumerate(lines[: self.left]):
            traces = explain_line(self.runtime, line, filename, envelope=envelope)
            text = format_trace(f"{label or filename}:{first_line + offset}", line, traces)
            self.out.write("".join(f"# explain {row}\n" for row in text))
        self.left -= min(self.left, len(lines))
