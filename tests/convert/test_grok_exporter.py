"""logmetrics convert grok-exporter: grok_exporter configurations to programs."""

from __future__ import annotations

import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest

from logmetrics.convert import ConvertError
from logmetrics.convert.grok_exporter import convert
from tests.helpers import REPO, SCRIPT, compile_program, exposition, library, values

DATA = REPO / "tests" / "data" / "grok_exporter"
CONFIGS = sorted(p for p in DATA.glob("*.yml") if "v1" not in p.name)
EXIM_LOG = DATA / "exim-rejected-RCPT-examples.log"
EXIM_LINES = EXIM_LOG.read_text(encoding="utf-8").splitlines()

# The example lines of grok_exporter's CONFIG.md, whose outputs it documents.
ALICE_BOB = [
    "30.07.2016 14:37:03 alice 1.5",
    "30.07.2016 14:37:33 alice 2.5",
    "30.07.2016 14:43:02 bob 2.5",
    "30.07.2016 14:45:59 alice 2.5",
]
V3_HEAD = """\
global:
    config_version: 3
input:
    type: file
    path: /var/log/example/*.log
metrics:
"""


def v3(metrics: str, head: str = V3_HEAD) -> str:
    """A version 3 configuration with these metrics (indented under 'metrics:')."""
    return head + textwrap.indent(textwrap.dedent(metrics), "    ")


def metric(kind: str, name: str, match: str, *settings: str) -> str:
    """One metric of a configuration: a ``kind`` named ``name`` that matches ``match``, with its
    other ``settings`` (YAML lines, nested ones indented, such as ``value: '{{.val}}'``). In
    :func:`v3`, the first metric's ``type`` is line 7."""
    lines = [f"- type: {kind}", f"  name: {name}", f"  match: '{match}'", *(f"  {line}" for line in settings)]
    return "\n".join(lines) + "\n"


def example(kind: str, name: str, *settings: str) -> str:
    """CONFIG.md's example metric, a configuration of its own: by user, over ALICE_BOB's lines."""
    return v3(metric(kind, name, "%{DATE} %{TIME} %{USER:user} %{NUMBER:val}", *settings,
                     "labels:", "    user: '{{.user}}'"))


def converted(config: str) -> tuple[str, list[str]]:
    program, warnings = convert(config, "c.yml", library=library())
    return program, [w.format("c.yml") for w in warnings]


def run_config(config: str, lines: list[str], filename: str = "/var/log/example/a.log"):
    program_text, warnings = converted(config)
    program = compile_program(program_text)
    program.run(lines, filename)
    return program, warnings


# --- upstream configurations -----------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_upstream_config_converts_to_a_program_that_compiles(path: Path):
    program, _warnings = convert(path.read_text(encoding="utf-8"), path.name, library=library())
    compiled = compile_program(program, path.with_suffix(".mtail").name)
    assert compiled.metrics  # every upstream config declares a metric


def test_there_are_upstream_configs():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("name", ["example_config_v2.yml", "example_config_logstash_http_input_ipv6.yml"])
def test_exim_example_counts_what_grok_exporter_counts(name):
    program, _ = run_config((DATA / name).read_text(encoding="utf-8"), EXIM_LINES,
                            "/tmp/example/exim-rejected-RCPT-examples.log")
    counts = values(program, "exim_rejected_rcpt_total")
    # By error message; line 10 has no ": message" after the recipient and matches nothing.
    by_message = {key[-1]: n for key, n in counts.items()}
    assert by_message == {"relay not permitted": 10, "Unrouteable address": 4, "Sender verify failed": 5}
    if name == "example_config_v2.yml":  # logfile: '{{base .logfile}}'
        assert {key[0] for key in counts} == {"exim-rejected-RCPT-examples.log"}


def test_v2_example_header_gives_the_command_line():
    program, warnings = converted((DATA / "example_config_v2.yml").read_text(encoding="utf-8"))
    assert ("#   logmetrics run --progs grok_exporter.mtail "
            "--logs ./example/exim-rejected-RCPT-examples.log --from beginning "
            "--patterns ./logstash-patterns-core/patterns --listen localhost:9144") in program
    assert "#   EXIM_MESSAGE [a-zA-Z ]*" in program
    assert "(?P<message>[a-zA-Z ]*)" in program  # the inline pattern written out
    assert "# Total number of rejected recipients, partitioned by error message." in program
    assert warnings == []


