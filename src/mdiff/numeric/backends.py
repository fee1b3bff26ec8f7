"""Running generated code on an array library (numpy, array-api-strict, JAX, PyTorch,
CuPy, Dask).

The source comes from ``printing/code.py`` — printed from nodes with validated
identifiers, never from user text — and is compiled into a fresh namespace.  Inputs
are converted to the backend's arrays; an operation the backend lacks is reported as
an ``EvaluationError`` naming it and the backend.
"""

from __future__ import annotations

import builtins
import importlib
import inspect

from ..errors import EvaluationError

#: backend name -> module to import for its array namespace
BACKENDS = {
    "numpy": "array_api_compat.numpy",
    "array_api_strict": "array_api_strict",
    "jax": "jax.numpy",
    "torch": "array_api_compat.torch",
    "cupy": "array_api_compat.cupy",
    "dask": "array_api_compat.dask.array",
}


def namespace(backend: str):
    if backend not in BACKENDS:
        raise EvaluationError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    try:
        return importlib.import_module(BACKENDS[backend])
    except ImportError as exc:
        raise EvaluationError(f"backend {backend!r} is not installed ({exc.name})") from None


def compile_function(source: str, backend: str = "numpy"):
    """The generated function, called with the backend's namespace."""
    xp = namespace(backend)
    scope: dict = {"__builtins__": builtins, "__name__": "mdiff_generated"}
    exec(compile(source, "<mdiff-generated>", "exec"), scope)  # generated, not user text
    fname = [line.split("(")[0][4:] for line in source.splitlines() if line.startswith("def ")
             and not line.startswith("def _")][-1]
    fn = scope[fname]
    accepted = set(inspect.signature(fn).parameters) - {"xp"}

    def call(**values):
        # like the interpreter, keywords the function does not take are ignored
        args = {k: (xp.asarray(v) if v is not None and not isinstance(v, int) else v)
                for k, v in values.items() if k in accepted}
        try:
            return fn(xp=xp, **args)
        except AttributeError as exc:
            raise EvaluationError(f"backend {backend!r} lacks an operation the code needs: "
                                  f"{exc}") from None
        except NotImplementedError as exc:     # a matrix function's kernel (sqrtm, logm)
            raise EvaluationError(f"backend {backend!r}: {exc}") from None
        except TypeError as exc:
            raise EvaluationError(f"bad arguments for the generated function: {exc}") from None
        except IndexError as exc:              # an index outside its array (x[i])
            raise EvaluationError(str(exc)) from None

    call.source = source
    call.backend = backend
    return call
