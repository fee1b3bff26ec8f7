"""Latency of ``mdiff serve``: a gradient request alone and under 50 parallel clients.

Starts ``mdiff serve`` on 127.0.0.1 (a free port) with its default worker pool (one
process per core), sends POST /api/diff requests from this process (urllib, a connection
per request, as a page would) and reports the median and 95th percentile of the
round-trip time.  Bounded: ``--alone`` requests one after another, then ``--clients``
threads sending ``--each`` requests each.  Writes benchmarks/results/web.md with
``--results``.

    python benchmarks/bench_web.py [--alone 200] [--clients 50] [--each 10] [--results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from common import percentile

ROOT = Path(__file__).resolve().parents[1]

REQUESTS = {
    "gradient": {"expr": "tr(A*X'*B*X)", "wrt": ["X"]},
    "the page's request (steps + check)": {"expr": "tr(A*X'*B*X)", "wrt": ["X"],
                                            "steps": True, "check": True},
}


def _post(url: str, body: dict) -> tuple[object, float]:
    """(HTTP status, or the exception's name when there was no answer; round-trip s)."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(url + "api/diff", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    except (OSError, ValueError) as exc:        # no answer at all (refused, reset, timeout)
        status = type(exc).__name__
    return status, time.perf_counter() - start


class Tally:
    """The round-trip times of the requests answered 200, and how many got anything else
    (by status), from any number of threads."""

    def __init__(self):
        self.times, self.failed, self._lock = [], Counter(), threading.Lock()

    def add(self, status, seconds):
        with self._lock:
            if status == 200:
                self.times.append(seconds)
            else:
                self.failed[str(status)] += 1


def _alone(url, body, n):
    for _ in range(10):          # warm-up: both workers, the connection path
        _post(url, body)
    tally = Tally()
    for _ in range(n):
        tally.add(*_post(url, body))
    return tally


def _parallel(url, body, clients, each):
    tally = Tally()
    barrier = threading.Barrier(clients)

    def client():
        barrier.wait()
        for _ in range(each):
            tally.add(*_post(url, body))
    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.perf_counter() - start


def _start(workers):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    args = [sys.executable, "-m", "mdiff", "serve", "--port", "0"]
    if workers:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    url = re.search(r"http://\S+/", proc.stdout.readline()).group(0)
    return proc, url


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alone", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--each", type=int, default=10)
    ap.add_argument("--workers", type=int, default=None, help="default: the server's (cores)")
    ap.add_argument("--results", action="store_true", help="write benchmarks/results/web.md")
    args = ap.parse_args(argv)
    proc, url = _start(args.workers)
    rows = []
    try:
        for label, body in REQUESTS.items():
            alone = _alone(url, body, args.alone)
            par, wall = _parallel(url, body, args.clients, args.each)
            rows.append((label, alone, par, wall))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    ms = 1000
    lines = [f"mdiff serve latency, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
             f"{platform.python_version()}, workers: {args.workers or os.cpu_count()}", "",
             "| request | alone: median / p95 | "
             f"{args.clients} parallel clients: median / p95 | throughput |",
             "|---|---|---|---|"]
    failures = []
    for label, alone, par, wall in rows:
        for what, tally in (("alone", alone), ("parallel", par)):
            if tally.failed:
                failures.append(f"{label}, {what}: " + ", ".join(
                    f"{n} answered {status}" for status, n in sorted(tally.failed.items())))
        if not alone.times or not par.times:
            lines.append(f"| {label} | no request answered 200 | | |")
            continue
        lines.append(f"| {label} | {percentile(alone.times, .5) * ms:.1f} ms / "
                     f"{percentile(alone.times, .95) * ms:.1f} ms | "
                     f"{percentile(par.times, .5) * ms:.0f} ms / "
                     f"{percentile(par.times, .95) * ms:.0f} ms | "
                     f"{len(par.times) / wall:.0f} req/s |")
    answered = "all answered 200" if not failures else \
        "NOT all answered 200 (the times are those of the 200s): " + "; ".join(failures)
    lines += ["", f"alone: {args.alone} requests one after another (after 10 to warm up); "
              f"parallel: {args.clients} threads × {args.each} requests, {answered}. "
              "Round trips from a client on the same machine, which shares its cores."]
    text = "\n".join(lines) + "\n"
    print(text)
    if failures:                # the headline figures hold only if every request got 200
        print("bench_web: some requests were not answered 200; results not written",
              file=sys.stderr)
        return 1
    if args.results:
        (ROOT / "benchmarks" / "results" / "web.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
