"""Checker and code generator: what compiled programs compute, and compile errors."""

import pytest

from logmetrics.errors import CompileErrors
from tests.helpers import compile_program, exposition, run, values


def test_counter_by_labels_from_named_and_numbered_captures():
    prog = run(
        "counter hits by method, code\n"
        "/^(?P<method>[A-Z]+) \\S+ (\\d{3})$/ {\n  hits[$method][$2]++\n}\n",
        ["GET / 200", "GET /a 200", "POST / 404", "garbage"],
    )
    assert values(prog, "hits") == {("GET", "200"): 2, ("POST", "404"): 1}
    assert prog.stats.lines_matched == 3


def test_capture_types_are_inferred_and_add_as_numbers():
    prog = run(
        "counter bytes\ngauge ratio\n"
        "/(?P<n>\\d+) (?P<f>\\d+\\.\\d+) (?P<s>\\S+)/ {\n"
        "  bytes += $n\n  ratio = $f * 2\n}\n",
        ["10 0.25 x", "32 1.5 y"],
    )
    assert values(prog, "bytes") == {(): 42}
    assert values(prog, "ratio") == {(): 3.0}


def test_else_and_otherwise():
    prog = run(
        "counter a\ncounter b\ncounter c\ncounter d\n"
        "/x/ {\n  a++\n} else {\n  b++\n}\n"
        "/^y/ {\n  c++\n}\notherwise {\n  d++\n}\n",
        ["x", "y", "z"],
    )
    # otherwise runs when no earlier conditional of its block matched (mtail gives the same)
    assert [values(prog, m)[()] for m in "abcd"] == [1, 2, 1, 1]


def test_nested_blocks_see_outer_captures_and_shadow_them():
    prog = run(
        "counter c by outer, inner\n"
        "/^(?P<word>\\w+) (?P<rest>.*)$/ {\n"
        "  $rest =~ /(?P<word>\\d+)/ {\n    c[$1][$word]++\n  }\n}\n",
        ["abc x12y", "def none"],
    )
    assert values(prog, "c") == {("12", "12"): 1}


