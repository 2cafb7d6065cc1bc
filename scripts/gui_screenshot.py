"""Run the real desktop app under an X server (Xvfb) and save a screenshot of its window.

Starts ``gazecam live``'s window on ``assets/sample.mp4`` with the golden *random* ViT-S/14 weights of
../shared/golden (the released weights cannot be downloaded here, so the "untrained weights" banner is
visible and the gaze is meaningless) and the offline face-cascade head detector, plays until a few
frames have been processed by the inference thread, then pauses on ``--frame``, waits for that frame's
overlays and grabs the window from the X server into ``assets/gui.png``.

    python scripts/gui_screenshot.py [--output assets/gui.png] [--results 6]
    scripts/gui_screenshot.sh            # the same through xvfb-run

Without ``$DISPLAY`` it starts its own ``Xvfb`` (Debian: ``apt-get install xvfb libxcb-icccm4
libxcb-keysyms1``); settings live in a temporary directory, the user's configuration is not touched.
Exit code 0 when the screenshot was written, 1 on failure (message on stderr).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO.parent / "shared" / "golden"


def start_xvfb(size: str) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display number (``-displayfd``); returns the process and ``:N``."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise SystemExit("gui_screenshot: Xvfb is not installed (Debian: apt-get install -y xvfb "
                         "libxcb-icccm4 libxcb-keysyms1), or run with $DISPLAY set")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        raise SystemExit(f"gui_screenshot: Xvfb did not start: {proc.stderr.read().decode(errors='replace')[-500:]}")
    return proc, f":{number}"


def make_clip(path: Path) -> Path:
    """A generated stand-in when assets/sample.mp4 is missing: the golden astronaut image, panning."""
    import av
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(GOLDEN / "images" / "astronaut.png").convert("RGB").resize((360, 360)))
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=20)
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        for i in range(60):
            frame = np.zeros((360, 640, 3), np.uint8)
            x = 40 + 4 * i
            frame[:, x:x + 360] = img[:, : 640 - x] if x + 360 > 640 else img
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=REPO / "assets" / "sample.mp4",
                    help="a video, an image or a folder of images")
    ap.add_argument("--output", type=Path, default=REPO / "assets" / "gui.png")
    ap.add_argument("--results", type=int, default=4, help="inference results to wait for while playing")
    ap.add_argument("--frame", type=int, default=40, help="then pause on this frame and wait for its overlays")
    ap.add_argument("--detector", default="face", help="head detector (default: the offline face cascade)")
    ap.add_argument("--inout-threshold", type=float, default=0.3,
                    help="random weights score every head ~0.46 in/out: 0.3 shows arrows and heatmaps")
    ap.add_argument("--size", default="1360x820", help="window size WxH")
    ap.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    ap.add_argument("--colors", type=int, default=256,
                    help="save a palette PNG with this many colours (~1/3 the size, for the README); 0 = full colour")
    ap.add_argument("--no-xvfb", action="store_true", help="use the current $DISPLAY (e.g. under xvfb-run)")
    a = ap.parse_args()

    xvfb = None
    if not a.no_xvfb and not os.environ.get("DISPLAY"):
        xvfb, display = start_xvfb("1600x1000x24")
        os.environ["DISPLAY"] = display
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # a real X server, not the offscreen plugin
    from gazecam.ultra import ultralytics_env

    ultralytics_env()  # offline, no auto-install, restricted model loading
    try:
        with tempfile.TemporaryDirectory(prefix="gazecam-gui-") as tmp:
            source = a.input if a.input.exists() else make_clip(Path(tmp) / "clip.mp4")
            return shoot(a, source, Path(tmp))
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)


def shoot(a: argparse.Namespace, source: Path, tmp: Path) -> int:
    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from gazecam.gaze import GazeOptions
    from gazecam.gui.app import ensure_app, make_window
    from gazecam.gui.settings import SettingsStore
    from gazecam.gui.sources import SourceSpec
    from gazecam.loading import ModelSpec

    app = ensure_app()
    store = SettingsStore(QSettings(str(tmp / "gui.ini"), QSettings.Format.IniFormat))
    store.save_gaze(GazeOptions(inout_threshold=a.inout_threshold))
    model = ModelSpec(backbone="dinov2_vits14", backbone_weights=str(GOLDEN / "dinov2_vits14_random.pth"),
                      gaze_weights=str(GOLDEN / "gazelle_vits14_inout_random.pt"), device="cpu")
    win = make_window(source=SourceSpec("file", str(source)), model=model, detector=a.detector, store=store)
    w, h = (int(v) for v in a.size.lower().split("x"))
    win.resize(w, h)
    win.move(20, 20)
    win.show()
    t0 = time.monotonic()
    state = {"phase": "playing", "code": 1, "paused_at": -1, "target": -1}

    def finish(code: int, message: str) -> None:
        state["code"] = code
        print(message, file=sys.stderr if code else sys.stdout)
        win.close()
        QApplication.quit()

    def tick() -> None:
        if time.monotonic() - t0 > a.timeout:
            finish(1, f"gui_screenshot: timed out after {a.timeout:.0f} s in phase {state['phase']} "
                      f"(processed {win.inference.processed} frames; messages: "
                      f"{win.source_message.text()!r} {win.model_message.text()!r})")
            return
        if state["phase"] == "playing":
            if win.playback is not None and not win.playback.playing and win.current is not None \
                    and win.current.frame.index > 0 and win.inference.processed < a.results:
                win.seek(0)  # the clip ended before enough results: play it again
                win.play()
            if win.inference.processed >= a.results and win.latest is not None and len(win.latest.result):
                win.pause()
                state["target"] = min(a.frame, win.seek_slider.maximum())  # the file's last frame
                win.seek(state["target"])
                state["phase"] = "pausing"
        elif state["phase"] == "pausing":
            cur = win.current
            # Paused: wait for the result of the frame on screen, so overlays and frame match.
            if cur is not None and not win.playback.playing and win.latest is not None \
                    and win.latest.result.frame.index == cur.frame.index == state["target"]:
                state["phase"] = "settle"
                state["paused_at"] = cur.frame.index
                QTimer.singleShot(700, grab)  # let the status bar refresh its rates

    def grab() -> None:
        screen = win.screen()
        pix = screen.grabWindow(0, win.x(), win.y(), win.frameGeometry().width(), win.frameGeometry().height())
        if pix.isNull() or pix.toImage().pixelColor(pix.width() // 2, pix.height() // 2).value() == 0:
            pix = win.grab()  # no window manager / compositor quirks: the widget's own rendering
        a.output.parent.mkdir(parents=True, exist_ok=True)
        if not pix.save(str(a.output), "PNG"):
            finish(1, f"gui_screenshot: could not write {a.output}")
            return
        if a.colors:
            from PIL import Image

            full = Image.open(a.output).convert("RGB")
            full.quantize(colors=a.colors, method=Image.Quantize.MEDIANCUT).save(a.output, optimize=True)
        finish(0, f"wrote {a.output} ({pix.width()}x{pix.height()}, platform {QApplication.platformName()}): "
                  f"frame {state['paused_at']}, {len(win.latest.result)} head(s), "
                  f"{win.inference.processed} frames inferred; status: {win.status_text()}")

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(100)
    app.exec()
    timer.stop()
    win.shutdown()
    return int(state["code"])


if __name__ == "__main__":
    sys.exit(main())
