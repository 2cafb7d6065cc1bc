"""``gazecam live``: the desktop app (PyQt6) for cameras and video files with gaze overlays.

Modules: :mod:`~gazecam.gui.app` (QApplication + window start-up), :mod:`~gazecam.gui.window` (main
window), :mod:`~gazecam.gui.workers` (playback / inference / recording threads),
:mod:`~gazecam.gui.engine` (detect -> track -> gaze in the inference thread),
:mod:`~gazecam.gui.player` (seekable file player on PyAV), :mod:`~gazecam.gui.sources`,
:mod:`~gazecam.gui.overlay`, :mod:`~gazecam.gui.widgets`, :mod:`~gazecam.gui.settings`.
Recordings use :class:`gazecam.sinks.VideoSink` (a file's sound kept from where the recording starts).

Importing this package loads nothing heavy (PyQt6 is imported by the submodules).
"""

from __future__ import annotations

__all__ = ["run_app"]


def run_app(*args, **kwargs) -> int:
    """See :func:`gazecam.gui.app.run_app`."""
    from .app import run_app as _run

    return _run(*args, **kwargs)
