"""Readers for GazeFollow, VideoAttentionTarget and gazecam's JSONL format.

Layouts read (``root`` = the dataset folder):

- GazeFollow published (``gazefollow_extended`` / ``data_new``): ``{train,test}_annotations_release.txt``,
  CSV lines ``path, id, body_x, body_y, body_w, body_h, eye_x, eye_y, gaze_x, gaze_y, head_xmin, head_ymin,
  head_xmax, head_ymax, [inout,] source, meta`` (train has the ``inout`` column, test does not); eye and gaze
  normalised, head box in pixels.  As the official preprocessing: train rows with ``inout == -1`` are dropped
  and each row is one head; test rows are grouped per (image, eye_x) into one head with several annotator
  points; inverted boxes are swapped and boxes clamped to the image.
- VideoAttentionTarget published: ``annotations/<split>/<show>/<clip>/<person>.txt`` with lines
  ``frame, xmin, ymin, xmax, ymax, gaze_x, gaze_y`` in pixels (``-1 -1`` = gaze out of frame), images in
  ``images/<show>/<clip>/<frame>``.  As the official preprocessing: head boxes are smoothed over each track
  with an 11-frame moving average (``smooth_boxes``), a gaze with one negative coordinate is moved to 0, and
  ``inout = gaze_x >= 0 and gaze_y >= 0``.
- The ``{train,test}_preprocessed.json`` files of the official ``data_prep`` scripts (both datasets).
- JSONL (one head per line, see docs/research.md).

Malformed input raises :class:`DatasetError` naming the file and line.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ...errors import InputError

__all__ = [
    "DatasetError",
    "HeadAnnotation",
    "ImageAnnotation",
    "GazeDataset",
    "DatasetKind",
    "read_gazefollow_annotations",
    "read_gazefollow_preprocessed",
    "read_vat_annotations",
    "read_vat_preprocessed",
    "read_jsonl",
    "load_dataset",
    "load_rgb",
    "image_size",
]

DatasetKind = Literal["gazefollow", "vat", "jsonl"]
Layout = Literal["auto", "published", "preprocessed"]
VAT_SMOOTH_WINDOW = 11
_GF_COLUMNS = ("path", "id", "body_bbox_x", "body_bbox_y", "body_bbox_w", "body_bbox_h", "eye_x", "eye_y",
               "gaze_x", "gaze_y", "bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max")
_VAT_COLUMNS = ("frame", "xmin", "ymin", "xmax", "ymax", "gaze_x", "gaze_y")


class DatasetError(InputError):
    """An annotation file is missing or malformed (the message names the file and line)."""


@dataclass(frozen=True)
class HeadAnnotation:
    """One annotated head.  Exactly one of ``head_xyxy_norm`` / ``head_xyxy`` (pixels) is set."""

    gaze_x_norm: tuple[float, ...]  # one value per annotator; negative = missing / out of frame
    gaze_y_norm: tuple[float, ...]
    inout: int  # 1 = gaze target in frame, 0 = out of frame
    head_xyxy_norm: tuple[float, float, float, float] | None = None
    head_xyxy: tuple[float, float, float, float] | None = None  # pixels of the image
    where: str = ""  # "file:line" of the annotation

    def __post_init__(self) -> None:
        if (self.head_xyxy_norm is None) == (self.head_xyxy is None):
            raise ValueError("HeadAnnotation: give exactly one of head_xyxy_norm / head_xyxy")
        if len(self.gaze_x_norm) != len(self.gaze_y_norm) or not self.gaze_x_norm:
            raise ValueError(f"HeadAnnotation ({self.where}): need matching non-empty gaze lists")

    def box_norm(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Normalised (xmin, ymin, xmax, ymax): pixel boxes are swapped if inverted, clamped, divided."""
        if self.head_xyxy_norm is not None:
            return self.head_xyxy_norm
        xmin, ymin, xmax, ymax = self.head_xyxy  # type: ignore[misc]
        xmin, xmax = min(xmin, xmax), max(xmin, xmax)
        ymin, ymax = min(ymin, ymax), max(ymin, ymax)
        xmin, ymin = max(xmin, 0), max(ymin, 0)
        xmax, ymax = min(xmax, width), min(ymax, height)
        return (xmin / float(width), ymin / float(height), xmax / float(width), ymax / float(height))

    @property
    def gaze_point_norm(self) -> tuple[float, float] | None:
        """The first valid annotator point (for training), or None when out of frame."""
        if self.inout != 1:
            return None
        return next(((x, y) for x, y in zip(self.gaze_x_norm, self.gaze_y_norm) if x >= 0 and y >= 0), None)


