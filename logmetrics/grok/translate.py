r"""Regex dialects to Python syntax: Oniguruma (Logstash pattern files) and RE2 (mtail).

A small scanner walks the source pattern (escapes, brackets, groups,
repeats) and writes the Python equivalent of each construct. Anything it does
not understand is a :class:`RegexSyntaxError` with the offset of the
construct in the source: a pattern is translated faithfully or not at all.

The translated text is a *Unicode* Python pattern, compiled with no flags.
Oniguruma (Ruby syntax, as Logstash uses it) and RE2 both give ``\d``, ``\w``,
``\s`` and ``\b`` their ASCII meaning, where Python str patterns are Unicode;
so these escapes are written out as ASCII classes (``[0-9]`` ...) and ``\b``
as ``(?a:\b)``. The other road, compiling with ``re.ASCII``, was measured no
faster (see engine.py) and cannot express Oniguruma's Unicode-aware POSIX
brackets: ``re`` ignores a scoped ``(?u:...)`` inside a bracket, and the
``regex`` module's ASCII flag also narrows ``\p{...}``. Text translated here
means the same under either engine, compiled without flags.

==========================  ===========  ==========================================
source                      dialect      Python
==========================  ===========  ==========================================
``(?<n>..)`` ``(?'n'..)``   both [#]_    ``(?P<n>..)``, the name made an identifier
``(..)`` in a definition    Oniguruma    ``(?:..)``: Ruby does not capture plain
                                         groups beside named ones
``\d \w \s \b`` (+ upper)   both         ASCII classes, ``(?a:\b)``
``\h`` ``\H``               Oniguruma    hex digit / not one
``[[:alnum:]]``             Oniguruma    Unicode-aware, as Onigmo is
``[[:alnum:]]``             RE2          ASCII, as RE2 is
``[[a-z]_]``                Oniguruma    the union of the brackets
``(?m)``                    Oniguruma    dot matches newline: ``(?s:..)``
``(?m)``                    RE2          ``^``/``$`` at line breaks: ``(?m:..)``
``(?i)`` anywhere           both         a scoped group to the end of the
                                         enclosing group; in RE2 restarted after
                                         each ``|``, in Oniguruma ``|`` stays
                                         inside (``ab(?i)c|d`` = ``ab(?i:c|d)``)
``(?U)``                    RE2          greedy and lazy repeats swapped
``^`` ``$``                 Oniguruma    line anchors, as always in Ruby
``$``                       RE2          end of text ``\Z`` (outside ``(?m)``)
``\z`` / ``\Z``             both / Onig  ``\Z`` / ``(?=\n?\Z)``
``\Q..\E``                  RE2          the text, escaped
``\x{263a}`` ``\u263a``     both / Onig  the character
``\p{Greek}`` ``\pL``       both         kept: only the ``regex`` engine reads it
                                         (engine.py picks that engine for it)
``.?*`` ``a{2}+``           Oniguruma    a repeat of a group: ``(?:.?)*``
``(?>..)`` ``a*+`` lookar.  Oniguruma    kept (``re`` has them since 3.11)
==========================  ===========  ==========================================

.. [#] RE2 accepts ``(?P<n>`` and, like Go 1.22, ``(?<n>``.

Errors, never guesses: backreferences, lookarounds and atomic groups in
RE2 (RE2 has none; possessive repeats ``a*+``, a syntax error in RE2, are
accepted as an extension, with Python's meaning); ``\G``, ``\K``, ``\R``, ``\X``,
subexpression calls, conditionals, absence operators, ``(?x)``, bracket
intersections ``&&``; unknown escapes and POSIX classes.

``%{...}`` grok references are handed to a callback, so that expansion and
translation are one pass over each pattern (see expand.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Dialect = Literal["oniguruma", "re2"]

#: ``%{NAME}``, ``%{NAME:capture}``, ``%{NAME:capture:type}``. The capture is read as
#: Logstash reads it: a field name or path (letters, digits and ``_ . - @ [ ]``), then
#: an optional ``:type``; what follows, up to the closing brace, is ``rest``, which
#: Logstash ignores (its ecs-v1 httpd file has ``%{POSINT:[apache][error][proxy][error][code]?}``).
#: A NAME of digits only is a repeat of ``%`` (``%{2}``, ``%{1,3}``), not a reference.
GROK_REFERENCE = re.compile(r"%\{(?P<name>(?![0-9]+[},])[A-Za-z0-9_]+)"
                            r"(?::(?P<capture>[A-Za-z0-9_.@\[\]-]*)(?::(?P<type>[A-Za-z0-9_]*))?"
                            r"(?P<rest>[^}]*))?\}")

GrokCallback = Callable[["re.Match[str]", int], str]
NameCallback = Callable[[str, int], str]


class RegexSyntaxError(ValueError):
    """A construct that cannot be translated, or that the engine rejects.

    ``offset`` counts characters from the start of the pattern given.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.message = message
        self.offset = offset


