"""Draws a result onto the newest frame with the pipeline's annotators, following the GUI toggles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..render import (
    BannerAnnotator,
    GazeArrowAnnotator,
    HeadBoxAnnotator,
    HeatmapAnnotator,
    LookingAtAnnotator,
    OutOfFrameAnnotator,
    untrained_banner_text,
)
from ..types import Frame, GazeResult
from .settings import ViewSettings

__all__ = ["Overlay", "rebase_result"]


def rebase_result(result: GazeResult, frame: Frame) -> GazeResult | None:
    """``result`` drawn on a newer ``frame`` (its heads and gaze as last known); None if sizes differ."""
    if result.frame is frame:
        return result
    if result.heads.image_size != (frame.height, frame.width):
        return None
    return replace(result, frame=frame)


class Overlay:
    """The annotators of :mod:`gazecam.render`, switched on and off by :class:`ViewSettings`."""

    def __init__(self, view: ViewSettings) -> None:
        self._arrow = GazeArrowAnnotator()
        self._out = OutOfFrameAnnotator()
        self._looking = LookingAtAnnotator()
        self._banner = BannerAnnotator("")
        self.view = view
        self.set_view(view)

    def set_view(self, view: ViewSettings) -> None:
        self.view = view
        self._heatmap = HeatmapAnnotator(mode="combined" if view.combined_heatmap else "per_person",
                                         opacity=view.heatmap_opacity)
        self._box = HeadBoxAnnotator(show_ids=view.ids)

    def set_model(self, *, released: bool, note: str = "") -> None:
        """Untrained-weights banner drawn into every frame (and so into recordings and snapshots).

        The frame gets the short text (legible on small frames); the window's banner shows ``note`` too.
        """
        self._banner.text = untrained_banner_text(released=released)

    def clear_model(self) -> None:
        self._banner.text = ""

    @property
    def banner(self) -> str:
        return self._banner.text

    def draw(self, image: np.ndarray, result: GazeResult | None) -> np.ndarray:
        """Annotated copy of ``image`` (H x W x 3 uint8 RGB); ``result`` None = only the banner."""
        out = image.copy()
        v = self.view
        if result is not None and len(result):
            if v.heatmap and v.heatmap_opacity > 0:
                self._heatmap.annotate(out, result)
            if v.looking_at:
                self._looking.annotate(out, result)
            if v.arrows:
                self._arrow.annotate(out, result)
            if v.boxes:
                self._box.annotate(out, result)
            if v.out_of_frame:
                self._out.annotate(out, result)
        self._banner.annotate(out, result)
        return out
