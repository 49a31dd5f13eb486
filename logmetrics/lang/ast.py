"""The syntax tree the parser builds and the checker and code generator read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, dataclass_transform

from logmetrics.errors import Position

#: The type of a literal's value.
V = TypeVar("V", int, float, str)


@dataclass_transform(eq_default=False)
@dataclass(eq=False)
class Node:
    """Base of every node: each subclass is a dataclass of its fields after ``pos``,
    where it was written. Nodes compare by identity, as two statements that read
    alike are still two places in the program."""

    pos: Position

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(eq=False)(cls)


# --- expressions -----------------------------------------------------------


class Expr(Node):
    """Base of every expression; ``type`` is filled in by the checker."""

    def __post_init__(self) -> None:
        self.type: str = "unknown"


@dataclass(eq=False)
class RegexPart:
    """One regex literal of a pattern, with where its text starts in the file."""

    text: str
    pos: Position


class Pattern(Expr):
    """A regex: literals and consts joined with ``+``, matched against the line
    unless it is the right side of ``=~``/``!~``."""

    parts: list[RegexPart]


class Literal(Expr, Generic[V]):
    """A constant written in the program; the subclass says its type."""

    value: V


class IntLit(Literal[int]):
    """An integer: ``42``."""


class FloatLit(Literal[float]):
    """A float: ``0.5``."""


class StrLit(Literal[str]):
    """A string: ``"text"``."""


class Named(Expr):
    """An expression that is a name and nothing more."""

    name: str


class VarRef(Named):
    """A metric or hidden variable by name."""


class CapRef(Named):
    """``$name`` or ``$1``: a capture group of an enclosing regex."""


class Index(Expr):
    """``metric[a][b]``: a dimensioned variable with label values."""

    base: VarRef
    keys: list[Expr]


class Call(Expr):
    name: str
    args: list[Expr]


class Unary(Expr):
    op: str
    operand: Expr


class Binary(Expr):
    op: str
    left: Expr
    right: Expr


class Match(Expr):
    """``expr =~ /re/`` or ``expr !~ /re/``."""

    op: str
    subject: Expr
    pattern: Pattern


class IncDec(Expr):
    """``x++`` or ``x--``."""

    op: str
    target: VarRef | Index


class Assign(Expr):
    """``x = v``, ``x += v`` or ``x -= v``; for a histogram ``=`` observes."""

    op: str
    target: VarRef | Index | CapRef
    value: Expr


# --- statements --------------------------------------------------------------


class Stmt(Node):
    """Base of every statement."""


class Block(Stmt):
    stmts: list[Stmt] = field(default_factory=list)


class Decl(Stmt):
    """``[hidden] counter name [by a, b] [as "x"] [buckets ...] [limit N]``."""

    kind: str
    name: str
    export_name: str
    keys: list[str]
    hidden: bool = False
    buckets: list[float] | None = None
    limit: int | None = None


class ConstDef(Stmt):
    name: str
    pattern: Pattern


class NamedBlock(Stmt):
    """A block under a name: a decorator's definition or its use."""

    name: str
    body: Block


class DecoratorDef(NamedBlock):
    """``def name { ... next ... }``."""


class Decorated(NamedBlock):
    """``@name { ... }``: the block takes the place of the decorator's ``next``."""


class Cond(Stmt):
    """``COND { ... } [else { ... }]``."""

    cond: Expr
    then: Block
    orelse: Block | None = None


class Otherwise(Stmt):
    body: Block


class ExprStmt(Stmt):
    expr: Expr


class Stop(Stmt):
    """``stop``: the program is done with this line."""


class Next(Stmt):
    """``next``: where a decorator's wrapped block runs."""


class Del(Stmt):
    """``del m[...]`` or ``del m[...] after 24h``."""

    target: Index | VarRef
    after: float | None = None


class Program(Stmt):
    filename: str
    stmts: list[Stmt] = field(default_factory=list)
