"""Drawing gaze results on frames (OpenCV + numpy only; never imports torch).

Annotators in the style of supervision: style goes in ``__init__``, ``annotate(image, result)`` draws one
aspect of a :class:`~gazecam.types.GazeResult` onto ``image`` (H x W x 3 uint8 **RGB**, modified in place
and returned).  :class:`GazeRenderer` composes them; its toggles may be flipped between frames (GUI).

Sizes (line widths, fonts) scale with the frame so 160x120 and 4K frames both look right.  The heatmap
overlay is composed at heatmap resolution (64 x 64) and resized once, so it stays cheap at 1080p.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from .aoi import AOISet
from .types import GazeResult

__all__ = [
    "PALETTE",
    "color_for",
    "Annotator",
    "HeatmapAnnotator",
    "GazeArrowAnnotator",
    "HeadBoxAnnotator",
    "OutOfFrameAnnotator",
    "LookingAtAnnotator",
    "BannerAnnotator",
    "AOIAnnotator",
    "GazeRenderer",
    "untrained_banner_text",
    "weights_banner_text",
]

RGB = tuple[int, int, int]

#: Colours per track id (RGB), bright and distinct on video; id -1 (untracked) is grey.
PALETTE: tuple[RGB, ...] = (
    (255, 56, 56), (56, 168, 255), (72, 220, 72), (255, 178, 29), (200, 80, 255), (0, 220, 200),
    (255, 112, 200), (180, 230, 40), (255, 140, 90), (120, 120, 255), (255, 230, 60), (40, 200, 130),
)
UNTRACKED: RGB = (200, 200, 200)
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def color_for(track_id: int) -> RGB:
    """Deterministic colour of a track id."""
    return UNTRACKED if track_id < 0 else PALETTE[int(track_id) % len(PALETTE)]


@dataclass(frozen=True)
class _Scale:
    """Line widths and font size for a frame of a given size."""

    line: int
    font: float
    text: int
    pad: int

    @classmethod
    def of(cls, image: np.ndarray) -> "_Scale":
        short = min(image.shape[0], image.shape[1])
        line = max(1, round(short / 360))
        font = max(0.4, short / 1000)
        return cls(line=line, font=font, text=max(1, round(font * 2)), pad=max(2, round(short / 240)))


def _label(image: np.ndarray, text: str, anchor_xy: tuple[float, float], color: RGB, s: _Scale, *,
           above: bool = True) -> None:
    """A filled chip with ``text`` whose left edge is at ``anchor_xy``; above or below that point, kept inside."""
    (tw, th), base = cv2.getTextSize(text, FONT, s.font, s.text)
    h, w = image.shape[:2]
    bw, bh = tw + 2 * s.pad, th + base + 2 * s.pad
    x = int(min(max(anchor_xy[0], 0), max(w - bw, 0)))
    y = int(anchor_xy[1] - bh if above else anchor_xy[1])
    y = int(min(max(y, 0), max(h - bh, 0)))
    cv2.rectangle(image, (x, y), (x + bw, y + bh), color, -1)
    fg = BLACK if sum(color) > 380 else WHITE  # readable on light and dark chips
    cv2.putText(image, text, (x + s.pad, y + s.pad + th), FONT, s.font, fg, s.text, cv2.LINE_AA)


class Annotator(Protocol):
    def annotate(self, image: np.ndarray, result: GazeResult) -> np.ndarray: ...


class HeatmapAnnotator:
    """Gaze heatmaps blended over the frame.

    ``mode="combined"``: the maximum over all persons in a colour map; ``"per_person"``: each person's heatmap
    tinted with their track colour.  Each heatmap is scaled by its own peak; values below ``floor`` (of the
    peak) stay transparent, so only where a person likely looks is coloured.  Heads judged looking out of
    the frame are not drawn.
    """

    def __init__(self, *, mode: str = "combined", opacity: float = 0.55, colormap: int = cv2.COLORMAP_JET,
                 floor: float = 0.35) -> None:
        if mode not in ("combined", "per_person"):
            raise ValueError(f"HeatmapAnnotator mode must be 'combined' or 'per_person', got {mode!r}")
        self.mode = mode
        self.opacity = float(opacity)
        self.colormap = colormap
        self.floor = float(floor)

    def _alpha_color(self, result: GazeResult) -> tuple[np.ndarray, np.ndarray] | None:
        """(64, 64) alpha in [0, 1] and (64, 64, 3) float32 RGB colour, or None if nothing to draw."""
        keep = np.asarray(result.in_frame, bool)
        if not keep.any():
            return None
        hm = result.heatmaps[keep].astype(np.float32)  # (K, 64, 64)
        peak = hm.reshape(len(hm), -1).max(axis=1)  # (K,)
        norm = hm / np.maximum(peak, 1e-6)[:, None, None]
        strength = np.clip((norm - self.floor) / (1 - self.floor), 0, 1)  # (K, 64, 64)
        if self.mode == "combined":
            alpha = strength.max(axis=0)
            lut = cv2.applyColorMap((alpha * 255).astype(np.uint8), self.colormap)[..., ::-1]  # BGR -> RGB
            color = lut.astype(np.float32)
        else:
            who = strength.argmax(axis=0)  # (64, 64) strongest person per cell
            alpha = np.take_along_axis(strength, who[None], axis=0)[0]
            ids = result.heads.track_ids[keep]
            colors = np.array([color_for(int(t)) for t in ids], np.float32)  # (K, 3)
            color = colors[who]  # (64, 64, 3)
        return alpha, color

    def annotate(self, image: np.ndarray, result: GazeResult) -> np.ndarray:
        if len(result) == 0:
            return image
        ac = self._alpha_color(result)
        if ac is None:
            return image
        alpha, color = ac
        ys, xs = np.nonzero(alpha > 0)
        if len(ys) == 0:
            return image
        h, w = image.shape[:2]
        gh, gw = alpha.shape
        # Only the region of the image under non-zero heatmap cells is blended (1-cell margin for interpolation).
        r0, r1 = max(ys.min() - 1, 0), min(ys.max() + 2, gh)
        c0, c1 = max(xs.min() - 1, 0), min(xs.max() + 2, gw)
        y0, y1 = r0 * h // gh, -(-r1 * h // gh)
        x0, x1 = c0 * w // gw, -(-c1 * w // gw)
        # Upsample the 64x64 grid for the region only (cell centres aligned as in a full-frame resize):
        # region pixel (u, v) samples grid point ((u + x0 + 0.5) * gw / w - 0.5, (v + y0 + 0.5) * gh / h - 0.5).
        sx, sy = gw / w, gh / h
        m = np.array([[sx, 0, (x0 + 0.5) * sx - 0.5], [0, sy, (y0 + 0.5) * sy - 0.5]], np.float64)
        size = (int(x1 - x0), int(y1 - y0))
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        a = cv2.warpAffine((alpha * self.opacity).astype(np.float32), m, size, flags=flags,
                           borderMode=cv2.BORDER_REPLICATE)  # (h', w') float32 weights
        c = cv2.warpAffine(np.clip(color, 0, 255).astype(np.uint8), m, size, flags=flags,
                           borderMode=cv2.BORDER_REPLICATE)  # (h', w', 3) uint8
        roi = np.ascontiguousarray(image[y0:y1, x0:x1])
        image[y0:y1, x0:x1] = cv2.blendLinear(c, roi, a, 1.0 - a)
        return image


class GazeArrowAnnotator:
    """Arrow from each head centre to its gaze point, in the track colour with a dark outline."""

    def __init__(self, *, thickness: int | None = None, point_radius: int | None = None) -> None:
        self.thickness = thickness
        self.point_radius = point_radius

    def annotate(self, image: np.ndarray, result: GazeResult) -> np.ndarray:
        if len(result) == 0:
            return image
        s = _Scale.of(image)
        t = self.thickness or max(2, s.line + 1)
        r = self.point_radius or max(3, 2 * t)
        starts, ends = result.heads.centers_xy, result.points_xy
        for i in np.flatnonzero(result.in_frame):
            color = color_for(int(result.heads.track_ids[i]))
            p0 = (int(round(starts[i, 0])), int(round(starts[i, 1])))
            p1 = (int(round(ends[i, 0])), int(round(ends[i, 1])))
            length = max(1.0, float(np.hypot(p1[0] - p0[0], p1[1] - p0[1])))
            tip = min(0.3, 6.0 * t / length)
            cv2.arrowedLine(image, p0, p1, BLACK, t + 2, cv2.LINE_AA, tipLength=tip)
            cv2.arrowedLine(image, p0, p1, color, t, cv2.LINE_AA, tipLength=tip)
            cv2.circle(image, p1, r + 1, BLACK, -1, cv2.LINE_AA)
            cv2.circle(image, p1, r, color, -1, cv2.LINE_AA)
            cv2.circle(image, p1, max(1, r // 3), WHITE, -1, cv2.LINE_AA)
        return image


class HeadBoxAnnotator:
    """Head boxes in the track colour, with a ``#id`` chip above (and in/out score if ``show_inout``)."""

    def __init__(self, *, thickness: int | None = None, show_ids: bool = True, show_inout: bool = True) -> None:
        self.thickness = thickness
        self.show_ids = show_ids
        self.show_inout = show_inout

    def annotate(self, image: np.ndarray, result: GazeResult) -> np.ndarray:
        s = _Scale.of(image)
        t = self.thickness or max(1, s.line)
        for i in range(len(result)):
            tid = int(result.heads.track_ids[i])
            color = color_for(tid)
            x0, y0, x1, y1 = (int(round(v)) for v in result.heads.xyxy[i])
            cv2.rectangle(image, (x0, y0), (x1, y1), color, t, cv2.LINE_8)
            if self.show_ids:
                text = f"#{tid}" if tid >= 0 else "#?"
                if self.show_inout and result.inout is not None and np.isfinite(result.inout[i]):
                    text += f" P(in)={result.inout[i]:.2f}"  # in-frame probability, not the verdict
                _label(image, text, (x0, y0), color, s, above=True)
        return image


