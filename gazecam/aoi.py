"""Areas of interest (AOIs): a validated AOI file and a vectorised gaze-point labeller.

AOI file (JSON)::

    {"aois": [{"name": "screen", "xyxy_norm": [x0, y0, x1, y1]},
              {"name": "door", "polygon_norm": [[x, y], ...], "start_s": 2.0, "end_s": 9.5},
              {"name": "toy", "xyxy": [x0, y0, x1, y1]},            # pixels of the frame
              {"name": "shelf", "polygon": [[x, y], ...]}]}         # pixels of the frame

Each AOI has exactly one geometry; ``start_s`` / ``end_s`` (seconds on the records' clock, optional)
limit when it is valid (``start_s <= t < end_s``).  Pixel forms need the frame size
(:meth:`AOISet.normalised`).  A gaze point is labelled with the *smallest* (by area) AOI that contains
it and is valid at its time, ``None`` when none does or when the gaze is out of frame.

numpy only (no torch, no Qt): drawing, records and the report use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import InputError
from .types import GazeResult

__all__ = ["AOI", "AOISet", "AOIFileError", "load_aois", "parse_aois", "save_aois", "label_result"]

_GEOMETRY_KEYS = ("xyxy_norm", "polygon_norm", "xyxy", "polygon")
_KNOWN_KEYS = frozenset(("name", "start_s", "end_s", *_GEOMETRY_KEYS))
_EDGE_TOL = 1e-9  # normalised coordinates may touch 0 and 1 exactly; this much beyond is rounding


class AOIFileError(InputError):
    """An AOI file (or AOI list) is not usable; the message is one line naming the file and the item."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AOI:
    """One area of interest: a simple polygon (K x 2 vertices) and when it is valid.

    ``pixels``: the vertices are in pixels of the frame (``xyxy`` / ``polygon`` forms); else normalised.
    ``rect``: it was given as a box (saved back as ``xyxy[_norm]``).
    """

    name: str
    vertices: tuple[tuple[float, float], ...]
    pixels: bool = False
    rect: bool = False
    start_s: float | None = None
    end_s: float | None = None

    @classmethod
    def box(cls, *, name: str, xyxy_norm: Sequence[float], start_s: float | None = None,
            end_s: float | None = None) -> "AOI":
        """A normalised rectangle AOI (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = (float(v) for v in xyxy_norm)
        return cls(name=name, vertices=((x0, y0), (x1, y0), (x1, y1), (x0, y1)), rect=True,
                   start_s=start_s, end_s=end_s)

    @property
    def array(self) -> np.ndarray:
        """(K, 2) float64 vertices."""
        return np.asarray(self.vertices, dtype=np.float64).reshape(-1, 2)

    @property
    def area(self) -> float:
        """Polygon area (shoelace), in the vertices' units squared."""
        return _area(self.array)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """Bounding box (x0, y0, x1, y1) in the vertices' units."""
        a = self.array
        return (float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 0].max()), float(a[:, 1].max()))

    def valid_at(self, times_s: np.ndarray) -> np.ndarray:
        """(N,) bool: the AOI is valid at each time."""
        t = np.asarray(times_s, dtype=np.float64)
        ok = np.ones(t.shape, bool)
        if self.start_s is not None:
            ok &= t >= self.start_s
        if self.end_s is not None:
            ok &= t < self.end_s
        return ok

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N,) bool: each (x, y) point is inside the polygon (even-odd rule, same units as the vertices)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x, y = pts[:, 0], pts[:, 1]
        v = self.array
        inside = np.zeros(len(pts), bool)
        for (xi, yi), (xj, yj) in zip(v, np.roll(v, -1, axis=0)):
            crosses = (yi > y) != (yj > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_cross = (xj - xi) * (y - yi) / (yj - yi) + xi
            inside ^= crosses & (x < x_cross)
        return inside

    def to_json(self) -> dict[str, object]:
        """The AOI file item for this AOI (the form it was given in)."""
        suffix = "" if self.pixels else "_norm"
        item: dict[str, object] = {"name": self.name}
        if self.rect:
            item["xyxy" + suffix] = [round(v, 6) for v in self.xyxy]
        else:
            item["polygon" + suffix] = [[round(x, 6), round(y, 6)] for x, y in self.vertices]
        if self.start_s is not None:
            item["start_s"] = self.start_s
        if self.end_s is not None:
            item["end_s"] = self.end_s
        return item


@dataclass(frozen=True, slots=True, kw_only=True)
class AOISet:
    """The AOIs of one file (``source`` names it in errors), in file order; names are unique."""

    aois: tuple[AOI, ...]
    source: str = "<aois>"
    _geometry: list = field(default_factory=list, init=False, repr=False, compare=False)  # cache, see _geom()

    def __len__(self) -> int:
        return len(self.aois)

    def _geom(self) -> list[tuple[int, bool, tuple[float, float, float, float], list[tuple[float, float]],
                                  float, float]]:
        """Per AOI, smallest area first (file order among equals): index, rect?, bbox, vertices, start, end."""
        if not self._geometry:
            order = sorted(range(len(self.aois)), key=lambda k: (self.aois[k].area, k))
            for k in order:
                a = self.aois[k]
                self._geometry.append((k, a.rect, a.xyxy, [tuple(v) for v in a.array.tolist()],
                                       -math.inf if a.start_s is None else a.start_s,
                                       math.inf if a.end_s is None else a.end_s))
        return self._geometry

    def __iter__(self) -> Iterator[AOI]:
        return iter(self.aois)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.aois)

    @property
    def has_pixels(self) -> bool:
        return any(a.pixels for a in self.aois)

    def normalised(self, frame_size: tuple[int, int] | None) -> "AOISet":
        """All AOIs in normalised coordinates; ``frame_size`` is (width, height) in pixels.

        Pixel AOIs are divided by the frame size and checked against it (AOIError names the item).
        Without pixel AOIs the frame size is not needed.
        """
        if not self.has_pixels:
            return self
        if frame_size is None:
            first = next(i for i, a in enumerate(self.aois) if a.pixels)
            raise AOIFileError(f"{self.source}: aois[{first}] '{self.aois[first].name}' is in pixels but the "
                               "frame size is unknown; give it as xyxy_norm / polygon_norm")
        w, h = frame_size
        out = []
        for i, a in enumerate(self.aois):
            if a.pixels:
                arr = a.array
                _check_inside(arr, (float(w), float(h)), self.source, i, a.name, "pixels of the "
                              f"{w}x{h} frame")
                a = replace(a, vertices=tuple((x / w, y / h) for x, y in arr.tolist()), pixels=False)
            out.append(a)
        return AOISet(aois=tuple(out), source=self.source)

    def label_index(self, points_norm: np.ndarray, times_s: np.ndarray | float,
                    in_frame: np.ndarray | None = None) -> np.ndarray:
        """(N,) int64 index into :attr:`aois` of the smallest containing AOI valid at the time, -1 for none.

        ``points_norm``: (N, 2) normalised gaze points; ``times_s``: (N,) or one time; ``in_frame``: (N,)
        bool, False rows (gaze out of frame) get -1, as do points outside [0, 1] or not finite.
        """
        pts = np.asarray(points_norm, dtype=np.float64).reshape(-1, 2)
        n = len(pts)
        times = np.broadcast_to(np.asarray(times_s, dtype=np.float64), (n,))
        if self.has_pixels:
            self.normalised(None)  # raises, naming the first pixel AOI
        ok = np.all(np.isfinite(pts), axis=1) & np.all((pts >= 0.0) & (pts <= 1.0), axis=1)
        if in_frame is not None:
            ok &= np.asarray(in_frame, dtype=bool).reshape(n)
        best = np.full(n, -1, np.int64)
        geom = self._geom()
        if n <= 32:  # one frame's heads: plain Python beats a dozen numpy calls per AOI
            for i in np.flatnonzero(ok).tolist():
                x, y, t = float(pts[i, 0]), float(pts[i, 1]), float(times[i])
                for k, rect, (x0, y0, x1, y1), verts, start, end in geom:
                    if start <= t < end and x0 <= x < x1 and y0 <= y < y1 and (rect or _inside(verts, x, y)):
                        best[i] = k
                        break
            return best
        todo = ok.copy()  # smallest AOI first: the first that contains a point is its label
        for k, rect, (x0, y0, x1, y1), _, start, end in geom:
            cand = todo & (times >= start) & (times < end)
            cand &= (pts[:, 0] >= x0) & (pts[:, 0] < x1) & (pts[:, 1] >= y0) & (pts[:, 1] < y1)
            if not rect and cand.any():
                idx = np.flatnonzero(cand)
                cand[idx] = self.aois[k].contains(pts[idx])
            best[cand] = k
            todo &= ~cand
        return best

    def label(self, points_norm: np.ndarray, times_s: np.ndarray | float,
              in_frame: np.ndarray | None = None) -> list[str | None]:
        """The AOI name (or None) of each gaze point; see :meth:`label_index`."""
        names = self.names
        return [names[i] if i >= 0 else None for i in self.label_index(points_norm, times_s, in_frame).tolist()]

    def to_json(self) -> dict[str, object]:
        return {"aois": [a.to_json() for a in self.aois]}


