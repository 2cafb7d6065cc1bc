"""The report's areas of interest: numbers per section, the AOI scene picture, AOI timelines, the HTML part.

:func:`section_aois` labels a video's records with the AOI file (or uses the labels the records carry) and
computes :class:`gazecam.aoi_stats.AOIAnalysis`; :func:`aoi_picture_png` outlines the AOIs on the scene
picture with every person's dwell; :func:`aoi_timeline_png` shows per person which AOI they looked at.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..aoi import AOISet
from ..aoi_stats import AOIAnalysis, analyze_aois, aoi_names, label_records
from ..analysis import AnalysisParams, GazeAnalysis
from ..records import GazeRecord, RecordsMeta
from .figures import figure_png, new_figure

if TYPE_CHECKING:  # pragma: no cover
    from .section import ReportSection

__all__ = ["section_aois", "aoi_picture_png", "aoi_timeline_png", "aoi_section_html", "aoi_color", "write_aoi_csv",
           "AOI_CSV"]

_DPI = 110  # the AOI figures' resolution

#: The AOI table of ``--csv-dir`` (written only when the report has AOIs).
AOI_CSV = "aoi.csv"

#: AOI colours in the report's pictures (matplotlib tab10 minus the person palette's reds).
_AOI_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
               "#7f7f7f", "#393b79")


def aoi_color(index: int) -> str:
    return _AOI_COLORS[index % len(_AOI_COLORS)]


def section_aois(records: Sequence[GazeRecord], analysis: GazeAnalysis, *, aois: AOISet | None,
                 meta: RecordsMeta | None, background: np.ndarray | None,
                 params: AnalysisParams
                 ) -> tuple[AOIAnalysis | None, AOISet | None, Sequence[GazeRecord]]:
    """The AOI numbers of one video (None: no AOIs), the AOIs normalised to its frame, the labelled records.

    With ``aois`` every record is labelled from its gaze point (older records without an ``aoi`` field too);
    without, the labels the records carry are used (and there are no outlines to draw).
    """
    norm = None
    if aois is not None:
        size = None
        if meta is not None and meta.width and meta.height:
            size = (meta.width, meta.height)
        elif background is not None:
            size = (background.shape[1], background.shape[0])
        norm = aois.normalised(size)
        records = label_records(records, norm)
    names = aoi_names(records, norm)
    if not names:
        return None, norm, records
    result = analyze_aois(records, names=names, frame_duration_s=analysis.frame_duration_s, params=params)
    return result, norm, records


def _person_rgb(track_id: int) -> tuple[float, float, float]:
    from ..render import color_for

    r, g, b = color_for(track_id)
    return (r / 255, g / 255, b / 255)


def aoi_picture_png(result: AOIAnalysis, aois: AOISet, *, background: np.ndarray | None = None,
                    aspect: float = 9 / 16, gaze_points: dict[int, np.ndarray] | None = None) -> bytes:
    """The scene (first frame dimmed, or a neutral canvas) with each AOI outlined and labelled with its name
    and each person's dwell; gaze points as small dots in each person's colour."""
    from matplotlib.patches import Polygon

    if background is not None:
        gray = background.astype(np.float32).mean(axis=2, keepdims=True) / 255.0
        canvas = np.repeat(0.3 + 0.6 * gray, 3, axis=2)
    else:
        canvas = np.full((360, max(1, round(360 / aspect)), 3), 0.93)
    h, w = canvas.shape[:2]
    fig = new_figure(7.2, 7.2 * h / w + 0.2, dpi=_DPI)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
    ax.imshow(canvas, extent=(0, 1, 1, 0), interpolation="bilinear")
    for tid, pts in sorted((gaze_points or {}).items()):
        pts = np.asarray(pts, np.float64).reshape(-1, 2)
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=6, color=_person_rgb(tid), alpha=0.55, linewidths=0)
    for i, aoi in enumerate(aois):
        color = aoi_color(i)
        ax.add_patch(Polygon(aoi.array, closed=True, fill=True, facecolor=color, alpha=0.16, edgecolor="none"))
        ax.add_patch(Polygon(aoi.array, closed=True, fill=False, edgecolor=color, linewidth=2.2))
        dwell = "  ".join(f"#{p.track_id} {p.dwell_s.get(aoi.name, 0.0):.2f} s" for p in result.people)
        when = ""
        if aoi.start_s is not None or aoi.end_s is not None:
            when = f"\n({aoi.start_s or 0:g} s to {'end' if aoi.end_s is None else f'{aoi.end_s:g} s'})"
        x0, y0, _, _ = aoi.xyxy
        ax.text(x0 + 0.005, y0 + 0.01, f"{aoi.name}{when}\n{dwell}", color="white", fontsize=8, va="top", ha="left",
                parse_math=False,
                bbox={"facecolor": color, "alpha": 0.85, "edgecolor": "none", "boxstyle": "round,pad=0.25"})
    ax.set_xlim(0, 1)
    ax.set_ylim(1, 0)
    ax.set_aspect(h / w)
    ax.set_xticks([])
    ax.set_yticks([])
    return figure_png(fig)


def aoi_timeline_png(result: AOIAnalysis) -> bytes:
    """One row per person: the AOI looked at in each frame (colour per AOI; blank: no AOI or not seen)."""
    from matplotlib.patches import Patch

    people = [p.track_id for p in result.people]
    height = 1.3 + 0.42 * max(1, len(people))
    fig = new_figure(9.5, height, dpi=_DPI)
    ax = fig.add_axes((0.07, 0.55 / height, 0.91, 1 - 1.05 / height))
    dt = result.frame_duration_s
    for row, tid in enumerate(people):
        line = result.timelines[tid]
        k = 0
        while k < len(line):  # runs of one AOI in consecutive analysed frames
            j = k
            while j + 1 < len(line) and line[j + 1] == line[k]:
                j += 1
            if line[k] >= 0:
                start = result.times_s[k]
                end = result.times_s[j] + dt
                ax.broken_barh([(start, end - start)], (row - 0.38, 0.76), color=aoi_color(int(line[k])))
            k = j + 1
    for g in result.glances:  # glance boundaries: thin ticks under the bars
        row = people.index(g.track_id)
        ax.plot([g.start_s, g.start_s], [row - 0.45, row + 0.45], color="#333333", linewidth=0.6)
    ax.set_yticks(range(len(people)), [f"#{t}" for t in people])
    ax.set_ylim(len(people) - 0.5, -0.5)
    if len(result.times_s):
        ax.set_xlim(result.times_s[0], result.times_s[-1] + dt)
    ax.set_xlabel("time (s)")
    ax.legend(handles=[Patch(color=aoi_color(i), label=n.replace("$", r"\$")) for i, n in enumerate(result.names)],
              loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(6, len(result.names)), frameon=False,
              fontsize=8)
    return figure_png(fig)


def _fmt(v: float | None) -> str:
    return "&ndash;" if v is None else f"{v:.2f} s"


def aoi_section_html(section: "ReportSection") -> str:
    """The "Areas of interest" part of a video's section (empty without AOIs)."""
    from .page import _img

    result, aois = section.aoi, section.aois
    if result is None:
        return ""
    rows = []
    for p in result.people:
        for i, n in enumerate(result.names):
            rows.append(f"<tr><td>#{p.track_id}</td><td class='txt'><span style='color:{aoi_color(i)}'>&#9632;</span> "
                        f"{escape(n)}</td><td>{_fmt(p.dwell_s[n])}</td><td>{p.glances[n]}</td>"
                        f"<td>{_fmt(p.first_s[n])}</td><td>{_fmt(p.mean_glance_s[n])}</td></tr>")
    table = ("<table><tr><th>person</th><th>AOI</th><th>dwell</th><th>glances</th><th>first glance</th>"
             "<th>mean glance</th></tr>" + "".join(rows) + "</table>")
    parts = ["<h3>Areas of interest</h3>"]
    if aois is not None:
        points = section.analysis.gaze_points_norm
        png = aoi_picture_png(result, aois, background=section.background, aspect=section.aspect, gaze_points=points)
        parts.append("<div class='grid2'>"
                     f"<figure class='card'>{_img(png, 'areas of interest')}<figcaption>Each AOI outlined with "
                     "every person's dwell in it; dots are in-frame gaze points.</figcaption></figure>"
                     f"<div class='card'>{table}</div></div>")
    else:
        parts.append(f"<div class='card'>{table}<p class='empty'>AOI names from the records; give the AOI file "
                     "to outline them.</p></div>")
    parts.append(f"<figure class='card'>{_img(aoi_timeline_png(result), 'AOI timeline per person')}<figcaption>"
                 "The AOI each person looked at over time; ticks mark where a glance starts (runs separated by at "
                 f"most {section.analysis.params.max_gap_s:g} s are one glance).</figcaption></figure>")
    return "\n".join(parts)


def write_aoi_csv(sections: Sequence["ReportSection"], folder: Path) -> Path | None:
    """``aoi.csv`` in ``folder``: one row per video, person and AOI (None, nothing written, without AOIs)."""
    import csv
    import io

    from ..records.meta import atomic_write

    rows = []
    for s in sections:
        if s.aoi is None:
            continue
        for p in s.aoi.people:
            for n in s.aoi.names:
                first, mean = p.first_s[n], p.mean_glance_s[n]
                rows.append([s.source.label, p.track_id, n, round(p.dwell_s[n], 4), p.glances[n],
                             "" if first is None else round(first, 4), "" if mean is None else round(mean, 4)])
    if not rows:
        return None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["video", "track_id", "aoi", "dwell_s", "glances", "first_glance_s", "mean_glance_s"])
    w.writerows(rows)
    target = Path(folder) / AOI_CSV
    atomic_write(target, buf.getvalue().encode("utf-8"))
    return target
