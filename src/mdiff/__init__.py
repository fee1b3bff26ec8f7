"""mdiff: symbolic matrix calculus.

    >>> import mdiff
    >>> str(mdiff.diff("tr(A*X*B)", wrt="X"))
    "A'*B'"

The names below are loaded when first used (PEP 562), so ``import mdiff`` and
``mdiff --help`` cost no more than the errors module: the engine and the grammar come
with the first parse, NumPy with the first evaluation, SciPy and SymPy with the features
that use them.
"""

import importlib

from .errors import (CheckFailed, DeclarationError, DiffError, DomainError, EvaluationError,
                     LimitError, MdiffError, NoDomainPoint, ParseError, ShapeError, UnknownFunction)

__version__ = "0.1.0"

#: public name -> the module (relative to this package) that defines it
_LAZY = {
    **dict.fromkeys(("parse", "Parsed"), ".language"),
    "Comparison": ".numeric.check",
    **dict.fromkeys(("Derivative", "against", "check", "diff", "equivalent",
                     "from_sympy", "function", "gradients", "hessian", "solve", "Solution",
                     "value_and_grad"), ".api"),
    **dict.fromkeys(("maximize", "minimize", "OptimizeResult"), ".optimize"),
    "NoClosedForm": ".extrema.stationary",
}

__all__ = [
    "parse", "Parsed", "function", "diff", "gradients", "hessian", "check", "equivalent",
    "against", "value_and_grad", "solve", "Solution", "NoClosedForm", "minimize",
    "maximize", "OptimizeResult", "from_sympy",
    "Derivative", "Comparison", "__version__",
    "MdiffError", "ParseError", "ShapeError", "UnknownFunction", "DeclarationError",
    "DomainError", "NoDomainPoint", "LimitError", "DiffError", "EvaluationError", "CheckFailed",
]


def __getattr__(name: str):
    """A public name, or a subpackage (``mdiff.core``), imported on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif not name.startswith("__"):
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
