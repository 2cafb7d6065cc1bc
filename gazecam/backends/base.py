"""The interface every inference backend offers to the pipeline, plus helpers shared by the array backends.

:class:`~gazecam.backends.torch.TorchBackend` runs a ``GazeModel``; :class:`~gazecam.backends.onnxruntime.OrtBackend`
and :class:`~gazecam.backends.tensorrt.TensorRTBackend` run exported graphs (see :mod:`gazecam.export`).
Features returned by ``encode`` are opaque: pass them back to ``decode`` of the same backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import GazecamError
from ..predictor import BatchPredictor, HeadBox, empty_prediction, split_predictions
from ..types import GazePrediction

if TYPE_CHECKING:  # pragma: no cover
    from ..export_info import ExportInfo

__all__ = ["GazeBackend", "BackendError", "BackendUnavailable", "ArrayFeatures", "ExportedBackend", "head_maps_np",
           "BACKEND_NAMES", "PRECISIONS"]

BACKEND_NAMES = ("torch", "onnxruntime", "tensorrt")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")  # and "auto" (resolved by backends.precision)


class BackendError(GazecamError):
    """A backend cannot run the model as asked (bad export, wrong shapes, unsupported option)."""


class BackendUnavailable(BackendError):
    """The backend's runtime (onnxruntime, TensorRT, CUDA) is not installed or not usable here."""


@runtime_checkable
class GazeBackend(Protocol):
    """What the pipeline needs from a model, whatever runs it."""

    name: str  # model name (zoo name, weights file stem, random-...)
    released: bool  # True only for the released zoo weights (else the UI shows an "untrained" banner)
    note: str  # why the weights are not the released ones, if known

    @property
    def has_inout(self) -> bool: ...

    @property
    def device(self) -> Any: ...  # torch.device or a string such as "cpu" / "cuda:0"

    def encode(self, image: np.ndarray) -> Any: ...  # H x W x 3 uint8 RGB -> backend-specific features

    def decode(self, feats: Any, heads: Sequence[HeadBox]) -> GazePrediction: ...

    def decode_batch(self, feats: Any, heads_per_image: Sequence[Sequence[HeadBox]]) -> list[GazePrediction]: ...

    def predict(self, image: np.ndarray, heads: Sequence[HeadBox]) -> GazePrediction: ...

    def predict_batch(self, images: Sequence[np.ndarray], heads_per_image: Sequence[Sequence[HeadBox]]
                      ) -> list[GazePrediction]: ...


@dataclass(frozen=True)
class ArrayFeatures:
    """Encoded images of an exported-graph backend (``scene`` stays where the runtime keeps it)."""

    scene: Any  # (B, 256, 32, 32): numpy float32 (onnxruntime) or a CUDA torch tensor (tensorrt)
    image_sizes: tuple[tuple[int, int], ...]  # (height, width) of each source image
    backend: str  # which backend made them (decode checks it)

    def __len__(self) -> int:
        return int(self.scene.shape[0])


class ExportedBackend(BatchPredictor):
    """What the exported-graph backends share: labels and sizes from the export sidecar, the features check."""

    backend: str  # "onnxruntime" / "tensorrt": stamped on the features this backend encodes
    info: "ExportInfo"
    _device: Any

    @property
    def has_inout(self) -> bool:
        return self.info.inout

    @property
    def device(self) -> Any:
        return self._device

    @property
    def heatmap_size(self) -> int:
        """Side of the heatmaps: 64, or 32 / 48 for the HGNetV2 Atto / Femto models."""
        return self.info.out_size

    def _own(self, feats: Any) -> bool:
        """Whether ``feats`` came from this backend's ``encode`` (the :class:`ArrayFeatures` it stamps)."""
        return isinstance(feats, ArrayFeatures) and feats.backend == self.backend

    def _decode_image(self, scene: Any, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """One image's scene (1, 256, 32, 32) + (N, 4) normalised boxes -> heatmaps (N, 64, 64), inout (N,)|None."""
        raise NotImplementedError  # pragma: no cover - implemented by each exported backend

    def decode_batch(self, feats: ArrayFeatures, heads_per_image: Sequence[Sequence[HeadBox]]
                     ) -> list[GazePrediction]:
        out = []
        for i, boxes in enumerate(self._decode_boxes(feats, heads_per_image, own_features=self._own(feats))):
            if len(boxes) == 0:
                out.append(empty_prediction(self.has_inout, self.heatmap_size))
                continue
            heatmaps, inout = self._decode_image(feats.scene[i:i + 1], boxes)
            out.extend(split_predictions(heatmaps, inout, [len(boxes)]))
        return out


def head_maps_np(boxes_norm: np.ndarray, size: int = 32) -> np.ndarray:
    """(N, 4) normalised boxes (NaN row = ``None``) -> (N, size, size) float32 binary head maps, vectorised.

    Same rounding as the official code and :func:`gazecam.models.gazelle.head_map_bounds`
    (round half to even; an empty rounded extent gives an all-zero map, like ``None``).
    """
    from ..models.gazelle import head_map_bounds

    bounds = head_map_bounds(boxes_norm, size)  # (N, 4) int x0, y0, x1, y1
    ar = np.arange(size)
    rows = (ar >= bounds[:, 1:2]) & (ar < bounds[:, 3:4])  # (N, size)
    cols = (ar >= bounds[:, 0:1]) & (ar < bounds[:, 2:3])  # (N, size)
    return (rows[:, :, None] & cols[:, None, :]).astype(np.float32)  # (N, size, size)
