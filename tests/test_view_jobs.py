"""Background jobs without Qt: threads hand items over through a queue, delivered when asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from napari_batchseg.torch_cancel import RunCancelled
from napari_batchseg.view.jobs import Job, JobQueue, stop_running_jobs


def _job(log: list[object], name: str = "test-job") -> Job:
    return Job(name, log.append, lambda: log.append("done"), lambda exc: log.append(f"error: {exc}"))


def _deliver_until_idle(jobs: JobQueue, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while jobs.busy and time.monotonic() < deadline:
        jobs.deliver()
        time.sleep(0.005)
    assert not jobs.busy


def test_items_of_a_generator_then_its_end_are_delivered_in_order_on_the_calling_thread():
    log: list[object] = []
    seen_threads: set[int] = set()
    jobs = JobQueue()

    def gen(n: int) -> Iterator[int]:
        yield from range(n)

    job = _job(log)
    job.on_item = lambda item: (seen_threads.add(threading.get_ident()), log.append(item))
    jobs.start(gen, (3,), job)
    assert log == []  # nothing is handed over before deliver()
    _deliver_until_idle(jobs)
    assert log == [0, 1, 2, "done"]
    assert seen_threads == {threading.get_ident()}


def test_an_error_is_delivered_a_cancellation_is_not_and_the_job_is_passed_when_asked():
    log: list[object] = []
    jobs = JobQueue()

    def fails() -> None:
        raise ValueError("bad file")

    def cancelled() -> None:
        raise RunCancelled()

    def reports(job: Job) -> str:
        job.report("half")
        return "whole"

    jobs.start(fails, (), _job(log))
    _deliver_until_idle(jobs)
    jobs.start(cancelled, (), _job(log))
    _deliver_until_idle(jobs)
    jobs.start(reports, (), _job(log), pass_job=True)
    _deliver_until_idle(jobs)
    assert log == ["error: bad file", "done", "done", "half", "whole", "done"]


def test_close_cancels_running_jobs_delivers_nothing_more_and_starts_nothing():
    log: list[object] = []
    jobs = JobQueue()
    release = threading.Event()

    def waits(job: Job) -> Iterator[str]:
        release.wait(5)
        yield "late"
        assert job.cancel.is_set()

    job = jobs.start(waits, (), _job(log), pass_job=True)
    jobs.close()
    assert job.cancel.is_set()
    release.set()
    assert job.thread is not None
    job.thread.join(5)
    jobs.deliver()
    assert log == [] and not jobs.busy
    later = jobs.start(waits, (), _job(log), pass_job=True)
    assert later.thread is None


def test_detach_ends_a_job_at_once_and_before_runs_in_its_thread():
    log: list[object] = []
    jobs = JobQueue()
    release = threading.Event()
    where: list[int] = []
    job = jobs.start(release.wait, (5,), _job(log), before=lambda: where.append(threading.get_ident()))
    jobs.detach(job)
    assert log == ["done"] and job.cancel.is_set() and not jobs.busy
    release.set()
    assert job.thread is not None
    job.thread.join(5)
    assert where == [job.thread.ident]


def test_running_jobs_are_cancelled_and_waited_for_at_exit():
    jobs = JobQueue()

    def until_cancelled(job: Job) -> None:
        job.cancel.wait(5)

    def never_ends(job: Job) -> None:
        time.sleep(0.5)

    first = jobs.start(until_cancelled, (), _job([], "cancellable"), pass_job=True)
    jobs.start(never_ends, (), _job([], "stubborn"), pass_job=True)
    left = stop_running_jobs(wait_s=0.1)
    assert not first.alive and first.cancel.is_set()
    assert left == ["stubborn"]