@dataclass(frozen=True)
class ImageAnnotation:
    path: Path  # image file
    heads: tuple[HeadAnnotation, ...]
    where: str = ""


@dataclass(frozen=True)
class GazeDataset:
    kind: DatasetKind  # decides the metrics: gazefollow -> AUC/avg/min L2; vat and jsonl -> AUC/L2/AP
    images: tuple[ImageAnnotation, ...]
    source: Path  # annotation file or folder read

    @property
    def num_heads(self) -> int:
        return sum(len(im.heads) for im in self.images)

    def limit(self, n: int | None) -> "GazeDataset":
        return self if n is None else GazeDataset(kind=self.kind, images=self.images[: max(0, n)], source=self.source)

    def subset(self, indices: Sequence[int]) -> "GazeDataset":
        return GazeDataset(kind=self.kind, images=tuple(self.images[i] for i in indices), source=self.source)

    def check_images(self) -> None:
        """Raise :class:`DatasetError` naming the annotation file and line of the first image that is missing."""
        missing = [im for im in self.images if not im.path.is_file()]
        if not missing:
            return
        first = missing[0]
        more = f"; {len(missing) - 1} more of the {len(self.images)} images are missing too" if len(missing) > 1 else ""
        what = "is a folder, not an image" if first.path.is_dir() else "not found"
        raise DatasetError(f"{first.where or self.source}: image {first.path} {what}{more}; check the dataset "
                           "folder (images are looked up relative to it)")


# -- helpers ----------------------------------------------------------------------------------
def load_rgb(path: Path) -> np.ndarray:
    """H x W x 3 uint8 RGB array of an image file (``PIL ... .convert('RGB')``, as the official code)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise DatasetError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DatasetError(f"cannot read image {path}: {e}") from e


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise DatasetError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DatasetError(f"cannot read image {path}: {e}") from e


def _float(value: str, *, where: str, column: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise DatasetError(f"{where}: column {column!r} should be a number, got {value.strip()!r}") from None
    if not math.isfinite(v):
        raise DatasetError(f"{where}: column {column!r} is not finite ({value.strip()!r})")
    return v


def _read_text(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"annotation file not found: {path}")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read annotation file {path}: {e}") from e


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(1-based line number, fields) of the non-blank lines."""
    return [(i, row) for i, row in enumerate(csv.reader(_read_text(path)), start=1) if row and any(c.strip() for c in row)]


