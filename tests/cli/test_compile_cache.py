"""The compile cache from outside: the installed console script, started again on programs
it compiled before, imports no compiler (``PYTHONPROFILEIMPORTTIME``, as ``-X importtime``) and
gives byte for byte what a fresh compile gives; anything changed is compiled again."""

from __future__ import annotations

import gzip
import itertools
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.test_daemon import COUNTING, Daemon, append, wait_for
from tests.helpers import PROGRAM_LOGS, SCRIPT, SHARED_DATA

#: The compiler's own modules: imported by a fresh compile, never by a start from the cache.
COMPILER = ("logmetrics.lang.lexer", "logmetrics.lang.parser", "logmetrics.lang.checker",
            "logmetrics.lang.codegen", "logmetrics.lang.ast", "logmetrics.lang.regexes")
BUNDLED = PROGRAM_LOGS


def imported(stderr: str) -> set[str]:
    """The modules an ``-X importtime`` report lists."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def compiled(stderr: str) -> bool:
    """True if the process compiled a program (imported the compiler); checked to be all or none."""
    found = imported(stderr) & set(COMPILER)
    assert not found or found == set(COMPILER), found
    return bool(found)


def shared_log(tmp_path: Path, relative: str, lines: int = 30_000) -> Path:
    """The first ``lines`` of a shared log, decompressed into ``tmp_path``."""
    source = SHARED_DATA / relative
    if not source.is_file():
        pytest.skip(f"the shared logs are absent ({source})")
    target = tmp_path / relative.replace("/", "_").removesuffix(".gz")
    with gzip.open(source, "rb") as f, open(target, "wb") as out:
        out.writelines(itertools.islice(f, lines))
    return target


def dry_run(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPROFILEIMPORTTIME": "1"}
    return subprocess.run([str(SCRIPT), "dry-run", "-q", *args], capture_output=True, text=True, env=env,
                          check=True, cwd=cache.parent, timeout=300)


@pytest.mark.parametrize(("program", "log"), BUNDLED, ids=[Path(p).stem for p, _ in BUNDLED])
def test_dry_run_from_the_cache_gives_what_a_fresh_compile_gives(tmp_path, program, log):
    if program.startswith("/") and not Path(program).is_file():
        pytest.skip(f"{program} is not installed")
    path = shared_log(tmp_path, log)
    cache = tmp_path / "cache"
    args = ("--progs", program, str(path))
    fresh = dry_run(cache, *args)
    assert compiled(fresh.stderr)
    assert list((cache / "logmetrics" / "compiled").iterdir())
    again = dry_run(cache, *args)
    assert not compiled(again.stderr), "the unchanged program was compiled again"
    assert again.stdout == fresh.stdout
    assert fresh.stdout.count("\n") > 5, fresh.stdout[:500]
    for fmt in ("openmetrics", "json"):
        from_cache = dry_run(cache, "--format", fmt, *args)
        assert from_cache.stdout == dry_run(tmp_path / fmt, "--format", fmt, *args).stdout


def test_what_changes_the_compiled_program_compiles_it_again(tmp_path):
    cache = tmp_path / "cache"
    progs = tmp_path / "progs"
    progs.mkdir()
    program = progs / "words.mtail"
    program.write_text("counter words by w\n/^%{NAME:w} \\d+$/ {\n  words[$w]++\n}\n", encoding="utf-8")
    patterns = tmp_path / "patterns"
    patterns.write_text("NAME [a-z]+\n", encoding="utf-8")
    log = tmp_path / "app.log"
    log.write_text("alpha 1\nBeta 2\nalpha 3\n", encoding="utf-8")
    args = ["--progs", str(progs), "--patterns", str(patterns), str(log)]

    def run(*extra: str) -> tuple[bool, str]:
        done = dry_run(cache, *args, *extra)
        return compiled(done.stderr), done.stdout

    first, out = run()
    assert first and 'words_total{w="alpha"} 2.0' in out and "Beta" not in out
    assert run() == (False, out)
    patterns.write_text("NAME [A-Za-z]+\n", encoding="utf-8")
    again, out = run()
    assert again and 'words_total{w="Beta"} 1.0' in out
    program.write_text(program.read_text(encoding="utf-8").replace("words[$w]++", "words[$w] += 2"),
                       encoding="utf-8")
    again, out = run()
    assert again and 'words_total{w="alpha"} 4.0' in out
    assert run("--emit-metric-timestamp")[0]
    assert not run("--emit-metric-timestamp")[0]
    for entry in (cache / "logmetrics" / "compiled").iterdir():
        entry.write_bytes(entry.read_bytes()[:-40])  # damaged: truncated
    assert run() == (True, out)
    assert run() == (False, out)


def program_families(body: str) -> str:
    """The programs' part of a /metrics body (logmetrics' own metrics change between starts)."""
    return "\n".join(line for line in body.splitlines()
                     if "logmetrics_" not in line.split("{")[0] and not line.startswith(("# EOF",)))


def settled_metrics(daemon: Daemon, lines: int, timeout: float = 60.0) -> str:
    """The programs' part of /metrics once all ``lines`` are read and processed: lines are counted
    as read before the programs run over them, so the body must also stay the same a while."""
    deadline = time.monotonic() + timeout
    before = None
    while time.monotonic() < deadline:
        read = sum(v for k, v in daemon.samples().items() if k.startswith("logmetrics_log_lines"))
        body = program_families(daemon.get("/metrics"))
        if read == lines and body == before:
            return body
        before = body if read == lines else None
        time.sleep(0.5)
    raise AssertionError(f"not settled after {timeout} s: {daemon.events()}")


def test_a_daemon_started_again_takes_its_programs_from_the_state_dir(tmp_path, monkeypatch):
    access = shared_log(tmp_path, "apache/access_combined.log.gz", 20_000)
    errors = shared_log(tmp_path, "apache/error.log.gz", 20_000)
    total = sum(1 for _ in access.open("rb")) + sum(1 for _ in errors.open("rb"))
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    bodies, compiles = [], []
    for run in ("first", "again"):
        folder = tmp_path / run
        folder.mkdir()
        if run == "again":  # a new state dir (nothing restored), holding what the first start compiled
            shutil.copytree(tmp_path / "first" / "state" / "compiled", folder / "state" / "compiled")
        daemon = Daemon(folder, Path("apache_access"), f"apache_access={access}", "--progs", "apache_error",
                        "--logs", f"apache_error={errors}", "--from", "beginning")
        try:
            bodies.append(settled_metrics(daemon, total))
        finally:
            assert daemon.stop() == 0
        compiles.append(compiled(daemon.log()))
    assert compiles == [True, False]
    assert bodies[0] == bodies[1]
    assert "apache_http_requests_total" in bodies[0] and "apache_error" in bodies[0]


def test_reload_after_a_start_from_the_cache(tmp_path, monkeypatch):
    progs = tmp_path / "progs"
    progs.mkdir()
    program = progs / "count.mtail"
    program.write_text(COUNTING, encoding="utf-8")
    log = tmp_path / "app.log"
    log.write_text("line 1\n", encoding="utf-8")
    first = Daemon(tmp_path, progs, str(log), "--from", "beginning")
    first.wait_lines(1)
    assert first.stop() == 0
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    daemon = Daemon(tmp_path, progs, str(log))
    try:
        daemon.wait_lines(1)
        assert not compiled(daemon.log())
        # Changed: compiled (the compiler imported now) and swapped in, by the file watcher.
        changed = COUNTING + "counter other_total\n/^other/ {\n  other_total++\n}\n"
        program.write_text(changed, encoding="utf-8")
        assert wait_for(lambda: "other_total" in daemon.samples()), daemon.events()
        assert compiled(daemon.log())
        append(log, "line 2\nother\n")
        assert wait_for(lambda: daemon.samples().get("other_total") == 1.0)
        daemon.wait_lines(2)
        # Back to the first text, by SIGHUP: from the cache; the values carry over.
        program.write_text(COUNTING, encoding="utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "other_total" not in daemon.samples()), daemon.events()
        append(log, "line 3\n")
        daemon.wait_lines(3)
    finally:
        assert daemon.stop() == 0
