"""Small typed records that flow between gazecam's stages.

Coordinate conventions are in the field names: ``xyxy`` is in pixels of the
frame, ``xyxy_norm`` / ``*_norm`` is normalised to [0, 1] by the frame's width
and height.  Images are ``H x W x 3`` ``uint8`` RGB arrays.

This module imports numpy only (no torch), so drawing and I/O code can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["Frame", "HeadBoxes", "GazePrediction", "StageTimes", "STAGE_NAMES", "GazeResult", "check_rgb_image"]


def check_rgb_image(image: object, what: str = "image") -> np.ndarray:
    """Return ``image`` if it is an H x W x 3 uint8 array, else raise an error saying what to do."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what}: expected an H x W x 3 uint8 RGB numpy array, got {type(image).__name__}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        raise ValueError(f"{what}: got a grayscale image of shape {image.shape}; expected H x W x 3 RGB "
                         "(convert with gazecam.imageio.to_rgb)")
    if image.ndim == 3 and image.shape[2] == 4:
        raise ValueError(f"{what}: got a 4-channel (RGBA) image of shape {image.shape}; expected H x W x 3 RGB "
                         "(drop alpha with image[..., :3] or gazecam.imageio.to_rgb)")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what}: expected an H x W x 3 RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{what}: expected dtype uint8 (0..255), got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{what}: empty image of shape {image.shape}")
    return image


@dataclass(frozen=True, slots=True)
class Frame:
    """One video frame: RGB pixels plus its position in the source."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    index: int  # 0-based index in the source (gaps = dropped frames)
    timestamp_s: float  # presentation time in seconds from the start
    source: str = ""

    def __post_init__(self) -> None:
        check_rgb_image(self.image, "Frame.image")
        if self.index < 0:
            raise ValueError(f"Frame.index must be >= 0, got {self.index}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True, slots=True)
class HeadBoxes:
    """Head boxes of one frame, in pixels, with track ids (-1 = not tracked)."""

    xyxy: np.ndarray  # (N, 4) float32 pixels (xmin, ymin, xmax, ymax)
    image_size: tuple[int, int]  # (height, width) of the frame the boxes live in
    track_ids: np.ndarray = field(default=None)  # type: ignore[assignment]  # (N,) int64
    confidence: np.ndarray = field(default=None)  # type: ignore[assignment]  # (N,) float32

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        ids = np.full(n, -1, np.int64) if self.track_ids is None else np.asarray(self.track_ids, np.int64)
        conf = np.ones(n, np.float32) if self.confidence is None else np.asarray(self.confidence, np.float32)
        if ids.shape != (n,) or conf.shape != (n,):
            raise ValueError(
                f"HeadBoxes: {n} boxes but track_ids shape {ids.shape} and confidence shape {conf.shape}"
            )
        if not np.all(np.isfinite(xyxy)):
            raise ValueError("HeadBoxes: box coordinates must be finite")
        if np.any(xyxy[:, 2] < xyxy[:, 0]) or np.any(xyxy[:, 3] < xyxy[:, 1]):
            raise ValueError("HeadBoxes: boxes must have xmax >= xmin and ymax >= ymin")
        h, w = self.image_size
        if h < 1 or w < 1:
            raise ValueError(f"HeadBoxes: image_size must be positive (height, width), got {self.image_size}")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "track_ids", ids)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "image_size", (int(h), int(w)))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @classmethod
    def empty(cls, image_size: tuple[int, int]) -> "HeadBoxes":
        return cls(xyxy=np.zeros((0, 4), np.float32), image_size=image_size)

    @classmethod
    def detected(cls, xyxy: np.ndarray, confidence: np.ndarray, image_size: tuple[int, int]) -> "HeadBoxes":
        """A detector's boxes (any array-likes of N x 4 pixels and N scores), clipped to the frame, untracked."""
        return cls(xyxy=np.asarray(xyxy, np.float32).reshape(-1, 4), image_size=image_size,
                   confidence=np.asarray(confidence, np.float32).reshape(-1)).clipped()

    @property
    def xyxy_norm(self) -> np.ndarray:
        """(N, 4) float32 boxes normalised by the frame size."""
        h, w = self.image_size
        return self.xyxy / np.array([w, h, w, h], np.float32)

    @property
    def centers_xy(self) -> np.ndarray:
        """(N, 2) float32 box centres in pixels."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2], axis=1)

    def clipped(self) -> "HeadBoxes":
        """Boxes clipped to the frame; boxes that become empty are dropped."""
        h, w = self.image_size
        xyxy = self.xyxy.copy()
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
        keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        return HeadBoxes(xyxy=xyxy[keep], image_size=self.image_size,
                         track_ids=self.track_ids[keep], confidence=self.confidence[keep])


@dataclass(frozen=True, slots=True)
class GazePrediction:
    """Raw model output for the heads of one image (what ``GazeModel.predict`` returns)."""

    heatmaps: np.ndarray  # (N, 64, 64) float32 in [0, 1]
    inout: np.ndarray | None  # (N,) float32 in [0, 1], None for models without an in/out head
    points_norm: np.ndarray = field(default=None)  # type: ignore[assignment]  # (N, 2) normalised (x, y)

    def __post_init__(self) -> None:
        hm = np.asarray(self.heatmaps, dtype=np.float32)
        if hm.ndim != 3:
            raise ValueError(f"GazePrediction.heatmaps: expected (N, H, W), got shape {hm.shape}")
        n, hh, ww = hm.shape
        if self.inout is not None:
            io = np.asarray(self.inout, dtype=np.float32).reshape(-1)
            if io.shape != (n,):
                raise ValueError(f"GazePrediction.inout: expected shape ({n},), got {io.shape}")
            object.__setattr__(self, "inout", io)
        pts = self.points_norm
        if pts is None:
            pts = heatmap_argmax_norm(hm)
        pts = np.asarray(pts, dtype=np.float32).reshape(n, 2)
        object.__setattr__(self, "heatmaps", hm)
        object.__setattr__(self, "points_norm", pts)

    def __len__(self) -> int:
        return int(self.heatmaps.shape[0])


def heatmap_argmax_norm(heatmaps: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, 2) normalised (x, y) of the first maximum, official convention (col/W, row/H)."""
    n, h, w = heatmaps.shape
    if n == 0:
        return np.zeros((0, 2), np.float32)
    flat = heatmaps.reshape(n, -1).argmax(axis=1)  # first maximum in row-major order
    rows, cols = np.divmod(flat, w)
    return np.stack([cols / w, rows / h], axis=1).astype(np.float32)


