"""AOIs in gazecam live: drawn with the mouse (saved with the drawn coordinates, reloaded), moved, renamed,
deleted; lit in the overlay and counted per person in the people panel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PyQt6.QtCore import QPoint, Qt

from gazecam.aoi import load_aois
from gazecam.gui.sources import SourceSpec

from test_window import WAIT_MS, open_paused_at_start, wait_result


def widget_point(view, x_norm: float, y_norm: float) -> QPoint:
    """Where a normalised frame point is on the VideoView (as it paints: scaled to fit, centred)."""
    img = view.image()
    iw, ih = img.width(), img.height()
    scale = min(view.width() / iw, view.height() / ih)
    ox, oy = (view.width() - iw * scale) / 2, (view.height() - ih * scale) / 2
    return QPoint(round(ox + x_norm * iw * scale), round(oy + y_norm * ih * scale))


def drag(qtbot, view, a: QPoint, b: QPoint) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=a)
    mid = QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2)
    qtbot.mouseMove(view, pos=mid)
    qtbot.mouseMove(view, pos=b)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=b)


def test_draw_save_reload_move_rename_delete(qtbot, make_window, clip, tmp_path):
    path = tmp_path / "aois.json"  # does not exist yet: the first drawn AOI creates it
    win = make_window(aoi_path=path)
    open_paused_at_start(qtbot, win, clip)
    wait_result(qtbot, win)
    editor = win.aoi_editor
    editor.ask_name = lambda title, default: "screen"
    win.actions_by_name["aoi_edit"].setChecked(True)
    assert editor.editing

    view = win.video
    a, b = widget_point(view, 0.15, 0.42), widget_point(view, 0.40, 0.65)
    drag(qtbot, view, a, b)
    (x0, y0), (x1, y1) = editor.to_norm(a), editor.to_norm(b)  # the drawn corners, as the editor maps them
    assert (x0, y0, x1, y1) == pytest.approx((0.15, 0.42, 0.40, 0.65), abs=0.01)
    saved = load_aois(path)
    assert saved.names == ("screen",)
    assert saved.aois[0].xyxy == pytest.approx((x0, y0, x1, y1), abs=1e-6)  # saved with the drawn coordinates
    assert win.overlay.renderer.aois.names == ("screen",)

    # a click (no drag) draws nothing; a drag inside the AOI moves it
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=widget_point(view, 0.7, 0.8))
    assert load_aois(path).names == ("screen",)
    drag(qtbot, view, widget_point(view, 0.2, 0.5), widget_point(view, 0.3, 0.5))
    dx = editor.to_norm(widget_point(view, 0.3, 0.5))[0] - editor.to_norm(widget_point(view, 0.2, 0.5))[0]
    moved = load_aois(path).aois[0].xyxy
    assert moved == pytest.approx((x0 + dx, y0, x1 + dx, y1), abs=1e-6)

    # double-click renames (the name dialog answers "monitor"), delete removes; the file follows every edit
    editor.ask_name = lambda title, default: "monitor"
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=widget_point(view, 0.35, 0.5))
    assert load_aois(path).names == ("monitor",)
    editor.ask_name = lambda title, default: "door"
    drag(qtbot, view, widget_point(view, 0.6, 0.1), widget_point(view, 0.9, 0.3))
    assert load_aois(path).names == ("monitor", "door")
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=widget_point(view, 0.75, 0.2))  # select "door"
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert load_aois(path).names == ("monitor",)
    assert not list(tmp_path.glob("*.partial*"))

    # reloaded in a new window (gazecam live --aoi FILE)
    win2 = make_window(aois=load_aois(path), aoi_path=path)
    assert win2.overlay.renderer.aois.names == ("monitor",)
    assert win2.aoi_editor.aois.aois[0].xyxy == pytest.approx(moved, abs=1e-6)


def test_aoi_looked_at_is_lit_and_counted(qtbot, make_window, clip, tmp_path):
    """FakeModel: #2 looks at about (0.25, 0.5), #1 out of frame; an AOI there is lit and gets #2's seconds."""
    from gazecam.aoi import parse_aois

    aois = parse_aois({"aois": [{"name": "screen", "xyxy_norm": [0.1, 0.4, 0.45, 0.7]},
                                {"name": "door",
                                 "polygon_norm": [[0.55, 0.55], [0.9, 0.55], [0.85, 0.95], [0.6, 0.95]]}]})
    win = make_window(source=SourceSpec("file", str(clip)), aois=aois, aoi_path=tmp_path / "aois.json")
    qtbot.waitUntil(lambda: win.source_info is not None, timeout=WAIT_MS)
    wait_result(qtbot, win)

    def screen_seconds() -> float:
        rows = {r[0]: r for r in win.people.rows()}
        text = rows.get("#2", ("", "", "", ""))[3]
        return float(text.split("screen ")[1].split(" s")[0]) if "screen " in text else 0.0

    qtbot.waitUntil(lambda: screen_seconds() > 0.3, timeout=WAIT_MS)
    rows = {r[0]: r for r in win.people.rows()}
    assert rows["#2"][2] == "AOI screen" and rows["#1"][2] == "out of frame"
    assert "door" not in rows["#2"][3]
    win.pause()
    qtbot.waitUntil(lambda: not win.playback.playing, timeout=WAIT_MS)
    win._draw()
    frame = win.annotated
    from gazecam.render import AOI_COLOR, AOI_LIT
    assert (frame == AOI_LIT).all(axis=2).any() and (frame == AOI_COLOR).all(axis=2).any()  # lit screen, plain door
    shot = Path(os.environ.get("GAZECAM_AOI_SCREENSHOT", tmp_path / "aoi_window.png"))
    assert win.grab().save(str(shot))
    assert shot.stat().st_size > 0
