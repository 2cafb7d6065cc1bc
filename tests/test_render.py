"""Annotators and GazeRenderer: RGB in/out, what is drawn where, no torch import."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from gazecam.render import (
    PALETTE,
    BannerAnnotator,
    GazeArrowAnnotator,
    GazeRenderer,
    HeadBoxAnnotator,
    HeatmapAnnotator,
    LookingAtAnnotator,
    OutOfFrameAnnotator,
    color_for,
    untrained_banner_text,
)
from gazecam.types import Frame, GazeResult, HeadBoxes

H, W = 240, 320


def _result(*, in_frame=(True, True), looking_at=(-1, -1), mutual=(False, False), size=(H, W), image=None):
    h, w = size
    image = np.full((h, w, 3), 90, np.uint8) if image is None else image
    xyxy = np.array([[0.1 * w, 0.1 * h, 0.25 * w, 0.3 * h], [0.7 * w, 0.1 * h, 0.85 * w, 0.3 * h]], np.float32)
    heat = np.zeros((2, 64, 64), np.float32)
    heat[0, 40:48, 40:48] = 1.0  # person 1 looks at the lower right
    heat[1, 40:48, 8:16] = 0.8  # person 2 at the lower left
    pts = np.array([[44 / 64, 44 / 64], [12 / 64, 44 / 64]], np.float32)
    return GazeResult(frame=Frame(image=image, index=0, timestamp_s=0.0),
                      heads=HeadBoxes(xyxy=xyxy, image_size=(h, w), track_ids=np.array([1, 2])),
                      heatmaps=heat, points_norm=pts, inout=np.array([0.9, 0.8], np.float32),
                      in_frame=np.array(in_frame), looking_at=np.array(looking_at), mutual=np.array(mutual))


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


def test_colors_are_deterministic_per_id():
    assert color_for(3) == color_for(3) == PALETTE[3]
    assert color_for(1) != color_for(2)
    assert color_for(-1) not in PALETTE


@pytest.mark.parametrize("mode", ["combined", "per_person"])
def test_heatmap_colours_where_people_look_only(mode):
    r = _result()
    out = HeatmapAnnotator(mode=mode).annotate(r.frame.image.copy(), r)
    ch = _changed(out, r.frame.image)
    assert ch[int(44 / 64 * H), int(44 / 64 * W)] and ch[int(44 / 64 * H), int(12 / 64 * W)]
    assert not ch[5, 5] and not ch[H // 2 - 40, W // 2]  # far from both heat blobs
    if mode == "per_person":  # tinted towards the track colours
        px = out[int(44 / 64 * H), int(44 / 64 * W)].astype(int)
        assert np.argmax(px) == np.argmax(color_for(1))


def test_heatmap_region_blend_equals_full_frame_resize():
    """The region-only upsampling gives the same picture as resizing the 64x64 grid to the whole frame."""
    r = _result(size=(359, 641), image=np.full((359, 641, 3), 90, np.uint8))
    ann = HeatmapAnnotator(mode="per_person", opacity=0.6)
    out = ann.annotate(r.frame.image.copy(), r)
    alpha, color = ann._alpha_color(r)
    a = cv2.resize(alpha * 0.6, (641, 359), interpolation=cv2.INTER_LINEAR)[..., None]
    c = cv2.resize(color.astype(np.uint8), (641, 359), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    ref = r.frame.image * (1 - a) + c * a
    assert np.abs(out.astype(np.float32) - ref).max() <= 3.0  # interpolation rounding only


def test_out_of_frame_heads_get_a_marker_and_no_arrow_or_heatmap():
    r = _result(in_frame=(False, True))
    base = r.frame.image
    heat = HeatmapAnnotator().annotate(base.copy(), r)
    assert not _changed(heat, base)[int(44 / 64 * H), int(44 / 64 * W)]  # person 1's target not drawn
    arrows = GazeArrowAnnotator().annotate(base.copy(), r)
    assert not _changed(arrows, base)[int(44 / 64 * H), int(44 / 64 * W)]
    assert _changed(arrows, base)[int(44 / 64 * H), int(12 / 64 * W)]
    marked = OutOfFrameAnnotator().annotate(base.copy(), r)
    cx, cy = r.heads.centers_xy[0]
    assert _changed(marked, base)[int(cy) - 5:int(cy) + 5, int(cx) - 5:int(cx) + 5].any()
    assert not _changed(marked, base)[:, W // 2:].any()  # person 2 (right half) not marked


def test_boxes_arrows_and_looking_at_labels_use_track_colours():
    r = _result(looking_at=(2, 1), mutual=(True, True))
    base = r.frame.image
    boxed = HeadBoxAnnotator().annotate(base.copy(), r)
    x0, y0, x1, y1 = (int(v) for v in r.heads.xyxy[1])
    assert tuple(boxed[(y0 + y1) // 2, x1]) == color_for(2)  # right edge of box 2
    arrows = GazeArrowAnnotator().annotate(base.copy(), r)
    p = r.points_xy[0].round().astype(int)
    assert tuple(arrows[p[1], p[0]]) == (255, 255, 255)  # the white centre of the gaze dot
    looking = LookingAtAnnotator().annotate(base.copy(), r)
    below = _changed(looking, base)[int(r.heads.xyxy[0, 3]):int(r.heads.xyxy[0, 3]) + 20]
    assert below.any()  # "<-> #2" chip under person 1
    mid = r.heads.centers_xy.mean(axis=0).astype(int)
    assert tuple(looking[mid[1], mid[0]]) == (255, 255, 255)  # mutual link between the two heads


def test_banner_at_the_bottom_leaves_the_top_untouched():
    img = np.full((H, W, 3), 200, np.uint8)
    out = BannerAnnotator("UNTRAINED WEIGHTS - a very long note that must be shrunk to fit").annotate(img.copy())
    ch = _changed(out, img)
    assert ch[-10:].any() and not ch[: H // 2].any()
    assert BannerAnnotator("").annotate(img.copy()).tobytes() == img.tobytes()
    assert untrained_banner_text(released=True) == ""
    assert "UNTRAINED" in untrained_banner_text(released=False, note="random")


def test_renderer_toggles_and_copy():
    r = _result()
    ren = GazeRenderer(heatmaps=False, arrows=False, boxes=False, out_of_frame=False, looking_at=False)
    out = ren.render(r)
    assert out is not r.frame.image and out.tobytes() == r.frame.image.tobytes()
    ren.heatmaps, ren.arrows, ren.boxes, ren.out_of_frame, ren.looking_at = True, True, True, True, True
    ren.heatmap_mode = "per_person"
    ren.banner = "UNTRAINED WEIGHTS"
    before = r.frame.image.copy()
    out = ren.render(r)
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    assert r.frame.image.tobytes() == before.tobytes()  # the frame is not drawn on
    assert _changed(out, before).mean() > 0.01
    with pytest.raises(ValueError, match="mode"):
        ren.heatmap_mode = "rainbow"


@pytest.mark.parametrize("size", [(120, 160), (359, 641), (2160, 3840)])
def test_renders_small_odd_and_4k_frames(size):
    r = _result(size=size, looking_at=(2, -1))
    out = GazeRenderer(banner="UNTRAINED WEIGHTS").render(r)
    assert out.shape == size + (3,)


def test_empty_result_draws_only_the_banner():
    img = np.zeros((H, W, 3), np.uint8)
    r = GazeResult(frame=Frame(image=img, index=0, timestamp_s=0.0), heads=HeadBoxes.empty((H, W)),
                   heatmaps=np.zeros((0, 64, 64), np.float32), points_norm=np.zeros((0, 2), np.float32), inout=None,
                   in_frame=np.zeros(0, bool), looking_at=np.zeros(0, np.int64), mutual=np.zeros(0, bool))
    assert GazeRenderer().render(r).tobytes() == img.tobytes()


def test_render_module_does_not_import_torch():
    code = "import sys, gazecam.render, gazecam.social, gazecam.types; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
