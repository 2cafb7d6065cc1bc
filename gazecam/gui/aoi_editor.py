"""Areas of interest in ``gazecam live``: draw, move, rename and delete them with the mouse; per-AOI seconds.

* :class:`AOIEditor` watches the :class:`~gazecam.gui.widgets.VideoView` while editing is on (menu *Areas of
  interest*, key E): drag on empty video draws a rectangle (then asks its name), drag inside an AOI moves it,
  double-click renames it, right-click offers rename / delete, Delete removes the selected one.  Every change
  is saved to the AOI file (``--aoi FILE``; *Save AOIs as…* picks one) through :func:`gazecam.aoi.save_aois`.
* :class:`AOIPeopleTable`: the people panel with each person's current AOI and seconds per AOI.
* :func:`install_aoi_editor`: the window's one hook (editor, menu, overlay updates).

AOIs are kept normalised to the frame (pixel AOIs of a loaded file are converted at the first edit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QEvent, QObject, QPointF, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox, QTableWidgetItem, QWidget

from ..aoi import AOI, AOIFileError, AOISet, label_result, load_aois, save_aois
from ..aoi_stats import AOITotals
from ..types import GazeResult
from .widgets import PeopleTable, VideoView

__all__ = ["AOIEditor", "AOIPeopleTable", "install_aoi_editor"]

MIN_SIDE = 0.01  # a drawn rectangle narrower than this (normalised) is a click, not an AOI


class AOIEditor(QObject):
    """Mouse editing of AOIs on a :class:`VideoView`; ``changed`` after every edit (and while dragging)."""

    changed = pyqtSignal()
    saveFailed = pyqtSignal(str)

    def __init__(self, view: VideoView, *, aois: AOISet | None = None, path: Path | None = None,
                 ask_name: Callable[[str, str], str | None] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.path = None if path is None else Path(path).expanduser()
        self._aois: tuple[AOI, ...] = tuple(aois.aois) if aois is not None else ()
        self.ask_name = ask_name or self._dialog_name  # (title, default) -> name or None
        self.editing = False
        self.selected: str | None = None
        self.draft: AOI | None = None
        self._press: tuple[float, float] | None = None
        self._moving: AOI | None = None
        view.installEventFilter(self)

    # ------------------------------------------------------------------ state
    @property
    def aois(self) -> AOISet:
        return AOISet(aois=self._aois, source=str(self.path) if self.path else "<live AOIs>")

    def display_aois(self) -> AOISet | None:
        """What the overlay draws: the AOIs and the rectangle being drawn."""
        items = self._aois + ((self.draft,) if self.draft is not None else ())
        return AOISet(aois=items, source="<live AOIs>") if items else None

    def set_editing(self, on: bool) -> None:
        self.editing = bool(on)
        self.view.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.view.setFocusPolicy(Qt.FocusPolicy.ClickFocus if on else Qt.FocusPolicy.NoFocus)  # Delete key
        self.draft, self._press, self._moving = None, None, None
        self.changed.emit()

    def _normalised(self) -> tuple[AOI, ...]:
        image = self.view.image()
        if not any(a.pixels for a in self._aois) or image is None:
            return self._aois
        return self.aois.normalised((image.width(), image.height())).aois

    def _commit(self, aois: tuple[AOI, ...]) -> None:
        self._aois = aois
        self.changed.emit()
        if self.path is not None:
            self.save(self.path)

    def save(self, path: Path) -> bool:
        try:
            save_aois(self.aois, path)
        except (AOIFileError, OSError) as e:
            self.saveFailed.emit(str(e))
            return False
        self.path = Path(path)
        return True

    def load(self, path: Path) -> None:
        """Replace the AOIs with a file's (raises :class:`~gazecam.aoi.AOIFileError`)."""
        self._aois = tuple(load_aois(path).aois)
        self.path = Path(path)
        self.selected = None
        self.changed.emit()

    # ------------------------------------------------------------------ edits (also the API tests use)
    def add(self, xyxy_norm: tuple[float, float, float, float], name: str) -> AOI:
        x0, y0, x1, y1 = (float(np.clip(v, 0.0, 1.0)) for v in xyxy_norm)
        aoi = AOI.box(name=name, xyxy_norm=(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        self._commit(self._normalised() + (aoi,))
        self.selected = name
        return aoi

    def rename(self, old: str, new: str) -> None:
        self._commit(tuple(replace(a, name=new) if a.name == old else a for a in self._normalised()))
        self.selected = new

    def delete(self, name: str) -> None:
        self._commit(tuple(a for a in self._normalised() if a.name != name))
        self.selected = None

    def move(self, name: str, dx: float, dy: float, *, commit: bool = True) -> None:
        """Shift an AOI by (dx, dy) normalised, kept inside the frame."""
        aois = self._normalised()
        out = []
        for a in aois:
            if a.name == name:
                arr = a.array
                dx = float(np.clip(dx, -arr[:, 0].min(), 1.0 - arr[:, 0].max()))
                dy = float(np.clip(dy, -arr[:, 1].min(), 1.0 - arr[:, 1].max()))
                a = replace(a, vertices=tuple((x + dx, y + dy) for x, y in arr.tolist()))
            out.append(a)
        if commit:
            self._commit(tuple(out))
        else:
            self._aois = tuple(out)
            self.changed.emit()

    # ------------------------------------------------------------------ mouse
    def _frame_xy(self, pos: QPointF) -> tuple[float, float] | None:
        """Widget position -> normalised frame position (may lie outside [0, 1]), as VideoView paints it."""
        image = self.view.image()
        if image is None or image.isNull():
            return None
        iw, ih = image.width(), image.height()
        scale = min(self.view.width() / iw, self.view.height() / ih)
        ox, oy = (self.view.width() - iw * scale) / 2, (self.view.height() - ih * scale) / 2
        return (pos.x() - ox) / (iw * scale), (pos.y() - oy) / (ih * scale)

    def to_norm(self, pos: QPointF) -> tuple[float, float] | None:
        """Widget position -> normalised frame position; None outside the picture."""
        p = self._frame_xy(pos)
        return p if p is not None and 0 <= p[0] <= 1 and 0 <= p[1] <= 1 else None

    def hit(self, point: tuple[float, float]) -> str | None:
        """The smallest AOI under a normalised point."""
        aois = AOISet(aois=self._normalised())
        k = int(aois.label_index(np.array([point]), 0.0)[0]) if len(aois) else -1
        if k < 0:  # time limits do not matter for editing: try without them
            plain = AOISet(aois=tuple(replace(a, start_s=None, end_s=None) for a in aois))
            k = int(plain.label_index(np.array([point]), 0.0)[0]) if len(plain) else -1
        return aois.aois[k].name if k >= 0 else None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        view = getattr(self, "view", None)  # None while Qt tears the window down
        if view is None or obj is not view or not getattr(self, "editing", False):
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonDblClick and event.button() == Qt.MouseButton.LeftButton:
            p = self.to_norm(event.position())
            name = self.hit(p) if p else None
            if name is not None:
                self._rename_dialog(name)
            return True
        if kind == QEvent.Type.MouseButtonPress:
            p = self.to_norm(event.position())
            if p is None:
                return True
            name = self.hit(p)
            if event.button() == Qt.MouseButton.RightButton:
                if name is not None:
                    self.selected = name
                    self._context_menu(name, event.globalPosition().toPoint())
                return True
            if event.button() == Qt.MouseButton.LeftButton:
                self._press = p
                self.selected = name
                self._moving = next((a for a in self._normalised() if a.name == name), None)
                self._aois = self._normalised()
            return True
        if kind == QEvent.Type.MouseMove and self._press is not None:
            p = self.to_norm(event.position()) or self._clamped(event.position())
            if self._moving is not None:
                self._aois = tuple(self._moving if a.name == self._moving.name else a for a in self._aois)
                self.move(self._moving.name, p[0] - self._press[0], p[1] - self._press[1], commit=False)
            else:
                x0, y0 = self._press
                self.draft = AOI.box(name="new", xyxy_norm=(min(x0, p[0]), min(y0, p[1]), max(x0, p[0]),
                                                            max(y0, p[1]))) if p != self._press else None
                self.changed.emit()
            return True
        if kind == QEvent.Type.MouseButtonRelease and self._press is not None:
            p = self.to_norm(event.position()) or self._clamped(event.position())
            start, moving = self._press, self._moving
            self._press, self._moving, self.draft = None, None, None
            if moving is not None:
                self._aois = tuple(moving if a.name == moving.name else a for a in self._aois)
                self.move(moving.name, p[0] - start[0], p[1] - start[1])
            elif abs(p[0] - start[0]) >= MIN_SIDE and abs(p[1] - start[1]) >= MIN_SIDE:
                name = self._unique_name(self.ask_name("New area of interest", self._default_name()))
                if name:
                    self.add((start[0], start[1], p[0], p[1]), name)
            self.changed.emit()
            return True
        if kind == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) \
                and self.selected is not None:
            self.delete(self.selected)
            return True
        return False

    def _clamped(self, pos: QPointF) -> tuple[float, float]:
        p = self._frame_xy(pos) or (0.0, 0.0)
        return float(np.clip(p[0], 0, 1)), float(np.clip(p[1], 0, 1))

    # ------------------------------------------------------------------ names
    def _default_name(self) -> str:
        names = {a.name for a in self._aois}
        return next(f"aoi {i}" for i in range(1, len(names) + 2) if f"aoi {i}" not in names)

    def _unique_name(self, name: str | None, *, old: str | None = None) -> str | None:
        name = (name or "").strip()
        if not name:
            return None
        if any(a.name == name and a.name != old for a in self._aois):
            QMessageBox.warning(self.view, "Areas of interest", f"An AOI named '{name}' exists; names must be unique.")
            return None
        return name

    def _dialog_name(self, title: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self.view, title, "Name:", text=default)
        return text if ok else None

    def _rename_dialog(self, name: str) -> None:
        new = self._unique_name(self.ask_name("Rename area of interest", name), old=name)
        if new and new != name:
            self.rename(name, new)

    def _context_menu(self, name: str, at) -> None:  # noqa: ANN001 - QPoint
        menu = QMenu(self.view)
        menu.addAction(f"Rename '{name}'…", lambda: self._rename_dialog(name))
        menu.addAction(f"Delete '{name}'", lambda: self.delete(name))
        menu.popup(at)


class AOIPeopleTable(PeopleTable):
    """The people panel plus AOIs: "Looking at" names the AOI of a person who looks at no one, and the totals
    column adds seconds per AOI (:class:`gazecam.aoi_stats.AOITotals`, counted like the other totals)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.aois: AOISet | None = None
        self.aoi_totals = AOITotals()

    def reset_totals(self) -> None:
        super().reset_totals()
        self.aoi_totals = AOITotals()

    def _count(self, result: GazeResult) -> None:
        from ..records import records_from_result

        last = self._last_time_s
        super()._count(result)
        if self.aois is not None and len(result):
            t = float(result.frame.timestamp_s)
            dt = 0.0 if last is None else t - last
            dt = dt if 0.0 < dt <= self.MAX_STEP_S else 0.0
            self.aoi_totals.add(records_from_result(label_result(self.aois, result)), dt)

    def update_result(self, result: GazeResult | None, threshold: float) -> None:
        super().update_result(result, threshold)
        if result is None or self.aois is None or not len(result):
            return
        names = label_result(self.aois, result).aoi or ()
        by_id = {int(t): n for t, n in zip(result.heads.track_ids.tolist(), names)}
        for row in range(self.rowCount()):
            who = self.item(row, 0).text()
            tid = int(who[1:]) if who.startswith("#") else None
            where = self.item(row, 2)
            if tid is not None and where is not None and by_id.get(tid) and where.text() == "—":
                where.setText(f"AOI {by_id[tid]}")

    def _totals_item(self, tid: int) -> QTableWidgetItem:
        item = super()._totals_item(tid)
        spent = self.aoi_totals.person(tid) if tid >= 0 else {}
        if spent:
            text = "  ".join(f"{n} {s:.1f} s" for n, s in spent.items())
            item.setText(text if item.text() == "—" else f"{item.text()}  |  {text}")
        return item


def install_aoi_editor(win: Any, *, aois: AOISet | None = None, path: Path | None = None,
                       ask_name: Callable[[str, str], str | None] | None = None) -> AOIEditor:
    """Give ``win`` its AOI editor, the *Areas of interest* menu, and AOIs in the overlay and people panel.

    ``win``: a :class:`~gazecam.gui.window.MainWindow` (not imported here: the window imports this module)."""
    editor = AOIEditor(win.video, aois=aois, path=path, ask_name=ask_name, parent=win)

    def refresh() -> None:
        win.overlay.renderer.aois = editor.display_aois()
        if isinstance(win.people, AOIPeopleTable):
            win.people.aois = editor.aois if len(editor.aois) else None
        win._draw(record=False)

    editor.changed.connect(refresh)
    editor.saveFailed.connect(lambda msg: win.notice.show_message("error", "AOIs not saved", msg))

    menu = win.menuBar().addMenu("&Areas of interest")
    edit = QAction("&Edit areas of interest (drag: draw / move, double-click: rename, Delete)", win)
    edit.setObjectName("aoi_edit")
    edit.setCheckable(True)
    edit.setShortcut(QKeySequence("E"))
    edit.toggled.connect(editor.set_editing)
    menu.addAction(edit)
    win.addAction(edit)
    win.actions_by_name["aoi_edit"] = edit

    def open_file() -> None:
        path, _ = QFileDialog.getOpenFileName(win, "Open AOI file", "", "AOI files (*.json)")
        if path:
            try:
                editor.load(Path(path))
            except AOIFileError as e:
                win.notice.show_message("error", "AOI file not loaded", str(e))

    def save_as() -> None:
        path, _ = QFileDialog.getSaveFileName(win, "Save AOIs as", str(editor.path or "aois.json"),
                                              "AOI files (*.json)")
        if path:
            editor.save(Path(path))

    for name, text, slot in (("aoi_open", "&Open AOI file…", open_file), ("aoi_save", "&Save AOIs as…", save_as)):
        a = QAction(text, win)
        a.setObjectName(name)
        a.triggered.connect(lambda _=False, s=slot: s())
        menu.addAction(a)
        win.actions_by_name[name] = a
    refresh()
    return editor
