"""Symbolic speed over the derivative corpus, side by side with SymPy and tensorgrad.

For every problem of ``tests/derivative_cases.py``:

* **mdiff**: ``str(mdiff.diff(text, wrt=..., symbols=...))`` — parse, type,
  differentiate, simplify and print, from the text;
* **SymPy**: build the matrix expression (see ``peers.py``), ``expr.diff(X)`` and
  ``str()`` of the answer (no further ``simplify``/``doit``: SymPy's own answer);
* **tensorgrad**: build the tensor expression, ``f.grad(X).simplify()`` (not printed).

SymPy's cache is cleared before every timed call of every tool (mdiff uses SymPy for
its dimensions), so each call does its whole work; the per-problem figure is the median
of ``repeat`` calls.  A peer's answer is checked numerically against mdiff's
``function(layout="tensor")`` at one random domain-respecting point (seeded by the
problem's index); ratios are taken on the problems the peer answers correctly.
"""

from __future__ import annotations

import statistics
import warnings
from dataclasses import dataclass, field

import numpy as np

import common  # noqa: F401  (sys.path)
import mdiff
import peers
from common import Timeout, geomean, measure, percentile, time_limit
from mdiff.numeric.check import sample_point
from sympy.core.cache import clear_cache

STATUSES = ("correct", "wrong", "no answer", "raises", "timeout", "not expressible",
            "not installed", "skipped")


@dataclass
class PeerResult:
    status: str
    seconds: float | None = None      # median time (correct answers), first call otherwise
    detail: str = ""


@dataclass
class Row:
    index: int
    source: str
    text: str
    wrt: str
    mdiff_s: float
    mdiff_times: list = field(default_factory=list)
    mdiff_warm_s: float | None = None    # the same, SymPy's cache left warm
    peers: dict = field(default_factory=dict)    # name -> PeerResult

    @property
    def id(self):
        return f"{self.source}: d[{self.text}]/d{self.wrt}"


def cases(limit=None):
    from derivative_cases import CASES
    out = [c for c in CASES if not c.xfail]
    return out[:limit] if limit else out


def reference(c, index):
    """mdiff's derivative, a random point and mdiff's value there (tensor layout)."""
    p = mdiff.parse(c.text, c.symbols)
    d = mdiff.diff(p, c.wrt)
    pt = sample_point(p.variables, [p.expr, d.expr], np.random.default_rng(1000 + index))
    kw = {str(k): v for k, v in pt.dims.items()}
    kw.update(pt.values)
    ref = np.asarray(d.function(layout="tensor")(**kw), dtype=float)
    x = p.variables[c.wrt]
    x_axes = sum(1 for s in x.shape if s != 1)
    return p, pt, ref, x, x_axes


