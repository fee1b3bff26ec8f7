"""The operation registry: each function of the language declared once, in one record.

Every consumer reads its part of the record — the parser (names, arity), the node
constructors (shape, structural facts), the table of differentials, the numpy
evaluator, the array-API code printer, the LaTeX printer, the checker's sampler (the
domain) and the solver (smoothness) — so adding a function is adding a record here
and its derivative cases to the tests; ``tests/test_registry.py`` fails when any
consumer lacks a part of a record.

This first part of the registry holds the elementwise functions ``phi(X)``, applied
entry by entry: their shape is the argument's and their differential is
``d phi(X) = phi'(X) .* dX``, so a record needs only the scalar derivative.  The module
imports nothing of mdiff (the derivative is handed the node constructors, ``E``) and
nothing heavy: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Elementwise:
    """An elementwise function of the language.

    ``derivative(E, x, y)`` is phi'(x) as an expression, given the argument ``x``, the
    node ``y = phi(x)`` (to reuse it: tanh' = 1 - y.^2) and the constructors ``E``
    (``mdiff.expr``).  ``numpy`` evaluates it on an array; ``code`` is the array-API
    expression (``{0}`` the argument, ``xp`` the namespace), calling ``helper`` — the
    source of a function ``_<name>(z, xp)`` emitted into generated modules — where the
    array API has no stable kernel.  ``latex`` is a function macro (``\\sin``) or a
    template with ``{0}`` (``\\sqrt{{{0}}}``).  ``domain`` is what the checker samples
    when generic points fall outside it: 'positive' (log, sqrt) or 'bounded'
    (arcsin/arccos); ``zero_preserving``: phi(0) = 0 (phi(0 matrix) folds to 0);
    ``smooth``: False where the derivative jumps (the solver refuses such a term);
    ``sympy``: the SymPy function's name, or None where SymPy has none (the interop
    then raises a named error)."""

    name: str
    derivative: Callable
    numpy: Callable
    code: str
    latex: str
    domain: str | None = None
    zero_preserving: bool = False
    smooth: bool = True
    helper: str | None = None
    sympy: str | None = None


def _one(E, x):
    return E.ones(x.shape)


_SIGMOID_HELPER = '''def _sigmoid(z, xp):
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))'''

_SOFTPLUS_HELPER = '''def _softplus(z, xp):
    return xp.logaddexp(xp.zeros_like(z), z)'''


def _expit(x):
    """The logistic function without overflow (no SciPy needed)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


ELEMENTWISE = {op.name: op for op in (
    Elementwise("sin", lambda E, x, y: E.apply("cos", x), np.sin, "xp.sin({0})", "\\sin",
                zero_preserving=True, sympy="sin"),
    Elementwise("cos", lambda E, x, y: E.neg(E.apply("sin", x)), np.cos, "xp.cos({0})",
                "\\cos", sympy="cos"),
    Elementwise("tan", lambda E, x, y: E.add(_one(E, x), E.power(y, E.num(2))), np.tan,
                "xp.tan({0})", "\\tan", zero_preserving=True, sympy="tan"),
    Elementwise("arcsin", lambda E, x, y: E.power(E.sub(_one(E, x), E.power(x, E.num(2))),
                                                  E.num(E.Rational(-1, 2))),
                np.arcsin, "xp.asin({0})", "\\arcsin", domain="bounded",
                zero_preserving=True, sympy="asin"),
    Elementwise("arccos", lambda E, x, y: E.neg(E.power(
        E.sub(_one(E, x), E.power(x, E.num(2))), E.num(E.Rational(-1, 2)))),
        np.arccos, "xp.acos({0})", "\\arccos", domain="bounded", sympy="acos"),
    Elementwise("arctan", lambda E, x, y: E.power(E.add(_one(E, x), E.power(x, E.num(2))),
                                                  E.num(-1)),
                np.arctan, "xp.atan({0})", "\\arctan", zero_preserving=True, sympy="atan"),
    Elementwise("sinh", lambda E, x, y: E.apply("cosh", x), np.sinh, "xp.sinh({0})",
                "\\sinh", zero_preserving=True, sympy="sinh"),
    Elementwise("cosh", lambda E, x, y: E.apply("sinh", x), np.cosh, "xp.cosh({0})",
                "\\cosh", sympy="cosh"),
    Elementwise("tanh", lambda E, x, y: E.sub(_one(E, x), E.power(y, E.num(2))), np.tanh,
                "xp.tanh({0})", "\\tanh", zero_preserving=True, sympy="tanh"),
    Elementwise("exp", lambda E, x, y: y, np.exp, "xp.exp({0})", "\\exp", sympy="exp"),
    Elementwise("log", lambda E, x, y: E.power(x, E.num(-1)), np.log, "xp.log({0})",
                "\\log", domain="positive", sympy="log"),
    Elementwise("log1p", lambda E, x, y: E.power(E.add(_one(E, x), x), E.num(-1)), np.log1p,
                "xp.log1p({0})", "\\log\\left(1 + {0}\\right)", domain="positive",
                zero_preserving=True),
    Elementwise("expm1", lambda E, x, y: E.apply("exp", x), np.expm1, "xp.expm1({0})",
                "\\left(e^{{{0}}} - 1\\right)", zero_preserving=True),
    Elementwise("sqrt", lambda E, x, y: E.mul(E.num(E.Rational(1, 2)), E.power(y, E.num(-1))),
                np.sqrt, "xp.sqrt({0})", "\\sqrt{{{0}}}", domain="positive",
                zero_preserving=True, sympy="sqrt"),
    Elementwise("abs", lambda E, x, y: E.apply("sign", x), np.abs, "xp.abs({0})",
                "\\left| {0} \\right|", zero_preserving=True, smooth=False, sympy="Abs"),
    # zero almost everywhere, and taken as 0 at the kink (README)
    Elementwise("sign", lambda E, x, y: E.zeros(x.shape), np.sign, "xp.sign({0})",
                "\\operatorname{{sign}}", zero_preserving=True, smooth=False, sympy="sign"),
    # step(x) = sign(relu(x)), taken as 0 at x = 0
    Elementwise("relu", lambda E, x, y: E.apply("sign", y), lambda x: np.maximum(x, 0.0),
                "xp.where({0} > 0, {0}, xp.zeros_like({0}))", "\\operatorname{{relu}}",
                zero_preserving=True, smooth=False),
    Elementwise("sigmoid", lambda E, x, y: E.hadamard(y, E.sub(_one(E, x), y)), _expit,
                "_sigmoid({0}, xp)", "\\sigma", helper=_SIGMOID_HELPER),
    Elementwise("softplus", lambda E, x, y: E.apply("sigmoid", x),
                lambda x: np.logaddexp(0.0, x), "_softplus({0}, xp)",
                "\\operatorname{{softplus}}", helper=_SOFTPLUS_HELPER),
)}


def latex_of(op: Elementwise, argument: str, paren: Callable[[str], str]) -> str:
    """The LaTeX of ``op`` applied to ``argument`` (already LaTeX): a template, or the
    macro followed by the parenthesised argument."""
    if "{0}" in op.latex:
        return op.latex.format(argument)
    return op.latex.format() + paren(argument)
