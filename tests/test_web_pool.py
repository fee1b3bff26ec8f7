"""The worker pool: a job past the wall-clock limit has its process killed and replaced,
a crashed worker is replaced, and the pool keeps answering."""

import time

import pytest

from mdiff.web.pool import Busy, Pool, Timeout, WorkerDied


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


def test_no_free_worker_is_busy(pool):
    import threading
    t = threading.Thread(target=lambda: pytest.raises(Timeout, pool.run, ("sleep", 60)))
    t.start()
    time.sleep(0.2)
    with pytest.raises(Busy):
        pool.run(("echo", 1), wait=0.1)
    t.join()
    assert pool.run(("echo", 2), wait=60) == 2


def test_close_stops_every_worker():
    p = Pool(size=2, timeout=1.0, target="web_helpers:work", memory_mb=None)
    procs = [w.process for w in p._workers]
    p.close()
    assert not any(pr.is_alive() for pr in procs)
    with pytest.raises(Busy):
        p.run(("echo", 1))
