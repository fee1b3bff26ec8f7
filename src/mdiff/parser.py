"""Text -> typed expression DAG.

Three steps, each owning its errors:

1. Lark (LALR, ``grammar/mdiff.lark``) reads the text; its exceptions become
   ``ParseError`` with a caret.  A non-recursive transformer builds a small AST whose
   sums and products are flat lists, so long inputs do not make deep trees.
2. Shape inference over the AST unifies symbolic dimensions.  Kinds of undeclared
   names come from inference first and from the first letter second (DESIGN §2): a
   letter-default scalar that is added to an array is re-kinded and inference runs
   again.
3. The AST is built into hash-consed ``Expr`` nodes with resolved shapes; let-bound
   names are built once and shared.
"""

from __future__ import annotations

import difflib
import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import sympy as sp
from lark import Lark, Transformer_NonRecursive
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import expr as E
from . import ops
from .errors import (DeclarationError, LimitError, MdiffError, ParseError, ShapeError, Span,
                     UnknownFunction)

#: Explicit limits (DESIGN §5): reported as ``LimitError``.
MAX_INPUT_CHARS = 1_000_000
MAX_NESTING = 1000
MAX_NUMBER_EXPONENT = 400
MAX_NUMBER_CHARS = 400
MAX_MATRIX_POWER = E.MAX_MATRIX_POWER

#: Arguments each function of the language takes: the registry's functions one, and the
#: constructors of constant matrices and the structural functions as listed.
FUNCTION_ARITY = {**{f: 1 for f in ops.SPELLINGS}, "kron": 2,
                  "eye": (0, 1), "vector": (1, 2), "matrix": (1, 3),
                  "commutation": 2, "duplication": 1, "unvec": 3}


#: Names people write for a function the language has under another name.
SYNONYMS = {"trace": "tr", "inverse": "inv", "determinant": "det", "ln": "log",
            "logistic": "sigmoid", "identity": "eye", "ones": "vector(1) or matrix(1)",
            "zeros": "vector(0) or matrix(0)", "frobenius": "norm2", "norm": "norm2 or norm1",
            "lse": "logsumexp"}

#: Functions of other tools that mdiff's language does not have: a close spelling
#: (expm -> exp, pinv -> inv, max -> matrix) means something else, so none is suggested.
NOT_IN_LANGUAGE = {
    "expm": "matrix exponential (exp is elementwise)",
    "logm": "matrix logarithm (log is elementwise)",
    "sqrtm": "matrix square root (sqrt is elementwise)",
    "funm": "matrix functions", "chol": "Cholesky factorisation",
    "pinv": "pseudo-inverse (inv needs a square, invertible matrix)",
    "eig": "eigenvalue function", "eigvals": "eigenvalue function",
    "svd": "singular-value function", "svdvals": "singular-value function",
    "max": "max (not differentiable at ties; logsumexp is a smooth maximum)",
    "min": "min (not differentiable at ties; -logsumexp(-x) is a smooth minimum)",
    "argmax": "argmax", "argmin": "argmin", "mean": "mean (write sum(x)/n, n the size)",
    "erf": "erf", "gelu": "gelu", "dot": "dot (write x'*y)", "outer": "outer (write x*y')",
}


def _suggestion(fn: str) -> str:
    """What follows "unknown function 'fn'": a name of the same meaning, or nothing."""
    if fn in SYNONYMS:
        return f" (mdiff writes {SYNONYMS[fn]})"
    if fn in NOT_IN_LANGUAGE:
        return f": mdiff's language has no {NOT_IN_LANGUAGE[fn]}"
    close = difflib.get_close_matches(fn, list(FUNCTION_ARITY), 1, cutoff=0.75)
    # a trailing m names the matrix function of an elementwise one (cosm is not cos)
    if close and fn != close[0] + "m":
        return f" (did you mean {close[0]}?)"
    return ""


def _grammar_text() -> str:
    try:
        return resources.files("mdiff").joinpath("grammar/mdiff.lark").read_text("utf-8")
    except (FileNotFoundError, OSError, ModuleNotFoundError):
        here = Path(__file__).resolve().parents[2] / "grammar" / "mdiff.lark"
        return here.read_text("utf-8")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # The AST is built while the LALR parser reduces (no parse tree, no recursion).
    return Lark(_grammar_text(), parser="lalr", maybe_placeholders=False,
                transformer=_ToAst())


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


def _span(tok) -> Span:
    return Span(tok.line, tok.column, tok.start_pos, tok.end_pos)


@dataclass
class Decl:
    name: str
    kind: str                    # scalar | vector | matrix
    dims: tuple                  # tuple of str | int
    props: frozenset
    span: Span


@dataclass
class Program:
    decls: dict = field(default_factory=dict)
    lets: list = field(default_factory=list)     # (name, Node, Span)
    body: Node | None = None


