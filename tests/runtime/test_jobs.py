"""The generation queue's scheduling: order, bounds, and early jobs kept or dropped. No model, no ROS.

`generate` here is a plain function that records its calls and waits for the test's go: the
queue's behaviour, not a model's, is under test. Every wait is on an event, never a sleep.
"""

from __future__ import annotations

import threading

import numpy as np

from a2m_core.runtime.jobs import CONVERTING, GENERATING, QUEUED, Job, JobQueue


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, int]] = []
        self.go = threading.Event()
        self.go.set()
        self.generating = threading.Event()

    def generate(self, job: Job) -> None:
        self.calls.append(("generate", job.utterance_id))
        self.generating.set()
        self.go.wait()
        job.stages.append(CONVERTING)
        job.clip = f"clip {job.utterance_id}"

    def started(self, job: Job) -> None:
        self.calls.append(("started", job.utterance_id))

    def finished(self, job: Job) -> None:
        self.calls.append(("finished", job.utterance_id))


def job(uid: int, **kwargs) -> Job:
    return Job(uid, np.zeros(1600, np.float32), 0.0, **kwargs)


def test_jobs_run_in_order_and_a_full_queue_refuses():
    rec = Recorder()
    rec.go.clear()  # hold the worker inside job 1
    jobs = JobQueue(2, rec.generate, rec.started, rec.finished)
    queued = [job(1), job(2), job(3)]
    assert jobs.put(queued[0])
    assert rec.generating.wait(10)  # job 1 in the worker; 2 and 3 fill the queue
    assert jobs.put(queued[1]) and jobs.put(queued[2])
    refused = job(4)
    assert not jobs.put(refused) and not refused.queued
    assert not jobs.idle
    rec.go.set()
    assert all(j.done.wait(10) for j in queued)
    assert rec.calls == [(step, uid) for uid in (1, 2, 3) for step in ("started", "generate", "finished")]
    assert queued[0].stages == [QUEUED, GENERATING, CONVERTING]
    assert jobs.idle


def test_an_early_job_is_generated_at_once_and_finished_only_when_kept():
    rec = Recorder()
    jobs = JobQueue(2, rec.generate, rec.started, rec.finished)
    early = job(1, early=True)
    assert jobs.put(early)
    assert rec.generating.wait(10)
    assert not early.done.wait(0.0) and ("started", 1) not in rec.calls  # generated, waiting for the decision
    early.decide(keep=True)
    assert early.done.wait(10)
    assert rec.calls == [("generate", 1), ("started", 1), ("finished", 1)]


def test_a_dropped_early_job_leaves_no_trace_and_the_next_runs():
    rec = Recorder()
    jobs = JobQueue(2, rec.generate, rec.started, rec.finished)
    dropped, after = job(1, early=True), job(1)
    assert jobs.put(dropped)
    assert rec.generating.wait(10)
    dropped.decide(keep=False)
    assert jobs.put(after)
    assert after.done.wait(10) and dropped.done.is_set()
    assert rec.calls == [("generate", 1), ("started", 1), ("generate", 1), ("finished", 1)]
    assert jobs.idle


def test_a_job_dropped_while_it_is_generated_is_never_finished():
    """A result started at a pause and published at once (not early: no decision awaited) whose speech went on."""
    rec = Recorder()
    rec.go.clear()
    jobs = JobQueue(2, rec.generate, rec.started, rec.finished)
    at_pause = job(1)
    assert jobs.put(at_pause)
    assert rec.generating.wait(10)
    at_pause.decide(keep=False)
    rec.go.set()
    assert at_pause.done.wait(10)
    assert rec.calls == [("started", 1), ("generate", 1)]


def test_what_put_announces_comes_before_the_worker_starts_and_not_at_all_when_full():
    rec = Recorder()
    rec.go.clear()
    jobs = JobQueue(1, rec.generate, rec.started, rec.finished)
    first, second, third = job(1), job(2), job(3)
    assert jobs.put(first, lambda: rec.calls.append(("accepted", 1)))
    assert rec.generating.wait(10)
    assert jobs.put(second, lambda: rec.calls.append(("accepted", 2)))
    assert not jobs.put(third, lambda: rec.calls.append(("accepted", 3)))  # full: nothing announced
    rec.go.set()
    assert first.done.wait(10) and second.done.wait(10)
    assert rec.calls[:2] == [("accepted", 1), ("started", 1)]
    assert rec.calls.index(("accepted", 2)) < rec.calls.index(("started", 2))
    assert ("accepted", 3) not in rec.calls
