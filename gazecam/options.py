"""How a video is processed: :class:`ProcessOptions` (everything but the model and the outputs).

A leaf module: the per-frame factory (:func:`gazecam.pipeline.build_processor`) and the per-video loop
(:func:`gazecam.jobs.process_source`, which re-exports it) both read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .gaze import GazeOptions

if TYPE_CHECKING:  # pragma: no cover
    from .aoi import AOISet

__all__ = ["ProcessOptions", "HEATMAP_MODES"]

HEATMAP_MODES = ("combined", "per-person", "none")


@dataclass(frozen=True, kw_only=True)
class ProcessOptions:
    """How a video is processed (everything but the model and the outputs)."""

    detector: str = "auto"  # auto | pose | face | a YOLO model file (.pt/.onnx)
    detector_class: str | int | None = None  # head class of a multi-class YOLO model
    detector_conf: float = 0.25
    heads_path: Path | None = None  # known head boxes (see gazecam.records.FileHeads) instead of a detector
    gaze: GazeOptions = field(default_factory=GazeOptions)  # smoothing, in/out threshold, stride
    heatmap: str = "combined"  # combined | per-person | none
    max_frames: int | None = None
    aois: "AOISet | None" = None  # areas of interest: each record gets the AOI looked at (gazecam.aoi)
    detect_every: int = 1  # run the detector every N-th frame, the tracker predicting the heads in between

    def __post_init__(self) -> None:
        if not isinstance(self.gaze, GazeOptions):
            raise InputError(f"gaze={self.gaze!r}: expected GazeOptions (gazecam.gaze)")
        if self.max_frames is not None and (isinstance(self.max_frames, bool) or not isinstance(self.max_frames, int)
                                            or self.max_frames < 1):
            raise InputError(f"max_frames={self.max_frames!r}: expected a whole number >= 1 or None")
        if isinstance(self.detect_every, bool) or not isinstance(self.detect_every, int) or self.detect_every < 1:
            raise InputError(f"detect_every={self.detect_every!r}: expected a whole number of frames >= 1 (1: detect "
                             "heads on every frame; try 2: on every other frame, the tracker predicting them between)")
        if not 0.0 <= self.detector_conf <= 1.0:
            raise InputError(f"detector_conf={self.detector_conf!r}: expected a number between 0 and 1")
        if self.heatmap not in HEATMAP_MODES:
            raise InputError(f"heatmap={self.heatmap!r}: expected one of {', '.join(HEATMAP_MODES)}")
        if self.heads_path is not None:
            object.__setattr__(self, "heads_path", Path(self.heads_path))
            if self.detect_every != 1:
                raise InputError(f"heads_path={str(self.heads_path)!r} and detect_every={self.detect_every}: known "
                                 "boxes are read for every frame; leave detect_every at 1 with them")
            if (self.detector or "auto").lower() != "auto":
                raise InputError(f"heads_path={str(self.heads_path)!r} and detector={self.detector!r}: give either "
                                 "known boxes or a detector, not both")
        else:
            _check_detector(self.detector)

    def result_key(self) -> dict[str, object]:
        """The options that change results, JSON-able (for manifests of many-video runs)."""
        g = self.gaze
        return {"detector": None if self.heads_path is not None else self.detector,
                "detector_class": self.detector_class, "detector_conf": self.detector_conf,
                "heads_path": None if self.heads_path is None else str(self.heads_path),
                "stride": g.stride, **({"max_stride": g.max_stride, "scene_threshold": g.scene_threshold}
                                       if g.stride == "auto" else {}),
                "smooth": g.smooth, "inout_threshold": g.inout_threshold,
                "heatmap": self.heatmap, "max_frames": self.max_frames,
                **({"aois": self.aois.to_json()["aois"]} if self.aois is not None else {}),
                **({"detect_every": self.detect_every} if self.detect_every != 1 else {})}


def _check_detector(spec: str | None) -> None:
    """A detector that is neither a known name nor an existing file fails here, before any model loads."""
    from .detect import DETECTOR_ALIASES, DETECTOR_NAMES

    names = DETECTOR_NAMES
    spec = (spec or "auto").strip()
    if spec.lower() in names or spec.lower() in DETECTOR_ALIASES or Path(spec).expanduser().is_file():
        return
    what = "does not exist" if not Path(spec).expanduser().exists() else "is not a file"
    raise InputError(f"detector={spec!r}: expected {', '.join(names)} or a YOLO model file (.pt/.onnx); "
                     f"{spec} {what}")
