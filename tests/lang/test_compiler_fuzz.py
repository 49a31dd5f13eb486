"""Random and mutated programs: the compiler answers with file:line:col or succeeds.

Never a traceback: any exception other than a positioned compile error fails.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logmetrics.errors import CompileError, CompileErrors
from tests.helpers import REPO, compile_program

POSITIONED = re.compile(r"^fuzz\.mtail:\d+:\d+: \S")

SEEDS = [p.read_text(encoding="utf-8") for p in sorted((REPO / "programs").glob("*.mtail"))]
MTAIL_EXAMPLES = sorted(glob.glob("/usr/share/doc/mtail/examples/*.mtail"))
SEEDS += [Path(p).read_text(encoding="utf-8") for p in MTAIL_EXAMPLES]
SEEDS += [
    "counter c by a\n/(?P<x>\\d+) %{IP:ip}/ && $x > 1 {\n  c[$ip]++\n} else {\n  c[\"-\"] += 2\n}\n",
    "def d {\n  /^(?P<t>\\S+) / {\n    next\n  }\n}\n@d {\n  otherwise {\n    stop\n  }\n}\n",
    "histogram h buckets 1, 2\ngauge g\n/(\\d+)/ {\n  h = $1 / 3\n  g = strtol($1, 8) ** 2\n}\n",
]

TOKENS = [
    "counter", "gauge", "histogram", "hidden", "text", "timer", "by", "as", "buckets", "limit",
    "const", "def", "next", "else", "otherwise", "del", "after", "stop", "{", "}", "[", "]", "(", ")",
    "/", "/x/", "/(?P<a>\\d+)/", "/%{IP:b}/", "/%{NOPE}/", "/(/", "$a", "$1", "$b", "c", "c[$a]", "++",
    "--", "+=", "=", "==", "!=", "<", ">=", "=~", "!~", "&&", "||", "!", "+", "-", "*", "**", "%", ",",
    "1", "2.5", "24h", '"s"', "\n", " ", "@d", "len(", "strptime(", "tolower(", "subst(", "#x\n", "\\",
    "\"", "'", "`", "$", "@", "{}", "\t", "é", "%{", ":int}",
]


def assert_compiles_or_reports_position(text: str) -> None:
    try:
        compile_program(text, "fuzz.mtail")
    except CompileErrors as exc:
        assert exc.errors
        for error in exc.errors:
            assert POSITIONED.match(str(error)), str(error)
    except CompileError as exc:
        assert POSITIONED.match(str(exc)), str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_random_token_soup(tokens):
    assert_compiles_or_reports_position(" ".join(tokens))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_real_programs(seed, data):
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        if action == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 10)):]
        elif action == "insert":
            text = text[:at] + data.draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            text = text[:at] + data.draw(st.text(max_size=3)) + text[at + 1:]
    assert_compiles_or_reports_position(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    assert_compiles_or_reports_position(text)
