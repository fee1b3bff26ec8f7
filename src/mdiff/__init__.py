"""mdiff: symbolic matrix calculus.

    >>> import mdiff
    >>> str(mdiff.diff("tr(A*X*B)", wrt="X"))
    "A'*B'"
"""

from .errors import (CheckFailed, DeclarationError, DiffError, DomainError, EvaluationError,
                     LimitError, MdiffError, NoDomainPoint, ParseError, ShapeError, UnknownFunction)
from .language import Parsed, parse
from .api import (Comparison, Derivative, against, check, diff, equivalent, from_sympy, function,
                  gradients, hessian, solve, Solution, value_and_grad)
from .optimize import maximize, minimize, OptimizeResult
from .extrema.stationary import NoClosedForm

__version__ = "0.1.0"

__all__ = [
    "parse", "Parsed", "function", "diff", "gradients", "hessian", "check", "equivalent",
    "against", "value_and_grad", "solve", "Solution", "NoClosedForm", "minimize",
    "maximize", "OptimizeResult", "from_sympy",
    "Derivative", "Comparison", "__version__",
    "MdiffError", "ParseError", "ShapeError", "UnknownFunction", "DeclarationError",
    "DomainError", "NoDomainPoint", "LimitError", "DiffError", "EvaluationError", "CheckFailed",
]
