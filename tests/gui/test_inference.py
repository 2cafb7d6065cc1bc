"""The GUI's inference threads: detection of frame i+1 overlaps the gaze model on frame i.

The fakes record events in order and block on gates (threading.Event with a generous timeout) that other
events open, so the tests check orders of events, never durations.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gui_fakes import FakeDetector, FakeModel

from gazecam.gaze import GazeOptions
from gazecam.gui.inference import InferenceWorker
from gazecam.gui.processing import ProcessorBuilder
from gazecam.gui.status import RecentStages, StageMeans
from gazecam.gui.workers import InferenceOutput, TimedFrame
from gazecam.loading import ModelSpec
from gazecam.types import Frame

WAIT_MS = 20000
GATE_S = 20.0


class Events:
    """An ordered log of events; ``gate(name)`` returns an Event set when ``name`` is logged."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Event] = {}

    def add(self, name: str) -> None:
        with self._lock:
            self.log.append(name)
            gate = self._gates.get(name)
        if gate is not None:
            gate.set()

    def gate(self, name: str) -> threading.Event:
        with self._lock:
            gate = self._gates.setdefault(name, threading.Event())
            if name in self.log:
                gate.set()
            return gate

    def index(self, name: str) -> int:
        return self.log.index(name)


class LoggedDetector(FakeDetector):
    """Two heads per frame; logs ``detect-start i`` / ``detect-end i``; ``fail_on``: frames that raise."""

    def __init__(self, events: Events, fail_on: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.events = events
        self.fail_on = fail_on

    def detect(self, frame: Frame):
        self.events.add(f"detect-start {frame.index}")
        if frame.index in self.fail_on:
            raise RuntimeError(f"detector broke on {frame.index}")
        heads = super().detect(frame)
        self.events.add(f"detect-end {frame.index}")
        return heads


class LoggedModel(FakeModel):
    """Logs ``gaze-start i`` / ``gaze-end i`` (i: the frame's pixel value); ``wait_for[i]``: an event name
    to wait for before finishing frame i; ``fail_on``: frames whose decoder raises."""

    def __init__(self, events: Events, *, tag: str = "", wait_for: dict[int, str] | None = None,
                 fail_on: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.events, self.tag, self.wait_for, self.fail_on = events, tag, wait_for or {}, fail_on
        self.opened: list[bool] = []  # per gate: opened (True) or timed out (False)
        self._index = -1

    def encode(self, image: np.ndarray):
        self._index = int(image[0, 0, 0])
        self.events.add(f"gaze-start {self._index}{self.tag}")
        if self._index in self.wait_for:
            self.opened.append(self.events.gate(self.wait_for[self._index]).wait(GATE_S))
        return super().encode(image)

    def decode(self, feats, heads):
        if self._index in self.fail_on:
            raise ValueError(f"decoder broke on {self._index}")
        out = super().decode(feats, heads)
        self.events.add(f"gaze-end {self._index}{self.tag}")
        return out


def _frame(i: int, epoch: int = 0) -> TimedFrame:
    return TimedFrame(frame=Frame(image=np.full((48, 64, 3), i, np.uint8), index=i, timestamp_s=i / 10),
                      epoch=epoch, t_source=0.0)


def _worker(qtbot, models, detector, *, overlap: bool = True, events: "Events | None" = None) -> InferenceWorker:
    """A started worker whose first model (``models``: spec name -> model) is loaded; ``events``: log
    ``loading NAME`` in the thread that loads it, when it does (a queued signal would arrive later)."""

    def load(spec: ModelSpec):
        if events is not None:
            events.add(f"loading {spec.name}")
        return models[spec.name]

    builder = ProcessorBuilder(model_loader=load, detector_factory=lambda s, d, n: detector, track=False)
    worker = InferenceWorker(builder=builder, gaze=GazeOptions(smooth=False), overlap=overlap)
    worker.start()
    with qtbot.waitSignal(worker.modelLoaded, timeout=WAIT_MS):
        worker.load_model(ModelSpec(name=next(iter(models))))
    return worker


def _results(worker: InferenceWorker, sink: list[InferenceOutput]) -> list[InferenceOutput]:
    """Every result the gaze thread delivers, in order (the results slot itself keeps only the newest)."""
    put = worker.results.put

    def record(out: InferenceOutput) -> bool:
        sink.append(out)
        return put(out)

    worker.results.put = record  # type: ignore[method-assign]
    return sink


def test_detection_of_the_next_frame_runs_while_the_model_works(qtbot):
    events = Events()
    model = LoggedModel(events, wait_for={0: "detect-end 1"})  # frame 0's gaze ends only after frame 1's detection
    worker = _worker(qtbot, {"m": model}, LoggedDetector(events))
    got = _results(worker, [])
    try:
        worker.submit(_frame(0))
        qtbot.waitUntil(lambda: "gaze-start 0" in events.log, timeout=WAIT_MS)
        worker.submit(_frame(1))
        qtbot.waitUntil(lambda: len(got) == 2, timeout=WAIT_MS)
    finally:
        worker.stop()
    assert model.opened == [True]  # opened by frame 1's detection, not by the timeout
    log = events.log
    assert log.index("gaze-start 0") < log.index("detect-start 1") < log.index("detect-end 1") < log.index("gaze-end 0")
    assert [o.result.frame.index for o in got] == [0, 1]
    assert all(o.overlapped and o.detect_thread_ms >= 0 and o.gaze_thread_ms >= 0 for o in got)
    assert got[0].result.timings.detect >= 0 and got[0].result.timings.encode >= 0


def test_one_thread_mode_runs_the_stages_one_after_the_other(qtbot):
    events = Events()
    worker = _worker(qtbot, {"m": LoggedModel(events)}, LoggedDetector(events), overlap=False)
    got = _results(worker, [])
    try:
        assert [t.name for t in threading.enumerate() if t.name == "gazecam-gaze"] == []
        for i in range(3):
            worker.submit(_frame(i))
            qtbot.waitUntil(lambda i=i: len(got) == i + 1, timeout=WAIT_MS)
    finally:
        worker.stop()
    assert [e for e in events.log if "-start" in e] == ["detect-start 0", "gaze-start 0", "detect-start 1",
                                                         "gaze-start 1", "detect-start 2", "gaze-start 2"]
    assert not got[-1].overlapped and worker.threads_alive() == []


def test_newest_frame_wins_without_wasted_detections(qtbot):
    """While the model is busy, only the newest submitted frame is detected next; the others are counted."""
    events = Events()
    model = LoggedModel(events, wait_for={0: "release 0"})
    detector = LoggedDetector(events)
    worker = _worker(qtbot, {"m": model}, detector)
    got = _results(worker, [])
    try:
        worker.submit(_frame(0))
        qtbot.waitUntil(lambda: "gaze-start 0" in events.log, timeout=WAIT_MS)
        worker.submit(_frame(1))
        qtbot.waitUntil(lambda: "detect-end 1" in events.log, timeout=WAIT_MS)  # waits in the handoff
        for i in (2, 3, 4):
            worker.submit(_frame(i))
        events.add("release 0")
        qtbot.waitUntil(lambda: len(got) >= 1 and got[-1].result.frame.index == 4, timeout=WAIT_MS)
    finally:
        worker.stop()
    assert detector.calls == [0, 1, 4]
    assert worker.inbox.dropped == 2  # frames 2 and 3: skipped by the model, counted
    assert [e for e in events.log if e.startswith("gaze-end")] == ["gaze-end 0", "gaze-end 1", "gaze-end 4"]


@pytest.mark.parametrize("where", ["detect", "gaze"])
def test_errors_of_either_thread_reach_the_window_and_the_worker_goes_on(qtbot, where):
    events = Events()
    detector = LoggedDetector(events, fail_on=(1,) if where == "detect" else ())
    model = LoggedModel(events, fail_on=(1,) if where == "gaze" else ())
    worker = _worker(qtbot, {"m": model}, detector)
    got = _results(worker, [])
    try:
        with qtbot.waitSignal(worker.failed, timeout=WAIT_MS) as failed:
            worker.submit(_frame(1))
        assert failed.args[0].startswith("frame 1: ")
        assert ("detector broke on 1" if where == "detect" else "decoder broke on 1") in failed.args[0]
        worker.submit(_frame(2))
        qtbot.waitUntil(lambda: len(got) == 1, timeout=WAIT_MS)
        assert got[0].result.frame.index == 2 and worker.errors == 1 and worker.is_alive()
    finally:
        worker.stop()


def test_a_seek_reset_applies_to_the_gaze_stage_at_the_seek_frame(qtbot):
    """A reset posted while frame 0 is still in the gaze thread must not touch frame 0's gaze stage state."""
    events = Events()
    model = LoggedModel(events, wait_for={0: "detect-end 1"})
    worker = _worker(qtbot, {"m": model}, LoggedDetector(events))
    stage = worker.processor.gaze_stage
    reset_stage = stage.reset
    stage.reset = lambda: (events.add("gaze-reset"), reset_stage())  # type: ignore[method-assign]

    class Tracker:
        def update(self, heads):
            return heads

        def reset(self):
            events.add("tracker-reset")

    worker.processor.tracker = Tracker()
    got = _results(worker, [])
    try:
        worker.submit(_frame(0))
        qtbot.waitUntil(lambda: "gaze-start 0" in events.log, timeout=WAIT_MS)
        worker.reset()  # the window's seek: reset, then the seek's first frame
        worker.set_gaze(GazeOptions(smooth=False, stride=3))
        worker.submit(_frame(1, epoch=1))
        qtbot.waitUntil(lambda: len(got) == 2, timeout=WAIT_MS)
    finally:
        worker.stop()
    log = events.log
    assert log.index("tracker-reset") < log.index("detect-start 1")
    assert log.index("gaze-end 0") < log.index("gaze-reset") < log.index("gaze-start 1")
    assert model.opened == [True]  # frame 1 was detected while frame 0 was in the gaze thread
    assert log.count("gaze-reset") == 1 and stage.stride == 3
    assert [(o.result.frame.index, o.epoch) for o in got] == [(0, 0), (1, 1)]


def test_a_model_change_waits_for_the_old_models_frame(qtbot):
    events = Events()
    old = LoggedModel(events, wait_for={0: "release 0"})
    new = LoggedModel(events, tag=" new")
    worker = _worker(qtbot, {"old": old, "new": new}, LoggedDetector(events), events=events)
    got = _results(worker, [])
    try:
        worker.submit(_frame(0))
        qtbot.waitUntil(lambda: "gaze-start 0" in events.log, timeout=WAIT_MS)
        worker.load_model(ModelSpec(name="new"))
        worker.submit(_frame(1))
        qtbot.wait(100)  # give the detect thread time to reach the model change (the order holds regardless)
        events.add("release 0")
        qtbot.waitUntil(lambda: len(got) == 2, timeout=WAIT_MS)
    finally:
        worker.stop()
    log = events.log
    assert log.index("gaze-end 0") < log.index("loading new") < log.index("gaze-start 1 new")
    assert "gaze-start 1" not in log and worker.processor is None  # released at stop
    assert [o.result.frame.index for o in got] == [0, 1]


def test_stop_joins_both_threads_even_with_a_frame_in_flight(qtbot):
    events = Events()
    model = LoggedModel(events, wait_for={0: "never"})
    worker = _worker(qtbot, {"m": model}, LoggedDetector(events))
    names = {t.name for t in threading.enumerate()}
    assert {"gazecam-detect", "gazecam-gaze"} <= names
    worker.submit(_frame(0))
    qtbot.waitUntil(lambda: "gaze-start 0" in events.log, timeout=WAIT_MS)
    worker.submit(_frame(1))
    qtbot.waitUntil(lambda: "detect-end 1" in events.log, timeout=WAIT_MS)  # frame 1 waits in the handoff
    events.add("never")  # let the gaze thread's frame finish, as a slow model eventually does
    worker.stop()
    assert worker.threads_alive() == [] and not worker.is_alive()


def test_stage_means_name_the_bounding_thread():
    from gazecam.types import GazeResult, HeadBoxes, StageTimes

    def out(detect: float, encode: float, decode: float, d_ms: float, g_ms: float, overlapped=True):
        frame = _frame(0).frame
        result = GazeResult(frame=frame, heads=HeadBoxes(xyxy=np.zeros((0, 4)), image_size=(48, 64)),
                            heatmaps=np.zeros((0, 64, 64), np.float32), points_norm=np.zeros((0, 2)), inout=None,
                            in_frame=np.zeros(0, bool), looking_at=np.zeros(0, np.int64), mutual=np.zeros(0, bool),
                            timings=StageTimes(detect=detect, encode=encode, decode=decode))
        return InferenceOutput(result=result, epoch=0, t_source=0.0, detect_thread_ms=d_ms, gaze_thread_ms=g_ms,
                               overlapped=overlapped)

    recent = RecentStages()
    assert recent.means().text() == "stages –"
    recent.add(out(80, 70, float("nan"), 82, 97))
    recent.add(out(80, float("nan"), 30, 82, 97))
    text = recent.means().text()
    assert text == "detect 80 · encode 70 · decode 30 ms (gaze thread bounds: 97 ms/frame)"
    assert StageMeans(detect=120, encode=50, decode=20, detect_thread=121, gaze_thread=71).text().endswith(
        "(detect thread bounds: 121 ms/frame)")
    assert StageMeans(detect=1, encode=2, decode=3, detect_thread=1, gaze_thread=5, overlapped=False).text() \
        == "detect 1 · encode 2 · decode 3 ms (one thread: 6 ms/frame)"


@pytest.mark.parametrize("where", ["detect", "gaze"])
def test_errors_of_either_thread_show_in_the_window(qtbot, make_window, clip, where):
    from gazecam.gui.sources import SourceSpec

    events = Events()
    every = tuple(range(256))  # frame indices (detector) and pixel values (model) of every clip frame
    detector = LoggedDetector(events, fail_on=every if where == "detect" else ())
    model = LoggedModel(events, fail_on=every if where == "gaze" else ())
    builder = ProcessorBuilder(model_loader=lambda spec: model, detector_factory=lambda s, d, n: detector,
                               track=False)
    win = make_window(builder=builder)
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    win.open_source(SourceSpec("file", str(clip)))
    expected = "detector broke on" if where == "detect" else "decoder broke on"
    qtbot.waitUntil(lambda: expected in win.statusBar().currentMessage(), timeout=WAIT_MS)
    assert win.statusBar().currentMessage().startswith("inference error: frame ")
    assert win.inference.is_alive() and win.inference.errors >= 1
    win.shutdown()
    assert win.inference.threads_alive() == []
