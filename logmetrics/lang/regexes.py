"""Regex literals of a program: join, expand grok, compile, describe the captures.

A pattern node is a list of regex literals and consts joined with ``+``. Its
text is joined first (a part alone may be half a group), then grok
references are expanded, then the engine is chosen (stdlib ``re`` where it
can, ``regex`` where it must). Each capture is described for the checker
and the code generator: which groups hold it, whether it can be missing on a
successful match, and the type mtail infers for it (``(\\d+)`` is an int).
"""

from __future__ import annotations

import re
import re._constants as sre_c  # private but stable across 3.11+: the parse tree's opcodes
import re._parser as sre_parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logmetrics.errors import CompileError, Position
from logmetrics.grok import Expansion, GrokError, PatternLibrary, RegexSyntaxError, compile_regex
from logmetrics.grok.expand import expand
from logmetrics.lang import ast
from logmetrics.lang.namespace import Regex, searcher
from logmetrics.lang.sites import CaptureInfo


@dataclass(slots=True)
class CompiledPattern:
    """A compiled pattern node: its regex object and its captures by name.

    ``guarded`` patterns could backtrack catastrophically (a repeated group that
    holds another repetition or an alternation): they run on the ``regex``
    engine with a time budget per search, so one pathological line costs
    :data:`TIME_BUDGET` seconds and a runtime error, not a stalled pipeline.
    """

    regex: Regex  # a compiled re.Pattern or regex.Pattern
    source: str  # the Python-syntax regex, for messages and dumps
    engine: str
    captures: dict[str, CaptureInfo]
    guarded: bool = False

    @property
    def search(self) -> Callable[[str], Any]:
        """The search function compiled programs call."""
        return searcher(self.regex, self.guarded)


def _join(node: ast.Pattern) -> tuple[str, list[tuple[int, Position]]]:
    """The joined text, and where each part starts, to map offsets back to the file."""
    starts: list[tuple[int, Position]] = []
    text = ""
    for part in node.parts:
        starts.append((len(text), part.pos))
        text += part.text
    return text, starts


def _position(starts: list[tuple[int, Position]], offset: int) -> Position:
    base, pos = starts[0]
    for start, part_pos in starts:
        if start <= offset:
            base, pos = start, part_pos
    return Position(pos.file, pos.line, pos.col + max(0, offset - base))


def compile_pattern(node: ast.Pattern, library: PatternLibrary, keep: frozenset[str] | None = None
                    ) -> CompiledPattern:
    """Compile a pattern node; errors name the file, line and column of the culprit.

    With ``keep``, named captures outside it become non-capturing groups: a
    grok pattern like HTTPD_COMBINEDLOG captures a dozen fields, and a program
    that reads two of them should not pay for the other ten on every line.
    """
    text, starts = _join(node)
    try:
        expansion = expand(text, library, dialect="re2")
    except GrokError as exc:
        raise CompileError(_position(starts, exc.offset), f"grok: {exc.message}") from None
    except RegexSyntaxError as exc:
        raise CompileError(_position(starts, exc.offset), f"bad regex: {exc.message}") from None
    if keep is not None:
        expansion.regex = _drop_captures(expansion, keep)
    try:
        compiled = compile_regex(expansion.regex)
    except RegexSyntaxError as exc:
        # The offset is into the expanded text; it maps back exactly when no grok was used.
        offset = exc.offset if expansion.regex == text else 0
        raise CompileError(_position(starts, offset), f"bad regex: {exc.message}") from None
    regex = compiled.pattern
    shapes = _group_shapes(expansion.regex) if compiled.engine == "re" else {}
    guarded = compiled.engine == "regex" or _may_backtrack(expansion.regex)
    if guarded and compiled.engine == "re":
        import regex as regex_engine  # only for the few patterns that need a time budget

        # No ASCII flag: the translated text spells out its ASCII classes itself.
        regex = regex_engine.compile(expansion.regex, regex_engine.V0)
    captures: dict[str, CaptureInfo] = {}
    for number in range(1, compiled.groups + 1):
        optional, kind = shapes.get(number, (True, "string"))
        captures[str(number)] = CaptureInfo((number,), kind, optional)
    index = dict(compiled.groupindex)
    for var, cap in expansion.captures.items():
        numbers = tuple(index[g] for g in cap.groups if g in index)
        if not numbers:
            continue
        kinds = {shapes.get(n, (True, "string"))[1] for n in numbers}
        inferred = kinds.pop() if len(kinds) == 1 else "string"
        kind = cap.type or inferred
        optional = len(numbers) > 1 or any(shapes.get(n, (True, ""))[0] for n in numbers)
        captures[var] = CaptureInfo(numbers, kind, optional)
    engine = "regex" if guarded else compiled.engine
    return CompiledPattern(regex, expansion.regex, engine, captures, guarded)


