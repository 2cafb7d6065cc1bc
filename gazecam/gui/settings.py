"""GUI settings as typed dataclasses, persisted with QSettings between runs.

Three groups, each applied live by a different owner:
``ViewSettings`` (drawing, UI thread), ``GazeSettings`` (gaze stage, inference thread) and
``ModelChoice`` (which weights and device, loaded by the inference thread).

Where they are kept (:func:`open_settings`, Qt's user settings; not under ``GAZECAM_HOME``, which holds
only the model cache): ``$XDG_CONFIG_HOME/gazecam/gazecam-live.conf`` on Linux (``~/.config/...`` when
XDG_CONFIG_HOME is unset), ``~/Library/Preferences/com.gazecam.gazecam-live.plist`` on macOS and the
registry key ``HKEY_CURRENT_USER\\Software\\gazecam\\gazecam-live`` on Windows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from PyQt6.QtCore import QSettings

__all__ = ["ORGANIZATION", "APPLICATION", "ViewSettings", "GazeSettings", "ModelChoice", "SettingsStore",
           "open_settings"]

ORGANIZATION = "gazecam"
APPLICATION = "gazecam-live"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ViewSettings:
    """What the renderer draws (all changes apply to the next drawn frame)."""

    arrows: bool = True
    heatmap: bool = True
    combined_heatmap: bool = True  # one colour-mapped heatmap for all people (else one tint per person)
    boxes: bool = True
    ids: bool = True
    out_of_frame: bool = True
    looking_at: bool = True
    heatmap_opacity: float = 0.45  # 0..1


@dataclass(frozen=True, slots=True)
class GazeSettings:
    """Parameters of the gaze stage (applied by the inference thread between frames)."""

    inout_threshold: float = 0.5  # in/out score above which the target is judged inside the frame
    smooth: bool = True  # per-track temporal smoothing
    stride: int = 1  # run the encoder every Nth inferred frame

    def __post_init__(self) -> None:
        if not 0.0 <= self.inout_threshold <= 1.0:
            raise ValueError(f"inout_threshold must be in [0, 1], got {self.inout_threshold}")
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """Which weights to run: a zoo model by name, or local backbone + decoder files."""

    zoo_name: str | None = None
    backbone: str | None = None  # DINOv2 architecture of local files (None = infer from the file)
    backbone_weights: str | None = None
    gaze_weights: str | None = None
    device: str = "auto"
    backend: str = "auto"  # auto | torch | onnxruntime | tensorrt (gazecam.backends)
    precision: str = "fp32"  # fp32 | fp16 | bf16 | int8 | auto (gazecam.backends.precision)
    compile: bool = False  # torch.compile (torch backend)

    @property
    def is_files(self) -> bool:
        return bool(self.backbone_weights or self.gaze_weights)

    @property
    def label(self) -> str:
        if self.is_files:
            return f"{Path(self.gaze_weights or '?').name} (local files)"
        return self.zoo_name or "no model"


def open_settings() -> "QSettings":
    """The app's saved settings (see the module docstring for where they are kept; ``fileName()`` says)."""
    from PyQt6.QtCore import QSettings

    return QSettings(ORGANIZATION, APPLICATION)


def _coerce(value: Any, default: Any) -> Any:
    """QSettings returns strings from ini files: convert back to the default's type."""
    if value is None:
        return default
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    try:
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except (TypeError, ValueError):
        return default
    if default is None:
        return None if value in ("", "@Invalid()") else str(value)
    return str(value)


class SettingsStore:
    """Reads and writes the settings dataclasses and window state in a ``QSettings``."""

    def __init__(self, qsettings: "QSettings") -> None:
        self.q = qsettings

    def _load(self, group: str, cls: type[T]) -> T:
        base = cls()
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = f"{group}/{f.name}"
            if self.q.contains(key):
                values[f.name] = _coerce(self.q.value(key), getattr(base, f.name))
        try:
            return replace(base, **values)  # type: ignore[type-var]
        except (TypeError, ValueError):
            return base  # a hand-edited or old config: fall back to the defaults

    def _save(self, group: str, obj: Any) -> None:
        for f in fields(obj):
            value = getattr(obj, f.name)
            self.q.setValue(f"{group}/{f.name}", "" if value is None else value)

    def load_view(self) -> ViewSettings:
        return self._load("view", ViewSettings)

    def save_view(self, s: ViewSettings) -> None:
        self._save("view", s)

    def load_gaze(self) -> GazeSettings:
        return self._load("gaze", GazeSettings)

    def save_gaze(self, s: GazeSettings) -> None:
        self._save("gaze", s)

    def load_model(self) -> ModelChoice | None:
        if not self.q.contains("model/device"):
            return None
        return self._load("model", ModelChoice)

    def save_model(self, m: ModelChoice) -> None:
        self._save("model", m)

    def value(self, key: str, default: Any = None) -> Any:
        return self.q.value(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()
