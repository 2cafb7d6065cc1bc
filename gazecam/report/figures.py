"""The report's pictures (matplotlib, Agg canvas, no GUI backend): each function returns PNG bytes.

* :func:`matrix_png` - who looks at whom: seconds and % of the looker's visible time.
* :func:`timeline_png` - one row per person coloured by target, mutual / joint episodes marked.
* :func:`density_png` - scene attention density over a frame of the video (or a neutral canvas).
* :func:`thumbnails_png` - one small density map per person.

Colours of people are the video overlay's (:func:`gazecam.render.color_for`).  No torch import here.
"""

from __future__ import annotations

import io
import math

import numpy as np

from ..analysis import STATE_OUT, STATE_PERSON, STATE_SCENE, GazeAnalysis, attention_density

__all__ = ["matrix_png", "timeline_png", "density_png", "thumbnails_png", "format_seconds", "SCENE_COLOR",
           "OUT_COLOR"]

SCENE_COLOR = "#8aa1b1"  # looking at the scene (an in-frame point that is not a person)
OUT_COLOR = "#f2b880"  # looking out of frame
MUTUAL_COLOR = "#d62728"
JOINT_COLOR = "#6a3d9a"
_DPI = 100


def format_seconds(v: float) -> str:
    """Seconds as the report prints them everywhere: 2 decimals below 10 s (one frame at 20 fps is 0.05 s)."""
    return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


def _rgb(track_id: int) -> tuple[float, float, float]:
    from ..render import color_for

    r, g, b = color_for(track_id)
    return (r / 255, g / 255, b / 255)


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=_DPI)
    fig.patch.set_facecolor("white")
    return fig


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, facecolor="white")
    return buf.getvalue()


# --------------------------------------------------------------------------- looking-at matrix
def matrix_png(analysis: GazeAnalysis) -> bytes:
    """Heatmap: row = looker, column = person looked at; colour = % of the looker's visible time."""
    people = analysis.people
    ids = [p.track_id for p in people]
    n = len(ids)
    pct = np.zeros((n, n))
    secs = np.zeros((n, n))
    for i, p in enumerate(people):
        for j, other in enumerate(ids):
            secs[i, j] = p.looking_at_s.get(other, 0.0)
            pct[i, j] = p.percent_of_visible(secs[i, j])
    side = min(7.5, 1.6 + 0.75 * max(n, 2))
    fig = _figure(side + 1.2, side)
    ax = fig.add_subplot(1, 1, 1)
    shown = np.where(np.eye(n, dtype=bool), np.nan, pct)
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=max(1.0, float(np.nanmax(shown)) if n > 1 else 1.0))
    ax.set_facecolor("#eeeeee")
    labels = [f"#{t}" for t in ids]
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    for tick, tid in zip(ax.get_xticklabels() + ax.get_yticklabels(), ids + ids):
        tick.set_color(tuple(c * 0.8 for c in _rgb(tid)))
        tick.set_fontweight("bold")
    ax.set_xlabel("is looked at")
    ax.set_ylabel("looker")
    vmax = im.get_clim()[1]
    small = n > 6
    for i in range(n):
        for j in range(n):
            if i == j:
                ax.text(j, i, "—", ha="center", va="center", color="#999999")
                continue
            dark = pct[i, j] > 0.55 * vmax
            text = format_seconds(secs[i, j]) + ("" if small else f"\n{pct[i, j]:.0f} %")
            ax.text(j, i, text, ha="center", va="center", fontsize=9 if small else 11,
                    color="white" if dark else "#222222")
    cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("% of the looker's visible time")
    ax.set_title("Who looks at whom")
    fig.tight_layout()
    return _png(fig)


# --------------------------------------------------------------------------- timelines
def _runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """(start index, end index exclusive, value) of equal consecutive values."""
    if len(values) == 0:
        return []
    cuts = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(values)]])
    return [(int(a), int(b), int(values[a])) for a, b in zip(starts, ends)]


def timeline_png(analysis: GazeAnalysis) -> bytes:
    """One row per person: bars coloured by the person looked at, scene, out of frame; blank = not visible.

    Mutual-gaze episodes are red brackets above the rows of both people, joint-attention episodes purple
    brackets below the rows involved.
    """
    from matplotlib.patches import Patch

    people = analysis.people
    n = len(people)
    times = analysis.times_s
    dt = analysis.frame_duration_s or 1e-3
    fig = _figure(10.5, 1.6 + 0.62 * n)
    ax = fig.add_subplot(1, 1, 1)
    row = {p.track_id: n - 1 - i for i, p in enumerate(people)}  # first person on top
    for line in analysis.timelines:
        y = row[line.track_id]
        # code: target id + 4 for people, 1 scene, 2 out, 0 not visible (separates targets in runs)
        code = np.where(line.state == STATE_PERSON, line.target + 4,
                        np.where(line.state == STATE_SCENE, 1, np.where(line.state == STATE_OUT, 2, 0)))
        for a, b, value in _runs(code):
            if value == 0:
                continue
            color = SCENE_COLOR if value == 1 else OUT_COLOR if value == 2 else _rgb(value - 4)
            start = float(times[a])
            end = float(times[b - 1]) + dt
            ax.broken_barh([(start, end - start)], (y - 0.22, 0.44), facecolors=color, linewidth=0)
    for e in analysis.mutual_gaze:
        for tid in e.track_ids:
            ax.plot([e.start_s, e.end_s], [row[tid] + 0.31] * 2, color=MUTUAL_COLOR, linewidth=3.5,
                    solid_capstyle="butt")
    for e in analysis.joint_attention:
        for tid in e.track_ids:
            ax.plot([e.start_s, e.end_s], [row[tid] - 0.31] * 2, color=JOINT_COLOR, linewidth=3.5,
                    solid_capstyle="butt")
    ax.set_yticks([row[p.track_id] for p in people], [f"#{p.track_id}" for p in people])
    for tick, p in zip(ax.get_yticklabels(), people):
        tick.set_color(tuple(c * 0.8 for c in _rgb(p.track_id)))
        tick.set_fontweight("bold")
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(analysis.start_s, max(analysis.end_s, analysis.start_s + dt))
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    targets = sorted({int(t) for line in analysis.timelines for t in line.target[line.state == STATE_PERSON]})
    handles = [Patch(color=_rgb(t), label=f"looks at #{t}") for t in targets]
    handles += [Patch(color=SCENE_COLOR, label="scene"), Patch(color=OUT_COLOR, label="out of frame"),
                Patch(facecolor="white", edgecolor="#bbbbbb", label="not visible"),
                Patch(color=MUTUAL_COLOR, label="mutual gaze"), Patch(color=JOINT_COLOR, label="joint attention")]
    ax.set_title("What each person looks at, over time", pad=8)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), frameon=False, fontsize=9)
    legend_rows = -(-len(handles) // 8)
    fig.tight_layout(rect=(0, 0.28 * legend_rows / fig.get_figheight(), 1, 1))
    return _png(fig)


# --------------------------------------------------------------------------- density maps
#: Height / width of the drawn frame is kept within [1 / MAX_DRAWN_ASPECT, MAX_DRAWN_ASPECT] (figure sizes stay
#: bounded whatever a sidecar or a video says).
MAX_DRAWN_ASPECT = 4.0
_CANVAS_SIDE = 360  # the longer side of the neutral canvas, pixels
_BACKGROUND_SIDE = 960  # the longer side of a video frame as drawn (the density figure is 800 pixels wide)


def _drawn_aspect(aspect: float) -> float:
    if not (isinstance(aspect, (int, float)) and math.isfinite(aspect) and aspect > 0):
        return 9 / 16
    return min(max(float(aspect), 1 / MAX_DRAWN_ASPECT), MAX_DRAWN_ASPECT)


def _canvas(background: np.ndarray | None, aspect: float) -> np.ndarray:
    """The background frame dimmed to grey, or a neutral canvas of the video's aspect (height/width).

    At most :data:`_BACKGROUND_SIDE` pixels on the longer side and within :data:`MAX_DRAWN_ASPECT` (a frame of
    another shape is drawn squeezed to it).
    """
    if background is None or background.ndim != 3 or min(background.shape[:2]) < 1:
        ratio = _drawn_aspect(aspect)
        h, w = (_CANVAS_SIDE, round(_CANVAS_SIDE / ratio)) if ratio >= 1 else (round(_CANVAS_SIDE * ratio), _CANVAS_SIDE)
        return np.full((max(1, h), max(1, w), 3), 0.93)
    from PIL import Image

    bh, bw = background.shape[:2]
    ratio = _drawn_aspect(bh / bw)
    side = min(_BACKGROUND_SIDE, max(bh, bw))
    h, w = (side, round(side / ratio)) if ratio >= 1 else (round(side * ratio), side)
    small = np.asarray(Image.fromarray(np.ascontiguousarray(background[..., :3], np.uint8)).resize(
        (max(1, w), max(1, h)), Image.Resampling.BILINEAR, reducing_gap=2.0))
    gray = small.astype(np.float32).mean(axis=2, keepdims=True) / 255.0
    return np.repeat(0.25 + 0.6 * gray, 3, axis=2)


def _overlay(ax, canvas: np.ndarray, points: np.ndarray, *, sigma_frac: float = 0.02) -> None:
    from matplotlib import colormaps

    h, w = canvas.shape[:2]
    gw = 160
    gh = max(2, round(gw * h / w))
    density = attention_density(points, width=gw, height=gh, sigma=sigma_frac * gw)
    rgba = colormaps["inferno"](density)
    rgba[..., 3] = np.clip(density * 1.4, 0, 0.85)
    ax.imshow(canvas, extent=(0, 1, 1, 0), interpolation="bilinear")
    ax.imshow(rgba, extent=(0, 1, 1, 0), interpolation="bilinear")
    ax.set_xlim(0, 1)
    ax.set_ylim(1, 0)
    ax.set_aspect(h / w)  # normalised coordinates drawn at the video's proportions
    ax.set_xticks([])
    ax.set_yticks([])
    if not np.isfinite(np.asarray(points, np.float64)).all(axis=-1).any():
        ax.text(0.5, 0.5, "no in-frame gaze", ha="center", va="center", fontsize=10, color="#333333",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "boxstyle": "round"})


def density_png(analysis: GazeAnalysis, *, background: np.ndarray | None = None, aspect: float = 9 / 16,
                heads_norm: dict[int, tuple[float, float]] | None = None) -> bytes:
    """Where attention went: density of every in-frame gaze point over ``background`` (H x W x 3 uint8 RGB).

    ``aspect``: height / width of the neutral canvas without a background; ``heads_norm``: each person's mean
    head centre (normalised), drawn as a labelled ring.
    """
    canvas = _canvas(background, aspect)
    h, w = canvas.shape[:2]
    fig = _figure(8.0, 8.0 * h / w + 0.6)
    ax = fig.add_subplot(1, 1, 1)
    points = [p for p in analysis.gaze_points_norm.values() if len(p)]
    _overlay(ax, canvas, np.concatenate(points) if points else np.zeros((0, 2)))
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=3.5, foreground="white")]
    placed: list[tuple[float, float]] = []
    for tid, (x, y) in (heads_norm or {}).items():
        ly = y
        while any(abs(x - px) < 0.08 and abs(ly - py) < 0.06 for px, py in placed):
            ly += 0.065  # another label is there (heads at the same place): one line lower
        placed.append((x, ly))
        ring, = ax.plot([x], [y], marker="o", markersize=18, markerfacecolor="none", markeredgewidth=2.5,
                        markeredgecolor=_rgb(tid))
        ring.set_path_effects(halo)
        ax.text(x + 0.03, ly, f"#{tid}", color=_rgb(tid), ha="left", va="center", fontsize=15, fontweight="bold",
                path_effects=halo)
    ax.set_title("Scene attention: where in-frame gaze points fell" + ("" if background is not None
                                                                         else " (no video frame given)"),
                 fontsize=15)
    fig.tight_layout()
    return _png(fig)


def thumbnails_png(analysis: GazeAnalysis, *, background: np.ndarray | None = None,
                   aspect: float = 9 / 16, columns: int = 2) -> bytes:
    """One small density map per person (in-frame gaze points only), ``columns`` per row."""
    canvas = _canvas(background, aspect)
    h, w = canvas.shape[:2]
    people = analysis.people
    cols = min(columns, max(1, len(people)))
    rows = max(1, -(-len(people) // cols))
    cell_w = 3.6
    fig = _figure(cell_w * cols, rows * (cell_w * h / w + 0.45))
    for k, p in enumerate(people):
        ax = fig.add_subplot(rows, cols, k + 1)
        pts = analysis.gaze_points_norm.get(p.track_id, np.zeros((0, 2)))
        _overlay(ax, canvas, pts, sigma_frac=0.03)
        ax.set_title(f"#{p.track_id}  ({len(pts)} in-frame points)", color=tuple(c * 0.8 for c in _rgb(p.track_id)),
                     fontsize=12, fontweight="bold")
        for spine in ax.spines.values():
            spine.set_edgecolor(_rgb(p.track_id))
            spine.set_linewidth(2)
    fig.tight_layout()
    return _png(fig)
