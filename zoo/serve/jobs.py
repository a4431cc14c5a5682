"""The draw queue of ``zoo serve``: one worker thread runs one request at a time.

The CPU has room for one model run; requests wait in order and a page shows their
place. A job's images are written as the CLI writes a folder (one PNG per image with the
parameters that redraw it), under the server's data folder, named by job id and seed.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.registry.errors import ZooError


@dataclass
class Job:
    """One submitted request and how far it has come."""

    id: str
    model: str
    request: Any  # a SampleRequest
    state: str = "queued"  # queued | running | done | error
    done: int = 0
    total: int = 0
    images: list[str] = field(default_factory=list)  # file names under the job's folder
    error: str | None = None
    load_seconds: float | None = None
    draw_seconds: float | None = None
    created: float = field(default_factory=time.time)

    def snapshot(self, position: int) -> dict[str, Any]:
        """What a page needs to show the job now (JSON-ready)."""
        return {
            "id": self.id,
            "model": self.model,
            "state": self.state,
            "position": position,
            "done": self.done,
            "total": self.total,
            "images": [f"/outputs/{self.id}/{name}" for name in self.images],
            "error": self.error,
            "load_seconds": self.load_seconds,
            "draw_seconds": self.draw_seconds,
        }


class Worker:
    """Runs jobs in submission order on one thread.

    ``load(model_id) -> zoo.api.Model`` is how a model is loaded (the device manager keeps
    loaded ones, so a second request to a model skips the load).
    """

    def __init__(self, outputs: Path, load: Any, keep: int = 200) -> None:
        self.outputs = outputs
        self.load = load
        self.keep = keep  # jobs remembered; older finished ones are forgotten (files stay)
        self.jobs: dict[str, Job] = {}
        self.order: list[str] = []
        self.lock = threading.Lock()
        self.queue: queue.Queue[Job] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="zoo-serve-worker", daemon=True)
        self.thread.start()

    def submit(self, model: str, request: Any) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], model=model, request=request)
        with self.lock:
            self.jobs[job.id] = job
            self.order.append(job.id)
            self._forget()
        self.queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def position(self, job: Job) -> int:
        """How many jobs run or wait before ``job`` (0: it is running or finished)."""
        with self.lock:
            if job.state != "queued":
                return 0
            ahead = self.order[: self.order.index(job.id)]
            return sum(1 for j in ahead if self.jobs[j].state in ("queued", "running"))

    def snapshot(self, job: Job) -> dict[str, Any]:
        return job.snapshot(self.position(job))

    def _forget(self) -> None:
        while len(self.order) > self.keep:
            oldest = self.jobs[self.order[0]]
            if oldest.state in ("queued", "running"):
                break
            del self.jobs[self.order.pop(0)]

    def _run(self) -> None:
        while True:
            job = self.queue.get()
            try:
                self._draw(job)
            except ZooError as err:
                job.error, job.state = str(err), "error"
            except Exception as err:  # the server keeps serving whatever a model raised
                traceback.print_exc(file=sys.stderr)
                job.error = f"internal error: {type(err).__name__}: {err}"
                job.state = "error"
            finally:
                self.queue.task_done()

    def _draw(self, job: Job) -> None:
        job.state = "running"
        start = time.perf_counter()
        model = self.load(job.model)
        job.load_seconds = round(time.perf_counter() - start, 3)

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        start = time.perf_counter()
        samples = model.run(job.request, progress=progress)
        job.draw_seconds = round(time.perf_counter() - start, 3)
        folder = self.outputs / job.id
        paths = samples.save(folder)
        job.images = [p.name for p in paths]
        job.state = "done"
