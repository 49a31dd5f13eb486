"""Dialect translation: each rule proven by strings the source dialect matches or not."""

from __future__ import annotations

import pytest

from logmetrics.grok import RegexSyntaxError, compile_regex, make_identifier
from logmetrics.grok.translate import translate


def rx(pattern: str, dialect: str = "oniguruma"):
    return compile_regex(translate(pattern, dialect)).pattern  # type: ignore[arg-type]


def full(pattern: str, text: str, dialect: str = "oniguruma") -> bool:
    return rx(pattern, dialect).fullmatch(text) is not None


# --- names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ident"),
    [("[source][address]", "source_address"), ("a.b", "a_b"), ("@x", "_x"), ("-", "_"),
     ("[apache][error][proxy][error][code]?", "apache_error_proxy_error_code_"), ("1st", "_1st"),
     ("[http][response][status_code]", "http_response_status_code")],
)
def test_capture_names_become_identifiers(name, ident):
    assert make_identifier(name) == ident


@pytest.mark.parametrize("dialect", ["oniguruma", "re2"])
def test_named_groups_both_spellings(dialect):
    m = rx(r"(?<a>\d+)-(?P<b>x)", dialect).fullmatch("12-x")
    assert m.groupdict() == {"a": "12", "b": "x"}


def test_ecs_and_odd_group_names_are_mangled_and_repeats_renamed():
    m = rx(r"(?<[source][address]>\w+)\.(?<a.b>\w)(?'@x'y)|(?<a.b>z)").fullmatch("ab.cy")
    assert m.groupdict() == {"source_address": "ab", "a_b": "c", "_x": "y", "a_b__2": None}


# --- ASCII escapes ------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["oniguruma", "re2"])
def test_perl_classes_are_ascii(dialect):
    assert full(r"\d+", "42", dialect) and not full(r"\d+", "٣٤", dialect)
    assert full(r"\w+", "a_1", dialect) and not full(r"\w", "é", dialect)
    assert full(r"\s", " ", dialect) and not full(r"\s", "\u00a0", dialect)
    assert full(r"\D\W\S", "٣é\u00a0", dialect)
    assert full(r"[\d.]+", "1.5", dialect) and not full(r"[\d.]+", "١", dialect)
    assert full(r"[\W]", "é", dialect) and not full(r"[\W]", "a", dialect)
    # \b is an ASCII word boundary: between "é" and "x" there is one.
    assert rx(r"\bx", dialect).search("éx") and not rx(r"\bx", dialect).search("ax")


def test_re2_space_has_no_vertical_tab_oniguruma_has():
    assert not full(r"\s", "\v", "re2")
    assert full(r"\s", "\v", "oniguruma")


# --- Oniguruma rules ----------------------------------------------------------------


def test_h_is_a_hex_digit():
    assert full(r"\h+", "09afAF") and not full(r"\h", " ") and not full(r"\h", "g")
    assert full(r"\H", "g") and not full(r"\H", "a")
    assert full(r"[\h-]+", "ff-00")
    with pytest.raises(RegexSyntaxError, match=r"unsupported escape \\h") as info:
        translate(r"ab\h", "re2")
    assert info.value.offset == 2


def test_posix_brackets_are_unicode_aware_in_oniguruma():
    unixpath = rx(r"(/[[[:alnum:]]_%!$@:.,+~-]*)+")
    assert unixpath.fullmatch("/opt/Čierný_Peter/.中")
    assert not unixpath.fullmatch("/opt/a b")
    assert full(r"[[:alpha:]]+", "Čα") and not full(r"[[:alpha:]]", "1")
    assert full(r"[^[:space:]]+", "a\u00e9") and not full(r"[^[:space:]]", "\u2003")
    assert not full(r"[^[:space:]]", " ")
    assert full(r"[^[:alnum:]]", "-") and not full(r"[^[:alnum:]]", "Č")
    assert full(r"[[:digit:]]", "٣")
    assert full(r"[[:^alpha:]]", "1") and not full(r"[[:^alpha:]]", "Č")
    assert full(r"[[:alpha:]_]+", "_Č") and not full(r"[[:alpha:]_]", "1")
    assert full(r"[[:upper:]]", "Č") and not full(r"[[:upper:]]", "č")  # via \p{Uppercase}


