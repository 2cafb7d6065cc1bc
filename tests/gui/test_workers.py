"""The GUI's threads in isolation: mailbox, recorder, inference worker."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from gui_fakes import FakeDetector, FakeModel

from gazecam.gaze import GazeOptions
from gazecam.gui.processing import ProcessorBuilder
from gazecam.loading import ModelSpec
from gazecam.errors import GazecamError
from gazecam.gui.inference import InferenceWorker
from gazecam.gui.recording import RecorderWorker
from gazecam.gui.workers import LatestSlot, TimedFrame
from gazecam.types import Frame


def test_latest_slot_keeps_newest_and_counts_drops():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is True  # was empty: consumer needs a wake-up
    assert slot.put(2) is False and slot.put(3) is False
    assert slot.dropped == 2
    assert slot.take() == 3 and slot.take() is None
    assert slot.wait_take(0.01) is None
    threading.Timer(0.05, lambda: slot.put(7)).start()
    assert slot.wait_take(5.0) == 7


class ListSink:
    """A sink that keeps frames in memory and can fail on the n-th write."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.frames: list[np.ndarray] = []
        self.closed = False
        self.fail_at = fail_at

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True

    def write(self, image):
        if self.fail_at is not None and len(self.frames) == self.fail_at:
            raise OSError(28, "No space left on device")
        self.frames.append(image)


def test_recorder_writes_every_queued_frame_then_finalises(tmp_path):
    sink = ListSink()
    rec = RecorderWorker(path=tmp_path / "a.mp4", width=8, height=6, fps=10, audio_from=None,
                         sink_factory=lambda *a: sink)
    rec.start()
    for i in range(20):
        assert rec.write(np.full((6, 8, 3), i, np.uint8))
    assert rec.write(np.full((5, 8, 3), 20, np.uint8))  # another size: handed to the sink (which letterboxes it)
    summary = rec.stop()
    assert summary.frames == 21 and summary.dropped == 0 and summary.error == ""
    assert sink.closed and [int(f[0, 0, 0]) for f in sink.frames] == list(range(21))
    assert rec.write(np.zeros((6, 8, 3), np.uint8)) is False  # after stop


def test_recorder_open_failure_raises(tmp_path):
    def boom(*args):
        raise PermissionError(13, "Permission denied")

    rec = RecorderWorker(path=tmp_path / "nope" / "a.mp4", width=8, height=6, fps=10, audio_from=None,
                         sink_factory=boom)
    with pytest.raises(GazecamError, match="Permission denied"):
        rec.start()


def test_recorder_disk_full_mid_way_stops_cleanly(tmp_path):
    sink = ListSink(fail_at=3)
    rec = RecorderWorker(path=tmp_path / "a.mp4", width=8, height=6, fps=10, audio_from=None,
                         sink_factory=lambda *a: sink)
    rec.start()
    for _ in range(rec.QUEUE_FRAMES + 10):  # more than the queue holds: no blocking, extra frames refused
        rec.write(np.zeros((6, 8, 3), np.uint8))
    summary = rec.stop()
    assert "No space left" in summary.error and summary.frames == 3 and sink.closed


def _frame(i: int) -> TimedFrame:
    return TimedFrame(frame=Frame(image=np.zeros((48, 64, 3), np.uint8), index=i, timestamp_s=i / 10),
                      epoch=0, t_source=0.0)


def _builder(loader):
    return ProcessorBuilder(model_loader=loader, detector_factory=lambda s, d, n: FakeDetector(), track=False)


def test_inference_worker_loads_processes_and_survives_errors(qtbot):
    model = FakeModel()
    worker = InferenceWorker(builder=_builder(lambda c: model), gaze=GazeOptions())
    worker.start()
    try:
        with qtbot.waitSignal(worker.modelLoaded, timeout=5000) as loaded:
            worker.load_model(ModelSpec(name="fake"))
        assert loaded.args[0].name == "fake-model" and loaded.args[0].released is False
        with qtbot.waitSignal(worker.resultReady, timeout=5000):
            worker.submit(_frame(0))
        out = worker.results.take()
        assert out.result.frame.index == 0 and len(out.result) == 2 and out.infer_ms >= 0
        # A failing frame is reported and the worker keeps serving.
        worker.processor.detector = None  # detect() now raises AttributeError
        with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
            worker.submit(_frame(1))
        assert "frame 1" in failed.args[0]
        worker.processor.detector = FakeDetector()
        with qtbot.waitSignal(worker.resultReady, timeout=5000):
            worker.submit(_frame(2))
        assert worker.results.take().result.frame.index == 2 and worker.errors == 1
    finally:
        worker.stop()
    assert not worker.is_alive()


def test_inference_worker_reports_model_errors(qtbot):
    def missing(choice):
        raise FileNotFoundError(f"no weights for {choice.name}")

    worker = InferenceWorker(builder=_builder(missing), gaze=GazeOptions())
    worker.start()
    try:
        with qtbot.waitSignal(worker.modelFailed, timeout=5000) as failed:
            worker.load_model(ModelSpec(name="nothing"))
        assert "no weights for nothing" in failed.args[0]
        assert worker.processor is None and worker.is_alive()
    finally:
        worker.stop()


def test_settings_reach_the_gaze_stage(qtbot):
    worker = InferenceWorker(builder=_builder(lambda c: FakeModel()), gaze=GazeOptions(stride=2))
    worker.start()
    try:
        with qtbot.waitSignal(worker.modelLoaded, timeout=5000):
            worker.load_model(ModelSpec(name="fake"))
        assert worker.processor.gaze_stage.stride == 2
        worker.set_gaze(GazeOptions(inout_threshold=0.9, smooth=False, stride=5))
        qtbot.waitUntil(lambda: worker.processor.gaze_stage.stride == 5, timeout=5000)
        assert worker.processor.gaze_stage.inout_threshold == pytest.approx(0.9) and not worker.processor.gaze_stage.smooth
    finally:
        worker.stop()


def test_recorder_path_is_kept(tmp_path):
    rec = RecorderWorker(path=str(tmp_path / "b.mp4"), width=2, height=2, fps=1, audio_from=None,
                         sink_factory=lambda *a: ListSink())
    assert rec.path == Path(tmp_path / "b.mp4")


def test_recorder_keeps_frames_of_another_size_letterboxed(tmp_path):
    """The default sink (ClipWriter): a frame of another size is letterboxed into the video, not dropped."""
    import av

    rec = RecorderWorker(path=tmp_path / "mixed.mp4", width=64, height=48, fps=10, audio_from=None)
    rec.start()
    assert rec.write(np.full((48, 64, 3), 200, np.uint8))
    assert rec.write(np.full((48, 32, 3), 200, np.uint8))  # half as wide: black bars left and right
    assert rec.write(np.full((48, 64, 3), 200, np.uint8))
    summary = rec.stop()
    assert (summary.frames, summary.dropped, summary.letterboxed, summary.error) == (3, 0, 1, "")
    with av.open(str(summary.path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 3 and all(f.shape == (48, 64, 3) for f in frames)
    middle = frames[1]
    assert middle[:, :12].mean() < 20 and middle[:, -12:].mean() < 20  # the bars
    assert abs(float(middle[:, 20:44].mean()) - 200) < 10  # the picture, scaled into the centre
    assert abs(float(frames[0].mean()) - 200) < 10
