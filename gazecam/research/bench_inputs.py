"""The benchmark's inputs (:mod:`gazecam.research.bench`): a deterministic synthetic video, fixed head
boxes, and the parsers of the ``--heads`` / ``--backends`` options."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..predictor import HeadBox

__all__ = ["synthetic_frame", "write_synthetic_video", "pyav_frames", "bench_head_boxes", "parse_heads",
           "BackendSpec", "parse_backend_specs"]


def synthetic_frame(index: int, *, width: int = 1280, height: int = 720) -> np.ndarray:
    """A deterministic, moving RGB test frame (gradients + a few bright discs), H x W x 3 uint8."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = index * 0.15
    r = 127 + 120 * np.sin(x / 97.0 + t)
    g = 127 + 120 * np.sin(y / 61.0 - t)
    b = 127 + 120 * np.sin((x + y) / 143.0 + 2 * t)
    img = np.stack([r, g, b], axis=-1)
    for k in range(4):  # "heads": discs moving across the frame
        cx = (0.15 + 0.23 * k) * width + 40 * math.sin(t + k)
        cy = (0.35 + 0.1 * (k % 2)) * height
        mask = (x - cx) ** 2 + (y - cy) ** 2 < (0.06 * height) ** 2
        img[mask] = (230, 190, 160)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_synthetic_video(path: str | Path, *, frames: int, width: int = 1280, height: int = 720,
                          fps: int = 25) -> Path:
    """Encode ``frames`` synthetic frames as an H.264 mp4 (PyAV) for the capture/decode stage."""
    import av

    p = Path(path)
    with av.open(str(p), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(synthetic_frame(i, width=width, height=height),
                                                                   format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return p


def pyav_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Decode a video file frame by frame (PyAV) as H x W x 3 uint8 RGB arrays."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def bench_head_boxes(n: int) -> list[HeadBox]:
    """``n`` deterministic normalised head boxes spread over the frame (same for every configuration)."""
    boxes: list[HeadBox] = []
    for k in range(n):
        cx = 0.1 + 0.8 * ((k * 0.618) % 1.0)
        cy = 0.25 + 0.5 * ((k * 0.382) % 1.0)
        boxes.append((round(cx - 0.05, 4), round(cy - 0.08, 4), round(cx + 0.05, 4), round(cy + 0.08, 4)))
    return boxes


def parse_heads(text: str) -> list[int]:
    try:
        heads = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated head counts such as 1,5,10, got {text!r}") from None
    if not heads or any(h < 1 or h > 256 for h in heads):
        raise ValueError(f"head counts must be 1..256, got {text!r}")
    return heads


@dataclass(frozen=True)
class BackendSpec:
    """A backend configuration to time: ``torch``, ``torch:compile``, ``torch:bf16``, ``onnxruntime``,
    ``onnxruntime:int8``, ``tensorrt``, ``tensorrt:fp16`` (options joined with ``+``: ``torch:bf16+compile``)."""

    backend: str
    precision: str = "fp32"
    compile: bool = False

    @property
    def label(self) -> str:
        opts = ([] if self.precision == "fp32" else [self.precision]) + (["compile"] if self.compile else [])
        return self.backend + (":" + "+".join(opts) if opts else "")


def parse_backend_specs(text: str) -> list[BackendSpec]:
    specs = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, _, opts = item.partition(":")
        if name not in ("torch", "onnxruntime", "tensorrt"):
            raise ValueError(f"unknown backend {name!r} (torch, onnxruntime, tensorrt; "
                             "options as torch:compile, torch:bf16, tensorrt:fp16)")
        precision, compiled = "fp32", False
        for opt in (o for o in opts.split("+") if o):
            if opt in ("fp32", "fp16", "bf16", "int8"):
                precision = opt
            elif opt == "compile":
                compiled = True
            else:
                raise ValueError(f"unknown option {opt!r} in {item!r} (fp32, fp16, bf16, int8, compile)")
        if precision == "int8" and name != "onnxruntime":
            raise ValueError(f"int8 runs on onnxruntime (onnxruntime:int8), not in {item!r}")
        specs.append(BackendSpec(backend=name, precision=precision, compile=compiled))
    if not specs:
        raise ValueError("give at least one backend")
    return specs
