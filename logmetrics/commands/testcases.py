"""``logmetrics test``: programs against sample logs and the metrics they must produce.

A test case is a sample log named after its program, ``NAME.log`` or
``NAME.CASE.log`` (``.gz`` too), with the expected metrics beside it in
``NAME[.CASE].prom``: exactly what ``logmetrics dry-run --progs NAME`` prints
for that log. Each case runs its program alone, from fresh state. Samples are
compared series by series (ordering and float noise do not matter, a missing
or extra series does), and a failure prints a diff of the series.
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# prometheus-client's parser reads the expected .prom files: an independent reader of the text
# format. Its import (about 0.1 s: http.server, urllib.request, email, ssl) is paid by `test` and
# the playground only; the daemon's start no longer imports prometheus-client at all.
from prometheus_client.parser import text_string_to_metric_families

from logmetrics.commands.common import load_from_args
from logmetrics.errors import LogmetricsError
from logmetrics.exposition.render import render
from logmetrics.grok import PatternLibrary
from logmetrics.resources import bundled_programs_dir
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.loader import find_program_files
from logmetrics.runtime.program import Program
from logmetrics.runtime.routes import LogSpec
from logmetrics.sources.static import read_batches

LOG_SUFFIXES = (".log", ".log.gz")
EXPECTED_SUFFIX = ".prom"


@dataclass(frozen=True)
class Case:
    """One sample log, the program it is for, and the file of expected metrics."""

    program: str
    log: Path
    expected: Path


@dataclass
class Outcome:
    """What running a case gave."""

    case: Case
    lines: int
    unmatched: int
    actual: str
    diff: list[str]
    message: str = ""

    @property
    def passed(self) -> bool:
        return not self.diff and not self.message


def case_stem(path: Path) -> str | None:
    """The file name without its log suffix, or None when it is not a sample log."""
    for suffix in LOG_SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.name[: -len(suffix)]
    return None


def expected_path(log: Path) -> Path:
    """``x.log`` and ``x.log.gz`` give ``x.prom``; another name loses its last suffix (``x.txt``)."""
    stem = case_stem(log)
    return log.with_name(stem + EXPECTED_SUFFIX) if stem else log.with_suffix(EXPECTED_SUFFIX)


def find_cases(paths: Iterable[str], programs: dict[str, Program]) -> list[Case]:
    """Cases in ``paths``: folders are searched for ``PROGRAM[.CASE].log`` of a loaded program;
    a file is a case of the program its name starts with, or of PROGRAM in ``PROGRAM=FILE``."""
    stems = {name.removesuffix(".mtail"): name for name in programs}
    cases: list[Case] = []
    for raw in paths:
        spec = LogSpec.parse(raw)
        path = Path(spec.glob)
        if path.is_dir():
            for candidate in sorted(path.iterdir()):
                stem = case_stem(candidate)
                if stem is not None and candidate.is_file():
                    program = stems.get(stem.split(".", 1)[0])
                    if program is not None:
                        cases.append(Case(program, candidate, expected_path(candidate)))
            continue
        if not path.is_file():
            raise LogmetricsError(f"{path}: no such sample log or folder")
        if spec.program is not None:
            program = spec.program
            if program not in programs:
                raise LogmetricsError(f"{raw}: no program {program} is loaded (see --progs)")
        else:
            program = stems.get((case_stem(path) or path.name).split(".", 1)[0], "")
            if not program:
                raise LogmetricsError(
                    f"{path}: no loaded program is named after this file; name it PROGRAM[.CASE].log "
                    f"or write PROGRAM={path} (loaded: {', '.join(sorted(stems)) or 'none'})")
        cases.append(Case(program, path, expected_path(path)))
    return cases


def samples(text: str) -> dict[str, float]:
    """Every sample of a Prometheus text exposition, by its series written out in full."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            # The parser gives an int for a value written without a point ("3"): compare floats.
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
    return out


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _format_value(value: float) -> str:
    return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def compare(expected_text: str, actual_text: str, expected_name: str) -> list[str]:
    """A unified diff of the series that differ; empty when the two expositions agree."""
    expected, actual = samples(expected_text), samples(actual_text)
    if expected.keys() == actual.keys() and all(_same(expected[k], actual[k]) for k in expected):
        return []
    # Values that agree within rounding are written alike, so the diff shows only real changes.
    shown_actual = {k: (expected[k] if k in expected and _same(expected[k], v) else v)
                    for k, v in actual.items()}
    left = [f"{k} {_format_value(v)}" for k, v in sorted(expected.items())]
    right = [f"{k} {_format_value(v)}" for k, v in sorted(shown_actual.items())]
    return list(difflib.unified_diff(left, right, f"{expected_name} (expected)", "actual", lineterm="", n=1))