def test_version_1_is_refused_clearly():
    with pytest.raises(ConvertError, match="config_version 1"):
        convert((DATA / "example_config_v1.yml").read_text(encoding="utf-8"), "v1.yml")


def test_kafka_and_webhook_inputs_warn():
    _, warnings = converted((DATA / "example_config-kafka.yml").read_text(encoding="utf-8"))
    assert "c.yml:6: warning: input type 'kafka' has no equivalent" in warnings[0]
    assert any("test_strings_total" in w for w in warnings)  # the counter's exported name
    webhook = DATA / "example_config_logstash_http_input_ipv6.yml"
    _, warnings = converted(webhook.read_text(encoding="utf-8"))
    assert any(w.startswith("c.yml:") and "input type 'webhook'" in w for w in warnings)


# --- the metric types, on CONFIG.md's examples ---------------------------------------------


def test_counter_counts_lines_by_label():
    config = example("counter", "grok_example_lines_total", "help: Example counter metric with labels.")
    program, warnings = run_config(config, ALICE_BOB)
    assert values(program, "grok_example_lines_total") == {("alice",): 3, ("bob",): 1}
    assert warnings == []


def test_counter_with_value_adds_it():
    program, _ = run_config(example("counter", "grok_example_values_total", "value: '{{.val}}'"), ALICE_BOB)
    assert values(program, "grok_example_values_total") == {("alice",): 6.5, ("bob",): 2.5}


@pytest.mark.parametrize("cumulative, alice", [("true", 6.5), ("false", 2.5)])
def test_gauge_last_value_or_cumulative(cumulative, alice):
    config = example("gauge", "grok_example_values", "value: '{{.val}}'", f"cumulative: {cumulative}")
    program, _ = run_config(config, ALICE_BOB)
    assert values(program, "grok_example_values") == {("alice",): alice, ("bob",): 2.5}


def test_histogram_buckets_as_documented():
    config = example("histogram", "grok_example_values", "help: Example histogram metric with labels.",
                     "value: '{{.val}}'", "buckets: [1, 2, 3]")
    program, _ = run_config(config, ALICE_BOB)
    text = exposition(program)
    for sample in ('grok_example_values_bucket{le="1",user="alice"} 0.0',
                   'grok_example_values_bucket{le="2",user="alice"} 1.0',
                   'grok_example_values_bucket{le="3",user="alice"} 3.0',
                   'grok_example_values_sum{user="alice"} 6.5',
                   'grok_example_values_count{user="bob"} 1.0'):
        assert sample in text


SUMMARY = example("summary", "grok_example_values", "value: '{{.val}}'",
                  "quantiles: {0.5: 0.05, 0.9: 0.01, 0.99: 0.001}", "max_age: 10m")


def test_summary_becomes_a_histogram_with_a_warning():
    program, warnings = run_config(SUMMARY, ALICE_BOB)
    assert "histogram grok_example_values by user buckets 0.005, 0.01," in converted(SUMMARY)[0]
    assert any("c.yml:7: warning: metric 'grok_example_values': a summary" in w for w in warnings)
    assert any("max_age" in w for w in warnings)
    assert 'grok_example_values_count{user="alice"} 3.0' in exposition(program)


def test_histogram_without_buckets_gets_grok_exporters_defaults():
    program, _ = converted(v3(metric("histogram", "h", "took %{NUMBER:s}", "value: '{{.s}}'")))
    assert "histogram h buckets 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10" in program


# --- templates ------------------------------------------------------------------------------


def test_templates_base_gsub_text_and_arithmetic():
    config = v3(metric("gauge", "g", "%{USER:user} took %{NUMBER:ms} ms", "value: '{{divide .ms 1000}}'",
                       "labels:", "    file: '{{base .logfile}}'", "    path: '{{.logfile}}'",
                       "    who: 'user {{.user}}!'", """    short: '{{gsub .user "ali" "beatri"}}'""",
                       "    const: 'web'"))
    program, warnings = run_config(config, ["alice took 250 ms"], "/var/log/example/a.log")
    assert warnings == []
    labels = ("a.log", "/var/log/example/a.log", "user alice!", "beatrice", "web")
    assert values(program, "g") == {labels: 0.25}


