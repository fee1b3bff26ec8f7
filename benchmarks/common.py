"""Shared helpers of the benchmark scripts: timing, percentiles, time limits, the
machine description and Markdown tables."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import signal
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(HERE), str(ROOT / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)


def percentile(xs, q):
    """Linear-interpolated quantile (q in [0, 1]) of a list of numbers."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def geomean(xs):
    xs = [x for x in xs if x > 0]
    if not xs:
        return float("nan")
    return float(statistics.geometric_mean(xs))


class Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`Timeout` in the main thread after ``seconds`` (SIGALRM; no-op
    where unavailable).  Used so that one slow peer problem cannot stall the run."""
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def handler(signum, frame):
        raise Timeout(f"over {seconds:g} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def measure(fn, repeat: int = 5, budget: float = 2.0, setup=None, sync=None):
    """Median wall time (seconds) of ``fn()`` over ``repeat`` calls (fewer — but at
    least 3, or 1 when a single call is over budget — once ``budget`` seconds are
    spent), plus the list of times.  ``setup`` runs
    before every call, untimed; ``sync`` is applied to the result inside the timed
    region (``block_until_ready`` for JAX).  The garbage collector is paused while
    timing, as ``timeit`` does."""
    times = []
    spent = 0.0
    enabled = gc.isenabled()
    try:
        while len(times) < repeat:
            if setup is not None:
                setup()
            gc.disable()
            t0 = time.perf_counter()
            out = fn()
            if sync is not None:
                sync(out)
            dt = time.perf_counter() - t0
            if enabled:
                gc.enable()
            times.append(dt)
            spent += dt
            if spent > budget and (len(times) >= 3 or dt > budget):
                break
    finally:
        if enabled:
            gc.enable()
    return statistics.median(times), times


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    import numpy as np
    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")
        b = cfg.get("Build Dependencies", {}).get("blas", {})
        blas = f"{b.get('name', '?')} {b.get('version', '')}".strip()
    except Exception:
        pass
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                          "MKL_NUM_THREADS", "XLA_FLAGS") if k in os.environ}
    return {"cpu": cpu, "cores": os.cpu_count(), "load": load,
            "python": platform.python_version(), "platform": platform.platform(),
            "numpy": np.__version__, "blas": blas,
            "threads": ", ".join(f"{k}={v}" for k, v in threads.items()) or "library defaults"}


def cpu_snapshot():
    """(busy seconds of the whole machine, wall seconds, CPU seconds of this process), for
    measuring how much of the machine *other* processes used during a run (Linux)."""
    busy = None
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:9]]
        hz = os.sysconf("SC_CLK_TCK")
        busy = (sum(f) - f[3] - f[4]) / hz          # all but idle and iowait
    except (OSError, ValueError, IndexError):
        pass
    t = os.times()
    return busy, time.perf_counter(), t.user + t.system


def others_share(start, end) -> str:
    """Share of the machine's CPU capacity used by other processes between snapshots."""
    if start[0] is None or end[0] is None:
        return "n/a"
    wall = end[1] - start[1]
    others = (end[0] - start[0]) - (end[2] - start[2])
    cores = os.cpu_count() or 1
    return f"{max(0.0, others) / (wall * cores):.0%} of {cores} cores"


def table(header, rows) -> list[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return out


def ms(seconds, digits=None) -> str:
    """Seconds -> a millisecond string with sensible digits."""
    if seconds is None or seconds != seconds:
        return "—"
    v = seconds * 1e3
    if digits is None:
        digits = 3 if v < 1 else 2 if v < 10 else 1 if v < 1000 else 0
    return f"{v:,.{digits}f}"


def ratio(x) -> str:
    if x is None or x != x:
        return "—"
    return f"{x:.2f}×" if x < 10 else f"{x:.1f}×" if x < 100 else f"{x:,.0f}×"
