"""``gazecam live [SOURCE]``: the desktop app on a camera (default 0), a video file or a stream URL."""

from __future__ import annotations

import argparse

from .common import add_model_arguments

HELP = "open the desktop app: live gaze overlays on a camera, video file or stream (PyQt6)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="?", default=None, metavar="SOURCE",
                        help="camera index (default 0), /dev/videoN, video or image file, folder of images, or stream URL")
    add_model_arguments(parser)
    parser.add_argument("--detector", default="auto", metavar="PATH|auto|pose|offline|face",
                        help="head detector: a YOLO head model (.pt/.onnx), pose, offline (OpenCV pedestrians + "
                             "faces), face (OpenCV face cascade only) or auto (pose if available, else offline; "
                             "default)")
    parser.add_argument("--forget-settings", action="store_true",
                        help="start with default overlay/gaze settings and window layout (clears the saved ones, "
                             "kept in $XDG_CONFIG_HOME/gazecam/gazecam-live.conf, by default ~/.config/gazecam/, "
                             "on Linux)")


def model_spec_from_args(args: argparse.Namespace):
    """The :class:`~gazecam.loading.ModelSpec` the model options ask for (None: no model named).

    Without --model / weight files the window loads the saved one (or the default zoo model), with
    --device/--backend/--precision/--compile applied when given.
    """
    from .common import model_spec

    spec = model_spec(args, progress=False)  # the option checks of every command
    return spec if spec.is_files or args.model else None


def _explicit_runtime(args: argparse.Namespace) -> dict:
    """Runtime options that differ from their defaults (so they override a saved model)."""
    given = {"device": args.device, "backend": getattr(args, "backend", "auto") or "auto",
             "precision": getattr(args, "precision", "fp32") or "fp32",
             "compile": bool(getattr(args, "compile", False))}
    defaults = {"device": "auto", "backend": "auto", "precision": "fp32", "compile": False}
    return {k: v for k, v in given.items() if v != defaults[k]}


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import GazecamError

    choice = model_spec_from_args(args)
    try:
        from PyQt6.QtCore import QSettings  # noqa: F401
    except ImportError as e:
        raise GazecamError(f"gazecam live needs PyQt6 ({e}); install it with `pip install PyQt6`") from e
    from ..gui.app import ensure_app, exec_window, make_window
    from ..gui.settings import SettingsStore, open_settings
    from ..loading import ModelSpec
    from ..gui.sources import SourceSpec

    app = ensure_app()
    store = SettingsStore(open_settings())
    if args.forget_settings:
        store.q.clear()
    if choice is None:
        saved = store.load_model()
        choice = saved if saved is not None else ModelSpec(name=args._default_model, progress=False)
        choice = replace(choice, **_explicit_runtime(args))
    window = make_window(source=SourceSpec.parse(args.source), model=choice, detector=args.detector, store=store)
    window.show()
    return exec_window(app, window)
