"""The syntax tree the parser builds and the checker and code generator read."""

from __future__ import annotations

from dataclasses import dataclass, field

from logmetrics.errors import Position

# --- expressions -----------------------------------------------------------


@dataclass(eq=False)
class Expr:
    """Base of every expression; ``type`` is filled in by the checker."""

    pos: Position

    def __post_init__(self) -> None:
        self.type: str = "unknown"


@dataclass(eq=False)
class RegexPart:
    """One regex literal of a pattern, with where its text starts in the file."""

    text: str
    pos: Position


@dataclass(eq=False)
class Pattern(Expr):
    """A regex: literals and consts joined with ``+``, matched against the line
    unless it is the right side of ``=~``/``!~``."""

    parts: list[RegexPart]


@dataclass(eq=False)
class IntLit(Expr):
    value: int


@dataclass(eq=False)
class FloatLit(Expr):
    value: float


@dataclass(eq=False)
class StrLit(Expr):
    value: str


@dataclass(eq=False)
class VarRef(Expr):
    """A metric or hidden variable by name."""

    name: str


@dataclass(eq=False)
class CapRef(Expr):
    """``$name`` or ``$1``: a capture group of an enclosing regex."""

    name: str


@dataclass(eq=False)
class Index(Expr):
    """``metric[a][b]``: a dimensioned variable with label values."""

    base: VarRef
    keys: list[Expr]


@dataclass(eq=False)
class Call(Expr):
    name: str
    args: list[Expr]


@dataclass(eq=False)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(eq=False)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class Match(Expr):
    """``expr =~ /re/`` or ``expr !~ /re/``."""

    op: str
    subject: Expr
    pattern: Pattern


@dataclass(eq=False)
class IncDec(Expr):
    """``x++`` or ``x--``."""

    op: str
    target: VarRef | Index


@dataclass(eq=False)
class Assign(Expr):
    """``x = v``, ``x += v`` or ``x -= v``; for a histogram ``=`` observes."""

    op: str
    target: VarRef | Index | CapRef
    value: Expr


# --- statements --------------------------------------------------------------


@dataclass(eq=False)
class Stmt:
    pos: Position


@dataclass(eq=False)
class Block(Stmt):
    stmts: list[Stmt] = field(default_factory=list)


@dataclass(eq=False)
class Decl(Stmt):
    """``[hidden] counter name [by a, b] [as "x"] [buckets ...] [limit N]``."""

    kind: str
    name: str
    export_name: str
    keys: list[str]
    hidden: bool = False
    buckets: list[float] | None = None
    limit: int | None = None


@dataclass(eq=False)
class ConstDef(Stmt):
    name: str
    pattern: Pattern


@dataclass(eq=False)
class DecoratorDef(Stmt):
    name: str
    body: Block


@dataclass(eq=False)
class Decorated(Stmt):
    name: str
    body: Block


@dataclass(eq=False)
class Cond(Stmt):
    """``COND { ... } [else { ... }]``."""

    cond: Expr
    then: Block
    orelse: Block | None = None


@dataclass(eq=False)
class Otherwise(Stmt):
    body: Block


@dataclass(eq=False)
class ExprStmt(Stmt):
    expr: Expr


@dataclass(eq=False)
class Stop(Stmt):
    pass


@dataclass(eq=False)
class Next(Stmt):
    pass


@dataclass(eq=False)
class Del(Stmt):
    """``del m[...]`` or ``del m[...] after 24h``."""

    target: Index | VarRef
    after: float | None = None


@dataclass(eq=False)
class Program(Stmt):
    filename: str
    stmts: list[Stmt] = field(default_factory=list)
