"""Widgets of the main window: video view, message panel, people table (the controls: :mod:`~gazecam.gui.controls`)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..types import GazeResult

__all__ = ["VideoView", "MessagePanel", "PeopleTable", "WrapLabel", "rgb_to_qimage", "track_color"]


def rgb_to_qimage(image: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB -> QImage sharing nothing with ``image`` (safe to keep)."""
    image = np.ascontiguousarray(image)
    h, w, _ = image.shape
    return QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def track_color(track_id: int) -> QColor:
    """The renderer's colour of a track id (the table matches the overlays)."""
    from ..render import color_for

    return QColor(*color_for(int(track_id)))


class WrapLabel(QLabel):
    """A word-wrapped label that is never clipped: its minimum height follows its text at its current width.

    A plain word-wrapped QLabel reports a minimum height for a guessed width; in a dock (whose layout ignores
    height-for-width) a long text at a narrower width then loses its first/last lines.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self._fit()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        width = max(1, self.width() - 2 * self.margin())
        flags = int(Qt.TextFlag.TextWordWrap.value) | int(self.alignment().value)  # as QLabel lays it out
        needed = self.fontMetrics().boundingRect(0, 0, width, 100_000, flags, self.text()).height()
        needed += 2 * self.margin() + self.contentsMargins().top() + self.contentsMargins().bottom()
        if needed != self.minimumHeight():
            self.setMinimumHeight(needed)


class VideoView(QWidget):
    """Shows the newest annotated frame scaled to fit (aspect kept); a hint when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._hint = "No video"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.frames_shown = 0

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(960, 540)

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        if image is not None:
            self.frames_shown += 1
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def set_hint(self, text: str) -> None:
        self._hint = text
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(16, 16, 16))
        if self._image is None or self._image.isNull():
            p.setPen(QColor(170, 170, 170))
            f = QFont(self.font())
            f.setPointSizeF(f.pointSizeF() * 1.3)
            p.setFont(f)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._hint)
            return
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self._image)


