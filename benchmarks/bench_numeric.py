"""Generated code against autodiff (JAX, autograd) and hand-written numpy.

Float64 throughout.  Every method is first checked against the hand-written result
(``agrees``); then its first call (JAX: trace + XLA compile; mdiff: derivation + code
generation + ``exec``, measured separately as "compile") and the median of repeated
calls are taken.  Peak memory of one call is ``tracemalloc``'s peak, which sees numpy's
allocations (mdiff, autograd and hand-written code) but not XLA's (JAX: "n/a").

Problems:

* **MLP** ``H = tanh(W1*X + b1*1'); Z = tanh(W2*H + b2*1'); 1/2*||Z - Y||²`` with
  width n, batch N: the value and the gradients wrt W1, b1, W2, b2 (a training step's
  work) — mdiff ``value_and_grad`` (generated numpy), ``jax.jit(jax.value_and_grad)``,
  ``autograd.value_and_grad``, hand-written backprop.  "f" is the value alone (the
  hand-written forward pass is the reference for gradient/function ratios).
* **Logistic-regression Hessian** ``sum(log(1 + exp(-y .* (X*w))))`` wrt w, data
  N x d — mdiff ``hessian(...).function()`` (numpy interpreter) and
  ``.function(backend="numpy")`` (generated code), ``jax.jit(jax.hessian)``,
  ``autograd.hessian``, the closed form ``X' * diag(s .* (1 - s)) * X`` (without the
  diagonal matrix).
* **Quadratic-form Hessian** ``x'*A*x`` wrt x (n x n): mdiff's ``A + A'`` and the
  hand-written ``A + A.T`` against ``jax.jit(jax.hessian)`` and ``autograd.hessian``.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

import common  # noqa: F401
import mdiff
import peers

MLP_TEXT = "H = tanh(W1*X + b1*vector(1)'); Z = tanh(W2*H + b2*vector(1)'); 1/2*norm2(Z - Y)^2"
MLP_SYMBOLS = {"W1": "matrix(n,n)", "W2": "matrix(n,n)", "b1": "vector(n)", "b2": "vector(n)",
               "X": "matrix(n,N)", "Y": "matrix(n,N)"}
MLP_PARAMS = ["W1", "b1", "W2", "b2"]
LOGREG_TEXT = "sum(log(vector(1) + exp(-y.*(X*w))))"
QUAD_TEXT = "x'*A*x"


@dataclass
class Result:
    problem: str
    size: str
    method: str
    what: str                       # "value+grad", "f", "hessian"
    seconds: float | None = None    # median per call (first call excluded)
    compile_s: float | None = None  # mdiff: derivation + code generation (+ exec)
    first_s: float | None = None    # the first call (JAX: tracing + XLA compilation)
    peak_mb: float | None = None
    agrees: str = ""
    note: str = ""
    status: str = "ok"              # ok | not installed | failed


def _peak_mb(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def _close(a, b, rtol=1e-7):
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    return bool(np.max(np.abs(a - b), initial=0.0) <= rtol * scale)


def _agree(out, ref):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    refs = ref if isinstance(ref, (tuple, list)) else (ref,)
    ok = len(outs) == len(refs) and all(_close(np.asarray(o), r) for o, r in zip(outs, refs))
    return "yes" if ok else "NO"


#: set by ``run.py --no-peers``: peers are marked "skipped" instead of being run
SKIP_PEERS = False


def _jax():
    if SKIP_PEERS or peers.version("jax") is None:
        return None
    import jax
    jax.config.update("jax_enable_x64", True)   # this benchmark process only
    return jax


def _autograd():
    if SKIP_PEERS or peers.version("autograd") is None:
        return None
    return __import__("autograd")


@dataclass
class Candidate:
    method: str
    what: str
    fn: object
    sync: object = None
    compile_s: float | None = None
    memory: bool = True
    note: str = ""


def run_group(results, problem, size, candidates, refs, repeat, budget):
    """Check, then time the candidates *interleaved* (one call of each per round, so a
    burst of load on a shared machine hits every method alike), then measure memory.
    ``refs`` maps ``what`` -> the hand-written result to agree with."""
    live = []
    for c in candidates:
        try:
            t0 = time.perf_counter()
            out = c.fn()
            if c.sync:
                c.sync(out)
            first = time.perf_counter() - t0
            agrees = _agree(out, refs[c.what]) if refs.get(c.what) is not None else ""
        except Exception as exc:   # a peer failing is a row, not a crash
            results.append(Result(problem, size, c.method, c.what, status="failed",
                                  note=f"{type(exc).__name__}: {exc}"[:100]))
            continue
        live.append([c, first, agrees, []])
    for _ in range(repeat):
        for entry in live:
            c, _, _, times = entry
            spent = sum(times)
            if times and spent > budget and (len(times) >= 3 or spent > 3 * budget):
                continue
            gc.disable()
            try:
                t0 = time.perf_counter()
                out = c.fn()
                if c.sync:
                    c.sync(out)
                times.append(time.perf_counter() - t0)
            finally:
                gc.enable()
    for c, first, agrees, times in live:
        peak = _peak_mb(c.fn) if c.memory else None
        results.append(Result(problem, size, c.method, c.what, statistics.median(times),
                              c.compile_s, first, peak, agrees,
                              (c.note + "; " if c.note else "") + f"{len(times)} timed calls"))


def _missing(results, problem, size, method, what):
    results.append(Result(problem, size, method, what,
                          status="skipped" if SKIP_PEERS else "not installed"))


# --------------------------------------------------------------------------------------
# MLP
# --------------------------------------------------------------------------------------

def mlp_data(n, batch, seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.standard_normal((n, n)) / np.sqrt(n), "b1": rng.standard_normal(n) * 0.1,
            "W2": rng.standard_normal((n, n)) / np.sqrt(n), "b2": rng.standard_normal(n) * 0.1,
            "X": rng.standard_normal((n, batch)), "Y": np.tanh(rng.standard_normal((n, batch)))}


def hand_mlp_f(W1, b1, W2, b2, X, Y):
    H = np.tanh(W1 @ X + b1[:, None])
    R = np.tanh(W2 @ H + b2[:, None]) - Y
    return 0.5 * float(np.vdot(R, R))


def hand_mlp_vg(W1, b1, W2, b2, X, Y):
    """Backpropagation by hand: value and gradients wrt W1, b1, W2, b2."""
    H = np.tanh(W1 @ X + b1[:, None])
    Z = np.tanh(W2 @ H + b2[:, None])
    R = Z - Y
    E2 = R * (1 - Z * Z)
    E1 = (W2.T @ E2) * (1 - H * H)
    return 0.5 * float(np.vdot(R, R)), E1 @ X.T, E1.sum(axis=1), E2 @ H.T, E2.sum(axis=1)


def bench_mlp(n, batch, repeat, budget, results):
    size = f"n={n}, batch={batch}"
    v = mlp_data(n, batch)
    args = [v[k] for k in ("W1", "b1", "W2", "b2", "X", "Y")]
    ref_vg = hand_mlp_vg(*args)
    P = "MLP (2 layers)"
    cands = [Candidate("hand-written numpy", "f", lambda: hand_mlp_f(*args), note="forward pass"),
             Candidate("hand-written numpy", "value+grad", lambda: hand_mlp_vg(*args),
                       note="backprop")]

    t0 = time.perf_counter()
    vg = mdiff.value_and_grad(MLP_TEXT, wrt=MLP_PARAMS, symbols=MLP_SYMBOLS)
    compile_vg = time.perf_counter() - t0

    def mdiff_vg():
        val, g = vg(**v)
        return (val, *(g[k] for k in MLP_PARAMS))
    cands.append(Candidate("mdiff value_and_grad (generated numpy)", "value+grad", mdiff_vg,
                           compile_s=compile_vg))
    t0 = time.perf_counter()
    f = mdiff.function(MLP_TEXT, MLP_SYMBOLS)
    compile_f = time.perf_counter() - t0
    cands.append(Candidate("mdiff function() (numpy interpreter)", "f", lambda: f(**v),
                           compile_s=compile_f))

    jax = _jax()
    if jax is None:
        _missing(results, P, size, "jax.jit(f)", "f")
        _missing(results, P, size, "jax.jit(jax.value_and_grad)", "value+grad")
    else:
        import jax.numpy as jnp

        def loss(W1, b1, W2, b2, X, Y):
            H = jnp.tanh(W1 @ X + b1[:, None])
            R = jnp.tanh(W2 @ H + b2[:, None]) - Y
            return 0.5 * jnp.vdot(R, R)
        jargs = [jnp.asarray(a) for a in args]
        jf = jax.jit(loss)
        jvg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))
        sync = jax.block_until_ready
        cands.append(Candidate("jax.jit(f)", "f", lambda: jf(*jargs), sync, memory=False))
        cands.append(Candidate("jax.jit(jax.value_and_grad)", "value+grad",
                               lambda: (lambda o: (o[0], *o[1]))(jvg(*jargs)), sync, memory=False))

    ag = _autograd()
    if ag is None:
        _missing(results, P, size, "autograd value_and_grad", "value+grad")
    else:
        import autograd.numpy as anp

        def aloss(W1, b1, W2, b2, X, Y):
            H = anp.tanh(anp.dot(W1, X) + b1[:, None])
            R = anp.tanh(anp.dot(W2, H) + b2[:, None]) - Y
            return 0.5 * anp.sum(R * R)
        avg = ag.value_and_grad(aloss, argnum=(0, 1, 2, 3))
        cands.append(Candidate("autograd value_and_grad", "value+grad",
                               lambda: (lambda o: (o[0], *o[1]))(avg(*args))))
    run_group(results, P, size, cands, {"f": ref_vg[0], "value+grad": ref_vg}, repeat, budget)


# --------------------------------------------------------------------------------------
# Hessians
# --------------------------------------------------------------------------------------

def logreg_data(N, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d)) / np.sqrt(d)
    return {"X": X, "y": np.where(rng.standard_normal(N) > 0, 1.0, -1.0),
            "w": rng.standard_normal(d)}


def hand_logreg_hessian(X, y, w):
    """X' * diag(s .* (1 - s)) * X with s = sigmoid(-y .* (X*w)), no diagonal matrix."""
    s = 1.0 / (1.0 + np.exp(y * (X @ w)))
    return X.T @ ((s * (1 - s))[:, None] * X)


