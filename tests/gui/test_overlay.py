"""Overlay toggles and re-basing a result onto a newer frame."""

from __future__ import annotations

import numpy as np
from gui_fakes import FakeDetector, FakeModel

from gazecam.gaze import GazeStage
from gazecam.gui.overlay import Overlay, rebase_result
from gazecam.gui.settings import ViewSettings
from gazecam.types import Frame


def _result(h=120, w=160):
    frame = Frame(image=np.full((h, w, 3), 90, np.uint8), index=0, timestamp_s=0.0)
    return GazeStage(model=FakeModel(), inout_threshold=0.1).process(frame, FakeDetector().detect(frame))


def test_toggles_change_the_drawing():
    result = _result()
    raw = result.frame.image
    all_on = Overlay(ViewSettings()).draw(raw, result)
    assert not np.array_equal(all_on, raw) and np.array_equal(raw, np.full_like(raw, 90))  # input untouched
    off = Overlay(ViewSettings(arrows=False, heatmap=False, boxes=False, ids=False, out_of_frame=False,
                               looking_at=False)).draw(raw, result)
    assert np.array_equal(off, raw)
    only_heat = Overlay(ViewSettings(arrows=False, boxes=False, out_of_frame=False, looking_at=False))
    assert not np.array_equal(only_heat.draw(raw, result), raw)
    only_heat.set_view(ViewSettings(arrows=False, boxes=False, out_of_frame=False, looking_at=False,
                                    heatmap_opacity=0.0))
    assert np.array_equal(only_heat.draw(raw, result), raw)


def test_banner_for_untrained_weights():
    result = _result()
    ov = Overlay(ViewSettings(arrows=False, heatmap=False, boxes=False, out_of_frame=False, looking_at=False))
    ov.set_model(released=False, note="random")
    assert ov.banner.startswith("UNTRAINED WEIGHTS")
    assert not np.array_equal(ov.draw(result.frame.image, None), result.frame.image)
    ov.set_model(released=True, note="")
    assert ov.banner == "" and np.array_equal(ov.draw(result.frame.image, None), result.frame.image)


def test_rebase_onto_newer_frame():
    result = _result()
    newer = Frame(image=np.zeros((120, 160, 3), np.uint8), index=5, timestamp_s=0.5)
    moved = rebase_result(result, newer)
    assert moved.frame is newer and np.array_equal(moved.heatmaps, result.heatmaps)
    assert rebase_result(result, Frame(image=np.zeros((60, 80, 3), np.uint8), index=6, timestamp_s=0.6)) is None
