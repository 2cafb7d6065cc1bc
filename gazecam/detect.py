"""Head detection: every detector turns a :class:`~gazecam.types.Frame` into :class:`~gazecam.types.HeadBoxes`.

Detectors (chosen with ``--detector PATH|pose|face|auto`` via :func:`make_detector`):

* :class:`YoloHeadDetector` - a user's YOLO model trained for heads (``.pt`` or ``.onnx``), best quality.
* :class:`PoseHeadDetector` - an ultralytics pose model; the head box comes from the face keypoints
  (nose, eyes, ears) with the shoulders for scale, so people seen from the side or back get a box too.
  Its weights (``yolo11n-pose.pt``) go through gazecam's model cache (mirror, SHA-256, offline errors),
  never through ultralytics' own downloader.
* :class:`CascadeHeadDetector` - offline fallback, OpenCV's bundled Haar face cascades (frontal + profile)
  expanded to head boxes.  Frontal/profile faces only, misses people seen from behind: a *fallback*.

Known head boxes from a file (``--heads FILE``) are :class:`gazecam.records.FileHeads`.

All boxes are pixels of the frame (``xyxy``), clipped to it, with ``track_ids == -1`` unless the file gives
ids.  ultralytics is imported lazily with ``YOLO_OFFLINE=1`` and ``YOLO_AUTOINSTALL=0``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import GazecamError, InputError
from .types import Frame, HeadBoxes
from .zoo import RemoteFile

if TYPE_CHECKING:  # pragma: no cover
    from .hub import ModelCache

__all__ = [
    "HeadDetector",
    "YoloHeadDetector",
    "PoseHeadDetector",
    "CascadeHeadDetector",
    "make_detector",
    "heads_from_keypoints",
    "expand_faces_to_heads",
    "pose_weights",
    "FALLBACK_WARNING",
]

log = logging.getLogger(__name__)

POSE_WEIGHTS_FILE = "yolo11n-pose.pt"
POSE_WEIGHTS_URL = "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n-pose.pt"


def pose_weights() -> RemoteFile:
    """The pose model file, fetched through gazecam's model cache (mirror, SHA-256, offline error)."""
    return RemoteFile(POSE_WEIGHTS_FILE, POSE_WEIGHTS_URL, "detector")


FALLBACK_WARNING = ("head detector: using the OpenCV face-cascade FALLBACK (frontal/profile faces only; "
                    "people seen from behind or small faces are missed). For better heads use "
                    "detector='pose' (needs yolo11n-pose.pt in the model cache) or a YOLO head model file.")

# COCO keypoint ids of the ultralytics pose models.
NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER = 0, 1, 2, 3, 4, 5, 6
FACE_KPTS = (NOSE, L_EYE, R_EYE, L_EAR, R_EAR)


@runtime_checkable
class HeadDetector(Protocol):
    """What the pipeline needs from a head detector."""

    name: str
    is_fallback: bool

    def detect(self, frame: Frame) -> HeadBoxes:
        """Head boxes of ``frame`` in pixels, clipped to the frame, ``track_ids`` -1 (or ids from a file)."""
        ...


# -- helpers ----------------------------------------------------------------------------------------
def _ultralytics_yolo() -> Any:
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never phone home
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")  # never pip-install behind the user's back
    try:
        from ultralytics import YOLO
    except ImportError as e:  # pragma: no cover - ultralytics is a dependency
        raise GazecamError(f"ultralytics is needed for YOLO head detection but cannot be imported: {e}") from e
    return YOLO


def ultralytics_device(device: str | None) -> str | None:
    """gazecam/torch device name -> ultralytics device string ("cuda" -> "0", "cuda:1" -> "1")."""
    if device in (None, "", "auto"):
        return None
    if device == "cuda":
        return "0"
    if device.startswith("cuda:"):
        return device.split(":", 1)[1]
    return device