# -- GazeFollow published ---------------------------------------------------------------------
def read_gazefollow_annotations(path: str | Path, *, root: str | Path | None = None,
                                has_inout: bool | None = None) -> GazeDataset:
    """``train_annotations_release.txt`` (``has_inout``) or ``test_annotations_release.txt``.

    ``has_inout`` defaults to whether the file name starts with ``train``.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    if has_inout is None:
        has_inout = path.name.startswith("train")
    needed = len(_GF_COLUMNS) + (1 if has_inout else 0)
    names = _GF_COLUMNS + (("inout",) if has_inout else ())
    # image path -> (group key -> list of parsed rows); dicts keep first-seen order, sorted below
    images: dict[str, dict[object, list[tuple[str, tuple[float, ...], int]]]] = {}
    for lineno, row in _csv_rows(path):
        where = f"{path}:{lineno}"
        if len(row) < needed:
            raise DatasetError(f"{where}: expected at least {needed} comma-separated columns "
                               f"({', '.join(names)}, ...), got {len(row)}")
        img = row[0].strip()
        if not img:
            raise DatasetError(f"{where}: empty image path")
        vals = tuple(_float(row[i], where=where, column=names[i]) for i in range(2, needed))
        eye_x = vals[4]
        inout = int(vals[12]) if has_inout else 1
        if has_inout and inout == -1:
            continue  # unknown in/out label: dropped, as the official preprocessing
        if inout not in (0, 1):
            raise DatasetError(f"{where}: column 'inout' should be -1, 0 or 1, got {row[14].strip()!r}")
        groups = images.setdefault(img, {})
        key: object = len(groups) if has_inout else eye_x  # train: one head per row; test: per (image, eye_x)
        groups.setdefault(key, []).append((where, vals, inout))
    out = []
    for img in sorted(images):  # pandas groupby order: sorted keys
        groups = images[img]
        heads = []
        first = next(iter(groups.values()))[0][0]  # first line of this image
        for key in sorted(groups, key=float):  # type: ignore[arg-type]
            rows = groups[key]
            where0, v0, inout = rows[0]
            box = (v0[8], v0[9], v0[10], v0[11])
            for where, v, _ in rows[1:]:
                if (v[8], v[9], v[10], v[11]) != box:
                    raise DatasetError(f"{where}: head box {v[8:12]} differs from the box {box} given for the same "
                                       f"person (same image and eye_x) at {where0}")
            heads.append(HeadAnnotation(head_xyxy=box, gaze_x_norm=tuple(v[6] for _, v, _ in rows),
                                        gaze_y_norm=tuple(v[7] for _, v, _ in rows), inout=inout, where=where0))
        out.append(ImageAnnotation(path=root / img, heads=tuple(heads), where=first))
    return GazeDataset(kind="gazefollow", images=tuple(out), source=path)


# -- preprocessed JSON (official data_prep output) ----------------------------------------------
def _load_json(path: Path) -> object:
    if not path.is_file():
        raise DatasetError(f"annotation file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read {path}: {e}") from e


def _json_head(head: object, *, width: float | None, height: float | None, where: str) -> HeadAnnotation:
    if not isinstance(head, dict):
        raise DatasetError(f"{where}: expected a head object, got {type(head).__name__}")
    try:
        gx = [float(v) for v in head["gazex_norm"]]
        gy = [float(v) for v in head["gazey_norm"]]
        inout = int(head.get("inout", 1))
        if "bbox" in head and width and height:
            # recompute from pixels: the official GazeFollow train JSON has a typo in bbox_norm[3]
            xmin, ymin, xmax, ymax = (float(v) for v in head["bbox"])
            box = (xmin / float(width), ymin / float(height), xmax / float(width), ymax / float(height))
        else:
            box = tuple(float(v) for v in head["bbox_norm"])  # type: ignore[assignment]
    except KeyError as e:
        raise DatasetError(f"{where}: head is missing the key {e.args[0]!r}") from None
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{where}: malformed head entry: {e}") from None
    if len(box) != 4 or not gx or len(gx) != len(gy):
        raise DatasetError(f"{where}: expected a 4-value box and matching non-empty gaze lists")
    return HeadAnnotation(head_xyxy_norm=box, gaze_x_norm=tuple(gx), gaze_y_norm=tuple(gy),  # type: ignore[arg-type]
                          inout=1 if inout == 1 else 0, where=where)


def read_gazefollow_preprocessed(path: str | Path, *, root: str | Path | None = None) -> GazeDataset:
    """``{train,test}_preprocessed.json`` of ``data_prep/preprocess_gazefollow.py``."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    data = _load_json(path)
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list of frames, got {type(data).__name__}")
    out = []
    for i, frame in enumerate(data):
        where = f"{path}: frame {i}"
        if not isinstance(frame, dict) or "path" not in frame or "heads" not in frame:
            raise DatasetError(f"{where}: expected an object with 'path' and 'heads'"
                               + (" (this looks like a VideoAttentionTarget file)" if isinstance(frame, dict)
                                  and "frames" in frame else ""))
        heads = tuple(_json_head(h, width=frame.get("width"), height=frame.get("height"), where=f"{where} head {j}")
                      for j, h in enumerate(frame["heads"]))
        out.append(ImageAnnotation(path=root / str(frame["path"]), heads=heads, where=where))
    return GazeDataset(kind="gazefollow", images=tuple(out), source=path)


