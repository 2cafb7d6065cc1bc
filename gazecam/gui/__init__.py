"""``gazecam live``: the desktop app (PyQt6) for cameras and video files with gaze overlays.

Modules: :mod:`~gazecam.gui.app` (QApplication + window start-up), :mod:`~gazecam.gui.window` (main
window) with :mod:`~gazecam.gui.layout`, :mod:`~gazecam.gui.transport` (transport bar),
:mod:`~gazecam.gui.menus`, :mod:`~gazecam.gui.status`, :mod:`~gazecam.gui.controls` and
:mod:`~gazecam.gui.widgets`; the threads :mod:`~gazecam.gui.playback`, :mod:`~gazecam.gui.inference` and
:mod:`~gazecam.gui.recording` (recorder + snapshots), which exchange the records of
:mod:`~gazecam.gui.workers`; :mod:`~gazecam.gui.processing` (the model's
:class:`~gazecam.pipeline.FrameProcessor`, built in the detect thread, used by it and the gaze thread),
:mod:`~gazecam.gui.sources`
(what the user opens, read through :mod:`gazecam.capture`),
:mod:`~gazecam.gui.overlay`, :mod:`~gazecam.gui.settings`.  Recordings use
:class:`gazecam.sinks.ClipWriter` (a file's sound kept from where the recording starts).

Importing this package loads nothing heavy (PyQt6 is imported by the submodules).
"""

from __future__ import annotations

__all__ = ["run_app"]


def run_app(*args, **kwargs) -> int:
    """See :func:`gazecam.gui.app.run_app`."""
    from .app import run_app as _run

    return _run(*args, **kwargs)
