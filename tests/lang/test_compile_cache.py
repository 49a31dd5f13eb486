"""The compile cache: a program taken from it runs as a fresh compile does; anything changed,
damaged or not trusted is compiled again; a program that does not compile is never kept."""

from __future__ import annotations

import gzip
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

import logmetrics.lang.codegen
from logmetrics.errors import CompileErrors
from logmetrics.exposition.render import render
from logmetrics.grok import PatternLibrary
from logmetrics.lang.cache import SUFFIX, CompileCache
from logmetrics.lang.compiler import CompiledProgram, compile_program
from logmetrics.resources import bundled_programs_dir
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.program import Program
from tests.helpers import PROGRAM_LOGS, SHARED_DATA

#: Every bundled program, and mtail's example the benchmarks run, with a log they read.
PROGRAMS = [(name if "/" in name else f"{name}.mtail", log) for name, log in PROGRAM_LOGS]

#: strptime() whose time is read (a cache per call site), histograms, expiry, a guarded regex.
READS_TIME = (
    'counter hits by code\nhistogram size buckets 10, 100\ngauge seen\n'
    '/^(?P<when>\\S+) (?P<code>\\d+) (?P<size>\\d+)$/ {\n'
    '  strptime($when, "2006-01-02T15:04:05")\n  hits[$code]++\n  size = $size\n'
    '  seen = timestamp()\n}\n'
    '/(a+)+b/ {\n  del hits["500"] after 1h\n}\n'
)
#: strptime() that only checks the time (a checker per call site).
CHECKS_TIME = (
    'counter hits by code\n'
    '/^(?P<when>\\S+) (?P<code>\\d+) /{\n  strptime($when, "2006-01-02T15:04:05")\n  hits[$code]++\n}\n'
)


