"""The checker: resolves names, compiles regexes, infers types, finds errors.

It works on the parser's tree and hands the code generator a
:class:`CheckedProgram`: the tree, each expression's type ("int", "float",
"string", "bool", "pattern"), and side tables that give each regex its compiled
form and number, each capture reference the regex and groups it reads, each
metric reference its declaration.
Decorated blocks are inlined here (the decorator's body, with ``next``
replaced by the decorated block), so that captures flow the way they read.
All errors found are reported together, each as ``file:line:col: message``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from logmetrics.errors import CompileError, CompileErrors, Position
from logmetrics.grok import PatternLibrary
from logmetrics.lang import ast
from logmetrics.lang.regexes import CompiledPattern, compile_pattern
from logmetrics.lang.sites import CaptureInfo

NUMERIC = ("int", "float")

# name: (min args, max args, result type)
BUILTINS: dict[str, tuple[int, int, str]] = {
    "len": (1, 1, "int"),
    "tolower": (1, 1, "string"),
    "subst": (3, 3, "string"),
    "int": (1, 1, "int"),
    "float": (1, 1, "float"),
    "string": (1, 1, "string"),
    "bool": (1, 1, "bool"),
    "strtol": (2, 2, "int"),
    "strptime": (2, 2, "none"),
    "settime": (1, 1, "none"),
    "timestamp": (0, 0, "int"),
    "getfilename": (0, 0, "string"),
    # The envelope of the line (syslog header, container log path); see lang/builtins.py.
    "syslog_tag": (0, 0, "string"),
    "syslog_hostname": (0, 0, "string"),
    "syslog_time": (0, 0, "int"),
    "pod_namespace": (0, 0, "string"),
    "pod_name": (0, 0, "string"),
    "container_name": (0, 0, "string"),
}


@dataclass(frozen=True)
class PatternSite:
    """One regex of the program: the ``number`` that names it in the generated code."""

    number: int
    node: ast.Pattern
    compiled: CompiledPattern


@dataclass(frozen=True)
class CaptureUse:
    """What a ``$name`` reads: the groups of the match of regex number ``pattern``."""

    pattern: int
    info: CaptureInfo


#: A reference to a metric or variable, with or without label values.
Target = ast.VarRef | ast.Index


@dataclass
class CheckedProgram:
    """A program ready for code generation: its tree and what the checker found in it."""

    tree: ast.Program
    decls: dict[str, ast.Decl]
    #: Every regex, in the order of their numbers.
    patterns: list[PatternSite] = field(default_factory=list)
    #: The site of each regex node (a node is checked once: decorators are inlined as copies).
    sites: dict[ast.Pattern, PatternSite] = field(default_factory=dict)
    captures: dict[ast.CapRef, CaptureUse] = field(default_factory=dict)
    targets: dict[Target, ast.Decl] = field(default_factory=dict)
    uses_timestamp: bool = False
    #: The program calls timestamp(): it reads the line's time, not only sets it.
    reads_timestamp: bool = False

    def site(self, node: ast.Pattern) -> PatternSite:
        return self.sites[node]

    def decl(self, target: Target) -> ast.Decl:
        return self.targets[target]


@dataclass
class _Scope:
    """Captures visible in a block, by name."""

    parent: _Scope | None
    captures: dict[str, CaptureUse] = field(default_factory=dict)
    # A regex of this scope failed to compile: its captures are unknown, so a
    # missing capture is not reported again.
    broken: bool = False

    def is_broken(self) -> bool:
        scope: _Scope | None = self
        while scope is not None:
            if scope.broken:
                return True
            scope = scope.parent
        return False

    def lookup(self, name: str) -> CaptureUse | None:
        scope: _Scope | None = self
        while scope is not None:
            found = scope.captures.get(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def names(self) -> list[str]:
        out: set[str] = set()
        scope: _Scope | None = self
        while scope is not None:
            out.update(n for n in scope.captures if not n.isdigit())
            scope = scope.parent
        return sorted(out)


class Checker:
    """Checks one parsed program against a grok pattern library."""

    def __init__(self, library: PatternLibrary) -> None:
        self.library = library
        self.errors: list[CompileError] = []
        self.decls: dict[str, ast.Decl] = {}
        self.decorators: dict[str, ast.DecoratorDef] = {}
        self.patterns: list[PatternSite] = []
        self.cache: dict[str, CompiledPattern] = {}
        self.slim_cache: dict[tuple[str, frozenset[str]], CompiledPattern] = {}
        self.captures: dict[ast.CapRef, CaptureUse] = {}
        self.targets: dict[Target, ast.Decl] = {}
        self.uses_timestamp = False
        self.reads_timestamp = False

    def error(self, pos: Position, message: str) -> None:
        self.errors.append(CompileError(pos, message))

    # --- program -------------------------------------------------------------

    def check(self, tree: ast.Program) -> CheckedProgram:
        # Metrics may be declared inside blocks too (mtail allows it); they are global.
        for decl in _declarations(tree.stmts):
            self.declare(decl)
        for stmt in tree.stmts:
            if isinstance(stmt, ast.DecoratorDef):
                if stmt.name in self.decorators:
                    self.error(stmt.pos, f"decorator {stmt.name!r} is defined twice")
                self.decorators[stmt.name] = stmt
        for name, deco in self.decorators.items():
            if not _contains_next(deco.body):
                self.error(deco.pos, f"decorator {name!r} has no 'next' to say where the "
                           "decorated block runs")
        tree.stmts = self.inline(tree.stmts, set())
        self.check_block(tree.stmts, _Scope(None), top=True)
        if self.errors:
            self.errors.sort(key=lambda e: (e.pos.line, e.pos.col))
            raise CompileErrors(self.errors)
        self.drop_unused_captures()
        sites = {site.node: site for site in self.patterns}
        return CheckedProgram(tree, self.decls, self.patterns, sites, self.captures, self.targets,
                              self.uses_timestamp, self.reads_timestamp)

    def drop_unused_captures(self) -> None:
        """Recompile each regex with only the captures the program reads.

        Not when a capture is read by number: dropping groups would renumber them.
        """
        used: dict[int, set[str]] = {}
        for ref, use in self.captures.items():
            used.setdefault(use.pattern, set()).add(ref.name)
        for site in self.patterns:
            names = used.get(site.number, set())
            if any(name.isdigit() for name in names):
                continue
            if all(var.isdigit() or var in names for var in site.compiled.captures):
                continue  # nothing to drop
            keep = frozenset(names)
            key = ("".join(p.text for p in site.node.parts), keep)
            compiled = self.slim_cache.get(key)
            if compiled is None:
                compiled = self.slim_cache[key] = compile_pattern(site.node, self.library, keep)
            self.patterns[site.number] = replace(site, compiled=compiled)
        for ref, use in self.captures.items():
            info = self.patterns[use.pattern].compiled.captures[ref.name]
            self.captures[ref] = CaptureUse(use.pattern, info)

    def declare(self, decl: ast.Decl) -> None:
        if decl.name in self.decls:
            first = self.decls[decl.name].pos
            self.error(decl.pos, f"{decl.name!r} is already declared at line {first.line}")
            return
        if len(set(decl.keys)) != len(decl.keys):
            self.error(decl.pos, f"{decl.name!r} names a label twice")
        if decl.kind == "histogram":
            if not decl.buckets:
                self.error(decl.pos, f"histogram {decl.name!r} needs 'buckets', e.g. buckets 0.1, 0.5, 1")
            elif any(b >= a for a, b in zip(decl.buckets[1:], decl.buckets, strict=False)):
                self.error(decl.pos, f"the buckets of {decl.name!r} must increase")
            if "le" in decl.keys:
                self.error(decl.pos, "a histogram cannot have a label named 'le'")
        elif decl.buckets:
            self.error(decl.pos, f"'buckets' only applies to a histogram, not a {decl.kind}")
        if decl.limit is not None and not decl.keys:
            self.error(decl.pos, "'limit' only applies to a metric with labels ('by ...')")
        for key in decl.keys:
            if key.startswith("__"):
                self.error(decl.pos, f"label name {key!r} is reserved (it starts with '__')")
        self.decls[decl.name] = decl

    def inline(self, stmts: list[ast.Stmt], active: set[str]) -> list[ast.Stmt]:
        """Replace each ``@deco { body }`` by the decorator's body with ``next`` -> body."""
        out: list[ast.Stmt] = []
        for stmt in stmts:
            if isinstance(stmt, ast.Decorated):
                deco = self.decorators.get(stmt.name)
                if deco is None:
                    self.error(stmt.pos, f"unknown decorator @{stmt.name}")
                    continue
                if stmt.name in active:
                    self.error(stmt.pos, f"decorator @{stmt.name} is used inside itself")
                    continue
                inner = self.inline(stmt.body.stmts, active | {stmt.name})
                body = copy.deepcopy(deco.body)
                out.extend(self.inline(_replace_next(body.stmts, inner), active | {stmt.name}))
            elif isinstance(stmt, ast.Cond):
                stmt.then.stmts = self.inline(stmt.then.stmts, active)
                if stmt.orelse is not None:
                    stmt.orelse.stmts = self.inline(stmt.orelse.stmts, active)
                out.append(stmt)
            elif isinstance(stmt, ast.Otherwise):
                stmt.body.stmts = self.inline(stmt.body.stmts, active)
                out.append(stmt)
            else:
                out.append(stmt)
        return out

    # --- statements ------------------------------------------------------------

    def check_block(self, stmts: list[ast.Stmt], scope: _Scope, top: bool = False) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Decl):
                pass  # declared in the first pass
            elif isinstance(stmt, ast.DecoratorDef):
                if not top:
                    self.error(stmt.pos, "decorators are defined at the top level of a program")
            elif isinstance(stmt, ast.ConstDef):
                pass  # consts were substituted by the parser; compiled where used
            elif isinstance(stmt, ast.Cond):
                inner = _Scope(scope)
                self.check_condition(stmt.cond, inner)
                self.check_block(stmt.then.stmts, inner)
                if stmt.orelse is not None:
                    self.check_block(stmt.orelse.stmts, _Scope(scope))
            elif isinstance(stmt, ast.Otherwise):
                self.check_block(stmt.body.stmts, _Scope(scope))
            elif isinstance(stmt, ast.ExprStmt):
                self.check_expr(stmt.expr, scope)
            elif isinstance(stmt, ast.Del):
                self.check_target(stmt.target, scope, "del")
            elif isinstance(stmt, ast.Next):
                self.error(stmt.pos, "'next' is only allowed inside a decorator ('def name { ... }')")
            elif isinstance(stmt, ast.Stop):
                pass
            else:  # pragma: no cover - the parser makes no other statements
                self.error(stmt.pos, f"unexpected statement {type(stmt).__name__}")

    def check_condition(self, cond: ast.Expr, scope: _Scope) -> None:
        kind = self.check_expr(cond, scope, line_match=True)
        if kind not in ("bool", "pattern", "unknown", *NUMERIC, "string"):
            self.error(cond.pos, "this condition has no truth value")

    # --- expressions -------------------------------------------------------------

    def check_pattern(self, node: ast.Pattern, scope: _Scope) -> str:
        text = "".join(p.text for p in node.parts)
        compiled = self.cache.get(text)
        if compiled is None:
            try:
                compiled = compile_pattern(node, self.library)
            except CompileError as exc:
                self.errors.append(exc)
                scope.broken = True
                node.type = "unknown"
                return "unknown"
            self.cache[text] = compiled
        number = len(self.patterns)
        self.patterns.append(PatternSite(number, node, compiled))
        for name, info in compiled.captures.items():
            scope.captures[name] = CaptureUse(number, info)
        node.type = "pattern"
        return "pattern"

    def check_expr(self, node: ast.Expr, scope: _Scope, line_match: bool = False) -> str:
        kind = self._check_expr(node, scope, line_match)
        node.type = kind
        return kind

    def _check_expr(self, node: ast.Expr, scope: _Scope, line_match: bool) -> str:
        if isinstance(node, ast.Pattern):
            if not line_match:
                self.error(node.pos, "a regex here must be used as a condition or with '=~'")
            return self.check_pattern(node, scope)
        if isinstance(node, ast.IntLit):
            return "int"
        if isinstance(node, ast.FloatLit):
            return "float"
        if isinstance(node, ast.StrLit):
            return "string"
        if isinstance(node, ast.CapRef):
            found = scope.lookup(node.name)
            if found is None and scope.is_broken():
                return "unknown"
            if found is None:
                names = scope.names()
                hint = f"; captures in scope: {', '.join('$' + n for n in names)}" if names else ""
                what = f"group {node.name}" if node.name.isdigit() else f"capture named {node.name!r}"
                self.error(node.pos, f"no {what} in an enclosing regex{hint}")
                return "unknown"
            self.captures[node] = found
            return found.info.type
        if isinstance(node, ast.VarRef | ast.Index):
            decl = self.resolve(node, scope)
            if decl is None:
                return "unknown"
            if decl.kind == "histogram":
                self.error(node.pos, f"the value of histogram {decl.name!r} cannot be read")
            return "string" if decl.kind == "text" else "float"
        if isinstance(node, ast.Match):
            self.check_expr(node.subject, scope)
            return self.check_pattern(node.pattern, scope) and "bool"
        if isinstance(node, ast.Unary):
            inner = self.check_expr(node.operand, scope, line_match)
            if node.op == "!":
                return "bool"
            if inner == "string":
                return "float"
            return inner
        if isinstance(node, ast.Binary):
            return self.check_binary(node, scope, line_match)
        if isinstance(node, ast.IncDec):
            decl = self.check_target(node.target, scope, node.op)
            if decl is not None and decl.kind in ("histogram", "text"):
                self.error(node.pos, f"{node.op!r} does not apply to {decl.kind} {decl.name!r}")
            return "none"
        if isinstance(node, ast.Assign):
            return self.check_assign(node, scope)
        if isinstance(node, ast.Call):
            return self.check_call(node, scope)
        self.error(node.pos, f"unexpected expression {type(node).__name__}")  # pragma: no cover
        return "unknown"

    def check_binary(self, node: ast.Binary, scope: _Scope, line_match: bool) -> str:
        logical = node.op in ("&&", "||")
        left = self.check_expr(node.left, scope, line_match and logical)
        # Captures of a regex on the left of && are visible on its right.
        right = self.check_expr(node.right, scope, line_match and logical)
        if logical:
            return "bool"
        if node.op in ("==", "!=", "<", "<=", ">", ">="):
            return "bool"
        if "pattern" in (left, right):
            self.error(node.pos, f"a regex cannot be an operand of {node.op!r}")
            return "unknown"
        if node.op == "+" and left == "string" and right == "string" and _is_plain_string(node):
            return "string"
        if node.op in ("&", "|", "^", "<<", ">>", "%"):
            return "int"
        if node.op == "/" and left == "int" and right == "int":
            return "int"
        if "float" in (left, right) or "string" in (left, right) or node.op == "**":
            return "float" if node.op != "**" or "float" in (left, right) else "int"
        return "int" if left == right == "int" else "float"

    def check_assign(self, node: ast.Assign, scope: _Scope) -> str:
        if isinstance(node.target, ast.CapRef):
            self.error(node.pos, "a capture cannot be assigned to")
            return "none"
        decl = self.check_target(node.target, scope, node.op)
        value = self.check_expr(node.value, scope)
        if value == "pattern":
            self.error(node.value.pos, "a regex cannot be assigned")
        if decl is None:
            return "none"
        if decl.kind == "histogram" and node.op != "=":
            self.error(node.pos, f"histogram {decl.name!r} observes values with '=', not {node.op!r}")
        if decl.kind == "text" and node.op != "=":
            self.error(node.pos, f"text {decl.name!r} is set with '=', not {node.op!r}")
        return "none"

    def check_target(self, target: ast.Expr, scope: _Scope, what: str) -> ast.Decl | None:
        if not isinstance(target, ast.VarRef | ast.Index):
            self.error(target.pos, f"{what!r} needs a metric or variable")
            return None
        return self.resolve(target, scope)

    def resolve(self, node: ast.VarRef | ast.Index, scope: _Scope) -> ast.Decl | None:
        base = node.base if isinstance(node, ast.Index) else node
        decl = self.decls.get(base.name)
        if decl is None:
            self.error(base.pos, f"unknown metric or variable {base.name!r}: declare it first, "
                       f"e.g. 'counter {base.name}'")
            return None
        self.targets[node] = decl
        keys = node.keys if isinstance(node, ast.Index) else []
        for key in keys:
            kind = self.check_expr(key, scope)
            if kind == "pattern":
                self.error(key.pos, "a regex cannot be a label value")
        if len(keys) != len(decl.keys):
            if decl.keys:
                self.error(node.pos, f"{decl.name!r} has {len(decl.keys)} label(s) "
                           f"({', '.join(decl.keys)}) but {len(keys)} value(s) are given")
            else:
                self.error(node.pos, f"{decl.name!r} has no labels, so it cannot be indexed")
        return decl

    def check_call(self, node: ast.Call, scope: _Scope) -> str:
        low, high, result = BUILTINS[node.name]
        if not low <= len(node.args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            self.error(node.pos, f"{node.name}() takes {want} argument(s), {len(node.args)} given")
            return result
        if node.name == "subst" and isinstance(node.args[0], ast.Pattern):
            self.check_pattern(node.args[0], _Scope(None))
            args = node.args[1:]
        else:
            args = node.args
        for arg in args:
            if self.check_expr(arg, scope) == "pattern":
                self.error(arg.pos, f"a regex is not an argument of {node.name}()")
        if node.name in ("strptime", "settime", "timestamp"):
            self.uses_timestamp = True
        if node.name == "timestamp":
            self.reads_timestamp = True
        if node.name == "strptime" and not isinstance(node.args[1], ast.StrLit):
            self.error(node.args[1].pos, "the layout of strptime() must be a string literal")
        return result


def _is_plain_string(node: ast.Binary) -> bool:
    """``"a" + "b"`` concatenates; ``$x + $y`` on string captures is arithmetic, as in mtail."""
    return not isinstance(node.left, ast.CapRef) and not isinstance(node.right, ast.CapRef)


def _declarations(stmts: list[ast.Stmt]) -> list[ast.Decl]:
    found: list[ast.Decl] = []
    for stmt in stmts:
        if isinstance(stmt, ast.Decl):
            found.append(stmt)
        elif isinstance(stmt, ast.Cond):
            found.extend(_declarations(stmt.then.stmts))
            if stmt.orelse is not None:
                found.extend(_declarations(stmt.orelse.stmts))
        elif isinstance(stmt, ast.Otherwise | ast.DecoratorDef | ast.Decorated):
            found.extend(_declarations(stmt.body.stmts))
    return found


def _contains_next(block: ast.Block) -> bool:
    for stmt in block.stmts:
        if isinstance(stmt, ast.Next):
            return True
        if isinstance(stmt, ast.Cond) and (
            _contains_next(stmt.then) or (stmt.orelse is not None and _contains_next(stmt.orelse))
        ):
            return True
        if isinstance(stmt, ast.Otherwise) and _contains_next(stmt.body):
            return True
    return False


def _replace_next(stmts: list[ast.Stmt], body: list[ast.Stmt]) -> list[ast.Stmt]:
    out: list[ast.Stmt] = []
    for stmt in stmts:
        if isinstance(stmt, ast.Next):
            out.extend(copy.deepcopy(body))
            continue
        if isinstance(stmt, ast.Cond):
            stmt.then.stmts = _replace_next(stmt.then.stmts, body)
            if stmt.orelse is not None:
                stmt.orelse.stmts = _replace_next(stmt.orelse.stmts, body)
        elif isinstance(stmt, ast.Otherwise):
            stmt.body.stmts = _replace_next(stmt.body.stmts, body)
        out.append(stmt)
    return out


def check(tree: ast.Program, library: PatternLibrary) -> CheckedProgram:
    """Check a parsed program; raises :class:`CompileErrors` listing every error found."""
    return Checker(library).check(tree)
