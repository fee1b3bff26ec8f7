"""Start-up: how long the command line and a fresh process take before the first answer.

Each command runs in a fresh process, ``--repeat`` times, after one untimed warm-up run
(which also fills the grammar's table cache); the median wall time is reported as a ratio
to ``python -c "import numpy"`` measured in the same run.  OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE are unset for every child, baseline included.  Also reported: an
import-time breakdown of a CLI gradient (``python -X importtime``, by top-level package),
whether SymPy or SciPy was imported, and the first and the second derivative timed inside
one fresh process.  Measured and reported, never asserted.

    python benchmarks/bench_startup.py [--repeat 15] [--out FILE] [--results]

``--results`` also writes the table into the start-up section of
``benchmarks/results/RESULTS.md`` (replacing that section, leaving the rest).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common
from common import table

GRADIENT = ["tr(A*X'*B*X)", "wrt", "X"]
SECTION = "## 4. Start-up"

#: what one fresh process measures: import mdiff, the engine (which the first derivative
#: would otherwise import), the first and the second derivative, each printed
_IN_PROCESS = """
import sys, time
t0 = time.perf_counter()
import mdiff
t1 = time.perf_counter()
import mdiff.api, mdiff.printing.text
t2 = time.perf_counter()
first = str(mdiff.diff("tr(A*X'*B*X)", "X"))
t3 = time.perf_counter()
second = str(mdiff.diff("x'*A*x + b'*x", "x"))
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, "sympy" in sys.modules, "scipy" in sys.modules,
      "numpy" in sys.modules)
"""


def _env() -> dict:
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def _mdiff_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m mdiff``."""
    script = Path(sys.executable).with_name("mdiff")
    if script.exists():
        return [str(script)]
    found = shutil.which("mdiff")
    return [found] if found else [sys.executable, "-m", "mdiff"]


def _wall(cmd: list[str], repeat: int) -> float:
    env = _env()
    subprocess.run(cmd, env=env, capture_output=True, check=True)     # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def import_breakdown(cmd: list[str]) -> list[tuple[str, float]]:
    """Self import time by top-level package (seconds), largest first."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd], env=_env(),
                          capture_output=True, text=True, check=True)
    by_package: collections.Counter = collections.Counter()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line[len("import time:"):].split("|")
        by_package[name.strip().split(".")[0]] += int(own) / 1e6
    return by_package.most_common()


def in_process(repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _IN_PROCESS], env=_env(),
                             capture_output=True, text=True, check=True).stdout.split()
        runs.append(out)
    med = [statistics.median(float(r[i]) for r in runs) for i in range(4)]
    return {"import": med[0], "engine": med[1], "first": med[2], "second": med[3],
            "sympy": runs[0][4] == "True", "scipy": runs[0][5] == "True",
            "numpy": runs[0][6] == "True"}


def run(repeat: int) -> list[str]:
    """The section's Markdown lines (targets marked in its table)."""
    mdiff = _mdiff_command()
    py = [sys.executable]
    baseline = _wall(py + ["-c", "import numpy"], repeat)
    rows = [("python -c \"import numpy\" (the unit)", baseline),
            ("python -c \"pass\"", _wall(py + ["-c", "pass"], repeat)),
            ("python -c \"import mdiff\"", _wall(py + ["-c", "import mdiff"], repeat)),
            ("mdiff --help", _wall(mdiff + ["--help"], repeat)),
            ("mdiff --version", _wall(mdiff + ["--version"], repeat)),
            (f"mdiff \"{GRADIENT[0]}\" wrt X", _wall(mdiff + GRADIENT, repeat))]
    targets = {"mdiff --help": 2, "mdiff --version": 2, f"mdiff \"{GRADIENT[0]}\" wrt X": 3}
    lines = [SECTION, "",
             f"Measured by `python benchmarks/bench_startup.py` on "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: median wall "
             f"time of {repeat} fresh processes each (after one warm-up run), "
             f"OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset; load average at start "
             f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}.", ""]
    body = []
    for name, t in rows:
        goal = targets.get(name)
        status = "" if goal is None else ("met" if t / baseline <= goal else "**missed**")
        body.append((f"`{name}`", f"{t * 1e3:.0f} ms", f"{t / baseline:.2f}×",
                     f"≤ {goal}×" if goal else "", status))
    lines += table(("command", "median", "÷ import numpy", "target", ""), body)
    proc = in_process(repeat)
    lines += ["", "In one fresh process, step by step (each derivative printed):", ""]
    lines += table(("step", "median", "target"), [
        ("`import mdiff`", f"{proc['import'] * 1e3:.1f} ms", ""),
        ("the engine (`mdiff.api` and the text printer)",
         f"{proc['engine'] * 1e3:.1f} ms", ""),
        ("first derivative (reads the grammar's cached tables)",
         f"{proc['first'] * 1e3:.1f} ms", "< 10 ms"),
        ("second derivative", f"{proc['second'] * 1e3:.1f} ms", "")])
    lines += ["", f"After a gradient the process has imported SymPy: {proc['sympy']}, "
              f"SciPy: {proc['scipy']}, NumPy: {proc['numpy']}.", "",
              "Import time of the CLI gradient by package (`python -X importtime`, self "
              "times summed; importtime's own overhead inflates them):", ""]
    breakdown = import_breakdown(["-c", "import sys; from mdiff.cli import main; "
                                  f"sys.argv = ['mdiff', *{GRADIENT!r}]; main()"])
    lines += table(("package", "import time"),
                   [(name, f"{t * 1e3:.1f} ms") for name, t in breakdown[:8]])
    return lines


def _replace_section(path: Path, lines: list[str]) -> None:
    text = path.read_text() if path.exists() else "# mdiff benchmarks\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    else:
        end = text.find("\n## ", start + len(SECTION))
        rest = text[end:] if end >= 0 else "\n"
        text = text[:start] + "\n".join(lines) + "\n" + rest
    path.write_text(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    ap.add_argument("--results", action="store_true",
                    help="replace the start-up section of benchmarks/results/RESULTS.md")
    args = ap.parse_args(argv)
    lines = run(args.repeat)
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    if args.results:
        _replace_section(common.HERE / "results" / "RESULTS.md", lines)


if __name__ == "__main__":
    main()