@pytest.fixture()
def generations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the programs the code generator ran for: a fresh compile each."""
    seen: list[str] = []
    real = logmetrics.lang.codegen.generate

    def counting(checked, program_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(program_name)
        return real(checked, program_name, *args, **kwargs)

    monkeypatch.setattr(logmetrics.lang.codegen, "generate", counting)
    return seen


def program_path(name: str) -> Path:
    path = Path(name) if "/" in name else bundled_programs_dir() / name
    if not path.is_file():
        pytest.skip(f"{path} is not installed")
    return path


def read_log(relative: str, limit: int = 20_000) -> list[str]:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"the shared logs are absent ({path})")
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in itertools.islice(f, limit)]


def run_lines(program: Program, lines: list[str]) -> tuple[str, list[int], list[int]]:
    """What the program makes of the lines: the exposition, unmatched lines, per-site hits."""
    missed: list[int] = []
    for start in range(0, len(lines), 1000):
        batch: list[int] = []
        program.run(lines[start:start + 1000], "access.log", batch)
        missed.extend(start + i for i in batch)
    return render(Runtime([program]).store, "prometheus"), missed, list(program.site_hits)


@pytest.mark.parametrize(("name", "log"), PROGRAMS, ids=[Path(p).name for p, _ in PROGRAMS])
def test_a_cached_program_runs_as_a_fresh_compile(tmp_path, generations, name, log):
    path = program_path(name)
    lines = read_log(log)
    library = PatternLibrary.load()
    cache = CompileCache(tmp_path / "compiled")
    fresh = Program.load(path, library, cache=cache)
    assert generations == [path.name]
    cached = Program.load(path, library, cache=cache)
    assert generations == [path.name], "the second load compiled again"
    assert cached.source == fresh.source
    assert cached.guarded == fresh.guarded
    assert [(s.number, s.pos, s.text, s.captures, s.on_line, s.counted) for s in cached.sites] == \
        [(s.number, s.pos, s.text, s.captures, s.on_line, s.counted) for s in fresh.sites]
    assert [m.signature for m in cached.metrics.values()] == [m.signature for m in fresh.metrics.values()]
    got = run_lines(cached, lines)
    assert got == run_lines(fresh, lines)
    assert any(got[2]), "the log matched nothing: the comparison proves little"


@pytest.mark.parametrize("text", [READS_TIME, CHECKS_TIME], ids=["reads time", "checks time"])
def test_strptime_histograms_expiry_and_guarded_regexes_come_back_alike(tmp_path, generations, text):
    library = PatternLibrary.load()
    cache = CompileCache(tmp_path)
    fresh = compile_program(text, "t.mtail", library, cache=cache)
    cached = compile_program(text, "t.mtail", library, cache=cache)
    assert generations == ["t.mtail"]
    assert cached.plan == fresh.plan
    assert cached.plan.time_checks if text is CHECKS_TIME else cached.plan.time_caches
    assert cached.guarded == fresh.guarded
    assert cached.guarded or text is CHECKS_TIME
    lines = ["2026-11-28T10:00:00 200 50", "2026-11-28T10:00:01 500 500", "bad 200 1", "aaab",
             "2026-11-28T10:00:01 200 5000", "a" * 30]

    def outcome(program: CompiledProgram) -> tuple[object, ...]:
        errors: list[str] = []
        missed: list[int] = []
        matched = program.process(lines, "x.log", missed, lambda exc, line: errors.append(str(exc)))
        held = {name: (dict(m.values), dict(m.stamps), dict(m.expiry)) for name, m in program.metrics.items()}
        return matched, missed, errors, program.site_hits, held

    assert outcome(cached) == outcome(fresh)


def test_a_cached_program_has_its_own_metrics_and_counts(tmp_path):
    """Two loads of one cached program share nothing: a reload never writes into the old one."""
    library = PatternLibrary.load()
    cache = CompileCache(tmp_path)
    text = "counter n\n/x/ {\n  n++\n}\n"
    compile_program(text, "n.mtail", library, cache=cache)
    first = compile_program(text, "n.mtail", library, cache=cache)
    second = compile_program(text, "n.mtail", library, cache=cache)
    first.process(["x", "x"], "l", None, print)
    assert first.metrics["n"].values == {(): 2} and first.site_hits == [2]
    assert second.metrics["n"].values == {(): 0} and second.site_hits == [0]


def test_what_changes_the_output_changes_the_key(tmp_path, generations):
    patterns = tmp_path / "patterns"
    patterns.write_text("WORD \\b\\w+\\b\n", encoding="utf-8")
    text = "counter n by w\n/%{WORD:w}/ {\n  n[$w]++\n}\n"
    cache = CompileCache(tmp_path / "compiled")

    def load(text: str = text, path: str = "w.mtail", stamps: bool = False, count_sites: bool = True
             ) -> CompiledProgram:
        return compile_program(text, path, PatternLibrary.load([patterns]), stamps=stamps,
                               count_sites=count_sites, cache=cache)

    load()
    load()
    assert len(generations) == 1
    load(text + "# a comment\n")
    load(path="other/w.mtail")
    load(stamps=True)
    load(count_sites=False)
    assert len(generations) == 5
    patterns.write_text("WORD [a-z]+\n", encoding="utf-8")
    changed = load()
    assert len(generations) == 6
    assert changed.process(["ABC def"], "l", None, print) == 1
    assert changed.metrics["n"].values == {("def",): 1}, "the old pattern was used"
    assert len(list((tmp_path / "compiled").glob(f"*{SUFFIX}"))) == 6


@pytest.mark.parametrize("damage", ["empty", "truncated", "flipped", "garbage", "other format",
                                    "writable by others", "a folder"])
def test_a_damaged_or_untrusted_entry_is_compiled_again(tmp_path, generations, damage, caplog):
    library = PatternLibrary.load()
    cache = CompileCache(tmp_path)
    text = "counter n\n/x/ {\n  n++\n}\n"
    compile_program(text, "n.mtail", library, cache=cache)
    (entry,) = tmp_path.glob(f"*{SUFFIX}")
    data = entry.read_bytes()
    if damage == "empty":
        entry.write_bytes(b"")
    elif damage == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        entry.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(len(data)))
    elif damage == "other format":
        entry.write_bytes(data.replace(b"program 1\n", b"program 0\n", 1))
    elif damage == "writable by others":
        entry.chmod(0o666)
    else:
        entry.unlink()
        entry.mkdir()
    caplog.set_level("DEBUG", logger="logmetrics.lang.cache")
    program = compile_program(text, "n.mtail", library, cache=cache)
    assert generations == ["n.mtail", "n.mtail"]
    assert program.process(["x", "y"], "l", None, print) == 1
    assert str(entry) in caplog.text
    if damage not in ("writable by others", "a folder"):
        # Saved again, whole: the next load takes it.
        compile_program(text, "n.mtail", library, cache=cache)
        assert generations == ["n.mtail", "n.mtail"]


def test_a_program_that_does_not_compile_is_never_kept(tmp_path):
    cache = CompileCache(tmp_path / "compiled")
    for _ in range(2):
        with pytest.raises(CompileErrors):
            compile_program("counter n\n/(x/ {\n  n++\n}\n", "bad.mtail", PatternLibrary.load(), cache=cache)
    assert not list(tmp_path.rglob(f"*{SUFFIX}"))


def test_the_folder_keeps_the_most_recently_used_entries(tmp_path):
    cache = CompileCache(tmp_path, kept=3)
    library = PatternLibrary.load()
    texts = [f"counter n{i}\n/x{i}/ {{\n  n{i}++\n}}\n" for i in range(5)]
    keys = [cache.key(text, "p.mtail", "p.mtail", library, False, True) for text in texts]
    for i, text in enumerate(texts):
        compile_program(text, "p.mtail", library, cache=cache)
        os.utime(tmp_path / f"{keys[i]}{SUFFIX}", ns=(i * 10**9, i * 10**9))  # an order the clock can't blur
        if i == 2:
            assert cache.load(keys[0]) is not None  # used again: now the most recent
    kept = sorted(f"{k}{SUFFIX}" for k in (keys[0], keys[3], keys[4]))
    assert sorted(p.name for p in tmp_path.iterdir()) == kept


def test_an_unusable_folder_only_costs_a_compile(tmp_path, generations):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    cache = CompileCache(blocker / "compiled")
    text = "counter n\n/x/ {\n  n++\n}\n"
    for _ in range(2):
        program = compile_program(text, "n.mtail", PatternLibrary.load(), cache=cache)
        assert program.process(["x"], "l", None, print) == 1
    assert generations == ["n.mtail", "n.mtail"]


def test_a_program_from_the_cache_imports_no_compiler(tmp_path):
    """In a process of its own, as a start is: the lexer, parser, checker, code generator and
    their tree are not imported at all."""
    program = bundled_programs_dir() / "nginx_access.mtail"
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from logmetrics.grok import PatternLibrary\n"
        "from logmetrics.lang.cache import CompileCache\n"
        "from logmetrics.runtime.program import Program\n"
        "cache = CompileCache(Path(sys.argv[1]))\n"
        f"Program.load(Path({str(program)!r}), PatternLibrary.load(), cache=cache)\n"
        "print(sorted(m for m in sys.modules if m.startswith('logmetrics.lang.')))\n"
    )
    modules = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                              check=True, cwd=tmp_path)
        modules.append(done.stdout)
    compiler = ("parser", "lexer", "checker", "codegen", "ast", "regexes")
    assert all(f"'logmetrics.lang.{m}'" in modules[0] for m in compiler)
    assert not any(f"'logmetrics.lang.{m}'" in modules[1] for m in compiler), modules[1]
