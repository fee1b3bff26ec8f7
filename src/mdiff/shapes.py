"""Shape rules of the language's functions, written once for every reader.

A function's result shape follows from its argument's by a ``Rule``.  Three parts of
mdiff read the same rule: the parser's inference, on shapes whose sizes may still be
open (``Unifier`` in ``parser.py`` unifies them), the node constructors, on known
shapes (``expr.apply``), and the text printer's size analysis, which asks what sizes of
a result its argument's text fixes (``fixes``) and what sizes of the argument the
result's context fixes (``context``), so that ``vector(1)`` is printed size-free
exactly where it reads back with the same size.

A rule reaches sizes only through a ``ShapeAlgebra`` — ``square`` (make or check the
two sizes equal, else raise a ``ShapeError`` naming the function), ``is_column``,
``times`` — so it is the same code on open and on known sizes.  The module imports
nothing of mdiff.
"""

from __future__ import annotations

from typing import Protocol


class ShapeAlgebra(Protocol):
    """Sizes as one reader has them: open (the parser) or known (the constructors)."""

    def square(self, shape, what: str) -> None:
        """Make (or check) ``shape`` square, else raise a ShapeError naming ``what``."""

    def is_column(self, shape) -> bool:
        """Is the shape known to have one column?"""

    def times(self, a, b):
        """The size a*b."""


ONE_BY_ONE = (1, 1)


class Rule:
    """How a one-argument function's result shape follows from its argument's."""

    #: a short name used in messages and tests
    name = "rule"

    def applies(self, algebra: ShapeAlgebra, x) -> bool:
        """Whether this rule reads an argument of shape ``x`` (one spelling, several
        operations: ``diag`` of a vector or of a square matrix)."""
        return True

    def infer(self, algebra: ShapeAlgebra, x, what: str):
        raise NotImplementedError

    def fixes(self, rows: bool, cols: bool) -> tuple[bool, bool]:
        """(rows, cols) of the result fixed by the argument's text, given which of the
        argument's sizes its text fixes."""
        return (True, True)

    def context(self, rows: bool, cols: bool) -> tuple[bool, bool]:
        """(rows, cols) of the argument fixed by the result's context, given which of
        the result's sizes the context fixes."""
        return (False, False)

    def __repr__(self) -> str:
        return f"<shape rule {self.name}>"


class _Same(Rule):
    """The argument's shape (elementwise functions, softmax)."""
    name = "same"

    def infer(self, algebra, x, what):
        return x

    def fixes(self, rows, cols):
        return (rows, cols)

    def context(self, rows, cols):
        return (rows, cols)


class _Square(Rule):
    """A square matrix to one of the same size (inv, matrix functions)."""
    name = "square"

    def infer(self, algebra, x, what):
        algebra.square(x, what)
        return x

    def fixes(self, rows, cols):
        return (rows or cols, rows or cols)

    def context(self, rows, cols):
        return (rows or cols, rows or cols)


class _Reduce(Rule):
    """Any shape to a scalar (sum, norms, logsumexp)."""
    name = "scalar"

    def infer(self, algebra, x, what):
        return ONE_BY_ONE


class _SquareReduce(Rule):
    """A square matrix to a scalar (tr, det, logdet)."""
    name = "square to scalar"

    def infer(self, algebra, x, what):
        algebra.square(x, what)
        return ONE_BY_ONE


class _Vec(Rule):
    """An m×n matrix to its mn columns stacked."""
    name = "vec"

    def infer(self, algebra, x, what):
        return (algebra.times(x[0], x[1]), 1)

    def fixes(self, rows, cols):
        return (rows and cols, True)


class _DiagMatrix(Rule):
    """A vector to the diagonal matrix that carries it."""
    name = "vector to diagonal matrix"

    def applies(self, algebra, x):
        return algebra.is_column(x)

    def infer(self, algebra, x, what):
        return (x[0], x[0])

    def fixes(self, rows, cols):
        return (rows, rows)

    def context(self, rows, cols):
        return (rows or cols, True)


class _DiagVector(Rule):
    """A square matrix to its diagonal."""
    name = "square to its diagonal"

    def infer(self, algebra, x, what):
        algebra.square(x, what)
        return (x[0], 1)

    def fixes(self, rows, cols):
        return (rows or cols, True)

    def context(self, rows, cols):
        return (rows, rows)


SAME = _Same()
SQUARE = _Square()
REDUCE = _Reduce()
SQUARE_REDUCE = _SquareReduce()
VEC = _Vec()
DIAG_MATRIX = _DiagMatrix()
DIAG_VECTOR = _DiagVector()
