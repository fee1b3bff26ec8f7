"""Reading: the Lark grammar (``grammar/mdiff.lark``, installed as package data) turns
text into a small untyped AST; every syntax error becomes a ``ParseError`` with a caret.
A non-recursive transformer builds the AST while the LALR parser reduces, with flat sums and products,
so long inputs do not make deep trees."""

from __future__ import annotations

import logging
import os
import sys
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer_NonRecursive
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..core import expr as E
from ..core import ops
from ..core import shapes
from ..errors import DeclarationError, LimitError, MdiffError, ParseError, Span

#: Explicit limits (DESIGN §5): reported as ``LimitError``.
MAX_INPUT_CHARS = 1_000_000
MAX_NESTING = 1000
MAX_NUMBER_EXPONENT = 400
MAX_NUMBER_CHARS = 400


def _grammar_text() -> str:
    """The grammar: ``grammar/mdiff.lark`` at the top of the repository, installed as
    package data beside this module (a checkout run in place reads the repository's)."""
    packaged = resources.files(__package__).joinpath("mdiff.lark")
    if packaged.is_file():
        return packaged.read_text("utf-8")
    return (Path(__file__).resolve().parents[3] / "grammar" / "mdiff.lark").read_text("utf-8")


def _table_cache():
    """Where Lark keeps the LALR tables between processes: the user's cache folder
    (``$XDG_CACHE_HOME/mdiff``), not the shared temp folder Lark defaults to, since the
    file is unpickled; False where it cannot be written (the tables are then built)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "mdiff")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return False
    if not os.access(folder, os.W_OK):
        return False
    return os.path.join(folder, f"grammar-py{sys.version_info[0]}{sys.version_info[1]}.lark")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # The AST is built while the LALR parser reduces (no parse tree, no recursion).  The
    # tables come from the cache when its grammar digest matches (Lark checks it); a
    # stale or broken cache file is rebuilt quietly (Lark would log it to stderr).
    quiet, level = logging.getLogger("lark"), logging.getLogger("lark").level
    quiet.setLevel(logging.CRITICAL)
    try:
        return Lark(_grammar_text(), parser="lalr", maybe_placeholders=False,
                    transformer=_ToAst(), cache=_table_cache())
    finally:
        quiet.setLevel(level)


# --- AST ------------------------------------------------------------------------

class Node:
    """A node of the untyped syntax tree (mutable only while the tree is built)."""

    __slots__ = ("kind", "children", "value", "span", "ops", "depth")

    def __init__(self, kind, children=(), value=None, span=None, ops=None):
        self.kind = kind
        self.children = list(children)
        self.value = value
        self.span = span
        self.ops = ops or []
        self.depth = 1 + max((c.depth for c in self.children), default=0)
        if self.depth > MAX_NESTING:
            raise LimitError(f"expression nested deeper than {MAX_NESTING} levels", span)

    def __repr__(self):
        return f"Node({self.kind}, {self.value!r}, {self.children})"


def _transpose_marks(statements: list) -> list:
    """X^T is X' where the name T is nothing else: not declared, not bound by a let, and
    used nowhere but as an exponent after ^ (then x^T with a scalar T stays a power)."""
    if any(isinstance(s, tuple) and str(s[1]) == "T" for s in statements):
        return statements
    marks, others, stack = [], 0, [s for s in statements if isinstance(s, Node)]
    stack += [s[2] for s in statements if isinstance(s, tuple) and s[0] == "let"]
    while stack:
        n = stack.pop()
        for i, c in enumerate(n.children):
            if c.kind == "name" and c.value == "T":
                if n.kind == "pow" and n.value == "^" and i == 1:
                    marks.append(n)
                else:
                    others += 1
            else:
                stack.append(c)
    if others:
        return statements
    for n in marks:         # the pow node becomes the transpose of its base, in place
        n.kind, n.value, n.children = "T", 1, n.children[:1]
    return statements


def span_of(tok) -> Span:
    return Span(tok.line, tok.column, tok.start_pos, tok.end_pos)


class _ToAst(Transformer_NonRecursive):
    """Parse tree -> AST; flattens sums and products, folds repeated ' and -."""

    def number(self, children):
        (tok,) = children
        text = str(tok)
        if len(text) > MAX_NUMBER_CHARS:
            raise LimitError(f"number longer than {MAX_NUMBER_CHARS} characters", span_of(tok))
        if "e" in text.lower():
            mant, ex = text.lower().split("e")
            if abs(int(ex)) > MAX_NUMBER_EXPONENT:
                raise LimitError(f"number exponent beyond ±{MAX_NUMBER_EXPONENT}", span_of(tok))
        return Node("num", value=Fraction(text), span=span_of(tok))

    def name(self, children):
        (tok,) = children
        return Node("name", value=str(tok), span=span_of(tok))

    def call(self, children):
        tok, *args = children
        name = ops.ALIASES.get(str(tok), str(tok))
        span = span_of(tok)
        if name == "transpose" and len(args) == 1:
            return Node("T", args, value=1, span=span)
        if name in ("dot", "outer") and len(args) == 2:
            # dot(a, b) = vec(a)'*vec(b) (NumPy's vdot; x'*y for vectors), outer(a, b) =
            # vec(a)*vec(b)' (x*y' for vectors)
            a, b = (Node("call", [x], value="vec", span=span) for x in args)
            left, right = (Node("T", [a], value=1, span=span), b) if name == "dot" else \
                (a, Node("T", [b], value=1, span=span))
            return Node("product", [left, right], span=span,
                        ops=[Token.new_borrow_pos("STAR", "*", tok)])
        return Node("call", args, value=name, span=span)

    def _chain(self, kind, children):
        left, op, right = children
        if left.kind == kind and not getattr(left, "_closed", False):
            left.children.append(right)
            left.ops.append(op)
            left.depth = max(left.depth, right.depth + 1)
            return left
        return Node(kind, [left, right], span=left.span, ops=[op])

    def add(self, children):
        return self._chain("sum", children)

    sub = add

    def mul(self, children):
        left, op, right = children
        if op == "@":       # NumPy's matrix product is mdiff's *
            op = Token.new_borrow_pos("STAR", "*", op)
        return self._chain("product", [left, op, right])

    div = had = ediv = mul

    def neg(self, children):
        tok, x = children
        if x.kind == "neg":
            return x.children[0]
        return Node("neg", [x], span=span_of(tok))

    def kron(self, children):
        a, op, b = children
        return Node("kron", [a, b], span=span_of(op), ops=[op])

    def pow(self, children):
        a, op, b = children
        if op == "**":      # NumPy's power is elementwise: .^
            op = Token.new_borrow_pos("DOTCARET", ".^", op)
        return Node("pow", [a, b], value=str(op), span=span_of(op), ops=[op])

    epow = pow

    def transpose(self, children):
        x, tok = children
        if x.kind == "T":
            x.value += 1
            return x
        return Node("T", [x], value=1, span=span_of(tok))

    def index(self, children):
        x, *slots = children
        return Node("index", [x, *slots], span=slots[0].span)

    def slot_at(self, children):
        (i,) = children
        return Node("slot", [i], value="at", span=i.span)

    def slot_all(self, children):
        (tok,) = children
        return Node("slot", [], value="all", span=span_of(tok))

    def slot_range(self, children):
        first, tok, last = children
        return Node("slot", [first, last], value="range", span=span_of(tok))

    def brow(self, children):
        return Node("brow", children, span=children[0].span)

    def block(self, children):
        return Node("block", children, span=children[0].span)

    # declarations: dimensions are sizes (n, 3, m*q, n^2: core/dims.py)
    def dims(self, children):
        return list(children)

    def dimint(self, children):
        (tok,) = children
        if len(tok) > 9 or int(tok) < 1:
            raise DeclarationError(f"dimension {tok} out of range (1 to 999999999)", span_of(tok))
        return shapes.as_dim(int(tok))

    def dimname(self, children):
        return E.dim_symbol(str(children[0]))

    def dimcall(self, children):
        """min(m, n): the number of singular values of an m×n matrix."""
        name, a, b = children
        if str(name) != "min":
            raise DeclarationError(f"a size may call min(a, b), not {name}(...)", span_of(name))
        return shapes.smaller(a, b)

    def dimmul(self, children):
        a, _, b = children
        return a * b

    def dimadd(self, children):
        a, _, b = children
        return a + b

    def dimpow(self, children):
        a, _, k = children
        if len(k) > 2:
            raise DeclarationError("dimension power too large", span_of(k))
        return a ** int(k)

    def decl(self, children):
        name, kind, *rest = children
        dims = rest[0] if rest and isinstance(rest[0], list) else None
        props = list(rest[1:] if dims is not None else rest)
        return ("decl", name, kind, dims, props)

    def let(self, children):
        name, value = children
        return ("let", name, value)

    def start(self, children):
        return _transpose_marks(children)


