"""What the GUI's threads exchange: one-slot mailboxes, timed frames, results, model info, the builder interface.

The threads themselves: :mod:`~gazecam.gui.playback` (source -> newest frame), :mod:`~gazecam.gui.inference`
(detect + gaze threads, own the models), :mod:`~gazecam.gui.recording` (encodes the annotated video).

Data flows through one-slot "latest wins" mailboxes (:class:`LatestSlot`), so no queue can grow and
a slow consumer only ever sees the newest item; every replaced item is counted as dropped.  A Qt
signal is emitted only when a slot goes from empty to full, so the UI event queue never holds more
than one pending notification per mailbox either.

Every worker catches its own exceptions and reports them through a ``failed`` signal (the thread
never dies silently); ``stop()`` joins the thread.  Workers use plain ``threading`` threads plus a
``QObject`` for signals (emitting from a non-Qt thread is queued to the receiver's thread).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from ..types import Frame, GazeResult

if TYPE_CHECKING:  # pragma: no cover
    from ..gaze import GazeOptions
    from ..loading import ModelSpec
    from ..pipeline import FrameProcessor
    from ..track import HeadTracker

__all__ = ["LatestSlot", "TimedFrame", "InferenceOutput", "ModelInfo", "Builder",
           "next_epoch", "JOIN_TIMEOUT_S"]

T = TypeVar("T")
JOIN_TIMEOUT_S = 10.0
_EPOCHS = itertools.count()  # process-wide: results of an older source or seek never match a newer one


def next_epoch() -> int:
    """A new playback epoch (bumped on every seek / source change)."""
    return next(_EPOCHS)


class LatestSlot(Generic[T]):
    """A thread-safe mailbox holding only the newest item; replaced items are counted in ``dropped``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Store ``item``; True if the slot was empty (the consumer needs a wake-up)."""
        with self._cond:
            was_empty = self._item is None
            if not was_empty:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()
            return was_empty

    def take(self) -> T | None:
        with self._cond:
            item, self._item = self._item, None
            self._cond.notify_all()  # a producer may wait for the slot to empty
            return item

    def wait_take(self, timeout_s: float) -> T | None:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout_s)
            item, self._item = self._item, None
            self._cond.notify_all()
            return item

    def wait_empty(self, timeout_s: float) -> bool:
        """Wait until the consumer took the item (or ``timeout_s`` passed); True if the slot is empty."""
        with self._cond:
            if self._item is not None:
                self._cond.wait(timeout_s)
            return self._item is None

    def clear(self) -> None:
        with self._cond:
            self._item = None
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


@dataclass(frozen=True, slots=True)
class TimedFrame:
    """A frame plus when it left the source and which playback epoch it belongs to."""

    frame: Frame
    epoch: int  # bumped on every seek / source change: results of older epochs are stale
    t_source: float  # time.monotonic() when the frame left the source


@dataclass(frozen=True, slots=True)
class InferenceOutput:
    result: GazeResult
    epoch: int
    t_source: float  # of the frame the result belongs to
    detect_thread_ms: float  # busy time of the detect thread on this frame (detection + tracking)
    gaze_thread_ms: float  # busy time of the gaze thread on it (encode + decode + smoothing)
    overlapped: bool = True  # the two ran in two threads (else one after the other in one)

    @property
    def infer_ms(self) -> float:
        """Detection + tracking + gaze for this frame (busy time, not waiting)."""
        return self.detect_thread_ms + self.gaze_thread_ms


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the window shows about the loaded model."""

    name: str
    released: bool
    note: str
    device: str
    backend: str
    has_inout: bool
    detector: str = ""
    detector_warning: str = ""


class Builder(Protocol):
    """Loads a model and builds its :class:`~gazecam.pipeline.FrameProcessor` inside the detect thread
    (which owns the detector and hands the model to the gaze thread);
    :class:`~gazecam.gui.processing.ProcessorBuilder` is the real one."""

    def build(self, spec: "ModelSpec", gaze: "GazeOptions", *, fps: float | None = None
              ) -> "tuple[FrameProcessor, ModelInfo]": ...

    def tracker(self, gaze: "GazeOptions", *, fps: float | None) -> "HeadTracker | None": ...
