"""``--help`` and argument errors: exactly what argparse prints, answered cheaply.

What a look at the usage costs is measured in benchmarks/bench_sidecar.py (startup); these tests check
what makes it small (neither the compiler, the daemon nor argparse's costlier helpers are imported;
stored help texts are used at the width they were rendered for) and that none of it changes a byte of
what argparse prints: the installed console script is compared with a plain argparse reference, with
every parser built and argparse's own formatters, for every subcommand, at several widths.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import struct
import subprocess
import sys
import termios

import pytest

from logmetrics import helptext
from logmetrics.cmdline import build_parser, every_parser, render_help
from tests.helpers import SCRIPT

#: The modules of logmetrics a look at the usage may load.
LIGHT = {"logmetrics", "logmetrics.cli", "logmetrics.helptext", "logmetrics.rendered_help",
         "logmetrics.cmdline", "logmetrics.defaults", "logmetrics.resources"}

#: Run the console script's function in a fresh interpreter, then list every module it loaded.
PROBE = """\
import sys
from logmetrics.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    print("exit", stop.code, file=sys.stderr)
print("modules:", *sorted(sys.modules))
"""


def loaded_modules(args: list[str], code: int, cwd, columns: str | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                            cwd=cwd, env=env, timeout=60)
    assert f"exit {code}" in result.stderr, result.stderr
    loaded = result.stdout.splitlines()[-1].split()  # after what --help printed
    assert loaded[0] == "modules:"
    assert "logmetrics.cli" in loaded  # the probe did run the parser
    return loaded[1:]


@pytest.mark.parametrize("args, code", [
    (["--help"], 0),
    (["run", "--help"], 0),
    (["backfill", "--help"], 0),
    (["run"], 2),  # --logs is missing
    (["backfill", "--step", "soon", "-o", "out", "x.log"], 2),
    (["dry-run", "--no-such-option", "x.log"], 2),
    (["no-such-command"], 2),
    ([], 2),
])
@pytest.mark.parametrize("columns", [None, "60"])
def test_help_and_argument_errors_import_nothing_heavy(tmp_path, args, code, columns):
    loaded = loaded_modules(args, code, tmp_path, columns)
    ours = {m for m in loaded if m == "logmetrics" or m.startswith("logmetrics.")}
    assert ours <= LIGHT
    # Not the parsers' libraries either: typing, dataclasses, pathlib; shutil (with bz2 and lzma) is
    # argparse's way to the terminal width, found here without it.
    assert not {"typing", "dataclasses", "pathlib", "shutil", "bz2", "lzma"} & set(loaded)


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["run", "--help"], ["convert", "grok-exporter", "-h"]])
def test_help_at_the_stored_width_is_printed_without_argparse(tmp_path, args):
    loaded = loaded_modules(args, 0, tmp_path)  # stdout is a pipe: 80 columns
    assert "logmetrics.rendered_help" in loaded
    assert not {"argparse", "logmetrics.cmdline", "textwrap", "gettext"} & set(loaded)


@pytest.mark.parametrize("args", [["run", "--help"], ["run", "--logs", "x", "--help"]])
def test_other_widths_and_command_lines_go_to_the_parser(tmp_path, args):
    columns = "100" if len(args) == 2 else None
    assert "argparse" in loaded_modules(args, 0, tmp_path, columns)


# --- the same bytes as argparse --------------------------------------------------------------------------

def reference_parser() -> argparse.ArgumentParser:
    """The command line as plain argparse builds it: every subcommand's parser complete before parsing,
    and argparse's own formatters (which find the width through shutil)."""
    parser = build_parser()
    for _, each in every_parser(parser):
        each.formatter_class = next(c for c in each.formatter_class.__mro__
                                    if c.__module__ == "argparse")
    return parser


def argparse_prints(args: list[str], columns: str | None, monkeypatch, capsys) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of the reference parser given ``args`` (stdout is not a terminal)."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    parser = reference_parser()
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(args)
    out, err = capsys.readouterr()
    return stop.value.code, out, err


def script_prints(args: list[str], columns: str | None, cwd) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=env,
                            timeout=60)
    return result.returncode, result.stdout, result.stderr


SUBCOMMANDS = [list(argv) for argv, _ in every_parser(build_parser())]
HELP = [[*argv, option] for argv in SUBCOMMANDS for option in ("--help", "-h")]
ERRORS = [
    [], ["nosuch"], ["--bogus"], ["--he"], ["--version"],
    *([*argv, "--bogus"] for argv in SUBCOMMANDS[1:]),
    ["run"], ["convert"], ["run", "--logs"], ["run", "--he"], ["run", "--logs", "x", "--help"],
    ["run", "--logs", "x", "--keep-unmatched", "200"], ["run", "--logs", "x", "--from", "middle"],
    ["dry-run", "--format", "xml", "x.log"], ["backfill", "--step", "soon", "-o", "out", "x.log"],
    ["backfill", "--since", "yesterday", "-o", "out", "x.log"], ["report", "x.log"],
    ["convert", "grok-exporter"], ["convert", "nosuch"], ["playground", "a", "b"],
]


def test_every_subcommand_is_compared():
    assert len(SUBCOMMANDS) == 10  # the top, 8 subcommands, convert grok-exporter
    assert ["convert", "grok-exporter"] in SUBCOMMANDS


@pytest.mark.parametrize("columns", [None, "60", "120", "abc"])
@pytest.mark.parametrize("args", HELP, ids=" ".join)
def test_help_is_argparses(tmp_path, monkeypatch, capsys, args, columns):
    expected = argparse_prints(args, columns, monkeypatch, capsys)
    assert expected[0] == 0 and expected[1]
    assert script_prints(args, columns, tmp_path) == expected


@pytest.mark.parametrize("columns", [None, "70"])
@pytest.mark.parametrize("args", ERRORS, ids=lambda args: " ".join(args) or "nothing")
def test_argument_errors_are_argparses(tmp_path, monkeypatch, capsys, args, columns):
    expected = argparse_prints(args, columns, monkeypatch, capsys)
    assert script_prints(args, columns, tmp_path) == expected


@pytest.mark.parametrize("width", [80, 100])
def test_the_width_of_a_terminal_is_argparses(tmp_path, monkeypatch, capsys, width):
    """On a terminal (stdout a pseudo-terminal of ``width`` columns, COLUMNS unset): 80 takes the
    stored text, 100 the parser; both print what argparse does at that width."""
    expected = argparse_prints(["dry-run", "--help"], str(width), monkeypatch, capsys)[1]
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    leader, follower = os.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
        process = subprocess.Popen([str(SCRIPT), "dry-run", "--help"], stdout=follower, cwd=tmp_path,
                                   env=env)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed once the script has exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0
    finally:
        os.close(leader)
    assert b"".join(chunks).decode().replace("\r\n", "\n") == expected


# --- the stored texts and the width ------------------------------------------------------------------------

def test_the_stored_texts_are_argparses_current_output():
    with open(helptext.RENDERED, encoding="utf-8") as stored:
        assert stored.read() == render_help(), (
            "the help changed: run `python -m logmetrics.cmdline --write` at the top of the checkout")


@pytest.mark.parametrize("columns", [None, "", "0", "-5", "abc", "1.5", "100", " 90 ", "20"])
def test_terminal_width_is_shutils(monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    for lines in (None, "30"):
        if lines is None:
            monkeypatch.delenv("LINES", raising=False)
        else:
            monkeypatch.setenv("LINES", lines)
        assert helptext.terminal_width() == shutil.get_terminal_size().columns