# --------------------------------------------------------------------------- geometry checks
def _inside(verts: list[tuple[float, float]], x: float, y: float) -> bool:
    """Even-odd rule for one point, exactly as :meth:`AOI.contains` (a box is ``x0 <= x < x1``, ``y0 <= y < y1``)."""
    inside = False
    xj, yj = verts[-1]
    for xi, yi in verts:
        if (yj > y) != (yi > y) and x < (xi - xj) * (y - yj) / (yi - yj) + xj:
            inside = not inside
        xj, yj = xi, yi
    return inside


def _area(v: np.ndarray) -> float:
    x, y = v[:, 0], v[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2.0)


def _orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))


def _segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    """Closed segments p1p2 and q1q2 share a point (touching counts)."""
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 != 0 and d2 != 0 and d3 != 0 and d4 != 0:
        return True

    def on(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: float) -> bool:
        return d == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return on(q1, q2, p1, d1) or on(q1, q2, p2, d2) or on(p1, p2, q1, d3) or on(p1, p2, q2, d4)


def _self_intersection(v: np.ndarray) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (i, j) of the closed polygon that meet, else None."""
    k = len(v)
    for i in range(k):
        for j in range(i + 1, k):
            if j == i + 1 or (i == 0 and j == k - 1):
                continue  # adjacent edges share a vertex by construction
            if _segments_cross(v[i], v[(i + 1) % k], v[j], v[(j + 1) % k]):
                return i, j
    return None


def _check_inside(v: np.ndarray, size: tuple[float, float], source: str, i: int, name: str, units: str) -> None:
    w, h = size
    tol = _EDGE_TOL * max(w, h)
    if (v[:, 0].min() < -tol or v[:, 1].min() < -tol or v[:, 0].max() > w + tol or v[:, 1].max() > h + tol):
        x0, y0 = v.min(axis=0)
        x1, y1 = v.max(axis=0)
        raise AOIFileError(f"{source}: aois[{i}] '{name}' lies outside the frame (spans x {x0:g}..{x1:g}, "
                           f"y {y0:g}..{y1:g}; expected 0..{w:g} x 0..{h:g} {units})")


# --------------------------------------------------------------------------- parsing
def _number_list(value: object, n: int | None) -> list[float] | None:
    if not isinstance(value, (list, tuple)) or (n is not None and len(value) != n):
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value):
        return None
    return [float(x) for x in value]


def _parse_item(item: object, i: int, source: str) -> AOI:
    where = f"{source}: aois[{i}]"
    if not isinstance(item, Mapping):
        raise AOIFileError(f"{where}: expected an object like {{\"name\": ..., \"xyxy_norm\": [x0, y0, x1, y1]}}, "
                           f"got {type(item).__name__}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AOIFileError(f"{where}: 'name' must be a non-empty string, got {name!r}")
    name = name.strip()
    where = f"{where} '{name}'"
    unknown = sorted(set(item) - _KNOWN_KEYS)
    if unknown:
        raise AOIFileError(f"{where}: unknown key(s) {', '.join(unknown)}; expected name, one of "
                           f"{', '.join(_GEOMETRY_KEYS)}, optional start_s, end_s")
    given = [k for k in _GEOMETRY_KEYS if k in item]
    if len(given) != 1:
        raise AOIFileError(f"{where}: needs exactly one of {', '.join(_GEOMETRY_KEYS)}, got "
                           f"{', '.join(given) if given else 'none'}")
    key = given[0]
    pixels = not key.endswith("_norm")
    if key.startswith("xyxy"):
        box = _number_list(item[key], 4)
        if box is None:
            raise AOIFileError(f"{where}: '{key}' must be 4 numbers [x0, y0, x1, y1], got {item[key]!r}")
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            raise AOIFileError(f"{where}: '{key}' {box} has zero area (expected x1 > x0 and y1 > y0)")
        vertices = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        rect = True
    else:
        raw = item[key]
        pts = [_number_list(p, 2) for p in raw] if isinstance(raw, (list, tuple)) else None
        if pts is None or any(p is None for p in pts) or len(pts) < 3:
            raise AOIFileError(f"{where}: '{key}' must be a list of at least 3 [x, y] points, got {raw!r}")
        vertices = tuple((p[0], p[1]) for p in pts)  # type: ignore[index]
        rect = False
        arr = np.asarray(vertices, np.float64)
        crossing = _self_intersection(arr)
        if crossing is not None:
            a, b = crossing
            raise AOIFileError(f"{where}: '{key}' intersects itself (edge {a}-{(a + 1) % len(arr)} meets edge "
                               f"{b}-{(b + 1) % len(arr)}); list the points in order around the outline")
        if _area(arr) <= 0.0:
            raise AOIFileError(f"{where}: '{key}' has zero area (its points are collinear or repeated)")
    if not pixels:
        _check_inside(np.asarray(vertices, np.float64), (1.0, 1.0), source, i, name, "normalised")
    times: list[float | None] = []
    for tkey in ("start_s", "end_s"):
        t = item.get(tkey)
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)):
            raise AOIFileError(f"{where}: '{tkey}' must be a number of seconds or null, got {t!r}")
        times.append(None if t is None else float(t))
    start_s, end_s = times
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise AOIFileError(f"{where}: end_s {end_s:g} must be after start_s {start_s:g}")
    return AOI(name=name, vertices=vertices, pixels=pixels, rect=rect, start_s=start_s, end_s=end_s)


def parse_aois(obj: object, *, source: str = "<aois>") -> AOISet:
    """Validate a decoded AOI document (``{"aois": [...]}``); raises :class:`AOIFileError` (one line)."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("aois"), list):
        raise AOIFileError(f"{source}: expected a JSON object {{\"aois\": [...]}}, got "
                           f"{'an object without an aois list' if isinstance(obj, Mapping) else type(obj).__name__}")
    aois: list[AOI] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(obj["aois"]):
        aoi = _parse_item(item, i, source)
        if aoi.name in seen:
            raise AOIFileError(f"{source}: aois[{i}] '{aoi.name}' repeats the name of aois[{seen[aoi.name]}]; "
                               "AOI names must be unique")
        seen[aoi.name] = i
        aois.append(aoi)
    return AOISet(aois=tuple(aois), source=source)


