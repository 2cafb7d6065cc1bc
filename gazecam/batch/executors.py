"""Where the per-video jobs run: this process (one model, reused) or N local worker processes.

An executor has ``slots`` (one model each), takes a task for an idle slot (:meth:`Executor.submit`) and
reports what happened through :meth:`Executor.poll` events.  The driver (:func:`gazecam.batch.run_batch`)
decides what to run and writes the manifest; executors only run tasks.  The Ray executor is in
:mod:`gazecam.batch.ray_executor`.  No torch import here (a worker may set torch's thread count after its
job factory imported torch).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from types import TracebackType
from typing import Callable, Union

from ..errors import GazecamError
from .plan import BatchTask
from .task import JobFactory, TaskOutcome, one_line, run_task, worker_label

__all__ = ["Executor", "InlineExecutor", "ProcessExecutor", "VideoStarted", "VideoProgress", "VideoFinished",
           "BatchEvent", "WorkerError", "split_cpus"]

PROGRESS_INTERVAL_S = 0.1


class WorkerError(GazecamError):
    """A worker could not start (e.g. the model failed to load there) or all workers were lost."""


@dataclass(frozen=True)
class VideoStarted:
    slot: int
    key: str


@dataclass(frozen=True)
class VideoProgress:
    slot: int
    key: str
    frames: int  # frames done so far in this clip


@dataclass(frozen=True)
class VideoFinished:
    slot: int
    outcome: TaskOutcome


BatchEvent = Union[VideoStarted, VideoProgress, VideoFinished]


@dataclass(frozen=True)
class _Ready:
    slot: int
    node: str
    worker: str


@dataclass(frozen=True)
class _StartFailed:
    slot: int
    message: str


class _FrameCounter:
    """``on_frame`` for a job: counts frames, sends a throttled :class:`VideoProgress` through ``send``."""

    def __init__(self, slot: int, key: str, send: Callable[[VideoProgress], None]) -> None:
        self.slot, self.key, self._send = slot, key, send
        self.frames = 0
        self._last = 0.0

    def __call__(self) -> None:
        self.frames += 1
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._send(VideoProgress(self.slot, self.key, self.frames))


def _serve(slot: int, factory: JobFactory, *, next_task: Callable[[], BatchTask | None],
           send: Callable[[object], None], stop: threading.Event, threads: int = 0) -> None:
    """A worker's life (this process's job thread, a worker process): build the job (load the model) once,
    say ready, then run each task ``next_task`` gives until it gives None, reporting through ``send``.

    A failure to start is reported (:class:`_StartFailed`); a task's failure becomes its outcome (never a
    silent thread death).  ``threads``: torch's thread count once the job factory imported it (0: as is).
    """
    try:
        job = factory()
        _set_torch_threads(threads)
    except BaseException as e:  # noqa: BLE001 - reported to the driver
        send(_StartFailed(slot, one_line(e) if isinstance(e, Exception) else type(e).__name__))
        return
    node, worker = worker_label()
    send(_Ready(slot, node, worker))
    while (task := next_task()) is not None:
        send(VideoStarted(slot, task.key))
        try:
            outcome = run_task(job, task, stop=stop, on_frame=_FrameCounter(slot, task.key, send), node=node,
                               worker=worker)
        except BaseException as e:  # noqa: BLE001 - never a silent thread death
            outcome = TaskOutcome(key=task.key, status="failed", error=one_line(e), node=node, worker=worker)
        send(VideoFinished(slot, outcome))


class Executor(ABC):
    """Runs tasks on ``slots`` workers; use as a context manager (start: models load; exit: shutdown)."""

    slots: int

    @abstractmethod
    def start(self) -> None:
        """Start the workers and load their models; :class:`WorkerError` if one cannot start."""

    @abstractmethod
    def idle_slots(self) -> list[int]:
        """Slots ready for a task now."""

    @abstractmethod
    def submit(self, slot: int, task: BatchTask) -> None:
        """Run ``task`` on the idle ``slot``."""

    @abstractmethod
    def poll(self, timeout_s: float) -> list[BatchEvent]:
        """Events since the last call (waits up to ``timeout_s`` for the first)."""

    @abstractmethod
    def request_stop(self) -> None:
        """Ask running jobs to stop after their current frame (their outputs are discarded)."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers (idempotent)."""

    def describe(self) -> str:
        return f"{self.slots} worker(s)"

    def limit_slots(self, n: int) -> None:
        """Start no more than ``n`` workers (called before :meth:`start` with the number of inputs to do)."""

    def __enter__(self) -> "Executor":
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# -- one process --------------------------------------------------------------------------------------
class InlineExecutor(Executor):
    """One model in this process, loaded once and reused; jobs run in one background thread (which owns
    the model) so the caller's thread stays free for progress and signals."""

    slots = 1

    def __init__(self, factory: JobFactory) -> None:
        self._factory = factory
        self._tasks: queue.Queue[BatchTask | None] = queue.Queue(maxsize=1)
        self._events: queue.Queue[BatchEvent | _Ready | _StartFailed] = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False

    def describe(self) -> str:
        return "1 process (one model, reused)"

    def start(self) -> None:
        serve = {"next_task": self._tasks.get, "send": self._events.put, "stop": self._stop}
        self._thread = threading.Thread(target=_serve, args=(0, self._factory), kwargs=serve, name="gazecam-batch-job",
                                        daemon=True)
        self._thread.start()
        first = self._events.get()
        if isinstance(first, _StartFailed):
            raise WorkerError(first.message)

    def idle_slots(self) -> list[int]:
        return [] if self._busy or self._stop.is_set() else [0]

    def submit(self, slot: int, task: BatchTask) -> None:
        if self._busy:
            raise RuntimeError("InlineExecutor.submit: the slot is busy")
        self._busy = True
        self._tasks.put(task)

    def poll(self, timeout_s: float) -> list[BatchEvent]:
        out: list[BatchEvent] = []
        try:
            out.append(self._events.get(timeout=timeout_s))  # type: ignore[arg-type]
            while True:
                out.append(self._events.get_nowait())  # type: ignore[arg-type]
        except queue.Empty:
            pass
        if any(isinstance(e, VideoFinished) for e in out):
            self._busy = False
        return out

    def request_stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        try:
            self._tasks.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout=30)
        self._thread = None


