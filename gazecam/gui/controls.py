"""The control panel (overlay toggles, gaze options, model picker) and the local-model-files dialog."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..gaze import GazeOptions
from ..loading import ModelSpec
from .settings import ViewSettings
from .widgets import WrapLabel

__all__ = ["ControlPanel", "ModelDialog"]


def _slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    s.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return s


class ControlPanel(QWidget):
    """Overlay toggles, gaze parameters and the model / device / backend picker."""

    viewChanged = pyqtSignal(object)  # ViewSettings
    gazeChanged = pyqtSignal(object)  # GazeOptions
    modelRequested = pyqtSignal(object)  # ModelSpec

    OVERLAYS = (("arrows", "Gaze arrows"), ("heatmap", "Heatmap"), ("combined_heatmap", "Combined heatmap"),
                ("boxes", "Head boxes"), ("ids", "Track ids"), ("out_of_frame", "Out-of-frame markers"),
                ("looking_at", "Who looks at whom"))
    FILES_ITEM = "Local files…"

    def __init__(self, *, view: ViewSettings, gaze: GazeOptions, zoo_names: list[str], devices: list[str],
                 backends: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self._gaze = gaze
        self._files_choice: ModelSpec | None = None
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
        self.stride.setRange(0, 30)
        self.stride.setSpecialValueText("auto")  # 0: when the scene changed (gazecam.gaze)
        self.stride.setValue(0 if gaze.stride == "auto" else int(gaze.stride))
        self.stride.setToolTip("run the encoder every Nth processed frame (detection and tracking run on all); "
                               f"auto: when the scene changed, at least every {gaze.max_stride} frames")
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

    def gaze_settings(self) -> GazeOptions:
        stride = self.stride.value()
        return replace(self._gaze, inout_threshold=round(self.threshold.value(), 2), smooth=self.smooth.isChecked(),
                       stride="auto" if stride == 0 else stride)

    def set_view(self, view: ViewSettings) -> None:
        for key, c in self.checks.items():
            c.setChecked(bool(getattr(view, key)))
        self.opacity.setValue(int(round(view.heatmap_opacity * 100)))

    def show_choice(self, choice: ModelSpec) -> None:
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
        """Device, backend, precision and compile flag as picked (keyword arguments of ModelSpec)."""
        return {"device": self.device_combo.currentText(), "backend": self.backend_combo.currentText(),
                "precision": self.precision_combo.currentText(), "compile": self._compile}

    def _load_clicked(self) -> None:
        if self.model_combo.currentText() == self.FILES_ITEM:
            dlg = ModelDialog(self._files_choice, parent=self)
            if dlg.exec() != QDialog.DialogCode.Accepted:
                return
            self._files_choice = dlg.choice()
            choice = replace(self._files_choice, **self.runtime())
        else:
            choice = ModelSpec(name=self.model_combo.currentText(), **self.runtime())  # type: ignore[arg-type]
        self.modelRequested.emit(choice)


class ModelDialog(QDialog):
    """Pick local weight files: backbone checkpoint + Gaze-LLE decoder checkpoint, or one whole-model file."""

    def __init__(self, choice: ModelSpec | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Local model files")
        form = QFormLayout(self)
        self.arch = QComboBox()
        from ..models.archs import BACKBONE_NAMES

        self.arch.addItems(["(from the file)", *BACKBONE_NAMES])
        if choice is not None and choice.backbone:
            self.arch.setCurrentText(choice.backbone)
        form.addRow("Backbone", self.arch)
        self.backbone = self._file_row(form, "Backbone weights (.pth)", choice and choice.backbone_weights,
                                       "DINOv2 checkpoint (*.pth *.pt);;All files (*)")
        self.gaze = self._file_row(form, "Gaze weights (.pt)", choice and choice.gaze_weights,
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

    def _file_row(self, form: QFormLayout, label: str, value: Path | None, filt: str) -> QLineEdit:
        edit = QLineEdit(str(value or ""))
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

    def choice(self) -> ModelSpec:
        arch = self.arch.currentText()
        return ModelSpec(backbone=None if arch.startswith("(") else arch,  # type: ignore[arg-type]
                         backbone_weights=self.backbone.text() or None, gaze_weights=self.gaze.text())
