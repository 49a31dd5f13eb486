"""The parser: the tree it builds for each construct, and its syntax errors."""

import glob

import pytest

from logmetrics.errors import CompileError
from logmetrics.lang import ast
from logmetrics.lang.parser import parse

MTAIL_EXAMPLES = sorted(glob.glob("/usr/share/doc/mtail/examples/*.mtail"))


def test_declarations_with_every_modifier():
    prog = parse(
        'hidden gauge g\ncounter c by a, b as "c-total"\n'
        "histogram h by x buckets 0.1, 1, 10\ncounter l by k limit 5\n",
        "t.mtail",
    )
    g, c, h, lim = prog.stmts
    assert (g.kind, g.name, g.hidden) == ("gauge", "g", True)
    assert (c.keys, c.export_name) == (["a", "b"], "c-total")
    assert h.buckets == [0.1, 1.0, 10.0]
    assert lim.limit == 5


def test_regex_concatenation_with_consts_across_lines():
    prog = parse("const A /a(?P<x>/\n/^/ + A +\n  /b)c/ {\n}\n", "t.mtail")
    cond = prog.stmts[1]
    assert isinstance(cond, ast.Cond)
    assert "".join(p.text for p in cond.cond.parts) == "^a(?P<x>b)c"
    # Each part remembers where it came from, for error positions.
    assert [(p.pos.line, p.pos.col) for p in cond.cond.parts] == [(2, 2), (1, 10), (3, 4)]


def test_division_is_not_a_regex():
    prog = parse("gauge g\n/x/ {\n g = 10 / 2 / 5\n}\n", "t.mtail")
    assign = prog.stmts[1].then.stmts[0].expr
    assert isinstance(assign, ast.Assign)
    assert isinstance(assign.value, ast.Binary) and assign.value.op == "/"
    assert isinstance(assign.value.left, ast.Binary)  # left-associative


def test_precedence():
    expr = parse("x = 1 + 2 * 3 ** 2\n", "t").stmts[0].expr.value
    assert expr.op == "+" and expr.right.op == "*" and expr.right.right.op == "**"
    cond = parse("/a/ && $x > 1 || !($y == 2) {\n}\n", "t").stmts[0].cond
    assert cond.op == "||" and cond.left.op == "&&" and isinstance(cond.right, ast.Unary)


def test_match_operators_and_else_otherwise():
    prog = parse(
        '$a =~ /x/ {\n} else {\n}\n$b !~ /y/ {\n}\notherwise {\n}\n', "t.mtail"
    )
    first, second, third = prog.stmts
    assert isinstance(first.cond, ast.Match) and first.orelse is not None
    assert second.cond.op == "!~"
    assert isinstance(third, ast.Otherwise)


def test_index_forms_and_postfix():
    prog = parse('c[$a][$b]++\nc[$a, "x"] += 2\n', "t.mtail")
    inc = prog.stmts[0].expr
    assert isinstance(inc, ast.IncDec) and len(inc.target.keys) == 2
    assert len(prog.stmts[1].expr.target.keys) == 2


def test_decorators_stop_next_and_del():
    prog = parse(
        "def d {\n /x/ {\n  next\n }\n}\n@d {\n stop\n}\ndel m[$a] after 1h\n", "t.mtail"
    )
    assert isinstance(prog.stmts[0], ast.DecoratorDef)
    assert isinstance(prog.stmts[1], ast.Decorated)
    assert isinstance(prog.stmts[1].body.stmts[0], ast.Stop)
    assert prog.stmts[2].after == 3600


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("counter\n", "1:8", "expected a name after 'counter'"),
        ("/a/ {\n x++\n", "1:5", "never closed"),
        ("x +\n", "2:1", "expected an expression"),
        ("/a/ {\n}\n} \n", "3:1", "unexpected '}'"),
        ("x\n", "1:1", "does nothing"),
        ("const C 3\n", "1:9", "a const must be a regex"),
        ("counter c by\n", "1:13", "expected a label name"),
        ("else {\n}\n", "1:1", "'else' without"),
        ("1 = 2\n", "1:3", "cannot assign"),
        ("/a/ + 3 {\n}\n", "1:7", "only regexes and consts"),
        ("x = 5 5\n", "1:7", "end of the statement"),
    ],
)
def test_syntax_errors_name_file_line_col(text, where, message):
    with pytest.raises(CompileError) as info:
        parse(text, "bad.mtail")
    assert str(info.value).startswith(f"bad.mtail:{where}: "), str(info.value)
    assert message in str(info.value)


@pytest.mark.skipif(not MTAIL_EXAMPLES, reason="mtail's examples are not installed")
@pytest.mark.parametrize("path", MTAIL_EXAMPLES, ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_mtail_example_parses(path):
    with open(path, encoding="utf-8") as f:
        prog = parse(f.read(), path)
    assert isinstance(prog, ast.Program)
