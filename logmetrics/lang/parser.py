"""The parser: tokens to a syntax tree (recursive descent).

Operator precedence, loosest first, as in mtail: ``||``; ``&&``; ``|``;
``^``; ``&``; ``== !=``; ``< <= > >=``; ``=~ !~``; ``<< >>``; ``+ -``;
``* / %``; ``**``; unary ``! -``; postfix ``++ --`` and ``[...]``.
Assignment (``= += -=``) is a statement form. A binary operator at the end of
a line continues the expression on the next line; a newline elsewhere ends
an expression statement.
"""

from __future__ import annotations

from logmetrics.errors import CompileError, Position
from logmetrics.lang import ast
from logmetrics.lang.lexer import Kind, Lexer, Token, parse_duration

METRIC_KINDS = ("counter", "gauge", "histogram", "timer", "text")

_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",),
    ("&&",),
    ("|",),
    ("^",),
    ("&",),
    ("==", "!="),
    ("<", "<=", ">", ">="),
    # level 7 (=~ !~) is handled by _parse_match
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
)
_MATCH_LEVEL = 7


def parse(text: str, filename: str) -> ast.Program:
    """Parse a whole program; raises :class:`CompileError` on the first syntax error."""
    return Parser(text, filename).parse_program()


class Parser:
    """Recursive-descent parser over a :class:`Lexer`, one token of lookahead."""

    def __init__(self, text: str, filename: str) -> None:
        self.lexer = Lexer(text, filename)
        self.filename = filename
        self.tok: Token = self.lexer.next()
        self.consts: dict[str, ast.Pattern] = {}

    # --- token helpers --------------------------------------------------------

    def advance(self) -> Token:
        tok = self.tok
        self.tok = self.lexer.next()
        return tok

    def at(self, text: str) -> bool:
        return self.tok.text == text and self.tok.kind in (Kind.OP, Kind.KEYWORD)

    def at_kind(self, kind: Kind) -> bool:
        """Whether the current token is of ``kind`` (a call: the token changes as the parser advances)."""
        return self.tok.kind is kind

    def error(self, message: str, tok: Token | None = None) -> CompileError:
        return CompileError((tok or self.tok).pos, message)

    def describe(self, tok: Token) -> str:
        what: str = tok.kind.value
        if tok.kind in (Kind.EOF, Kind.NL):
            return what
        return f"{what} {tok.text!r}" if tok.kind is not Kind.OP else repr(tok.text)

    def expect(self, text: str, context: str) -> Token:
        if not self.at(text):
            raise self.error(f"expected {text!r} {context}, found {self.describe(self.tok)}")
        return self.advance()

    def skip_newlines(self) -> None:
        while self.tok.kind is Kind.NL:
            self.advance()

    def end_statement(self) -> None:
        if self.tok.kind in (Kind.NL, Kind.EOF) or self.at("}"):
            return
        raise self.error(f"expected the end of the statement, found {self.describe(self.tok)}")

    # --- statements -------------------------------------------------------------

    def parse_program(self) -> ast.Program:
        program = ast.Program(self.tok.pos, self.filename)
        while True:
            self.skip_newlines()
            if self.tok.kind is Kind.EOF:
                return program
            if self.at("}"):
                raise self.error("unexpected '}' with no block open")
            program.stmts.append(self.parse_statement())

    def parse_block(self, context: str) -> ast.Block:
        start = self.expect("{", context)
        block = ast.Block(start.pos)
        while True:
            self.skip_newlines()
            if self.at("}"):
                self.advance()
                return block
            if self.tok.kind is Kind.EOF:
                raise CompileError(start.pos, "this '{' is never closed")
            block.stmts.append(self.parse_statement())

    def parse_statement(self) -> ast.Stmt:
        tok = self.tok
        if tok.kind is Kind.KEYWORD:
            word = tok.text
            if word == "hidden" or word in METRIC_KINDS:
                return self.parse_decl()
            if word == "const":
                return self.parse_const()
            if word == "def":
                self.advance()
                name = self.expect_id("after 'def'")
                return ast.DecoratorDef(tok.pos, name.text, self.parse_block("after the decorator name"))
            if word == "otherwise":
                self.advance()
                return ast.Otherwise(tok.pos, self.parse_block("after 'otherwise'"))
            if word == "stop":
                self.advance()
                self.end_statement()
                return ast.Stop(tok.pos)
            if word == "next":
                self.advance()
                self.end_statement()
                return ast.Next(tok.pos)
            if word == "del":
                return self.parse_del()
            if word == "else":
                raise self.error("'else' without a conditional block before it")
            raise self.error(f"unexpected keyword {word!r} at the start of a statement")
        if tok.kind is Kind.DECO:
            self.advance()
            return ast.Decorated(tok.pos, tok.text, self.parse_block("after the decorator"))
        expr = self.parse_expr()
        if self.at("{"):
            then = self.parse_block("after the condition")
            orelse = None
            if self._else_follows():
                self.advance()
                orelse = self.parse_block("after 'else'")
            return ast.Cond(tok.pos, expr, then, orelse)
        if isinstance(expr, ast.Assign | ast.IncDec | ast.Call):
            self.end_statement()
            return ast.ExprStmt(tok.pos, expr)
        if self.tok.kind in (Kind.NL, Kind.EOF) or self.at("}"):
            raise CompileError(
                tok.pos, "this expression does nothing: expected an assignment, '++', '--', "
                "a function call, or a condition followed by '{'"
            )
        raise self.error(f"expected '{{' or the end of the statement, found {self.describe(self.tok)}")

    def _else_follows(self) -> bool:
        """True if ``else`` comes next, allowing it on the line after the ``}``."""
        if self.at("else"):
            return True
        if self.tok.kind is not Kind.NL:
            return False
        saved = (self.tok, self.lexer.offset)
        self.skip_newlines()
        if self.at("else"):
            return True
        self.tok, self.lexer.offset = saved
        return False

    def expect_id(self, context: str) -> Token:
        if self.tok.kind not in (Kind.ID, Kind.BUILTIN):
            raise self.error(f"expected a name {context}, found {self.describe(self.tok)}")
        return self.advance()

    def parse_decl(self) -> ast.Decl:
        start = self.tok
        hidden = False
        if self.at("hidden"):
            hidden = True
            self.advance()
        if not (self.tok.kind is Kind.KEYWORD and self.tok.text in METRIC_KINDS):
            raise self.error(f"expected one of {', '.join(METRIC_KINDS)} after 'hidden'")
        kind = self.advance().text
        is_string = self.at_kind(Kind.STRING)
        name_tok = self.advance() if is_string else self.expect_id(f"after '{kind}'")
        decl = ast.Decl(start.pos, kind, name_tok.text, name_tok.text, [], hidden)
        seen: set[str] = set()
        while self.tok.kind is Kind.KEYWORD and self.tok.text in ("by", "as", "buckets", "limit"):
            word = self.advance()
            if word.text in seen:
                raise self.error(f"'{word.text}' given twice", word)
            seen.add(word.text)
            if word.text == "by":
                decl.keys = self.parse_key_list()
            elif word.text == "as":
                if not self.at_kind(Kind.STRING):
                    raise self.error("expected a quoted name after 'as'")
                decl.export_name = self.advance().text
            elif word.text == "buckets":
                decl.buckets = self.parse_number_list()
            else:
                if not self.at_kind(Kind.INT):
                    raise self.error("expected a whole number after 'limit'")
                decl.limit = int(self.advance().text)
        self.end_statement()
        return decl

    def parse_key_list(self) -> list[str]:
        keys = []
        while True:
            if self.tok.kind in (Kind.ID, Kind.STRING, Kind.BUILTIN):
                keys.append(self.advance().text)
            else:
                raise self.error(f"expected a label name, found {self.describe(self.tok)}")
            if not self.at(","):
                return keys
            self.advance()
            self.skip_newlines()

    def parse_number_list(self) -> list[float]:
        values = []
        while True:
            sign = 1.0
            if self.at("-"):
                self.advance()
                sign = -1.0
            if self.tok.kind not in (Kind.INT, Kind.FLOAT):
                raise self.error(f"expected a number, found {self.describe(self.tok)}")
            values.append(sign * float(self.advance().text))
            if not self.at(","):
                return values
            self.advance()
            self.skip_newlines()

    def parse_const(self) -> ast.ConstDef:
        start = self.advance()
        name = self.expect_id("after 'const'")
        if name.text in self.consts:
            raise self.error(f"const {name.text!r} is defined twice", name)
        pattern = self.parse_expr()
        if not isinstance(pattern, ast.Pattern):
            raise CompileError(pattern.pos, "a const must be a regex, e.g. const NAME /re/")
        self.end_statement()
        self.consts[name.text] = pattern
        return ast.ConstDef(start.pos, name.text, pattern)

    def parse_del(self) -> ast.Del:
        start = self.advance()
        target = self.parse_postfix()
        if not isinstance(target, ast.Index | ast.VarRef):
            raise CompileError(target.pos, "'del' needs a variable, e.g. del m[$key]")
        after = None
        if self.at("after"):
            self.advance()
            if self.tok.kind is not Kind.DURATION:
                raise self.error("expected a duration after 'after', e.g. 24h or 90m")
            after = parse_duration(self.advance().text)
        self.end_statement()
        return ast.Del(start.pos, target, after)

    # --- expressions ------------------------------------------------------------

    def parse_expr(self) -> ast.Expr:
        left = self.parse_binary(0)
        if self.tok.kind is Kind.OP and self.tok.text in ("=", "+=", "-="):
            op = self.advance()
            self.skip_newlines()
            if not isinstance(left, ast.VarRef | ast.Index | ast.CapRef):
                raise self.error(f"cannot assign to this expression with {op.text!r}", op)
            value = self.parse_binary(0)
            return ast.Assign(op.pos, op.text, left, value)
        return left

    def parse_binary(self, level: int) -> ast.Expr:
        if level == _MATCH_LEVEL:
            return self.parse_match()
        if level >= len(_BINARY_LEVELS) + 1:
            return self.parse_power()
        ops = _BINARY_LEVELS[level if level < _MATCH_LEVEL else level - 1]
        left = self.parse_binary(level + 1)
        while self.tok.kind is Kind.OP and self.tok.text in ops:
            op = self.advance()
            self.skip_newlines()
            right = self.parse_binary(level + 1)
            if op.text == "+" and isinstance(left, ast.Pattern) and isinstance(right, ast.Pattern):
                left = ast.Pattern(left.pos, left.parts + right.parts)
            elif isinstance(left, ast.Pattern) != isinstance(right, ast.Pattern) and op.text == "+":
                bad = right if isinstance(left, ast.Pattern) else left
                raise CompileError(bad.pos, "only regexes and consts can be joined to a regex with '+'")
            else:
                left = ast.Binary(op.pos, op.text, left, right)
        return left

    def parse_match(self) -> ast.Expr:
        left = self.parse_binary(_MATCH_LEVEL + 1)
        while self.tok.kind is Kind.OP and self.tok.text in ("=~", "!~"):
            op = self.advance()
            self.skip_newlines()
            right = self.parse_binary(_MATCH_LEVEL + 1)
            if not isinstance(right, ast.Pattern):
                raise CompileError(right.pos, f"the right side of {op.text!r} must be a regex")
            left = ast.Match(op.pos, op.text, left, right)
        return left

    def parse_power(self) -> ast.Expr:
        base = self.parse_unary()
        if self.at("**"):
            op = self.advance()
            self.skip_newlines()
            return ast.Binary(op.pos, "**", base, self.parse_power())  # right-associative
        return base

    def parse_unary(self) -> ast.Expr:
        if self.at("!") or self.at("-"):
            op = self.advance()
            operand = self.parse_unary()
            if op.text == "-" and isinstance(operand, ast.IntLit | ast.FloatLit):
                operand.value = -operand.value
                operand.pos = op.pos
                return operand
            return ast.Unary(op.pos, op.text, operand)
        return self.parse_postfix()

    def parse_postfix(self) -> ast.Expr:
        expr = self.parse_primary()
        while True:
            if self.at("["):
                if not isinstance(expr, ast.VarRef | ast.Index):
                    raise self.error("only a variable can be indexed with [...]")
                self.advance()
                self.skip_newlines()
                keys = [self.parse_expr()]
                self.skip_newlines()
                while self.at(","):  # m[a, b] is the same as m[a][b]
                    self.advance()
                    self.skip_newlines()
                    keys.append(self.parse_expr())
                    self.skip_newlines()
                self.expect("]", "to close the index")
                if isinstance(expr, ast.VarRef):
                    expr = ast.Index(expr.pos, expr, keys)
                else:
                    expr.keys.extend(keys)
            elif self.at("++") or self.at("--"):
                op = self.advance()
                if not isinstance(expr, ast.VarRef | ast.Index):
                    raise self.error(f"{op.text!r} needs a variable", op)
                return ast.IncDec(op.pos, op.text, expr)
            else:
                return expr

    def parse_primary(self) -> ast.Expr:
        tok = self.tok
        kind = tok.kind
        if kind is Kind.OP and tok.text == "/":
            regex = self.lexer.regex(tok)
            self.tok = self.lexer.next()
            return ast.Pattern(tok.pos, [ast.RegexPart(regex.text, _after_slash(tok))])
        if kind is Kind.ID:
            self.advance()
            const = self.consts.get(tok.text)
            if const is not None:
                return ast.Pattern(tok.pos, list(const.parts))
            return ast.VarRef(tok.pos, tok.text)
        if kind is Kind.CAPREF:
            self.advance()
            return ast.CapRef(tok.pos, tok.text)
        if kind is Kind.INT:
            self.advance()
            return ast.IntLit(tok.pos, int(tok.text))
        if kind is Kind.FLOAT:
            self.advance()
            return ast.FloatLit(tok.pos, float(tok.text))
        if kind is Kind.STRING:
            self.advance()
            return ast.StrLit(tok.pos, tok.text)
        if kind is Kind.BUILTIN:
            self.advance()
            self.expect("(", f"after {tok.text!r}")
            self.skip_newlines()
            args: list[ast.Expr] = []
            while not self.at(")"):
                args.append(self.parse_expr())
                self.skip_newlines()
                if self.at(","):
                    self.advance()
                    self.skip_newlines()
                elif not self.at(")"):
                    raise self.error(f"expected ',' or ')' in the call of {tok.text}")
            self.advance()
            return ast.Call(tok.pos, tok.text, args)
        if kind is Kind.OP and tok.text == "(":
            self.advance()
            self.skip_newlines()
            inner = self.parse_expr()
            self.skip_newlines()
            self.expect(")", "to close '('")
            return inner
        if kind is Kind.DURATION:
            raise self.error(f"a duration like {tok.text!r} is only allowed after 'del ... after'")
        raise self.error(f"expected an expression, found {self.describe(tok)}")


def _after_slash(tok: Token) -> Position:
    """The position of a regex body: one column after its opening slash."""
    return Position(tok.pos.file, tok.pos.line, tok.pos.col + 1)
