"""Start-up of the desktop app: QApplication, settings store, processor builder, main window."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication

from ..loading import ModelSpec
from .processing import ProcessorBuilder, available_backends, available_devices
from .settings import APPLICATION, ORGANIZATION, SettingsStore
from .sources import SourceSpec
from .window import MainWindow

__all__ = ["run_app", "make_window", "ensure_app", "exec_window", "clean_qt_environment"]


def clean_qt_environment() -> None:
    """Undo what ``import cv2`` (opencv-python, not -headless) does to the environment.

    It points ``QT_QPA_PLATFORM_PLUGIN_PATH`` / ``QT_QPA_FONTDIR`` at the Qt 5 plugins and fonts bundled
    in the cv2 package; PyQt6's Qt 6 must use its own.  Call before the QApplication is created.
    """
    for key in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = os.environ.get(key, "")
        if value and f"{os.sep}cv2{os.sep}" in value:
            del os.environ[key]


def ensure_app(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (created once, with gazecam's organisation/app names for QSettings)."""
    app = QApplication.instance()
    if app is None:
        clean_qt_environment()
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationName(APPLICATION)
    return app  # type: ignore[return-value]


def make_window(*, source: SourceSpec | None, model: ModelSpec | None, detector: str = "auto",
                store: SettingsStore | None = None, builder=None, **kwargs) -> MainWindow:
    from ..zoo import ZOO

    store = store or SettingsStore(QSettings(ORGANIZATION, APPLICATION))
    builder = builder or ProcessorBuilder(detector=detector)
    return MainWindow(store=store, builder=builder, source=source, model=model, zoo_names=list(ZOO),
                      devices=available_devices(), backends=available_backends(), **kwargs)


def run_app(*, source: SourceSpec | None, model: ModelSpec | None, detector: str = "auto",
            on_ready: Callable[[MainWindow], None] | None = None) -> int:
    """Open the window and run the Qt event loop until it is closed; returns the exit code."""
    app = ensure_app()
    window = make_window(source=source, model=model, detector=detector)
    window.show()
    if on_ready is not None:
        on_ready(window)
    return exec_window(app, window)


def exec_window(app: QApplication, window: MainWindow) -> int:
    """Run the event loop until the window closes; Ctrl-C (SIGINT) and SIGTERM close it cleanly.

    The window's shutdown (recording finalised into a playable clip, threads stopped) always runs; after a
    signal, :class:`~gazecam.signals.Interrupted` is raised so the command line reports it (exit code 130
    after SIGINT, 143 after SIGTERM).  A second signal stops at once.  The handlers are installed
    explicitly, so this holds also when SIGINT was ignored at start (``nohup``, ``cmd &`` in a script).
    """
    from ..signals import Interrupted, handling_signals

    received: list[int] = []
    closing: list[bool] = []

    def on_signal(signum: int, frame: object) -> None:
        # Only noted here: the handler may run while this thread holds a lock (e.g. inside a queue.put of
        # the recorder); closing the window from it could wait on that lock for ever.
        if received:  # a second signal: no more patience
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        received.append(signum)

    def close_after_signal() -> None:  # from the event loop, where no lock is held
        if received and not closing:
            closing.append(True)
            window.close()
            app.quit()  # also when the window was not shown

    wake = QTimer()
    wake.timeout.connect(close_after_signal)  # also returns to Python regularly, so the signal handler can run
    wake.start(100)
    with handling_signals(on_signal):
        try:
            code = app.exec()
        finally:
            wake.stop()
            window.shutdown()
    if received:
        raise Interrupted(received[0])
    return int(code)
