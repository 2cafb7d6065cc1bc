"""The report's data: one :class:`ReportSection` per video, their :class:`ReportTotals`, the :class:`Report`.

A leaf of the report package: building (:mod:`.build`), the HTML page (:mod:`.html`) and its AOI and
human-coder parts (:mod:`.aoi`, :mod:`.human`) all read these types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..analysis import AnalysisParams, GazeAnalysis
from ..aoi import AOISet
from ..aoi_stats import AOIAnalysis
from ..coding import Coding
from ..records import RecordsMeta
from .inputs import RecordsSource, SkippedInput

if TYPE_CHECKING:  # pragma: no cover
    from ..agreement import Agreement

__all__ = ["ReportSection", "ReportTotals", "Report"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSection:
    """One video of the report."""

    source: RecordsSource
    analysis: GazeAnalysis
    records: int  # person-frame records read
    background: np.ndarray | None  # (H, W, 3) uint8 RGB frame for the attention maps, or None
    heads_norm: dict[int, tuple[float, float]]  # mean head centre per person (normalised)
    notes: tuple[str, ...] = ()
    aoi: AOIAnalysis | None = None  # areas of interest (gazecam.report.aoi), None when there are none
    aois: AOISet | None = None  # the AOI file's areas, normalised to this video's frame (None: names from records)
    coding: Coding | None = None  # what --elan / --events write (gazecam.coding), when asked for
    human: "Agreement | None" = None  # a human coder compared with these records (gazecam.agreement), if given

    def to_json(self) -> dict[str, object]:
        """The analysis' JSON; with AOIs each person also has ``aoi_s``, ``aoi_glances``, ``aoi_first_s``."""
        out = self.analysis.to_json()
        if self.aoi is not None:
            for person in out["people"]:  # type: ignore[union-attr]
                person.update(self.aoi.person_json(person["track_id"]))
        if self.human is not None:  # report --human: gazecam agree's numbers
            out["human"] = self.human.to_json()
        return out

    @property
    def meta(self) -> RecordsMeta | None:
        return self.source.meta

    @property
    def video_name(self) -> str:
        if self.source.video_path is not None:
            return str(self.source.video_path)
        if self.meta is not None and self.meta.source:
            return self.meta.source
        return self.source.label

    @property
    def aspect(self) -> float:
        """Height / width of the video (from the frame, the sidecar, or 16:9)."""
        if self.background is not None:
            return self.background.shape[0] / self.background.shape[1]
        if self.meta is not None and self.meta.width and self.meta.height:
            return self.meta.height / self.meta.width
        return 9 / 16


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportTotals:
    """Sums over every video of the report (person-seconds)."""

    videos: int
    duration_s: float
    people: int
    visible_s: float
    people_s: float  # looking at another person
    scene_s: float
    out_of_frame_s: float
    mutual_episodes: int
    mutual_s: float
    joint_episodes: int
    joint_s: float

    @classmethod
    def of(cls, analyses: Sequence[GazeAnalysis]) -> "ReportTotals":
        people = [p for a in analyses for p in a.people]
        return cls(videos=len(analyses), duration_s=sum(a.duration_s for a in analyses), people=len(people),
                   visible_s=sum(p.visible_s for p in people), people_s=sum(p.people_s for p in people),
                   scene_s=sum(p.scene_s for p in people), out_of_frame_s=sum(p.out_of_frame_s for p in people),
                   mutual_episodes=sum(len(a.mutual_gaze) for a in analyses),
                   mutual_s=sum(e.duration_s for a in analyses for e in a.mutual_gaze),
                   joint_episodes=sum(len(a.joint_attention) for a in analyses),
                   joint_s=sum(e.duration_s for a in analyses for e in a.joint_attention))


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Everything the HTML, JSON and CSV outputs show."""

    sections: tuple[ReportSection, ...]
    skipped: tuple[SkippedInput, ...]
    params: AnalysisParams
    totals: ReportTotals

    def to_json(self) -> dict[str, object]:
        """``people``, ``mutual_gaze``, ``joint_attention``; with several videos each item also names its ``video``."""
        if len(self.sections) == 1:
            return self.sections[0].to_json()
        out: dict[str, list] = {"people": [], "mutual_gaze": [], "joint_attention": []}
        for s in self.sections:
            for key, items in s.to_json().items():
                out[key].extend({"video": s.source.label, **item} for item in items)  # type: ignore[union-attr]
        return out