def _short(exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {msg}"[:120]


def run_peer(name, p, c, pt, ref, x, x_axes, repeat, limit) -> PeerResult:
    """Build, differentiate, check numerically, and (if correct) time one peer."""
    try:
        if name == "sympy":
            writer = peers.SympyWriter(p)
            build = writer.builder(c.wrt)

            def work():
                f, X = build()
                r = f.diff(X)
                str(r)
                return r
        else:
            writer = peers.TensorgradWriter(p)
            build = writer.builder(c.wrt)

            def work():
                writer.vars = {}
                f, X = build()
                return f.grad(X, {e: "x" + e for e in X.edges}).simplify()
    except peers.Unsupported as exc:
        return PeerResult("not expressible", detail=str(exc))
    import time
    clear_cache()
    t0 = time.perf_counter()
    try:
        with time_limit(limit), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = work()
    except Timeout:
        return PeerResult("timeout", limit, f"no answer in {limit:g} s")
    except RecursionError as exc:
        return PeerResult("raises", None, _short(exc))
    except Exception as exc:
        return PeerResult("raises", time.perf_counter() - t0, _short(exc))
    first = time.perf_counter() - t0
    try:
        with time_limit(limit), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == "sympy":
                value = peers.sympy_numeric(result, pt.dims, pt.values)
            else:
                value = peers.tensorgrad_numeric(result, writer, pt.values, pt.dims)
    except Timeout:
        return PeerResult("no answer", first, "numeric evaluation timed out")
    except Exception as exc:
        return PeerResult("no answer", first, str(exc) if isinstance(exc, peers.Unevaluated)
                          else "not evaluable: " + _short(exc))
    if not peers.matches(value, ref, x, x_axes):
        return PeerResult("wrong", first, f"shape {np.shape(value)} vs mdiff {np.shape(ref)}"
                          if np.size(value) != np.size(ref) else "different values")
    try:
        with time_limit(limit * repeat), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            med, _ = measure(work, repeat=repeat, budget=limit, setup=clear_cache)
    except Timeout:
        med = first
    return PeerResult("correct", med)


def run(limit_cases=None, repeat=5, peer_names=("sympy", "tensorgrad"), peer_limit=20.0,
        log=print, skip=False) -> list[Row]:
    """Time mdiff on every problem and, unless ``skip``, each installed peer."""
    installed = {n: peers.version(n) for n in peer_names}
    rows = []
    todo = cases(limit_cases)
    for i, c in enumerate(todo):
        def work(c=c):
            return str(mdiff.diff(c.text, wrt=c.wrt, symbols=c.symbols))
        work()
        med, times = measure(work, repeat=repeat, setup=clear_cache)
        work()
        warm, _ = measure(work, repeat=repeat)
        row = Row(i, c.source, c.text, c.wrt, med, times, warm)
        p, pt, ref, x, x_axes = reference(c, i)
        for name in peer_names:
            if skip or installed[name] is None:
                row.peers[name] = PeerResult("skipped" if skip else "not installed")
                continue
            row.peers[name] = run_peer(name, p, c, pt, ref, x, x_axes, repeat, peer_limit)
        rows.append(row)
        if log:
            log(f"  [{i + 1}/{len(todo)}] {row.id[:70]:70s} mdiff {med * 1e3:7.2f} ms  "
                + "  ".join(f"{n}: {r.status}" for n, r in row.peers.items()))
    return rows


def summary(rows, peer_names=("sympy", "tensorgrad")) -> dict:
    """Numbers for the tables: per tool the counts, median/p95, and ratios."""
    ts = [r.mdiff_s for r in rows]
    warm = [r.mdiff_warm_s for r in rows if r.mdiff_warm_s is not None]
    out = {"n": len(rows), "mdiff": {"median": statistics.median(ts) if ts else float("nan"),
                                     "p95": percentile(ts, 0.95), "max": max(ts, default=float("nan")),
                                     "total": sum(ts)},
           "mdiff_warm": {"median": statistics.median(warm) if warm else float("nan"),
                          "p95": percentile(warm, 0.95)}}
    for name in peer_names:
        res = [r.peers.get(name) for r in rows]
        counts = {s: sum(1 for x in res if x and x.status == s) for s in STATUSES}
        ok = [(r.peers[name].seconds, r.mdiff_s) for r in rows
              if r.peers.get(name) and r.peers[name].status == "correct"]
        ratios = [a / b for a, b in ok]
        out[name] = {
            "counts": counts,
            "median": statistics.median([a for a, _ in ok]) if ok else float("nan"),
            "p95": percentile([a for a, _ in ok], 0.95),
            "mdiff_median_same": statistics.median([b for _, b in ok]) if ok else float("nan"),
            "ratio_median": statistics.median(ratios) if ratios else float("nan"),
            "ratio_geomean": geomean(ratios),
            "ratio_min": min(ratios, default=float("nan")),
            "ratio_max": max(ratios, default=float("nan")),
            "ratio_total": (sum(a for a, _ in ok) / sum(b for _, b in ok)) if ok else float("nan"),
        }
    return out