class OutOfFrameAnnotator:
    """Marks heads whose gaze target is judged outside the frame: a crossed circle and an "out of frame" chip."""

    def __init__(self, *, text: str = "looks out of frame") -> None:
        self.text = text

    def annotate(self, image: np.ndarray, result: GazeResult) -> np.ndarray:
        s = _Scale.of(image)
        out = np.flatnonzero(~np.asarray(result.in_frame, bool))
        centers = result.heads.centers_xy
        for i in out:
            color = color_for(int(result.heads.track_ids[i]))
            x0, y0, x1, y1 = result.heads.xyxy[i]
            c = (int(round(centers[i, 0])), int(round(centers[i, 1])))
            r = max(4, int(0.2 * min(x1 - x0, y1 - y0)))
            for col, th in ((BLACK, s.line + 2), (color, s.line)):
                cv2.circle(image, c, r, col, th, cv2.LINE_AA)
                d = int(r * 0.7)
                cv2.line(image, (c[0] - d, c[1] - d), (c[0] + d, c[1] + d), col, th, cv2.LINE_AA)
            _label(image, self.text, (x0, y1), color, s, above=False)
        return image


class LookingAtAnnotator:
    """Who looks at whom: a "-> #B" chip below A's box; mutual gaze: "<-> #B" and a line between the heads."""

    def annotate(self, image: np.ndarray, result: GazeResult) -> np.ndarray:
        s = _Scale.of(image)
        ids = result.heads.track_ids
        centers = result.heads.centers_xy
        for i in np.flatnonzero(result.looking_at >= 0):
            color = color_for(int(ids[i]))
            target = int(result.looking_at[i])
            mutual = bool(result.mutual[i])
            _label(image, f"{'<->' if mutual else '->'} #{target}", (result.heads.xyxy[i, 0], result.heads.xyxy[i, 3]),
                   color, s, above=False)
            if mutual and ids[i] < target:  # draw the mutual link once per pair
                j = np.flatnonzero(ids == target)
                if len(j):
                    p0 = tuple(int(round(v)) for v in centers[i])
                    p1 = tuple(int(round(v)) for v in centers[j[0]])
                    cv2.line(image, p0, p1, BLACK, 3 * s.line + 4, cv2.LINE_AA)
                    cv2.line(image, p0, p1, WHITE, 3 * s.line, cv2.LINE_AA)
        return image