def make_identifier(name: str) -> str:
    """The program variable (and Python group name) for a capture name.

    ``[source][address]`` -> ``source_address`` (bracketed ECS parts joined by
    ``_``); then every character outside ``[A-Za-z0-9_]`` becomes ``_``
    (``a.b`` -> ``a_b``, ``@x`` -> ``_x``); a leading digit gets a ``_`` prefix.
    """
    parts = re.match(r"((?:\[[^\[\]]*\])+)(.*)\Z", name, re.S)
    if parts:
        fields = [f for f in re.findall(r"\[([^\[\]]*)\]", parts.group(1)) if f]
        name = "_".join(fields) + parts.group(2)
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    return ident


def translate(
    pattern: str,
    dialect: Dialect,
    *,
    on_grok: GrokCallback | None = None,
    on_group: NameCallback | None = None,
    plain_groups_capture: bool = True,
) -> str:
    r"""Translate ``pattern`` from ``dialect`` to Python syntax (compile it without flags).

    ``on_grok(match, offset)`` returns the text for a ``%{...}`` reference
    (``match`` of :data:`GROK_REFERENCE`); without it ``%{`` is plain text.
    ``on_group(name, offset)`` returns the Python group name for a named
    group (default: :func:`make_identifier`, then ``x__2``... for repeats).
    ``plain_groups_capture=False`` makes ``(...)`` non-capturing, Ruby's rule
    for a pattern with named groups, used for grok definitions.

    >>> translate(r"(?<n>\h+)", "oniguruma")
    '(?P<n>[0-9A-Fa-f]+)'
    """
    if on_group is None:
        on_group = _Dedup().name
    return _Scanner(pattern, dialect, on_grok, on_group, plain_groups_capture).run()