def test_template_with_no_equivalent_drops_the_label():
    config = v3(metric("counter", "c_total", "%{USER:user} %{NUMBER:n}", "labels:", "    user: '{{.user}}'",
                       """    alice: '{{if eq .user "alice"}}1{{else}}0{{end}}'""",
                       "    missing: '{{.nosuchfield}}'"))
    program, warnings = run_config(config, ["alice 1", "bob 2"])
    assert values(program, "c_total") == {("alice",): 1, ("bob",): 1}
    assert any(w.startswith("c.yml:12: warning: metric 'c_total': label 'alice': {{if eq .user")
               and "dropped" in w for w in warnings)
    assert any(w.startswith("c.yml:13: warning:") and "no field 'nosuchfield'" in w for w in warnings)


def test_value_with_no_equivalent():
    config = v3(metric("counter", "c_total", "%{USER:user} %{NUMBER:n}",
                       """value: '{{if eq .user "alice"}}1{{else}}0{{end}}'""")
                + metric("gauge", "g", "%{USER:user} %{NUMBER:n}", """value: '{{index .extra "x"}}'"""))
    program, warnings = run_config(config, ["alice 1", "bob 2"])
    assert values(program, "c_total") == {(): 2}  # counts lines instead
    assert values(program, "g") == {}  # never updated
    assert any("c.yml:10: warning: metric 'c_total': value:" in w and "counts matching lines" in w
               for w in warnings)
    assert any("c.yml:14: warning: metric 'g': value:" in w and "never updated" in w for w in warnings)


# --- expiry, deletion, per-metric paths --------------------------------------------------------


def test_retention_becomes_del_after():
    program, _ = converted(v3(metric("counter", "c_total", "%{USER:user}", "retention: 2h30m",
                                     "labels:", "    user: '{{.user}}'")))
    assert "  del c_total[$user] after 2h30m\n" in program


def test_delete_match_with_every_label_deletes_it():
    config = v3(metric("gauge", "sessions", "%{USER:user} logged in", "value: '1'",
                       "labels:", "    user: '{{.user}}'", "delete_match: '%{USER:user} logged out'",
                       "delete_labels:", "    user: '{{.user}}'"))
    program, warnings = run_config(config, ["alice logged in", "bob logged in", "alice logged out"])
    assert values(program, "sessions") == {("bob",): 1}
    assert warnings == []


def test_delete_match_with_some_labels_warns():
    program, warnings = converted(v3(metric(
        "counter", "c_total", "%{USER:user} %{WORD:action}", "labels:", "    user: '{{.user}}'",
        "    action: '{{.action}}'", "delete_match: '%{USER:user} gone'", "delete_labels:",
        "    user: '{{.user}}'")))
    assert "del" not in program
    assert any(w.startswith("c.yml:14: warning:") and "delete_labels must name every label" in w
               for w in warnings)


def test_per_metric_paths_restrict_by_file_name():
    config = v3(metric("counter", "c_total", "x", "path: /var/log/example/a*.log"))
    program_text, warnings = converted(config)
    assert any(w.startswith("c.yml:10: warning: metric 'c_total' applies to") for w in warnings)
    program = compile_program(program_text)
    program.run(["x"], "/var/log/example/a1.log")
    program.run(["x", "x"], "/var/log/example/b.log")
    assert values(program, "c_total") == {(): 1}


# --- other warnings ----------------------------------------------------------------------------


def test_section_warnings_carry_their_lines():
    config = textwrap.dedent("""\
        global:
            config_version: 3
            retention_check_interval: 10s
        input:
            type: stdin
        imports:
        - type: metrics
          file: /etc/grok/metrics.d/*.yaml
        - type: grok_patterns
          dir: ./patterns
        metrics:
        - type: counter
          name: lines
          match: 'x'
          colour: blue
        server:
            protocol: https
            port: 9999
            path: /custom
        extra: 1
        """)
    program, warnings = converted(config)
    expected = [
        "c.yml:20: warning: unknown section 'extra' ignored",
        "c.yml:3: warning: retention_check_interval",
        "c.yml:5: warning: input type stdin",
        "c.yml:7: warning: metrics imported from other files are not converted",
        "c.yml:17: warning: https",
        "c.yml:19: warning: server path '/custom'",
        "c.yml:15: warning: metric 'lines': unknown setting 'colour' ignored",
        "c.yml:13: warning: metric 'lines': logmetrics exports counters with a _total suffix, as lines_total",
    ]
    assert len(warnings) == len(expected)
    for warning, start in zip(warnings, expected, strict=True):
        assert warning.startswith(start), (warning, start)
    assert "--patterns ./patterns --listen :9999" in program


