"""The embedded Lambda's lock: granted in request order, re-entrant for its owner."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from cardshare_local.fair_lock import FairRLock


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_waiters_get_the_lock_in_the_order_they_asked() -> None:
    lock = FairRLock()
    granted: list[int] = []

    def worker(index: int) -> None:
        with lock:
            granted.append(index)

    lock.acquire()
    threads = []
    for index in range(30):
        thread = threading.Thread(target=worker, args=(index,))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=index + 1: lock.waiting == n)  # queued before the next one asks
    lock.release()
    for thread in threads:
        thread.join(10)
    assert granted == list(range(30))


def test_a_later_thread_cannot_barge_ahead_of_a_queued_one() -> None:
    lock = FairRLock()
    order: list[str] = []
    lock.acquire()
    first = threading.Thread(target=lambda: (lock.acquire(), order.append("queued"), lock.release()))
    first.start()
    wait_until(lambda: lock.waiting == 1)
    lock.release()
    # The releasing thread asks again at once: the queued thread goes first.
    with lock:
        order.append("releaser")
    first.join(10)
    assert order == ["queued", "releaser"]


def test_the_owner_reenters_and_others_wait_for_its_last_release() -> None:
    lock = FairRLock()
    got = threading.Event()
    lock.acquire()
    lock.acquire()
    other = threading.Thread(target=lambda: (lock.acquire(), got.set(), lock.release()))
    other.start()
    wait_until(lambda: lock.waiting == 1)
    lock.release()
    assert not got.wait(0.05)
    lock.release()
    assert got.wait(10)
    other.join(10)


def test_only_the_owner_may_release() -> None:
    lock = FairRLock()
    with pytest.raises(RuntimeError, match="does not hold"):
        lock.release()
    lock.acquire()
    errors: list[Exception] = []

    def release_from_elsewhere() -> None:
        try:
            lock.release()
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=release_from_elsewhere)
    thread.start()
    thread.join(10)
    lock.release()
    assert len(errors) == 1