class _Dedup:
    """Default group namer: identifiers, ``x``, ``x__2``, ... for repeated names."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def name(self, name: str, _offset: int) -> str:
        base = group = make_identifier(name)
        n = 1
        while group in self.used:
            n += 1
            group = f"{base}__{n}"
        self.used.add(group)
        return group


# --- character sets ---------------------------------------------------------------
# A set is kept as (positive, negatives): the characters of the Python class body
# ``positive``, plus every character *outside* each class body in ``negatives``.
# Unicode-aware POSIX classes need the second form (alpha is "not \W, \d or _"),
# and Python's re has no set operations to merge them into one bracket.


@dataclass
class _Set:
    positive: str = ""
    negatives: list[str] = field(default_factory=list)

    def add(self, other: _Set) -> None:
        self.positive += other.positive
        self.negatives.extend(other.negatives)


def _class_char(c: str) -> str:
    """One character, safe inside a bracket for both engines (no nested-set warnings)."""
    if (c.isascii() and c.isalnum()) or (not c.isascii() and c.isprintable()):
        return c
    if c.isascii() and c.isprintable():
        return "\\" + c
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\U{ord(c):08x}"


def _literal(c: str) -> str:
    """One character, safe outside a bracket."""
    if c.isascii() and c.isprintable() and c not in "\\.^$*+?{}[]|()#":
        return c
    return _class_char(c)


def _chars(chars: str) -> str:
    """Class body for a set of single characters, runs written as ranges (``0-9``)."""
    codes = sorted({ord(c) for c in chars})
    body, i = [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        if j - i >= 2:
            body.append(_range(codes[i], codes[j]))
        else:
            body.extend(_class_char(chr(code)) for code in codes[i: j + 1])
        i = j + 1
    return "".join(body)


def _range(low: int, high: int) -> str:
    if low == high:
        return _class_char(chr(low))
    return f"{_class_char(chr(low))}-{_class_char(chr(high))}"


_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()
_WORD = _DIGITS + _UPPER + _LOWER + "_"
_HEX = _DIGITS + "ABCDEFabcdef"
_SPACE_ONIG = "\t\n\v\f\r "
_SPACE_RE2 = "\t\n\f\r "  # Go's \s has no \v

# ASCII POSIX classes: RE2's, and Oniguruma's xdigit and ascii.
_POSIX_ASCII = {
    "alnum": _DIGITS + _UPPER + _LOWER,
    "alpha": _UPPER + _LOWER,
    "ascii": "".join(map(chr, range(0x80))),
    "blank": " \t",
    "cntrl": "".join(map(chr, range(0x20))) + "\x7f",
    "digit": _DIGITS,
    "graph": "".join(map(chr, range(0x21, 0x7F))),
    "lower": _LOWER,
    "print": "".join(map(chr, range(0x20, 0x7F))),
    "punct": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "space": _SPACE_ONIG,
    "upper": _UPPER,
    "word": _WORD,
    "xdigit": _HEX,
}

# Onigmo's POSIX brackets are Unicode-aware on UTF-8 text (Logstash's spec: UNIXPATH
# matches "/opt/Čierný_Peter/.中"). Python's Unicode \w, \d, \s give alnum, alpha,
# digit, space and word; the others need Unicode properties, so the regex engine.
_POSIX_ONIG: dict[str, tuple[str, str | None]] = {
    "alnum": ("", "\\W_"),
    "alpha": ("", "\\W\\d_"),
    "digit": ("\\d", None),
    "space": ("\\s", None),
    "word": ("\\w", None),
    "upper": ("\\p{Uppercase}", None),
    "lower": ("\\p{Lowercase}", None),
    "punct": ("\\p{P}\\$\\+<=>\\^`\\|~", None),  # Onigmo 6: P and 9 ASCII symbols
    "cntrl": ("\\p{Cc}", None),
    "blank": ("\\p{Zs}\\t", None),
    "graph": ("", "\\s\\p{Cc}\\p{Cn}\\p{Cs}"),
    "print": ("", "\\t-\\r\\x85\\u2028\\u2029\\p{Cc}\\p{Cn}\\p{Cs}"),
}


def _posix(name: str, dialect: Dialect, negated: bool) -> _Set:
    if dialect == "oniguruma" and name in _POSIX_ONIG:
        positive, negative = _POSIX_ONIG[name]
    else:
        positive, negative = _chars(_POSIX_ASCII[name]), None
    if negated:  # [:^alpha:]: swap the two forms
        positive, negative = negative or "", positive
    return _Set(positive, [negative] if negative else [])


def _set_regex(s: _Set, negate: bool) -> str:
    """Python text matching one character of the set (or of its complement)."""
    positive, negatives = s.positive, s.negatives
    if negate:
        if not negatives:
            return f"[^{positive}]" if positive else "(?s:.)"
        # Outside the positive part and inside every negative part.
        head = f"(?![{positive}])" if positive else ""
        *rest, last = negatives
        return head + "".join(f"(?=[{n}])" for n in rest) + f"[{last}]"
    if not negatives:
        return f"[{positive}]" if positive else "(?!)"
    if negatives == ["\\W_"] and "\\_" in positive:
        return f"[\\w{positive}]"  # alnum plus "_" is \w: one bracket, the fast path (UNIXPATH)
    parts = ([f"[{positive}]"] if positive else []) + [f"[^{n}]" for n in negatives]
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


# --- the scanner --------------------------------------------------------------------

_ONIG_FLAGS = {"i": "i", "m": "s"}  # Ruby's m is dot-all
_RE2_FLAGS = {"i": "i", "m": "m", "s": "s", "U": ""}  # U is done by the scanner
_CONTROL_ESCAPES = {"a": "\x07", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_REPEAT = re.compile(r"[*+?]|\{(?:\d+(?:,\d*)?|,\d+)\}")
_FLAG_GROUP = re.compile(r"\(\?([A-Za-z]*)(?:-([A-Za-z]*))?([:)])")
_NAMED_BACKREF = re.compile(r"\\k<([^>]+)>")
_NUMBERED_BACKREF = re.compile(r"\\[1-9][0-9]?")
_PROPERTY = re.compile(r"\{\^?[A-Za-z_][A-Za-z0-9_ =-]*\}|[A-Za-z]")
_HEX_ESCAPE = re.compile(r"\{([0-9A-Fa-f]{1,8})\}|([0-9A-Fa-f]{1,2})")
_UNICODE_ESCAPE = re.compile(r"\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{4})")
_OCTAL = re.compile(r"[0-7]{1,3}")
_POSIX_CLASS = re.compile(r"\[:(\^?)([a-z]+):\]")


@dataclass
class _Frame:
    """One open group: the isolated flag switches opened in it, and the flags in force."""

    scopes: list[str] = field(default_factory=list)  # Python flags of each scoped group opened
    ungreedy: bool = False  # RE2 (?U)
    multiline: bool = False  # RE2 (?m): ^ and $ at line breaks


class _Scanner:
    def __init__(self, pattern: str, dialect: Dialect, on_grok: GrokCallback | None,
                 on_group: NameCallback, plain_capture: bool) -> None:
        self.p = pattern
        self.dialect: Dialect = dialect
        self.onig = dialect == "oniguruma"
        self.on_grok = on_grok
        self.on_group = on_group
        self.plain_capture = plain_capture
        self.i = 0
        self.out: list[str] = []
        self.frames = [_Frame()]
        self.group_starts: list[int] = []  # index in self.out where each open group starts
        self.names: dict[str, str] = {}  # source group name -> Python name, for \k<name>
        # For repeats: where the last atom starts in self.out, and what came last:
        # "atom", "repeat", "done" (a lazy or possessive repeat) or "none".
        self.atom_start = 0
        self.last = "none"

    def error(self, message: str, offset: int | None = None) -> RegexSyntaxError:
        return RegexSyntaxError(message, self.i if offset is None else offset)

    def run(self) -> str:
        p, n = self.p, len(self.p)
        while self.i < n:
            c = p[self.i]
            repeat = _REPEAT.match(p, self.i)
            if repeat and (c != "{" or self.last != "none"):
                self.repeat(repeat.group())
                self.i = repeat.end()
                continue
            start, kind = len(self.out), "atom"
            if c == "\\":
                text, is_anchor = self.escape()
                self.out.append(text)
                kind = "anchor" if is_anchor else "atom"
            elif c == "[":
                self.out.append(self.bracket())
            elif c == "(":
                kind = self.open_group()
                if kind == "comment":
                    continue  # a comment is nothing: "a(?#x)*" repeats the a
            elif c == ")":
                start = self.close_group()
            elif c == "|":
                self.alternative()
                kind = "none"
            elif c in "^$":
                self.out.append(self.anchor(c))
                self.i += 1
                kind = "anchor"
            elif c == "%" and self.on_grok is not None and (ref := GROK_REFERENCE.match(p, self.i)):
                self.out.append(self.on_grok(ref, self.i))
                self.i = ref.end()
            elif c == ".":
                self.out.append(".")
                self.i += 1
            else:  # a "{" that is no repeat is a literal brace, in both dialects
                self.out.append(_literal(c))
                self.i += 1
            self.last = kind
            if kind == "atom":
                self.atom_start = start
        if len(self.frames) > 1:
            raise self.error("missing ')': a group is not closed", n)
        self.out.append(")" * len(self.frames[0].scopes))
        return "".join(self.out)

    # --- repeats ------------------------------------------------------------------

    def repeat(self, text: str) -> None:
        ungreedy = self.frames[-1].ungreedy
        if self.last == "atom":
            self.last = "repeat"
            self.out.append(text + ("?" if ungreedy else ""))
            return
        if self.last == "repeat" and text == "?":  # lazy
            self.last = "done"
            if ungreedy:
                self.out[-1] = self.out[-1][:-1]  # under (?U), "*?" is the greedy one
            else:
                self.out.append("?")
            return
        if self.last == "repeat" and text == "+" and not (self.onig and self.out[-1].startswith("{")):
            # Possessive; Ruby reads "a{2}+" as a repeat of a repeat. RE2 has no
            # possessive repeats and rejects "a*+": accepted here as an extension
            # (no valid RE2 pattern changes meaning), for speed in bundled programs.
            self.last = "done"
            self.out.append("+")
            return
        if self.last in ("repeat", "done") and self.onig:
            # Onigmo reads a repeat of a repeat (".?*", "a{2}+") as a repeat of a group.
            self.out[self.atom_start:] = ["(?:", *self.out[self.atom_start:], ")", text]
            self.last = "repeat"
            return
        if self.last in ("repeat", "done"):
            raise self.error(f"RE2 has no repeat of a repeat: {text!r} (group the first one)")
        raise self.error(f"nothing to repeat before {text!r}")

    # --- groups and alternatives -----------------------------------------------------

    def open_group(self) -> str:
        """Open a group at self.i; returns the kind of token for repeats."""
        p, start = self.p, self.i
        outer = self.frames[-1]
        frame = _Frame(ungreedy=outer.ungreedy, multiline=outer.multiline)
        head = p[start: start + 4]
        if not head.startswith("(?"):
            self.out.append("(" if self.plain_capture else "(?:")
            self.i += 1
        elif head.startswith("(?P<") or (head.startswith("(?<") and head[3:4] not in ("=", "!")):
            self.named_group(start + (4 if head.startswith("(?P<") else 3), ">")
        elif head.startswith("(?'") and self.onig:
            self.named_group(start + 3, "'")
        elif head.startswith(("(?:", "(?=", "(?!", "(?>", "(?<=", "(?<!")):
            width = 4 if head.startswith(("(?<=", "(?<!")) else 3
            if not self.onig and head[2] != ":":
                raise self.error("RE2 has no lookaround or atomic groups: mtail would reject this")
            self.out.append(p[start: start + width])
            self.i = start + width
        elif head.startswith("(?#") and self.onig:
            end = p.find(")", start)
            if end < 0:
                raise self.error("unterminated comment group")
            self.i = end + 1
            return "comment"
        else:
            return self.flag_group(frame)
        self.group_starts.append(len(self.out) - 1)
        self.frames.append(frame)
        return "none"

    def named_group(self, name_start: int, closer: str) -> None:
        end = self.p.find(closer, name_start)
        if end < 0:
            raise self.error("unterminated group name")
        name = self.p[name_start:end]
        if not name:
            raise self.error("empty group name")
        python_name = self.on_group(name, self.i)
        self.names[name] = python_name
        self.out.append(f"(?P<{python_name}>")
        self.i = end + 1

    def flag_group(self, frame: _Frame) -> str:
        """``(?flags)`` or ``(?flags:...)``, scoped the way Python 3.11 allows."""
        start = self.i
        m = _FLAG_GROUP.match(self.p, start)
        if not m:
            raise self.error(f"unsupported group syntax {self.p[start:start + 4]!r}...")
        table = _ONIG_FLAGS if self.onig else _RE2_FLAGS
        on, off = m.group(1), m.group(2) or ""
        for ch in on + off:
            if ch not in table:
                dialect = "Oniguruma/Ruby" if self.onig else "RE2"
                raise self.error(f"unsupported {dialect} inline flag {ch!r}")
        if "U" in on + off:
            frame.ungreedy = "U" in on
        if not self.onig and "m" in on + off:
            frame.multiline = "m" in on
        python_on = "".join(dict.fromkeys(table[c] for c in on))
        python_off = "".join(dict.fromkeys(table[c] for c in off))
        flags = python_on + (f"-{python_off}" if python_off else "")
        self.i = m.end()
        if m.group(3) == ":":
            self.out.append(f"(?{flags}:")
            self.group_starts.append(len(self.out) - 1)
            self.frames.append(frame)
            return "none"
        # An isolated switch holds to the end of the enclosing group: open a scoped
        # group now, closed with the enclosing group (and, in RE2, at each '|').
        here = self.frames[-1]
        here.ungreedy, here.multiline = frame.ungreedy, frame.multiline
        if flags:
            self.out.append(f"(?{flags}:")
            here.scopes.append(flags)
        return "none"

    def close_group(self) -> int:
        if len(self.frames) == 1:
            raise self.error("unbalanced ')'")
        frame = self.frames.pop()
        self.out.append(")" * len(frame.scopes) + ")")
        self.i += 1
        return self.group_starts.pop()

    def alternative(self) -> None:
        frame = self.frames[-1]
        self.i += 1
        if self.onig or not frame.scopes:
            self.out.append("|")
            return
        # RE2: "a(?i)b|c" is "a(?i:b)|(?i:c)": the flags go on, the scope does not.
        self.out.append(")" * len(frame.scopes) + "|" + "".join(f"(?{f}:" for f in frame.scopes))

    def anchor(self, c: str) -> str:
        if self.onig or self.frames[-1].multiline:
            return f"(?m:{c})"  # Ruby's ^ and $ always work at line breaks
        return "^" if c == "^" else "\\Z"  # RE2's $ is the end of text, not before a final \n

    # --- escapes ------------------------------------------------------------------

    def escape(self) -> tuple[str, bool]:
        """An escape outside brackets: (Python text, is it a zero-width assertion)."""
        p, start = self.p, self.i
        c = p[start + 1: start + 2]
        assertions = {"b": "(?a:\\b)", "B": "(?a:\\B)", "A": "\\A", "z": "\\Z"}
        if c in assertions:
            self.i += 2
            return assertions[c], True
        if c == "Z":
            if not self.onig:
                raise self.error("RE2 has no \\Z; use \\z or $")
            self.i += 2
            return "(?=\\n?\\Z)", True
        if c == "Q" and not self.onig:
            end = p.find("\\E", start + 2)
            end = len(p) if end < 0 else end
            self.i = min(len(p), end + 2)
            text = "".join(_literal(ch) for ch in p[start + 2: end])
            return (f"(?:{text})" if len(p[start + 2: end]) > 1 else text), False
        if c == "k" and self.onig:
            m = _NAMED_BACKREF.match(p, start)
            if not m or m.group(1) not in self.names:
                raise self.error("\\k<name> must name a group defined before it")
            self.i = m.end()
            return f"(?P={self.names[m.group(1)]})", False
        if c and c in "123456789":
            if not self.onig:
                raise self.error("RE2 has no backreferences: mtail would reject this")
            if not self.plain_capture:
                raise self.error("numbered backreference in a grok definition, where plain groups "
                                 "do not capture; use a named group and \\k<name>")
            m = _NUMBERED_BACKREF.match(p, start)
            assert m is not None
            self.i = m.end()
            return f"(?:{m.group()})", False
        item = self.escape_item(in_class=False)
        if isinstance(item, _Set):
            return _set_regex(item, negate=False), False
        return _literal(item), False

    def escape_item(self, in_class: bool) -> str | _Set:
        """An escape that stands for characters: one character, or a set."""
        p, start = self.p, self.i
        if start + 1 >= len(p):
            raise self.error("trailing backslash")
        c = p[start + 1]
        self.i = start + 2
        classes = {"d": _DIGITS, "w": _WORD, "s": _SPACE_ONIG if self.onig else _SPACE_RE2}
        if self.onig:
            classes["h"] = _HEX
        if c.lower() in classes:
            chars = classes[c.lower()]
            # \S, \D, \W as a negated set, [^...]: the same characters as ranges up to U+10FFFF,
            # which Python's re compiler takes about 15 ms to optimise, once per regex.
            return _Set(_chars(chars)) if c.islower() else _Set(negatives=[_chars(chars)])
        if c in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[c]
        if c == "e" and self.onig:
            return "\x1b"
        if c == "b" and in_class:
            return "\b"  # backspace, in both dialects
        if c == "x":
            return self.code_point(_HEX_ESCAPE.match(p, self.i), "\\x needs hex digits: \\x21 or \\x{263a}")
        if c == "u" and self.onig:
            return self.code_point(_UNICODE_ESCAPE.match(p, self.i), "\\u needs 4 hex digits or \\u{...}")
        if c == "0" or (c in "1234567" and in_class):
            m = _OCTAL.match(p, start + 1)
            assert m is not None
            self.i = m.end()
            return chr(int(m.group(), 8))
        if c in "pP":
            m = _PROPERTY.match(p, self.i)
            if not m:
                raise self.error("\\p needs a property: \\pL or \\p{Greek}", start)
            self.i = m.end()
            return _Set(f"\\{c}{m.group()}")  # only the regex engine reads it
        if c.isalnum() or not c.isascii():
            raise self.error(f"unsupported escape \\{c}", start)
        return c  # an escaped punctuation character or space is itself

    def code_point(self, m: re.Match[str] | None, message: str) -> str:
        if m is None:
            raise self.error(message, self.i - 2)
        code = int(m.group(1) or m.group(2), 16)
        if code > 0x10FFFF:
            raise self.error("code point above U+10FFFF", self.i - 2)
        self.i = m.end()
        return chr(code)

    # --- brackets -----------------------------------------------------------------

    def bracket(self) -> str:
        negate, members = self.bracket_set()
        return _set_regex(members, negate)

    def bracket_set(self) -> tuple[bool, _Set]:
        """The bracket at self.i: (negated, members); self.i moves past it."""
        p, start = self.p, self.i
        i = start + 1
        negate = p.startswith("^", i)
        i += negate
        members = _Set()
        first = True
        while True:
            if i >= len(p):
                raise self.error("missing ']': a bracket is not closed", start)
            c = p[i]
            if c == "]" and not first:
                i += 1
                break
            first = False  # "[]a]": a leading ']' is literal in both dialects
            if p.startswith("[:", i):
                m = _POSIX_CLASS.match(p, i)
                if not m or m.group(2) not in _POSIX_ASCII:
                    raise self.error("unknown POSIX class; known: " + ", ".join(_POSIX_ASCII), i)
                members.add(_posix(m.group(2), self.dialect, negated=bool(m.group(1))))
                i = m.end()
                continue
            if c == "[" and self.onig:
                # A nested bracket is a union member in Onigmo: [[[:alnum:]]_-].
                self.i = i
                nested_negate, nested = self.bracket_set()
                if nested_negate:
                    if nested.negatives:
                        raise self.error("unsupported negated nested bracket", i)
                    nested = _Set("", [nested.positive])
                members.add(nested)
                i = self.i
                continue
            if c == "&" and p.startswith("&&", i) and self.onig:
                raise self.error("bracket intersection (&&) is not supported", i)
            low, i = self.class_atom(i)
            if isinstance(low, _Set):
                members.add(low)
                continue
            if p.startswith("-", i) and i + 1 < len(p) and p[i + 1] != "]":
                high, after = self.class_atom(i + 1)
                if isinstance(high, _Set):
                    raise self.error("a range cannot end with a class escape", i + 1)
                if ord(high) < ord(low):
                    raise self.error(f"bad range {low!r}-{high!r}: out of order", i)
                members.positive += _range(ord(low), ord(high))
                i = after
                continue
            members.positive += _class_char(low)
        self.i = i
        return negate, members

    def class_atom(self, i: int) -> tuple[str | _Set, int]:
        """One member at i inside a bracket (a character or a set), and where it ends."""
        if self.p[i] != "\\":
            return self.p[i], i + 1
        if self.p.startswith("\\Q", i) and not self.onig:
            end = self.p.find("\\E", i + 2)
            end = len(self.p) if end < 0 else end
            return _Set(_chars(self.p[i + 2: end])), min(len(self.p), end + 2)
        self.i = i
        item = self.escape_item(in_class=True)
        return item, self.i
