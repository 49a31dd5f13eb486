"""Old logs through the programs in the order of the lines' own time, step by step.

``backfill`` and ``report`` need the metrics as they stood at every step of
*log* time (a minute, say), not at the end of the run. A line's time is read
with the layout of its programs' ``strptime()``: the first text in the line
written in that layout (``[01/Nov/2026:10:00:00 +0000]`` for Apache's ``%t``).
A line with no time takes the time of the line before it in the same file.

Lines are gathered by step and a step is run through the programs only once
every file has moved ``window`` past its end, so a line up to ``window`` out of
order (Apache writes ``%t``, the request's start, when the request ends) is
counted in its own step. A line later than that is counted in the oldest step
still open and reported as late. Files are read side by side, always the one
furthest behind next, so rotated generations (``access.log.2.gz``,
``access.log.1``, ``access.log``) and logs of several servers interleave by
time whatever the order they are given in.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from logmetrics.errors import LogmetricsError
from logmetrics.lang import ast
from logmetrics.lang.golayout import compile_layout, parse_time
from logmetrics.lang.parser import parse
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.program import Program
from logmetrics.sources.static import BatchReader


class NoLineTime(LogmetricsError):
    """A program gives no way to know its lines' time."""


def time_layouts(program: Program) -> list[str]:
    """The layouts of the ``strptime()`` calls of a program, in the order they are written."""
    tree = parse(Path(program.path).read_text(encoding="utf-8"), program.path)
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, ast.Call) and node.name == "strptime" and len(node.args) == 2:
            layout = node.args[1]
            if isinstance(layout, ast.StrLit) and layout.value not in found:
                found.append(layout.value)
        if dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                walk(getattr(node, f.name))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(tree)
    return found


def require_times(programs: Sequence[Program]) -> dict[str, list[str]]:
    """Every program's strptime layouts; NoLineTime names a program that reads no time."""
    layouts = {p.name: time_layouts(p) for p in programs}
    missing = [p.path for p in programs if not layouts[p.name]]
    if missing:
        raise NoLineTime(
            "; ".join(f"{path}: reads no time from its lines" for path in missing)
            + ": history needs the time of each line. Read it with strptime($capture, \"LAYOUT\") "
              "(a Go layout, e.g. \"02/Jan/2006:15:04:05 -0700\" for Apache's %t), as the bundled "
              "programs do; settime() alone is not enough, as the time must be found before the "
              "line runs through the program")
    return layouts


class LineClock:
    """Reads the time of lines with a list of layouts (the first that finds one wins)."""

    def __init__(self, layouts: Sequence[str]) -> None:
        # A layout's regex without its end anchor finds the time anywhere in the line.
        self.searches = [(re.compile(compile_layout(layout).pattern.removesuffix(r"\Z")).search, layout)
                         for layout in layouts]
        self.cache: dict[str, float] = {}
        self.last: float | None = None

    def _parse(self, text: str, layout: str) -> float | None:
        if len(self.cache) > 4096:
            self.cache.clear()
        try:
            seconds = self.cache[text] = parse_time(text, layout)
        except ValueError:
            return None
        return seconds

    def times(self, lines: list[str]) -> list[float | None]:
        """Each line's time; a line without one takes the time of the line before it."""
        out: list[float | None] = []
        cache, last = self.cache, self.last
        single = self.searches[0] if len(self.searches) == 1 else None
        for line in lines:
            found = None
            if single is not None:
                m = single[0](line)
                if m is not None:
                    text = m.group()
                    found = cache.get(text)
                    if found is None:
                        found = self._parse(text, single[1])
            else:
                for search, layout in self.searches:
                    m = search(line)
                    if m is not None:
                        found = cache.get(m.group())
                        if found is None:
                            found = self._parse(m.group(), layout)
                        if found is not None:
                            break
            if found is not None:
                last = found
            out.append(last)
        self.last = last
        return out


@dataclass
class TimelineStats:
    """What the timeline saw: lines, those read late (past the window), those in files that show
    no time, those skipped (outside --since/--until), the span of log time and the steps run."""

    lines: int = 0
    late: int = 0
    untimed: int = 0
    skipped: int = 0
    first: float | None = None
    last: float | None = None
    steps: int = 0
    files: list[str] = field(default_factory=list)


@dataclass(order=True)
class _Stream:
    watermark: float
    order: int
    name: str = field(compare=False)
    batches: Iterator[list[str]] = field(compare=False)
    clock: LineClock = field(compare=False)
    #: Lines read before the file showed any time, placed with the first time it shows.
    held: list[str] = field(compare=False, default_factory=list)