class _ToAst(Transformer_NonRecursive):
    """Parse tree -> AST; flattens sums and products, folds repeated ' and -."""

    def number(self, children):
        (tok,) = children
        text = str(tok)
        if len(text) > MAX_NUMBER_CHARS:
            raise LimitError(f"number longer than {MAX_NUMBER_CHARS} characters", _span(tok))
        if "e" in text.lower():
            mant, ex = text.lower().split("e")
            if abs(int(ex)) > MAX_NUMBER_EXPONENT:
                raise LimitError(f"number exponent beyond ±{MAX_NUMBER_EXPONENT}", _span(tok))
        return Node("num", value=sp.Rational(text), span=_span(tok))

    def name(self, children):
        (tok,) = children
        return Node("name", value=str(tok), span=_span(tok))

    def call(self, children):
        tok, *args = children
        return Node("call", args, value=str(tok), span=_span(tok))

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
        return self._chain("product", children)

    div = had = ediv = mul

    def neg(self, children):
        tok, x = children
        if x.kind == "neg":
            return x.children[0]
        return Node("neg", [x], span=_span(tok))

    def kron(self, children):
        a, op, b = children
        return Node("kron", [a, b], span=_span(op), ops=[op])

    def pow(self, children):
        a, op, b = children
        return Node("pow", [a, b], value=str(op), span=_span(op), ops=[op])

    epow = pow

    def transpose(self, children):
        x, tok = children
        if x.kind == "T":
            x.value += 1
            return x
        return Node("T", [x], value=1, span=_span(tok))

    # declarations: dimensions are SymPy expressions (n, 3, m*q, n^2)
    def dims(self, children):
        return list(children)

    def dimint(self, children):
        (tok,) = children
        if len(tok) > 9 or int(tok) < 1:
            raise DeclarationError(f"dimension {tok} out of range (1 to 999999999)", _span(tok))
        return sp.Integer(int(tok))

    def dimname(self, children):
        return E.dim_symbol(str(children[0]))

    def dimmul(self, children):
        a, _, b = children
        return a * b

    def dimpow(self, children):
        a, _, k = children
        if len(k) > 2:
            raise DeclarationError("dimension power too large", _span(k))
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
        return children


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
    "COLON": "':'", "EQUAL": "'='", "_SEP": "';'", "QUOTE": "\"'\"", "CIRCUMFLEX": "'^'",
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


# --- declarations ---------------------------------------------------------------------

