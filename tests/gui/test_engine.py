"""Model loading for the picker and the detect -> track -> gaze engine of the inference thread."""

from __future__ import annotations

import numpy as np
import pytest
from gui_fakes import FakeDetector, FakeModel

from gazecam.errors import InputError
from gazecam.gui.engine import PipelineBuilder, available_backends, available_devices, load_model_choice
from gazecam.gui.settings import GazeSettings, ModelChoice
from gazecam.types import Frame


def test_local_files_load_a_gaze_model(golden_dir):
    model = load_model_choice(ModelChoice(backbone_weights=str(golden_dir / "dinov2_vits14_random.pth"),
                                          gaze_weights=str(golden_dir / "gazelle_vits14_inout_random.pt"),
                                          device="cpu"))
    assert model.has_inout and model.released is False and str(model.device) == "cpu"


@pytest.mark.parametrize("choice,match", [
    (ModelChoice(zoo_name="no_such_model", device="cpu"), "unknown model"),
    (ModelChoice(backbone_weights="b.pth", device="cpu"), "needs gaze_weights"),
    (ModelChoice(), "no model chosen"),
    (ModelChoice(zoo_name="gazelle_dinov2_vitb14", device="cpu", backend="warp-drive"), "unknown backend"),
])
def test_bad_choices_are_user_errors(choice, match):
    with pytest.raises(InputError, match=match):
        load_model_choice(choice)


def test_a_gaze_file_alone_goes_to_the_loader(tmp_path):
    """No backbone file: the gaze file must hold the backbone (GazeModel.from_files decides, with a clear error)."""
    from gazecam.errors import GazecamError

    with pytest.raises(GazecamError, match="g.pt"):
        load_model_choice(ModelChoice(gaze_weights=str(tmp_path / "g.pt"), device="cpu"))


def test_pickers_list_what_exists():
    assert available_devices()[:2] == ["auto", "cpu"]
    assert available_backends()[0] == "torch"


def test_engine_tracks_and_applies_settings():
    """With the real ByteTrack tracker: ids are assigned and stay stable over frames."""
    detector = FakeDetector()
    builder = PipelineBuilder(model_loader=lambda c: FakeModel(), detector_factory=lambda s, d, n: detector)
    engine = builder.build(ModelChoice(zoo_name="fake"), GazeSettings(stride=2))
    assert engine.info.name == "fake-model" and engine.info.detector == "fake-detector"
    ids = []
    for i in range(4):
        frame = Frame(image=np.zeros((120, 160, 3), np.uint8), index=i, timestamp_s=i / 10)
        result = engine.process(frame)
        ids.append(result.heads.track_ids.tolist())
        assert result.fresh == (i % 2 == 0)  # stride 2: encoder on every other frame
    assert ids[0] == ids[-1] and all(t >= 1 for t in ids[0]) and len(set(ids[0])) == 2
    engine.set_gaze(GazeSettings(inout_threshold=0.0, smooth=False, stride=1))
    assert engine.stage.stride == 1 and engine.stage.inout_threshold == 0.0
    engine.reset()
    assert detector.calls == [0, 1, 2, 3]


def test_fallback_detector_warning_reaches_the_window():
    fallback = FakeDetector(name="face-cascade (fallback)", is_fallback=True)

    def factory(spec, device, notify):
        notify("--detector auto: the pose model is unavailable; using the offline face-cascade fallback")
        return fallback

    engine = PipelineBuilder(model_loader=lambda c: FakeModel(), detector_factory=factory, track=False).build(
        ModelChoice(zoo_name="fake"), GazeSettings())
    assert "face-cascade fallback" in engine.info.detector_warning


def test_detector_failure_is_named():
    from gazecam.gui.engine import DetectorUnavailable

    def offline(spec, device, notify):
        raise RuntimeError("yolo11n-pose.pt is not in the model cache")

    builder = PipelineBuilder(detector_spec="pose", model_loader=lambda c: FakeModel(), detector_factory=offline)
    with pytest.raises(DetectorUnavailable, match="head detector 'pose': yolo11n-pose.pt"):
        builder.build(ModelChoice(zoo_name="fake"), GazeSettings())