def test_metric_names_that_are_keywords_or_not_identifiers():
    program, _ = converted(v3(metric("gauge", "text", "%{NUMBER:n}", "value: '{{.n}}'")
                              + metric("gauge", "'ns:errors'", "%{NUMBER:n}", "value: '{{.n}}'")))
    assert 'gauge m_text as "text"' in program
    assert 'gauge ns_errors as "ns:errors"' in program
    assert compile_program(program).metrics["m_text"].export_name == "text"


def test_slashes_in_match_are_escaped():
    config = v3(metric("counter", "c_total", "GET /api/(?P<what>\\w+)", "labels:", "    what: '{{.what}}'"))
    program, _ = run_config(config, ["GET /api/users", "GET /other/x"])
    assert values(program, "c_total") == {("users",): 1}


# --- errors and the command line -------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("global: [unclosed", "c.yml:1: not valid YAML"),
    ("- a\n- b\n", "not a grok_exporter configuration"),
    ("", "not a grok_exporter configuration"),
    ("global:\n  config_version: 4\n", "c.yml:2: config_version 4 is not supported"),
    (V3_HEAD + "    - type: counter\n      match: x\n", "c.yml:7: a metric has no name"),
    (V3_HEAD + "    - name: c\n      match: x\n", "c.yml:7: metric 'c' has no type"),
    (V3_HEAD + "    - name: c\n      type: counter\n", "c.yml:7: metric 'c' has no match"),
    (V3_HEAD + "    - name: c\n      type: meter\n      match: x\n", "c.yml:8: metric 'c': unknown type"),
    (V3_HEAD + "    - name: g\n      type: gauge\n      match: x\n",
     "c.yml:7: metric 'g': a gauge needs a value"),
    (V3_HEAD + "    - {name: c, type: counter, match: x}\n    - {name: c, type: counter, match: y}\n",
     "c.yml:8: metric 'c' is defined twice"),
])
def test_errors(text, message):
    with pytest.raises(ConvertError) as info:
        convert(text, "c.yml")
    assert message in str(info.value)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed console script, run in ``cwd``."""
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_cli_writes_stdout_and_warnings_to_stderr(tmp_path):
    config = tmp_path / "grok.yml"
    config.write_text((DATA / "example_config-kafka.yml").read_text(encoding="utf-8"), encoding="utf-8")
    result = cli("convert", "grok-exporter", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Converted from the grok_exporter configuration")
    assert "--progs grok.mtail" in result.stdout
    assert f"{config}:6: warning: input type 'kafka'" in result.stderr


def test_cli_output_file_is_a_program_check_accepts(tmp_path):
    out_file = tmp_path / "exim.mtail"
    result = cli("convert", "grok-exporter", str(DATA / "example_config_v2.yml"), "-o", str(out_file),
                 cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "", result.stderr
    assert cli("check", "--progs", str(out_file), cwd=tmp_path).returncode == 0
    result = cli("dry-run", "-q", "--progs", str(out_file), str(EXIM_LOG), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ('exim_rejected_rcpt_total{error_message="relay not permitted",'
            'logfile="exim-rejected-RCPT-examples.log"} 10.0') in result.stdout


def test_cli_reports_what_does_not_compile(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text(v3("- {name: c_total, type: counter, match: '%{NOSUCHPATTERN}'}\n"), encoding="utf-8")
    result = cli("convert", "grok-exporter", str(config), cwd=tmp_path)
    assert result.returncode == 0
    assert "NOSUCHPATTERN" in result.stderr and "does not compile" in result.stderr


@pytest.mark.parametrize("text", ["global: [", "input:\n  type: file\n", "a: b\n"])
def test_cli_errors_exit_1(tmp_path, text):
    config = tmp_path / "c.yml"
    config.write_text(text, encoding="utf-8")
    result = cli("convert", "grok-exporter", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == "" and result.stderr.startswith(f"logmetrics: {config}")


def test_cli_missing_file_exits_1(tmp_path):
    result = cli("convert", "grok-exporter", str(tmp_path / "none.yml"), cwd=tmp_path)
    assert result.returncode == 1 and "cannot read" in result.stderr


def test_cli_help(tmp_path):
    out = cli("convert", "grok-exporter", "--help", cwd=tmp_path).stdout
    for option in ("CONFIG", "--output", "--patterns", "--no-check"):
        assert option in out


PATTERNS_V2 = """\
global:
    config_version: 2
