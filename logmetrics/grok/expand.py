"""Expanding grok references inside a user's regex into one Python regex.

In a regex literal (RE2 dialect, as mtail's), ``%{NAME}`` inserts pattern
NAME from the library as a non-capturing group; ``%{NAME:capture}`` also
captures it; ``%{NAME:capture:int}`` and ``%{NAME:capture:float}`` type the
capture. As in Logstash, captures named *inside* definitions are captures of
the whole regex too (``%{IPORHOST:clientip}`` inside HTTPD_COMMONLOG, raw
``(?<name>...)`` groups), unnamed references and plain groups in definitions
capture nothing, and the user's own ``(?P<x>...)`` groups are captures.

Capture names and program variables
-----------------------------------
A capture is read in a program as ``$variable``. The variable is the capture
name with:

1. ECS brackets joined by ``_``: ``[source][address]`` -> ``source_address``,
   ``[http][response][status_code]`` -> ``http_response_status_code``;
2. every other character outside ``A-Z a-z 0-9 _`` replaced by ``_``:
   ``a.b`` -> ``a_b``, ``@timestamp`` -> ``_timestamp``, ``my-field`` ->
   ``my_field``;
3. a ``_`` put in front of a leading digit.

Names that map to the same variable are one capture. A capture that appears
more than once (``HTTPD_ERRORLOG`` is an alternation of two formats that
both capture ``clientip``) has one Python group per occurrence, named
``clientip``, ``clientip__2``, ...; at run time the first group that took
part in the match gives the value.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

from logmetrics.grok.library import PatternDef, PatternLibrary
from logmetrics.grok.translate import Dialect, RegexSyntaxError, make_identifier, translate

CaptureType = Literal["int", "float"]
TYPES: tuple[CaptureType, ...] = ("int", "float")

# Expansion marks each group or reference in the translated text with "\0<kind><n>\0":
# translate() writes a NUL only this way (a NUL in a pattern comes out as "\x00").
_MARK = "\0"


class GrokError(RegexSyntaxError):
    """A grok reference that cannot be expanded; ``offset`` points into the user's text."""


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture of an expanded regex, by the program variable it sets.

    ``groups``: its Python group names, first that took part wins; ``type``:
    the grok type suffix; ``grok_name``: the capture name as first written
    (``[source][address]``); ``pattern``: the grok pattern it captures
    (``IPORHOST``), None for a raw named group.
    """

    groups: tuple[str, ...]
    type: CaptureType | None = None
    grok_name: str | None = None
    pattern: str | None = None


@dataclass
class Expansion:
    """The Python regex (for compile_regex) and its captures by variable name."""

    regex: str
    captures: dict[str, Capture] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Open:
    """The start of a named group in an expanded body; its Python name is given at render."""

    name: str
    type: CaptureType | None
    pattern: str | None


_Part = str | _Open
_Body = tuple[_Part, ...]


class _DefinitionError(Exception):
    """An error inside a definition; the top-level reference gives it an offset."""


def expand(text: str, library: PatternLibrary, dialect: Dialect = "re2") -> Expansion:
    """Expand every ``%{...}`` of ``text`` and translate the whole to Python syntax.

    Raises :class:`GrokError` for a bad reference (its offset is that of the
    reference in ``text``), :class:`RegexSyntaxError` for the user's own regex.

    >>> e = expand("%{INT:n:int} %{WORD}", PatternLibrary.load())
    >>> e.captures["n"].type
    'int'
    """
    subs: list[tuple[str | None, CaptureType | None, str | None, _Body]] = []

    def on_grok(match: re.Match[str], offset: int) -> str:
        try:
            name, capture, kind = _reference(match, library)
            subs.append((capture, kind, name, _body(library, name, (name,))))
        except _DefinitionError as exc:
            raise GrokError(str(exc), offset) from None
        return f"{_MARK}{len(subs) - 1}{_MARK}"

    def on_group(name: str, _offset: int) -> str:
        subs.append((name, None, None, ()))
        return f"{_MARK}{len(subs) - 1}{_MARK}"

    translated = translate(text, dialect, on_grok=on_grok, on_group=on_group)
    return _render(_assemble(translated, subs))


def _reference(match: re.Match[str], library: PatternLibrary) -> tuple[str, str | None, CaptureType | None]:
    """(pattern name, capture, type) of a reference; errors for bad ones."""
    name, capture, kind, rest = match.group("name", "capture", "type", "rest")
    if capture == "":
        raise _DefinitionError(f"empty capture name in {match.group()}")
    # Logstash ignores what follows the field up to "}"; another ":part" is a mistake to report.
    if rest and rest.lstrip().startswith(":"):
        raise _DefinitionError(f"bad grok reference {match.group()}: expected %{{NAME}}, "
                               "%{NAME:capture} or %{NAME:capture:int|float}")
    if kind is not None and kind not in TYPES:
        raise _DefinitionError(f"bad type {kind!r} in {match.group()}: grok types are int and float")
    if name not in library:
        close = difflib.get_close_matches(name, list(library), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise _DefinitionError(f"unknown pattern {name}{hint}")
    return name, capture, kind


def _body(library: PatternLibrary, name: str, chain: tuple[str, ...]) -> _Body:
    """The expanded, translated body of pattern ``name``; cached in the library."""
    cached: _Body | None = library.cache.get(name)  # the library keeps what this module put there
    if cached is not None:
        return cached
    definition: PatternDef = library[name]
    subs: list[tuple[str | None, CaptureType | None, str | None, _Body]] = []

    def on_grok(match: re.Match[str], _offset: int) -> str:
        ref, capture, kind = _reference_in(match, library, definition)
        if ref in chain:
            cycle = " -> ".join((*chain[chain.index(ref):], ref))
            raise _DefinitionError(f"pattern {ref} refers to itself: {cycle}")
        subs.append((capture, kind, ref, _body(library, ref, (*chain, ref))))
        return f"{_MARK}{len(subs) - 1}{_MARK}"

    def on_group(group: str, _offset: int) -> str:
        subs.append((group, None, None, ()))
        return f"{_MARK}{len(subs) - 1}{_MARK}"

    try:
        translated = translate(definition.body, "oniguruma", on_grok=on_grok, on_group=on_group,
                               plain_groups_capture=False)
    except RegexSyntaxError as exc:
        raise _DefinitionError(f"in pattern {name} ({definition.where}): {exc.message} "
                               f"(column {definition.col + exc.offset})") from None
    body = _assemble(translated, subs)
    library.cache[name] = body
    return body


def _reference_in(match: re.Match[str], library: PatternLibrary,
                  definition: PatternDef) -> tuple[str, str | None, CaptureType | None]:
    try:
        return _reference(match, library)
    except _DefinitionError as exc:
        raise _DefinitionError(f"{exc}, in pattern {definition.name} ({definition.where})") from None


def _assemble(translated: str, subs: list[tuple[str | None, CaptureType | None, str | None, _Body]]
              ) -> _Body:
    """Replace the marks of ``translated`` with groups and the bodies they stand for."""
    pieces = translated.split(_MARK)
    parts: list[_Part] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            parts.append(piece)
            continue
        capture, kind, pattern, body = subs[int(piece)]
        if pattern is None:  # a raw named group: translate wrote "(?P<" mark ">"
            parts[-1] = parts[-1].removesuffix("(?P<")  # type: ignore[union-attr]
            parts.append(_Open(capture or "", None, None))
            pieces[i + 1] = pieces[i + 1].removeprefix(">")
        elif capture is None:
            parts.extend(("(?:", *body, ")"))
        else:
            parts.extend((_Open(capture, kind, pattern), *body, ")"))
    return tuple(p for p in parts if p != "")


def _render(body: _Body) -> Expansion:
    """Name the groups (``x``, ``x__2``...) and collect the captures."""
    out: list[str] = []
    used: set[str] = set()
    found: dict[str, list[_Open]] = {}
    groups: dict[str, list[str]] = {}
    for part in body:
        if isinstance(part, str):
            out.append(part)
            continue
        var = make_identifier(part.name)
        group, n = var, 1
        while group in used:
            n += 1
            group = f"{var}__{n}"
        used.add(group)
        found.setdefault(var, []).append(part)
        groups.setdefault(var, []).append(group)
        out.append(f"(?P<{group}>")
    captures = {}
    for var, opens in found.items():
        kinds = {o.type for o in opens if o.type is not None}
        kind: CaptureType | None = ("float" if "float" in kinds else "int") if kinds else None
        pattern = next((o.pattern for o in opens if o.pattern is not None), None)
        captures[var] = Capture(tuple(groups[var]), kind, opens[0].name, pattern)
    return Expansion("".join(out), captures)
