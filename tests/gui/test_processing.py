"""Model loading for the picker and the detect -> track -> gaze processor of the inference thread."""

from __future__ import annotations

import numpy as np
import pytest
from gui_fakes import FakeDetector, FakeModel

from gazecam.errors import InputError
from gazecam.gaze import GazeOptions
from gazecam.gui.processing import ProcessorBuilder, available_backends, available_devices, load_gui_model
from gazecam.gui.sources import SourceSpec
from gazecam.loading import ModelSpec
from gazecam.types import Frame


def test_local_files_load_a_gaze_model(golden_dir):
    model = load_gui_model(ModelSpec(backbone_weights=str(golden_dir / "dinov2_vits14_random.pth"),
                                          gaze_weights=str(golden_dir / "gazelle_vits14_inout_random.pt"),
                                          device="cpu"))
    assert model.has_inout and model.released is False and str(model.device) == "cpu"


@pytest.mark.parametrize("choice,match", [
    ({"name": "no_such_model", "device": "cpu"}, "unknown model"),
    ({"backbone_weights": "b.pth", "device": "cpu"}, "needs gaze_weights"),
    ({"name": "gazelle_dinov2_vitb14", "device": "cpu", "backend": "warp-drive"}, "unknown backend"),
])
def test_bad_choices_are_user_errors(choice, match):
    with pytest.raises(InputError, match=match):
        load_gui_model(ModelSpec(**choice))


def test_a_gaze_file_alone_goes_to_the_loader(tmp_path):
    """No backbone file: the gaze file must hold the backbone (GazeModel.from_files decides, with a clear error)."""
    from gazecam.errors import GazecamError

    with pytest.raises(GazecamError, match="g.pt"):
        load_gui_model(ModelSpec(gaze_weights=str(tmp_path / "g.pt"), device="cpu"))


def test_pickers_list_what_exists():
    assert available_devices()[:2] == ["auto", "cpu"]
    assert available_backends()[0] == "torch"


def test_processor_tracks_and_applies_settings():
    """With the real ByteTrack tracker: ids are assigned and stay stable over frames."""
    detector = FakeDetector()
    builder = ProcessorBuilder(model_loader=lambda c: FakeModel(), detector_factory=lambda s, d, n: detector)
    processor, info = builder.build(ModelSpec(name="fake"), GazeOptions(stride=2))
    assert info.name == "fake-model" and info.detector == "fake-detector"
    ids = []
    for i in range(4):
        frame = Frame(image=np.zeros((120, 160, 3), np.uint8), index=i, timestamp_s=i / 10)
        result = processor.step(frame)
        ids.append(result.heads.track_ids.tolist())
        assert result.fresh == (i % 2 == 0)  # stride 2: encoder on every other frame
    assert ids[0] == ids[-1] and all(t >= 1 for t in ids[0]) and len(set(ids[0])) == 2
    processor.gaze_stage.options = GazeOptions(inout_threshold=0.0, smooth=False, stride=1)
    assert processor.gaze_stage.stride == 1 and processor.gaze_stage.inout_threshold == 0.0
    processor.reset()
    assert detector.calls == [0, 1, 2, 3]


def test_fallback_detector_warning_reaches_the_window():
    fallback = FakeDetector(name="face-cascade (fallback)", is_fallback=True)

    def factory(spec, device, notify):
        notify("--detector auto: the pose model is unavailable; using the offline face-cascade fallback")
        return fallback

    _, info = ProcessorBuilder(model_loader=lambda c: FakeModel(), detector_factory=factory, track=False).build(
        ModelSpec(name="fake"), GazeOptions())
    assert "face-cascade fallback" in info.detector_warning


def test_detector_failure_is_named():
    from gazecam.gui.processing import DetectorUnavailable

    def offline(spec, device, notify):
        raise RuntimeError("yolo11n-pose.pt is not in the model cache")

    builder = ProcessorBuilder(detector="pose", model_loader=lambda c: FakeModel(), detector_factory=offline)
    with pytest.raises(DetectorUnavailable, match="head detector 'pose': yolo11n-pose.pt"):
        builder.build(ModelSpec(name="fake"), GazeOptions())


def test_the_window_and_process_build_the_same_processor(qtbot, make_window, store, clip, tmp_path, monkeypatch):
    """One stage factory: the GUI's processor and ``process``'s are configured alike from the same options
    (detector name, class and confidence; tracker buffer from the source's fps and thresholds from that
    confidence; stride auto, max stride, scene threshold, smoothing, in/out threshold)."""
    import gazecam.pipeline as pipeline
    from gazecam.jobs import ProcessOptions, process_source
    from gui_fakes import CLIP_FPS

    made = []  # (what make_detector was asked for, the detector)

    def make_detector(spec, *, device=None, class_name_or_id=None, conf=0.25, cache=None, notify=None):
        det = FakeDetector(name=f"recorded {spec}")
        made.append(((spec, device, class_name_or_id, conf), det))
        return det

    built = []

    def build_processor(*args, **kwargs):
        built.append(real_build(*args, **kwargs))
        return built[-1]

    real_build = pipeline.build_processor
    monkeypatch.setattr(pipeline, "make_detector", make_detector)
    monkeypatch.setattr(pipeline, "build_processor", build_processor)
    gaze = GazeOptions(stride="auto", max_stride=7, scene_threshold=0.35, smooth=False, inout_threshold=0.4)
    store.save_gaze(gaze)  # the window starts with the saved gaze options

    detection = {"detector": "offline", "detector_class": "head", "detector_conf": 0.6}
    win = make_window(builder=ProcessorBuilder(**detection, model_loader=lambda spec: FakeModel()))
    win.open_source(SourceSpec("file", str(clip)))
    qtbot.waitUntil(lambda: win.inference.processor is not None
                    and win.inference.processor.tracker.track_buffer == CLIP_FPS, timeout=60_000)  # imports ByteTrack
    gui = win.inference.processor
    process_source(clip, model=FakeModel(), options=ProcessOptions(**detection, gaze=gaze, max_frames=2),
                   records_path=tmp_path / "r.jsonl")
    (cli,) = built

    assert [asked for asked, _ in made] == [("offline", "cpu", "head", 0.6)] * 2  # GUI, then process
    assert gui.detector is made[0][1] and cli.detector is made[1][1]
    assert vars(gui.tracker.args) == vars(cli.tracker.args)  # buffer, high/low/new-track thresholds, matching
    assert gui.tracker.track_buffer == cli.tracker.track_buffer == CLIP_FPS
    assert gui.tracker.args.track_high_thresh == gui.tracker.args.new_track_thresh == 0.6  # the detector's conf
    assert gui.tracker.match_scale == cli.tracker.match_scale
    assert gui.gaze_stage.options == cli.gaze_stage.options == gaze
    assert (gui.gaze_stage.smooth_alpha, gui.gaze_stage.forget_after, gui.gaze_stage.redecode_motion) == \
        (cli.gaze_stage.smooth_alpha, cli.gaze_stage.forget_after, cli.gaze_stage.redecode_motion)
