"""``gazecam live`` recording a file, stopped by SIGTERM or SIGINT: the recording is finished (a playable clip
with every frame written), the exit code is 128 + the signal (issue 18 case 8).

The app runs in a child process (offscreen Qt) through the real command line; the test starts the recording
from inside it once frames are annotated, then signals it.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from fakes import Child

from gui_fakes import make_clip

REPO = Path(__file__).resolve().parents[2]

_APP = textwrap.dedent("""
    import sys
    from pathlib import Path

    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from gazecam.cli import main
    from gazecam.gui.app import ensure_app
    from gazecam.gui.window import MainWindow

    out = Path(sys.argv[1])
    app = ensure_app()

    def poll():
        for w in QApplication.topLevelWidgets():
            if isinstance(w, MainWindow) and w.isVisible() and w.model_info is not None and w.current is not None:
                if w.recorder is None and w.last_recording is None:
                    w.seek(0)  # from the start (a slow model load may have let the clip play to its end)
                    w.play()
                    if not w.start_recording(out):
                        print("refused", w.last_recording, flush=True)
                        return
                elif w.recorder is not None and w.recorder.frames >= 5:
                    print("recording", flush=True)
                    return
        QTimer.singleShot(50, poll)

    QTimer.singleShot(0, poll)
    sys.exit(main(["live", *sys.argv[2:]]))
""")


def _frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


@pytest.mark.slow
@pytest.mark.parametrize("sig, sigint, code", [(signal.SIGTERM, "default", 143), (signal.SIGINT, "default", 130),
                                               (signal.SIGINT, "ignore", 130)])
def test_a_signal_finishes_the_recording(tmp_path, golden_dir, sig, sigint, code):
    clip = make_clip(tmp_path / "clip.mp4", frames=480)  # 20 s: still playing when the signal comes
    out_dir = tmp_path / "rec"
    out_dir.mkdir()
    out = out_dir / "live.mp4"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    args = [str(out), str(clip), "--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"),
            "--gaze-weights", str(golden_dir / "gazelle_vits14_inout_random.pt"), "--device", "cpu",
            "--detector", "face"]
    with Child([sys.executable, "-c", _APP, *args], sigint=sigint, cwd=REPO, env=env, timeout_s=300) as child:
        line = child.read_line(timeout_s=180)
        while line != "recording" and not line.startswith("refused"):  # (ultralytics may print its own lines)
            line = child.read_line(timeout_s=180)
        assert line == "recording"
        child.send_signal(sig)
        returncode, _, err = child.finish(timeout_s=60)
    assert returncode == code, err
    assert "Traceback" not in err and (sig != signal.SIGTERM or "stopped by SIGTERM" in err)
    assert os.listdir(out_dir) == ["live.mp4"]  # renamed into place, no .partial.mp4 left
    assert _frames(out) >= 5  # playable, every frame written before the signal
