"""Head detectors: keypoint geometry, Haar fallback, head files, YOLO/pose code paths (offline), factory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gazecam.detect import (
    FALLBACK_WARNING,
    CascadeHeadDetector,
    HeadDetector,
    OfflineHeadDetector,
    PoseHeadDetector,
    YoloHeadDetector,
    heads_from_keypoints,
    make_detector,
    pose_weights,
    ultralytics_device,
)
from gazecam.errors import GazecamError, InputError
from gazecam.types import Frame, HeadBoxes


def _frame(h: int = 120, w: int = 160, index: int = 0) -> Frame:
    return Frame(image=np.zeros((h, w, 3), np.uint8), index=index, timestamp_s=index / 10)


def _kpts(points: dict[int, tuple[float, float]], conf: float = 0.9) -> np.ndarray:
    kp = np.zeros((1, 17, 3), np.float32)
    for k, (x, y) in points.items():
        kp[0, k] = (x, y, conf)
    return kp


# -- keypoints -> head boxes ------------------------------------------------------------------------
def test_frontal_face_box_is_centred_and_scaled_by_ears_and_shoulders():
    # nose, eyes, ears of a frontal face; shoulders 120 px apart
    kp = _kpts({0: (100, 110), 1: (90, 100), 2: (110, 100), 3: (75, 105), 4: (125, 105),
                5: (160, 180), 6: (40, 180)})
    xyxy, idx = heads_from_keypoints(kp)
    assert idx.tolist() == [0]
    x0, y0, x1, y1 = xyxy[0]
    side = max(1.15 * 50, 1.8 * 50, 0.5 * 120)  # ears 50 apart, face span 50, shoulders 120
    assert x1 - x0 == pytest.approx(side) and y1 - y0 == pytest.approx(side)
    cx, cy = np.mean([[100, 110], [90, 100], [110, 100], [75, 105], [125, 105]], axis=0)
    assert (x0 + x1) / 2 == pytest.approx(cx)
    assert (y0 + y1) / 2 == pytest.approx(cy - 0.05 * side)
    face = np.array([[100, 110], [90, 100], [110, 100], [75, 105], [125, 105]])
    assert np.all(face >= xyxy[0, :2]) and np.all(face <= xyxy[0, 2:])  # every face keypoint inside


def test_side_view_uses_visible_face_points_and_shoulder_scale():
    # seen from the side: nose, one eye, one ear; shoulders foreshortened (30 px)
    kp = _kpts({0: (60, 50), 2: (70, 45), 4: (85, 48), 5: (80, 90), 6: (80 + 30, 90)})
    xyxy, idx = heads_from_keypoints(kp)
    assert idx.tolist() == [0]
    side = xyxy[0, 2] - xyxy[0, 0]
    assert side == pytest.approx(max(1.8 * 25, 0.5 * 30))
    pts = np.array([[60, 50], [70, 45], [85, 48]])
    assert np.all(pts >= xyxy[0, :2]) and np.all(pts <= xyxy[0, 2:])


def test_back_view_box_sits_above_the_shoulders():
    kp = _kpts({5: (60, 100), 6: (140, 100)})  # face keypoints not visible
    xyxy, idx = heads_from_keypoints(kp)
    assert idx.tolist() == [0]
    x0, y0, x1, y1 = xyxy[0]
    assert (x0 + x1) / 2 == pytest.approx(100)
    assert x1 - x0 == pytest.approx(40) and y1 - y0 == pytest.approx(40)
    assert y1 == pytest.approx(100 - 0.15 * 80)  # bottom edge above the shoulder line


def test_low_confidence_keypoints_are_ignored():
    kp = _kpts({0: (100, 110), 1: (90, 100), 2: (110, 100)}, conf=0.2)  # all below min_conf
    xyxy, idx = heads_from_keypoints(kp, min_conf=0.5)
    assert xyxy.shape == (0, 4) and idx.shape == (0,)
    xyxy, idx = heads_from_keypoints(kp, min_conf=0.1)
    assert idx.tolist() == [0]


def test_keypoints_of_several_people_keep_their_index():
    kp = np.concatenate([_kpts({}), _kpts({1: (10, 10), 2: (20, 10)}), _kpts({5: (0, 50), 6: (40, 50)})])
    xyxy, idx = heads_from_keypoints(kp)
    assert idx.tolist() == [1, 2]
    assert xyxy.shape == (2, 4)


def test_keypoints_wrong_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(N, 17, 3\)"):
        heads_from_keypoints(np.zeros((2, 5)))


def test_ultralytics_device_names():
    assert ultralytics_device("cuda") == "0"
    assert ultralytics_device("cuda:1") == "1"
    assert ultralytics_device("cpu") == "cpu"
    assert ultralytics_device(None) is None


# -- YOLO and pose code paths (random weights from ultralytics' packaged yaml; no download) ----------------
@pytest.fixture(scope="module")
def yolo_files(tmp_path_factory) -> dict[str, Path]:
    from gazecam.ultra import ultralytics_env

    ultralytics_env()
    from ultralytics import YOLO

    d = tmp_path_factory.mktemp("yolo")
    out = {}
    for key, yaml in (("detect", "yolo11n.yaml"), ("pose", "yolo11n-pose.yaml")):
        m = YOLO(yaml)
        m.save(str(d / f"{key}.pt"))
        out[key] = d / f"{key}.pt"
    return out


def test_yolo_head_detector_resolves_classes_and_returns_clipped_boxes(yolo_files):
    with pytest.raises(InputError, match="which class is the head"):
        YoloHeadDetector(weights=yolo_files["detect"])  # 80 classes, none named head
    with pytest.raises(InputError, match="no such class"):
        YoloHeadDetector(weights=yolo_files["detect"], class_name_or_id="head")
    with pytest.raises(InputError, match="class_name_or_id=99"):
        YoloHeadDetector(weights=yolo_files["detect"], class_name_or_id=99)
    det = YoloHeadDetector(weights=yolo_files["detect"], class_name_or_id="3", conf=0.0, device="cpu", imgsz=160)
    assert det.class_id == 3 and not det.is_fallback
    heads = det.detect(_frame())
    assert isinstance(heads, HeadBoxes) and heads.image_size == (120, 160)
    assert np.all(heads.xyxy >= 0) and np.all(heads.xyxy[:, [0, 2]] <= 160) and np.all(heads.xyxy[:, [1, 3]] <= 120)
    assert np.all(heads.track_ids == -1)


def test_pose_model_given_as_path_becomes_a_pose_head_detector(yolo_files):
    det = make_detector(str(yolo_files["pose"]), device="cpu", conf=0.0)
    assert isinstance(det, PoseHeadDetector)
    heads = det.detect(_frame())  # random weights: boxes are meaningless but well-formed
    assert heads.image_size == (120, 160) and heads.xyxy.shape[1] == 4


def test_pose_weights_come_from_gazecam_cache(yolo_files, tmp_path, monkeypatch):
    from gazecam.hub import ModelCache

    cache = ModelCache(root=tmp_path / "cache", mirror="file:///nonexistent-mirror", progress=False)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / pose_weights().filename).write_bytes(yolo_files["pose"].read_bytes())  # placed by hand
    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GAZECAM_MIRROR", "file:///nonexistent-mirror")
    det = make_detector("auto", device="cpu")
    assert isinstance(det, PoseHeadDetector) and det.weights == cache.path(pose_weights())
    assert pose_weights().filename in json.loads((tmp_path / "cache" / "manifest.json").read_text())


def test_auto_falls_back_to_the_offline_detector_and_pose_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("GAZECAM_MIRROR", "file:///nonexistent-mirror")
    notes: list[str] = []
    det = make_detector("auto", notify=notes.append)
    assert isinstance(det, OfflineHeadDetector) and det.is_fallback and isinstance(det, HeadDetector)
    assert len(notes) == 1 and "offline detector" in notes[0] and "not cached" in notes[0] and "\n" not in notes[0]
    with pytest.raises(GazecamError, match="yolo11n-pose.pt"):
        make_detector("pose")
    # the detector names of earlier versions keep working; offline has an alias
    assert isinstance(make_detector("face"), CascadeHeadDetector)
    assert isinstance(make_detector("offline"), OfflineHeadDetector)
    assert isinstance(make_detector("HOG"), OfflineHeadDetector)
    assert "OFFLINE" in FALLBACK_WARNING


def test_make_detector_bad_specs(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        make_detector(str(tmp_path / "missing.pt"))
    bad = tmp_path / "model.txt"
    bad.write_text("x")
    with pytest.raises(InputError, match=r"expected \.pt or \.onnx"):
        make_detector(str(bad))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(InputError, match="cannot load") as e:
        make_detector(str(junk))
    assert "\n" not in str(e.value) and "weights_only" not in str(e.value)
    with pytest.raises(InputError, match="expected auto, pose, offline, face or a YOLO model file"):
        make_detector("banana")
