"""Grok: regex dialect translation, pattern libraries, expansion, engine choice.

``expand.expand(text, library)`` turns a regex literal with ``%{NAME:capture}``
references into Python syntax and its captures; ``compile_regex`` compiles
it on the faster engine that can read it.

Each name below is imported from its module when first used: a start whose
programs all come from the compile cache needs the pattern library (its
fingerprint) but not the translator, the expander or the engine choice. The
functions ``expand`` and ``translate`` are imported from their modules of the
same name (a package attribute of that name is the module once it is imported).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logmetrics.grok.engine import CompiledRegex, compile_regex
    from logmetrics.grok.expand import Capture, Expansion, GrokError
    from logmetrics.grok.library import PatternDef, PatternLibrary
    from logmetrics.grok.translate import Dialect, RegexSyntaxError, make_identifier

#: Where each public name lives.
_MODULES = {
    "CompiledRegex": "engine",
    "compile_regex": "engine",
    "Capture": "expand",
    "Expansion": "expand",
    "GrokError": "expand",
    "PatternDef": "library",
    "PatternLibrary": "library",
    "Dialect": "translate",
    "RegexSyntaxError": "translate",
    "make_identifier": "translate",
}

__all__ = [
    "Capture",
    "CompiledRegex",
    "Dialect",
    "Expansion",
    "GrokError",
    "PatternDef",
    "PatternLibrary",
    "RegexSyntaxError",
    "compile_regex",
    "make_identifier",
]


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found directly from now on
    return value
