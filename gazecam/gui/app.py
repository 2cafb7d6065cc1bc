"""Start-up of the desktop app: QApplication, settings store, engine builder, main window."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QApplication

from .engine import PipelineBuilder, available_backends, available_devices
from .settings import APPLICATION, ORGANIZATION, ModelChoice, SettingsStore
from .sources import SourceSpec
from .window import MainWindow

__all__ = ["run_app", "make_window", "ensure_app"]


def ensure_app(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (created once, with gazecam's organisation/app names for QSettings)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationName(APPLICATION)
    return app  # type: ignore[return-value]


def make_window(*, source: SourceSpec | None, model: ModelChoice | None, detector: str = "auto",
                store: SettingsStore | None = None, builder=None, **kwargs) -> MainWindow:
    from ..zoo import ZOO

    store = store or SettingsStore(QSettings(ORGANIZATION, APPLICATION))
    builder = builder or PipelineBuilder(detector_spec=detector)
    return MainWindow(store=store, builder=builder, source=source, model=model, zoo_names=list(ZOO),
                      devices=available_devices(), backends=available_backends(), **kwargs)


def run_app(*, source: SourceSpec | None, model: ModelChoice | None, detector: str = "auto",
            on_ready: Callable[[MainWindow], None] | None = None) -> int:
    """Open the window and run the Qt event loop until it is closed; returns the exit code."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    app = ensure_app()
    window = make_window(source=source, model=model, detector=detector)
    window.show()
    if on_ready is not None:
        on_ready(window)
    code = app.exec()
    window.shutdown()
    return int(code)
