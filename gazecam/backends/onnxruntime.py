"""ONNX Runtime backend: runs an export directory (``encoder.onnx`` + ``decoder.onnx``, see :mod:`gazecam.export`).

CPU execution provider by default; the CUDA execution provider when asked for (``device="cuda"``) and
present in the installed onnxruntime.  The export decides the precision: fp32, or int8 (quantized encoder and
decoder matmuls, :mod:`gazecam.quantize`; :attr:`OrtBackend.precision` says which).  The decoder's attention
runs fused (ONNX Runtime's ``MultiHeadAttention`` kernel, :mod:`gazecam.backends.ort_fusion`: the session gets
a rewritten copy of ``decoder.onnx``).  Same inputs/outputs as :class:`~gazecam.model.GazeModel`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..export_info import ExportInfo, read_export_info
from ..models.archs import backbone_normalizes
from ..models.preprocess import preprocess_images
from .base import ArrayFeatures, BackendError, BackendUnavailable, ExportedBackend, head_maps_np

__all__ = ["OrtBackend", "default_cpu_threads"]


def default_cpu_threads() -> int:
    """Intra-op threads: the CPUs this process may use (ORT's default counts hyper-threads of all CPUs)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class OrtBackend(ExportedBackend):
    """Encoder + decoder ONNX Runtime sessions with the :class:`~gazecam.backends.base.GazeBackend` interface."""

    backend = "onnxruntime"

    def __init__(self, *, export_dir: str | Path, device: str = "cpu", threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise BackendUnavailable(f"onnxruntime is not installed ({e}); pip install onnxruntime") from e
        self._ort = ort
        self.export_dir = Path(export_dir).expanduser()
        self.info: ExportInfo = read_export_info(self.export_dir)
        self.name = self.info.model_name
        self.released = self.info.released
        self.note = self.info.note
        self.precision = self.info.precision  # fp32 / int8: what the export holds
        if self.precision == "int8" and str(device) != "cpu":
            raise BackendError(f"{self.export_dir} holds an int8 export, which runs on device='cpu', not {device!r}")
        self._device = str(device)
        available = ort.get_available_providers()
        if self._device.startswith("cuda"):
            if "CUDAExecutionProvider" not in available:
                raise BackendUnavailable(
                    f"onnxruntime {ort.__version__} has no CUDA execution provider (available: {', '.join(available)});"
                    " install onnxruntime-gpu or use device='cpu'")
            index = int(self._device.split(":", 1)[1]) if ":" in self._device else 0
            providers: list = [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self.threads = int(threads or default_cpu_threads())
        try:
            # Neither session's threads spin-wait after a run: the decoder runs right after the encoder on the
            # same CPUs, and spinning encoder threads halved its speed (Atto, 2 cores: 14.3 -> 6.9 ms for one
            # head, 65 -> 36 ms for five; the encoder's own time unchanged); a spinning decoder takes the CPUs
            # from the next frame's stages (detection, rendering: other threads) and from other backends.
            self._encoder = ort.InferenceSession(str(self.export_dir / self.info.files["encoder"]),
                                                 self._session_options(), providers=providers)
            self._decoder = ort.InferenceSession(self._decoder_graph(), self._session_options(),
                                                 providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
            raise BackendError(f"onnxruntime cannot load the graphs in {self.export_dir}: {e}; export again") from e
        self._outputs = ["heatmaps", "inout"] if self.info.inout else ["heatmaps"]

    def _session_options(self):  # type: ignore[no-untyped-def]
        opts = self._ort.SessionOptions()
        opts.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # errors only
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see __init__
        return opts

    def _decoder_graph(self) -> bytes | str:
        """The decoder graph with its attention fused (:func:`~gazecam.backends.ort_fusion.fuse_attention`, in
        memory); the file's path when nothing matched (``fused_attention`` says how many layers were fused)."""
        from ..models.gazelle import DIM, NUM_HEADS
        from .ort_fusion import fuse_attention

        path = self.export_dir / self.info.files["decoder"]
        self.fused_attention = 0
        try:
            import onnx
        except ImportError:  # pragma: no cover - onnx is a dependency; the plain graph runs without it
            return str(path)
        model = onnx.load(str(path))
        self.fused_attention = fuse_attention(model, num_heads=NUM_HEADS, dim=DIM)
        return model.SerializeToString() if self.fused_attention else str(path)

    # -- properties (has_inout, device: ExportedBackend) ----------------------------------
    @property
    def providers(self) -> list[str]:
        return list(self._encoder.get_providers())

    # -- inference -------------------------------------------------------------------------------------
    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """H x W x 3 uint8 RGB -> (1, 3, 448, 448) float32 network input."""
        return self.preprocess_batch([image])

    def preprocess_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return preprocess_images(list(images), size=self.info.input_size, device="cpu",
                                 normalize=backbone_normalizes(self.info.backbone)).numpy()  # (B, 3, S, S)

    def encode_pixels(self, pixels: np.ndarray, image_sizes: Sequence[tuple[int, int]]) -> ArrayFeatures:
        """Preprocessed (B, 3, 448, 448) float32 pixels -> features."""
        (scene,) = self._encoder.run(["scene"], {"pixels": np.ascontiguousarray(pixels, dtype=np.float32)})
        return ArrayFeatures(scene=scene, image_sizes=tuple((int(h), int(w)) for h, w in image_sizes),
                             backend=self.backend)

    def decode_maps(self, scene: np.ndarray, head_maps: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """One image's scene (1, 256, 32, 32) + head maps (N, 32, 32) -> heatmaps (N, 64, 64), inout (N,)|None."""
        outs = self._decoder.run(self._outputs, {"scene": scene, "head_maps": head_maps})
        return outs[0], (outs[1] if self.info.inout else None)

    def _decode_image(self, scene: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.decode_maps(scene, head_maps_np(boxes, self.info.featmap))

    def __repr__(self) -> str:
        return (f"OrtBackend(name={self.name!r}, backbone={self.info.backbone}, inout={self.has_inout}, "
                f"precision={self.precision}, fused_attention={self.fused_attention}, providers={self.providers}, "
                f"threads={self.threads}, "
                f"released={self.released})")