def read_vat_preprocessed(path: str | Path, *, root: str | Path | None = None, frame_step: int = 1) -> GazeDataset:
    """``{train,test}_preprocessed.json`` of ``data_prep/preprocess_vat.py`` (every ``frame_step``-th frame)."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    data = _load_json(path)
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list of sequences, got {type(data).__name__}")
    out = []
    for i, seq in enumerate(data):
        where = f"{path}: sequence {i}"
        if not isinstance(seq, dict) or "frames" not in seq:
            raise DatasetError(f"{where}: expected an object with 'frames'"
                               + (" (this looks like a GazeFollow file)" if isinstance(seq, dict) and "heads" in seq
                                  else ""))
        for j in range(0, len(seq["frames"]), frame_step):
            frame = seq["frames"][j]
            fw = f"{where} frame {j}"
            if not isinstance(frame, dict) or "path" not in frame or "heads" not in frame:
                raise DatasetError(f"{fw}: expected an object with 'path' and 'heads'")
            heads = tuple(_json_head(h, width=seq.get("width"), height=seq.get("height"), where=f"{fw} head {k}")
                          for k, h in enumerate(frame["heads"]))
            out.append(ImageAnnotation(path=root / str(frame["path"]), heads=heads, where=fw))
    return GazeDataset(kind="vat", images=tuple(out), source=path)


# -- VideoAttentionTarget published -------------------------------------------------------------
def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average with edge padding (the official ``smooth_by_conv``)."""
    pad = window // 2
    padded = np.concatenate([values[:1].repeat(pad), values, values[-1:].repeat(pad)])
    return np.convolve(padded, np.ones(window) / window, mode="valid")


def read_vat_annotations(root: str | Path, *, split: str = "test", smooth_boxes: bool = True,
                         frame_step: int = 1) -> GazeDataset:
    """``root/annotations/<split>/<show>/<clip>/<person>.txt`` with images in ``root/images/<show>/<clip>/``."""
    root = Path(root)
    ann_root = root / "annotations" / split
    if not ann_root.is_dir():
        raise DatasetError(f"VideoAttentionTarget annotations not found: {ann_root} (expected "
                           "annotations/<split>/<show>/<clip>/<person>.txt)")
    clips = sorted(p for p in ann_root.glob("*/*") if p.is_dir())
    if not clips:
        raise DatasetError(f"{ann_root}: no <show>/<clip> folders")
    out = []
    for clip in clips:
        rel = clip.relative_to(ann_root)
        img_dir = root / "images" / rel
        samples = sorted(p for p in img_dir.iterdir() if p.is_file()) if img_dir.is_dir() else []
        if not samples:
            raise DatasetError(f"no images for clip {rel}: expected frames in {img_dir}")
        width, height = image_size(samples[0])
        frames: dict[str, list[HeadAnnotation | None]] = {}
        people = sorted(clip.glob("*.txt"))
        for p_idx, person in enumerate(people):
            rows = _csv_rows(person)
            if not rows:
                continue
            parsed = []
            for lineno, row in rows:
                where = f"{person}:{lineno}"
                if len(row) != len(_VAT_COLUMNS):
                    raise DatasetError(f"{where}: expected {len(_VAT_COLUMNS)} comma-separated columns "
                                       f"({', '.join(_VAT_COLUMNS)}), got {len(row)}")
                name = row[0].strip()
                if not name:
                    raise DatasetError(f"{where}: empty frame name")
                parsed.append((where, name, [_float(row[i], where=where, column=_VAT_COLUMNS[i]) for i in range(1, 7)]))
            boxes = np.array([v[:4] for _, _, v in parsed], dtype=np.float64)  # (T, 4)
            if smooth_boxes:
                boxes = np.stack([_smooth(boxes[:, k], VAT_SMOOTH_WINDOW) for k in range(4)], axis=1)
            for (where, name, v), box in zip(parsed, boxes):
                gx, gy = v[4], v[5]
                if gx >= 0 and gy < 0:
                    gy = 0.0
                elif gy >= 0 and gx < 0:
                    gx = 0.0
                inout = int(gx >= 0 and gy >= 0)
                head = HeadAnnotation(
                    head_xyxy_norm=(float(box[0]) / float(width), float(box[1]) / float(height),
                                    float(box[2]) / float(width), float(box[3]) / float(height)),
                    gaze_x_norm=(gx / float(width),), gaze_y_norm=(gy / float(height),), inout=inout, where=where)
                slots = frames.setdefault(name, [None] * len(people))
                if slots[p_idx] is not None:
                    raise DatasetError(f"{where}: frame {name!r} is annotated twice for this person")
                slots[p_idx] = head
        names = sorted(frames)
        for name in names[::frame_step]:
            heads = tuple(h for h in frames[name] if h is not None)
            out.append(ImageAnnotation(path=img_dir / name, heads=heads, where=heads[0].where))
    return GazeDataset(kind="vat", images=tuple(out), source=ann_root)


