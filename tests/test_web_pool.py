"""The worker pool: a job past the wall-clock limit has its process killed and replaced,
a crashed worker is replaced, and the pool keeps answering."""

import time

import pytest

from mdiff.web.pool import Busy, JobFailed, Pool, Timeout, WorkerDied
from web_helpers import nested


@pytest.fixture(scope="module")
def pool():
    with Pool(size=1, timeout=1.0, target="web_helpers:work", memory_mb=None) as p:
        yield p


def test_answers(pool):
    assert pool.run(("echo", [1, "two"])) == [1, "two"]


def test_a_job_past_the_limit_is_stopped_and_its_worker_replaced(pool):
    old = next(iter(pool._workers)).process
    start = time.monotonic()
    with pytest.raises(Timeout):
        pool.run(("sleep", 60))
    assert time.monotonic() - start < 5
    assert not old.is_alive()                   # killed, not left running
    assert pool.run(("echo", 7), wait=60) == 7  # by a fresh worker
    assert next(iter(pool._workers)).process is not old


def test_a_crashed_worker_is_replaced(pool):
    with pytest.raises(WorkerDied):
        pool.run(("exit", 3))
    assert pool.run(("echo", "again"), wait=60) == "again"


def _until(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_no_free_worker_is_busy(pool):
    import threading
    outcome = []

    def hold():
        try:
            outcome.append(pool.run(("sleep", 60)))
        except Exception as exc:            # collected, not lost in the thread
            outcome.append(exc)
    _until(lambda: pool._idle.qsize() == 1)     # a replacement may still be starting
    t = threading.Thread(target=hold)
    t.start()
    _until(lambda: pool._idle.qsize() == 0)     # the one worker is taken
    with pytest.raises(Busy, match=r"within 0\.1 s"):
        pool.run(("echo", 1), wait=0.1)
    t.join(60)
    assert not t.is_alive() and len(outcome) == 1 and isinstance(outcome[0], Timeout)
    assert pool.run(("echo", 2), wait=60) == 2


def test_a_job_that_does_not_pickle_keeps_the_worker(pool):
    assert pool.run(("echo", 0), wait=60) == 0
    pid = pool.run(("pid", None))
    with pytest.raises(RecursionError):
        pool.run(("echo", nested(100_000)))
    assert pool._idle.qsize() == 1              # not taken, so not lost
    assert pool.run(("pid", None), wait=5) == pid


def test_a_job_that_raises_or_answers_what_does_not_pickle_keeps_the_worker(pool):
    pid = pool.run(("pid", None), wait=60)
    with pytest.raises(JobFailed, match="ValueError: boom"):
        pool.run(("raise", "boom"))
    with pytest.raises(JobFailed, match="could not be sent"):
        pool.run(("nested", 100_000))
    assert pool.run(("pid", None), wait=5) == pid


def test_any_failure_after_taking_a_worker_gives_it_back_or_replaces_it(monkeypatch):
    with Pool(size=1, timeout=5.0, target="web_helpers:work", memory_mb=None) as p:
        w = next(iter(p._workers))

        def broken(data):
            raise RuntimeError("not an OSError")
        monkeypatch.setattr(w.conn, "send_bytes", broken)
        with pytest.raises(RuntimeError):
            p.run(("echo", 1))
        assert p.replaced == 1 and not w.process.is_alive()
        assert p.run(("echo", 2), wait=120) == 2        # by its replacement


def test_close_stops_every_worker():
    p = Pool(size=2, timeout=1.0, target="web_helpers:work", memory_mb=None)
    procs = [w.process for w in p._workers]
    p.close()
    assert not any(pr.is_alive() for pr in procs)
    with pytest.raises(Busy):
        p.run(("echo", 1))
