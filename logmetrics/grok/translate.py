"""Regex dialects to Python's ``re``: Oniguruma (Logstash pattern files) and RE2 (mtail).

The translated text is compiled with ``re.ASCII``, which gives ``\\d``, ``\\w``,
``\\s`` and ``\\b`` their ASCII meaning in both source dialects, and makes the
engine a little faster. What differs is spelled out here, one construct at a
time, by a scanner that knows escapes, brackets and groups:

================================  ==========================================
source                            Python
================================  ==========================================
``(?<name>...)`` (both)           ``(?P<name>...)``, names made identifiers
``\\h`` / ``\\H`` (Oniguruma)       hex digit / not a hex digit
``[[:alpha:]]`` (Oniguruma)       Unicode letters, as Onigmo does
``[[:alpha:]]`` (RE2)             ASCII letters, as RE2 does
``(?m)`` (Oniguruma)              dot matches newline: scoped ``(?s:...)``
``(?i)`` mid-pattern (both)       scoped ``(?i:...)`` (3.11 rejects global
                                  flags after the start)
``\\z`` / ``\\Z`` (Oniguruma)        ``\\Z`` / ``(?=\\n?\\Z)``
``\\Q...\\E`` (RE2)                 the text, escaped
``\\x{263a}``                      ``\\u263a``
``\\k<name>`` (Oniguruma)          ``(?P=name)``
================================  ==========================================

Constructs with no faithful translation (``\\G``, ``\\K``, ``\\p{...}``,
conditionals, backreferences in RE2, ``(?U)``) are errors with the offset
of the construct: never a silent mismatch.

``%{...}`` grok references are handed to a callback, so that expansion and
translation are one pass over each pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

Dialect = Literal["oniguruma", "re2"]

#: Compile flags that go with translated text.
FLAGS = re.ASCII


class RegexSyntaxError(Exception):
    """A construct that cannot be translated, or that the engine rejects."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# POSIX bracket classes: ASCII class bodies, usable inside a larger bracket.
_POSIX_ASCII = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
# Onigmo's POSIX classes are Unicode-aware on UTF-8 text (a path with "Č" is
# an alnum path); these are the Unicode forms, as scoped (?u:...) expressions.
_POSIX_UNICODE = {
    "alnum": "[^\\W_]",
    "alpha": "[^\\W\\d_]",
    "digit": "\\d",
    "space": "\\s",
    "word": "\\w",
}

_ONIG_FLAGS = {"i": "i", "m": "s", "x": "x"}  # Ruby's m is dot-all
_RE2_FLAGS = {"i": "i", "m": "m", "s": "s"}

GrokCallback = Callable[[str, int], str]
NameCallback = Callable[[str, int], str]


def make_identifier(name: str) -> str:
    """The program variable for a capture name.

    ``[source][address]`` -> ``source_address``; ``a.b`` -> ``a_b``; any other
    character that is not a letter, digit or ``_`` becomes ``_``.
    """
    if name.startswith("["):
        parts = [p for p in re.split(r"[\[\]]+", name) if p]
        name = "_".join(parts)
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    return ident


def translate(
    pattern: str,
    dialect: Dialect,
    on_grok: GrokCallback | None = None,
    on_group: NameCallback | None = None,
) -> str:
    """Translate ``pattern`` to Python syntax (to be compiled with :data:`FLAGS`).

    ``on_grok(reference, offset)`` returns the text for a ``%{...}`` reference
    (without it, ``%{`` is literal). ``on_group(name, offset)`` returns the
    Python group name for a named group (default: the name made an identifier).
    """
    return _Translator(pattern, dialect, on_grok, on_group).run()


