"""Overlapped stages: a chain of per-item steps, each in its own thread, joined by bounded queues.

:class:`gazecam.pipeline.Pipeline` runs a video as ``detect -> gaze`` plus a consumer's stages
(:func:`gazecam.jobs.process_source`: ``-> render -> write``); with
:class:`StageChain` the four run at the same time on consecutive frames (frame *i* is written while
frame *i+1* is rendered, *i+2* goes through the gaze model and *i+3* through the head detector), so the
frame rate is bounded by the slowest stage instead of their sum::

    chain = StageChain(frames, [Stage("detect", find_heads), Stage("gaze", gaze), ...], threaded=True)
    for out in chain:          # the last stage's outputs, in input order
        ...
    chain.stop()               # (any thread) no new input is taken; what is in flight is finished

Guarantees:

* **every item, in order**: each stage is one thread taking from one FIFO queue, so a stage sees the
  items in input order and keeps its own state (tracker, smoothing) exactly as a sequential loop
  would; outputs are those of ``threaded=False`` (the same steps called one after another in the caller).
* **bounded**: at most ``queue_size`` items wait between two stages (backpressure up to the source).
* **one owner per model**: a stage's step runs only in that stage's thread.
* **errors reach the caller**: an exception in a stage thread stops the input, is carried down the chain
  and raised by the iterating caller (the original exception, with the stage in :attr:`Stage.name`); items
  already past that stage are delivered first.
* **clean shutdown**: :meth:`StageChain.stop` ends the input after the current item and lets the items in
  flight finish (outputs stay complete up to the last item delivered); leaving the iteration early
  (``break``, an exception such as a second Ctrl-C) aborts the threads and joins them.

The caller's thread only waits (with a short timeout, so signal handlers run); it never runs a step.
No torch import here.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stage", "StageChain", "StageBusy"]

_POLL_S = 0.05
_JOIN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Stage:
    """One step of the chain: ``run(item) -> item`` in its own thread; ``name`` for timings and errors."""

    name: str
    run: Callable[[Any], Any]


@dataclass
class StageBusy:
    """Seconds each stage thread spent working (not waiting), and the chain's wall time."""

    busy_s: dict[str, float] = field(default_factory=dict)
    wait_in_s: dict[str, float] = field(default_factory=dict)  # waiting for its input (source: for the next item)
    items: int = 0
    wall_s: float = 0.0

    def ms_per_item(self) -> dict[str, float]:
        """Busy milliseconds per delivered item, per stage thread."""
        return {k: v * 1e3 / self.items for k, v in self.busy_s.items()} if self.items else {}


class _End:
    pass


@dataclass(frozen=True)
class _Failure:
    error: BaseException


_END = _End()


class StageChain:
    """Iterate to get the last stage's output for every input item, in order (see the module docstring).

    ``items``: the input (iterated in the first stage's thread).  ``threaded=False`` runs every step in the
    caller's thread, one item at a time (the sequential reference).  A chain is iterated once.
    """

    def __init__(self, items: Iterable[Any], stages: Sequence[Stage], *, threaded: bool = True,
                 queue_size: int = 4) -> None:
        if not stages:
            raise ValueError("StageChain needs at least one stage")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.stages = tuple(stages)
        self.threaded = bool(threaded)
        self.busy = StageBusy(busy_s={s.name: 0.0 for s in self.stages},
                              wait_in_s={s.name: 0.0 for s in self.stages})
        self._items = items
        self._queue_size = queue_size
        self._stop = threading.Event()  # no new input
        self._abort = threading.Event()  # everything ends now
        self._threads: list[threading.Thread] = []
        self._started = False

    def stop(self) -> None:
        """Take no new input; the items in flight are finished and delivered (callable from any thread)."""
        self._stop.set()

    # -- iteration -----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        if self._started:
            raise RuntimeError("a StageChain can be iterated once")
        self._started = True
        t0 = time.perf_counter()
        try:
            yield from (self._threaded() if self.threaded else self._sequential())
        finally:
            self.busy.wall_s = time.perf_counter() - t0

    def _sequential(self) -> Iterator[Any]:
        source = iter(self._items)
        first = self.stages[0].name
        while not self._stop.is_set():
            t = time.perf_counter()
            item = next(source, _END)
            self.busy.wait_in_s[first] += time.perf_counter() - t
            if item is _END:
                return
            for stage in self.stages:
                t = time.perf_counter()
                item = stage.run(item)
                self.busy.busy_s[stage.name] += time.perf_counter() - t
            self.busy.items += 1
            yield item

    def _threaded(self) -> Iterator[Any]:
        queues = [queue.Queue(maxsize=self._queue_size) for _ in self.stages]
        for i, stage in enumerate(self.stages):
            inbox = None if i == 0 else queues[i - 1]
            t = threading.Thread(target=self._work, args=(stage, inbox, queues[i]), daemon=True,
                                 name=f"gazecam-stage:{stage.name}")
            self._threads.append(t)
        for t in self._threads:
            t.start()
        out = queues[-1]
        try:
            while True:
                try:
                    item = out.get(timeout=_POLL_S)  # short waits: the caller's signal handlers run
                except queue.Empty:
                    continue
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                self.busy.items += 1
                yield item
        finally:
            self._abort.set()
            for t in self._threads:
                t.join(_JOIN_TIMEOUT_S)

    def _work(self, stage: Stage, inbox: "queue.Queue[Any] | None", outbox: "queue.Queue[Any]") -> None:
        source = iter(self._items) if inbox is None else None
        busy = wait = 0.0
        try:
            while not self._abort.is_set():
                t = time.perf_counter()
                if source is not None:
                    item = _END if self._stop.is_set() else next(source, _END)
                else:
                    item = self._take(inbox)  # type: ignore[arg-type]
                    if item is None:
                        return  # aborted
                wait += time.perf_counter() - t
                if item is _END or isinstance(item, _Failure):
                    self._put(outbox, item)
                    return
                t = time.perf_counter()
                result = stage.run(item)
                busy += time.perf_counter() - t
                if not self._put(outbox, result):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            self._stop.set()  # upstream stops taking input
            self._put(outbox, _Failure(exc), force=True)
        finally:
            self.busy.busy_s[stage.name] = busy  # one writer per key
            self.busy.wait_in_s[stage.name] = wait

    def _take(self, inbox: "queue.Queue[Any]") -> Any:
        while not self._abort.is_set():
            try:
                return inbox.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return None

    def _put(self, outbox: "queue.Queue[Any]", item: Any, *, force: bool = False) -> bool:
        """Wait for room (backpressure); False when aborted.  ``force``: a failure gets through while not aborted."""
        while not self._abort.is_set():
            try:
                outbox.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False
