"""Drive the main window like a user: open a clip, play, toggle overlays, record, snapshot, failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog

from gazecam.capture import CaptureError, SourceInfo
from gazecam.gui.settings import ViewSettings
from gazecam.loading import ModelSpec
from gazecam.gui.sources import SourceSpec
from gazecam.types import Frame

from gui_fakes import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE, FakeDetector, FakeModel, frame_index_of

WAIT_MS = 10_000


def read_video(path: Path) -> tuple[list[np.ndarray], float, bool]:
    """Frames (RGB), frame rate and whether there is an audio stream."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        return frames, float(s.average_rate), bool(c.streams.audio)


def wait_frame(qtbot, win, index: int) -> None:
    qtbot.waitUntil(lambda: win.current is not None and win.current.frame.index == index, timeout=WAIT_MS)


def wait_result(qtbot, win) -> None:
    qtbot.waitUntil(lambda: win.latest is not None and win.people.rowCount() > 0, timeout=WAIT_MS)


def open_paused_at_start(qtbot, win, clip: Path) -> None:
    win.open_source(SourceSpec("file", str(clip)))
    qtbot.waitUntil(lambda: win.source_info is not None and win.current is not None, timeout=WAIT_MS)
    win.pause()
    qtbot.waitUntil(lambda: not win.playback.playing, timeout=WAIT_MS)
    win.seek(0)
    wait_frame(qtbot, win, 0)


@pytest.fixture
def save_dialog(monkeypatch, tmp_path):
    """QFileDialog.getSaveFileName answers with paths in tmp_path (records what it was offered)."""
    offered: list[str] = []

    def fake(parent, title, default, filt):
        offered.append(default)
        return str(tmp_path / Path(default).name), filt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    return offered


