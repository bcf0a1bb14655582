"""Stopping a :class:`~concurrent.futures.ProcessPoolExecutor` at once, busy workers included."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["stop_pool"]


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