# -- JSONL ---------------------------------------------------------------------------------------
def _box(value: object, *, where: str, key: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list) or len(value) != 4 or not all(isinstance(v, (int, float)) and
                                                                  not isinstance(v, bool) for v in value):
        raise DatasetError(f"{where}: {key!r} should be a list of 4 numbers [xmin, ymin, xmax, ymax], got {value!r}")
    box = tuple(float(v) for v in value)
    if not all(math.isfinite(v) for v in box):
        raise DatasetError(f"{where}: {key!r} has non-finite values {value!r}")
    if box[2] < box[0] or box[3] < box[1]:
        raise DatasetError(f"{where}: {key!r} is inverted {value!r}: need xmin <= xmax and ymin <= ymax")
    return box  # type: ignore[return-value]


def read_jsonl(path: str | Path) -> GazeDataset:
    """gazecam JSONL: one head per line (see docs/research.md); image paths relative to the file."""
    path = Path(path)
    images: dict[Path, list[HeadAnnotation]] = {}
    first_where: dict[Path, str] = {}
    for lineno, line in enumerate(_read_text(path), start=1):
        where = f"{path}:{lineno}"
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(rec, dict):
            raise DatasetError(f"{where}: expected a JSON object per line, got {type(rec).__name__}")
        img = rec.get("image")
        if not isinstance(img, str) or not img:
            raise DatasetError(f"{where}: missing 'image' (path of the image, relative to {path.parent})")
        has_norm, has_px = "head_xyxy_norm" in rec, "head_xyxy" in rec
        if has_norm == has_px:
            raise DatasetError(f"{where}: give exactly one of 'head_xyxy_norm' (normalised) or 'head_xyxy' (pixels)")
        box_norm = _box(rec["head_xyxy_norm"], where=where, key="head_xyxy_norm") if has_norm else None
        box_px = _box(rec["head_xyxy"], where=where, key="head_xyxy") if has_px else None
        if box_norm is not None and (min(box_norm) < 0 or max(box_norm) > 1):
            raise DatasetError(f"{where}: 'head_xyxy_norm' values must lie in [0, 1], got {list(box_norm)} "
                               "(use 'head_xyxy' for pixel boxes)")
        if "gaze_xy_norm" not in rec:
            raise DatasetError(f"{where}: missing 'gaze_xy_norm' ([x, y] in [0, 1], or null when out of frame)")
        gaze = rec["gaze_xy_norm"]
        if gaze is not None:
            if (not isinstance(gaze, list) or len(gaze) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in gaze)):
                raise DatasetError(f"{where}: 'gaze_xy_norm' should be [x, y] or null, got {gaze!r}")
            if not all(math.isfinite(v) and 0 <= v <= 1 for v in gaze):
                raise DatasetError(f"{where}: 'gaze_xy_norm' {gaze!r} must lie in [0, 1] (null = out of frame)")
        inout = rec.get("inout", 1 if gaze is not None else 0)
        if inout not in (0, 1) or isinstance(inout, bool):
            raise DatasetError(f"{where}: 'inout' should be 0 or 1, got {inout!r}")
        if inout == 1 and gaze is None:
            raise DatasetError(f"{where}: 'inout' is 1 but 'gaze_xy_norm' is null; give the gaze point")
        if inout == 0 and gaze is not None:
            raise DatasetError(f"{where}: 'inout' is 0 (out of frame) but 'gaze_xy_norm' is given; "
                               "use null or drop 'inout'")
        gx, gy = (float(gaze[0]), float(gaze[1])) if gaze is not None else (-1.0, -1.0)
        key = (path.parent / img)
        images.setdefault(key, []).append(HeadAnnotation(head_xyxy_norm=box_norm, head_xyxy=box_px,
                                                         gaze_x_norm=(gx,), gaze_y_norm=(gy,), inout=int(inout),
                                                         where=where))
        first_where.setdefault(key, where)
    if not images:
        raise DatasetError(f"{path}: no annotations (expected one JSON object per line)")
    return GazeDataset(kind="jsonl", images=tuple(ImageAnnotation(path=p, heads=tuple(h), where=first_where[p])
                                                  for p, h in images.items()), source=path)


