"""Generation jobs and the one worker thread that runs them behind a bounded queue: the motion node's scheduling without ROS.

    jobs = JobQueue(size=2, generate=..., started=..., finished=...)
    jobs.put(Job(utterance_id, audio, speech_end_time))  # False: the queue is full
    jobs.put(Job(..., early=True))  # generated now; `finished` only after job.decide(keep=True)

The worker calls `generate(job)` (which sets job.clip or job.error), then waits for an early
job's decision: a kept job goes on to `started` (if not announced yet) and `finished`; a
dropped one ends there, as if it never was. So does any job cancelled before it is finished
(a result started at a pause whose speech went on, a cancelled goal). Model inference runs on
this thread, never on the thread that feeds audio.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

QUEUED, GENERATING, CONVERTING = "queued", "generating", "converting"  # a job's stages, in order


@dataclass
class Job:
    """One piece of work for the generation worker: an utterance, a typed instruction or an action goal."""

    utterance_id: int
    audio: np.ndarray  # (n) float32 16 kHz; empty for a typed instruction
    speech_end_time: float  # time.monotonic() when the end of speech (or the typed instruction) arrived
    text: str = ""  # a typed instruction, for text-conditioned models
    motion_s: float | None = None
    truncated: bool = False  # cut at max_utterance_s: the speech goes on in the next utterance
    for_action: bool = False
    # started at a short pause: generated at once, finished only once decided and kept
    early: bool = False
    queued: bool = False  # in the queue (an early job may find it full: then it is put when kept)
    decided: threading.Event = field(default_factory=threading.Event)
    # every stage reached, in order (the worker appends; an action sends each as feedback, however brief)
    stages: list[str] = field(default_factory=lambda: [QUEUED])
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    clip: object | None = None  # what `generate` made (a MotionClip in the node)
    generation_s: float = 0.0  # model + joint conversion, seconds
    error: str = ""

    def __post_init__(self):
        if not self.early:
            self.decided.set()

    def decide(self, keep: bool) -> None:
        """An early job's fate: kept (finished as any job) or dropped (speech resumed: no trace); any job may be dropped."""
        if not keep:
            self.cancelled.set()
        self.decided.set()


class JobQueue:
    """At most `size` jobs waiting; one worker thread (a daemon: never blocks exit) runs them in order."""

    def __init__(self, size: int, generate: Callable[[Job], None], started: Callable[[Job], None],
                 finished: Callable[[Job], None]):
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=size)
        self._put_lock = threading.Lock()
        self._generate, self._started, self._finished = generate, started, finished
        self._thread = threading.Thread(target=self._work, name="a2m-generation", daemon=True)
        self._thread.start()

    def put(self, job: Job, accepted: Callable[[], None] | None = None) -> bool:
        """Queue `job`; False (and nothing queued) when `size` jobs are waiting already.

        `accepted` runs once there is room, before the worker can see the job: whatever it announces
        (an ACCEPTED status) comes before anything the worker says about the job.
        """
        with self._put_lock:
            if self._queue.full():
                return False
            if accepted is not None:
                accepted()
            job.queued = True
            self._queue.put_nowait(job)  # puts and close take turns: the room is still there
        return True

    @property
    def idle(self) -> bool:
        """No job waiting or running."""
        return self._queue.unfinished_tasks == 0

    def close(self) -> None:
        """Stop the worker after the job in hand (and any queued before)."""
        with self._put_lock:  # `put` counts on no one else filling the queue between its check and its put
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._run(job)
            finally:
                self._queue.task_done()  # first: whoever sees `done` finds the queue idle, if it is
                job.done.set()

    def _run(self, job: Job) -> None:
        if job.cancelled.is_set():
            return
        announced = job.decided.is_set()
        if announced:
            self._started(job)
        job.stages.append(GENERATING)
        self._generate(job)
        job.decided.wait()
        if job.cancelled.is_set():  # dropped (speech resumed) or cancelled (a goal): nothing to finish
            return
        if not announced:
            self._started(job)
        self._finished(job)
