"""A human coder next to gazecam: the timeline picture, the score tables, the ``gazecam agree`` page.

:func:`human_timeline_png` draws, per matched person, gazecam's labels with the human coder's under them
(compared frames only) and marks the frames where they differ; :func:`agreement_html` is the tables and the
picture as an HTML fragment (the report's "Human coder" part, :func:`human_section_html`);
:func:`render_agreement_html` is the whole ``gazecam agree -o`` page.  Numbers: :mod:`gazecam.agreement`.
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from typing import TYPE_CHECKING

import numpy as np

from ..agreement import OTHER, Agreement, Scores

if TYPE_CHECKING:  # pragma: no cover
    from .section import ReportSection

__all__ = ["human_timeline_png", "agreement_html", "human_section_html", "render_agreement_html"]

_OTHER_COLOR = "#dcdcdc"
_UNMAPPED = ("#5a5a5a", "#8c6d31", "#637939", "#7b4173")
_DIFF_COLOR = "#d62728"


def _colors(agreement: Agreement) -> dict[str, object]:
    from ..render import color_for
    from .aoi import aoi_color

    out: dict[str, object] = {OTHER: _OTHER_COLOR}
    for i, name in enumerate(agreement.aoi_names):
        out[name] = aoi_color(i)
    labels = {lb for p in agreement.people for lb in (*p.human, *p.gazecam)}
    for lb in labels:
        if lb.startswith("#") and lb[1:].isdigit():
            r, g, b = color_for(int(lb[1:]))
            out[lb] = (r / 255, g / 255, b / 255)
    for i, (value, _n) in enumerate(agreement.unmapped_values):
        out.setdefault(value, _UNMAPPED[i % len(_UNMAPPED)])
    return out


def _label_text(label: str, agreement: Agreement) -> str:
    if label.startswith("#") or label == OTHER:
        return label
    return f"AOI {label}" if label in agreement.aoi_names else f"'{label}' (human only)"


def human_timeline_png(agreement: Agreement) -> bytes:
    """Per person: gazecam's row, the human's row under it, red ticks where they differ; blank: not compared."""
    from matplotlib.patches import Patch

    from .figures import figure_png, new_figure, time_axis

    colors = _colors(agreement)
    dt = agreement.frame_duration_s
    n = len(agreement.people)
    fig = new_figure(10.5, 1.5 + 1.05 * max(n, 1))
    ax = fig.add_subplot(1, 1, 1)
    ticks, names = [], []
    for k, p in enumerate(agreement.people):
        base = (n - 1 - k) * 3.0
        for row, labels in ((base + 1.0, p.gazecam), (base, p.human)):
            i = 0
            while i < len(labels):
                j = i
                while (j + 1 < len(labels) and labels[j + 1] == labels[i]
                       and p.times_s[j + 1] - p.times_s[j] < 1.5 * dt):
                    j += 1
                start = float(p.times_s[i])
                ax.broken_barh([(start, float(p.times_s[j]) + dt - start)], (row - 0.36, 0.72),
                               facecolors=colors.get(labels[i], _OTHER_COLOR), linewidth=0)
                i = j + 1
        diff = np.array([h != g for h, g in zip(p.human, p.gazecam)], bool)
        if diff.any():
            ax.vlines(p.times_s[diff] + dt / 2, base + 0.4, base + 0.6, color=_DIFF_COLOR, linewidth=1.2)
        ticks += [base + 1.0, base]
        names += [f"#{p.track_id} gazecam", f"#{p.track_id} human"]
    ax.set_yticks(ticks, names)
    ax.set_ylim(-0.7, 3.0 * (n - 1) + 1.7 if n else 1)
    lo, hi = agreement.span_s
    ax.set_xlim(lo, max(hi, lo + dt))
    time_axis(ax)
    shown = {lb for p in agreement.people for lb in (*p.human, *p.gazecam)}
    handles = [Patch(color=c, label=_label_text(lb, agreement).replace("$", r"\$")) for lb, c in colors.items()
               if lb in shown]
    handles.append(Patch(color=_DIFF_COLOR, label="differ"))
    ax.set_title("gazecam (upper row) and the human coder (lower row), compared frames", pad=8)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), frameon=False, fontsize=9)
    rows = -(-len(handles) // 7)
    fig.tight_layout(rect=(0, 0.3 * rows / fig.get_figheight(), 1, 1))
    return figure_png(fig)


def _num(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "&ndash;"
    return f"{100 * v:.1f} %" if pct else f"{v:.3f}"


def _scores_row(who: str, tier: str, s: Scores, cell: str = "td") -> str:
    cells = [who, escape(tier), str(s.frames), _num(s.agreement, True), _num(s.kappa), str(s.not_coded),
             str(s.not_seen)]
    return "<tr>" + "".join(f"<{cell}>{c}</{cell}>" for c in cells) + "</tr>"


def _confusion_html(title: str, s: Scores, agreement: Agreement) -> str:
    c = s.confusion
    if not c.labels:
        return ""
    top = max((v for row in c.counts for v in row), default=1) or 1
    head = "".join(f"<th>{escape(_label_text(lb, agreement))}</th>" for lb in c.labels)
    rows = []
    for lb, row in zip(c.labels, c.counts):
        cells = []
        for j, v in enumerate(row):
            alpha = 0.08 + 0.6 * v / top if v else 0
            tint = "46,125,50" if lb == c.labels[j] else "198,40,40"
            cells.append(f"<td style='background:rgba({tint},{alpha:.2f})'>{v}</td>")
        rows.append(f"<tr><td class='txt'>{escape(_label_text(lb, agreement))}</td>{''.join(cells)}</tr>")
    return (f"<div class='card'><b>{escape(title)}</b> <span class='pct'>frames; rows: human, columns: gazecam"
            f"</span><table class='compact'><tr><th>human \\ gazecam</th>{head}</tr>{''.join(rows)}</table></div>")


def agreement_html(agreement: Agreement) -> str:
    """Scores per person and pooled, events, confusion matrices, the timeline picture (an HTML fragment)."""
    from .page import _img

    a = agreement
    rows = [_scores_row(f"#{p.track_id}", p.tier, p.scores) for p in a.people]
    rows.append(_scores_row("all", "pooled over people", a.pooled, "th"))
    table = ("<table><tr><th>person</th><th>human tier</th><th>frames compared</th><th>agreement</th>"
             "<th>Cohen's kappa</th><th>not coded</th><th>not seen</th></tr>" + "".join(rows) + "</table>")
    ev = "".join(f"<tr><td>{escape(e.kind)}</td><td>{e.human}</td><td>{e.gazecam}</td><td>{_num(e.precision)}</td>"
                 f"<td>{_num(e.recall)}</td><td>{_num(e.f1)}</td></tr>" for e in a.events)
    events = ("<table><tr><th>target kind</th><th>human events</th><th>gazecam events</th><th>precision</th>"
              "<th>recall</th><th>F1</th></tr>" + ev + "</table>")
    notes = [(f"Human coding: {escape(a.source)}; frames of {a.frame_duration_s * 1000:.1f} ms compared in "
              f"{a.span_s[0]:.2f}–{a.span_s[1]:.2f} s (the span the human coded). <i>Not coded</i>: frames where "
              "gazecam saw the person outside that span; <i>not seen</i>: frames inside it where gazecam did not "
              "see the person. Neither is compared.")]
    if a.unmapped_values:
        notes.append("Human values that are none of gazecam's categories (compared as they are, never agreeing; "
                     "map them with <code>--value HUMAN=GAZECAM</code>): "
                     + ", ".join(f"'{escape(v)}' ({n} frames)" for v, n in a.unmapped_values))
    if a.ignored_tiers:
        notes.append("Tiers not matched to a person (ignored): " + ", ".join(f"'{escape(t)}'" for t in a.ignored_tiers))
    parts = [f"<div class='card'>{table}<ul class='notes'>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul></div>",
             (f"<figure class='card'>{_img(human_timeline_png(a), 'gazecam and human timelines')}<figcaption>"
              "Each person's labels per compared frame: gazecam above, the human coder below; red ticks mark "
              "frames where they differ; gaps are frames not compared.</figcaption></figure>"),
             ("<h3>Events</h3><div class='card'>" + events + "<p class='pct'>An event is a run of one target; it "
              "matches when it overlaps an event of the other coder with the same target by at least half of the "
              "shorter one. Precision: gazecam's events that match; recall: the human's events that match.</p></div>"),
             ("<h3>Confusion matrices</h3><div class='grid2'>" + _confusion_html("pooled", a.pooled, a)
              + "".join(_confusion_html(f"#{p.track_id} ({p.tier})", p.scores, a) for p in a.people) + "</div>")]
    return "\n".join(parts)


def human_section_html(section: "ReportSection") -> str:
    """The report's "Human coder" part of a video (empty without ``--human``)."""
    agreement = getattr(section, "human", None)
    if agreement is None:
        return ""
    return "<h3>Human coder</h3>" + agreement_html(agreement)


def render_agreement_html(agreement: Agreement, *, records: str = "") -> str:
    """The whole ``gazecam agree`` page (self-contained, the report's style)."""
    from .. import __version__
    from .page import _CSS

    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    title = f"Agreement: {agreement.source}"
    p = agreement.pooled
    head = (f"<h1>{escape(title)}</h1><p class='sub'>gazecam {escape(__version__)} · {when} · records: "
            f"{escape(records)}</p><div class='card facts'>"
            f"<div><b>frames compared</b><span>{p.frames}</span></div>"
            f"<div><b>agreement</b><span>{_num(p.agreement, True)}</span></div>"
            f"<div><b>Cohen's kappa</b><span>{_num(p.kappa)}</span></div>"
            f"<div><b>people</b><span>{len(agreement.people)}</span></div></div>")
    rules = ("<footer>Rules: a frame's human label is the annotation covering its midpoint (time + half a frame), "
             "'other' when none; gazecam's label is the looked-at person (#ID), else the AOI its gaze point is in, "
             "else 'other'. Kappa: Cohen's, over the target categories.</footer>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
            + head + agreement_html(agreement) + rules + "</main></body></html>\n")
