"""Helpers for the web tests: a worker target for the pool's own tests (imported by the
spawned workers by name) and a server started as ``mdiff serve`` in a child process."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

#: An expression whose 6th derivative with a numeric check takes far longer than the
#: short limits the tests give the server (minutes), so its worker must be killed.
SLOW = {"expr": "x'*A*x*x'*B*x*x'*C*x", "wrt": ["x"], "order": 6, "check": True}


def nested(depth: int) -> list:
    """[[[...]]], ``depth`` lists deep: too deep to pickle."""
    x: list = []
    for _ in range(depth):
        x = [x]
    return x


def work(job):
    """('echo', v) -> v; ('sleep', s) sleeps s seconds; ('exit', code) ends the process;
    ('raise', message) raises; ('nested', depth) answers ``nested(depth)``; ('pid', _) its
    process id."""
    what, arg = job
    if what == "sleep":
        time.sleep(arg)
        return "slept"
    if what == "exit":
        os._exit(arg)
    if what == "raise":
        raise ValueError(arg)
    if what == "nested":
        return nested(arg)
    if what == "pid":
        return os.getpid()
    return arg


def _first_line(stream, seconds: float) -> str:
    """The first line of ``stream`` within ``seconds`` ('' if none came: the server hangs
    or ended), read by a thread so that the test never blocks on it."""
    import threading
    got = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    return got[0] if got else ""


@contextlib.contextmanager
def server(*options: str, startup: float = 120.0):
    """``mdiff serve --port 0 OPTIONS`` on 127.0.0.1: yields its base URL; stopped with
    SIGINT (Ctrl-C) at the end, which must end it cleanly.  Its stderr goes to a temporary
    file (a pipe nobody reads could fill and stall it); ``server.last`` is (exit status,
    stdout, stderr) once it has stopped."""
    import tempfile
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    errors = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([sys.executable, "-m", "mdiff", "serve", "--host", "127.0.0.1",
                             "--port", "0", *options], stdout=subprocess.PIPE,
                            stderr=errors, text=True, env=env)

    def stderr():
        errors.seek(0)
        return errors.read()
    try:
        line = _first_line(proc.stdout, startup)
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, f"no URL printed within {startup:g} s: {line!r} {stderr()}"
        url = m.group(0)
        deadline = time.monotonic() + startup
        while True:             # the workers start with the server: wait for an answer
            status, _ = post(url, "api/diff", {"expr": "x'*x", "wrt": ["x"]}, timeout=startup)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        yield url
    finally:
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
                    raise AssertionError("mdiff serve did not stop on Ctrl-C (SIGINT)")
            server.last = (proc.returncode, proc.stdout.read(), stderr())
        finally:
            proc.stdout.close()
            errors.close()


def post(url: str, path: str, body, timeout: float = 60.0, raw: bytes | None = None,
         headers: dict | None = None):
    """(status, parsed JSON) of a POST to ``url + path``."""
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, json.loads(payload)
        except ValueError:
            return exc.code, payload.decode(errors="replace")
