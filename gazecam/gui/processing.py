"""The per-frame work of the inference threads, assembled by :func:`gazecam.pipeline.build_processor`.

:class:`ProcessorBuilder` loads the model and builds the :class:`~gazecam.pipeline.FrameProcessor`
(detect -> track -> gaze) inside the detect thread, which then owns the detector and tracker; the gaze
thread owns the model (:mod:`~gazecam.gui.inference`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..errors import GazecamError
from ..gaze import GazeOptions
from ..options import ProcessOptions
from ..loading import ModelSpec, load_model
from ..pipeline import FrameProcessor, build_processor, make_head_detector, make_tracker
from ..track import HeadTracker
from .workers import ModelInfo

__all__ = ["DetectorUnavailable", "ProcessorBuilder", "load_gui_model", "available_devices", "available_backends"]

ModelLoader = Callable[[ModelSpec], Any]
DetectorFactory = Callable[[ProcessOptions, "str | None", Callable[[str], None]], Any]


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


def load_gui_model(spec: ModelSpec) -> Any:
    """Load ``spec`` (runs in the detect thread; no terminal progress bar; errors are messages)."""
    return load_model(replace(spec, progress=False))


def _default_detector(options: ProcessOptions, device: str | None, notify: Callable[[str], None]) -> Any:
    return make_head_detector(options, device=device, notify=notify)


def _backend_label(spec: ModelSpec, model: Any) -> str:
    name = spec.backend if spec.backend not in ("", "auto") else type(model).__name__
    if spec.precision == "auto":  # say what auto chose on this machine (the status bar shows it)
        return f"{name} auto→{getattr(model, 'precision', 'fp32')}"
    return name if spec.precision == "fp32" else f"{name} {spec.precision}"


class ProcessorBuilder:
    """Builds the :class:`FrameProcessor` of a model in the detect thread; the detector is kept across models.

    ``detector``, ``detector_class``, ``detector_conf``: as in :class:`ProcessOptions` (checked when a model
    loads, so that a bad detector is reported in the window).  ``model_loader`` and ``detector_factory`` are
    injectable (tests use light fakes); ``track=False``: no tracker.
    """

    def __init__(self, *, detector: str = "auto", detector_class: str | int | None = None,
                 detector_conf: float = 0.25, model_loader: ModelLoader | None = None,
                 detector_factory: DetectorFactory | None = None, track: bool = True) -> None:
        self.detector_spec = detector
        self._detector_options = {"detector": detector, "detector_class": detector_class,
                                  "detector_conf": detector_conf}
        self._load = model_loader or load_gui_model
        self._make_detector = detector_factory or _default_detector
        self._track = track
        self._detector: Any = None
        self._detector_device: str | None = None
        self.notes: list[str] = []

    def options(self, gaze: GazeOptions) -> ProcessOptions:
        """The :class:`ProcessOptions` the window's processor follows (``gazecam process`` takes the same)."""
        return ProcessOptions(**self._detector_options, gaze=gaze)  # type: ignore[arg-type]

    def tracker(self, gaze: GazeOptions, *, fps: float | None) -> HeadTracker | None:
        """A new tracker for a source of ``fps`` frames/s (None with ``track=False``)."""
        return make_tracker(self.options(gaze), fps=fps) if self._track else None

    def build(self, spec: ModelSpec, gaze: GazeOptions, *, fps: float | None = None
              ) -> tuple[FrameProcessor, ModelInfo]:
        model = self._load(spec)
        device = getattr(model, "device", None)
        device = None if device is None else str(device)  # as build_processor gives it to the detector
        try:
            options = self.options(gaze)
            if self._detector is None or self._detector_device != device:
                self.notes.clear()
                self._detector = self._make_detector(options, device, self.notes.append)
                self._detector_device = device
        except Exception as e:  # noqa: BLE001 - reported in the window like a model error
            raise DetectorUnavailable(f"head detector {self.detector_spec!r}: {e}") from e
        processor = build_processor(model, options, fps=fps, detector=self._detector, track=self._track)
        warning = ""
        if getattr(self._detector, "is_fallback", False):
            from ..detect import FALLBACK_WARNING

            warning = self.notes[-1] if self.notes else str(getattr(self._detector, "warning", FALLBACK_WARNING))
        info = ModelInfo(name=str(getattr(model, "name", "model")), released=bool(getattr(model, "released", False)),
                         note=str(getattr(model, "note", "")), device=device or "cpu",
                         backend=_backend_label(spec, model),
                         has_inout=bool(getattr(model, "has_inout", False)),
                         detector=str(getattr(self._detector, "name", type(self._detector).__name__)),
                         detector_warning=warning)
        return processor, info
