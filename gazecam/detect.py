"""Head detection: every detector turns a :class:`~gazecam.types.Frame` into :class:`~gazecam.types.HeadBoxes`.

Detectors (chosen with ``--detector PATH|pose|offline|face|auto`` via :func:`make_detector`):

* :class:`YoloHeadDetector` - a user's YOLO model trained for heads (``.pt`` or ``.onnx``), best quality.
* :class:`PoseHeadDetector` - an ultralytics pose model; the head box comes from the face keypoints
  (nose, eyes, ears) with the shoulders for scale, so people seen from the side or back get a box too.
  Its weights (``yolo11n-pose.pt``) go through gazecam's model cache (mirror, SHA-256, offline errors,
  checked on download by :func:`validate_pose_file`), never through ultralytics' own downloader.
* :class:`~gazecam.detect_offline.OfflineHeadDetector` - offline fallback, nothing to download: OpenCV's
  HOG pedestrian detector (head estimated from the top of the body box) + Haar face cascades.
* :class:`~gazecam.detect_faces.CascadeHeadDetector` - the Haar face cascades alone (close-up faces).

Known head boxes from a file (``--heads FILE``) are :class:`gazecam.records.FileHeads`.

All boxes are pixels of the frame (``xyxy``), clipped to it, with ``track_ids == -1`` unless the file gives
ids.  ultralytics is imported lazily through :mod:`gazecam.ultra`: offline, no auto-install, and YOLO
``.pt`` files are read only with its restricted (``weights_only``) loader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from .detect_faces import CASCADE_WARNING, CascadeHeadDetector, expand_faces_to_heads
from .detect_offline import OFFLINE_WARNING, OfflineHeadDetector
from .errors import GazecamError, InputError, one_line
from .types import Frame, HeadBoxes
from .ultra import load_yolo, ultralytics_device
from .weights import WeightsError
from .zoo import RemoteFile

if TYPE_CHECKING:  # pragma: no cover
    from .hub import ModelCache

__all__ = [
    "HeadDetector",
    "YoloHeadDetector",
    "PoseHeadDetector",
    "OfflineHeadDetector",
    "CascadeHeadDetector",
    "make_detector",
    "heads_from_keypoints",
    "expand_faces_to_heads",
    "pose_weights",
    "fetch_pose_weights",
    "validate_pose_file",
    "ultralytics_device",
    "DETECTOR_NAMES",
    "DETECTOR_ALIASES",
    "FALLBACK_WARNING",
    "CASCADE_WARNING",
]

log = logging.getLogger(__name__)

POSE_WEIGHTS_FILE = "yolo11n-pose.pt"
POSE_WEIGHTS_URL = "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n-pose.pt"

# the names make_detector() takes besides a model file (``face`` and ``hog`` are kept as they were/aliases)
DETECTOR_NAMES = ("auto", "pose", "offline", "face")
DETECTOR_ALIASES = ("hog",)  # = offline


def pose_weights() -> RemoteFile:
    """The pose model file, fetched through gazecam's model cache (mirror, SHA-256, offline error)."""
    return RemoteFile(POSE_WEIGHTS_FILE, POSE_WEIGHTS_URL, "detector")


FALLBACK_WARNING = OFFLINE_WARNING  # what `auto` falls back to; CASCADE_WARNING for the face cascade alone

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
        self.model = load_yolo(weights, what="weights")
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
        return HeadBoxes.detected(r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy(), size)


# -- pose model -------------------------------------------------------------------------------------
class PoseHeadDetector:
    """Heads from an ultralytics pose model's face keypoints (see :func:`heads_from_keypoints`)."""

    is_fallback = False

    def __init__(self, *, weights: str | Path | None = None, conf: float = 0.25, kpt_conf: float = 0.5,
                 device: str | None = None, imgsz: int = 640, cache: "ModelCache | None" = None) -> None:
        if weights is None:
            weights = fetch_pose_weights(cache=cache)
        self.model = load_yolo(weights, what="pose detector")
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
        return HeadBoxes.detected(xyxy, conf, size)


_POSE_ORIGINAL = f"the original {POSE_WEIGHTS_FILE} ({POSE_WEIGHTS_URL})"


