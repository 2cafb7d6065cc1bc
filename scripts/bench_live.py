#!/usr/bin/env python
"""Does ``gazecam live`` keep up with a fast model?  Its inference rate with detection and gaze overlapped
in two threads vs the same work in one thread, in one run, read from the window's status bar.

The window is built as ``gazecam live CLIP --detector offline MODEL...`` builds it (same option parsing, same
window, a temporary settings file), on a generated clip (640x360, three people walking:
:func:`tests.fakes.make_walkers_video`) played in real time as a file source (it starts again from the
beginning when it ends).  Phases alternate, each in a fresh window: **overlapped** (the default: detection of
frame i+1 while the gaze model runs on frame i) and **one thread** (``MainWindow(overlap=False)``: the two
one after the other, as before).  Each phase waits for the model and a few warm-up results, then measures
for ``--seconds``: the inference frames/s the status bar shows at the end, the results counted over the
phase, and the status bar's stage line (mean detect / encode / decode ms and the busy time of each thread).

    .venv/bin/python scripts/bench_live.py [--seconds 15] [--rounds 1] [--offscreen]
        [--model-args "--gaze-weights ../shared/golden_hgnetv2/gazelle_hgnetv2_atto_inout_random.pt --device cpu"]

Without ``$DISPLAY`` it starts its own Xvfb (``--offscreen``: Qt's offscreen platform instead).  The model
defaults to HGNetV2 Atto in/out with the random weights of ``../shared/golden_hgnetv2`` (timing does not
depend on the weights).  Figures are only comparable within one run; say whether the machine was shared.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "scripts"))

ATTO_RANDOM = REPO.parent / "shared" / "golden_hgnetv2" / "gazelle_hgnetv2_atto_inout_random.pt"


@dataclass
class Phase:
    overlap: bool
    status_fps: float  # "inference X fps" in the status bar at the end of the phase
    counted_fps: float  # results delivered during the measured seconds / those seconds
    results: int
    skipped: int  # frames the model skipped (newest frame wins)
    stages: str  # the status bar's stage line
    status: str  # the whole status bar

    @property
    def label(self) -> str:
        return "overlapped" if self.overlap else "one thread"


def default_model_args() -> str:
    if ATTO_RANDOM.is_file():
        return f"--gaze-weights {ATTO_RANDOM} --device cpu"
    return "--model gazelle_hgnetv2_atto_inout --device cpu"


def spin(app, until, timeout_s: float, what: str) -> None:
    """Run the Qt event loop until ``until()`` is true; exit with a message after ``timeout_s``."""
    t_end = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > t_end:
            raise SystemExit(f"bench_live: timed out after {timeout_s:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def run_phase(app, *, overlap: bool, clip: Path, model_args: list[str], seconds: float, warmup: int,
              tmp: Path, timeout_s: float) -> Phase:
    from PyQt6.QtCore import QSettings

    from gazecam.cli import build_parser
    from gazecam.commands.live import model_spec_from_args
    from gazecam.gui.app import make_window
    from gazecam.gui.settings import SettingsStore
    from gazecam.gui.sources import SourceSpec

    args = build_parser().parse_args(["live", str(clip), "--detector", "offline", *model_args])
    spec = model_spec_from_args(args)
    if spec is None:
        raise SystemExit("bench_live: --model-args must name a model (--model or --gaze-weights)")
    store = SettingsStore(QSettings(str(tmp / f"live-{overlap}.ini"), QSettings.Format.IniFormat))
    win = make_window(source=SourceSpec.parse(str(clip)), model=spec, detector=args.detector, store=store,
                      overlap=overlap)
    failures: list[str] = []
    win.inference.modelFailed.connect(failures.append)
    win.resize(1360, 820)
    win.show()
    try:
        def keep_playing() -> bool:  # the clip ended: play it again (a seek: tracks reset, as a user's replay)
            pb = win.playback
            if pb is not None and not pb.playing and win.current is not None and win.current.frame.index > 0:
                win.seek(0)
                win.play()
            if failures:
                raise SystemExit(f"bench_live: the model did not load: {failures[0]}")
            return False

        spin(app, lambda: keep_playing() or win.inference.processed >= warmup, timeout_s, "the model's first results")
        p0, s0, t0 = win.inference.processed, win.inference.inbox.dropped, time.monotonic()
        spin(app, lambda: keep_playing() or time.monotonic() - t0 >= seconds, seconds + 60, "the measurement")
        n, elapsed = win.inference.processed - p0, time.monotonic() - t0
        status = win.status_text()
        found = re.search(r"inference\s+([\d.]+) fps", status)
        return Phase(overlap=overlap, status_fps=float(found.group(1)) if found else float("nan"),
                     counted_fps=n / elapsed, results=n, skipped=win.inference.inbox.dropped - s0,
                     stages=win.status.labels["stages"].text(), status=status)
    finally:
        win.close()
        win.shutdown()
        win.deleteLater()
        app.processEvents()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15.0, help="measured seconds per phase (default 15)")
    ap.add_argument("--rounds", type=int, default=1, help="overlapped / one-thread pairs (default 1)")
    ap.add_argument("--warmup", type=int, default=5, help="results before measuring (default 5)")
    ap.add_argument("--frames", type=int, default=250, help="frames of the generated clip (25 fps; default 250)")
    ap.add_argument("--model-args", default=None, help=f"model options of gazecam live (default: "
                                                       f"{default_model_args()!r})")
    ap.add_argument("--offscreen", action="store_true", help="Qt's offscreen platform instead of an X server")
    ap.add_argument("--timeout", type=float, default=600.0, help="give up waiting for the model after this (s)")
    a = ap.parse_args()
    model_args = shlex.split(a.model_args or default_model_args())

    xvfb = None
    if a.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    else:
        if not os.environ.get("DISPLAY"):
            from gui_screenshot import start_xvfb

            xvfb, os.environ["DISPLAY"] = start_xvfb("1600x1000x24")
        os.environ["QT_QPA_PLATFORM"] = "xcb"
    from gazecam.ultra import ultralytics_env

    ultralytics_env()  # offline, no auto-install, restricted model loading
    try:
        from fakes import make_walkers_video

        from gazecam.gui.app import ensure_app

        app = ensure_app()
        with tempfile.TemporaryDirectory(prefix="gazecam-bench-live-") as tmp_name:
            tmp = Path(tmp_name)
            clip = make_walkers_video(tmp / "walkers.mp4", n=a.frames, width=640, height=360)
            print(f"clip: {a.frames} frames 640x360 at 25 fps, 3 people walking; gazecam live --detector offline "
                  f"{' '.join(model_args)}; platform {os.environ['QT_QPA_PLATFORM']}; {os.cpu_count()} CPU(s), "
                  f"load average {os.getloadavg()[0]:.1f} at the start", flush=True)
            phases: list[Phase] = []
            for _ in range(a.rounds):
                for overlap in (True, False):
                    ph = run_phase(app, overlap=overlap, clip=clip, model_args=model_args, seconds=a.seconds,
                                   warmup=a.warmup, tmp=tmp, timeout_s=a.timeout)
                    phases.append(ph)
                    print(f"  {ph.label:10s}: status bar {ph.status_fps:.1f} inference fps; {ph.results} results in "
                          f"{a.seconds:.0f} s = {ph.counted_fps:.2f} fps; {ph.skipped} frames skipped; {ph.stages}",
                          flush=True)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)

    def mean(overlap: bool, key: str) -> float:
        values = [getattr(p, key) for p in phases if p.overlap is overlap]
        return sum(values) / len(values)

    ov, one = mean(True, "counted_fps"), mean(False, "counted_fps")
    print(f"\nlast status bar (overlapped): {next(p.status for p in reversed(phases) if p.overlap)}")
    print(f"gazecam live inference: overlapped {ov:.2f} fps (status bar {mean(True, 'status_fps'):.1f}), "
          f"one thread {one:.2f} fps (status bar {mean(False, 'status_fps'):.1f}) -> {ov / one:.2f}x; "
          f"load average at the end {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