def test_posix_brackets_are_ascii_in_re2():
    assert full(r"[[:alnum:]]+", "aZ9", "re2") and not full(r"[[:alnum:]]", "Č", "re2")
    assert not full(r"[[:alpha:]]", "Č", "re2")
    assert full(r"[[:print:]]+", "a ~", "re2") and not full(r"[[:print:]]", "\t", "re2")
    assert full(r"[^[:digit:]]", "٣", "re2")


def test_ruby_m_is_dotall_anywhere_and_scoped():
    assert full(r"a(?m).b", "a\nb") and not full(r"a.b", "a\nb")
    assert full(r"(?m)a.b", "a\nb")
    # Inside a group the switch ends with the group.
    assert full(r"(?:(?m).).", "\nx") and not full(r"(?:(?m).).", "\n\n")
    # Expanded mid-pattern, as in RAILS3HEAD after grok: no "global flag" error.
    assert full(r"x(?:(?m)Started .*)", "xStarted a\nb")
    # (?i) likewise: from where it stands to the end of its group, not before.
    assert full(r"x(?i)ab", "xAB") and not full(r"x(?i)ab", "XAB")
    assert full(r"(?:a(?i)b)c", "aBc") and not full(r"(?:a(?i)b)c", "aBC")


def test_oniguruma_isolated_flag_keeps_later_alternatives_inside():
    # Oniguruma: ab(?i)c|def == ab(?i:c|def)
    assert full(r"ab(?i)c|def", "abDEF") and not full(r"ab(?i)c|def", "def")


def test_re2_isolated_flag_ends_at_alternation():
    # RE2/Go: ab(?i)c|def == (?:ab(?i:c))|(?i:def)
    assert full(r"ab(?i)c|def", "abC", "re2") and full(r"ab(?i)c|def", "DEF", "re2")
    assert not full(r"ab(?i)c|def", "abdef", "re2")


def test_re2_flags():
    assert full(r"(?s)a.b", "a\nb", "re2") and not full(r"a.b", "a\nb", "re2")
    assert rx(r"(?m)^b$", "re2").search("a\nb\nc") and not rx(r"^b$", "re2").search("a\nb\nc")
    assert rx(r"(?U)a+", "re2").match("aaa").group() == "a"
    assert rx(r"(?U)a+?", "re2").match("aaa").group() == "aaa"


def test_ruby_anchors_are_line_anchors_and_re2_dollar_is_end_of_text():
    assert rx(r"^b$").search("a\nb\nc")
    assert not rx("a$", "re2").search("a\n")  # Python's $ would match before the \n
    assert rx("a$").search("a\n")


def test_atomic_possessive_lookaround_and_the_kept_typo():
    assert not full(r"(?>a+)a", "aaa")
    assert not full(r"a++a", "aaa")
    assert not full(r"a*+a", "aaa", "re2")  # accepted in RE2 text as an extension
    assert rx(r"(?<![0-9])\d+").search("x12").group() == "12"
    assert rx(r"(?!<[0-9])1").search("<1")  # TIME's typo: a lookahead for "<digit>"
    assert full(r"\x21+", "!!")
    assert full(r"\x{263a}\u263A", "☺☺")


def test_nested_repeat_is_a_repeat_of_a_group_in_oniguruma():
    assert full(r"a.?*", "axyz")  # SHOREWALL's ".?*"
    assert full(r"a{2}+", "aaaa") and not full(r"a{2}+", "aaa")  # Ruby: (?:a{2})+
    with pytest.raises(RegexSyntaxError, match="repeat of a repeat") as info:
        translate("a**", "re2")
    assert info.value.offset == 2


def test_end_anchors():
    assert full(r"a\z", "a") and not rx(r"a\z").search("a\n")
    assert rx(r"a\Z").search("a\n") and not rx(r"a\Z").search("a\nb")
    assert rx(r"\Aa").search("ab") and not rx(r"\Aa").search("ba")


def test_brackets_with_odd_members_compile_without_warnings():
    assert full(r"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]+", "a!#$%&'*+-/=?^_`{|}~")
    assert full(r"[]a]+", "]a")
    assert full(r"[&&x]+", "&x", "re2")
    assert full(r"[[a-c][x]]+", "abx") and not full(r"[[a-c][x]]", "d")