class BannerAnnotator:
    """A one-line banner across the bottom (or top) of the frame, e.g. "UNTRAINED WEIGHTS"."""

    def __init__(self, text: str, *, position: str = "bottom", color: RGB = (255, 60, 60), opacity: float = 0.7
                 ) -> None:
        if position not in ("top", "bottom"):
            raise ValueError(f"BannerAnnotator position must be 'top' or 'bottom', got {position!r}")
        self.text = text
        self.position = position
        self.color = color
        self.opacity = float(opacity)

    def annotate(self, image: np.ndarray, result: GazeResult | None = None) -> np.ndarray:
        if not self.text:
            return image
        h, w = image.shape[:2]
        s = _Scale.of(image)
        font0 = 1.3 * s.font
        font, thick = font0, s.text + 1  # larger and bolder than labels
        (tw, th), base = cv2.getTextSize(self.text, FONT, font, thick)
        while tw > w - 2 * s.pad and font > 0.3:  # shrink to fit narrow frames, strokes with it
            font *= 0.85
            thick = max(1, int(round((s.text + 1) * font / font0)))
            (tw, th), base = cv2.getTextSize(self.text, FONT, font, thick)
        bh = th + base + 2 * s.pad
        y0 = h - bh if self.position == "bottom" else 0
        band = image[y0:y0 + bh]
        band[:] = (band.astype(np.float32) * (1 - self.opacity)).astype(np.uint8)  # darken under the text
        cv2.putText(image, self.text, (max(s.pad, (w - tw) // 2), y0 + s.pad + th), FONT, font, self.color,
                    thick, cv2.LINE_AA)
        return image


AOI_COLOR: RGB = (255, 235, 120)  # outlines and labels of areas of interest
AOI_LIT: RGB = (255, 200, 0)  # an AOI someone looks inside


class AOIAnnotator:
    """Areas of interest: outline and name; lit (tinted, thicker, "<- #id" on the label) while someone looks inside.

    Only AOIs valid at the frame's time are drawn (all of them when there is no result yet).  Which AOI a
    person looks at is ``result.aoi`` (set by :func:`gazecam.aoi.label_result`), else found here.
    """

    def __init__(self, aois: AOISet | None = None, *, fill_opacity: float = 0.28) -> None:
        self.aois = aois
        self.fill_opacity = float(fill_opacity)

    def annotate(self, image: np.ndarray, result: GazeResult | None) -> np.ndarray:
        if not self.aois:
            return image
        h, w = image.shape[:2]
        aois = self.aois.normalised((w, h))
        s = _Scale.of(image)
        lookers: dict[str, list[int]] = {}
        names = result.aoi if result is not None else None
        if result is not None and names is None and len(result):  # not labelled yet (the GUI): label here
            names = aois.label(result.points_norm, result.frame.timestamp_s, result.in_frame)
        if result is not None and names is not None:
            for tid, name in zip(result.heads.track_ids.tolist(), names):
                if name is not None:
                    lookers.setdefault(name, []).append(int(tid))
        polys = []
        for aoi in aois:
            if result is not None and not bool(aoi.valid_at(np.array([result.frame.timestamp_s]))[0]):
                continue
            pts = np.round(aoi.array * [w, h]).astype(np.int32).reshape(-1, 1, 2)
            polys.append((aoi.name, pts, aoi.name in lookers))
        lit = [p for _, p, on in polys if on]
        if lit and self.fill_opacity > 0:
            overlay = image.copy()
            cv2.fillPoly(overlay, lit, AOI_LIT)
            cv2.addWeighted(overlay, self.fill_opacity, image, 1 - self.fill_opacity, 0, dst=image)
        for name, pts, on in polys:
            color = AOI_LIT if on else AOI_COLOR
            cv2.polylines(image, [pts], True, BLACK, s.line * (4 if on else 3), cv2.LINE_AA)  # shadow: any background
            cv2.polylines(image, [pts], True, color, s.line * (2 if on else 1), cv2.LINE_AA)
            who = lookers.get(name, [])
            text = name + ("  <- " + " ".join(f"#{t}" if t >= 0 else "?" for t in who) if who else "")
            x0, y0 = pts[:, 0, 0].min(), pts[:, 0, 1].min()
            _label(image, text, (float(x0), float(y0)), color, s, above=False)
        return image


def weights_banner_text(*, released: bool, note: str = "") -> str:
    """The frame banner for a model: "" when released, UNVERIFIED when its files could not be verified
    (placed in the cache by hand, see :mod:`gazecam.hub`), else the short untrained-weights text."""
    from .weights import is_unverified_note

    if not released and is_unverified_note(note):
        return "UNVERIFIED WEIGHTS - could not be verified as the released ones"
    return untrained_banner_text(released=released)


def untrained_banner_text(*, released: bool, note: str = "") -> str:
    """Banner text for a model that is not a released checkpoint ("" when it is)."""
    if released:
        return ""
    return "UNTRAINED WEIGHTS - gaze is meaningless" + (f" ({note})" if note else "")


class GazeRenderer:
    """All annotators in order: heatmaps, AOIs, who-looks-at-whom, arrows, boxes, out-of-frame markers, banner.

    Each overlay has a toggle (``heatmaps``, ``show_aois``, ``looking_at``, ``arrows``, ``boxes``, ``ids``,
    ``out_of_frame``);
    they, ``heatmap_mode`` and ``heatmap_opacity`` may be changed between frames.  ``banner`` is the
    untrained-weights text ("" for none).  ``render(result)`` draws on a copy of the frame and returns it.
    """

    def __init__(self, *, heatmaps: bool = True, heatmap_mode: str = "combined", heatmap_opacity: float = 0.55,
                 arrows: bool = True, boxes: bool = True, ids: bool = True, out_of_frame: bool = True,
                 looking_at: bool = True, banner: str = "", aois: AOISet | None = None, show_aois: bool = True
                 ) -> None:
        self.heatmaps = heatmaps
        self.show_aois = show_aois
        self.arrows = arrows
        self.boxes = boxes
        self.out_of_frame = out_of_frame
        self.looking_at = looking_at
        self._heatmap = HeatmapAnnotator(mode=heatmap_mode, opacity=heatmap_opacity)
        self._arrow = GazeArrowAnnotator()
        self._box = HeadBoxAnnotator(show_ids=ids)
        self._out = OutOfFrameAnnotator()
        self._looking = LookingAtAnnotator()
        self._banner = BannerAnnotator(banner)
        self._aoi = AOIAnnotator(aois)

    @property
    def aois(self) -> AOISet | None:
        """The areas of interest drawn (None: none); may be replaced between frames (the GUI's AOI editor)."""
        return self._aoi.aois

    @aois.setter
    def aois(self, aois: AOISet | None) -> None:
        self._aoi.aois = aois

    @property
    def heatmap_mode(self) -> str:
        return self._heatmap.mode

    @heatmap_mode.setter
    def heatmap_mode(self, mode: str) -> None:
        self._heatmap = HeatmapAnnotator(mode=mode, opacity=self._heatmap.opacity)

    @property
    def heatmap_opacity(self) -> float:
        return self._heatmap.opacity

    @heatmap_opacity.setter
    def heatmap_opacity(self, opacity: float) -> None:
        self._heatmap = HeatmapAnnotator(mode=self._heatmap.mode, opacity=opacity)

    @property
    def ids(self) -> bool:
        return self._box.show_ids

    @ids.setter
    def ids(self, show: bool) -> None:
        self._box.show_ids = bool(show)

    @property
    def banner(self) -> str:
        return self._banner.text

    @banner.setter
    def banner(self, text: str) -> None:
        self._banner.text = text or ""

    def annotate(self, image: np.ndarray, result: GazeResult | None) -> np.ndarray:
        """Draw on ``image`` in place; ``result`` None (no gaze yet) draws only the banner."""
        if result is not None and len(result) and self.heatmaps and self._heatmap.opacity > 0:
            self._heatmap.annotate(image, result)
        if self.show_aois:
            self._aoi.annotate(image, result)
        if result is not None and len(result):
            if self.looking_at:
                self._looking.annotate(image, result)
            if self.arrows:
                self._arrow.annotate(image, result)
            if self.boxes:
                self._box.annotate(image, result)
            if self.out_of_frame:
                self._out.annotate(image, result)
        self._banner.annotate(image, result)
        return image

    def render(self, result: GazeResult) -> np.ndarray:
        """The annotated frame (a new array; the frame itself is not modified)."""
        return self.annotate(result.frame.image.copy(), result)
