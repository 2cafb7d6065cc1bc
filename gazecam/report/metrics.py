"""The report's per-person columns: one list shared by the HTML people table and ``people.csv``.

Add a :class:`PersonMetric` to :data:`PERSON_METRICS` and it appears in both (in that order, after the
track id).  No plotting, no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..analysis import PersonTimes

__all__ = ["PersonMetric", "PERSON_METRICS"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonMetric:
    """One per-person column: ``key`` (the CSV column), ``title`` (the HTML header), ``seconds`` (the value
    for one person), ``share`` (whether the HTML also shows it as a % of the person's visible time)."""

    key: str
    title: str
    seconds: Callable[[PersonTimes], float]
    share: bool = True


#: The per-person columns, in order (after the track id).
PERSON_METRICS: tuple[PersonMetric, ...] = (
    PersonMetric(key="visible_s", title="visible", seconds=lambda p: p.visible_s, share=False),
    PersonMetric(key="looking_at_people_s", title="looking at people", seconds=lambda p: p.people_s),
    PersonMetric(key="scene_s", title="looking at the scene", seconds=lambda p: p.scene_s),
    PersonMetric(key="out_of_frame_s", title="looking out of frame", seconds=lambda p: p.out_of_frame_s),
)
