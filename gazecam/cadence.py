"""Head detection on every N-th frame, the tracker carrying the boxes in between.

:class:`CadenceDetector` wraps a head detector and a :class:`~gazecam.track.HeadTracker`: every ``every``-th
frame it runs the detector and tracks its boxes (:meth:`HeadTracker.update`); on the frames in between it
returns the tracker's Kalman-predicted boxes of the same heads with the same ids
(:meth:`HeadTracker.predict`).  Its boxes are therefore already tracked: the per-frame step uses it as its
detector with no tracker of its own (:func:`gazecam.pipeline.build_processor` does this when
``ProcessOptions.detect_every > 1``).  A frame that does not follow the previous one (a seek, a gap in the
indices) is detected afresh (the tracks are kept, as the tracker keeps them over a gap; :meth:`reset` forgets
them).  ``every=1`` detects and tracks every frame, exactly as detector + tracker do.

With a detector that follows people between its own searches (the offline detector searches every 3rd frame it
sees, optical flow between), the two cadences combine: with ``every=3`` each call falls on one of its searches.

People who appear between two detections are found on the next one; boxes the tracker left untracked (id -1,
below its confidence threshold) are not carried; boxes between detections follow the filter's constant-velocity
motion.  Accuracy against detection on every frame: ``scripts/eval_detect_cadence.py`` (with the offline
detector the prediction is less exact than its own optical flow; figures in the README's speed section).
"""

from __future__ import annotations

from .detect import HeadDetector
from .track import HeadTracker
from .types import Frame, HeadBoxes

__all__ = ["CadenceDetector"]


class CadenceDetector:
    """``detector`` on every ``every``-th frame, ``tracker`` predicting the boxes in between; tracked boxes out."""

    def __init__(self, *, detector: HeadDetector, tracker: HeadTracker, every: int) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every={every!r}: expected a whole number of frames >= 1 (1: detect on every frame)")
        self.detector = detector
        self.tracker = tracker
        self.every = every
        self.detections = 0  # frames the detector ran on
        self.predictions = 0  # frames the tracker predicted
        self._last_index: int | None = None
        self._since_detection = 0  # frames since the last detection (0: this one was detected)

    @property
    def name(self) -> str:
        return f"{getattr(self.detector, 'name', type(self.detector).__name__)}, every {self.every} frames"

    @property
    def is_fallback(self) -> bool:
        return bool(getattr(self.detector, "is_fallback", False))

    def detect(self, frame: Frame) -> HeadBoxes:
        """This frame's tracked heads: detected, or predicted from the last detection."""
        follows = self._last_index is not None and frame.index == self._last_index + 1
        self._last_index = frame.index
        if follows and self._since_detection + 1 < self.every:
            self._since_detection += 1
            self.predictions += 1
            return self.tracker.predict((frame.height, frame.width))
        self._since_detection = 0
        self.detections += 1
        return self.tracker.update(self.detector.detect(frame))

    def reset(self) -> None:
        """Forget the tracks and the detector's state: the next frame is detected afresh."""
        self.tracker.reset()
        reset = getattr(self.detector, "reset", None)
        if callable(reset):
            reset()
        self._last_index = None
        self._since_detection = 0
