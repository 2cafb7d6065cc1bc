"""GUI settings as typed dataclasses, persisted with QSettings between runs.

Three groups, each applied live by a different owner:
``ViewSettings`` (drawing, UI thread), :class:`~gazecam.gaze.GazeOptions` (gaze stage, gaze thread) and
:class:`~gazecam.loading.ModelSpec` (which weights and device, loaded by the detect thread; files saved
before ModelSpec name the zoo model ``zoo_name``, read as ``name``).

Where they are kept (:func:`open_settings`, Qt's user settings; not under ``GAZECAM_HOME``, which holds
only the model cache): ``$XDG_CONFIG_HOME/gazecam/gazecam-live.conf`` on Linux (``~/.config/...`` when
XDG_CONFIG_HOME is unset), ``~/Library/Preferences/com.gazecam.gazecam-live.plist`` on macOS and the
registry key ``HKEY_CURRENT_USER\\Software\\gazecam\\gazecam-live`` on Windows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import InputError
from ..gaze import GazeOptions
from ..loading import ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    from PyQt6.QtCore import QSettings

__all__ = ["ORGANIZATION", "APPLICATION", "ViewSettings", "SettingsStore", "model_label", "open_settings"]

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


def model_label(spec: ModelSpec) -> str:
    """How the window names a model: the zoo name, or the gaze file's name for local files."""
    if spec.is_files:
        return f"{Path(spec.gaze_weights or '?').name} (local files)"
    return str(spec.zoo_name)


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
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            return str(value)  # e.g. stride "auto"; the dataclass decides
    if isinstance(default, float):
        try:
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

    def _load(self, group: str, cls: type[T], *, old_keys: dict[str, str] | None = None) -> T:
        base = cls()
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = next((f"{group}/{k}" for k in (f.name, (old_keys or {}).get(f.name)) if k
                        and self.q.contains(f"{group}/{k}")), None)
            if key is not None:
                values[f.name] = _coerce(self.q.value(key), getattr(base, f.name))
        try:
            return replace(base, **values)  # type: ignore[type-var]
        except (TypeError, ValueError, InputError):
            return base  # a hand-edited or old config: fall back to the defaults

    def _save(self, group: str, obj: Any, *, skip: tuple[str, ...] = ()) -> None:
        for f in fields(obj):
            if f.name not in skip:
                value = getattr(obj, f.name)
                self.q.setValue(f"{group}/{f.name}", "" if value is None else value if not isinstance(value, Path)
                                else str(value))

    def load_view(self) -> ViewSettings:
        return self._load("view", ViewSettings)

    def save_view(self, s: ViewSettings) -> None:
        self._save("view", s)

    def load_gaze(self) -> GazeOptions:
        return self._load("gaze", GazeOptions)

    def save_gaze(self, s: GazeOptions) -> None:
        self._save("gaze", s)

    def load_model(self) -> ModelSpec | None:
        """The saved model (None: none saved, or one that is not a valid :class:`ModelSpec`)."""
        if not self.q.contains("model/device"):
            return None
        spec = self._load("model", ModelSpec, old_keys={"name": "zoo_name"})
        return spec if spec.name or spec.is_files else None

    def save_model(self, m: ModelSpec) -> None:
        self.q.remove("model/zoo_name")  # the older name of ``name``
        self._save("model", m, skip=("progress",))

    def value(self, key: str, default: Any = None) -> Any:
        return self.q.value(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()
