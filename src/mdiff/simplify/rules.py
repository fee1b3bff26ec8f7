"""The two kinds of identity in the catalogue: patterns and rule functions.

A *pattern* is an identity written in mdiff's own notation, ``(A ⊗ B)' = A' ⊗ B'``,
read by the language itself and compiled into a matcher:

* the names of the left side are pattern variables.  A scalar-kinded name (a–g, or
  one declared scalar) matches a 1×1 node only, a vector-kinded one a column only, any
  other any node; a name used twice must match the same node;
* every other node of the left side must match the node's operation, data and arity
  exactly, so a pattern is local: n-ary sums and products, and rules that weigh costs,
  stay rule functions;
* the right side is built by substituting the matched nodes into it: the constructors
  renormalise the result;
* the left side, with the declarations the pattern needs, is also the identity's
  numeric test (``tests/test_simplify.py`` checks left = right at random points).

A pattern is compiled the first time it is tried, so importing mdiff parses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..core import expr as E
from ..core.expr import Expr
from ..language import parse


@dataclass(frozen=True)
class Identity:
    name: str
    statement: str
    source: str
    op: str                  # the op of the node the rule looks at
    rule: Callable           # Expr -> Expr | None
    example: str             # an input on which the rule fires (for the numeric tests)


class Pattern:
    """``lhs = rhs`` compiled into a rule ``Expr -> Expr | None``."""

    def __init__(self, statement: str, declarations: str = "", where: Callable | None = None):
        lhs, sep, rhs = statement.partition(" = ")
        if not sep or " = " in rhs:
            raise ValueError(f"a pattern is 'left = right': {statement!r}")
        self.lhs_text, self.rhs_text = lhs, rhs
        self.declarations = declarations
        self.where = where               # bindings (name -> node) -> bool
        self._compiled = None

    @property
    def example(self) -> str:
        return f"{self.declarations}; {self.lhs_text}" if self.declarations else self.lhs_text

    def compile(self):
        """(left side, right side, variables by name), read by the language once."""
        if self._compiled is None:
            prefix = f"{self.declarations}; " if self.declarations else ""
            p = parse(f"{prefix}left_side = {self.lhs_text}; {self.rhs_text}")
            lhs = p.lets["left_side"]
            names = set(E.free_vars(lhs))
            extra = set(E.free_vars(p.expr)) - names
            if extra:
                raise ValueError(f"the right side of {self.lhs_text} = {self.rhs_text} "
                                 f"names {sorted(extra)}, which the left side does not bind")
            self._compiled = (lhs, p.expr, {n: p.variables[n] for n in names})
        return self._compiled

    def __call__(self, e: Expr) -> Expr | None:
        lhs, rhs, variables = self.compile()
        bound: dict[str, Expr] = {}
        if not _match(lhs, e, bound):
            return None
        if self.where is not None and not self.where(bound):
            return None
        return E.substitute(rhs, {variables[n]: node for n, node in bound.items()})


def _match(p: Expr, e: Expr, bound: dict) -> bool:
    """Does ``e`` match the pattern node ``p`` (extending ``bound``)?"""
    stack = [(p, e)]
    while stack:
        p, e = stack.pop()
        if p.op == "var":
            if (p.is_scalar and not e.is_scalar) or (p.is_vector and e.cols != 1):
                return False
            if bound.setdefault(p.name, e) is not e:
                return False
            continue
        if p.op != e.op or p.data != e.data or len(p.args) != len(e.args):
            return False
        stack.extend(zip(p.args, e.args))
    return True


def pattern(name: str, statement: str, source: str, op: str, declarations: str = "",
            where: Callable | None = None, example: str = "") -> Identity:
    """An identity written as a pattern; ``op`` is the operation its left side starts
    with (checked when it is compiled, ``tests/test_simplify.py``).  The numeric test is
    the left side itself, or ``example`` where a condition ``where`` needs a narrower
    input."""
    compiled = Pattern(statement, declarations, where)
    return Identity(name, statement, source, op, compiled, example or compiled.example)
