"""Compactness of printed results over the application corpus.

For every problem of ``tests/application_corpus.py``: mdiff's derivative (parse, type,
differentiate, simplify, print; the median of 3 timed calls, SymPy's cache cleared before
each, as ``bench_corpus.py`` does), the compactness ratio — the printed result's length
over the textbook form's, spaces not counted — and whether the result prints vec/Kronecker
machinery (``vec(``, ``unvec(``, ``⊗``, ``commutation(``) that the textbook form does
without.  ``main()`` prints the distribution:

    python benchmarks/bench_compactness.py [--worst N]
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass

import common  # noqa: F401  (sys.path: benchmarks/ and tests/)
import mdiff
from common import measure
from sympy.core.cache import clear_cache

#: what a matrix-form textbook answer rarely needs
MACHINERY = ("vec(", "unvec(", "⊗", "commutation(")
BUCKETS = (1.0, 1.3, 2.0)


@dataclass
class Row:
    id: str
    kind: str
    text: str
    textbook: str
    printed: str | None         # None where mdiff raised
    ratio: float | None
    seconds: float | None       # median of the timed mdiff.diff calls
    error: str = ""

    @property
    def machinery(self) -> list:
        """The vec/Kronecker spellings in the result that the textbook form has none of."""
        if self.printed is None:
            return []
        return [m for m in MACHINERY if m in self.printed and m not in self.textbook]


def problems(limit=None):
    from application_corpus import PROBLEMS
    return PROBLEMS[:limit] if limit else list(PROBLEMS)


def run(limit=None, repeat: int = 3) -> list[Row]:
    from application_corpus import compactness

    rows = []
    for p in problems(limit):
        try:
            printed = str(p.diff())
            seconds, _ = measure(p.diff, repeat=repeat, budget=float("inf"), setup=clear_cache)
        except mdiff.MdiffError as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            rows.append(Row(p.id, p.kind, p.text, p.textbook, None, None, None,
                            f"{type(exc).__name__}: {first}"))
            continue
        rows.append(Row(p.id, p.kind, p.text, p.textbook, printed,
                        compactness(printed, p.textbook), seconds))
    return rows


def report(rows: list[Row], worst: int = 10) -> str:
    ok = [r for r in rows if r.ratio is not None]
    ratios = [r.ratio for r in ok]
    lines = [f"application corpus: {len(rows)} problems, {len(ok)} differentiated"
             f" ({mdiff.__file__})", ""]
    kinds = {}
    for r in rows:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    lines.append("kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    lines += ["", "compactness ratio (printed / textbook, spaces not counted)",
              "| ratio | problems | cumulative |", "|---|---:|---:|"]
    lo, total = None, 0
    for hi in BUCKETS:
        n = sum(1 for x in ratios if (lo is None or x > lo) and x <= hi)
        total += n
        label = f"<= {hi:.1f}x" if lo is None else f"({lo:.1f}x, {hi:.1f}x]"
        lines.append(f"| {label} | {n} | {total} |")
        lo = hi
    n = sum(1 for x in ratios if x > BUCKETS[-1])
    lines.append(f"| > {BUCKETS[-1]:.1f}x | {n} | {total + n} |")
    if ratios:
        lines += ["", f"median ratio {statistics.median(ratios):.2f}, "
                      f"mean {statistics.fmean(ratios):.2f}, max {max(ratios):.2f}"]
    lines += ["", f"worst {worst}:"]
    for r in sorted(ok, key=lambda r: -r.ratio)[:worst]:
        lines += [f"  {r.ratio:5.2f}  {r.id}  ({r.kind})",
                  f"         mdiff:    {r.printed}",
                  f"         textbook: {r.textbook}"]
    mach = [r for r in ok if r.machinery]
    lines += ["", f"results with {', '.join(MACHINERY)} that the textbook form has none of: "
                  f"{len(mach)}"]
    for r in mach:
        lines.append(f"  {r.id}: {', '.join(r.machinery)}")
    timed = sorted(ok, key=lambda r: -r.seconds)
    if timed:
        lines += ["", "mdiff.diff time per problem (median of 3): "
                      f"median {statistics.median(r.seconds for r in ok) * 1e3:.2f} ms; slowest:"]
        for r in timed[:5]:
            lines.append(f"  {r.seconds * 1e3:8.2f} ms  {r.id}  ({r.kind})")
    failed = [r for r in rows if r.error]
    if failed:
        lines += ["", f"errors: {len(failed)}"]
        lines += [f"  {r.id}: {r.error}" for r in failed]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worst", type=int, default=10, help="how many of the worst to print")
    ap.add_argument("--limit", type=int, default=None, help="only the first N problems")
    args = ap.parse_args(argv)
    print(report(run(args.limit), args.worst))


if __name__ == "__main__":
    main()