class MessagePanel(QFrame):
    """A visible message in the window (errors, warnings) with optional action buttons."""

    actionTriggered = pyqtSignal(str)  # the action's key

    STYLES = {
        "error": "background:#5a1d1d; color:#ffdede; border:1px solid #a33;",
        "warning": "background:#5a4a12; color:#fff3c4; border:1px solid #b90;",
        "info": "background:#1d3a5a; color:#dcecff; border:1px solid #37a;",
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messagePanel")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(110)
        self.details.setFont(QFont("monospace", 9))
        col = QVBoxLayout()
        col.addWidget(self.title)
        col.addWidget(self.details)
        lay.addLayout(col, 1)
        self._buttons = QVBoxLayout()
        lay.addLayout(self._buttons)
        self.kind = ""
        self.hide()

    def show_message(self, kind: str, title: str, details: str = "",
                     actions: tuple[tuple[str, str], ...] = ()) -> None:
        """Show ``title`` (+ selectable ``details``) with buttons ``(key, label)``."""
        self.kind = kind
        self.setStyleSheet(f"#messagePanel {{{self.STYLES.get(kind, '')}}} QLabel {{color: inherit;}}")
        self.title.setText(title)
        self.details.setPlainText(details)
        self.details.setVisible(bool(details))
        # As tall as the text (wrapped at the current width), at most ~9 lines; it scrolls beyond.
        fm = QFontMetrics(self.details.font())
        width = max(self.details.viewport().width(), self.width() - 160, 200)
        lines = sum(max(1, -(-fm.horizontalAdvance(line) // width)) for line in (details or " ").splitlines())
        self.details.setFixedHeight(min(lines, 9) * fm.lineSpacing() + 12)
        while self._buttons.count():
            item = self._buttons.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for key, label in (*actions, ("dismiss", "Dismiss")):
            b = QPushButton(label)
            b.setObjectName(f"msg_{key}")
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _=False, k=key: self._triggered(k))
            self._buttons.addWidget(b)
        self._buttons.addStretch(1)
        self.show()

    def _triggered(self, key: str) -> None:
        if key == "dismiss":
            self.hide()
        self.actionTriggered.emit(key)

    def text(self) -> str:
        return self.title.text() + ("\n" + self.details.toPlainText() if self.details.isVisible() else "")


class PeopleTable(QTableWidget):
    """One row per tracked person: id, in/out score, whom they look at (mutual gaze now), and running totals.

    The totals (seconds looking at each other person, mutual gaze) come from :class:`gazecam.analysis.GazeTotals`,
    the same counting as ``gazecam report``: each result counts the video time since the previous one (a seek,
    a pause or a jump over :attr:`MAX_STEP_S` counts nothing).  ``update_result(None)`` (a new source) starts
    them over.
    """

    COLUMNS = ("Person", "In/out", "Looking at", "Looked at (total)")
    MAX_STEP_S = 1.0

    def __init__(self, parent: QWidget | None = None) -> None:
        from ..analysis import GazeTotals

        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        hdr = self.horizontalHeader()
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hdr.setStretchLastSection(True)
        self.setMinimumWidth(260)
        self.totals = GazeTotals()
        self._last_time_s: float | None = None

    def reset_totals(self) -> None:
        from ..analysis import GazeTotals

        self.totals = GazeTotals()
        self._last_time_s = None

    def _count(self, result: GazeResult) -> None:
        from ..records import records_from_result

        t = float(result.frame.timestamp_s)
        dt = 0.0 if self._last_time_s is None else t - self._last_time_s
        if not 0.0 < dt <= self.MAX_STEP_S:
            dt = 0.0
        self._last_time_s = t
        self.totals.add(records_from_result(result), dt)

    def update_result(self, result: GazeResult | None, threshold: float) -> None:
        if result is None:
            self.reset_totals()
            self.setRowCount(0)
            return
        self._count(result)
        if len(result) == 0:
            self.setRowCount(0)
            return
        ids = result.heads.track_ids
        order = np.argsort(np.where(ids < 0, np.iinfo(np.int64).max, ids), kind="stable")
        self.setRowCount(len(order))
        pts = result.points_xy
        for row, i in enumerate(order):
            tid = int(ids[i])
            who = QTableWidgetItem(f"#{tid}" if tid >= 0 else f"(untracked {row + 1})")
            who.setForeground(track_color(tid))
            f = who.font()
            f.setBold(True)
            who.setFont(f)
            if result.inout is not None:
                score = float(result.inout[i])
                inout = f"{score:.2f} {'in' if score >= threshold else 'out'}"
            else:
                inout = "in" if bool(result.in_frame[i]) else "out"
            target = int(result.looking_at[i])
            if target >= 0:
                mutual = (min(tid, target), max(tid, target)) in self.totals.mutual_now
                looking = f"#{target}" + ("  (mutual)" if mutual else "")
            else:
                looking = "—" if bool(result.in_frame[i]) else "out of frame"
            where = QTableWidgetItem(looking)
            if bool(result.in_frame[i]):
                where.setToolTip(f"gaze point x={pts[i, 0]:.0f}, y={pts[i, 1]:.0f} px")
            totals = self._totals_item(tid)
            for col, item in enumerate((who, QTableWidgetItem(inout), where, totals)):
                self.setItem(row, col, item)

    def _totals_item(self, tid: int) -> QTableWidgetItem:
        if tid < 0:
            return QTableWidgetItem("")
        p = self.totals.person(tid)
        looked = sorted(p.looking_at_s.items(), key=lambda kv: -kv[1])
        item = QTableWidgetItem("  ".join(f"#{o} {s:.1f} s" for o, s in looked) or "—")
        mutual = [f"#{o} {self.totals.mutual_s(tid, o):.1f} s" for o, _ in looked if self.totals.mutual_s(tid, o) > 0]
        item.setToolTip(f"visible {p.visible_s:.1f} s: at people {p.people_s:.1f} s, scene {p.scene_s:.1f} s, "
                        f"out of frame {p.out_of_frame_s:.1f} s" + ("\nmutual gaze: " + ", ".join(mutual) if mutual else ""))
        return item

    def rows(self) -> list[tuple[str, ...]]:
        """The table as text (for tests and the clipboard)."""
        return [tuple(self.item(r, c).text() if self.item(r, c) else "" for c in range(self.columnCount()))
                for r in range(self.rowCount())]
