"""Light stand-ins for the GUI tests: a generated clip, a fake gaze model and a fake head detector."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazecam.types import Frame, GazePrediction, HeadBoxes

CLIP_FRAMES = 48
CLIP_FPS = 24
CLIP_SIZE = (160, 120)  # width, height
AUDIO_RATE = 16000
CODE_BITS, CODE_Y0 = 6, 40


def frame_index_of(image: np.ndarray) -> int:
    """The frame index a clip frame carries (robust to re-encoding and to the overlays)."""
    return sum(1 << bit for bit in range(CODE_BITS)
               if image[CODE_Y0 + 8 * bit + 2:CODE_Y0 + 8 * bit + 6, 2:6].mean() > 128)


def clip_image(i: int, size: tuple[int, int] = CLIP_SIZE) -> np.ndarray:
    """Frame ``i`` of the generated clips: its index as white blocks down the left edge, something moving."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (i * 5) % 256
    for bit in range(CODE_BITS):  # the frame index as white blocks down the left edge
        if i >> bit & 1:
            img[CODE_Y0 + 8 * bit:CODE_Y0 + 8 * bit + 8, 0:8] = 255
    img[..., 1] = np.linspace(0, 200, w, dtype=np.uint8)[None, :]
    img[20:40, 20 + i % 40:40 + i % 40] = 255  # something moving
    return img


def make_image_folder(path: Path, *, frames: int = 12, size: tuple[int, int] = CLIP_SIZE,
                      other_sizes: dict[int, tuple[int, int]] | None = None) -> Path:
    """A folder of PNGs ``frame1.png`` .. (natural order) drawn like the clip's frames; ``other_sizes``:
    image index -> (width, height) for images of another size."""
    from PIL import Image

    path.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        Image.fromarray(clip_image(i, (other_sizes or {}).get(i, size))).save(path / f"frame{i + 1}.png")
    return path


def make_clip(path: Path, *, frames: int = CLIP_FRAMES, fps: int = CLIP_FPS, size: tuple[int, int] = CLIP_SIZE,
              audio: bool = True) -> Path:
    """A small H.264 mp4 whose frames carry their index (see :func:`frame_index_of`), plus a sine audio track."""
    import av

    w, h = size
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": "10", "g": "12"}
        a_s = c.add_stream("aac", rate=AUDIO_RATE, layout="mono") if audio else None
        for i in range(frames):
            img = clip_image(i, size)
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a_s is not None:
            n = int(AUDIO_RATE * frames / fps)
            t = np.arange(n) / AUDIO_RATE
            pcm = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            for start in range(0, n, 1024):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, start:start + 1024]), format="fltp",
                                                layout="mono")
                fr.sample_rate = AUDIO_RATE
                fr.pts = start
                for p in a_s.encode(fr):
                    c.mux(p)
            for p in a_s.encode(None):
                c.mux(p)
    return path


class FakeModel:
    """A deterministic stand-in for GazeModel (encode/decode/has_inout/released/note/name).

    Each head looks at the mirror image of its centre (x -> 1 - x); the in/out score is the head's
    x-centre, so the left person reads "out" and the right one "in" at threshold 0.5.
    """

    name = "fake-model"
    released = False
    note = "fake weights for tests"
    device = "cpu"
    has_inout = True

    def __init__(self) -> None:
        self.encodes = 0

    def encode(self, image: np.ndarray) -> np.ndarray:
        self.encodes += 1
        return np.asarray(image.shape[:2])

    def decode(self, feats, heads) -> GazePrediction:
        boxes = np.asarray(heads, np.float32).reshape(-1, 4)
        n = len(boxes)
        yy, xx = np.mgrid[0:64, 0:64] / 64.0
        cx = (boxes[:, 0] + boxes[:, 2]) / 2
        cy = (boxes[:, 1] + boxes[:, 3]) / 2
        tx, ty = 1.0 - cx, np.clip(cy + 0.2, 0, 1)
        hm = np.exp(-(((xx[None] - tx[:, None, None]) ** 2) + ((yy[None] - ty[:, None, None]) ** 2)) / 0.005)
        return GazePrediction(heatmaps=hm.astype(np.float32).reshape(n, 64, 64), inout=cx.astype(np.float32))


@dataclass
class FakeDetector:
    """Two heads at fixed relative positions, with track ids 1 and 2 (no tracker needed)."""

    name: str = "fake-detector"
    is_fallback: bool = False
    calls: list[int] = field(default_factory=list)

    def detect(self, frame: Frame) -> HeadBoxes:
        self.calls.append(frame.index)
        w, h = frame.width, frame.height
        xyxy = np.array([[0.1 * w, 0.1 * h, 0.3 * w, 0.4 * h], [0.65 * w, 0.15 * h, 0.85 * w, 0.45 * h]], np.float32)
        return HeadBoxes(xyxy=xyxy, image_size=(h, w), track_ids=np.array([1, 2]))
