"""Grok: regex dialect translation, pattern libraries, expansion, engine choice.

``expand(text, library)`` turns a regex literal with ``%{NAME:capture}``
references into Python syntax and its captures; ``compile_regex`` compiles
it on the faster engine that can read it.
"""

from logmetrics.grok.engine import CompiledRegex, compile_regex
from logmetrics.grok.expand import Capture, Expansion, GrokError, expand
from logmetrics.grok.library import PatternDef, PatternLibrary
from logmetrics.grok.translate import Dialect, RegexSyntaxError, make_identifier, translate

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
    "expand",
    "make_identifier",
    "translate",
]