def _decl_from_stmt(stmt, text) -> Decl:
    _, name, kind, dims, props = stmt
    span = _span(name)
    kind_s = str(kind)
    if kind_s not in ("scalar", "vector", "matrix"):
        raise DeclarationError(
            f"unknown kind {kind_s!r} for {name} (use scalar, vector(n) or matrix(m,n))",
            _span(kind), text)
    want = {"scalar": 0, "vector": 1, "matrix": 2}[kind_s]
    dims = dims or []
    if len(dims) != want:
        raise DeclarationError(f"{kind_s} takes {want} dimension(s), got {len(dims)}",
                               _span(kind), text)
    pset = frozenset(map(str, props))
    for p in props:
        if str(p) not in E.PROPERTIES:
            close = difflib.get_close_matches(str(p), E.PROPERTIES, 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DeclarationError(f"unknown property {str(p)!r}{hint}", _span(p), text)
    if pset & {"symmetric", "spd", "diagonal"} and kind_s == "vector":
        raise DeclarationError(f"a vector cannot be {'/'.join(sorted(pset - {'positive'}))}",
                               span, text)
    if "spd" in pset or "diagonal" in pset:
        pset = pset | {"symmetric"}
    if pset & {"symmetric"} and kind_s == "matrix" and dims[0] != dims[1]:
        raise DeclarationError(
            f"{name} is declared {'/'.join(sorted(pset))} but is "
            f"{E.fmt_shape(tuple(dims))}, not square", span, text)
    return Decl(str(name), kind_s, tuple(dims), pset, span)


def parse_declaration(name: str, spec: str) -> Decl:
    """``("A", "matrix(n,n) symmetric")`` -> Decl (the API's ``symbols=``)."""
    text = f"{name}: {spec}"
    stmts = read(text)
    if len(stmts) != 1 or not isinstance(stmts[0], tuple) or stmts[0][0] != "decl":
        raise DeclarationError(f"not a declaration: {text!r}", Span(1, 1), text)
    return _decl_from_stmt(stmts[0], text)


def _program(stmts, text, extra_decls) -> Program:
    prog = Program(decls=dict(extra_decls))
    bound = set()
    for st in stmts:
        if isinstance(st, tuple) and st[0] == "decl":
            d = _decl_from_stmt(st, text)
            if d.name in prog.decls or d.name in bound:
                raise DeclarationError(f"{d.name} is declared twice", d.span, text)
            prog.decls[d.name] = d
        elif isinstance(st, tuple) and st[0] == "let":
            _, tok, value = st
            name = str(tok)
            if prog.body is not None:
                raise ParseError("a let-binding after the expression", _span(tok), text)
            if name in bound or name in prog.decls:
                raise DeclarationError(f"{name} is already defined", _span(tok), text)
            bound.add(name)
            prog.lets.append((name, value, _span(tok)))
        else:
            if prog.body is not None:
                raise ParseError("more than one expression (separate bindings with ';' "
                                 "and end with one expression)", st.span, text)
            prog.body = st
    if prog.body is None:
        raise ParseError("no expression to read", Span(1, max(1, len(text.rstrip()) + 1)), text)
    return prog


# --- shape inference -----------------------------------------------------------------------

class _Rekind(Exception):
    """Inference found a letter-default kind that cannot be: ``options`` are (name,
    kind) re-kindings to try in order; ``error()`` makes the error raised if none works."""

    def __init__(self, options, error):
        self.options, self.error = options, error


def default_kind(name: str) -> str:
    """First-letter convention of matrixcalculus.org: a-g scalar, h-z vector, A-Z matrix."""
    first = name[0]
    if first.isupper():
        return "matrix"
    if "a" <= first <= "g":
        return "scalar"
    return "vector"


class _Typer:
    def __init__(self, prog: Program, text: str, overrides: dict):
        self.prog, self.text, self.overrides = prog, text, overrides
        self.bind: dict = {}           # flexible symbol -> dim
        self.flex: list = []
        self.shapes: dict = {}         # id(Node) -> (r, c)
        self.var_shapes: dict = {}     # name -> (r, c)
        self.defaulted: set = set()    # names whose kind came from the first letter
        self.uses: dict = {}           # name -> occurrences typed so far
        self.lets = {name: node for name, node, _ in prog.lets}
        self.let_order = [name for name, _, _ in prog.lets]
        self.dim_names = set()
        for d in prog.decls.values():
            self.dim_names |= {s.name for x in d.dims for s in x.free_symbols}
        self.dim_names |= _size_names(prog)
        self.used_names = set(self.lets) | set(prog.decls) | self.dim_names
        self.shown: dict = {}          # open size -> the name error messages give it
        self.shown_names: set = set()

    # dimensions
    def fresh(self):
        s = sp.Symbol(f"_f{len(self.flex)}", positive=True, integer=True)
        self.flex.append(s)
        return s

    def resolve(self, d):
        d = sp.sympify(d)
        if d.is_Integer:
            return d
        if d in self.bind:
            r = self.resolve(self.bind[d])
            self.bind[d] = r
            return r
        if d.is_Symbol:
            return d
        subs = {s: self.resolve(s) for s in d.free_symbols if s in self.bind}
        return sp.expand(d.xreplace(subs)) if subs else d

    def is_flex(self, d):
        return d.is_Symbol and d.name.startswith("_f")

    def unify_dim(self, a, b) -> bool:
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return True
        if self.is_flex(a) and a not in b.free_symbols:
            self.bind[a] = b
            return True
        if self.is_flex(b) and b not in a.free_symbols:
            self.bind[b] = a
            return True
        fa, fb = sp.Mul.make_args(a), sp.Mul.make_args(b)
        if len(fa) == len(fb) > 1 and (all(map(self.is_flex, fa)) or all(map(self.is_flex, fb))):
            # n*m against p*q (a Kronecker product against a vec): match factor by factor
            return all(self.unify_dim(x, y) for x, y in zip(fa, fb))
        common = sp.gcd(a, b) if a.is_Mul and b.is_Mul else 1
        if common != 1:     # ?1*m = ?2*m: sizes are positive, cancel the common factor
            return self.unify_dim(sp.cancel(a / common), sp.cancel(b / common))
        (base_a, k_a), (base_b, k_b) = a.as_base_exp(), b.as_base_exp()
        if k_a == k_b and k_a != 1 and k_a.is_Integer:
            # sizes are positive, so x^k = y^k means x = y (tr(X ⊗ X) makes X square)
            return self.unify_dim(base_a, base_b)
        flex = [s for s in (a - b).free_symbols if self.is_flex(s)]
        if len(flex) == 1:
            sol = sp.solve(sp.Eq(a, b), flex[0])
            if len(sol) == 1 and (sol[0].is_positive is not False) and sol[0].is_integer is not False:
                self.bind[flex[0]] = sol[0]
                return True
        return False

    def show(self, shape):
        return E.fmt_shape(tuple(self._display(self.resolve(d)) for d in shape))

    def _display(self, d):
        """A dimension as an error shows it: open sizes get readable names (n, m, ...)
        not used by the text, the same name for the same size throughout."""
        flex = [s for s in d.free_symbols if self.is_flex(s)]
        if not flex:
            return d
        shown = self.shown
        for s in sorted(flex, key=lambda s: s.name):
            if s not in shown:
                taken = set(self.used_names) | set(self.var_shapes) | self.shown_names
                name = next((n for n in DISPLAY_DIMS if n not in taken), f"n{len(shown) + 1}")
                shown[s] = sp.Symbol(name)
                self.shown_names.add(name)
        return d.xreplace({s: shown[s] for s in flex})

    def is_scalar(self, shape):
        return self.resolve(shape[0]) == 1 and self.resolve(shape[1]) == 1

    def is_col(self, shape):
        return self.resolve(shape[1]) == 1

    def unify(self, a, b, what, span):
        ok = self.unify_dim(a[0], b[0]) and self.unify_dim(a[1], b[1])
        if not ok:
            raise ShapeError(f"{what}: shapes {self.show(a)} and {self.show(b)} do not match",
                             span, self.text)

    # names
    def name_shape(self, name, span):
        self.uses[name] = self.uses.get(name, 0) + 1
        if name in self.var_shapes:
            return self.var_shapes[name]
        decl = self.prog.decls.get(name)
        if decl is not None:
            dims = list(decl.dims)
            shape = {"scalar": (E.ONE, E.ONE), "vector": (dims[0] if dims else None, E.ONE),
                     "matrix": tuple(dims)}[decl.kind]
            if decl.props & {"symmetric"} and decl.kind == "matrix":
                if shape[0] != shape[1]:
                    raise DeclarationError(
                        f"{name} is declared {'/'.join(sorted(decl.props))} but is "
                        f"{E.fmt_shape(shape)}, not square", decl.span, self.text)
        else:
            kind = self.overrides.get(name)
            if kind is None:
                kind = default_kind(name)
                self.defaulted.add(name)
            shape = {"scalar": (E.ONE, E.ONE), "vector": (self.fresh(), E.ONE),
                     "matrix": (self.fresh(), self.fresh())}[kind]
        self.var_shapes[name] = shape
        return shape

    # inference
    def infer(self, node: Node):
        key = id(node)
        if key in self.shapes:
            return self.shapes[key]
        shape = getattr(self, "_i_" + node.kind)(node)
        self.shapes[key] = shape
        return shape

    def _i_num(self, node):
        return (E.ONE, E.ONE)

    def _i_name(self, node):
        name = node.value
        if name in self.lets:
            if self.let_order.index(name) >= self._let_limit:
                raise DeclarationError(f"{name} is used before it is bound", node.span, self.text)
            return self.infer(self.lets[name])
        if name in self.dim_names and name not in self.prog.decls:
            return (E.ONE, E.ONE)
        if name == "eye":
            n = self.fresh()
            return (n, n)
        if name in FUNCTION_ARITY and name not in self.prog.decls and name not in ("eye",):
            if name in ("vector", "matrix", "kron"):
                raise ParseError(f"{name} needs arguments: {name}(...)", node.span, self.text)
        return self.name_shape(name, node.span)

    def _i_neg(self, node):
        return self.infer(node.children[0])

    def _i_T(self, node):
        r, c = self.infer(node.children[0])
        return (c, r) if node.value % 2 else (r, c)

    def _is_literal(self, node):
        """A number written out (``1``, ``-2``, ``1/2``, ``2^-3``): it broadcasts in sums."""
        return _literal_value(node) is not None

    def _default_scalar_name(self, node):
        return (node.kind == "name" and node.value in self.defaulted
                and node.value not in self.lets and self.overrides.get(node.value) is None
                and default_kind(node.value) == "scalar")

    def _i_sum(self, node):
        acc, acc_node = None, None
        for child, op in zip(node.children, [None] + node.ops):
            s = self.infer(child)
            if self._is_literal(child):
                continue
            if acc is None:
                acc, acc_node = s, child
                continue
            # a letter-default scalar added to an array is re-kinded by inference
            if self.is_scalar(acc) != self.is_scalar(s):
                ar, ar_node = (s, child) if self.is_scalar(acc) else (acc, acc_node)
                def error(ar=ar, op=op):    # built only if raised: show() names sizes
                    return ShapeError(
                        f"cannot add a scalar and a {self.show(ar)} array (only number "
                        f"literals broadcast; write c*vector(1) or c*matrix(1))",
                        _span(op) if op is not None else node.span, self.text)
                options, rekinded = [], False
                for which, (name_node, other) in enumerate(((acc_node, s), (child, acc))):
                    if not (self._default_scalar_name(name_node) and not self.is_scalar(other)):
                        continue
                    name = name_node.value
                    kind = "vector" if self.is_col(other) else "matrix"
                    if self.uses.get(name) == 1:
                        # its first use: it takes the other term's shape right here
                        self.var_shapes[name] = other
                        self.shapes[id(name_node)] = other
                        self.defaulted.discard(name)
                        self.overrides[name] = kind
                        acc, s = (other, s) if which == 0 else (acc, other)
                        rekinded = True
                        break
                    options.append((name, kind))
                if not rekinded:
                    # or a letter-default scalar inside the array term is really a vector
                    # (b in x'*A*x + b'*x); transposed ones first
                    options += [(n, "vector") for n in self._default_scalars_in(ar_node)]
                    # or a lowercase letter-default vector in it is a scalar: a term added
                    # to a scalar is a scalar (lam in norm2(x)^2 + lam*norm2(x)^2)
                    options += [(n, "scalar") for n in self._default_vectors_in(ar_node)]
                    if options:
                        raise _Rekind(options, error)
                    raise error()
            self.unify(acc, s, "sum", _span(op) if op is not None else node.span)
        return acc if acc is not None else (E.ONE, E.ONE)

    def _default_scalars_in(self, node) -> list:
        transposed, plain = [], []
        stack = [(node, False)]
        while stack:
            n, under_t = stack.pop()
            if n.kind == "name" and self._default_scalar_name(n):
                (transposed if under_t else plain).append(n.value)
            stack.extend((c, n.kind == "T") for c in n.children)
        out = []
        for name in transposed + plain:
            if name not in out:
                out.append(name)
        return out

    def _default_vectors_in(self, node) -> list:
        """Lowercase names in ``node`` that are vectors only by their first letter, the
        least used first (the likeliest coefficient: lam, mu, sigma)."""
        found, stack = [], [node]
        while stack:
            n = stack.pop()
            if (n.kind == "name" and n.value in self.defaulted and n.value not in self.lets
                    and self.overrides.get(n.value) is None and n.value[0].islower()
                    and default_kind(n.value) == "vector" and n.value not in found):
                found.append(n.value)
            stack.extend(reversed(n.children))
        return sorted(found, key=lambda name: self.uses.get(name, 0))

    def collapsed_capitals(self) -> list:
        """Capitals that are matrices by their first letter but came out with one row or
        one column (DESIGN §2: a lowercase name's default must not force that)."""
        out = []
        for name, (r, c) in self.var_shapes.items():
            if (name in self.defaulted and name[0].isupper() and name not in self.prog.decls
                    and (self.resolve(r) == 1 or self.resolve(c) == 1)):
                out.append(name)
        return out

    def default_scalars(self) -> list:
        return [n for n in self.var_shapes if n in self.defaulted and n[0].islower()
                and default_kind(n) == "scalar" and self.overrides.get(n) is None]

    def _i_product(self, node):
        shape = self.infer(node.children[0])
        for child, op in zip(node.children[1:], node.ops):
            rs = self.infer(child)
            shape = self._product_shape(str(op), shape, rs, _span(op))
        return shape

    def _product_shape(self, op, ls, rs, span):
        lsc, rsc = self.is_scalar(ls), self.is_scalar(rs)
        if op == "*":
            if lsc:
                return rs
            if rsc:
                return ls
            if not self.unify_dim(ls[1], rs[0]):
                raise ShapeError(f"matrix product: {self.show(ls)} times {self.show(rs)} "
                                 f"(inner dimensions differ)", span, self.text)
            return (ls[0], rs[1])
        if op == "/":
            if not rsc:
                raise ShapeError(f"'/' divides by a scalar, not by {self.show(rs)} "
                                 f"(use ./ for elementwise division)", span, self.text)
            return ls
        if op in (".*", "⊙"):
            if lsc:
                return rs
            if rsc:
                return ls
            self.unify(ls, rs, "elementwise product", span)
            return ls
        # ./
        if rsc:
            return ls
        if lsc:
            return rs
        self.unify(ls, rs, "elementwise division", span)
        return ls

    def _i_kron(self, node):
        a = self.infer(node.children[0])
        b = self.infer(node.children[1])
        return (self.resolve(a[0] * b[0]), self.resolve(a[1] * b[1]))

    def _i_pow(self, node):
        base = self.infer(node.children[0])
        ex = self.infer(node.children[1])
        if not self.is_scalar(ex):
            raise ShapeError(f"the exponent must be a scalar, not {self.show(ex)}",
                             node.span, self.text)
        if node.value == "^" and not self.is_scalar(base):
            k = _literal_int(node.children[1])
            if k is None:
                raise ShapeError(
                    f"'^' on a {self.show(base)} matrix needs an integer power "
                    f"(use .^ for an elementwise power)", node.span, self.text)
            if abs(k) > MAX_MATRIX_POWER:
                raise LimitError(f"matrix power beyond ±{MAX_MATRIX_POWER}", node.span, self.text)
            if not self.unify_dim(base[0], base[1]):
                raise ShapeError(f"a matrix power needs a square matrix, not {self.show(base)}",
                                 node.span, self.text)
        return base

    def _i_call(self, node):
        fn = node.value
        if fn in self.prog.decls or fn in self.lets:
            raise ParseError(f"{fn} is a {'binding' if fn in self.lets else 'variable'}, "
                             f"not a function", node.span, self.text)
        if fn not in FUNCTION_ARITY:
            raise UnknownFunction(f"unknown function {fn!r}{_suggestion(fn)}", node.span,
                                  self.text)
        arity = FUNCTION_ARITY[fn]
        nargs = len(node.children)
        ok = nargs in arity if isinstance(arity, tuple) else nargs == arity
        if not ok:
            want = " or ".join(map(str, arity)) if isinstance(arity, tuple) else str(arity)
            raise ParseError(f"{fn} takes {want} argument(s), got {nargs}", node.span, self.text)
        if fn == "eye":
            if not node.children:
                n = self.fresh()
                return (n, n)
            n = self._dim_arg(node.children[0])
            return (n, n)
        if fn in ("vector", "matrix"):
            s = self.infer(node.children[0])
            if not self.is_scalar(s):
                raise ShapeError(f"{fn}(c) fills with a scalar, not {self.show(s)}",
                                 node.children[0].span, self.text)
            sizes = [self._dim_arg(d) for d in node.children[1:]]
            if fn == "matrix" and len(sizes) == 1:
                raise ParseError("matrix(c, m, n) takes both sizes", node.span, self.text)
            if fn == "vector":
                return (sizes[0] if sizes else self.fresh(), E.ONE)
            return tuple(sizes) if sizes else (self.fresh(), self.fresh())
        if fn == "kron":
            a = self.infer(node.children[0])
            b = self.infer(node.children[1])
            return (self.resolve(a[0] * b[0]), self.resolve(a[1] * b[1]))
        if fn == "commutation":     # K(m,n) vec(A) = vec(A') for an m×n matrix A
            m, n = (self._dim_arg(d) for d in node.children)
            return (m * n, m * n)
        if fn == "duplication":     # D(n) vech(S) = vec(S) for a symmetric n×n S
            n = self._dim_arg(node.children[0])
            return (n * n, n * (n + 1) / 2)
        if fn == "unvec":           # unvec(vec(A), m, n) = A
            x = self.infer(node.children[0])
            m, n = (self._dim_arg(d) for d in node.children[1:])
            self.unify(x, (m * n, E.ONE), "unvec", node.span)
            return (m, n)
        x = self.infer(node.children[0])
        algebra = _OpenShapes(self, node.span)
        record = ops.reading(fn, algebra, x)       # FUNCTION_ARITY lists every other case
        return tuple(sp.sympify(d) for d in record.shape.infer(algebra, x, fn))

    def _dim_arg(self, node):
        """A size: a positive integer, a dimension name, or products, powers and sums of
        them divided by integers (n^2, m*n, n*(n + 1)/2 as results print them)."""
        if node.kind == "product" and all(str(o) in ("*", "/") for o in node.ops):
            out = self._dim_arg(node.children[0])
            for child, op in zip(node.children[1:], node.ops):
                if str(op) == "/":
                    k = _literal_int(child)
                    if k is None or k < 1:
                        break
                    out = out / k
                else:
                    out *= self._dim_arg(child)
            else:
                return self._whole(out, node)
        if node.kind == "sum" and all(str(o) == "+" for o in node.ops):
            return self._whole(sum((self._dim_arg(c) for c in node.children[1:]),
                                   self._dim_arg(node.children[0])), node)
        if node.kind == "pow" and node.value == "^":
            k = _literal_int(node.children[1])
            if k is not None and 1 <= k <= 8:
                return self._dim_arg(node.children[0]) ** k
        if node.kind == "num" and node.value.is_integer and node.value >= 1:
            if node.value > 10**9:
                raise LimitError("dimension too large", node.span, self.text)
            return sp.Integer(node.value)
        if node.kind == "name" and node.value in self.dim_names:   # see _size_names
            return E.dim_symbol(node.value)
        raise ShapeError("a size is a positive integer, a dimension name, or products, "
                         "powers and sums of them (divided by an integer)", node.span, self.text)

    def _whole(self, size, node):
        if _whole_size(size):
            return size
        raise ShapeError(f"a size must be a whole number for every value of its dimensions, "
                         f"not {E.fmt_dim(size)}", node.span, self.text)

    def run(self):
        for i, (name, node, span) in enumerate(self.prog.lets):
            self._let_limit = i
            self.infer(node)
        self._let_limit = len(self.prog.lets)
        return self.infer(self.prog.body)


class _OpenShapes:
    """The shape algebra of inference (``shapes.ShapeAlgebra``): sizes may be open, so
    ``square`` unifies them; a failure is a ShapeError at the call."""

    def __init__(self, typer: "_Typer", span):
        self.typer, self.span = typer, span

    def square(self, shape, what):
        if not self.typer.unify_dim(shape[0], shape[1]):
            raise ShapeError(f"{what} needs a square matrix, not {self.typer.show(shape)}",
                             self.span, self.typer.text)

    def is_column(self, shape):
        return self.typer.is_col(shape)

    def times(self, a, b):
        return self.typer.resolve(a * b)


def _whole_size(d) -> bool:
    """A size polynomial is a positive whole number for all positive whole values of its
    dimensions: checked on the grid 1..degree+1 per dimension, which decides it for an
    integer-valued polynomial (n*(n + 1)/2 is one, n/2 is not)."""
    d = sp.sympify(d)
    syms = sorted(d.free_symbols, key=lambda s: s.name)
    if not syms:
        return d.is_Integer and d > 0
    try:
        poly = sp.Poly(d, *syms)
    except sp.PolynomialError:
        return False
    if all(c.is_Integer and c > 0 for c in poly.coeffs()):
        return True            # products, powers and sums of sizes: whole and positive
    degrees = [poly.degree(s) for s in syms]
    if math.prod(k + 1 for k in degrees) > 4096:
        return False           # a division too large to decide by the grid
    for values in itertools.product(*(range(1, k + 2) for k in degrees)):
        v = d.subs(dict(zip(syms, values)))
        if not (v.is_Integer and v > 0):
            return False
    return True


def _expect_shape(typer: "_Typer", have, want) -> None:
    """Give the result's open sizes those of ``want`` — both or neither (where sizes
    disagree the caller compares shapes and says so); ``want``'s names are taken."""
    want = tuple(sp.sympify(d) for d in want)
    saved = dict(typer.bind)
    if not all(typer.unify_dim(h, w) for h, w in zip(have, want)):
        typer.bind = saved
    typer.used_names |= {s.name for d in want for s in d.free_symbols}


def _size_names(prog: Program) -> set:
    """Names used as sizes (``eye(n)``, ``vector(1, n)``): dimensions wherever they occur,
    before and after that use (DESIGN: dimension names are scalars too)."""
    names = set()
    stack = [node for _, node, _ in prog.lets] + [prog.body]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.kind == "call" and node.value in ("eye", "vector", "matrix", "commutation",
                                                  "duplication", "unvec"):
            sizes = node.children if node.value in ("eye", "commutation", "duplication") \
                else node.children[1:]
            names |= {leaf.value for size in sizes for leaf in _size_leaves(size)}
        stack.extend(node.children)
    return names - set(prog.decls) - {name for name, _, _ in prog.lets}


def _size_leaves(node):
    """The name leaves of a size written as products, powers and sums of names and numbers."""
    stack, out = [node], []
    while stack:
        n = stack.pop()
        if n.kind == "name":
            out.append(n)
        elif n.kind in ("product", "sum") or (n.kind == "pow" and n.value == "^"):
            stack.extend(n.children[:1] if n.kind == "pow" else n.children)
    return out


def _literal_int(node):
    sign = 1
    while node.kind == "neg":
        sign, node = -sign, node.children[0]
    if node.kind == "num" and node.value.is_integer:
        return sign * int(node.value)
    return None


DISPLAY_DIMS = ("n", "m", "p", "q", "k", "r", "s", "t", "l")


class _Builder:
    """Builds the typed DAG once shapes are known."""

    def __init__(self, typer: _Typer):
        self.t = typer
        self.text = typer.text
        self.memo: dict = {}
        self.lets: dict = {}
        self.naming = self._name_dims()

    def _name_dims(self):
        t = self.t
        free = []
        for shape in list(t.var_shapes.values()) + list(t.shapes.values()):
            for d in shape:
                for s in sorted(t.resolve(d).free_symbols, key=lambda s: s.name):
                    if t.is_flex(s) and s not in free:
                        free.append(s)
        taken = set(t.used_names) | set(t.var_shapes) | set(t.dim_names)
        names = {}
        pool = [n for n in DISPLAY_DIMS if n not in taken]
        i = 1
        for s in free:
            while not pool:
                cand = f"n{i}"
                i += 1
                if cand not in taken:
                    pool.append(cand)
            names[s] = E.dim_symbol(pool.pop(0))
        return names

    def dim(self, d):
        d = self.t.resolve(d)
        return d.xreplace(self.naming) if d.free_symbols else d

    def shape(self, node):
        r, c = self.t.shapes[id(node)]
        return (self.dim(r), self.dim(c))

    def var(self, name):
        shape = tuple(self.dim(d) for d in self.t.var_shapes[name])
        decl = self.t.prog.decls.get(name)
        return E.var(name, shape, decl.props if decl else ())

    def build(self, node: Node) -> E.Expr:
        key = id(node)
        if key in self.memo:
            return self.memo[key]
        try:
            out = getattr(self, "_b_" + node.kind)(node)
        except ShapeError as exc:
            if exc.span is None:
                exc.span = node.span
            raise exc.with_text(self.text)
        self.memo[key] = out
        return out

    def _b_num(self, node):
        return E.num(node.value)

    def _b_name(self, node):
        name = node.value
        if name in self.t.lets:
            if name not in self.lets:
                self.lets[name] = self.build(self.t.lets[name])
            return self.lets[name]
        if name in self.t.dim_names and name not in self.t.prog.decls:
            return E.dim_scalar(E.dim_symbol(name))
        if name == "eye":
            return E.eye(self.shape(node)[0])
        return self.var(name)

    def _b_neg(self, node):
        return E.neg(self.build(node.children[0]))

    def _b_T(self, node):
        x = self.build(node.children[0])
        return E.transpose(x) if node.value % 2 else x

    def _b_sum(self, node):
        shape = self.shape(node)
        terms = []
        for child, op in zip(node.children, [None] + node.ops):
            if self.t._is_literal(child):
                v = _literal_value(child)
                term = E.fill(v, shape)
            else:
                term = self.build(child)
            terms.append(E.neg(term) if op is not None and str(op) == "-" else term)
        return E.add(*terms)

    def _b_product(self, node):
        # runs of * and / are built as one n-ary product (long products stay linear)
        run = [self.build(node.children[0])]
        for child, op in zip(node.children[1:], node.ops):
            rhs = self.build(child)
            o = str(op)
            try:
                if o == "*":
                    run.append(rhs)
                elif o == "/":
                    run.append(E.power(rhs, E.num(-1)))
                else:
                    acc = E.mul(*run)
                    run = [E.hadamard(acc, rhs) if o in (".*", "⊙") else E.ediv(acc, rhs)]
            except ShapeError as exc:
                exc.span = _span(op)
                raise
        try:
            return E.mul(*run)
        except ShapeError as exc:
            exc.span = exc.span or (_span(node.ops[0]) if node.ops else node.span)
            raise

    def _b_kron(self, node):
        return E.kron(self.build(node.children[0]), self.build(node.children[1]))

    def _b_pow(self, node):
        base = self.build(node.children[0])
        if node.value == "^" and not base.is_scalar:
            return E.matrix_power(base, _literal_int(node.children[1]))
        return E.power(base, self.build(node.children[1]))

    def _b_call(self, node):
        fn = node.value
        if fn == "eye":
            return E.eye(self.shape(node)[0])
        if fn in ("vector", "matrix"):
            c = self.build(node.children[0])
            return E.mul(c, E.ones(self.shape(node)))
        if fn == "kron":
            return E.kron(self.build(node.children[0]), self.build(node.children[1]))
        if fn == "commutation":
            return E.commutation(*self.shape_args(node.children))
        if fn == "duplication":
            return E.duplication(*self.shape_args(node.children))
        if fn == "unvec":
            return E.unvec(self.build(node.children[0]), self.shape(node))
        return E.apply(fn, self.build(node.children[0]))

    def shape_args(self, nodes):
        return [self.dim(self.t._dim_arg(d)) for d in nodes]


def _literal_value(node, depth=0):
    """The exact value of a constant made of numbers, unary minus, * / and integer
    powers; None for anything else."""
    if depth > 32:
        return None
    if node.kind == "num":
        return node.value
    if node.kind == "neg":
        v = _literal_value(node.children[0], depth + 1)
        return None if v is None else -v
    if node.kind == "product":
        acc = _literal_value(node.children[0], depth + 1)
        for child, op in zip(node.children[1:], node.ops):
            v = _literal_value(child, depth + 1)
            if acc is None or v is None or str(op) not in ("*", "/") or (str(op) == "/" and v == 0):
                return None
            acc = acc * v if str(op) == "*" else acc / v
        return acc
    if node.kind == "pow":
        base = _literal_value(node.children[0], depth + 1)
        k = _literal_int(node.children[1])
        if base is None or k is None or abs(k) > E.MAX_FOLD_EXPONENT or (base == 0 and k < 0):
            return None
        return base ** k
    return None


MAX_REKIND_TRIES = 64
#: Re-inferences spent keeping capitals whole (each one re-types the whole text).
MAX_CAPITAL_TRIES = 16


def _full_capitals(prog: Program, text: str, typer: "_Typer", budget: list):
    """Where a letter-default scalar forces a capital down to one row or column
    (``y - X*beta``, ``W1*X + b1*vector(1)'``), read that scalar as a vector instead if
    that keeps more capitals whole (DESIGN §2).  Returns the typer and the names whose
    kind was chosen this way (the CLI announces them)."""
    assumed, tries = [], MAX_CAPITAL_TRIES
    while typer.collapsed_capitals():
        best = None
        for name in typer.default_scalars():
            if budget[0] <= 0 or tries <= 0:
                break
            budget[0] -= 1
            tries -= 1
            try:
                other = _infer(prog, text, {**typer.overrides, name: "vector"}, budget)
            except ShapeError:
                continue
            if len(other.collapsed_capitals()) < len(typer.collapsed_capitals()):
                best = (name, other)
                break
        if best is None:
            break
        assumed.append(best[0])
        typer = best[1]
    return typer, assumed


def _infer(prog: Program, text: str, overrides: dict, budget: list) -> "_Typer":
    """Run shape inference, re-kinding letter-default scalars where it must (a small,
    bounded search: each option is tried in order, the first that types wins)."""
    typer = _Typer(prog, text, dict(overrides))
    try:
        typer.run()
        return typer
    except _Rekind as rk:
        for name, kind in rk.options:
            if budget[0] <= 0 or name in overrides:
                continue
            budget[0] -= 1
            try:
                return _infer(prog, text, {**overrides, name: kind}, budget)
            except ShapeError:
                continue
        raise rk.error()


@dataclass
class Parsed:
    """A typed program: the expression DAG plus what the text declared and bound."""

    expr: E.Expr
    text: str
    variables: dict          # name -> var Expr (free variables of the expression)
    lets: dict               # name -> Expr (let-bound values, in order)
    dims: tuple              # dimension symbols
    assumed: tuple = ()      # names whose kind inference chose between two valid readings
    given: dict = field(default_factory=dict)   # the symbols= declarations it was read with

    @property
    def shape(self):
        return self.expr.shape

    def __str__(self):
        from .printing.text import to_text
        return to_text(self.expr, self.let_names())

    def __repr__(self) -> str:
        """``mdiff.parse(...)`` text that rebuilds this expression."""
        return f"mdiff.parse({str(self)!r}, symbols={self.symbols()!r})"

    def to_sympy(self):
        from .sympy_interop import to_sympy
        return to_sympy(self.expr)

    def latex(self) -> str:
        from .printing.latex import to_latex
        return to_latex(self.expr, self.let_names())

    def _repr_latex_(self) -> str:
        return f"$$ {self.latex()} $$"

    def let_names(self) -> dict:
        """node -> the name the text bound it to (printers reuse the user's names)."""
        return {node: name for name, node in self.lets.items()}

    def symbols(self) -> dict:
        """Declarations of every variable, as the API's ``symbols=`` takes them."""
        return {name: _kind_text(v) for name, v in self.variables.items()}

    def assumptions(self) -> list:
        """'beta: vector(m)' for each kind chosen between two valid readings."""
        return [f"{n}: {_kind_text(self.variables[n])}" for n in self.assumed
                if n in self.variables]

    def describe_shapes(self) -> str:
        return ", ".join(f"{name}: {spec}" for name, spec in self.symbols().items())


def _kind_text(v: E.Expr) -> str:
    r, c = v.shape
    if v.is_scalar:
        base = "scalar"
    elif v.is_vector:
        base = f"vector({E.fmt_dim(r)})"
    else:
        base = f"matrix({E.fmt_dim(r)},{E.fmt_dim(c)})"
    props = sorted(v.props - ({"symmetric"} if v.props & {"spd", "diagonal"} else set()))
    return " ".join([base] + props)


def parse(text: str, symbols: dict | None = None, shape: tuple | None = None) -> Parsed:
    """Read, type and build ``text`` (DESIGN §2); every failure is an MdiffError.

    ``shape``, where given, is the shape the result is expected to have: sizes the text
    leaves open (``matrix(1)``) take it; a text of another shape is read as it is."""
    stmts = read(text)
    extra = {}
    for name, spec in (symbols or {}).items():
        if not isinstance(spec, str):
            raise DeclarationError(f"declaration of {name!r} must be text like 'matrix(n,n)'")
        extra[name] = parse_declaration(name, spec)
    prog = _program(stmts, text, extra)
    # the recursion limit of expr.bounded_work, but no node budget: a valid
    # 1,000,000-character input builds more nodes than a derivative may
    with E.raised_recursion_limit():
        budget = [MAX_REKIND_TRIES + 2 * len(prog.decls) + len(text) // 8]
        typer, assumed = _full_capitals(prog, text, _infer(prog, text, {}, budget), budget)
        if shape is not None:
            _expect_shape(typer, typer.shapes[id(prog.body)], shape)
        for name, decl in prog.decls.items():   # declared but unused: still a variable
            if name not in typer.var_shapes and name not in typer.lets:
                typer.name_shape(name, decl.span)
        builder = _Builder(typer)
        try:
            for name, node, _ in prog.lets:
                builder.lets.setdefault(name, builder.build(node))
            body = builder.build(prog.body)
        except RecursionError:  # pragma: no cover - guarded by MAX_NESTING
            raise LimitError("expression too deep") from None
    # every variable the text names, even one the constructors folded away (X in X^0):
    # it still fixes dimensions when the expression is evaluated
    variables = {n: builder.var(n) for n in typer.var_shapes}
    dims = tuple(sorted(E.free_dims(body), key=lambda s: s.name))
    return Parsed(body, text, variables, dict(builder.lets), dims, tuple(assumed),
                  dict(symbols or {}))
