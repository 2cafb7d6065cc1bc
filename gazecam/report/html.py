"""The report as one self-contained HTML page: inline CSS, pictures as ``data:`` URIs, no script, no network."""

from __future__ import annotations

import datetime as _dt
from html import escape
from pathlib import Path

from ..analysis import Episode, PersonTimes
from ..records.meta import atomic_write
from .page import _CSS, _img
from .section import Report, ReportSection
from .aoi import aoi_section_html
from .human import human_section_html
from .figures import density_png, format_seconds, matrix_png, thumbnails_png, timeline_png

__all__ = ["render_html", "write_html"]




def _chip(track_id: int) -> str:
    from ..render import color_for

    r, g, b = color_for(track_id)
    return f'<span class="chip" style="background:rgb({r},{g},{b})">#{track_id}</span>'


def _s(v: float) -> str:
    return format_seconds(v)


def _pct(p: PersonTimes, v: float) -> str:
    return f'{_s(v)}<span class="pct">{p.percent_of_visible(v):.0f} %</span>'


def _weights_banner(section: ReportSection) -> str:
    meta = section.meta
    if meta is None:
        model = section.source.model_hint
        what = f"model {escape(model)}" if model else "the model"
        return (f'<div class="banner caution">Unknown weights: these records carry no model information (no '
                f'<code>.meta.json</code> sidecar beside them), so whether {what} had the released weights '
                "cannot be told. Records of untrained weights are meaningless.</div>")
    if not meta.released:
        note = f" ({escape(meta.weights_note)})" if meta.weights_note else ""
        return (f'<div class="banner warn">UNTRAINED WEIGHTS: {escape(meta.model)} did not have the released '
                f"weights{note}. The gaze in these records is meaningless; this report only shows the "
                "analysis working.</div>")
    return f'<div class="banner ok">Released weights: {escape(meta.model)}.</div>'


def _facts(section: ReportSection) -> str:
    a, meta = section.analysis, section.meta
    model = meta.model if meta is not None else (section.source.model_hint or "not recorded")
    items = [("video", section.video_name), ("records", str(section.source.records_path)),
             ("duration", f"{a.duration_s:.2f} s ({a.start_s:.2f}–{a.end_s:.2f} s)"),
             ("frames with people", f"{a.frames} ({section.records} records)"),
             ("frame duration", f"{a.frame_duration_s * 1000:.1f} ms"),
             ("people", str(len(a.people))), ("model", model)]
    if meta is not None and meta.width and meta.height:
        items.append(("frame size", f"{meta.width}×{meta.height}" + (f" @ {meta.fps:.2f} fps" if meta.fps else "")))
    return '<div class="card facts">' + "".join(
        f"<div><b>{escape(k)}</b><span>{escape(v)}</span></div>" for k, v in items) + "</div>"


def _people_table(section: ReportSection) -> str:
    """One row per person, one column per :data:`gazecam.report.metrics.PERSON_METRICS` entry."""
    from .metrics import PERSON_METRICS

    rows = []
    for p in section.analysis.people:
        cells = "".join(f"<td>{_pct(p, m.seconds(p)) if m.share else _s(m.seconds(p))}</td>" for m in PERSON_METRICS)
        rows.append(f"<tr><td>{_chip(p.track_id)}</td>{cells}</tr>")
    head = "".join(f"<th>{escape(m.title)}</th>" for m in PERSON_METRICS)
    return f"<table><tr><th>person</th>{head}</tr>" + "".join(rows) + "</table>"


def _matrix_table(section: ReportSection) -> str:
    """The looking-at matrix as numbers, for the people the figures draw (all pairs are in the CSV/JSON)."""
    from .figures import shown_people

    people = shown_people(section.analysis)
    head = "".join(f"<th>{_chip(p.track_id)}</th>" for p in people)
    rows = []
    for p in people:
        cells = "".join("<td>—</td>" if q.track_id == p.track_id else f"<td>{_pct(p, p.looking_at_s.get(q.track_id, 0.0))}</td>"
                        for q in people)
        rows.append(f"<tr><td>{_chip(p.track_id)} →</td>{cells}</tr>")
    return f"<table class='compact'><tr><th>looker → looked at</th>{head}</tr>{''.join(rows)}</table>"