def test_conditions_arithmetic_and_string_comparisons():
    prog = run(
        "counter big\ncounter dash\ngauge g\n"
        "/(?P<v>\\d+|-)/ {\n"
        '  $v == "-" {\n    dash++\n  }\n'
        '  $v != "-" && $v > 10 || $v == "3" {\n    big++\n  }\n'
        '  $v != "-" {\n    g = (int($v) + 2) * 3 / 2 - 1 % 1 + 2 ** 3\n  }\n'
        "}\n",
        ["5", "-", "12", "3"],
    )
    assert values(prog, "dash") == {(): 1}
    assert values(prog, "big") == {(): 2}
    assert values(prog, "g") == {(): (3 + 2) * 3 // 2 + 8}  # int division, as in mtail


def test_histogram_buckets_sum_and_count_in_exposition():
    prog = run(
        "histogram lat by m buckets 0.1, 1, 10\n"
        "/(?P<m>\\w+) (?P<t>\\d+\\.\\d+)/ {\n  lat[$m] = $t\n}\n",
        ["a 0.05", "a 0.1", "a 0.5", "a 50.0", "b 2.0"],
    )
    text = exposition(prog)
    assert 'lat_bucket{le="0.1",m="a"} 2.0' in text
    assert 'lat_bucket{le="1",m="a"} 3.0' in text
    assert 'lat_bucket{le="+Inf",m="a"} 4.0' in text
    assert 'lat_count{m="a"} 4.0' in text
    assert 'lat_sum{m="a"} 50.65' in text
    assert 'lat_bucket{le="10",m="b"} 1.0' in text
    assert "# TYPE lat histogram" in text


def test_exposition_names_hidden_and_as():
    prog = run(
        'counter requests as "http_requests"\nhidden gauge state\ngauge g\n'
        "/x/ {\n  requests++\n  state = 3\n  g = state + 1\n}\n",
        ["x"],
    )
    text = exposition(prog)
    assert "http_requests_total 1.0" in text
    assert "state" not in text
    assert "g 4.0" in text
    om = exposition(prog, "openmetrics")
    assert om.rstrip().endswith("# EOF")


def test_decorators_inline_with_captures_flowing_in():
    prog = run(
        "counter by_host by host\n"
        "def syslog {\n  /^(?P<host>\\w+) (?P<msg>.*)$/ {\n    next\n  }\n}\n"
        "@syslog {\n  $msg =~ /^error/ {\n    by_host[$host]++\n  }\n}\n",
        ["web1 error disk", "web1 ok", "web2 error net", "web1 error cpu"],
    )
    assert values(prog, "by_host") == {("web1",): 2, ("web2",): 1}


def test_stop_ends_the_program_for_that_line():
    prog = run(
        'counter after_stop\ngetfilename() !~ /access/ {\n  stop\n}\n/x/ {\n  after_stop++\n}\n',
        ["x", "x"],
        filename="/var/log/error.log",
    )
    assert values(prog, "after_stop") == {(): 0}
    prog = run(
        'counter after_stop\ngetfilename() !~ /access/ {\n  stop\n}\n/x/ {\n  after_stop++\n}\n',
        ["x", "x"],
        filename="/var/log/access.log",
    )
    assert values(prog, "after_stop") == {(): 2}


def test_builtins():
    prog = run(
        "counter c by a, b, c, d\ngauge n\ngauge t\n"
        '/^(?P<w>\\w+) (?P<hex>[0-9a-f]+) (?P<ts>\\S+)$/ {\n'
        '  c[tolower($w)][len($w)][subst("o", "0", $w)][subst(/[A-Z]/, "_", $w)]++\n'
        "  n = strtol($hex, 16) + int(\"2\") + float(\"0.5\")\n"
        '  strptime($ts, "2006-01-02T15:04:05Z07:00")\n'
        "  t = timestamp()\n}\n",
        ["FOO ff 2026-11-25T01:02:03+01:00"],
    )
    assert values(prog, "c") == {("foo", "3", "FOO", "___"): 1}
    assert values(prog, "n") == {(): 255 + 2 + 0.5}
    assert values(prog, "t") == {(): 1795564923}  # 2026-11-25T00:02:03Z


def test_del_removes_a_label_set():
    prog = run(
        "hidden gauge start by id\ncounter ended\n"
        "/start (?P<id>\\d+)/ {\n  start[$id] = 1\n}\n"
        "/end (?P<id>\\d+)/ {\n  ended++\n  del start[$id]\n}\n",
        ["start 1", "start 2", "end 1"],
    )
    assert values(prog, "start") == {("2",): 1}


def test_limit_evicts_the_oldest_label_set():
    prog = run("counter c by k limit 2\n/(?P<k>\\w+)/ {\n  c[$k]++\n}\n", ["a", "b", "a", "c"])
    assert values(prog, "c") == {("a",): 2, ("c",): 1} or values(prog, "c") == {("b",): 1, ("c",): 1}
    assert len(values(prog, "c")) == 2


def test_cardinality_guard_refuses_and_counts_overflow():
    prog = compile_program("counter c by k\n/(?P<k>\\w+)/ {\n  c[$k]++\n}\n")
    prog.metrics["c"].max_label_sets = 3
    prog.run(["a", "b", "c", "d", "e", "a"], "x")
    assert values(prog, "c") == {("a",): 2, ("b",): 1, ("c",): 1}
    assert prog.metrics["c"].overflow == 2


def test_runtime_error_is_counted_and_the_next_line_runs():
    prog = run(
        "counter c\ncounter total\n/(?P<v>\\S+)/ {\n  total++\n  c += $v\n}\n",
        ["1", "oops", "2"],
    )
    assert values(prog, "c") == {(): 3}
    assert values(prog, "total") == {(): 3}
    assert prog.stats.runtime_errors == 1
    assert "oops" in prog.stats.recent_errors[0]


def test_unmatched_lines_are_reported():
    prog = compile_program("counter c\n/x/ {\n  c++\n}\n")
    missed: list[int] = []
    assert prog.run(["x", "y", "zx", "q"], "f", missed) == 2
    assert missed == [1, 3]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("/x/ {\n  nope++\n}\n", "2:3", "unknown metric or variable 'nope'"),
        ("counter c by a\n/x/ {\n  c++\n}\n", "3:3", "has 1 label(s) (a) but 0 value(s)"),
        ("counter c\n/x/ {\n  c[1]++\n}\n", "3:3", "has no labels"),
        ("counter c by a\n/(?P<x>.)/ {\n  c[$y]++\n}\n", "3:5", "no capture named 'y'"),
        ("counter c by a\n/x/ {\n  c[$1]++\n}\n", "3:5", "no group 1"),
        ("@nope {\n}\n", "1:1", "unknown decorator @nope"),
        ("/x/ {\n  next\n}\n", "2:3", "'next' is only allowed inside a decorator"),
        ("histogram h\n", "1:1", "needs 'buckets'"),
        ("counter c\ncounter c\n", "2:1", "already declared"),
        ("counter c\n/x/ {\n  c[\n", "4:1", "expected an expression"),
        ("histogram h buckets 1, 2\n/x/ {\n  h++\n}\n", "3:4", "'++' does not apply to histogram"),
        ("counter c\n/a(b/ {\n  c++\n}\n", "2:", "bad regex"),
    ],
)
def test_compile_errors_name_file_line_col(text, where, message):
    with pytest.raises(Exception) as info:
        compile_program(text, "bad.mtail")
    errors = info.value.errors if isinstance(info.value, CompileErrors) else [info.value]
    rendered = [str(e) for e in errors]
    assert any(r.startswith(f"bad.mtail:{where}") and message in r for r in rendered), rendered


def test_all_errors_are_reported_together():
    with pytest.raises(CompileErrors) as info:
        compile_program("/x/ {\n  a++\n  b++\n}\n", "bad.mtail")
    assert [str(e)[:11] for e in info.value.errors] == ["bad.mtail:2", "bad.mtail:3"]


