"""Worker processes with a wall-clock limit per job.

A job runs in one of ``size`` processes, each behind a pipe.  A job that is not done
after ``timeout`` seconds has its process killed and replaced (a stuck derivative holds
one worker for at most that long, and a pure-C loop in NumPy cannot ignore SIGKILL);
``concurrent.futures.ProcessPoolExecutor`` cannot do that — it can cancel only jobs that
have not started.  ``run`` blocks; the server calls it from threads, and admits at most
``size + queue`` jobs at a time itself.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading


class Busy(Exception):
    """No worker became free within the limit (503)."""


class Timeout(Exception):
    """The job ran past the wall-clock limit; its worker was replaced (504)."""


class WorkerDied(Exception):
    """The worker ended during the job (a crash, or memory past its limit) (503)."""


class JobFailed(Exception):
    """The job raised, or its answer could not be sent back (the worker is kept) (500)."""


def _worker_main(conn, target: str, memory_mb: int | None) -> None:
    """A worker: one BLAS thread (the pool is the parallelism), an address-space limit,
    the engine imported before it says it is ready, then jobs until the pipe closes."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    if memory_mb:
        try:
            import resource
            limit = memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):     # not on this platform
            pass
    import importlib
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    warm = getattr(importlib.import_module(module), "warm_up", None)
    if warm is not None:
        warm()
    conn.send("ready")
    from multiprocessing.reduction import ForkingPickler
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        except Exception as exc:        # a job that does not unpickle: say so, carry on
            answer = _Failed(f"the job could not be read: {type(exc).__name__}: {exc}")
        else:
            try:
                answer = fn(job)
            except Exception as exc:
                answer = _Failed(f"{type(exc).__name__}: {exc}")
        try:                            # pickled here, so that a failure sends nothing
            data = bytes(ForkingPickler.dumps(answer))
        except Exception as exc:
            data = bytes(ForkingPickler.dumps(_Failed(
                f"the answer could not be sent: {type(exc).__name__}: {exc}")))
        try:
            conn.send_bytes(data)
        except (OSError, KeyboardInterrupt):
            return


class _Failed:
    """A worker's answer when the job raised or its answer did not pickle."""

    def __init__(self, message: str):
        self.message = message


class _Worker:
    def __init__(self, ctx, target: str, memory_mb: int | None):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, target, memory_mb),
                                   daemon=True, name="mdiff-web-worker")
        self.process.start()
        child.close()

    def wait_ready(self, seconds: float) -> bool:
        try:
            return self.conn.poll(seconds) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            return False

    def kill(self) -> None:
        """SIGTERM, then SIGKILL if it is still there a second later."""
        self.process.terminate()
        self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.conn.close()


class Pool:
    """``size`` worker processes running ``target`` ("module:function", a function of one
    picklable job returning a picklable answer) under a ``timeout`` per job."""

    def __init__(self, size: int | None = None, timeout: float = 10.0,
                 target: str = "mdiff.web.jobs:run", memory_mb: int | None = 4096,
                 start_timeout: float = 60.0):
        self.size = max(1, size or os.cpu_count() or 1)
        self.timeout = timeout
        self.target = target
        self.memory_mb = memory_mb
        self.start_timeout = start_timeout
        # spawn, not fork: the server has threads, and a forked child would inherit locks
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.Queue = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._workers: set = set()
        self.replaced = 0
        starting = [self._start() for _ in range(self.size)]
        for w in starting:
            self._ready(w)

    def _start(self) -> _Worker:
        w = _Worker(self._ctx, self.target, self.memory_mb)
        with self._lock:
            self._workers.add(w)
        return w

    def _ready(self, w: _Worker) -> None:
        if w.wait_ready(self.start_timeout) and not self._closed:
            self._idle.put(w)
        else:
            self._discard(w)
            if not self._closed:
                raise RuntimeError("a web worker did not start (see its error above)")

    def _discard(self, w: _Worker) -> None:
        with self._lock:
            self._workers.discard(w)
        w.kill()

    def _replace(self, w: _Worker) -> None:
        """Kill ``w`` and start another in the background (the answer does not wait)."""
        self._discard(w)
        with self._lock:
            self.replaced += 1
        if self._closed:
            return

        def start():
            try:
                self._ready(self._start())
            except RuntimeError:
                pass
        threading.Thread(target=start, daemon=True).start()

    def run(self, job, wait: float | None = None):
        """The answer of ``job``.  Two limits, each ``timeout`` seconds by default: the
        wait for a free worker (``wait``; past it ``Busy``), then the run (past it
        ``Timeout``, and the worker is replaced).  ``WorkerDied`` if the worker ends
        during the job, ``JobFailed`` if the job raised; a job that does not pickle raises
        before a worker is taken.  Whatever happens, a worker taken here goes back to the
        idle ones or is replaced."""
        if self._closed:
            raise Busy("the server is stopping")
        from multiprocessing.reduction import ForkingPickler
        data = bytes(ForkingPickler.dumps(job))     # before a worker is taken
        wait = self.timeout if wait is None else wait
        try:
            w = self._idle.get(timeout=wait)
        except queue.Empty:
            raise Busy(f"no worker became free within {wait:g} s") from None
        keep = False
        try:
            w.conn.send_bytes(data)
            if not w.conn.poll(self.timeout):
                raise Timeout(f"the request ran past the {self.timeout:g} s limit; its "
                              "worker was stopped")
            answer = w.conn.recv()
            keep = True
        except (EOFError, OSError) as exc:
            raise WorkerDied(f"the worker ended during the request "
                             f"({exc.__class__.__name__}); it was replaced") from None
        finally:                        # a worker taken is given back or replaced
            if keep and not self._closed:
                self._idle.put(w)
            elif not keep:
                self._replace(w)
        if isinstance(answer, _Failed):
            raise JobFailed(answer.message)
        return answer

    def close(self) -> None:
        """Stop every worker (the server's shutdown)."""
        self._closed = True
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for w in workers:
            w.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