# --- RE2 rules ----------------------------------------------------------------------


def test_re2_quote_and_end():
    assert full(r"\Qa.b*\E+", "a.b*a.b*", "re2") and not full(r"\Qa.b\E", "axb", "re2")
    assert full(r"x[\Q]-\E]+", "x]-", "re2")
    assert rx(r"a\z", "re2").search("a") and not rx(r"a\z", "re2").search("a\n")


def test_re2_unicode_properties_use_the_regex_engine():
    compiled = compile_regex(translate(r"\p{Greek}+\PN\pL", "re2"))
    assert compiled.engine == "regex"
    assert compiled.pattern.fullmatch("αβxé") and not compiled.pattern.fullmatch("abxé")
    assert compile_regex(translate(r"\d+", "re2")).engine == "re"


def test_grok_like_text_without_expander_and_percent_repeat():
    assert full(r"%{2}", "%%", "re2")
    assert full(r"x{", "x{", "re2")


@pytest.mark.parametrize(
    ("pattern", "dialect", "offset", "message"),
    [
        (r"a\1", "re2", 1, "no backreferences"),
        (r"(a)\1", "re2", 3, "backreferences"),
        (r"(?=a)", "re2", 0, "lookaround"),
        (r"x(?=y)", "re2", 1, "no lookaround"),
        (r"x(?<!y)", "re2", 1, "no lookaround"),
        (r"(?>a)", "re2", 0, "no lookaround or atomic"),
        (r"a\Z", "re2", 1, "no \\Z"),
        (r"ab\G", "oniguruma", 2, "unsupported escape \\G"),
        (r"a\Gb", "oniguruma", 1, "\\G"),
        (r"\K", "oniguruma", 0, "unsupported escape \\K"),
        (r"a(?x)b", "oniguruma", 1, "inline flag 'x'"),
        (r"(?U)a", "oniguruma", 0, "inline flag 'U'"),
        (r"a[[:nope:]]", "re2", 2, "unknown POSIX class"),
        (r"[[:nope:]]", "oniguruma", 1, "unknown POSIX class"),
        (r"a[b&&c]", "oniguruma", 3, "intersection"),
        (r"ab[cd", "re2", 2, "not closed"),
        (r"[ab", "re2", 0, "not closed"),
        (r"(ab", "re2", 3, "not closed"),
        (r"(a", "re2", 2, "not closed"),
        (r"a)", "re2", 1, "unbalanced"),
        (r"ab)", "re2", 2, "unbalanced"),
        (r"*a", "re2", 0, "nothing to repeat"),
        (r"a|+", "oniguruma", 2, "nothing to repeat"),
        (r"a(?(1)b)", "oniguruma", 1, "unsupported group"),
        (r"a\k<nope>", "oniguruma", 1, "\\k<name>"),
        (r"[z-a]", "re2", 2, "out of order"),
        ("a\\", "re2", 1, "trailing backslash"),
    ],
)
def test_untranslatable_constructs_are_loud_errors_with_offsets(pattern, dialect, offset, message):
    with pytest.raises(RegexSyntaxError) as info:
        translate(pattern, dialect)
    assert message in info.value.message
    assert info.value.offset == offset


def test_the_engine_is_chosen_per_pattern():
    assert compile_regex(r"(?<=ab)c").engine == "re"
    assert compile_regex(r"(?<=a|bc)d").engine == "regex"  # variable-width lookbehind
    with pytest.raises(RegexSyntaxError) as info:
        compile_regex("a(b")
    assert "missing )" in info.value.message


def test_engine_errors_carry_the_engine_reason_and_offset():
    with pytest.raises(RegexSyntaxError) as info:
        compile_regex("(?P<a>x)(?P<a>y)")
    assert "redefinition of group name" in info.value.message
    assert info.value.offset > 0
    with pytest.raises(RegexSyntaxError, match="unknown property"):
        compile_regex(r"\p{NoSuchProperty}")


def test_compiled_regex_exposes_groups():
    compiled = compile_regex(translate(r"(?<a>x)(y)", "re2"))
    assert compiled.groupindex == {"a": 1}
    assert compiled.groups == 2
    assert compiled.engine == "re"
