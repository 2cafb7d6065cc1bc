"""Draws a result onto the newest frame with the pipeline's annotators, following the GUI toggles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..render import GazeRenderer, weights_banner_text
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
    """The pipeline's :class:`~gazecam.render.GazeRenderer`, its toggles set from :class:`ViewSettings`."""

    def __init__(self, view: ViewSettings) -> None:
        self.renderer = GazeRenderer()
        self.view = view
        self.set_view(view)

    def set_view(self, view: ViewSettings) -> None:
        self.view = view
        r = self.renderer
        r.heatmaps, r.arrows, r.boxes, r.ids = view.heatmap, view.arrows, view.boxes, view.ids
        r.out_of_frame, r.looking_at = view.out_of_frame, view.looking_at
        r.heatmap_mode = "combined" if view.combined_heatmap else "per_person"
        r.heatmap_opacity = view.heatmap_opacity

    def set_model(self, *, released: bool, note: str = "") -> None:
        """Untrained-weights banner drawn into every frame (and so into recordings and snapshots).

        The frame gets the short text (legible on small frames); the window's banner shows ``note`` too.
        """
        self.renderer.banner = weights_banner_text(released=released, note=note)

    def clear_model(self) -> None:
        self.renderer.banner = ""

    @property
    def banner(self) -> str:
        return self.renderer.banner

    def draw(self, image: np.ndarray, result: GazeResult | None) -> np.ndarray:
        """Annotated copy of ``image`` (H x W x 3 uint8 RGB); ``result`` None = only the banner."""
        return self.renderer.annotate(image.copy(), result)
