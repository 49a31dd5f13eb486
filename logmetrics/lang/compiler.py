"""The whole compiler in one call: program text to a Python function over batches of lines.

    lexer → parser (AST) → checker (symbols, types, captures, regexes) → codegen (Python source)

and the generated source compiled and executed once into its ``process``
function. This is the only place that turns program text into running code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logmetrics.errors import Position
from logmetrics.grok import PatternLibrary
from logmetrics.lang.checker import check
from logmetrics.lang.codegen import generate
from logmetrics.lang.parser import parse
from logmetrics.lang.sites import MatchSite
from logmetrics.store import Metric


@dataclass
class CompiledProgram:
    """A program ready to run: its ``process`` function, the metrics it writes, its source."""

    name: str
    process: Callable[..., int]
    metrics: dict[str, Metric]
    #: The generated Python source (``check --dump-code`` prints it).
    source: str
    #: Where the regexes that run with a time budget are (see ``lang.regexes``).
    guarded: list[Position]
    #: The pattern sites, and the lines each matched, by regex number (see ``lang.sites``).
    sites: list[MatchSite] = field(default_factory=list)
    site_hits: list[int] = field(default_factory=list)


def compile_program(text: str, path: str, library: PatternLibrary, name: str | None = None,
                    stamps: bool = False, count_sites: bool = True) -> CompiledProgram:
    """Compile program text; raises CompileError(s) naming ``path:line:col``.

    ``stamps`` records each update's line time, for ``--emit-metric-timestamp``.
    """
    name = name or Path(path).name
    checked = check(parse(text, path), library)
    generated = generate(checked, name, stamps, count_sites)
    code = compile(generated.source, f"<program {name}>", "exec")
    namespace = dict(generated.namespace)
    exec(code, namespace)  # the code generator's own output, never user text
    guarded = [site.node.pos for site in checked.patterns if site.compiled.guarded]
    source_lines = text.splitlines()
    sites = []
    for number, use in sorted(generated.sites.items()):
        site = checked.patterns[number]
        pos = site.node.pos
        shown = source_lines[pos.line - 1].strip() if 0 < pos.line <= len(source_lines) else ""
        sites.append(MatchSite(number, pos, shown, site.compiled.search, dict(site.compiled.captures),
                               use.on_line, use.counted))
    return CompiledProgram(name, namespace["process"], generated.metrics, generated.source, guarded,
                           sites, namespace["_hits"])