# -- dispatch ------------------------------------------------------------------------------------
def load_dataset(kind: DatasetKind, data: str | Path, *, split: str = "test", layout: Layout = "auto",
                 frame_step: int = 1) -> GazeDataset:
    """Read ``split`` of a dataset folder (or a JSONL file) in whichever supported layout it has.

    ``auto`` prefers the official ``<split>_preprocessed.json`` (what the official evaluation reads),
    then the published annotation files.
    """
    data = Path(data).expanduser()
    if kind == "jsonl":
        path = data if data.is_file() else data / f"{split}.jsonl"
        if not path.is_file():
            raise DatasetError(f"JSONL annotations not found: {path} (give the .jsonl file or a folder "
                               f"holding {split}.jsonl)")
        return read_jsonl(path)
    if not data.is_dir():
        if data.is_file():
            raise DatasetError(f"the {kind} format reads a dataset folder, but {data} is a file"
                               + ("; a .jsonl file is read with the jsonl format" if data.suffix == ".jsonl" else ""))
        raise DatasetError(f"dataset folder not found: {data}")
    pre = data / f"{split}_preprocessed.json"
    if layout in ("auto", "preprocessed") and pre.is_file():
        if kind == "gazefollow":
            return read_gazefollow_preprocessed(pre, root=data)
        return read_vat_preprocessed(pre, root=data, frame_step=frame_step)
    if layout == "preprocessed":
        raise DatasetError(f"{pre} not found (run the official data_prep script, or use the published layout)")
    # a folder of gazecam JSONL read with another format: say so instead of listing files it does not hold
    jsonl_hint = (f"; {data} holds {split}.jsonl: read it with the jsonl format"
                  if (data / f"{split}.jsonl").is_file() else "")
    if kind == "gazefollow":
        txt = data / f"{split}_annotations_release.txt"
        if txt.is_file():
            return read_gazefollow_annotations(txt, root=data, has_inout=(split == "train"))
        raise DatasetError(f"no GazeFollow annotations for split {split!r} in {data}: expected "
                           f"{txt.name} (published layout) or {pre.name} (official data_prep output)" + jsonl_hint)
    if kind == "vat":
        if (data / "annotations" / split).is_dir():
            return read_vat_annotations(data, split=split, frame_step=frame_step)
        raise DatasetError(f"no VideoAttentionTarget annotations for split {split!r} in {data}: expected "
                           f"annotations/{split}/<show>/<clip>/*.txt or {pre.name}" + jsonl_hint)
    raise ValueError(f"unknown dataset kind {kind!r}; expected gazefollow, vat or jsonl")
