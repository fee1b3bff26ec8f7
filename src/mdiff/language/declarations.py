"""Declarations: ``X: matrix(n,n) symmetric`` statements and ``symbols=`` entries
become ``Decl`` records; a program is its declarations, its let-bindings and its body."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..core import expr as E
from ..errors import DeclarationError, ParseError, Span
from .reading import Node, read, span_of


@dataclass
class Decl:
    name: str
    kind: str                    # scalar | vector | matrix | index (i: index(n), 1 to n)
    dims: tuple                  # tuple of str | int
    props: frozenset
    span: Span


@dataclass
class Program:
    decls: dict = field(default_factory=dict)
    lets: list = field(default_factory=list)     # (name, Node, Span)
    body: Node | None = None


# --- declarations ---------------------------------------------------------------------

def _decl_from_stmt(stmt, text) -> Decl:
    _, name, kind, dims, props = stmt
    span = span_of(name)
    kind_s = str(kind)
    if kind_s not in ("scalar", "vector", "matrix", "index"):
        raise DeclarationError(
            f"unknown kind {kind_s!r} for {name} (use scalar, vector(n), matrix(m,n) or "
            f"index(n))", span_of(kind), text)
    want = {"scalar": 0, "vector": 1, "matrix": 2, "index": 1}[kind_s]
    dims = dims or []
    if len(dims) != want:
        raise DeclarationError(f"{kind_s} takes {want} dimension(s), got {len(dims)}",
                               span_of(kind), text)
    pset = frozenset(map(str, props))
    if kind_s == "index" and pset:
        raise DeclarationError(f"an index takes no properties ({name}: index(n))",
                               span_of(props[0]), text)
    for p in props:
        if str(p) not in E.PROPERTIES:
            close = difflib.get_close_matches(str(p), E.PROPERTIES, 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DeclarationError(f"unknown property {str(p)!r}{hint}", span_of(p), text)
    if pset & {"lower", "upper"} and (pset & {"symmetric", "spd", "diagonal"}
                                     or {"lower", "upper"} <= pset):
        raise DeclarationError(f"{name} cannot be {' and '.join(sorted(pset - {'positive'}))}: "
                               "a matrix both lower and upper triangular (or triangular and "
                               "symmetric) is diagonal; declare it diagonal", span, text)
    if pset & {"symmetric", "spd", "diagonal", "lower", "upper"} and kind_s == "vector":
        raise DeclarationError(f"a vector cannot be {'/'.join(sorted(pset - {'positive'}))}",
                               span, text)
    if "spd" in pset or "diagonal" in pset:
        pset = pset | {"symmetric"}
    if pset & {"symmetric", "lower", "upper"} and kind_s == "matrix" and dims[0] != dims[1]:
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


def program(stmts, text, extra_decls) -> Program:
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
                raise ParseError("a let-binding after the expression", span_of(tok), text)
            if name in bound or name in prog.decls:
                raise DeclarationError(f"{name} is already defined", span_of(tok), text)
            bound.add(name)
            prog.lets.append((name, value, span_of(tok)))
        else:
            if prog.body is not None:
                raise ParseError("more than one expression (separate bindings with ';' "
                                 "and end with one expression)", st.span, text)
            prog.body = st
    if prog.body is None:
        raise ParseError("no expression to read", Span(1, max(1, len(text.rstrip()) + 1)), text)
    return prog


def default_kind(name: str) -> str:
    """First-letter convention of matrixcalculus.org: a-g scalar, h-z vector, A-Z matrix."""
    first = name[0]
    if first.isupper():
        return "matrix"
    if "a" <= first <= "g":
        return "scalar"
    return "vector"