input:
    type: file
    path: /var/log/app.log
grok:
    patterns_dir: ./patterns
metrics:
    - type: counter
      name: logins_total
      match: '%{MYUSER:user} logged in'
      labels:
          user: '{{.user}}'
"""


def header_command(program: str) -> list[str]:
    """The 'logmetrics run' command line of a converted program's header, as words."""
    line = next(line for line in program.splitlines() if line.startswith("#   logmetrics run "))
    return shlex.split(line.removeprefix("#   "))


def test_header_names_no_pattern_folder_that_does_not_exist(tmp_path):
    """grok_exporter's ./patterns is its copy of the Logstash patterns, usually not where the
    configuration is converted: the header must not send the user to a folder that is not there."""
    (tmp_path / "c.yml").write_text(PATTERNS_V2, encoding="utf-8")
    result = cli("convert", "grok-exporter", "c.yml", cwd=tmp_path)
    assert result.returncode == 0
    assert "--patterns" not in header_command(result.stdout)
    assert "# grok_exporter read grok patterns from ./patterns, which is not found here" in result.stdout
    assert "c.yml:7: warning: grok patterns ./patterns: not found" in result.stderr
    assert "MYUSER" in result.stderr  # the program needs a pattern that is nowhere: said too


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_header_points_at_the_patterns_found_beside_the_configuration(tmp_path, kind):
    """Found from the configuration's folder (grok_exporter's working folder), whatever the current
    one: the header's command works as written, from anywhere."""
    config_dir = tmp_path / "grok_exporter"
    (config_dir / "patterns").mkdir(parents=True)
    (config_dir / "patterns" / "users").write_text("MYUSER [a-z]+\n", encoding="utf-8")
    text = PATTERNS_V2
    if kind == "file":  # a version 3 import of one pattern file
        text = text.replace("    config_version: 2", "    config_version: 3").replace(
            "grok:\n    patterns_dir: ./patterns\n",
            "imports:\n    - type: grok_patterns\n      file: patterns/users\n")
    (config_dir / "c.yml").write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli("convert", "grok-exporter", str(config_dir / "c.yml"), "-o", "c.mtail", cwd=elsewhere)
    assert result.returncode == 0 and result.stderr == ""
    program = (elsewhere / "c.mtail").read_text(encoding="utf-8")
    words = header_command(program)
    found = config_dir / "patterns" / ("users" if kind == "file" else "")
    assert words[words.index("--patterns") + 1] == str(found.resolve())
    (tmp_path / "app.log").write_text("alice logged in\n", encoding="utf-8")
    patterns = words[words.index("--patterns"):words.index("--patterns") + 2]
    result = cli("dry-run", "-q", "--progs", "c.mtail", *patterns, str(tmp_path / "app.log"), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert 'logins_total{user="alice"} 1.0' in result.stdout


def test_per_metric_paths_hold_in_the_daemon(tmp_path):
    """The getfilename() guard of a metric with its own path, through `logmetrics run` itself."""
    from tests.cli.test_daemon import Daemon, wait_for

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("hello bob\nhello amy\n")
    (logs / "b.log").write_text("hello zed\n")
    config = v3(metric("counter", "a_lines_total", "hello %{WORD:who}", f"path: {logs / 'a.log'}",
                       "labels:", "    who: '{{.who}}'")
                + metric("counter", "all_lines_total", "hello"))
    program, _warnings = convert(config, "c.yml", "c.mtail", library())
    progs = tmp_path / "progs"
    progs.mkdir()
    (progs / "c.mtail").write_text(program)
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    try:
        assert wait_for(lambda: daemon.samples().get("all_lines_total") == 3.0)
        samples = daemon.samples()
        assert samples["a_lines_total{who=amy}"] == 1.0 and samples["a_lines_total{who=bob}"] == 1.0
        assert "a_lines_total{who=zed}" not in samples
    finally:
        assert daemon.stop() == 0