def _drop_captures(expansion: Expansion, keep: frozenset[str]) -> str:
    """The expanded regex with the named groups of unused captures made non-capturing."""
    regex = expansion.regex
    for var, capture in expansion.captures.items():
        if var in keep:
            continue
        for group in capture.groups:
            if f"(?P={group})" not in regex:  # a backreference needs its group
                regex = regex.replace(f"(?P<{group}>", "(?:")
    return regex


# --- catastrophic backtracking --------------------------------------------------


def _may_backtrack(pattern: str) -> bool:
    """True for a repeated group that holds another repetition or an alternation,
    the shape of catastrophic backtracking (``(a+)+``, ``(a|aa)*``, ``(\\w+\\s?)*``).

    Atomic groups and possessive repeats cannot backtrack into, so they are safe.
    """
    try:
        tree = sre_parse.parse(pattern)
    except re.error:
        return True
    return _risky(tree, inside_repeat=False)


def _risky(items: Any, inside_repeat: bool) -> bool:
    """Only unbounded repeats count: a bounded one (``{1,4}``) cannot blow up."""
    for op, av in items:
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            _low, high, sub = av
            unbounded = high is sre_c.MAXREPEAT
            if inside_repeat and unbounded:
                return True
            if _risky(sub, inside_repeat or unbounded):
                return True
        elif op is sre_c.BRANCH:
            if inside_repeat or any(_risky(branch, inside_repeat) for branch in av[1]):
                return True
        elif op is sre_c.SUBPATTERN:
            if _risky(av[3], inside_repeat):
                return True
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            if _risky(av[1], inside_repeat):
                return True
        elif op is sre_c.GROUPREF_EXISTS and (
            _risky(av[1], inside_repeat) or (av[2] is not None and _risky(av[2], inside_repeat))
        ):
            return True
        # ATOMIC_GROUP and POSSESSIVE_REPEAT: no backtracking into them.
    return False


# --- capture shapes -----------------------------------------------------------

_DIGITS = frozenset("0123456789")
_REPEATS = (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", sre_c.MAX_REPEAT))


def _group_shapes(pattern: str) -> dict[int, tuple[bool, str]]:
    """For each group number: (may be unset on a match, inferred type)."""
    try:
        tree = sre_parse.parse(pattern)
    except re.error:
        return {}
    shapes: dict[int, tuple[bool, str]] = {}
    _walk(tree, False, shapes)
    return shapes


def _walk(items: Any, optional: bool, shapes: dict[int, tuple[bool, str]]) -> None:
    for op, av in items:
        if op is sre_c.SUBPATTERN:
            group, _add, _del, sub = av
            if group is not None:
                shapes[group] = (optional, _infer_type(sub))
            _walk(sub, optional, shapes)
        elif op is sre_c.BRANCH:
            for branch in av[1]:
                _walk(branch, True, shapes)
        elif op in _REPEATS:
            low, _high, sub = av
            _walk(sub, optional or low == 0, shapes)
        elif op is sre_c.ATOMIC_GROUP:
            _walk(av, optional, shapes)
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            _walk(av[1], True, shapes)
        elif op is sre_c.GROUPREF_EXISTS:
            _cond, yes, no = av
            _walk(yes, True, shapes)
            if no is not None:
                _walk(no, True, shapes)


def _infer_type(sub: Any) -> str:
    """mtail's inference: only digits is an int; digits and a literal dot is a float.

    Anything else (a sign, ``-`` for "none", ``.``, ``\\S``, letters) is a string,
    converted at run time where a number is needed.
    """
    chars: set[str] = set()
    if not _collect_chars(sub, chars) or not chars & _DIGITS:
        return "string"
    rest = chars - _DIGITS
    if not rest:
        return "int"
    if rest == {"."}:
        return "float"
    return "string"


def _collect_chars(items: Any, chars: set[str]) -> bool:
    """Add every character the subpattern can match; False if that set is open-ended."""
    for op, av in items:
        if op is sre_c.LITERAL:
            chars.add(chr(av))
        elif op is sre_c.IN:
            for cop, cav in av:
                if cop is sre_c.LITERAL:
                    chars.add(chr(cav))
                elif cop is sre_c.RANGE:
                    low, high = cav
                    if high - low > 20:
                        return False
                    chars.update(chr(c) for c in range(low, high + 1))
                elif cop is sre_c.CATEGORY and cav is sre_c.CATEGORY_DIGIT:
                    chars.update(_DIGITS)
                else:
                    return False
        elif op in _REPEATS:
            if not _collect_chars(av[2], chars):
                return False
        elif op is sre_c.SUBPATTERN:
            if not _collect_chars(av[3], chars):
                return False
        elif op is sre_c.BRANCH:
            for branch in av[1]:
                if not _collect_chars(branch, chars):
                    return False
        elif op is sre_c.ATOMIC_GROUP:
            if not _collect_chars(av, chars):
                return False
        elif op is not sre_c.AT:
            return False
    return True
