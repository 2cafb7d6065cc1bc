"""CadenceDetector (detection on every N-th frame, the tracker predicting between) and its option."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from fakes import CountingModel, make_walkers_video

from gazecam.cadence import CadenceDetector
from gazecam.commands.common import flag_wording
from gazecam.errors import InputError
from gazecam.jobs import process_source
from gazecam.options import ProcessOptions
from gazecam.pipeline import build_processor
from gazecam.track import HeadTracker
from gazecam.types import Frame, HeadBoxes

H, W = 240, 320


def _box(i: int) -> list[float]:
    """A head moving right 3 px and down 1 px per frame."""
    return [20 + 3 * i, 40 + i, 50 + 3 * i, 70 + i]


class MovingHead:
    """A detector that finds one head moving at constant speed (and another, still, from frame 6 on)."""

    name = "moving head"

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.resets = 0

    def detect(self, frame: Frame) -> HeadBoxes:
        self.calls.append(frame.index)
        boxes = [_box(frame.index)] + ([[250, 150, 280, 180]] if frame.index >= 6 else [])
        return HeadBoxes.detected(np.array(boxes, np.float32), np.full(len(boxes), 0.9), (H, W))

    def reset(self) -> None:
        self.resets += 1


def _frame(i: int) -> Frame:
    return Frame(image=np.zeros((H, W, 3), np.uint8), index=i, timestamp_s=i / 25)


def _iou(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    return float(inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter))


def test_the_detector_runs_on_every_nth_frame_and_the_tracker_carries_the_heads_between():
    det = MovingHead()
    cadence = CadenceDetector(detector=det, tracker=HeadTracker(), every=3)
    out = [cadence.detect(_frame(i)) for i in range(30)]
    assert det.calls == list(range(0, 30, 3))
    assert (cadence.detections, cadence.predictions) == (10, 20)
    mover = [int(h.track_ids[np.argmin(h.xyxy[:, 0])]) for h in out]
    assert mover[0] >= 1 and set(mover) == {mover[0]}  # one id on every frame, detected or predicted
    for i, h in enumerate(out):
        assert np.all(h.track_ids >= 1)
        if i % 3 == 0:  # detected frames: the detector's own boxes
            np.testing.assert_allclose(h.xyxy[np.argmin(h.xyxy[:, 0])], _box(i))
    # the still head appears at the first detection from frame 6 on (frame 6), keeps its id, stays put
    still = [h for h in out[6:]]
    assert all(len(h) == 2 for h in still) and all(len(h) == 1 for h in out[:6])
    assert len({int(h.track_ids[np.argmax(h.xyxy[:, 0])]) for h in still}) == 1
    # predicted boxes follow the motion once the filter has seen it (Kalman constant velocity)
    late = [_iou(out[i].xyxy[np.argmin(out[i].xyxy[:, 0])], _box(i)) for i in range(12, 30) if i % 3]
    assert min(late) > 0.8, late


def test_every_1_gives_what_detector_and_tracker_give():
    a, b = MovingHead(), MovingHead()
    cadence, tracker = CadenceDetector(detector=a, tracker=HeadTracker(), every=1), HeadTracker()
    for i in range(12):
        x, y = cadence.detect(_frame(i)), tracker.update(b.detect(_frame(i)))
        np.testing.assert_array_equal(x.xyxy, y.xyxy)
        np.testing.assert_array_equal(x.track_ids, y.track_ids)
    assert a.calls == b.calls == list(range(12))


def test_a_frame_that_does_not_follow_is_detected_and_reset_forgets():
    det = MovingHead()
    cadence = CadenceDetector(detector=det, tracker=HeadTracker(), every=4)
    for i in (0, 1, 2, 10, 11, 3):  # a jump forward, then back (a seek)
        cadence.detect(_frame(i))
    assert det.calls == [0, 10, 3]
    before = int(cadence.detect(_frame(4)).track_ids[0])
    cadence.reset()
    assert det.resets == 1
    out = cadence.detect(_frame(5))
    assert det.calls[-1] == 5 and out.track_ids.tolist() == [1] and before >= 1  # ids start again


@pytest.mark.parametrize("every", [0, -2, 1.5, True, "2"])
def test_bad_cadence_is_refused(every):
    with pytest.raises(ValueError, match=r"expected a whole number of frames >= 1"):
        CadenceDetector(detector=MovingHead(), tracker=HeadTracker(), every=every)
    with pytest.raises(InputError, match=r"detect_every=.*expected a whole number of frames >= 1 .*try 2"):
        ProcessOptions(detect_every=every)


def test_option_errors_name_flags_only_on_the_command_line(tmp_path):
    with pytest.raises(InputError) as e:
        ProcessOptions(detect_every=0)
    assert "--" not in str(e.value)
    assert flag_wording(str(e.value)).startswith("--detect-every 0: expected")
    with pytest.raises(InputError, match=r"heads_path=.* and detect_every=2: known boxes"):
        ProcessOptions(heads_path=tmp_path / "h.jsonl", detect_every=2)


def test_result_key_has_the_cadence_only_when_it_is_not_1():
    assert "detect_every" not in ProcessOptions().result_key()  # manifests of earlier runs still match
    assert ProcessOptions(detect_every=1).result_key() == ProcessOptions().result_key()
    key = ProcessOptions(detect_every=3).result_key()
    assert key["detect_every"] == 3 and json.loads(json.dumps(key)) == key


def test_build_processor_wraps_the_detector_only_for_a_cadence_above_1():
    det = MovingHead()
    plain = build_processor(CountingModel(), ProcessOptions(), fps=25, detector=det)
    assert plain.detector is det and isinstance(plain.tracker, HeadTracker)
    wrapped = build_processor(CountingModel(), ProcessOptions(detect_every=2), fps=25, detector=det)
    assert isinstance(wrapped.detector, CadenceDetector) and wrapped.tracker is None
    assert wrapped.detector.detector is det and wrapped.detector.every == 2
    assert wrapped.detector.tracker.track_buffer == 25  # the tracker make_tracker gives (one second)
    untracked = build_processor(CountingModel(), ProcessOptions(detect_every=2), fps=25, detector=det, track=False)
    assert untracked.detector is det and untracked.tracker is None  # nothing to carry the heads: every frame


def test_process_records_with_cadence_1_are_those_of_the_default_and_cadence_2_keeps_every_frame(tmp_path):
    """The offline detector on the walkers clip: ``detect_every=1`` is the default path (no wrapper, the same
    records); with 2 every frame from the first detection on has heads, all tracked."""
    video = make_walkers_video(tmp_path / "walk.mp4", n=12, width=320, height=180)
    lines = {}
    for every in (None, 1, 2):
        options = ProcessOptions(detector="offline") if every is None else \
            ProcessOptions(detector="offline", detect_every=every)
        report = process_source(video, model=CountingModel(), options=options,
                                records_path=tmp_path / f"r{every}.jsonl", overlap=False)
        assert report.frames == 12
        lines[every] = (tmp_path / f"r{every}.jsonl").read_text().splitlines()
    assert lines[1] == lines[None] and len(lines[None]) >= 12
    records = [json.loads(ln) for ln in lines[2]]
    ids = {i: {r["track_id"] for r in records if r["frame"] == i} for i in range(12)}
    first = min(i for i in ids if ids[i])  # the walkers are found on a detected (even) frame...
    assert first % 2 == 0 and first <= 6
    assert all(ids[i] for i in range(first, 12))  # ...and from then on every frame has heads
    assert all(None not in ids[i] for i in ids)  # all tracked
    assert all(ids[i] == ids[i - 1] for i in range(first + 1, 12, 2))  # predicted frames: the heads just detected


def test_the_command_line_flag(tmp_path, capsys):
    from gazecam.cli import main

    with pytest.raises(SystemExit):
        main(["process", "in.mp4", "-o", str(tmp_path / "o.mp4"), "--detect-every", "0"])
    assert "--detect-every: expected a whole number >= 1, got 0" in capsys.readouterr().err
    code = main(["process", "in.mp4", "-o", str(tmp_path / "o.mp4"), "--heads", "h.jsonl", "--detect-every", "2"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code != 0 and "--heads h.jsonl and --detect-every 2: known boxes are read for every frame" in err
    assert not (tmp_path / "o.mp4").exists()


def _eval_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "eval_detect_cadence.py"
    spec = importlib.util.spec_from_file_location("eval_detect_cadence", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_the_eval_script_counts_misses_extras_and_id_switches():
    ev = _eval_script()

    def run(*frames, detected=None):
        boxes = [HeadBoxes(xyxy=np.array([b for b, _ in f], np.float32).reshape(-1, 4), image_size=(H, W),
                           track_ids=np.array([i for _, i in f], np.int64)) for f in frames]
        return ev.Run("x", boxes, detected or [True] * len(frames), 0.0, 0.0)

    a, b = [10, 10, 30, 30], [100, 100, 120, 120]
    ref = run([(a, 1), (b, 2)], [(a, 1), (b, 2)], [(a, 1), (b, 2)])
    same = ev.compare(ref, ref)
    assert (same["iou"], same["missed"], same["extra"], same["switches"], same["ref_heads"]) == (1.0, 0, 0, 0, 2)
    shifted = [15, 10, 35, 30]  # IoU 15 * 20 / (2 * 400 - 300) = 0.6
    var = run([(a, 7), (b, 8)], [(shifted, 7), ([200, 50, 220, 70], 9)], [(a, 8), (b, 7)],
              detected=[True, False, True])
    c = ev.compare(ref, var)
    assert c["missed"] == pytest.approx(1 / 3) and c["extra"] == pytest.approx(1 / 3)  # b missed, one extra box
    assert c["iou"] == pytest.approx((1 + 1 + 0.6 + 1 + 1) / 5) and c["iou_pred"] == pytest.approx(0.6)
    assert c["switches"] == 2  # on the last frame both reference heads changed their variant id


def test_the_eval_script_runs_on_the_walkers_clip(capsys):
    assert _eval_script().main(["--videos", "walkers", "--frames", "6", "--every", "1,2", "--search-every", "3"]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.strip().startswith("every 1 "))
    assert row.split()[4:9] == ["1.000", "nan", "0.00", "0.00", "0"]  # the reference again: the same boxes
    assert "(reference)" in out and any(ln.strip().startswith("every 2 ") for ln in out.splitlines())
