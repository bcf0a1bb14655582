"""Stopping a :class:`~concurrent.futures.ProcessPoolExecutor` at once, busy workers included."""

from __future__ import annotations

import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from .. import engine

__all__ = ["result_unless_cancelled", "stop_pool"]

#: how often a wait for a worker's result looks at the cancel flag (s)
POLL_S = 0.1


def result_unless_cancelled(fut: Future[Any], cancel: Any, stop: type[BaseException]) -> Any:
    """``fut``'s result, looking at ``cancel`` every :data:`POLL_S`: raises ``stop`` once it is set."""
    while True:
        if engine.is_cancelled(cancel):
            raise stop
        try:
            return fut.result(timeout=POLL_S)
        except FuturesTimeout:
            continue


def stop_pool(pool: ProcessPoolExecutor, known: list[Any] | None = None, grace_s: float = 2.0) -> None:
    """Shut ``pool`` down without waiting on its work: idle workers leave, busy ones are killed.

    ``ProcessPoolExecutor.shutdown`` alone would wait for the frames being computed (or, with
    ``wait=False``, leave them running), and the workers ignore SIGTERM (it is meant for the
    coordinator). ``known`` adds processes seen earlier (the pool forgets them once broken). Never blocks
    for more than ``grace_s`` plus a few seconds.
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    procs += [p for p in known or [] if p not in procs]
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    if manager is not None:
        manager.join(5)  # it ends once every worker has: no thread left waiting on a dead pool