class Timeline:
    """Runs files through a runtime in log-time order and calls ``on_step`` at each step's end.

    ``on_step(boundary)`` is called once per step from the first line's step to the last,
    empty steps included, after every line earlier than ``boundary`` (and none later, within
    the window) has run through the programs.
    """

    def __init__(self, runtime: Runtime, layouts: dict[str, list[str]], step: float, window: float,
                 on_step: Callable[[float], None], since: float | None = None,
                 until: float | None = None,
                 on_batch: Callable[[str, list[str], list[int]], None] | None = None) -> None:
        if step <= 0:
            raise ValueError("the step must be positive")
        self.runtime = runtime
        self.layouts = layouts
        self.step = step
        self.window = max(0.0, window)
        self.on_step = on_step
        self.on_batch = on_batch
        self.since = since
        self.until = until
        self.stats = TimelineStats()
        #: Lines waiting for their step, by step number, then by file.
        self.pending: dict[int, dict[str, list[str]]] = {}
        self.next_step: int | None = None  # the oldest step not yet run

    def _clock(self, name: str) -> LineClock:
        programs = self.runtime.programs if self.runtime.router is None else \
            self.runtime.router.select(name, self.runtime.programs)
        layouts: list[str] = []
        for program in programs:
            layouts.extend(x for x in self.layouts.get(program.name, ()) if x not in layouts)
        return LineClock(layouts)

    def run(self, files: Sequence[str]) -> TimelineStats:
        """Read every file to its end; returns what was seen."""
        streams: list[_Stream] = []
        for order, name in enumerate(files):
            self.stats.files.append(name)
            reader = BatchReader(name)
            streams.append(_Stream(float("-inf"), order, name, iter(reader), self._clock(name)))
        heapq.heapify(streams)
        while streams:
            stream = streams[0]
            batch = next(stream.batches, None)
            if batch is None:
                heapq.heappop(streams)
                if stream.held:
                    self._hold_over(stream)
            else:
                stream.watermark = max(stream.watermark, self._add(stream, batch))
                heapq.heapreplace(streams, stream)
            if streams and streams[0].watermark > float("-inf"):
                self._run_until(streams[0].watermark - self.window)
        self._run_until(None)
        return self.stats

    def _add(self, stream: _Stream, lines: list[str]) -> float:
        """File a batch's lines under their steps; returns the latest time in it."""
        if stream.held:
            lines, stream.held = stream.held + lines, []
        found = stream.clock.times(lines)
        if found[0] is None:
            # Lines before the file's first time take that time.
            first = next((t for t in found if t is not None), None)
            if first is None:
                stream.held = lines
                return float("-inf")
            found = [first if t is None else t for t in found]
        times = cast(list[float], found)
        self.stats.lines += len(lines)
        first, last = min(times), max(times)
        if self.stats.first is None or first < self.stats.first:
            self.stats.first = first
        if self.stats.last is None or last > self.stats.last:
            self.stats.last = last
        since, until = self.since, self.until
        if since is not None or until is not None:
            kept = [(t, line) for t, line in zip(times, lines, strict=True)
                    if (since is None or t >= since) and (until is None or t < until)]
            self.stats.skipped += len(lines) - len(kept)
            times = [t for t, _ in kept]
            lines = [line for _, line in kept]
        step = self.step
        floor = self.next_step
        index = 0
        for number, group in itertools.groupby(times, key=lambda t: int(t // step)):
            count = sum(1 for _ in group)
            chunk = lines[index:index + count]
            index += count
            if floor is not None and number < floor:
                self.stats.late += count
                number = floor
            self.pending.setdefault(number, {}).setdefault(stream.name, []).extend(chunk)
        return last

    def _hold_over(self, stream: _Stream) -> None:
        """A file that showed no time at all: its lines go with the oldest step still open."""
        lines, stream.held = stream.held, []
        self.stats.lines += len(lines)
        self.stats.untimed += len(lines)
        if self.next_step is None and not self.pending:
            self.stats.skipped += len(lines)  # no time anywhere to place them at
            return
        number = self.next_step if self.next_step is not None else min(self.pending)
        self.pending.setdefault(number, {}).setdefault(stream.name, []).extend(lines)

    def _run_until(self, horizon: float | None) -> None:
        """Run every step that ends at or before ``horizon`` (all of them for None)."""
        if not self.pending:
            return
        if self.next_step is None:
            self.next_step = min(self.pending)
            # The boundary before the first line: every series as it stood before any line.
            self.on_step(self.next_step * self.step)
        end = max(self.pending) if horizon is None else int(horizon // self.step) - 1
        while self.next_step <= end:
            number = self.next_step
            for name, lines in self.pending.pop(number, {}).items():
                result = self.runtime.process(lines, name, track_unmatched=self.on_batch is not None)
                if self.on_batch is not None:
                    self.on_batch(name, lines, result.unmatched or [])
            self.next_step = number + 1
            self.stats.steps += 1
            self.on_step(self.next_step * self.step)
            if not self.pending:
                break