def _load_yolo(weights: str | Path, what: str) -> Any:
    path = Path(weights)
    if not path.is_file():
        raise InputError(f"{what}: model file {path} does not exist (expected a YOLO .pt or .onnx file)")
    if path.suffix.lower() not in (".pt", ".onnx"):
        raise InputError(f"{what}: {path} is not a YOLO model file (expected .pt or .onnx, got {path.suffix or 'no suffix'!r})")
    YOLO = _ultralytics_yolo()
    try:
        return YOLO(str(path), task=None if path.suffix.lower() == ".pt" else "detect")
    except Exception as e:  # noqa: BLE001 - ultralytics raises many kinds; report one line
        raise InputError(f"{what}: cannot load {path} as a YOLO model ({type(e).__name__}: {e})") from e


def _boxes(xyxy: np.ndarray, conf: np.ndarray, image_size: tuple[int, int]) -> HeadBoxes:
    return HeadBoxes(xyxy=np.asarray(xyxy, np.float32).reshape(-1, 4), image_size=image_size,
                     confidence=np.asarray(conf, np.float32).reshape(-1)).clipped()


# -- pose keypoints -> head boxes (pure) --------------------------------------------------------------
def heads_from_keypoints(keypoints: np.ndarray, *, min_conf: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Head boxes from COCO pose keypoints.

    ``keypoints``: (N, 17, 3) pixel ``(x, y, confidence)`` per person (or (N, 17, 2): all visible).
    Keypoints with confidence < ``min_conf`` are ignored.  Returns ``(xyxy (M, 4) float32, index (M,))``:
    boxes (not clipped) and the person each came from; persons without usable keypoints get no box.

    Geometry: the box is a square centred on the mean of the visible face keypoints (nudged up by 5 % of
    its side, the eyes sit a little above the head's middle).  Its side is the largest of
      * 1.15 x the ear-to-ear distance (both ears visible),
      * 1.8 x the span of the visible face keypoints (at least two of them),
      * 0.5 x the shoulder width (both shoulders visible: keeps far/side views from shrinking).
    With no face keypoint but both shoulders (seen from behind), the box sits above the shoulders: side
    0.5 x shoulder width, bottom edge 0.15 x shoulder width above the shoulder line.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[1] < 7 or kp.shape[2] not in (2, 3):
        raise ValueError(f"keypoints: expected (N, 17, 3) COCO keypoints, got shape {kp.shape}")
    if kp.shape[2] == 2:
        kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,), np.float32)], axis=2)
    xy, vis = kp[..., :2], (kp[..., 2] >= min_conf) & np.isfinite(kp[..., :2]).all(axis=2)  # (N,17,2), (N,17)
    out, idx = [], []
    for i in range(len(kp)):
        face = [k for k in FACE_KPTS if vis[i, k]]
        shoulders = vis[i, L_SHOULDER] and vis[i, R_SHOULDER]
        sw = float(np.linalg.norm(xy[i, L_SHOULDER] - xy[i, R_SHOULDER])) if shoulders else 0.0
        sizes = []
        if vis[i, L_EAR] and vis[i, R_EAR]:
            sizes.append(1.15 * float(np.linalg.norm(xy[i, L_EAR] - xy[i, R_EAR])))
        if len(face) >= 2:
            pts = xy[i, face]  # (K, 2)
            sizes.append(1.8 * float((pts.max(axis=0) - pts.min(axis=0)).max()))
        if sw > 0:
            sizes.append(0.5 * sw)
        side = max(sizes, default=0.0)
        if face and side > 0:
            cx, cy = xy[i, face].mean(axis=0)
            cy -= 0.05 * side
        elif shoulders and sw > 0:
            side = 0.5 * sw
            mid = (xy[i, L_SHOULDER] + xy[i, R_SHOULDER]) / 2
            cx, cy = float(mid[0]), float(mid[1]) - 0.15 * sw - side / 2
        else:
            continue
        out.append((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
        idx.append(i)
    return np.asarray(out, np.float32).reshape(-1, 4), np.asarray(idx, np.int64)


# -- YOLO head model --------------------------------------------------------------------------------
class YoloHeadDetector:
    """A YOLO detection model trained for heads (``.pt`` or ``.onnx``); one class is the head class."""

    is_fallback = False

    def __init__(self, *, weights: str | Path, class_name_or_id: str | int | None = None, conf: float = 0.25,
                 device: str | None = None, imgsz: int = 640) -> None:
        self.model = _load_yolo(weights, "weights")
        self.weights = Path(weights)
        self.conf = float(conf)
        self.device = ultralytics_device(device)
        self.imgsz = int(imgsz)
        self.class_id = self._resolve_class(class_name_or_id)
        self.name = f"yolo:{self.weights.name}[{self.model.names.get(self.class_id, self.class_id)}]"

    @property
    def task(self) -> str:
        return str(getattr(self.model, "task", "detect"))

    def _resolve_class(self, want: str | int | None) -> int:
        names: dict[int, str] = dict(getattr(self.model, "names", None) or {})
        items = sorted(names.items())
        listing = ", ".join(f"{k}={v}" for k, v in items[:12]) + (f", ... ({len(items)} in all)" if len(items) > 12 else "")
        listing = listing or "(none listed)"
        if isinstance(want, str) and want.strip().lstrip("-").isdigit():
            want = int(want)
        if want is None:
            if len(names) == 1:
                return next(iter(names))
            heads = [k for k, v in names.items() if str(v).lower() == "head"]
            if heads:
                return heads[0]
            raise InputError(f"{self.weights}: which class is the head? The model has {len(names)} classes "
                             f"({listing}); pass class_name_or_id=NAME or ID")
        if isinstance(want, int):
            if names and want not in names:
                raise InputError(f"class_name_or_id={want}: {self.weights} has classes {listing}")
            return want
        matches = [k for k, v in names.items() if str(v).lower() == want.lower()]
        if not matches:
            raise InputError(f"class_name_or_id={want!r}: no such class in {self.weights}; classes: {listing}")
        return matches[0]

    def detect(self, frame: Frame) -> HeadBoxes:
        size = (frame.height, frame.width)
        bgr = np.ascontiguousarray(frame.image[..., ::-1])  # ultralytics takes numpy images as BGR
        r = self.model.predict(bgr, conf=self.conf, classes=[self.class_id], device=self.device,
                               imgsz=self.imgsz, verbose=False)[0]
        if r.boxes is None or len(r.boxes) == 0:
            return HeadBoxes.empty(size)
        return _boxes(r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy(), size)


# -- pose model -------------------------------------------------------------------------------------
class PoseHeadDetector:
    """Heads from an ultralytics pose model's face keypoints (see :func:`heads_from_keypoints`)."""

    is_fallback = False

    def __init__(self, *, weights: str | Path | None = None, conf: float = 0.25, kpt_conf: float = 0.5,
                 device: str | None = None, imgsz: int = 640, cache: "ModelCache | None" = None) -> None:
        if weights is None:
            weights = fetch_pose_weights(cache=cache)
        self.model = _load_yolo(weights, "pose detector")
        if getattr(self.model, "task", "pose") != "pose":
            raise InputError(f"{weights} is a {self.model.task!r} model, not a pose model (expected e.g. yolo11n-pose.pt)")
        self.weights = Path(weights)
        self.conf = float(conf)
        self.kpt_conf = float(kpt_conf)
        self.device = ultralytics_device(device)
        self.imgsz = int(imgsz)
        self.name = f"pose:{self.weights.name}"

    def detect(self, frame: Frame) -> HeadBoxes:
        size = (frame.height, frame.width)
        bgr = np.ascontiguousarray(frame.image[..., ::-1])
        r = self.model.predict(bgr, conf=self.conf, classes=[0], device=self.device, imgsz=self.imgsz,
                               verbose=False)[0]
        if r.keypoints is None or r.boxes is None or len(r.boxes) == 0:
            return HeadBoxes.empty(size)
        kp = r.keypoints.data.cpu().numpy()  # (N, 17, 3) x, y, conf (pixels)
        xyxy, idx = heads_from_keypoints(kp, min_conf=self.kpt_conf)
        conf = r.boxes.conf.cpu().numpy()[idx]
        return _boxes(xyxy, conf, size)


def fetch_pose_weights(*, cache: "ModelCache | None" = None, download: bool = True) -> Path:
    """Local path of ``yolo11n-pose.pt`` from gazecam's cache (downloaded if missing and ``download``).

    Raises :class:`gazecam.hub.OfflineError` (a :class:`GazecamError`) naming where to put the file.
    """
    from .hub import ModelCache, OfflineError

    cache = cache or ModelCache()
    file = pose_weights()
    if not download and not cache.is_cached(file):
        raise OfflineError(f"{file.filename} is not in the model cache ({cache.path(file)})")
    return cache.fetch([file])[0]


# -- OpenCV Haar cascades (offline fallback) --------------------------------------------------------
def expand_faces_to_heads(faces_xywh: np.ndarray) -> np.ndarray:
    """(N, 4) face boxes ``(x, y, w, h)`` (Haar: brows to mouth) -> (N, 4) head boxes ``xyxy``.

    The head is 1.6 x the face width and 1.8 x its height, centred 0.15 x the face height higher.
    """
    f = np.asarray(faces_xywh, np.float32).reshape(-1, 4)
    cx, cy = f[:, 0] + f[:, 2] / 2, f[:, 1] + f[:, 3] / 2 - 0.15 * f[:, 3]
    hw, hh = 0.8 * f[:, 2], 0.9 * f[:, 3]
    return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)


def _nms(xyxy: np.ndarray, score: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (also drops boxes mostly inside a kept one)."""
    order = np.argsort(-score, kind="stable")
    keep: list[int] = []
    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    for i in order:
        if keep:
            k = np.asarray(keep)
            ix = np.clip(np.minimum(xyxy[k, 2], xyxy[i, 2]) - np.maximum(xyxy[k, 0], xyxy[i, 0]), 0, None)
            iy = np.clip(np.minimum(xyxy[k, 3], xyxy[i, 3]) - np.maximum(xyxy[k, 1], xyxy[i, 1]), 0, None)
            inter = ix * iy
            union = area[k] + area[i] - inter
            if np.any(inter / np.maximum(union, 1e-6) > iou) or np.any(inter / max(area[i], 1e-6) > 0.7):
                continue
        keep.append(int(i))
    return np.asarray(keep, np.int64)


class CascadeHeadDetector:
    """Offline fallback: OpenCV's Haar frontal + profile face cascades, faces expanded to head boxes.

    Large frames are searched at ``max_side`` pixels (longest side) for speed.  ``scale_factor`` 1.25
    (image pyramid step) instead of OpenCV's usual 1.1-1.15: on the 80 frames of ``assets/sample.mp4`` it
    finds both people in every frame, like 1.15, with fewer false positives, in ~0.58x the CPU time
    (127 vs 220 ms per 640x360 frame, one thread); the smallest face found is unchanged.
    """

    is_fallback = True
    name = "face-cascade (fallback)"

    def __init__(self, *, min_face: int = 20, max_side: int = 480, min_neighbors: int = 5,
                 scale_factor: float = 1.25) -> None:
        import cv2

        root = getattr(getattr(cv2, "data", None), "haarcascades", None)
        if not root:
            raise GazecamError(
                f"the offline head-detector fallback needs OpenCV's bundled Haar cascades, but this OpenCV "
                f"({cv2.__version__}) has none (cv2.data.haarcascades is missing; OpenCV 5 dropped them). "
                "Install opencv-python<5, or use detector='pose', a YOLO head model or known head boxes (heads_path=FILE).")
        self._cascades = []
        for name in ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml"):
            path = Path(root) / name
            cc = cv2.CascadeClassifier(str(path)) if path.is_file() else None
            if cc is None or cc.empty():
                raise GazecamError(f"OpenCV cascade {path} is missing or unreadable (OpenCV {cv2.__version__}); "
                                   "use detector='pose', a YOLO head model or known head boxes (heads_path=FILE)")
            self._cascades.append(cc)
        self.min_face = int(min_face)
        self.max_side = int(max_side)
        self.min_neighbors = int(min_neighbors)
        self.scale_factor = float(scale_factor)
        log.warning(FALLBACK_WARNING)

    def detect(self, frame: Frame) -> HeadBoxes:
        import cv2

        size = (frame.height, frame.width)
        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.max_side / max(size))
        if scale < 1.0:
            gray = cv2.resize(gray, (max(1, round(size[1] * scale)), max(1, round(size[0] * scale))),
                              interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        min_size = (max(8, round(self.min_face * scale)),) * 2
        found: list[np.ndarray] = []
        frontal, profile = self._cascades
        kw = dict(scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=min_size)
        found.append(np.asarray(frontal.detectMultiScale(gray, **kw), np.float32).reshape(-1, 4))
        found.append(np.asarray(profile.detectMultiScale(gray, **kw), np.float32).reshape(-1, 4))  # facing right
        flipped = np.asarray(profile.detectMultiScale(cv2.flip(gray, 1), **kw), np.float32).reshape(-1, 4)
        if len(flipped):
            flipped[:, 0] = gray.shape[1] - flipped[:, 0] - flipped[:, 2]  # mirror back: facing left
        found.append(flipped)
        faces = np.concatenate(found) / scale  # (N, 4) xywh in frame pixels
        if len(faces) == 0:
            return HeadBoxes.empty(size)
        heads = expand_faces_to_heads(faces)
        score = faces[:, 2] * faces[:, 3]  # bigger faces first; frontal listed first wins ties
        keep = _nms(heads, score, iou=0.3)
        return _boxes(heads[keep], np.ones(len(keep), np.float32), size)


# -- factory ----------------------------------------------------------------------------------------
def make_detector(spec: str, *, device: str | None = None, class_name_or_id: str | int | None = None,
                  conf: float = 0.25, cache: "ModelCache | None" = None,
                  notify: Callable[[str], None] | None = None) -> HeadDetector:
    """The detector for ``--detector PATH|pose|face|auto``.

    ``auto``: the pose model if its weights are in the cache or can be downloaded, else the Haar fallback
    (one line through ``notify``/the log says why).  ``notify`` receives user-facing notes.
    """
    from .hub import OfflineError
    from .weights import WeightsError

    say = notify or log.warning
    spec = (spec or "auto").strip()
    low = spec.lower()
    if low == "face":
        return CascadeHeadDetector()
    if low in ("pose", "auto"):
        try:
            weights = fetch_pose_weights(cache=cache)
        except (OfflineError, WeightsError) as e:
            if low == "pose":
                raise GazecamError(f"detector='pose': {e}") from e
            from .hub import ModelCache

            reason = next((ln.split(": ", 1)[1] for ln in str(e).splitlines() if ln.strip().startswith("from ")
                           and ": " in ln), str(e).splitlines()[0])
            where = (cache or ModelCache()).path(pose_weights())
            say(f"detector='auto': the pose model {POSE_WEIGHTS_FILE} is not cached and could not be downloaded "
                f"({reason}); using the offline face-cascade fallback. Put the file at {where} "
                "(or set GAZECAM_MIRROR) for the better pose detector.")
            return CascadeHeadDetector()
        return PoseHeadDetector(weights=weights, conf=conf, device=device)
    path = Path(spec)
    if not path.exists():
        raise InputError(f"detector={spec!r}: expected pose, face, auto or a YOLO model file (.pt/.onnx); "
                         f"{path} does not exist")
    if getattr(_load_yolo(path, "detector"), "task", "detect") == "pose":
        return PoseHeadDetector(weights=path, conf=conf, device=device)  # heads from its keypoints
    return YoloHeadDetector(weights=path, class_name_or_id=class_name_or_id, conf=conf, device=device)