# -- N local processes --------------------------------------------------------------------------------
def split_cpus(cpus: list[int], n: int) -> list[list[int]]:
    """Divide ``cpus`` into ``n`` near-equal groups (more workers than CPUs: they share, round robin)."""
    if n < 1:
        raise ValueError(f"split_cpus: n must be >= 1, got {n}")
    if not cpus:
        return [[] for _ in range(n)]
    if n >= len(cpus):
        return [[cpus[i % len(cpus)]] for i in range(n)]
    size, extra = divmod(len(cpus), n)
    groups, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        groups.append(cpus[start:end])
        start = end
    return groups


def _set_threads(cpus: list[int]) -> None:
    """Pin this worker to its share of the CPUs (ONNX Runtime sizes its pool from the affinity) and tell
    torch/OpenMP the same count."""
    if not cpus:
        return
    try:
        os.sched_setaffinity(0, cpus)
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        pass
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(len(cpus))


def _set_torch_threads(n: int) -> None:
    torch = sys.modules.get("torch")
    if torch is not None and n > 0:
        torch.set_num_threads(n)


_STOP = "stop"


def _process_worker(slot: int, factory: JobFactory, cpus: list[int], conn: "Connection") -> None:
    """Main of a worker process: load the model once, then run the tasks the driver sends until told to quit.

    One pipe to the driver (no lock shared with other processes, so a worker killed mid-write cannot block
    the others): a reader thread takes tasks, "stop" and None (quit) from it; a closed pipe means the
    driver died, and the worker stops too.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the driver decides
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    send_lock = threading.Lock()

    def send(msg: object) -> None:
        with send_lock:
            try:
                conn.send(msg)
            except (OSError, EOFError):  # the driver is gone
                stop.set()

    _set_threads(cpus)
    tasks: queue.Queue[BatchTask | None] = queue.Queue()

    def read() -> None:
        while True:
            try:
                msg = conn.recv()
            except (OSError, EOFError):  # the driver died (or closed): stop after this frame, then quit
                stop.set()
                tasks.put(None)
                return
            if msg == _STOP:
                stop.set()
            else:
                tasks.put(msg)
                if msg is None:
                    return

    threading.Thread(target=read, name="gazecam-batch-reader", daemon=True).start()
    _serve(slot, factory, next_task=tasks.get, send=send, stop=stop, threads=len(cpus))


class ProcessExecutor(Executor):
    """``workers`` local processes (spawned), each with its own model and its share of the CPUs."""

    def __init__(self, factory: JobFactory, *, workers: int, start_timeout_s: float = 1800.0) -> None:
        if workers < 1:
            raise ValueError(f"ProcessExecutor: workers must be >= 1, got {workers}")
        self.slots = workers
        self._factory = factory
        self._start_timeout_s = start_timeout_s
        self._ctx = mp.get_context("spawn")
        self._procs: list[mp.process.BaseProcess] = []
        self._conns: dict[int, Connection] = {}  # slot -> pipe of a live worker
        self._busy: dict[int, str] = {}  # slot -> key of the task it runs
        self._lost: set[int] = set()
        self._stopping = False
        try:
            self._cpus = sorted(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            self._cpus = list(range(os.cpu_count() or 1))
        self.cpu_groups = split_cpus(self._cpus, workers)

    def limit_slots(self, n: int) -> None:
        if not self._procs and 1 <= n < self.slots:  # fewer inputs than workers: fewer, bigger workers
            self.slots = n
            self.cpu_groups = split_cpus(self._cpus, n)

    def describe(self) -> str:
        per = {len(g) for g in self.cpu_groups}
        return f"{self.slots} worker processes ({'/'.join(map(str, sorted(per)))} CPU(s) each, one model each)"

    def start(self) -> None:
        for slot in range(self.slots):
            ours, theirs = self._ctx.Pipe(duplex=True)
            p = self._ctx.Process(target=_process_worker, name=f"gazecam-batch-{slot}", daemon=True,
                                  args=(slot, self._factory, self.cpu_groups[slot], theirs))
            p.start()
            theirs.close()
            self._procs.append(p)
            self._conns[slot] = ours
        ready: set[int] = set()
        deadline = time.monotonic() + self._start_timeout_s
        while len(ready) < self.slots:
            waiting = [c for s, c in self._conns.items() if s not in ready]
            if not wait(waiting, timeout=max(0.0, deadline - time.monotonic())):
                raise WorkerError(f"the worker processes did not load the model within "
                                  f"{self._start_timeout_s:.0f} s")
            for slot, conn in list(self._conns.items()):
                if slot in ready or not conn.poll():
                    continue
                try:
                    ev = conn.recv()
                except (OSError, EOFError):
                    self._procs[slot].join(timeout=5)
                    raise WorkerError(f"worker process {slot} exited while loading the model "
                                      f"(exit code {self._procs[slot].exitcode})") from None
                if isinstance(ev, _StartFailed):
                    raise WorkerError(f"worker {ev.slot} could not start: {ev.message}")
                if isinstance(ev, _Ready):
                    ready.add(slot)

    def idle_slots(self) -> list[int]:
        if self._stopping:
            return []
        return [s for s in self._conns if s not in self._busy]

    def submit(self, slot: int, task: BatchTask) -> None:
        if slot in self._busy or slot not in self._conns:
            raise RuntimeError(f"ProcessExecutor.submit: slot {slot} is not idle")
        self._busy[slot] = task.key
        try:
            self._conns[slot].send(task)
        except (OSError, EOFError):
            pass  # the worker is gone: poll() reports the task as failed

    def poll(self, timeout_s: float) -> list[BatchEvent]:
        out: list[BatchEvent] = []
        by_conn = {c: s for s, c in self._conns.items()}
        for conn in wait(list(by_conn), timeout=timeout_s):
            slot = by_conn[conn]  # type: ignore[index]
            try:
                while conn.poll():
                    ev = conn.recv()  # type: ignore[union-attr]
                    if isinstance(ev, VideoFinished):
                        self._busy.pop(slot, None)
                    out.append(ev)
            except (OSError, EOFError):  # the worker died (OOM-killed, crashed)
                out.extend(self._lose(slot))
        if not self._conns and not self._stopping:
            raise WorkerError("all worker processes died; see the failed inputs in the manifest")
        return out

    def _lose(self, slot: int) -> list[BatchEvent]:
        conn = self._conns.pop(slot)
        conn.close()
        self._lost.add(slot)
        p = self._procs[slot]
        p.join(timeout=5)
        key = self._busy.pop(slot, None)
        if key is None:
            return []
        return [VideoFinished(slot, TaskOutcome(key=key, status="failed", error=(
            f"worker process {slot} died while processing it (exit code {p.exitcode}; out of memory?)")))]

    def request_stop(self) -> None:
        self._stopping = True
        for conn in self._conns.values():
            try:
                conn.send(_STOP)
            except (OSError, EOFError):
                pass

    def close(self) -> None:
        if not self._procs:
            return
        for conn in self._conns.values():  # stop a busy worker after its frame (interrupted), then quit
            for msg in (_STOP, None):
                try:
                    conn.send(msg)
                except (OSError, EOFError):
                    break
        deadline = time.monotonic() + 30
        for p in self._procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
        for p in self._procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        self._procs = []
