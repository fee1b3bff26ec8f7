"""Scaling with depth: the gradient of an L-layer MLP wrt the first layer's weights.

``h1 = tanh(W1*x + b1); ...; hL = tanh(WL*h(L-1) + bL); 1/2*norm2(hL - y)^2``, written
with let-bindings and as one nested expression (width symbolic).  For each L: the time
of parse + differentiate + simplify + print (median), the printed size, the time to
generate code and the generated code's size (``len(r.code())``).  All must grow linearly
in L; the growth exponent is the least-squares slope of log(size) on log(L) for L >= 8.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import common  # noqa: F401
import mdiff
from bench_symbolic import mlp
from common import measure
from sympy.core.cache import clear_cache


@dataclass
class DepthRow:
    layers: int
    written: str          # "let" | "nested"
    seconds: float        # parse + diff + simplify + print (median)
    printed: int          # characters of str(result)
    code_seconds: float   # r.code()
    code: int             # characters of r.code()


def run(depths, repeat=3, log=print) -> list[DepthRow]:
    rows = []
    for L in depths:
        for written in ("let", "nested"):
            text = mlp(L, written == "nested")

            def work(text=text):
                r = mdiff.diff(text, wrt="W1")
                str(r)
                return r
            med, _ = measure(work, repeat=repeat, budget=10.0, setup=clear_cache)
            r = work()
            printed = len(str(r))
            t0 = time.perf_counter()
            code = r.code()
            code_s = time.perf_counter() - t0
            rows.append(DepthRow(L, written, med, printed, code_s, len(code)))
            if log:
                log(f"  L={L:4d} {written:6s} {med * 1e3:9.1f} ms  printed {printed:7d}  "
                    f"code {len(code):8d} chars ({code_s * 1e3:.1f} ms)")
    return rows


def growth(rows, written, attr, min_layers=8):
    """Least-squares exponent k in attr ~ L^k over L >= min_layers (1 = linear)."""
    pts = [(math.log(r.layers), math.log(getattr(r, attr))) for r in rows
           if r.written == written and r.layers >= min_layers and getattr(r, attr) > 0]
    if len(pts) < 2:
        return float("nan")
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else float("nan")
