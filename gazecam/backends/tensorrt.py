"""TensorRT backend: engines built from an ONNX export (:func:`~gazecam.backends.tensorrt_build.build_engines`), run on CUDA.

Needs the ``tensorrt`` Python package (TensorRT >= 10) and a CUDA GPU visible to torch; without them
every entry point raises :class:`~gazecam.backends.base.BackendUnavailable` ("TensorRT not available: ...").
Buffers are torch CUDA tensors; inference is enqueued on torch's current stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import ArrayFeatures, BackendError, BackendUnavailable, ExportedBackend
from .runtimes import require_tensorrt, tensorrt_available  # noqa: F401 (tensorrt_available re-exported)

__all__ = ["TensorRTBackend", "require_tensorrt", "tensorrt_available"]


class _Engine:
    """One deserialised engine + execution context, run with torch CUDA tensors."""

    def __init__(self, trt: Any, path: Path, device: Any) -> None:
        import torch

        self._trt = trt
        self._torch = torch
        self.device = device
        self.logger = trt.Logger(trt.Logger.WARNING)  # must outlive the runtime
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise BackendError(f"TensorRT could not load the engine {path} (built by another TensorRT version or "
                               "for another GPU?); delete it to rebuild")
        self.context = self.engine.create_execution_context()
        self.inputs, self.outputs = [], []
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs).append(name)
        self._dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16,
                        trt.DataType.INT32: torch.int32, trt.DataType.INT64: torch.int64,
                        trt.DataType.BOOL: torch.bool}

    def run(self, feeds: dict[str, Any]) -> dict[str, Any]:
        torch = self._torch
        for name in self.inputs:
            t = feeds[name]
            want = self._dtypes[self.engine.get_tensor_dtype(name)]
            t = t.to(self.device, want).contiguous()
            feeds[name] = t  # keep alive until the stream finishes
            if not self.context.set_input_shape(name, tuple(t.shape)):
                raise BackendError(f"TensorRT engine rejects input {name} of shape {tuple(t.shape)} "
                                   "(outside its optimisation profile?)")
            self.context.set_tensor_address(name, t.data_ptr())
        outs = {}
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            t = torch.empty(shape, dtype=self._dtypes[self.engine.get_tensor_dtype(name)], device=self.device)
            self.context.set_tensor_address(name, t.data_ptr())
            outs[name] = t
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise BackendError("TensorRT inference failed (see the TensorRT log)")
        return outs


class TensorRTBackend(ExportedBackend):
    """TensorRT encoder + decoder engines with the :class:`~gazecam.backends.base.GazeBackend` interface."""

    backend = "tensorrt"

    def __init__(self, *, export_dir: str | Path, device: str = "cuda", fp16: bool = True,
                 max_heads: int | None = None, cache_root: str | Path | None = None) -> None:
        trt = require_tensorrt()
        import torch

        from .tensorrt_build import build_engines

        dev = torch.device(device)
        if dev.type != "cuda":
            raise BackendUnavailable(f"TensorRT not available: it runs on CUDA devices only, not {device!r}")
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        self._device = torch.device("cuda", index)
        with torch.cuda.device(index):
            files = build_engines(export_dir, fp16=fp16, max_heads=max_heads, cache_root=cache_root,
                                  device_index=index)
            self._encoder = _Engine(trt, files.encoder, self._device)
            self._decoder = _Engine(trt, files.decoder, self._device)
        self.info = files.info
        self.max_heads = files.max_heads
        self.fp16 = fp16
        self.name, self.released, self.note = self.info.model_name, self.info.released, self.info.note

    def preprocess(self, image: np.ndarray) -> Any:
        return self.preprocess_batch([image])

    def preprocess_batch(self, images: Sequence[np.ndarray]) -> Any:
        from ..models.archs import backbone_normalizes
        from ..models.preprocess import preprocess_images

        return preprocess_images(list(images), size=self.info.input_size, device=self._device,
                                 normalize=backbone_normalizes(self.info.backbone))  # on the GPU

    def encode_pixels(self, pixels: Any, image_sizes: Sequence[tuple[int, int]]) -> ArrayFeatures:
        import torch

        scenes = [self._encoder.run({"pixels": pixels[i:i + 1]})["scene"] for i in range(len(pixels))]
        return ArrayFeatures(scene=torch.cat(scenes), image_sizes=tuple((int(h), int(w)) for h, w in image_sizes),
                             backend=self.backend)

    def _decode_image(self, scene: Any, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        from ..models.gazelle import build_head_maps, head_map_bounds

        bounds = torch.from_numpy(head_map_bounds(boxes, self.info.featmap)).to(self._device)
        maps = build_head_maps(bounds, self.info.featmap)  # (N, 32, 32) on the GPU
        heat, inout = [], []
        for s in range(0, len(maps), self.max_heads):  # the engine's profile allows 1..max_heads
            res = self._decoder.run({"scene": scene, "head_maps": maps[s:s + self.max_heads]})
            heat.append(res["heatmaps"].float())
            if self.has_inout:
                inout.append(res["inout"].float())
        heat_np = torch.cat(heat).cpu().numpy()  # synchronises the stream
        return heat_np, (torch.cat(inout).cpu().numpy() if self.has_inout else None)

    def __repr__(self) -> str:
        return (f"TensorRTBackend(name={self.name!r}, device={self._device}, fp16={self.fp16}, "
                f"max_heads={self.max_heads}, released={self.released})")
