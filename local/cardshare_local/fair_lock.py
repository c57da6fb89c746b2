"""A re-entrant lock granted in request order.

The embedded AWS runs Lambda invocations one at a time (they share ``os.environ`` and module
state), while real Lambda starts each invocation as soon as it is requested. ``threading.RLock``
hands the lock to whichever waiter the scheduler wakes first, so under a burst one invocation could
wait behind hundreds requested after it: a PendingReview event's facts then land after the
approval requested later had already been judged, which never happens on AWS. Granting in request
order keeps what AWS keeps: an invocation requested earlier starts earlier.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType


class FairRLock:
    """A re-entrant lock whose waiters get it first come, first served."""

    def __init__(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._queue: deque[object] = deque()
        self._owner: int | None = None
        self._depth = 0

    @property
    def waiting(self) -> int:
        """How many threads are queued for the lock."""
        with self._state:
            return len(self._queue)

    def acquire(self) -> bool:
        """Block until every thread that asked earlier has had the lock; at once for its owner."""
        me = threading.get_ident()
        with self._state:
            if self._owner == me:
                self._depth += 1
                return True
            ticket = object()
            self._queue.append(ticket)
            while self._owner is not None or self._queue[0] is not ticket:
                self._state.wait()
            self._queue.popleft()
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        """Release one level; the next waiter in line gets the lock when the owner's last level goes."""
        with self._state:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a lock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._state.notify_all()

    def __enter__(self) -> FairRLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