def load_aois(path: str | Path, *, frame_size: tuple[int, int] | None = None) -> AOISet:
    """Read and validate an AOI file; with ``frame_size`` (width, height), pixel AOIs are normalised.

    Raises :class:`AOIFileError` with a one-line message naming the file and the item.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AOIFileError(f"{p}: AOI file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AOIFileError(f"{p}: cannot read the AOI file ({type(exc).__name__}: {exc})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AOIFileError(f"{p}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    aois = parse_aois(obj, source=str(p))
    return aois.normalised(frame_size) if frame_size is not None else aois


def save_aois(aois: AOISet | Iterable[AOI], path: str | Path) -> Path:
    """Write an AOI file (validated by reading it back through :func:`parse_aois`); temporary file renamed."""
    from .outputs import atomic_output

    items = aois.aois if isinstance(aois, AOISet) else tuple(aois)
    doc = {"aois": [a.to_json() for a in items]}
    parse_aois(doc, source=str(path))  # refuse to write a file we could not read back
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return Path(path)


def label_result(aois: AOISet | None, result: GazeResult) -> GazeResult:
    """``result`` with :attr:`GazeResult.aoi` set from its gaze points (unchanged when ``aois`` is None).

    Pixel AOIs are normalised with the frame's size (cache :meth:`AOISet.normalised` for many frames).
    """
    if aois is None:
        return result
    if aois.has_pixels:
        aois = aois.normalised((result.frame.width, result.frame.height))
    names = tuple(aois.label(result.points_norm, result.frame.timestamp_s, result.in_frame)) if len(result) else ()
    return replace(result, aoi=names)
