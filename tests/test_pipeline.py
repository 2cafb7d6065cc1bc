"""Pipeline: capture thread -> detection -> tracking -> gaze, per-stage timings, stop/close, errors."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from fakes import CountingModel

from gazecam.capture import Capture
from gazecam.records import FileHeads
from gazecam.errors import GazecamError
from gazecam.gaze import GazeStage
from gazecam.pipeline import FrameProcessor, Pipeline
from gazecam.track import HeadTracker
from gazecam.types import Frame, HeadBoxes

H, W = 120, 160


def make_video(path: Path, n: int = 10, fps: int = 10) -> Path:
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.time_base = Fraction(1, fps)
        for i in range(n):
            img = np.full((H, W, 3), 20 * i % 255, np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def heads_file(path: Path, n: int) -> Path:
    lines = [f'{{"frame": {i}, "xyxy": [{10 + 3 * i}, 10, {40 + 3 * i}, 40]}}' for i in range(n) if i != 4]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_results_in_order_with_tracked_ids_and_timings(tmp_path):
    video = make_video(tmp_path / "v.mp4", n=10)
    model = CountingModel()
    with Pipeline(video, processor=FrameProcessor(detector=FileHeads(heads_file(tmp_path / "h.jsonl", 10)), tracker=HeadTracker(),
                  gaze_stage=GazeStage(model=model))) as pipe:
        assert pipe.info.width == W and pipe.info.height == H and pipe.info.fps == 10
        results = list(pipe)
    assert [r.frame.index for r in results] == list(range(10))
    assert [len(r) for r in results] == [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]  # frame 4: nobody
    ids = {int(r.heads.track_ids[0]) for r in results if len(r)}
    assert len(ids) == 1 and ids.pop() >= 1  # the same person after a one-frame gap
    assert model.encodes == 9  # no encode on the frame without people
    assert model.thread_ids == {threading.get_ident()}  # the models run in the iterating thread
    t = results[0].timings
    assert t.capture >= 0 and t.detect >= 0 and t.encode >= 0 and t.decode >= 0
    st = pipe.stats
    assert (st.frames, st.people_frames, st.frames_with_people, st.encodes) == (10, 9, 9, 9)
    means = st.totals.mean_ms()
    assert {"capture", "detect", "encode", "decode"} <= set(means)
    assert pipe.capture_stats.frames_read == 10


def test_max_frames_stop_and_reuse(tmp_path):
    video = make_video(tmp_path / "v.mp4", n=10)
    det = FileHeads(heads_file(tmp_path / "h.jsonl", 10))
    with Pipeline(video, processor=FrameProcessor(detector=det, gaze_stage=GazeStage(model=CountingModel())), max_frames=3) as pipe:
        assert len(list(pipe)) == 3
        with pytest.raises(RuntimeError, match="iterated once"):
            list(pipe)
    with Pipeline(video, processor=FrameProcessor(detector=det, gaze_stage=GazeStage(model=CountingModel()))) as pipe:
        got = []
        for r in pipe:
            got.append(r)
            if len(got) == 2:
                pipe.stop()  # e.g. from a GUI thread: ends after the current frame
        assert len(got) == 2 and pipe.stopped


def test_live_settings_between_frames(tmp_path):
    video = make_video(tmp_path / "v.mp4", n=6)
    model = CountingModel()
    stage = GazeStage(model=model, stride=1)
    with Pipeline(video, processor=FrameProcessor(detector=FileHeads(heads_file(tmp_path / "h.jsonl", 6)),
                                                  gaze_stage=stage, tracker=HeadTracker())) as pipe:
        gen = iter(pipe)
        first = next(gen)
        assert first.fresh
        stage.stride = 100  # changed while running: the encoder is not run again
        rest = list(gen)
    assert model.encodes == 1 and all(not r.fresh for r in rest if len(r))


def test_detector_errors_reach_the_caller_with_the_cause(tmp_path):
    class Broken:
        name = "broken"
        is_fallback = False

        def detect(self, frame: Frame) -> HeadBoxes:
            raise ZeroDivisionError("boom")

    video = make_video(tmp_path / "v.mp4", n=3)
    with Pipeline(video, processor=FrameProcessor(detector=Broken(), gaze_stage=GazeStage(model=CountingModel()))) as pipe:
        with pytest.raises(GazecamError, match="head detection \\(broken\\) failed on frame 0") as e:
            list(pipe)
    assert isinstance(e.value.__cause__, ZeroDivisionError)
    assert pipe.capture._closed


def test_close_mid_run_releases_the_capture_thread(tmp_path):
    video = make_video(tmp_path / "v.mp4", n=30)
    pipe = Pipeline(Capture(video, queue_size=2), processor=FrameProcessor(detector=FileHeads(heads_file(tmp_path / "h.jsonl", 30)),
                    gaze_stage=GazeStage(model=CountingModel())))
    it = iter(pipe)
    next(it)
    pipe.close()
    pipe.capture._thread.join(5)
    assert not pipe.capture._thread.is_alive()


@pytest.mark.slow
def test_with_the_golden_model(tmp_path, golden_model_inout):
    video = make_video(tmp_path / "v.mp4", n=3)
    with Pipeline(video, processor=FrameProcessor(detector=FileHeads(heads_file(tmp_path / "h.jsonl", 3)), tracker=HeadTracker(),
                  gaze_stage=GazeStage(model=golden_model_inout, stride=2))) as pipe:
        results = list(pipe)
    assert [r.fresh for r in results] == [True, False, True]
    assert all(r.heatmaps.shape == (1, 64, 64) and r.inout.shape == (1,) for r in results)
    assert pipe.stats.encodes == 2


def test_bad_max_frames(tmp_path):
    with pytest.raises(ValueError, match="max_frames"):
        Pipeline(make_video(tmp_path / "v.mp4", n=1), processor=FrameProcessor(detector=FileHeads(heads_file(tmp_path / "h.jsonl", 1)),
                 gaze_stage=GazeStage(model=CountingModel())), max_frames=0)


def test_pipeline_and_process_command_import_no_heavy_modules():
    import subprocess
    import sys

    code = ("import sys, gazecam.pipeline, gazecam.commands.process; "
            "print(sorted(m for m in ('torch', 'ultralytics', 'PyQt6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_frame_processor_step_without_a_source_and_consumer_times():
    """The step the GUI and the benchmark share: no capture, results never changed afterwards."""
    class Two:
        name = "two"
        is_fallback = False

        def detect(self, frame: Frame) -> HeadBoxes:
            return HeadBoxes(xyxy=np.array([[10, 10, 40, 40], [80, 20, 120, 60]], np.float32),
                             image_size=(frame.height, frame.width))

    proc = FrameProcessor(detector=Two(), tracker=HeadTracker(), gaze_stage=GazeStage(model=CountingModel(), stride=2))
    results = [proc.step(Frame(image=np.zeros((H, W, 3), np.uint8), index=i, timestamp_s=i / 10)) for i in range(3)]
    assert [r.fresh for r in results] == [True, False, True] and all(len(r) == 2 for r in results)
    assert results[0].heads.track_ids.tolist() == results[2].heads.track_ids.tolist()
    before = (results[-1].timings.render, results[-1].timings.write)
    proc.record_times(render_ms=4.0, write_ms=6.0)
    proc.record_times(render_ms=2.0)
    assert np.isnan(before).all() and np.isnan([results[-1].timings.render, results[-1].timings.write]).all()
    means = proc.stats.totals.mean_ms()
    assert means["render"] == 3.0 and means["write"] == 6.0 and "capture" not in means
    assert (proc.stats.frames, proc.stats.people_frames, proc.stats.encodes) == (3, 6, 2)
    proc.reset()
    assert proc.step(Frame(image=np.zeros((H, W, 3), np.uint8), index=3, timestamp_s=0.3)).fresh


def test_frame_processor_names_the_failing_model():
    class Failing(CountingModel):
        def encode(self, image):
            raise RuntimeError("out of memory")

    class One:
        name = "one"
        is_fallback = False

        def detect(self, frame: Frame) -> HeadBoxes:
            return HeadBoxes(xyxy=np.array([[1, 1, 5, 5]], np.float32), image_size=(frame.height, frame.width))

    proc = FrameProcessor(detector=One(), gaze_stage=GazeStage(model=Failing()))
    with pytest.raises(GazecamError, match=r"gaze model \(counting\) failed on frame 7: RuntimeError: out of memory"):
        proc.step(Frame(image=np.zeros((H, W, 3), np.uint8), index=7, timestamp_s=0.0))


def test_overlapped_stages_and_extra_stages_match_the_sequential_loop(tmp_path):
    """overlap=True: detect, gaze and a consumer's stage each in its own thread; same outputs, in order."""
    from gazecam.overlap import Stage

    video = make_video(tmp_path / "v.mp4", n=8)
    heads = heads_file(tmp_path / "h.jsonl", 8)
    runs = {}
    for overlap in (False, True):
        model = CountingModel()
        seen = []
        extra = Stage("note", lambda r: (seen.append(threading.get_ident()), (r.frame.index, len(r), r.fresh))[1])
        with Pipeline(video, processor=FrameProcessor(detector=FileHeads(heads), tracker=HeadTracker(),
                                                      gaze_stage=GazeStage(model=model, stride=2)),
                      stages=[extra], overlap=overlap, max_frames=6) as pipe:
            runs[overlap] = list(pipe)
        assert (pipe.stats.frames, pipe.stats.encodes) == (6, 3)
        assert set(pipe.chain.busy.busy_s) == {"detect", "gaze", "note"} and pipe.chain.busy.items == 6
        caller = {threading.get_ident()}
        assert (model.thread_ids == caller and set(seen) == caller) is not overlap  # threads only with overlap
    assert runs[True] == runs[False]
    assert [r[:2] for r in runs[True]] == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 0), (5, 1)]