def test_bad_regex_error_points_into_the_right_literal():
    with pytest.raises(CompileErrors) as info:
        compile_program("counter c\n/ok/ +\n  /(unclosed/ {\n  c++\n}\n", "bad.mtail")
    error = info.value.errors[0]
    assert (error.pos.line, error.message.startswith("bad regex")) == (3, True)


@pytest.mark.parametrize("stamps", [False, True])
def test_a_bad_time_is_a_runtime_error_whether_or_not_the_time_is_read(stamps):
    """Without timestamp() or --emit-metric-timestamp the time is only checked, not worked out,
    and a line whose time does not parse still stops there, as when the time is read."""
    from logmetrics.runtime.program import Program
    from tests.helpers import library

    prog = Program.compile(
        "counter c by k\n"
        '/^(?P<t>\\S+) (?P<k>\\w+)/ {\n  strptime($t, "2006-01-02T15:04:05Z07:00")\n  c[$k]++\n}\n',
        "t.mtail", library(), stamps=stamps,
    )
    assert ("_strptime_into" in prog.source) is stamps  # the value is worked out only when read
    prog.run(["2026-11-25T00:00:00Z a", "2026-11-25T00:00:01Z a", "2026-11-25T00:00:99Z a",
              "2026-13-25T00:00:02Z b", "2026-11-25T00:00:02Z b"], "x")
    assert values(prog, "c") == {("a",): 2, ("b",): 1}
    assert prog.stats.runtime_errors == 2


def test_metric_timestamps_from_strptime_when_asked():
    from logmetrics.exposition.render import render
    from logmetrics.runtime.engine import Runtime
    from logmetrics.runtime.program import Program
    from tests.helpers import library

    prog = Program.compile(
        "counter c by k\n"
        '/^(?P<t>\\S+) (?P<k>\\w+)/ {\n  strptime($t, "2006-01-02T15:04:05Z07:00")\n  c[$k]++\n}\n',
        "t.mtail", library(), stamps=True,
    )
    prog.run(["2026-11-25T00:00:00Z a", "2026-11-25T00:00:10Z a", "2026-11-25T00:00:05Z b"], "x")

    text = render(Runtime([prog]).store, timestamps=True)
    assert 'c_total{k="a"} 2.0 1795564810000' in text
    assert 'c_total{k="b"} 1.0 1795564805000' in text
    assert 'c_total{k="a"} 2.0\n' in render(Runtime([prog]).store)  # off by default


def test_del_forgets_the_line_time_of_a_label_set_too():
    from logmetrics.exposition.render import render
    from logmetrics.runtime.engine import Runtime
    from logmetrics.runtime.program import Program
    from tests.helpers import library

    prog = Program.compile(
        "counter c by k\n"
        '/^(?P<t>\\S+) set (?P<k>\\w+)/ {\n  strptime($t, "2006-01-02T15:04:05Z07:00")\n  c[$k]++\n}\n'
        "/^del (?P<k>\\w+)/ {\n  del c[$k]\n}\n"
        "/^count (?P<k>\\w+)/ {\n  c[$k]++\n}\n",
        "t.mtail", library(), stamps=True,
    )
    prog.run(["2026-11-25T00:00:00Z set a", "del a", "count a"], "x")

    # The series made again after del has no line time: it shows none, not the deleted one's.
    assert 'c_total{k="a"} 1.0\n' in render(Runtime([prog]).store, timestamps=True)


def test_del_after_expires_idle_label_sets():
    prog = run(
        "gauge sessions by id\n"
        "/open (?P<id>\\d+)/ {\n  sessions[$id] = 1\n  del sessions[$id] after 1h\n}\n"
        "/touch (?P<id>\\d+)/ {\n  sessions[$id] = 2\n}\n",
        ["open 1", "open 2"],
    )
    metric = prog.metrics["sessions"]
    metric.updated[("1",)] -= 7200  # session 1 idle for two hours
    prog.run(["touch 2"], "x")
    import time

    assert metric.expire(time.time()) == 1
    assert dict(metric.values) == {("2",): 2}


def test_a_runaway_regex_costs_its_time_budget_not_the_pipeline():
    prog = compile_program("counter ok\ncounter evil\n/^(a|aa)+$/ {\n  evil++\n}\n/^ok/ {\n  ok++\n}\n")
    assert len(prog.guarded) == 1 and prog.guarded[0].line == 3
    # In re, either runaway line would take longer than the universe: that the run returns
    # at all, with both lines given up and the others counted, is the proof.
    prog.run(["a" * 60 + "b", "ok 1", "aaaa", "a" * 70 + "c", "ok 2"], "x")
    assert values(prog, "evil") == {(): 1}
    assert values(prog, "ok") == {(): 2}
    assert prog.stats.regex_timeouts == 2


def test_safe_patterns_stay_on_the_fast_engine():
    prog = compile_program('counter c\n/^(\\S+) \\S+ "(?:GET|POST) [^"]*" (\\d{3})/ {\n  c++\n}\n')
    assert prog.guarded == []