def _lark_error(exc: UnexpectedInput, text: str) -> ParseError:
    line, col = getattr(exc, "line", 1), getattr(exc, "column", 1)
    if line is None or line < 1:
        line, col = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else "?"
        msg = f"unexpected character {ch!r}"
    elif isinstance(exc, UnexpectedEOF) or (
            isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        msg = "unexpected end of input"
        line, col = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        shown = {"_SEP": "end of statement"}.get(tok.type, repr(str(tok)))
        msg = f"unexpected {shown}"
        expected = sorted(_pretty_terminal(t) for t in exc.expected if not t.startswith("__"))
        expected = [e for e in expected if e]
        if expected:
            msg += " (expected " + ", ".join(expected[:8]) + ("" if len(expected) <= 8 else ", ...") + ")"
    else:  # pragma: no cover - Lark has no other UnexpectedInput kinds today
        msg = "syntax error"
    return ParseError(msg, Span(line, col), text)


_TERMINAL_NAMES = {
    "NAME": "a name", "NUMBER": "a number", "INT": "an integer", "LPAR": "'('", "RPAR": "')'",
    "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "COMMA": "','",
    "COLON": "':'", "LSQB": "'['", "RSQB": "']'", "EQUAL": "'='", "_SEP": "';'", "QUOTE": "\"'\"", "CIRCUMFLEX": "'^'",
}


def _pretty_terminal(name: str) -> str:
    return _TERMINAL_NAMES.get(name, "")


def _check_bracket_depth(text: str) -> None:
    if text.count("(") <= MAX_NESTING:
        return
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, i) + 1
                col = i - (text.rfind("\n", 0, i) + 1) + 1
                raise LimitError(f"brackets nested deeper than {MAX_NESTING} levels",
                                 Span(line, col), text)
        elif ch == ")":
            depth -= 1


def read(text: str) -> list:
    """Text -> list of statements (AST); raises ParseError / LimitError."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_INPUT_CHARS:
        raise LimitError(f"input longer than {MAX_INPUT_CHARS} characters", Span(1, 1), text)
    if "\x00" in text:
        i = text.index("\x00")
        line = text.count("\n", 0, i) + 1
        col = i - (text.rfind("\n", 0, i) + 1) + 1
        raise ParseError("unexpected character '\\x00'", Span(line, col), text)
    _check_bracket_depth(text)
    try:
        return _lark().parse(text)
    except UnexpectedInput as exc:
        raise _lark_error(exc, text) from None
    except MdiffError as exc:
        raise exc.with_text(text) from None
    except Exception as exc:  # VisitError wraps errors raised in the transformer
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, MdiffError):
            raise inner.with_text(text) from None
        raise