@pytest.mark.slow
def test_open_play_overlays_and_status(qtbot, make_window, clip):
    win = make_window(source=SourceSpec("file", str(clip)))
    qtbot.waitUntil(lambda: win.source_info is not None, timeout=WAIT_MS)
    assert (win.source_info.width, win.source_info.height) == CLIP_SIZE
    assert win.source_info.frame_count == CLIP_FRAMES
    wait_result(qtbot, win)
    assert win.model_info is not None and win.model_info.name == "fake-model"
    # Untrained weights: banner in the window and in the drawn frame.
    assert win.banner.isVisible() and "Untrained weights" in win.banner.text()
    assert win.overlay.banner.startswith("UNTRAINED WEIGHTS")
    # People panel: one row per track, in/out with the threshold, whom they look at.
    rows = win.people.rows()
    assert [r[0] for r in rows] == ["#1", "#2"]
    assert rows[0][1].endswith("out") and rows[1][1].endswith("in")
    assert rows[0][2] == "out of frame"
    # Playback reaches the end; the frames came at the source rate through the display path.
    qtbot.waitUntil(lambda: not win.playback.playing, timeout=WAIT_MS)
    # the playback thread stops playing right after publishing the last frame; the UI thread draws it when it
    # handles that frame's queued signal, possibly a moment later
    qtbot.waitUntil(lambda: win.current.frame.index == CLIP_FRAMES - 1, timeout=WAIT_MS)
    assert win.current.frame.index == CLIP_FRAMES - 1
    assert win.video.frames_shown + win.dropped_frames >= CLIP_FRAMES - 1
    text = win.status_text()
    for word in ("display", "inference", "latency", "dropped", "people 2", "fake-model", "detect ", "encode ",
                 "decode ", "thread bounds: "):
        assert word in text

    # Toggle overlays with the keyboard shortcuts: the drawn frame changes, settings follow.
    before = win.annotated.copy()
    qtbot.keyClick(win, Qt.Key.Key_H)  # heatmap off
    qtbot.keyClick(win, Qt.Key.Key_A)  # arrows off
    qtbot.keyClick(win, Qt.Key.Key_B)  # boxes off
    assert not win.view_settings.heatmap and not win.view_settings.arrows and not win.view_settings.boxes
    assert not win.controls.checks["heatmap"].isChecked()
    assert not np.array_equal(before, win.annotated)
    win.set_view(ViewSettings(arrows=False, heatmap=False, boxes=False, ids=False, out_of_frame=False,
                              looking_at=False))
    # Only the untrained-weights banner is left: the top of the frame is the raw image.
    raw = win.current.frame.image
    assert np.array_equal(win.annotated[: CLIP_SIZE[1] // 2], raw[: CLIP_SIZE[1] // 2])
    win.controls.opacity.setValue(80)
    assert win.view_settings.heatmap_opacity == pytest.approx(0.8)


class SlowModel(FakeModel):
    """Inference far slower than the clip's 24 fps."""

    def encode(self, image):
        import time

        time.sleep(0.2)
        return super().encode(image)


@pytest.mark.slow
def test_video_never_stalls_when_inference_is_slow(qtbot, make_window, clip):
    from gazecam.gui.processing import ProcessorBuilder

    builder = ProcessorBuilder(model_loader=lambda choice: SlowModel(),
                              detector_factory=lambda spec, device, notify: FakeDetector(), track=False)
    win = make_window(builder=builder)
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    win.open_source(SourceSpec("file", str(clip)))
    qtbot.waitUntil(lambda: win.current is not None and win.current.frame.index == CLIP_FRAMES - 1, timeout=WAIT_MS)
    # Every frame of the clip was either drawn or counted as dropped; the model saw only some of them
    # (newest frame wins) and its overlays were drawn on later frames.
    assert win.frames_displayed + win.dropped_frames == CLIP_FRAMES
    assert win.inference.processed < win.frames_displayed
    assert win.inference.inbox.dropped > 0
    assert win.inference.processed < CLIP_FRAMES
    qtbot.waitUntil(lambda: win.people.rowCount() == 2, timeout=WAIT_MS)


def test_gaze_settings_apply_live(qtbot, make_window, clip, fake_builder):
    win = make_window(source=SourceSpec("file", str(clip)))
    wait_result(qtbot, win)
    win.controls.threshold.setValue(0.1)  # both people now "in"
    win.controls.smooth.setChecked(False)
    win.controls.stride.setValue(3)
    qtbot.waitUntil(lambda: win.inference.processor is not None and win.inference.processor.gaze_stage.stride == 3,
                    timeout=WAIT_MS)
    stage = win.inference.processor.gaze_stage
    assert stage.inout_threshold == pytest.approx(0.1) and stage.smooth is False
    # The playback may have ended already: step back through the clip to get fresh results.
    win.pause()
    win.seek(5)
    qtbot.waitUntil(lambda: win.latest is not None and win.latest.result.frame.index == 5
                    and bool(win.latest.result.in_frame.all()), timeout=WAIT_MS)
    assert all(r[1].endswith(" in") for r in win.people.rows())


def test_seek_step_speed(qtbot, make_window, clip):
    win = make_window()
    open_paused_at_start(qtbot, win, clip)
    assert frame_index_of(win.current.frame.image) == 0
    qtbot.keyClick(win, Qt.Key.Key_Right)
    wait_frame(qtbot, win, 1)
    qtbot.keyClick(win, Qt.Key.Key_Right)
    wait_frame(qtbot, win, 2)
    qtbot.keyClick(win, Qt.Key.Key_Left)
    wait_frame(qtbot, win, 1)
    win.seek(30)
    wait_frame(qtbot, win, 30)
    assert frame_index_of(win.current.frame.image) == 30
    assert win.seek_slider.value() == 30
    win.seek_slider.setValue(10)  # what a drag does, then release
    win.seek_slider.sliderReleased.emit()
    wait_frame(qtbot, win, 10)
    win.set_speed(2.0)
    assert win.speed_combo.currentData() == 2.0
    qtbot.keyClick(win, Qt.Key.Key_Space)  # play
    qtbot.waitUntil(lambda: win.current.frame.index == CLIP_FRAMES - 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not win.playback.playing, timeout=WAIT_MS)  # stops at the end
    qtbot.keyClick(win, Qt.Key.Key_Space)  # at the end, play starts over
    qtbot.waitUntil(lambda: win.current.frame.index < 10, timeout=WAIT_MS)


def test_record_steps_exact_frames_with_audio(qtbot, make_window, clip, save_dialog, tmp_path):
    win = make_window()
    open_paused_at_start(qtbot, win, clip)
    wait_result(qtbot, win)
    qtbot.keyClick(win, Qt.Key.Key_R)  # record: dialog offers a timestamped .mp4 name
    assert win.recording
    assert Path(save_dialog[-1]).name.startswith("gazecam-") and save_dialog[-1].endswith(".mp4")
    for i in range(1, 10):
        win.step(1)
        wait_frame(qtbot, win, i)
    qtbot.keyClick(win, Qt.Key.Key_R)  # stop
    summary = win.last_recording
    assert not win.recording and summary is not None and summary.error == ""
    assert summary.frames == 10 and summary.dropped == 0
    frames, fps, has_audio = read_video(summary.path)
    assert len(frames) == 10
    assert fps == pytest.approx(CLIP_FPS)
    assert frames[0].shape == (CLIP_SIZE[1], CLIP_SIZE[0], 3)
    assert [frame_index_of(f) for f in frames] == list(range(10))
    assert has_audio  # started at the first frame of a file with sound


def test_record_from_the_middle_keeps_aligned_audio(qtbot, make_window, clip, tmp_path):
    import av

    win = make_window()
    open_paused_at_start(qtbot, win, clip)
    win.seek(24)
    wait_frame(qtbot, win, 24)
    assert win.start_recording(tmp_path / "middle.mp4")
    for i in range(25, 37):
        win.step(1)
        wait_frame(qtbot, win, i)
    summary = win.stop_recording()
    assert summary.frames == 13 and summary.error == ""
    frames, _, has_audio = read_video(summary.path)
    assert [frame_index_of(f) for f in frames] == list(range(24, 37))
    assert has_audio
    with av.open(str(summary.path)) as c:
        a = c.streams.audio[0]
        samples = sum(f.samples for f in c.decode(a))
    # The second half of the source's sound, cut to the clip's 13 frames (AAC packets: +-1024 samples).
    assert abs(samples / a.sample_rate - 13 / CLIP_FPS) < 0.1


def test_snapshot_png(qtbot, make_window, clip, save_dialog):
    from PIL import Image

    win = make_window()
    open_paused_at_start(qtbot, win, clip)
    wait_result(qtbot, win)
    qtbot.waitUntil(lambda: win.latest.result.frame.index == 0, timeout=WAIT_MS)
    qtbot.keyClick(win, Qt.Key.Key_S)
    path = win.last_snapshot
    assert path is not None and path.suffix == ".png" and path.name.startswith("gazecam-")
    saved = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(saved, win.annotated)
    assert not np.array_equal(saved, win.current.frame.image)  # overlays are in the snapshot


def test_close_while_recording_leaves_valid_file(qtbot, make_window, clip, tmp_path):
    win = make_window(source=SourceSpec("file", str(clip)))
    wait_result(qtbot, win)
    win.seek(0)
    assert win.start_recording(tmp_path / "closing.mp4")
    qtbot.waitUntil(lambda: win.recorder is not None and win.recorder.frames >= 5, timeout=WAIT_MS)
    playback, inference = win.playback, win.inference
    win.close()
    assert not playback.is_alive() and not inference.is_alive()
    summary = win.last_recording
    assert summary is not None and summary.error == "" and summary.frames >= 5
    frames, _, _ = read_video(tmp_path / "closing.mp4")
    assert len(frames) == summary.frames


class UnpluggedCamera:
    """A live source that delivers a few frames, then fails like an unplugged camera."""

    seekable = False
    opened = 0

    def __init__(self, frames_before_failure: int = 5) -> None:
        UnpluggedCamera.opened += 1
        self.info = SourceInfo(uri="fake camera", kind="camera", width=64, height=48, fps=30.0, frame_count=None,
                               has_audio=False, live=True)
        self._left = frames_before_failure
        self._index = 0

    def read(self) -> Frame | None:
        if self._left == 0:
            raise CaptureError("camera 0 stopped delivering frames and could not be reopened")
        self._left -= 1
        self._index += 1
        return Frame(image=np.full((48, 64, 3), 100, np.uint8), index=self._index - 1, timestamp_s=self._index / 30)

    def close(self) -> None:
        pass


def test_unplugged_camera_message_and_reconnect(qtbot, make_window):
    UnpluggedCamera.opened = 0
    win = make_window(source_opener=lambda spec: UnpluggedCamera())
    win.open_source(SourceSpec.parse("0"))
    qtbot.waitUntil(lambda: win.source_message.isVisible(), timeout=WAIT_MS)
    assert "stopped delivering frames" in win.source_message.text()
    assert win.source_message.findChild(type(win.record_button), "msg_retry") is not None
    assert win.current is not None and win.current.frame.index == 4  # the last frame stays on screen
    assert win.playback.is_alive() and win.inference.is_alive()  # the app keeps running
    # Reconnect: a new source is opened and frames flow again.
    first_epoch = win.current.epoch
    qtbot.mouseClick(win.source_message.findChild(type(win.record_button), "msg_retry"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: UnpluggedCamera.opened == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: win.source_message.isVisible() and win.current.epoch != first_epoch, timeout=WAIT_MS)


def test_unreadable_file_and_missing_camera(qtbot, make_window, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    win = make_window(source=SourceSpec("file", str(bad)))
    qtbot.waitUntil(lambda: win.source_message.isVisible(), timeout=WAIT_MS)
    assert "broken.mp4" in win.source_message.text() and win.source_message.kind == "error"
    assert win.isVisible()
    # A camera that is not there (the real capture path): message with Reconnect, app alive.
    win.open_source(SourceSpec.parse("/dev/video97"))
    qtbot.waitUntil(lambda: win.source_message.isVisible() and "video97" in win.source_message.text(), timeout=WAIT_MS)
    assert win.source_message.findChild(type(win.record_button), "msg_retry") is not None
    assert win.inference.is_alive()


def test_stride_auto_runs_in_the_window(qtbot, make_window, store, clip):
    """The stride picker offers auto (below 1): the gaze stage then encodes when the scene changed."""
    win = make_window(source=SourceSpec("file", str(clip)))
    wait_result(qtbot, win)
    win.controls.stride.setValue(0)
    assert win.controls.stride.text() == "auto" and win.gaze_settings.stride == "auto"
    qtbot.waitUntil(lambda: win.inference.processor.gaze_stage.stride == "auto", timeout=WAIT_MS)
    stage = win.inference.processor.gaze_stage
    win.pause()
    epoch = win.latest.epoch if win.latest is not None else None
    encodes = stage.encodes
    win.seek(3)  # a new playback epoch: wait for its result, not a frame 3 shown before the seek
    qtbot.waitUntil(lambda: win.latest is not None and win.latest.epoch != epoch
                    and win.latest.result.frame.index == 3, timeout=WAIT_MS)
    assert np.isfinite(stage.last_scene_change)  # the scene-change measure ran on a frame with heads
    assert stage.encodes > encodes and len(win.latest.result) == 2
    assert store.load_gaze().stride == "auto" and win.inference.is_alive()


def test_missing_zoo_weights_shows_offline_message(qtbot, make_window, clip, monkeypatch, tmp_path):
    """The zoo model cannot be downloaded here: the real OfflineError text appears in the window."""
    from gazecam.gui.processing import ProcessorBuilder

    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GAZECAM_MIRROR", "http://127.0.0.1:9")  # refused at once: no network wait
    builder = ProcessorBuilder(detector_factory=lambda spec, device, notify: FakeDetector(), track=False)
    win = make_window(source=SourceSpec("file", str(clip)), builder=builder,
                      model=ModelSpec(name="gazelle_dinov2_vitb14_inout", device="cpu"))
    qtbot.waitUntil(lambda: win.model_message.isVisible(), timeout=WAIT_MS)
    text = win.model_message.text()
    assert "gazelle_dinov2_vitb14_inout.pt" in text and "put it at" in text
    assert str(tmp_path / "cache") in text
    # The video keeps playing without a model.
    qtbot.waitUntil(lambda: win.current is not None and win.current.frame.index > 3, timeout=WAIT_MS)
    assert win.model_info is None and win.latest is None
    # No camera either: both problems are on screen at once.
    win.open_source(SourceSpec.parse("/dev/video97"))
    qtbot.waitUntil(lambda: win.source_message.isVisible(), timeout=WAIT_MS)
    assert win.model_message.isVisible() and "put it at" in win.model_message.text()


@pytest.mark.slow
def test_golden_model_end_to_end(qtbot, make_window, clip, golden_model_inout):
    """The real Gaze-LLE model (golden random ViT-S weights) in the inference thread."""
    from gazecam.gui.processing import ProcessorBuilder

    builder = ProcessorBuilder(model_loader=lambda choice: golden_model_inout,
                              detector_factory=lambda spec, device, notify: FakeDetector(), track=False)
    win = make_window(builder=builder, model=ModelSpec(backbone_weights="golden", gaze_weights="golden"))
    open_paused_at_start(qtbot, win, clip)
    qtbot.waitUntil(lambda: win.latest is not None and win.latest.result.frame.index == 0, timeout=30_000)
    result = win.latest.result
    assert result.heatmaps.shape == (2, 64, 64) and result.inout is not None
    expected = golden_model_inout.predict(win.current.frame.image, list(map(tuple, result.heads.xyxy_norm)))
    np.testing.assert_allclose(result.heatmaps, expected.heatmaps, atol=1e-4)
    assert win.banner.isVisible()  # golden weights are not a released checkpoint
    assert len(win.people.rows()) == 2


def test_settings_remembered(qtbot, make_window, store, clip):
    win = make_window()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)  # a loaded model is remembered
    win.set_view(ViewSettings(heatmap=False, combined_heatmap=False, heatmap_opacity=0.3))
    win.controls.stride.setValue(4)
    win.resize(720, 560)
    qtbot.waitUntil(lambda: win.width() == 720, timeout=WAIT_MS)
    win.close()
    again = make_window()
    qtbot.waitUntil(lambda: again.model_info is not None, timeout=WAIT_MS)  # as when the size was saved
    assert again.view_settings.heatmap is False and again.view_settings.combined_heatmap is False
    assert again.view_settings.heatmap_opacity == pytest.approx(0.3)
    assert again.gaze_settings.stride == 4 and again.controls.stride.value() == 4
    qtbot.waitUntil(lambda: again.width() == 720, timeout=WAIT_MS)  # restored (offscreen screen is 800x600)
    assert store.load_model() == ModelSpec(name="fake")


def test_image_folder_plays_seeks_steps_and_records(qtbot, make_window, tmp_path):
    """A folder of images plays like a clip (25 images/s); a recording letterboxes an image of another size."""
    from gui_fakes import make_image_folder

    folder = make_image_folder(tmp_path / "shots", frames=12, other_sizes={7: (120, 120)})
    win = make_window(source=SourceSpec("file", str(folder)))
    qtbot.waitUntil(lambda: win.source_info is not None, timeout=WAIT_MS)
    assert (win.source_info.kind, win.source_info.frame_count, win.seek_slider.maximum()) == ("images", 12, 11)
    qtbot.waitUntil(lambda: win.current is not None and win.current.frame.index == 11, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not win.playback.playing, timeout=WAIT_MS)  # played to the end
    assert frame_index_of(win.current.frame.image) == 11 and win.current.frame.timestamp_s == pytest.approx(0.44)
    win.seek(5)
    wait_frame(qtbot, win, 5)
    assert frame_index_of(win.current.frame.image) == 5
    assert win.start_recording(tmp_path / "folder.mp4")
    for i in range(6, 10):
        qtbot.keyClick(win, Qt.Key.Key_Right)
        wait_frame(qtbot, win, i)
    qtbot.keyClick(win, Qt.Key.Key_Left)
    wait_frame(qtbot, win, 8)
    summary = win.stop_recording()
    assert (summary.frames, summary.dropped, summary.letterboxed, summary.error) == (6, 0, 1, "")
    frames, fps, has_audio = read_video(summary.path)
    assert len(frames) == 6 and fps == pytest.approx(25) and not has_audio
    assert all(f.shape == (CLIP_SIZE[1], CLIP_SIZE[0], 3) for f in frames)
    odd = frames[2]  # image 7 (120 x 120) in the 160 x 120 video: black bars left and right
    assert odd[:, :16].max() < 40 and odd[:, -16:].max() < 40
    assert [frame_index_of(f) for i, f in enumerate(frames) if i != 2] == [5, 6, 8, 9, 8]


def test_recording_over_the_file_being_played_is_refused(qtbot, make_window, clip, tmp_path):
    import os
    import shutil

    source = tmp_path / "clip.mp4"
    shutil.copy(clip, source)
    os.link(source, tmp_path / "same-file.mp4")
    before = source.read_bytes()
    win = make_window()
    open_paused_at_start(qtbot, win, source)
    assert not win.start_recording(tmp_path / "same-file.mp4")  # a hard link to the source
    assert not win.recording and "is the input file" in win.last_recording.error
    assert source.read_bytes() == before