def _episodes_table(episodes: tuple[Episode, ...], *, joint: bool) -> str:
    if not episodes:
        return f'<p class="empty">No {"joint attention" if joint else "mutual gaze"} episodes.</p>'
    head = "<th>people</th><th>start</th><th>end</th><th>duration</th>" + ("<th>target</th>" if joint else "")
    rows = []
    for e in episodes:
        who = " ".join(_chip(t) for t in e.track_ids)
        target = ""
        if joint and e.target is not None:
            target = (f"<td class='txt'>{_chip(e.target.track_id)}</td>" if e.target.kind == "person"
                      and e.target.track_id is not None else f"<td class='txt'>{escape(e.target.label)}</td>")
        rows.append(f"<tr><td>{who}</td><td>{e.start_s:.2f} s</td><td>{e.end_s:.2f} s</td>"
                    f"<td>{e.duration_s:.2f} s</td>{target}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _section_html(section: ReportSection, index: int, several: bool) -> str:
    a = section.analysis
    title = escape(section.source.label if several else section.video_name)
    parts = [f'<h2 id="video-{index}">{title}</h2>' if several else "", _weights_banner(section), _facts(section)]
    if not a.people:
        parts.append('<div class="card"><p class="empty">No one was seen in these records: no person was '
                     "detected (or tracked) in any frame, so there is nothing to analyse.</p></div>")
    else:
        from .figures import MAX_THUMBNAILS, shown_people

        drawn = len(shown_people(a))
        only = (f" Only the {drawn} people seen longest are drawn here and below; all {len(a.people)} are in the "
                "People table, the JSON and the CSV tables (looking_at.csv has every pair)."
                if drawn < len(a.people) else "")
        if len(a.people) > MAX_THUMBNAILS:
            only += f" The per-person density maps show the {MAX_THUMBNAILS} people seen longest."
        parts.append(f"<h3>People</h3><div class='card'>{_people_table(section)}</div>")
        parts.append("<h3>Who looks at whom</h3><div class='grid2 wide-right'>"
                     f"<figure class='card'>{_img(matrix_png(a), 'looking-at matrix')}"
                     "<figcaption>Seconds each person (row) looked at each other person (column), and the share "
                     f"of the looker's visible time.{escape(only)}</figcaption></figure>"
                     f"<div class='card'>{_matrix_table(section)}</div></div>")
        parts.append(f"<h3>Over time</h3><figure class='card'>{_img(timeline_png(a), 'timeline per person')}"
                     "<figcaption>Each bar is what that person looked at; red marks mutual gaze, purple joint "
                     "attention. Gaps are frames where the person was not detected.</figcaption></figure>")
        parts.append("<div class='grid2'>"
                     f"<div><h3>Mutual gaze</h3><div class='card'>{_episodes_table(a.mutual_gaze, joint=False)}</div></div>"
                     f"<div><h3>Joint attention</h3><div class='card'>{_episodes_table(a.joint_attention, joint=True)}"
                     "</div></div></div>")
        canvas = "" if section.background is not None else " (no <code>--video</code> frame: a neutral canvas)"
        parts.append("<h3>Where attention went</h3><div class='grid2'>"
                     f"<figure class='card'>{_img(density_png(a, background=section.background, aspect=section.aspect, heads_norm=section.heads_norm), 'scene attention density')}"
                     f"<figcaption>Density of every in-frame gaze point; rings mark each person's mean head "
                     f"position{canvas}.</figcaption></figure>"
                     f"<figure class='card'>{_img(thumbnails_png(a, background=section.background, aspect=section.aspect), 'per-person density')}"
                     "<figcaption>The same, per person.</figcaption></figure></div>")
        parts.append(aoi_section_html(section))
        parts.append(human_section_html(section))
    if section.notes:
        parts.append("<ul class='notes'>" + "".join(f"<li>{escape(n)}</li>" for n in section.notes) + "</ul>")
    return "\n".join(parts)


def _totals_html(report: Report) -> str:
    t = report.totals
    rows = []
    for i, s in enumerate(report.sections):
        a = s.analysis
        rows.append(f"<tr><td class='txt'><a href='#video-{i}'>{escape(s.source.label)}</a></td>"
                    f"<td>{a.duration_s:.1f} s</td><td>{len(a.people)}</td>"
                    f"<td>{len(a.mutual_gaze)} / {_s(sum(e.duration_s for e in a.mutual_gaze))}</td>"
                    f"<td>{len(a.joint_attention)} / {_s(sum(e.duration_s for e in a.joint_attention))}</td></tr>")
    rows.append(f"<tr><th>all {t.videos} videos</th><th>{t.duration_s:.1f} s</th><th>{t.people}</th>"
                f"<th>{t.mutual_episodes} / {_s(t.mutual_s)}</th><th>{t.joint_episodes} / {_s(t.joint_s)}</th></tr>")
    vis = t.visible_s or 1.0
    share = (f"<p>Of {t.visible_s:.1f} person-seconds visible: {100 * t.people_s / vis:.0f} % looking at people, "
             f"{100 * t.scene_s / vis:.0f} % at the scene, {100 * t.out_of_frame_s / vis:.0f} % out of frame.</p>")
    return ("<h2>All videos</h2><div class='card'><table><tr><th>video</th><th>duration</th><th>people</th>"
            "<th>mutual gaze (episodes / time)</th><th>joint attention (episodes / time)</th></tr>"
            + "".join(rows) + f"</table>{share}</div>")


def render_html(report: Report) -> str:
    """The whole page."""
    from .. import __version__

    several = len(report.sections) > 1
    prm = report.params
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    title = "Social-gaze report" + ("" if several else f": {report.sections[0].video_name}")
    head = (f"<h1>{escape(title)}</h1><p class='sub'>gazecam {escape(__version__)} · {when} · episodes: gaps ≤ "
            f"{prm.max_gap_s:g} s joined, shorter than {prm.min_duration_s:g} s dropped · joint attention radius "
            f"{prm.joint_radius:g} (normalised)</p>")
    body = [head]
    if several:
        body.append(_totals_html(report))
    for i, s in enumerate(report.sections):
        body.append(_section_html(s, i, several))
    if report.skipped:
        body.append("<h2>Not in this report</h2><div class='card'><table><tr><th>input</th><th>reason</th></tr>"
                    + "".join(f"<tr><td class='txt'>{escape(s.input)}</td><td class='txt'>{escape(s.reason)}</td></tr>"
                              for s in report.skipped) + "</table></div>")
    body.append("<footer>Made by <code>gazecam report</code> from gazecam's per-person records. Looking at a person "
                "= the gaze point falls in that person's head box; scene = an in-frame point that is not a person."
                "</footer>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
            + "\n".join(body) + "</main></body></html>\n")


def write_html(report: Report, path: str | Path) -> Path:
    """The self-contained HTML report (pictures embedded), written to a temporary file renamed into place."""
    path = Path(path).expanduser()
    atomic_write(path, render_html(report).encode("utf-8"))
    return path
