"""The lexer: tokens, positions, regex literals, durations, errors."""

import pytest

from logmetrics.errors import CompileError
from logmetrics.lang.lexer import Kind, Lexer, parse_duration


def tokens(text: str) -> list[tuple[Kind, str]]:
    lexer = Lexer(text, "t.mtail")
    out = []
    while (tok := lexer.next()).kind is not Kind.EOF:
        out.append((tok.kind, tok.text))
    return out


def test_declaration_tokens_and_keywords():
    assert tokens('hidden counter x by a, "b" as "y"') == [
        (Kind.KEYWORD, "hidden"), (Kind.KEYWORD, "counter"), (Kind.ID, "x"),
        (Kind.KEYWORD, "by"), (Kind.ID, "a"), (Kind.OP, ","), (Kind.STRING, "b"),
        (Kind.KEYWORD, "as"), (Kind.STRING, "y"),
    ]


def test_operators_longest_match_first():
    assert [t for _, t in tokens("a <= b << c ** d += 1 =~ !~ && || ++ --")] == [
        "a", "<=", "b", "<<", "c", "**", "d", "+=", "1", "=~", "!~", "&&", "||", "++", "--",
    ]


def test_numbers_captures_and_decorators():
    assert tokens("$1 $name 3 0.5 1e3 @syslog") == [
        (Kind.CAPREF, "1"), (Kind.CAPREF, "name"), (Kind.INT, "3"), (Kind.FLOAT, "0.5"),
        (Kind.FLOAT, "1e3"), (Kind.DECO, "syslog"),
    ]


def test_builtin_only_when_called():
    assert tokens("len(x) len")[0] == (Kind.BUILTIN, "len")
    assert tokens("len(x) len")[-1] == (Kind.ID, "len")


def test_comments_and_newlines():
    assert tokens("a # comment /x/\nb") == [(Kind.ID, "a"), (Kind.NL, "\n"), (Kind.ID, "b")]


def test_string_escapes():
    assert tokens(r'"a\"b\\c\td"') == [(Kind.STRING, 'a"b\\c\td')]


def test_regex_literal_is_scanned_on_request():
    lexer = Lexer(r"/a\/b[/]c\d/ {", "t.mtail")
    slash = lexer.next()
    assert slash.text == "/"
    regex = lexer.regex(slash)
    assert regex.kind is Kind.REGEX
    assert regex.text == r"a/b[/]c\d"
    assert lexer.next().text == "{"


def test_positions_count_lines_and_columns():
    lexer = Lexer("a\n  bb", "f.mtail")
    lexer.next()
    lexer.next()
    tok = lexer.next()
    assert (tok.pos.line, tok.pos.col) == (2, 3)
    assert str(tok.pos) == "f.mtail:2:3"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('"abc', "1:1", "unterminated string"),
        ("a ` b", "1:3", "unexpected character"),
        ("$ x", "1:1", "capture name"),
        ("12abc", "1:1", "bad number"),
    ],
)
def test_errors_name_the_position(text, where, message):
    with pytest.raises(CompileError) as info:
        tokens(text)
    assert str(info.value).startswith(f"t.mtail:{where}: ")
    assert message in str(info.value)


def test_unterminated_regex():
    lexer = Lexer("/abc\n/", "t.mtail")
    with pytest.raises(CompileError, match=r"t.mtail:1:1: unterminated regex"):
        lexer.regex(lexer.next())


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("1h30m", 5400), ("500ms", 0.5), ("1.5s", 1.5)]
)
def test_durations(text, seconds):
    assert tokens(text) == [(Kind.DURATION, text)]
    assert parse_duration(text) == pytest.approx(seconds)
