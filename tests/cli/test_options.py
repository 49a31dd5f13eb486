"""--progs and --patterns as check and dry-run take them, through the installed console script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import SCRIPT

GROK_PROGRAM = "counter hits_total by user\n/^%{MYUSER:user} hit$/ {\n  hits_total[$user]++\n}\n"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("command", ["check", "dry-run"])
@pytest.mark.parametrize("content", [{}, {"notes.txt": "x", "prog.mtail.bak": "counter a\n"}])
def test_a_programs_folder_without_programs_is_an_error(tmp_path, command, content):
    progs = tmp_path / "progs"
    progs.mkdir()
    for name, text in content.items():
        (progs / name).write_text(text, encoding="utf-8")
    (tmp_path / "a.log").write_text("line\n", encoding="utf-8")
    args = ["--progs", str(progs)] + (["a.log"] if command == "dry-run" else [])
    result = cli(command, *args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"logmetrics: {progs}: no program in this folder (programs are *.mtail files)\n"


@pytest.mark.parametrize("command", ["check", "dry-run"])
def test_patterns_from_a_single_file(tmp_path, command):
    (tmp_path / "users.grok").write_text("# grok_exporter style\nMYUSER [a-z]+\n", encoding="utf-8")
    (tmp_path / "hits.mtail").write_text(GROK_PROGRAM, encoding="utf-8")
    (tmp_path / "a.log").write_text("alice hit\nbob hit\nalice hit\n", encoding="utf-8")
    args = ["--progs", "hits.mtail", "--patterns", "users.grok"] + (["a.log"] if command == "dry-run" else [])
    result = cli(command, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    if command == "dry-run":
        assert 'hits_total{user="alice"} 2.0' in result.stdout
    else:
        assert "hits.mtail: ok" in result.stdout


def test_patterns_help_says_file_or_folder(tmp_path):
    for command in (["check"], ["dry-run"], ["run"], ["test"], ["convert", "grok-exporter"], ["playground"],
                    ["backfill"], ["report"]):
        text = " ".join(cli(*command, "--help", cwd=tmp_path).stdout.split())
        assert "--patterns PATH" in text and "grok pattern file" in text, command


def test_a_missing_patterns_path_names_it(tmp_path):
    (tmp_path / "hits.mtail").write_text(GROK_PROGRAM, encoding="utf-8")
    result = cli("check", "--progs", "hits.mtail", "--patterns", "nope", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "logmetrics: nope: no such pattern file or folder\n"