def validate_pose_file(file: RemoteFile | None, path: Path) -> None:
    """Check a pose model file before use: restricted load, then a pose network with 17 COCO keypoints.

    Raises :class:`~gazecam.weights.WeightsError` (the reason, the path, and to delete or replace it).
    ``file`` is the cache entry (unused; the signature is what :meth:`ModelCache.fetch` passes).
    """
    import torch

    from .ultra import load_yolo_checkpoint

    try:
        ckpt = load_yolo_checkpoint(path, what="pose model", replacement=_POSE_ORIGINAL)
    except InputError as e:
        raise WeightsError(str(e)) from e
    model = ckpt.get("ema") or ckpt.get("model")
    problem = ""
    if not isinstance(model, torch.nn.Module):
        problem = f"it holds no network (model is {type(model).__name__})"
    else:
        kpt = getattr(model, "kpt_shape", None) or (getattr(model, "yaml", None) or {}).get("kpt_shape")
        task = getattr(model, "task", None) or (getattr(model, "yaml", None) or {}).get("task")
        if kpt is None or [int(v) for v in kpt] != [17, 3]:
            problem = f"it is not a COCO-keypoint pose model (keypoint shape {kpt}, task {task!r}; expected (17, 3))"
        elif not any(p.numel() for p in model.parameters()):
            problem = "its network has no weights"
    if problem:
        raise WeightsError(f"pose model: refused to load {path}: {problem}. Delete it, or replace it with "
                           f"{_POSE_ORIGINAL}")


def fetch_pose_weights(*, cache: "ModelCache | None" = None, download: bool = True) -> Path:
    """Local path of ``yolo11n-pose.pt`` from gazecam's cache (downloaded if missing and ``download``).

    A downloaded or hand-placed file is checked by :func:`validate_pose_file` and its SHA-256 recorded;
    later loads re-check the SHA-256.  Raises :class:`gazecam.hub.OfflineError` naming where to put the
    file, :class:`~gazecam.weights.WeightsError` (incl. ``ChecksumError``) for a bad file.
    """
    from .hub import ModelCache, OfflineError

    cache = cache or ModelCache()
    file = pose_weights()
    if not download and not cache.is_cached(file):
        raise OfflineError(f"{file.filename} is not in the model cache ({cache.path(file)})")
    return cache.fetch([file], validate=validate_pose_file)[0]


# -- factory ----------------------------------------------------------------------------------------
def make_detector(spec: str, *, device: str | None = None, class_name_or_id: str | int | None = None,
                  conf: float = 0.25, cache: "ModelCache | None" = None,
                  notify: Callable[[str], None] | None = None) -> HeadDetector:
    """The detector for ``spec``: ``auto``, ``pose``, ``offline`` (alias ``hog``), ``face`` or a model file.

    ``auto``: the pose model if its weights are in the cache (and valid) or can be downloaded, else the
    offline detector; one line through ``notify`` (default: the log) says why.  A pose file that fails its
    checks is never loaded.  ``notify`` receives user-facing notes.
    """
    say = notify or log.warning
    spec = (spec or "auto").strip()
    low = spec.lower()
    if low == "face":
        return CascadeHeadDetector()
    if low in ("offline", "hog"):
        return OfflineHeadDetector()
    if low in ("pose", "auto"):
        try:
            weights = fetch_pose_weights(cache=cache)
            return PoseHeadDetector(weights=weights, conf=conf, device=device)
        except (WeightsError, InputError) as e:  # OfflineError and ChecksumError are WeightsErrors
            if low == "pose":
                raise GazecamError(f"detector='pose': {one_line(e)}") from e
            say(f"detector='auto': {_why_no_pose(e, cache)}; using the offline detector (OpenCV pedestrians + "
                "faces: whole bodies in view and clear faces only) instead")
            return OfflineHeadDetector(warn=False)
    path = Path(spec)
    if not path.exists():
        raise InputError(f"detector={spec!r}: expected {', '.join(DETECTOR_NAMES)} or a YOLO model file "
                         f"(.pt/.onnx); {path} does not exist")
    if getattr(load_yolo(path, what="detector"), "task", "detect") == "pose":
        return PoseHeadDetector(weights=path, conf=conf, device=device)  # heads from its keypoints
    return YoloHeadDetector(weights=path, class_name_or_id=class_name_or_id, conf=conf, device=device)


def _why_no_pose(e: BaseException, cache: "ModelCache | None") -> str:
    """One line: why the pose model cannot be used (missing offline, or a bad file and what to do)."""
    from .hub import ModelCache, OfflineError

    where = (cache or ModelCache()).path(pose_weights())
    if isinstance(e, OfflineError):
        reason = next((ln.split(": ", 1)[1] for ln in str(e).splitlines() if ln.strip().startswith("from ")
                       and ": " in ln), str(e).splitlines()[0])
        return (f"the pose model {POSE_WEIGHTS_FILE} is not cached and could not be downloaded ({reason}). Put "
                f"the file at {where} (or set GAZECAM_MIRROR) for the better pose detector")
    return one_line(e)
