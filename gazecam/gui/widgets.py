"""Widgets of the main window: video view, message panel, people table, control panel, model dialog."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..types import GazeResult
from .settings import GazeSettings, ModelChoice, ViewSettings

__all__ = ["VideoView", "MessagePanel", "PeopleTable", "ControlPanel", "ModelDialog", "WrapLabel", "rgb_to_qimage",
           "track_color"]


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


def _slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    s.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return s


class ControlPanel(QWidget):
    """Overlay toggles, gaze parameters and the model / device / backend picker."""

    viewChanged = pyqtSignal(object)  # ViewSettings
    gazeChanged = pyqtSignal(object)  # GazeSettings
    modelRequested = pyqtSignal(object)  # ModelChoice

    OVERLAYS = (("arrows", "Gaze arrows"), ("heatmap", "Heatmap"), ("combined_heatmap", "Combined heatmap"),
                ("boxes", "Head boxes"), ("ids", "Track ids"), ("out_of_frame", "Out-of-frame markers"),
                ("looking_at", "Who looks at whom"))
    FILES_ITEM = "Local files…"

    def __init__(self, *, view: ViewSettings, gaze: GazeSettings, zoo_names: list[str], devices: list[str],
                 backends: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self._gaze = gaze
        self._files_choice: ModelChoice | None = None
        self._compile = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)

        ov = QGroupBox("Overlays")
        ovl = QVBoxLayout(ov)
        self.checks: dict[str, QCheckBox] = {}
        for key, label in self.OVERLAYS:
            c = QCheckBox(label)
            c.setObjectName(f"check_{key}")
            c.setChecked(bool(getattr(view, key)))
            c.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            c.toggled.connect(self._emit_view)
            ovl.addWidget(c)
            self.checks[key] = c
        row = QHBoxLayout()
        row.addWidget(QLabel("Heatmap opacity"))
        self.opacity = _slider(0, 100, int(round(view.heatmap_opacity * 100)))
        self.opacity.setObjectName("opacity")
        self.opacity.valueChanged.connect(self._emit_view)
        row.addWidget(self.opacity)
        ovl.addLayout(row)
        lay.addWidget(ov)

        gz = QGroupBox("Gaze")
        form = QFormLayout(gz)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("threshold")
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setValue(gaze.inout_threshold)
        self.threshold.valueChanged.connect(self._emit_gaze)
        form.addRow("In/out threshold", self.threshold)
        self.smooth = QCheckBox("Temporal smoothing")
        self.smooth.setObjectName("smooth")
        self.smooth.setChecked(gaze.smooth)
        self.smooth.toggled.connect(self._emit_gaze)
        form.addRow(self.smooth)
        self.stride = QSpinBox()
        self.stride.setObjectName("stride")
        self.stride.setRange(1, 30)
        self.stride.setValue(gaze.stride)
        self.stride.setToolTip("run the encoder every Nth processed frame (detection and tracking run on all)")
        self.stride.valueChanged.connect(self._emit_gaze)
        form.addRow("Encoder stride", self.stride)
        lay.addWidget(gz)

        md = QGroupBox("Model")
        mform = QFormLayout(md)
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("model_combo")
        self.model_combo.addItems([*zoo_names, self.FILES_ITEM])
        from ..zoo import ZOO  # torch-free: description + licence of each zoo model as its tooltip

        for i, name in enumerate(zoo_names):
            if name in ZOO:
                self.model_combo.setItemData(i, f"{ZOO[name].description}\nLicense: {ZOO[name].license}",
                                             Qt.ItemDataRole.ToolTipRole)
        mform.addRow("Weights", self.model_combo)
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("device_combo")
        self.device_combo.addItems(devices)
        mform.addRow("Device", self.device_combo)
        self.backend_combo = QComboBox()
        self.backend_combo.setObjectName("backend_combo")
        self.backend_combo.addItems(backends)
        mform.addRow("Backend", self.backend_combo)
        self.precision_combo = QComboBox()
        self.precision_combo.setObjectName("precision_combo")
        self.precision_combo.addItems(["fp32", "fp16", "bf16", "int8", "auto"])
        from ..backends.precision import precision_help

        self.precision_combo.setToolTip(precision_help())
        mform.addRow("Precision", self.precision_combo)
        self.load_button = QPushButton("Load model")
        self.load_button.setObjectName("load_model")
        self.load_button.clicked.connect(self._load_clicked)
        mform.addRow(self.load_button)
        self.model_state = WrapLabel("no model loaded")  # never clipped, however long the model name
        self.model_state.setObjectName("model_state")
        mform.addRow(self.model_state)
        lay.addWidget(md)
        lay.addStretch(1)

    # -- state ----------------------------------------------------------------------------
    def view_settings(self) -> ViewSettings:
        values = {key: c.isChecked() for key, c in self.checks.items()}
        return replace(self._view, heatmap_opacity=self.opacity.value() / 100.0, **values)

    def gaze_settings(self) -> GazeSettings:
        return GazeSettings(inout_threshold=round(self.threshold.value(), 2), smooth=self.smooth.isChecked(),
                            stride=self.stride.value())

    def set_view(self, view: ViewSettings) -> None:
        for key, c in self.checks.items():
            c.setChecked(bool(getattr(view, key)))
        self.opacity.setValue(int(round(view.heatmap_opacity * 100)))

    def show_choice(self, choice: ModelChoice) -> None:
        """Reflect ``choice`` in the pickers (without loading)."""
        if choice.is_files:
            self._files_choice = choice
            self.model_combo.setCurrentText(self.FILES_ITEM)
        elif choice.zoo_name:
            if self.model_combo.findText(choice.zoo_name) < 0:
                self.model_combo.insertItem(0, choice.zoo_name)
            self.model_combo.setCurrentText(choice.zoo_name)
        self._compile = choice.compile
        for combo, value in ((self.device_combo, choice.device), (self.backend_combo, choice.backend),
                             (self.precision_combo, choice.precision)):
            if combo.findText(value) < 0:
                combo.addItem(value)
            combo.setCurrentText(value)

    def _emit_view(self, *_: object) -> None:
        self._view = self.view_settings()
        self.viewChanged.emit(self._view)

    def _emit_gaze(self, *_: object) -> None:
        self._gaze = self.gaze_settings()
        self.gazeChanged.emit(self._gaze)

    def runtime(self) -> dict[str, object]:
        """Device, backend, precision and compile flag as picked (keyword arguments of ModelChoice)."""
        return {"device": self.device_combo.currentText(), "backend": self.backend_combo.currentText(),
                "precision": self.precision_combo.currentText(), "compile": self._compile}

    def _load_clicked(self) -> None:
        if self.model_combo.currentText() == self.FILES_ITEM:
            dlg = ModelDialog(self._files_choice or ModelChoice(), parent=self)
            if dlg.exec() != QDialog.DialogCode.Accepted:
                return
            self._files_choice = dlg.choice()
            choice = replace(self._files_choice, **self.runtime())
        else:
            choice = ModelChoice(zoo_name=self.model_combo.currentText(), **self.runtime())
        self.modelRequested.emit(choice)


class ModelDialog(QDialog):
    """Pick local weight files: backbone checkpoint + Gaze-LLE decoder checkpoint, or one whole-model file."""

    def __init__(self, choice: ModelChoice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Local model files")
        form = QFormLayout(self)
        self.arch = QComboBox()
        from ..models.archs import BACKBONE_NAMES

        self.arch.addItems(["(from the file)", *BACKBONE_NAMES])
        if choice.backbone:
            self.arch.setCurrentText(choice.backbone)
        form.addRow("Backbone", self.arch)
        self.backbone = self._file_row(form, "Backbone weights (.pth)", choice.backbone_weights,
                                       "DINOv2 checkpoint (*.pth *.pt);;All files (*)")
        self.gaze = self._file_row(form, "Gaze weights (.pt)", choice.gaze_weights,
                                   "Gaze-LLE checkpoint (*.pt *.pth);;All files (*)")
        note = QLabel("Released weights: `gazecam models list` shows the zoo and where its files go.")
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.error = QLabel()
        self.error.setStyleSheet("color:#c33")
        form.addRow(self.error)

    def _file_row(self, form: QFormLayout, label: str, value: str | None, filt: str) -> QLineEdit:
        edit = QLineEdit(value or "")
        browse = QPushButton("Browse…")

        def pick() -> None:
            path, _ = QFileDialog.getOpenFileName(self, label, edit.text() or str(Path.cwd()), filt)
            if path:
                edit.setText(path)

        browse.clicked.connect(pick)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(browse)
        form.addRow(label, row)
        return edit

    def _accept(self) -> None:
        for edit, what in ((self.backbone, "backbone"), (self.gaze, "gaze")):
            if what == "backbone" and not edit.text():
                continue  # a whole gazelle-dinov3 model file holds its backbone
            if not Path(edit.text()).is_file():
                self.error.setText(f"{what} weights: {edit.text() or '(empty)'} is not a file")
                return
        self.accept()

    def choice(self) -> ModelChoice:
        arch = self.arch.currentText()
        return ModelChoice(backbone=None if arch.startswith("(") else arch,
                           backbone_weights=self.backbone.text() or None, gaze_weights=self.gaze.text())
