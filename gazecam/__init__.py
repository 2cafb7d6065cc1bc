"""gazecam: real-time gaze following (Gaze-LLE) for cameras and recorded videos.

Public API::

    from gazecam import GazeModel
    model = GazeModel.from_pretrained("gazelle_dinov2_vitb14_inout", device="cuda")   # cached / downloaded
    model = GazeModel.from_files(backbone="dinov2_vitb14", backbone_weights=PATH, gaze_weights=PATH)
    pred = model.predict(image, heads)   # image: H x W x 3 uint8 RGB; heads: normalised xyxy tuples or None
    pred.heatmaps (N, 64, 64), pred.inout (N,) or None, pred.points_norm (N, 2)
    feats = model.encode(image); pred = model.decode(feats, heads)   # encode once, decode many

Video: ``gazecam.pipeline`` (generator of ``GazeResult``), ``gazecam.render`` (annotators),
``gazecam.sinks`` (video / records writers).  Command line: ``gazecam --help``.

Importing ``gazecam`` loads nothing heavy; torch is imported when a model class is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["GazeModel", "SceneFeatures", "GazePrediction", "Frame", "HeadBoxes", "GazeResult", "__version__"]

_LAZY = {
    "GazeModel": ("gazecam.model", "GazeModel"),
    "SceneFeatures": ("gazecam.model", "SceneFeatures"),
    "GazePrediction": ("gazecam.types", "GazePrediction"),
    "Frame": ("gazecam.types", "Frame"),
    "HeadBoxes": ("gazecam.types", "HeadBoxes"),
    "GazeResult": ("gazecam.types", "GazeResult"),
}

if TYPE_CHECKING:  # pragma: no cover
    from .model import GazeModel, SceneFeatures
    from .types import Frame, GazePrediction, GazeResult, HeadBoxes


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'gazecam' has no attribute {name!r}")
