"""The batch on a Ray cluster: one actor per worker slot holds a model; inputs go to actors as they finish.

Ray is optional (``pip install "gazecam[ray]"``).  Every node must have gazecam installed and see the
inputs and the output folder at the same paths (shared storage): each actor writes a probe file into the
output folder at start and the driver checks that it sees it, and a worker that cannot read an input
reports it as that input's failure.  The driver (this process) writes the manifest.  ``ray.init`` replaces
the driver's SIGTERM handler with one that exits at once (a native abort, exit 134); the executor puts
back the handlers the caller had (:func:`gazecam.signals.stop_on_signals`), so SIGTERM stops the batch
like the other executors (143, manifest valid, resumable).
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from .executors import BatchEvent, Executor, VideoFinished, VideoProgress, VideoStarted, WorkerError, _set_torch_threads
from .plan import BatchTask
from .task import JobFactory, TaskOutcome, one_line, run_task, worker_label

__all__ = ["RayExecutor", "RaySlots", "ray_slots", "import_ray", "keep_signal_handlers", "RAY_INSTALL_HINT"]

RAY_INSTALL_HINT = 'Ray is not installed; install it with: pip install "gazecam[ray]"  (or: pip install ray)'
PROBE_PREFIX = ".gazecam-probe-"
PROGRESS_POLL_S = 0.5


def import_ray() -> Any:
    """The ``ray`` module, or :class:`InputError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(RAY_INSTALL_HINT) from None
    return ray


@dataclass(frozen=True, kw_only=True)
class RaySlots:
    """How many actors, and what each asks Ray for."""

    workers: int
    cpus_per_worker: float
    gpus_per_worker: float


def ray_slots(*, node_cpus: list[float], node_gpus: list[float], workers: int | None = None,
              cpus_per_worker: float | None = None, gpus_per_worker: float | None = None) -> RaySlots:
    """Actors for a cluster whose alive nodes have ``node_cpus``/``node_gpus``.

    GPUs in the cluster: one GPU and one CPU per actor by default, one actor per GPU.  CPUs only: up to
    4 CPUs per actor (fewer on small nodes), as many actors as fit on the nodes; with ``workers`` given,
    the cluster's CPUs shared between that many actors.  The per-worker amounts override the defaults.
    """
    total_gpus = sum(node_gpus)
    if gpus_per_worker is None:
        gpus_per_worker = 1.0 if total_gpus >= 1 else 0.0
    if gpus_per_worker < 0 or (cpus_per_worker is not None and cpus_per_worker <= 0):
        raise InputError(f"cpus_per_worker must be > 0 and gpus_per_worker >= 0, got {cpus_per_worker} / "
                         f"{gpus_per_worker}")
    if cpus_per_worker is None:
        if gpus_per_worker > 0:
            cpus_per_worker = 1.0
        elif workers:  # share the cluster's CPUs between the asked-for actors
            cpus_per_worker = float(max(1, min(int(sum(node_cpus)) // workers, int(max(node_cpus, default=1)))))
        else:
            smallest = min((c for c in node_cpus if c >= 1), default=1.0)
            cpus_per_worker = float(max(1, min(4, int(smallest))))
    if gpus_per_worker > 0 and total_gpus < gpus_per_worker:
        raise InputError(f"gpus_per_worker={gpus_per_worker} but the Ray cluster has {total_gpus:g} GPU(s)")
    fit = sum(math.floor(c / cpus_per_worker + 1e-9) for c in node_cpus)
    if gpus_per_worker > 0:
        fit = min(fit, sum(math.floor(g / gpus_per_worker + 1e-9) for g in node_gpus))
    if workers is None:
        workers = fit
    if workers < 1 or workers > fit:
        raise InputError(f"the Ray cluster ({sum(node_cpus):g} CPU(s) on {len(node_cpus)} node(s), "
                         f"{total_gpus:g} GPU(s)) has room for {fit} worker(s) of {cpus_per_worker:g} CPU(s)"
                         f"{f' and {gpus_per_worker:g} GPU(s)' if gpus_per_worker else ''}, not {workers}; "
                         "lower workers or cpus_per_worker/gpus_per_worker")
    return RaySlots(workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker)


@contextmanager
def keep_signal_handlers(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Put back this process's handlers of ``signals`` after the block (``ray.init`` installs its own)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in signals}
    try:
        yield
    finally:
        for s, handler in before.items():
            if handler is not None and signal.getsignal(s) is not handler:
                signal.signal(s, handler)


class BatchActor:
    """A Ray actor: loads the model once (:meth:`load`), then runs one task at a time (:meth:`run`)."""

    def __init__(self, factory: JobFactory, threads: int) -> None:
        self._factory = factory
        self._threads = max(1, threads)
        self._stop = threading.Event()
        self._job = None
        self._current: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._node, self._worker = worker_label()

    def load(self) -> tuple[str | None, str, str]:
        """(None or the error message, node id, "host pid N")."""
        import ray

        self._node = ray.get_runtime_context().get_node_id()
        host, pid = worker_label()
        self._worker = f"{host} {pid}"
        os.environ["OMP_NUM_THREADS"] = str(self._threads)
        try:
            self._job = self._factory()
            _set_torch_threads(self._threads)
        except Exception as e:  # noqa: BLE001 - reported to the driver as one line
            return one_line(e), self._node, self._worker
        return None, self._node, self._worker

    def probe(self, outdir: str, token: str) -> str | None:
        """Write a probe file into the output folder (the driver checks it sees it); None or an error."""
        path = Path(outdir) / f"{PROBE_PREFIX}{token}"
        try:
            path.write_text(self._node)
        except OSError as e:
            return (f"worker on node {self._node} cannot write the output folder {outdir} ({e.strerror or e}); "
                    "it must be on storage every node sees, at the same path")
        return None

    def run(self, task: BatchTask) -> TaskOutcome:
        def on_frame() -> None:
            with self._lock:
                key, n = self._current or (task.key, 0)
                self._current = (key, n + 1)

        with self._lock:
            self._current = (task.key, 0)
        try:
            return run_task(self._job, task, stop=self._stop, on_frame=on_frame, node=self._node,  # type: ignore[arg-type]
                            worker=self._worker, shared_storage_hint=True)
        finally:
            with self._lock:
                self._current = None

    def progress(self) -> tuple[str, int] | None:
        with self._lock:
            return self._current

    def stop(self) -> None:
        self._stop.set()


class RayExecutor(Executor):
    """One :class:`BatchActor` per slot on a Ray cluster (``address``: None = start a local instance,
    ``"auto"`` or ``"HOST:PORT"`` = join that cluster)."""

    def __init__(self, factory: JobFactory, *, outdir: Path, address: str | None = None, workers: int | None = None,
                 cpus_per_worker: float | None = None, gpus_per_worker: float | None = None,
                 local_num_cpus: int | None = None, start_timeout_s: float = 1800.0) -> None:
        self._ray = import_ray()
        self._factory = factory
        self._outdir = Path(outdir)
        self._address = address
        self._want = (workers, cpus_per_worker, gpus_per_worker)
        self._local_num_cpus = local_num_cpus
        self._start_timeout_s = start_timeout_s
        self._max_slots: int | None = None
        self._owns_ray = False
        self._actors: list[Any] = []
        self._running: dict[Any, tuple[int, str]] = {}  # object ref -> (slot, key)
        self._lost: set[int] = set()
        self._stopping = False
        self._last_progress = 0.0
        self._started: list[VideoStarted] = []  # reported by the next poll()
        self.slots = 0
        self.nodes: dict[int, str] = {}  # slot -> node id
        self.plan: RaySlots | None = None

    def limit_slots(self, n: int) -> None:
        if n >= 1:
            self._max_slots = n

    def describe(self) -> str:
        if self.plan is None:
            return "Ray"
        nodes = len(set(self.nodes.values()))
        return (f"Ray: {self.slots} actor(s) on {nodes} node(s), {self.plan.cpus_per_worker:g} CPU(s)"
                + (f" + {self.plan.gpus_per_worker:g} GPU(s)" if self.plan.gpus_per_worker else "") + " each")

    def start(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                          logging_level=logging.ERROR)
            try:
                with keep_signal_handlers():  # SIGTERM must reach the batch's handler, not Ray's exit
                    if self._address is None:  # "local": always a new instance, never a stale default cluster
                        ray.init(address="local", num_cpus=self._local_num_cpus, **kwargs)
                    else:
                        ray.init(address=self._address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                where = "start a local Ray instance" if self._address is None else f"join Ray at {self._address}"
                raise WorkerError(f"cannot {where}: {one_line(e)}") from e
            self._owns_ray = True
        alive = [n for n in ray.nodes() if n.get("Alive")]
        node_cpus = [float(n.get("Resources", {}).get("CPU", 0)) for n in alive]
        node_gpus = [float(n.get("Resources", {}).get("GPU", 0)) for n in alive]
        workers, cpw, gpw = self._want
        self.plan = ray_slots(node_cpus=node_cpus, node_gpus=node_gpus, workers=workers, cpus_per_worker=cpw,
                              gpus_per_worker=gpw)
        if self._max_slots is not None and self._max_slots < self.plan.workers:  # fewer inputs than room
            self.plan = replace(self.plan, workers=self._max_slots)
        actor_cls = ray.remote(BatchActor)
        for _ in range(self.plan.workers):
            self._actors.append(actor_cls.options(num_cpus=self.plan.cpus_per_worker,
                                                  num_gpus=self.plan.gpus_per_worker, max_concurrency=4)
                                .remote(self._factory, max(1, int(self.plan.cpus_per_worker))))
        self.slots = len(self._actors)
        loads = {a.load.remote(): slot for slot, a in enumerate(self._actors)}
        ready, pending = ray.wait(list(loads), num_returns=len(loads), timeout=self._start_timeout_s)
        if pending:
            raise WorkerError(f"{len(pending)} of {len(loads)} Ray worker(s) did not start within "
                              f"{self._start_timeout_s:.0f} s (not enough free resources, or the model load hangs)")
        for ref in ready:
            try:
                error, node, _ = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - the actor died while loading
                raise WorkerError(f"a Ray worker could not start: {one_line(e)}") from e
            if error:
                raise WorkerError(f"a Ray worker on node {node} could not load the model: {error}")
            self.nodes[loads[ref]] = node
        self._check_shared_storage()

    def _check_shared_storage(self) -> None:
        ray = self._ray
        self._outdir.mkdir(parents=True, exist_ok=True)
        tokens = {slot: f"{secrets.token_hex(6)}-{slot}" for slot in range(self.slots)}
        errors = ray.get([a.probe.remote(str(self._outdir), tokens[s]) for s, a in enumerate(self._actors)])
        try:
            for slot, error in enumerate(errors):
                if error:
                    raise WorkerError(error)
                if not (self._outdir / f"{PROBE_PREFIX}{tokens[slot]}").is_file():
                    raise WorkerError(f"the Ray worker on node {self.nodes[slot]} wrote a file into {self._outdir} "
                                      "that this machine does not see: the inputs and the output folder must be on "
                                      "storage every node sees, at the same path (a shared file system)")
        finally:
            for token in tokens.values():
                (self._outdir / f"{PROBE_PREFIX}{token}").unlink(missing_ok=True)  # our own probe files

    def idle_slots(self) -> list[int]:
        if self._stopping:
            return []
        busy = {slot for slot, _ in self._running.values()}
        return [s for s in range(self.slots) if s not in busy and s not in self._lost]

    def submit(self, slot: int, task: BatchTask) -> None:
        ref = self._actors[slot].run.remote(task)
        self._running[ref] = (slot, task.key)
        self._started.append(VideoStarted(slot, task.key))

    def poll(self, timeout_s: float) -> list[BatchEvent]:
        ray = self._ray
        out: list[BatchEvent] = list(self._started)
        self._started.clear()
        if not self._running:
            if not out:
                time.sleep(timeout_s)
            return out
        ready, _ = ray.wait(list(self._running), num_returns=1, timeout=min(timeout_s, PROGRESS_POLL_S))
        if ready:
            more, _ = ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
            ready = list(dict.fromkeys([*ready, *more]))
        for ref in ready:
            slot, key = self._running.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                self._lost.add(slot)
                outcome = TaskOutcome(key=key, status="failed", node=self.nodes.get(slot),
                                      error=f"the Ray worker on node {self.nodes.get(slot)} died while processing "
                                            f"it ({one_line(e).splitlines()[0][:200]})")
            except Exception as e:  # noqa: BLE001
                outcome = TaskOutcome(key=key, status="failed", node=self.nodes.get(slot), error=one_line(e)[:500])
            out.append(VideoFinished(slot, outcome))
        now = time.monotonic()
        if self._running and now - self._last_progress >= PROGRESS_POLL_S:
            self._last_progress = now
            refs = {self._actors[slot].progress.remote(): slot for slot, _ in self._running.values()}
            done, _ = ray.wait(list(refs), num_returns=len(refs), timeout=1.0)
            for ref in done:
                try:
                    cur = ray.get(ref)
                except Exception:  # noqa: BLE001 - progress only
                    continue
                if cur is not None:
                    out.append(VideoProgress(refs[ref], cur[0], cur[1]))
        if self._lost and len(self._lost) == self.slots and not self._stopping:
            raise WorkerError("all Ray workers died; see the failed inputs in the manifest")
        return out

    def request_stop(self) -> None:
        self._stopping = True
        for slot, actor in enumerate(self._actors):
            if slot not in self._lost:
                actor.stop.remote()

    def close(self) -> None:
        ray = self._ray
        if self._actors:
            if self._running:
                self.request_stop()
                ray.wait(list(self._running), num_returns=len(self._running), timeout=30)
            for actor in self._actors:
                try:
                    ray.kill(actor)
                except Exception:  # noqa: BLE001 - already gone
                    pass
            self._actors = []
        if self._owns_ray and ray.is_initialized():
            with keep_signal_handlers():
                ray.shutdown()
            self._owns_ray = False