class _Translator:
    def __init__(self, pattern: str, dialect: Dialect, on_grok: GrokCallback | None,
                 on_group: NameCallback | None) -> None:
        self.p = pattern
        self.dialect = dialect
        self.on_grok = on_grok
        self.on_group = on_group or (lambda name, _offset: make_identifier(name))
        self.i = 0
        self.out: list[str] = []
        # One entry per open group: how many scoped flag groups to close with it.
        self.open_scopes: list[int] = [0]
        # For nested quantifiers (Onigmo's ".?*" is "(?:.?)*"): where the last atom
        # starts in self.out, and what the last token was.
        self.group_starts: list[int] = []
        self.atom_start = 0
        self.prev = "other"

    def error(self, message: str, offset: int | None = None) -> RegexSyntaxError:
        return RegexSyntaxError(message, self.i if offset is None else offset)

    def run(self) -> str:
        p, n = self.p, len(self.p)
        while self.i < n:
            c = p[self.i]
            quantifier = self.quantifier_length()
            if quantifier:
                self.quantify(p[self.i : self.i + quantifier])
                self.i += quantifier
                continue
            start = len(self.out)
            kind = "atom"
            if c == "\\":
                self.out.append(self.escape(in_class=False))
            elif c == "[":
                self.out.append(self.bracket())
            elif c == "(":
                self.group_starts.append(start)
                self.group()
                kind = "other"
            elif c == ")":
                if len(self.open_scopes) == 1:
                    raise self.error("unbalanced ')'")
                self.out.append(")" * (self.open_scopes.pop() + 1))
                start = self.group_starts.pop()
                self.i += 1
            elif c == "%" and self.on_grok is not None and p.startswith("%{", self.i):
                end = p.find("}", self.i)
                if end < 0:
                    raise self.error("unterminated grok reference: no closing '}'")
                self.out.append(self.on_grok(p[self.i + 2 : end], self.i))
                self.i = end + 1
            else:
                self.out.append(c)
                self.i += 1
                if c in "|^$":
                    kind = "other"
            self.prev = kind
            if kind == "atom":
                self.atom_start = start
        if len(self.open_scopes) > 1:
            raise self.error("missing ')': a group is not closed", n)
        self.out.append(")" * self.open_scopes[0])
        return "".join(self.out)

    # --- quantifiers ----------------------------------------------------------------

    def quantifier_length(self) -> int:
        """Length of a quantifier at self.i (``*``, ``+``, ``?``, ``{n,m}``), or 0."""
        p, i = self.p, self.i
        c = p[i]
        if c in "*+?":
            return 1
        if c == "{":
            end = p.find("}", i)
            if end > i + 1 and re.fullmatch(r"\d+(?:,\d*)?|,\d+", p[i + 1 : end]):
                return end - i + 1
        return 0

    def quantify(self, text: str) -> None:
        if self.prev == "atom":
            self.prev = "quant"
        elif self.prev == "quant" and text in ("?", "+"):
            self.prev = "modified"  # lazy or possessive
        elif self.prev in ("quant", "modified"):
            # A quantifier on a quantified atom: Onigmo and RE2 read ".?*" as "(?:.?)*".
            self.out[self.atom_start:] = ["(?:", *self.out[self.atom_start:], ")"]
            self.prev = "quant"
        else:
            raise self.error(f"nothing to repeat before {text!r}")
        self.out.append(text)

    # --- groups -------------------------------------------------------------------

    def group(self) -> None:
        p, start = self.p, self.i
        if not p.startswith("(?", start):
            self.open_scopes.append(0)
            self.out.append("(")
            self.i += 1
            return
        rest = p[start + 2 : start + 3]
        if p.startswith("(?<", start) and p[start + 3 : start + 4] not in ("=", "!"):
            self.named_group(start + 3, ">")
            return
        if p.startswith("(?P<", start):
            self.named_group(start + 4, ">")
            return
        if p.startswith("(?'", start) and self.dialect == "oniguruma":
            self.named_group(start + 3, "'")
            return
        if rest in (":", "=", "!", ">") or p.startswith(("(?<=", "(?<!"), start):
            if self.dialect == "re2" and rest in ("=", "!", "<", ">"):
                raise self.error("RE2 has no lookaround or atomic groups; mtail would reject this")
            width = 4 if p.startswith(("(?<=", "(?<!"), start) else 3
            self.open_scopes.append(0)
            self.out.append(p[start : start + width])
            self.i = start + width
            return
        if rest == "#":
            end = p.find(")", start)
            if end < 0:
                raise self.error("unterminated comment group")
            self.i = end + 1
            return
        if p.startswith("(?P=", start) and self.dialect == "oniguruma":
            end = p.find(")", start)
            self.out.append(p[start : end + 1])
            self.i = end + 1
            return
        self.flag_group(start)

    def named_group(self, name_start: int, closer: str) -> None:
        end = self.p.find(closer, name_start)
        if end < 0:
            raise self.error("unterminated group name")
        name = self.p[name_start:end]
        if not name:
            raise self.error("empty group name")
        self.open_scopes.append(0)
        self.out.append(f"(?P<{self.on_group(name, self.i)}>")
        self.i = end + 1

    def flag_group(self, start: int) -> None:
        """``(?flags)`` or ``(?flags:...)``, scoped the way Python 3.11 allows."""
        p = self.p
        j = start + 2
        while j < len(p) and (p[j].isalpha() or p[j] == "-"):
            j += 1
        if j >= len(p) or p[j] not in ":)":
            raise self.error(f"unsupported group syntax {p[start:j + 1]!r}")
        table = _ONIG_FLAGS if self.dialect == "oniguruma" else _RE2_FLAGS
        on, off, seen_minus = [], [], False
        for ch in p[start + 2 : j]:
            if ch == "-":
                seen_minus = True
                continue
            if ch not in table:
                raise self.error(f"unsupported inline flag {ch!r} in {p[start:j + 1]!r}")
            (off if seen_minus else on).append(table[ch])
        flags = "".join(dict.fromkeys(on)) + ("-" + "".join(dict.fromkeys(off)) if off else "")
        if p[j] == ":":
            self.open_scopes.append(0)
            self.out.append(f"(?{flags}:" if flags else "(?:")
        elif flags:
            # A flag switch applies to the rest of the enclosing group: open a scoped
            # group now and close it with the enclosing one.
            self.out.append(f"(?{flags}:")
            self.open_scopes[-1] += 1
        self.i = j + 1

    # --- escapes ------------------------------------------------------------------

    def escape(self, in_class: bool) -> str:
        p, start = self.p, self.i
        if start + 1 >= len(p):
            raise self.error("trailing backslash")
        c = p[start + 1]
        self.i = start + 2
        onig = self.dialect == "oniguruma"
        if c == "h" and onig:
            return "0-9a-fA-F" if in_class else "[0-9a-fA-F]"
        if c == "H" and onig:
            if in_class:
                raise self.error("\\H inside a bracket cannot be translated", start)
            return "[^0-9a-fA-F]"
        if c == "z":
            return "" if in_class else "\\Z"
        if c == "Z":
            if self.dialect == "re2":
                raise self.error("RE2 has no \\Z; use \\z or $", start)
            return "(?=\\n?\\Z)"
        if c in "GK":
            raise self.error(f"\\{c} has no equivalent in Python's regex engine", start)
        if c in "pP":
            raise self.error("Unicode property classes (\\p{...}) are not supported", start)
        if c == "Q" and self.dialect == "re2":
            end = p.find("\\E", self.i)
            end = len(p) if end < 0 else end
            literal = re.escape(p[self.i : end])
            self.i = min(len(p), end + 2)
            return literal
        if c == "x" and p.startswith("{", self.i):
            end = p.find("}", self.i)
            if end < 0:
                raise self.error("unterminated \\x{...}", start)
            code = int(p[self.i + 1 : end], 16)
            self.i = end + 1
            return f"\\U{code:08x}"
        if c == "k" and onig and p.startswith("<", self.i):
            end = p.find(">", self.i)
            name = p[self.i + 1 : end]
            self.i = end + 1
            return f"(?P={make_identifier(name)})"
        if c.isdigit() and c != "0" and self.dialect == "re2" and not in_class:
            raise self.error("RE2 has no backreferences; mtail would reject this", start)
        if c == "C" and self.dialect == "re2":
            raise self.error("\\C (any byte) is not supported", start)
        return "\\" + c

    # --- brackets -----------------------------------------------------------------

    def bracket(self) -> str:
        """A bracket expression, with POSIX classes and nested brackets translated."""
        negate, text, unicode_classes = self.bracket_parts()
        if not unicode_classes:
            return f"[{'^' if negate else ''}{text}]"
        # Unicode classes cannot share an ASCII bracket: build an alternation.
        alternatives = "|".join(unicode_classes + ([f"[{text}]"] if text else []))
        if negate:
            return f"(?u:(?!{alternatives})(?s:.))"
        return f"(?u:{alternatives})"

    def bracket_parts(self) -> tuple[bool, str, list[str]]:
        """(negated, ASCII class body, Unicode class expressions) of the bracket at self.i."""
        p, start = self.p, self.i
        i = start + 1
        negate = p.startswith("^", i)
        if negate:
            i += 1
        body: list[str] = []
        unicode_classes: list[str] = []
        first = True
        while True:
            if i >= len(p):
                raise self.error("missing ']': a bracket is not closed", start)
            c = p[i]
            if c == "]" and not first:
                i += 1
                break
            first = False
            if c == "[" and p.startswith("[:", i):
                end = p.find(":]", i + 2)
                if end < 0:
                    raise self.error("unterminated POSIX class", i)
                name = p[i + 2 : end]
                if name.startswith("^"):
                    raise self.error(f"negated POSIX class [:{name}:] is not supported", i)
                if name not in _POSIX_ASCII:
                    raise self.error(f"unknown POSIX class [:{name}:]", i)
                if self.dialect == "oniguruma" and name in _POSIX_UNICODE:
                    unicode_classes.append(_POSIX_UNICODE[name])
                else:
                    body.append(_POSIX_ASCII[name])
                i = end + 2
            elif c == "[" and self.dialect == "oniguruma":
                # A nested bracket is a union member in Onigmo: [[[:alnum:]]_-].
                self.i = i
                nested_negate, nested_body, nested_unicode = self.bracket_parts()
                if nested_negate:
                    raise self.error("a negated bracket inside a bracket is not supported", i)
                body.append(nested_body)
                unicode_classes.extend(nested_unicode)
                i = self.i
            elif c == "[":
                body.append("\\[")
                i += 1
            elif c == "\\":
                self.i = i
                body.append(self.escape(in_class=True))
                i = self.i
            elif c == "&" and p.startswith("&&", i) and self.dialect == "oniguruma":
                raise self.error("bracket intersection (&&) is not supported", i)
            else:
                body.append(c)
                i += 1
        self.i = i
        return negate, "".join(body), unicode_classes