def run_case(case: Case, source: Path, library: PatternLibrary, args: argparse.Namespace) -> Outcome:
    """Run one case's program, from fresh state, over its sample log."""
    program = Program.load(source, library)
    runtime = Runtime([program], max_label_sets=args.max_label_sets)
    lines = unmatched = 0
    for batch in read_batches(str(case.log)):
        result = runtime.process(batch, str(case.log), track_unmatched=True)
        lines += result.lines
        unmatched += len(result.unmatched or [])
    actual = render(runtime.store, "prometheus")
    if not case.expected.exists():
        return Outcome(case, lines, unmatched, actual, [],
                       f"no expected metrics in {case.expected} (--update writes them)")
    try:
        diff = compare(case.expected.read_text(encoding="utf-8"), actual, str(case.expected))
    except (ValueError, UnicodeDecodeError) as exc:  # the parser's word for a malformed file
        return Outcome(case, lines, unmatched, actual, [],
                       f"{case.expected} is not in the Prometheus text format ({exc}); --update rewrites it")
    return Outcome(case, lines, unmatched, actual, diff)


def run_tests(args: argparse.Namespace) -> int:
    """Run every case found; print PASS/FAIL per case and diffs; 1 if any case failed."""
    library, programs = load_from_args(args)
    by_name = {p.name: p for p in programs}
    sources = {p.name: p for p in find_program_files(args.progs or [bundled_programs_dir()])}
    cases = find_cases(args.paths or _default_paths(sources.values()), by_name)
    if not cases:
        looked = ", ".join(args.paths or map(str, _default_paths(sources.values()))) or "no folder"
        raise LogmetricsError(
            f"no test cases found in {looked}: a case is a sample log PROGRAM[.CASE].log with the "
            "metrics it must give in PROGRAM[.CASE].prom beside it (--update writes them); pass the "
            "folders or sample logs holding them: logmetrics test --progs PROGRAM FOLDER")
    failed = updated = 0
    for case in cases:
        outcome = run_case(case, sources[case.program], library, args)
        what = f"{case.program}  {case.log} ({outcome.lines:,} lines, {outcome.unmatched:,} unmatched)"
        if args.update and (not outcome.passed):
            case.expected.write_text(outcome.actual, encoding="utf-8")
            updated += 1
            print(f"UPDATED {what} -> {case.expected}")
        elif outcome.passed:
            print(f"PASS {what}")
        else:
            failed += 1
            print(f"FAIL {what}")
            if outcome.message:
                print(f"  {outcome.message}")
            for line in outcome.diff:
                print(f"  {line}")
    print(f"{len(cases)} case(s): {len(cases) - failed - updated} passed, {failed} failed"
          + (f", {updated} updated" if updated else ""))
    if failed:
        print(f"logmetrics test: {failed} case(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _default_paths(sources: Iterable[Path]) -> Sequence[str]:
    """Where cases are looked for by default: each program's folder and its ``testdata``."""
    folders: list[str] = []
    for path in sources:
        for folder in (path.parent, path.parent / "testdata"):
            if folder.is_dir() and str(folder) not in folders:
                folders.append(str(folder))
    return folders
