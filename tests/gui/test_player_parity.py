"""Parity: the GUI's player path and ``Capture`` give the same frames — pixels, indices, timestamps.

The GUI path is the real one: :class:`~gazecam.gui.playback.PlaybackWorker` (the playback thread) on
the opener the window uses, driven by step and seek commands as the transport bar sends them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import VFR_TIMES_MS, corrupt_packets, make_video, same_frame, shown_at

from gazecam.capture import Capture
from gazecam.gui.playback import PlaybackWorker
from gazecam.gui.sources import SourceSpec, open_source
from gazecam.types import Frame

WAIT_MS = 10_000
pytestmark = pytest.mark.filterwarnings("ignore::gazecam.capture.CaptureWarning")  # damaged clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("parity")
    cfr = make_video(tmp / "cfr.mp4", n=36, gop=6, audio=False)
    vfr = make_video(tmp / "vfr.mp4", times_ms=VFR_TIMES_MS, gop=4)
    return {"cfr": cfr, "vfr": vfr, "cfr-corrupt": corrupt_packets(cfr, tmp / "cfr-bad.mp4", (5, 13, 25)),
            "vfr-corrupt": corrupt_packets(vfr, tmp / "vfr-bad.mp4", (2, 6, 9))}


def capture_frames(path: Path) -> dict[int, Frame]:
    with Capture(path) as cap:
        return {f.index: f for f in cap}


class Player:
    """The playback thread on a file, paused; each command waits for the frame it publishes."""

    def __init__(self, qtbot, path: Path) -> None:
        self.qtbot = qtbot
        self.worker = PlaybackWorker(opener=lambda: open_source(SourceSpec("file", str(path))), live=False,
                                     autoplay=False)
        with qtbot.waitSignal(self.worker.opened, timeout=WAIT_MS) as opened:
            self.worker.start()
        self.info, self.last_index = opened.args

    def _publish(self, send) -> Frame:
        with self.qtbot.waitSignal(self.worker.frameReady, timeout=WAIT_MS):
            send()
        return self.worker.frames.take().frame

    def step(self, delta: int) -> Frame:
        return self._publish(lambda: self.worker.step(delta))

    def seek(self, index: int) -> Frame:
        return self._publish(lambda: self.worker.seek(index))

    def stop(self) -> None:
        self.worker.stop()


@pytest.mark.parametrize("name", ["cfr", "vfr", "cfr-corrupt", "vfr-corrupt"])
def test_gui_player_and_capture_give_the_same_frames(qtbot, clips, name):
    ref = capture_frames(clips[name])
    indices = list(ref)
    player = Player(qtbot, clips[name])
    try:
        assert player.last_index == indices[-1] or name.endswith("corrupt") and player.last_index >= indices[-1]
        # Frame by frame from the start (the Right key): every frame Capture delivers, in order.
        played = [player.step(1) for _ in indices]
        assert [f.index for f in played] == indices
        assert all(same_frame(f, ref[f.index]) for f in played)
        # Seek, then step forward and back: the frames Capture numbers so.
        for target in (indices[-1] - 3, 4, indices[len(indices) // 2], 0, indices[-1], 9, 3):
            shown = player.seek(target)
            assert same_frame(shown, ref[shown_at(indices, target)]), (name, target)
            later = [i for i in indices if i > shown.index]
            if later:
                ahead = player.step(1)
                assert same_frame(ahead, ref[later[0]]), (name, target)
                assert same_frame(player.step(-1), ref[shown.index]), (name, target)
            if shown.index > indices[0]:
                back = player.step(-1)
                assert same_frame(back, ref[shown_at(indices, shown.index - 1)]), (name, target)
    finally:
        player.stop()
    assert not player.worker.is_alive()