def bench_logreg(N, d, repeat, budget, results, autograd_limit=None):
    size = f"N={N}, d={d}"
    P = "logistic-regression Hessian"
    v = logreg_data(N, d)
    ref = hand_logreg_hessian(**v)
    cands = [Candidate("hand-written closed form", "hessian", lambda: hand_logreg_hessian(**v))]
    t0 = time.perf_counter()
    h = mdiff.hessian(LOGREG_TEXT, wrt="w")
    fi = h.function()
    compile_i = time.perf_counter() - t0
    t0 = time.perf_counter()
    fg = h.function(backend="numpy")
    compile_g = compile_i + time.perf_counter() - t0
    cands.append(Candidate("mdiff hessian().function(backend=\"numpy\") (generated)", "hessian",
                           lambda: fg(**v), compile_s=compile_g))
    cands.append(Candidate("mdiff hessian().function() (interpreter)", "hessian",
                           lambda: fi(**v), compile_s=compile_i))
    jax = _jax()
    if jax is None:
        _missing(results, P, size, "jax.jit(jax.hessian)", "hessian")
    else:
        import jax.numpy as jnp

        def loss(w, X, y):
            return jnp.sum(jnp.log(1 + jnp.exp(-y * (X @ w))))
        jh = jax.jit(jax.hessian(loss))
        jw, jX, jy = (jnp.asarray(v[k]) for k in ("w", "X", "y"))
        cands.append(Candidate("jax.jit(jax.hessian)", "hessian", lambda: jh(jw, jX, jy),
                               jax.block_until_ready, memory=False))
    ag = _autograd()
    if ag is None:
        _missing(results, P, size, "autograd.hessian", "hessian")
    elif autograd_limit is not None and d > autograd_limit:
        results.append(Result(P, size, "autograd.hessian", "hessian", status="skipped",
                              note=f"one Python-level VJP per row: skipped above d={autograd_limit}"))
    else:
        import autograd.numpy as anp

        def aloss(w, X, y):
            return anp.sum(anp.log(1 + anp.exp(-y * anp.dot(X, w))))
        ah = ag.hessian(aloss)
        cands.append(Candidate("autograd.hessian", "hessian", lambda: ah(v["w"], v["X"], v["y"]),
                               memory=d <= 200))
    run_group(results, P, size, cands, {"hessian": ref}, repeat, budget)


def bench_quadratic(n, repeat, budget, results):
    size = f"n={n}"
    P = "x'*A*x Hessian"
    rng = np.random.default_rng(1)
    A, x = rng.standard_normal((n, n)), rng.standard_normal(n)
    ref = A + A.T
    cands = [Candidate("hand-written A + A.T", "hessian", lambda: A + A.T)]
    t0 = time.perf_counter()
    h = mdiff.hessian(QUAD_TEXT, wrt="x")
    fg = h.function(backend="numpy")
    compile_g = time.perf_counter() - t0
    cands.append(Candidate(f"mdiff hessian().function(backend=\"numpy\") ({h})", "hessian",
                           lambda: fg(A=A, x=x), compile_s=compile_g))
    jax = _jax()
    if jax is None:
        _missing(results, P, size, "jax.jit(jax.hessian)", "hessian")
    else:
        import jax.numpy as jnp
        jh = jax.jit(jax.hessian(lambda x, A: x @ A @ x))
        jx, jA = jnp.asarray(x), jnp.asarray(A)
        cands.append(Candidate("jax.jit(jax.hessian)", "hessian", lambda: jh(jx, jA),
                               jax.block_until_ready, memory=False))
    ag = _autograd()
    if ag is None:
        _missing(results, P, size, "autograd.hessian", "hessian")
    else:
        import autograd.numpy as anp
        ah = ag.hessian(lambda x, A: anp.dot(x, anp.dot(A, x)))
        cands.append(Candidate("autograd.hessian", "hessian", lambda: ah(x, A), memory=n <= 200))
    run_group(results, P, size, cands, {"hessian": ref}, repeat, budget)


BURES_TEXT = "tr(S1 + S2 - 2*sqrtm(sqrtm(S1)*S2*sqrtm(S1)))"
BURES_SYMBOLS = {"S1": "matrix(n,n) spd", "S2": "matrix(n,n) spd"}


def _spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def _sqrtm_sym(a):
    w, u = np.linalg.eigh(a)
    return (u * np.sqrt(w)) @ u.T


def hand_bures_grad(S1, S2):
    """I - S1^(1/2) (S1^(1/2) S2 S1^(1/2))^(-1/2) S1^(1/2) (Bhatia, Jain & Lim 2019)."""
    r = _sqrtm_sym(S1)
    w, u = np.linalg.eigh(r @ S2 @ r)
    return np.eye(len(S1)) - r @ ((u / np.sqrt(w)) @ u.T) @ r


def bench_bures(n, repeat, budget, results):
    """Issue 16: the gradient of the squared Bures–Wasserstein distance wrt S2 — mdiff's
    generated code against ``jax.jit(jax.grad)`` through an eigendecomposition-based
    square root (JAX's own ``sqrtm`` has no derivative rule)."""
    size = f"n={n}"
    P = "Bures–Wasserstein gradient"
    rng = np.random.default_rng(3)
    S1, S2 = _spd(rng, n), _spd(rng, n)
    ref = hand_bures_grad(S1, S2)
    cands = [Candidate("hand-written eigh closed form", "gradient", lambda: hand_bures_grad(S1, S2))]
    t0 = time.perf_counter()
    r = mdiff.diff(BURES_TEXT, wrt="S2", symbols=BURES_SYMBOLS)
    fg = r.function(backend="numpy")
    compile_g = time.perf_counter() - t0
    cands.append(Candidate(f"mdiff diff().function(backend=\"numpy\") ({r})", "gradient",
                           lambda: fg(S1=S1, S2=S2), compile_s=compile_g))
    jax = _jax()
    if jax is None:
        _missing(results, P, size, "jax.jit(jax.grad)", "gradient")
    else:
        import jax.numpy as jnp

        def sqrtm(a):
            w, u = jnp.linalg.eigh(a)
            return (u * jnp.sqrt(w)) @ u.T

        def bures(s1, s2):
            r1 = sqrtm(s1)
            return jnp.trace(s1 + s2 - 2 * sqrtm(r1 @ s2 @ r1))
        jg = jax.jit(jax.grad(bures, argnums=1))
        j1, j2 = jnp.asarray(S1), jnp.asarray(S2)
        cands.append(Candidate("jax.jit(jax.grad) (eigh square root)", "gradient",
                               lambda: jg(j1, j2), jax.block_until_ready, memory=False))
    run_group(results, P, size, cands, {"gradient": ref}, repeat, budget)
