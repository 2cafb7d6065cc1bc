"""The per-frame work of the inference thread: detect heads, track them, run the gaze stage.

Built from the pipeline's stages (:mod:`gazecam.detect`, :mod:`gazecam.track`, :mod:`gazecam.gaze`)
inside the inference thread, which then owns the model and the detector.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..errors import GazecamError, InputError
from ..loading import ModelSpec, load_model
from ..types import Frame, GazeResult
from .settings import GazeSettings, ModelChoice
from .workers import ModelInfo

__all__ = ["DetectorUnavailable", "PipelineEngine", "PipelineBuilder", "load_model_choice", "model_spec", "available_devices", "available_backends"]

_log = logging.getLogger(__name__)

ModelLoader = Callable[[ModelChoice], Any]
DetectorFactory = Callable[[str, "str | None", Callable[[str], None]], Any]


class DetectorUnavailable(GazecamError):
    """The head detector the user asked for cannot be built (e.g. ``pose`` weights missing offline)."""


def available_devices() -> list[str]:
    """Devices for the picker: auto, cpu and every visible CUDA device."""
    out = ["auto", "cpu"]
    try:
        import torch

        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - a broken CUDA setup must not stop the GUI
        pass
    return out


def available_backends() -> list[str]:
    """Inference backends for the picker: those :mod:`gazecam.backends` finds usable, plus ``auto``."""
    try:
        from ..backends import available_backends as found

        names = list(found())
    except Exception:  # noqa: BLE001 - a broken optional runtime must not stop the GUI
        names = ["torch"]
    return [*names, "auto"] if len(names) > 1 else names


def model_spec(choice: ModelChoice) -> ModelSpec:
    """The :class:`~gazecam.loading.ModelSpec` of the picker's choice (InputError when nothing is chosen)."""
    if not choice.is_files and not choice.zoo_name:
        raise InputError("no model chosen: pick a zoo model or local weight files")
    return ModelSpec(name=None if choice.is_files else choice.zoo_name, backbone=choice.backbone or None,
                     backbone_weights=choice.backbone_weights or None, gaze_weights=choice.gaze_weights or None,
                     device=choice.device or "auto", backend=choice.backend or "torch", precision=choice.precision,
                     compile=choice.compile, progress=False)


def load_model_choice(choice: ModelChoice) -> Any:
    """Load the weights ``choice`` names on its backend (runs in the inference thread; errors are messages)."""
    return load_model(model_spec(choice))


def _default_detector(spec: str, device: str | None, notify: Callable[[str], None]) -> Any:
    from ..detect import make_detector

    return make_detector(spec, device=device, notify=notify)


def _backend_label(choice: ModelChoice, model: Any) -> str:
    name = choice.backend if choice.backend not in ("", "auto") else type(model).__name__
    if choice.precision == "auto":  # say what auto chose on this machine (the status bar shows it)
        return f"{name} auto→{getattr(model, 'precision', 'fp32')}"
    return name if choice.precision == "fp32" else f"{name} {choice.precision}"


class PipelineEngine:
    """detect -> track -> gaze for one frame (:class:`~gazecam.pipeline.FrameProcessor`); settings change between frames."""

    def __init__(self, *, model: Any, detector: Any, tracker: Any, gaze: GazeSettings, info: ModelInfo) -> None:
        from ..gaze import GazeStage
        from ..pipeline import FrameProcessor

        self.processor = FrameProcessor(detector=detector, tracker=tracker,
                                        gaze_stage=GazeStage(model=model, smooth=gaze.smooth,
                                                             inout_threshold=gaze.inout_threshold, stride=gaze.stride))
        self.info = info

    @property
    def detector(self) -> Any:
        return self.processor.detector

    @detector.setter
    def detector(self, detector: Any) -> None:
        self.processor.detector = detector

    @property
    def tracker(self) -> Any:
        return self.processor.tracker

    @property
    def stage(self) -> Any:
        """The gaze stage (its settings may change between frames)."""
        return self.processor.gaze_stage

    def process(self, frame: Frame) -> GazeResult:
        return self.processor.step(frame)

    def set_gaze(self, settings: GazeSettings) -> None:
        self.stage.smooth = settings.smooth
        self.stage.inout_threshold = settings.inout_threshold
        self.stage.stride = settings.stride

    def reset(self) -> None:
        self.processor.reset()


class PipelineBuilder:
    """Builds a :class:`PipelineEngine` in the inference thread; the detector is kept across model changes.

    ``model_loader`` and ``detector_factory`` are injectable (tests use light fakes).
    """

    def __init__(self, *, detector_spec: str = "auto", model_loader: ModelLoader | None = None,
                 detector_factory: DetectorFactory | None = None, track: bool = True) -> None:
        self.detector_spec = detector_spec
        self._load = model_loader or load_model_choice
        self._make_detector = detector_factory or _default_detector
        self._track = track
        self._detector: Any = None
        self._detector_device: str | None = None
        self.notes: list[str] = []

    def build(self, choice: ModelChoice, gaze: GazeSettings) -> PipelineEngine:
        model = self._load(choice)
        device = str(getattr(model, "device", "cpu"))
        if self._detector is None or self._detector_device != device:
            self.notes.clear()
            try:
                self._detector = self._make_detector(self.detector_spec, device, self.notes.append)
            except Exception as e:  # noqa: BLE001 - reported in the window like a model error
                raise DetectorUnavailable(f"head detector {self.detector_spec!r}: {e}") from e
            self._detector_device = device
        tracker = None
        if self._track:
            from ..track import HeadTracker

            tracker = HeadTracker()
        is_fallback = bool(getattr(self._detector, "is_fallback", False))
        warning = ""
        if is_fallback:
            from ..detect import FALLBACK_WARNING

            warning = self.notes[-1] if self.notes else str(getattr(self._detector, "warning", FALLBACK_WARNING))
        info = ModelInfo(name=str(getattr(model, "name", "model")), released=bool(getattr(model, "released", False)),
                         note=str(getattr(model, "note", "")), device=device,
                         backend=_backend_label(choice, model),
                         has_inout=bool(getattr(model, "has_inout", False)),
                         detector=str(getattr(self._detector, "name", type(self._detector).__name__)),
                         detector_warning=warning)
        return PipelineEngine(model=model, detector=self._detector, tracker=tracker, gaze=gaze, info=info)
