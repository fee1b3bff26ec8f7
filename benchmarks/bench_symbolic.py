"""Symbolic speed: parse + type, and parse + differentiate + simplify + print.

    python benchmarks/bench_symbolic.py [--quick] [--out benchmarks/results/symbolic.md]

Three tables:
1. parse + type time of the README's examples (median);
2. parse + differentiate + simplify + print over the derivative corpus
   (``tests/derivative_cases.py``): median and 95th percentile per problem;
3. an L-layer MLP (let-bound and nested), gradient wrt the first layer's weights:
   time and printed size, which must grow linearly in L.
Figures are measured, never asserted (a smoke test runs ``--quick``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import mdiff  # noqa: E402

README_EXAMPLES = [
    "tr(A*X'*B*X)", "x'*A*x", "A*X*B", "tr(A*X*B)", "log(det(X))", "u'*inv(X)*v",
    "norm2(A*x - b)^2", "sum(log(1 + exp(-y .* (X*w))))",
    "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); 1/2*norm2(y2 - y)^2",
    "D: matrix(p,N); S: matrix(p,p) spd; m: vector(p); "
    "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))",
    "0.5*norm2(tanh(W2*tanh(W1*x+b1)+b2) - y)^2", "h = tanh(W1*x + b1); 1/2*norm2(W2*h - y)^2",
]


def _best_of(fn, repeat: int) -> float:
    """Smallest wall time of ``repeat`` runs (seconds); the interning cache is cleared
    between runs by building fresh text, so each run does the full work."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def bench_parse(repeat):
    times = [_best_of(lambda t=t: mdiff.parse(t), repeat) for t in README_EXAMPLES]
    return times


def corpus():
    from derivative_cases import CASES
    return [c for c in CASES if not c.xfail]


def bench_corpus(repeat, limit=None):
    rows = []
    cases = corpus()[:limit] if limit else corpus()
    for c in cases:
        def work(c=c):
            r = mdiff.diff(c.text, wrt=c.wrt, symbols=c.symbols)
            return str(r)
        rows.append((c.id, _best_of(work, repeat)))
    return rows


def mlp(layers: int, nested: bool) -> str:
    if nested:
        h = "x"
        for i in range(1, layers + 1):
            h = f"tanh(W{i}*{h} + b{i})"
        return f"1/2*norm2({h} - y)^2"
    lines = ["h1 = tanh(W1*x + b1)"] + [f"h{i} = tanh(W{i}*h{i-1} + b{i})"
                                         for i in range(2, layers + 1)]
    return "; ".join(lines) + f"; 1/2*norm2(h{layers} - y)^2"


def bench_depth(depths):
    rows = []
    for L in depths:
        for nested in (False, True):
            text = mlp(L, nested)
            t0 = time.perf_counter()
            r = mdiff.diff(text, wrt="W1")
            printed = str(r)
            dt = time.perf_counter() - t0
            rows.append((L, "nested" if nested else "let", dt, len(printed)))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown tables here")
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else 5
    depths = [1, 2, 4] if args.quick else [1, 2, 4, 8, 16, 32, 64, 128]

    lines = ["# Symbolic speed", ""]
    pt = bench_parse(repeat)
    lines += ["## Parse + type (README examples)", "",
              f"{len(pt)} examples: median {statistics.median(pt) * 1e3:.3f} ms, "
              f"max {max(pt) * 1e3:.3f} ms", ""]

    rows = bench_corpus(repeat, limit=5 if args.quick else None)
    ts = [t for _, t in rows]
    lines += ["## Parse + differentiate + simplify + print (derivative corpus)", "",
              f"{len(ts)} problems: median {statistics.median(ts) * 1e3:.3f} ms, "
              f"95th percentile {percentile(ts, 0.95) * 1e3:.3f} ms, "
              f"max {max(ts) * 1e3:.3f} ms", "",
              "| slowest problems | ms |", "|---|---|"]
    for name, t in sorted(rows, key=lambda r: -r[1])[:5]:
        lines.append(f"| `{name}` | {t * 1e3:.2f} |")
    lines += ["", "## MLP depth (gradient wrt W1)", "",
              "| layers | written | time (ms) | printed chars |", "|---|---|---|---|"]
    for L, how, dt, size in bench_depth(depths):
        lines.append(f"| {L} | {how} | {dt * 1e3:.1f} | {size} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
