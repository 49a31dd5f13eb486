"""``--help`` and argument errors are answered from the parser alone: neither the compiler, the
daemon, the store nor the libraries behind them are imported (their cost is measured in
benchmarks/, this checks what makes it small)."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: What a look at the usage must not load: logmetrics' packages behind the parser, the libraries
#: they bring, and the standard library modules that cost most to import.
HEAVY = ("logmetrics.lang", "logmetrics.grok", "logmetrics.daemon", "logmetrics.runtime", "logmetrics.store",
         "logmetrics.sources", "logmetrics.exposition", "logmetrics.web", "logmetrics.commands",
         "logmetrics.errors", "prometheus_client", "watchdog", "regex", "yaml", "bcrypt", "pygrok",
         "dataclasses", "typing", "pathlib")

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


@pytest.mark.parametrize("args, code", [
    (["--help"], 0),
    (["run", "--help"], 0),
    (["backfill", "--help"], 0),
    (["run"], 2),  # --logs is missing
    (["backfill", "--step", "soon", "-o", "out", "x.log"], 2),
    (["dry-run", "--no-such-option", "x.log"], 2),
    (["no-such-command"], 2),
])
def test_help_and_argument_errors_import_nothing_heavy(tmp_path, args, code):
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert f"exit {code}" in result.stderr, result.stderr
    loaded = result.stdout.splitlines()[-1].split()  # after what --help printed
    assert loaded[0] == "modules:"
    assert "logmetrics.cli" in loaded  # the probe did run the parser
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []
