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

from collections import defaultdict
from functools import lru_cache

from ..analysis import (STATE_OUT, STATE_PERSON, STATE_SCENE, GazeAnalysis, PersonTimeline, PersonTimes,
                        attention_density)

__all__ = ["matrix_png", "timeline_png", "density_png", "thumbnails_png", "format_seconds", "shown_people",
           "SCENE_COLOR", "OUT_COLOR", "MAX_FIGURE_PEOPLE", "MAX_THUMBNAILS"]

SCENE_COLOR = "#8aa1b1"  # looking at the scene (an in-frame point that is not a person)
OUT_COLOR = "#f2b880"  # looking out of frame
MUTUAL_COLOR = "#d62728"
JOINT_COLOR = "#6a3d9a"
_DPI = 100
#: The most people a figure draws (:func:`shown_people`); every person is in the tables.
MAX_FIGURE_PEOPLE = 24
#: The most people with their own density thumbnail.
MAX_THUMBNAILS = 12
#: The most people whose looking-at matrix cells carry their numbers.
MAX_MATRIX_TEXT = 12
#: The most "looks at #id" entries in the timeline's legend.
MAX_LEGEND_TARGETS = 10


def format_seconds(v: float) -> str:
    """Seconds as the report prints them everywhere: 2 decimals below 10 s (one frame at 20 fps is 0.05 s)."""
    return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


@lru_cache(maxsize=1024)
def _rgb(track_id: int) -> tuple[float, float, float]:
    from ..render import color_for

    r, g, b = color_for(track_id)
    return (r / 255, g / 255, b / 255)


def new_figure(width_in: float, height_in: float, *, dpi: int = _DPI):
    """A white matplotlib figure of ``width_in`` x ``height_in`` inches (no pyplot, no global state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    fig.patch.set_facecolor("white")
    return fig


def figure_png(fig) -> bytes:
    """``fig`` as PNG bytes at its own dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
    return buf.getvalue()


def time_axis(ax) -> None:
    """The timelines' x axis: seconds, light vertical grid behind the bars, only the bottom spine."""
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


# --------------------------------------------------------------------------- who is drawn
def shown_people(analysis: GazeAnalysis, limit: int = MAX_FIGURE_PEOPLE) -> tuple[PersonTimes, ...]:
    """The ``limit`` people seen longest (ties: lower track id), in track-id order: those the figures draw.

    A video whose tracker handed out hundreds of ids would give unreadable (and slow) pictures; every
    person stays in the report's tables, JSON and CSV.
    """
    people = analysis.people
    if len(people) <= limit:
        return people
    longest = sorted(people, key=lambda p: (-p.visible_s, p.track_id))[:limit]
    return tuple(sorted(longest, key=lambda p: p.track_id))


# --------------------------------------------------------------------------- looking-at matrix
def matrix_png(analysis: GazeAnalysis) -> bytes:
    """Heatmap: row = looker, column = person looked at; colour = % of the looker's visible time.

    The :func:`shown_people` only; seconds and percentages are written in the cells up to
    :data:`MAX_MATRIX_TEXT` people (the HTML table beside it has the numbers).
    """
    people = shown_people(analysis)
    ids = [p.track_id for p in people]
    n = len(ids)
    pct = np.zeros((n, n))
    secs = np.zeros((n, n))
    for i, p in enumerate(people):
        for j, other in enumerate(ids):
            secs[i, j] = p.looking_at_s.get(other, 0.0)
            pct[i, j] = p.percent_of_visible(secs[i, j])
    side = min(7.5, 1.6 + 0.75 * max(n, 2))
    fig = new_figure(side + 1.2, side)
    ax = fig.add_subplot(1, 1, 1)
    shown = np.where(np.eye(n, dtype=bool), np.nan, pct)
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=max(1.0, float(np.nanmax(shown)) if n > 1 else 1.0))
    ax.set_facecolor("#eeeeee")
    labels = [f"#{t}" for t in ids]
    many = {} if n <= 12 else {"fontsize": 7}
    ax.set_xticks(range(n), labels, **many, **({} if n <= 12 else {"rotation": 90}))
    ax.set_yticks(range(n), labels, **many)
    for tick, tid in zip(ax.get_xticklabels() + ax.get_yticklabels(), ids + ids):
        tick.set_color(tuple(c * 0.8 for c in _rgb(tid)))
        tick.set_fontweight("bold")
    ax.set_xlabel("is looked at")
    ax.set_ylabel("looker")
    vmax = im.get_clim()[1]
    small = n > 6
    if n <= MAX_MATRIX_TEXT:
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
    more = len(analysis.people) - n
    ax.set_title("Who looks at whom" + (f" ({n} people seen longest; {more} more in the tables)" if more else ""),
                 **({"fontsize": 10} if more else {}))
    fig.tight_layout()
    return figure_png(fig)


# --------------------------------------------------------------------------- timelines
def _timeline_runs(line: PersonTimeline) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of one person's visible frames: (first, last) positions in the analysed frames, state, target.

    A run ends where the state or the target changes or where the person is missing for a frame.
    """
    idx, state, target = line.index, line.states, line.targets
    if len(idx) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty.astype(np.int8), empty
    cuts = np.flatnonzero((np.diff(idx) != 1) | (np.diff(state) != 0) | (np.diff(target) != 0)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(idx)]]) - 1
    return idx[starts], idx[ends], state[starts], target[starts]


def timeline_png(analysis: GazeAnalysis) -> bytes:
    """One row per person: bars coloured by the person looked at, scene, out of frame; blank = not visible.

    Mutual-gaze episodes are red brackets above the rows of both people, joint-attention episodes purple
    brackets below the rows involved.  The :func:`shown_people` only; all bars are one collection (drawing
    time grows with the number of runs, not with people times frames).
    """
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.patches import Patch

    people = shown_people(analysis)
    n = len(people)
    times = analysis.times_s
    dt = analysis.frame_duration_s or 1e-3
    fig = new_figure(10.5, 1.6 + (0.62 if n <= 12 else 0.3) * n)
    ax = fig.add_subplot(1, 1, 1)
    row = {p.track_id: n - 1 - i for i, p in enumerate(people)}  # first person on top
    half = 0.22 if n <= 12 else 0.3
    verts, colors = [], []
    looked_at: dict[int, float] = defaultdict(float)  # target -> seconds, for the legend
    for line in analysis.timelines:
        if line.track_id not in row:
            continue
        y = row[line.track_id]
        first, last, state, target = _timeline_runs(line)
        x0 = times[first]
        x1 = times[last] + dt
        for a, b, st, tg in zip(x0.tolist(), x1.tolist(), state.tolist(), target.tolist()):
            if st == STATE_PERSON:
                color = _rgb(tg)
                looked_at[tg] += b - a
            else:
                color = SCENE_COLOR if st == STATE_SCENE else OUT_COLOR if st == STATE_OUT else "white"
            verts.append(((a, y - half), (b, y - half), (b, y + half), (a, y + half)))
            colors.append(color)
    if verts:
        ax.add_collection(PolyCollection(verts, facecolors=colors, linewidths=0, antialiased=False))
    mark = 0.31 if n <= 12 else 0.38
    for episodes, offset, color in ((analysis.mutual_gaze, mark, MUTUAL_COLOR),
                                    (analysis.joint_attention, -mark, JOINT_COLOR)):
        segments = [((e.start_s, row[t] + offset), (e.end_s, row[t] + offset))
                    for e in episodes for t in e.track_ids if t in row]
        if segments:
            ax.add_collection(LineCollection(segments, colors=color, linewidths=3.5 if n <= 12 else 2,
                                             capstyle="butt"))
    ax.set_yticks([row[p.track_id] for p in people], [f"#{p.track_id}" for p in people],
                  **({} if n <= 12 else {"fontsize": 7}))
    for tick, p in zip(ax.get_yticklabels(), people):
        tick.set_color(tuple(c * 0.8 for c in _rgb(p.track_id)))
        tick.set_fontweight("bold")
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(analysis.start_s, max(analysis.end_s, analysis.start_s + dt))
    time_axis(ax)
    targets = sorted(looked_at, key=lambda t: (-looked_at[t], t))
    handles = [Patch(color=_rgb(t), label=f"looks at #{t}") for t in sorted(targets[:MAX_LEGEND_TARGETS])]
    if len(targets) > MAX_LEGEND_TARGETS:
        handles.append(Patch(color="#cccccc", label=f"{len(targets) - MAX_LEGEND_TARGETS} others (their colour)"))
    handles += [Patch(color=SCENE_COLOR, label="scene"), Patch(color=OUT_COLOR, label="out of frame"),
                Patch(facecolor="white", edgecolor="#bbbbbb", label="not visible"),
                Patch(color=MUTUAL_COLOR, label="mutual gaze"), Patch(color=JOINT_COLOR, label="joint attention")]
    more = len(analysis.people) - n
    ax.set_title("What each person looks at, over time" + (f" ({n} people seen longest; {more} more in the tables)"
                                                           if more else ""), pad=8)
    ncol = len(handles) if len(handles) <= 8 else 6
    fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, fontsize=9)
    legend_rows = -(-len(handles) // ncol)
    fig.tight_layout(rect=(0, 0.28 * legend_rows / fig.get_figheight(), 1, 1))
    return figure_png(fig)


# --------------------------------------------------------------------------- density maps
#: Height / width of the drawn frame is kept within [1 / MAX_DRAWN_ASPECT, MAX_DRAWN_ASPECT] (figure sizes stay
#: bounded whatever a sidecar or a video says).
MAX_DRAWN_ASPECT = 4.0
_CANVAS_SIDE = 360  # the shorter side of the neutral canvas, pixels
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
        ratio = _drawn_aspect(aspect)  # the shorter side is _CANVAS_SIDE
        side = _CANVAS_SIDE
        h, w = (side, round(side / ratio)) if ratio <= 1 else (round(side * ratio), side)
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
    fig = new_figure(8.0, 8.0 * h / w + 0.6)
    ax = fig.add_subplot(1, 1, 1)
    points = [p for p in analysis.gaze_points_norm.values() if len(p)]
    _overlay(ax, canvas, np.concatenate(points) if points else np.zeros((0, 2)))
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=3.5, foreground="white")]
    placed: list[tuple[float, float]] = []
    drawn = {p.track_id for p in shown_people(analysis)}
    for tid, (x, y) in (heads_norm or {}).items():
        if tid not in drawn or not (0 <= x <= 1 and 0 <= y <= 1):
            continue  # a ring outside the picture would only push the figure's margins
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
    return figure_png(fig)


def thumbnails_png(analysis: GazeAnalysis, *, background: np.ndarray | None = None,
                   aspect: float = 9 / 16, columns: int = 2) -> bytes:
    """One small density map per person (in-frame gaze points only), ``columns`` per row.

    The :data:`MAX_THUMBNAILS` people seen longest (:func:`shown_people`).
    """
    canvas = _canvas(background, aspect)
    h, w = canvas.shape[:2]
    people = shown_people(analysis, MAX_THUMBNAILS)
    cols = min(columns, max(1, len(people)))
    rows = max(1, -(-len(people) // cols))
    cell_w = 3.6
    fig = new_figure(cell_w * cols, rows * (cell_w * h / w + 0.45))
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
    return figure_png(fig)