@dataclass(slots=True)
class StageTimes:
    """Milliseconds spent per stage for one frame (NaN = stage did not run)."""

    capture: float = float("nan")
    detect: float = float("nan")  # detection + tracking
    encode: float = float("nan")  # preprocessing + scene encoder
    decode: float = float("nan")
    render: float = float("nan")
    write: float = float("nan")


#: The stages of :class:`StageTimes`, in pipeline order.
STAGE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(StageTimes))


@dataclass(frozen=True, slots=True)
class GazeResult:
    """Everything known about one frame after the gaze stage."""

    frame: Frame
    heads: HeadBoxes  # N heads, pixels, with track ids
    heatmaps: np.ndarray  # (N, 64, 64) float32 in [0, 1] (smoothed if smoothing is on)
    points_norm: np.ndarray  # (N, 2) gaze point, normalised (x, y)
    inout: np.ndarray | None  # (N,) float32 or None (model without in/out head)
    in_frame: np.ndarray  # (N,) bool: target judged inside the frame
    looking_at: np.ndarray  # (N,) int64 track id of the person looked at, -1 = nobody
    mutual: np.ndarray  # (N,) bool: mutual gaze with `looking_at`
    timings: StageTimes = field(default_factory=StageTimes)
    fresh: bool = True  # False when gaze was carried over from an earlier frame (--stride)

    def __post_init__(self) -> None:
        n = len(self.heads)
        for name in ("heatmaps", "points_norm", "in_frame", "looking_at", "mutual"):
            arr = getattr(self, name)
            if len(arr) != n:
                raise ValueError(f"GazeResult.{name}: expected {n} rows (one per head), got {len(arr)}")
        if self.inout is not None and len(self.inout) != n:
            raise ValueError(f"GazeResult.inout: expected {n} rows, got {len(self.inout)}")

    def __len__(self) -> int:
        return len(self.heads)

    @property
    def points_xy(self) -> np.ndarray:
        """(N, 2) gaze points in frame pixels."""
        return self.points_norm * np.array([self.frame.width, self.frame.height], np.float32)

    @property
    def peak(self) -> np.ndarray:
        if len(self) == 0:
            return np.zeros(0, np.float32)
        return self.heatmaps.reshape(len(self), -1).max(axis=1)
