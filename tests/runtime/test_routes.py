"""Binding logs to programs (``PROGRAM=GLOB``) and naming bundled programs, in dry-run and the daemon."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from logmetrics.runtime.routes import LogRouter, LogSpec
from tests.cli.test_daemon import Daemon, wait_for
from tests.helpers import REPO, compile_program

SCRIPT = Path(sys.executable).with_name("logmetrics")
EXAMPLES = REPO / "examples"
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def series(text: str, prefix: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_spec_parsing():
    assert LogSpec.parse("/var/log/apache2/*.log") == LogSpec("/var/log/apache2/*.log")
    assert LogSpec.parse("apache_error=/var/log/apache2/error.log") == LogSpec(
        "/var/log/apache2/error.log", "apache_error.mtail")
    assert LogSpec.parse("my.prog.mtail=x.log") == LogSpec("x.log", "my.prog.mtail")
    assert LogSpec.parse("/srv/a=b/c.log") == LogSpec("/srv/a=b/c.log")  # a path, not a name


def test_router_sends_bound_files_to_their_program_only(tmp_path):
    (tmp_path / "access.log").touch()
    (tmp_path / "error.log").touch()
    a, b, c = (compile_program("counter x\n", name) for name in ("a.mtail", "b.mtail", "c.mtail"))
    router = LogRouter([LogSpec(str(tmp_path / "access.log"), "a.mtail"),
                        LogSpec(str(tmp_path / "*.log"))])
    assert [p.name for p in router.select(str(tmp_path / "access.log"), [a, b, c])] == ["a.mtail", "b.mtail",
                                                                                         "c.mtail"]
    assert [p.name for p in router.select(str(tmp_path / "error.log"), [a, b, c])] == ["b.mtail", "c.mtail"]
    only = LogRouter([LogSpec(str(tmp_path / "access.log"), "a.mtail")])
    assert [p.name for p in only.select(str(tmp_path / "access.log"), [a, b])] == ["a.mtail"]
    assert LogRouter([LogSpec("x")]).select("anything", [a, b]) == [a, b]


def test_router_sends_each_container_stream_to_the_programs_bound_to_it(tmp_path):
    (tmp_path / "0.log").touch()
    a, b, c = (compile_program("counter x\n", name) for name in ("a.mtail", "b.mtail", "c.mtail"))
    glob = f"cri://{tmp_path}/*.log"
    router = LogRouter([LogSpec.parse(f"a={glob}?stream=stdout"), LogSpec.parse(f"b={glob}?stream=stderr"),
                        LogSpec.parse(f"c={glob}")])
    path = str(tmp_path / "0.log")
    assert [p.name for p in router.select(path, [a, b, c], "stdout")] == ["a.mtail", "c.mtail"]
    assert [p.name for p in router.select(path, [a, b, c], "stderr")] == ["b.mtail", "c.mtail"]
    assert [p.name for p in router.select(path, [a, b, c])] == ["a.mtail", "b.mtail", "c.mtail"]


def test_dry_run_default_is_the_apache_program_only():
    result = cli("dry-run", "-q", str(EXAMPLES / "nginx_access.log"))
    assert result.returncode == 0, result.stderr
    assert "apache_http_requests_total" in result.stdout
    assert "nginx_" not in result.stdout


def test_dry_run_names_a_bundled_program_and_binds_files():
    alone = cli("dry-run", "-q", "--progs", "nginx_error", str(EXAMPLES / "nginx_error.log"))
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout == (EXAMPLES / "nginx_error.prom").read_text()

    both = cli("dry-run", f"apache_access={EXAMPLES / 'apache_access.log'}",
               f"nginx_error={EXAMPLES / 'nginx_error.log'}")
    assert both.returncode == 0, both.stderr
    expected_apache = series((EXAMPLES / "apache_access.prom").read_text(), "apache_")
    expected_nginx = series((EXAMPLES / "nginx_error.prom").read_text(), "nginx_")
    assert series(both.stdout, "apache_") == expected_apache  # unparsed stays 1: no nginx line reached it
    assert series(both.stdout, "nginx_") == expected_nginx  # and no Apache line reached nginx_error
    assert "matched by no program: 1 lines" in both.stderr


def test_unknown_program_names_are_clear_errors():
    result = cli("dry-run", f"nginx_erorr={EXAMPLES / 'nginx_error.log'}")
    assert result.returncode == 1
    assert "nginx_erorr=" in result.stderr and "bundled: apache_access" in result.stderr
    result = cli("check", "--progs", "no_such_program")
    assert result.returncode == 1 and "nor a bundled program" in result.stderr


def test_daemon_runs_access_and_error_programs_on_their_own_logs(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_bytes((EXAMPLES / "apache_access.log").read_bytes())
    (logs / "error.log").write_bytes((EXAMPLES / "apache_error.log").read_bytes())
    daemon = Daemon(tmp_path, Path("apache_access"), f"apache_access={logs / 'access.log'}",
                    "--logs", f"apache_error={logs / 'error.log'}", "--from", "beginning")
    try:
        expected = {**series((EXAMPLES / "apache_access.prom").read_text(), "apache_"),
                    **series((EXAMPLES / "apache_error.prom").read_text(), "apache_")}

        def scraped() -> dict[str, float]:
            return series(daemon.get("/metrics"), "apache_")

        assert wait_for(lambda: scraped() == expected), sorted(set(scraped().items()) ^ set(expected.items()))
    finally:
        assert daemon.stop() == 0


def test_the_deployment_examples_parse_and_name_real_programs():
    """examples/logmetrics.service and examples/sidecar-pod.yaml stay valid command lines."""
    import shlex

    import yaml

    from logmetrics.cmdline import build_parser
    from logmetrics.commands.common import program_paths

    unit = (EXAMPLES / "logmetrics.service").read_text()
    exec_start = unit.split("ExecStart=", 1)[1].split("\nExecReload", 1)[0].replace("\\\n", " ")
    pod = yaml.safe_load((EXAMPLES / "sidecar-pod.yaml").read_text())
    sidecar = next(c for c in pod["spec"]["containers"] if c["name"] == "logmetrics")
    for argv in (shlex.split(exec_start)[1:], sidecar["args"]):
        args = build_parser().parse_args(argv)
        specs = [LogSpec.parse(s) for s in args.logs]
        assert {s.program for s in specs} == {"apache_access.mtail", "apache_error.mtail"}
        assert sorted(p.name for p in program_paths(args, specs)) == ["apache_access.mtail",
                                                                      "apache_error.mtail"]


def test_the_daemon_says_which_programs_read_a_file(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "error.log").write_bytes((EXAMPLES / "nginx_error.log").read_bytes())
    daemon = Daemon(tmp_path, Path("nginx_error"), f"nginx_error={logs / 'error.log'}", "--from", "beginning")
    try:
        assert wait_for(lambda: "is read by nginx_error.mtail" in daemon.log())
    finally:
        assert daemon.stop() == 0
