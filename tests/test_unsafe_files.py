"""Model files that would run code when unpickled never do: pose model, YOLO head model and gaze files, served
by a mirror (GAZECAM_MIRROR, a local server) or placed in the cache by hand, through ``process``, ``live``'s
model loading and ``models``.  The user gets a one-line error, or (``--detector auto``) a fallback warning."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from test_ultra import code_running_file

import gazecam.commands.process as process_cmd
from gazecam.cli import main
from gazecam.detect import pose_weights
from gazecam.weights import sha256_file
from gazecam.zoo import get_zoo_model

NAME = "gazelle_dinov2_vitb14_inout"
POSE = pose_weights().filename


@pytest.fixture()
def marker(tmp_path) -> Path:
    m = tmp_path / "CODE-RAN"
    yield m
    assert not m.exists(), "a model file ran code"


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    """An empty model cache; no mirror unless a test sets one."""
    h = tmp_path / "cache"
    h.mkdir()
    monkeypatch.setenv("GAZECAM_HOME", str(h))
    monkeypatch.delenv("GAZECAM_MIRROR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # ultralytics' settings file
    return h


@pytest.fixture()
def video(tmp_path) -> Path:
    import av

    path = tmp_path / "in.mp4"
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 160, 128, "yuv420p"
        s.time_base = Fraction(1, 10)
        for i in range(3):
            f = av.VideoFrame.from_ndarray(np.full((128, 160, 3), 40 * i, np.uint8), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 10)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


@pytest.fixture()
def fast_model(monkeypatch, golden_model_inout):
    monkeypatch.setattr(process_cmd, "load_model", lambda args: golden_model_inout)


def process(args: list[str], capsys) -> tuple[int, str]:
    code = main(["process", *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "weights_only" not in err, err
    return code, err


def one_line(err: str, word: str) -> str:
    lines = [ln for ln in err.splitlines() if word in ln]
    assert len(lines) == 1, err
    return lines[0]


# -- the pose model (--detector auto / pose) ---------------------------------------------------------------
def test_pose_file_from_a_mirror_is_refused_and_auto_falls_back(server, home, marker, tmp_path, video, capsys,
                                                                 monkeypatch, fast_model):
    server.routes[f"/{POSE}"] = code_running_file(tmp_path / "served.pt", marker)
    monkeypatch.setenv("GAZECAM_MIRROR", server.url)
    code, err = process([str(video), "-o", str(tmp_path / "out.mp4"), "--quiet"], capsys)
    assert code == 0 and (tmp_path / "out.mp4").is_file()
    line = one_line(err, "--detector auto")
    assert "not a valid detector file" in line and "offline detector" in line and "could run code" in line
    assert server.requests == [f"/{POSE}"]
    assert not (home / POSE).exists() and not list(home.glob(".*"))  # not kept, no temporary left


def test_pose_file_placed_by_hand_is_refused_auto_falls_back_pose_errors(home, marker, video, tmp_path, capsys,
                                                                         fast_model):
    code_running_file(home / POSE, marker)
    code, err = process([str(video), "-o", str(tmp_path / "a.mp4"), "--quiet"], capsys)
    assert code == 0
    line = one_line(err, "--detector auto")
    assert f"refused to load {home / POSE}" in line and "Delete it" in line
    assert (home / POSE).exists()  # the user's file is reported, never deleted for them
    code, err = process([str(video), "-o", str(tmp_path / "b.mp4"), "--detector", "pose"], capsys)
    assert code == 1
    assert "refused to load" in one_line(err, "error:") and not (tmp_path / "b.mp4").exists()


def test_pose_file_recorded_by_an_older_gazecam_is_still_loaded_restricted(home, marker, video, tmp_path, capsys,
                                                                           fast_model):
    """A cache entry with a matching SHA-256 (older versions recorded the pose file unchecked) is not trusted."""
    path = code_running_file(home / POSE, marker)
    (home / "manifest.json").write_text(json.dumps({POSE: {"sha256": sha256_file(path), "size": path.stat().st_size,
                                                           "source": "older gazecam"}}))
    code, err = process([str(video), "-o", str(tmp_path / "a.mp4"), "--quiet"], capsys)
    assert code == 0 and "refused to load" in one_line(err, "--detector auto")


# -- a YOLO head model given as a file -----------------------------------------------------------------------
def test_yolo_head_model_file_is_refused(home, marker, video, tmp_path, capsys, fast_model):
    evil = code_running_file(tmp_path / "evil.pt", marker)
    code, err = process([str(video), "-o", str(tmp_path / "out.mp4"), "--detector", str(evil)], capsys)
    assert code == 1
    line = one_line(err, "error:")
    assert f"refused to load {evil}" in line and "Delete it" in line


# -- gaze files ---------------------------------------------------------------------------------------------
def test_gaze_file_from_a_mirror_is_refused(server, home, marker, golden_dir, tmp_path, video, capsys, monkeypatch):
    entry = get_zoo_model(NAME)
    server.routes[f"/{entry.backbone_file.filename}"] = golden_dir / "dinov2_vits14_random.pth"
    server.routes[f"/{entry.decoder.filename}"] = code_running_file(tmp_path / "dec.pt", marker, tensors=True)
    monkeypatch.setenv("GAZECAM_MIRROR", server.url)
    assert main(["models", "download", NAME]) == 1
    err = capsys.readouterr().err
    line = one_line(err, "error:")
    assert "not a valid decoder file" in line and "could run code" in line and "weights_only" not in err
    assert not (home / entry.decoder.filename).exists()
    code, err = process([str(video), "-o", str(tmp_path / "out.mp4"), "--model", NAME, "--device", "cpu",
                         "--detector", "face"], capsys)
    assert code == 1 and "not a valid decoder file" in one_line(err, "error:")


def test_gaze_file_placed_by_hand_is_refused_and_listed_invalid(home, marker, golden_dir, tmp_path, video, capsys):
    entry = get_zoo_model(NAME)
    shutil.copy(golden_dir / "dinov2_vits14_random.pth", home / entry.backbone_file.filename)
    code_running_file(home / entry.decoder.filename, marker, tensors=True)
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.strip().startswith(NAME + " "))
    assert "INVALID" in row and "cached" not in row
    reason = next(ln for ln in out.splitlines() if ln.strip().startswith(entry.decoder.filename + ":"))
    assert "could run code" in reason and "delete it or replace it" in reason and "weights_only" not in out
    assert "gazelle_dinov2_vitl14 " in out and "not downloaded" in out
    code, err = process([str(video), "-o", str(tmp_path / "out.mp4"), "--model", NAME, "--device", "cpu",
                         "--detector", "face"], capsys)
    assert code == 1 and "could run code" in one_line(err, "error:")


def test_models_list_download_and_path_of_the_pose_file(server, home, marker, tmp_path, capsys, monkeypatch):
    code_running_file(home / POSE, marker)
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "INVALID" in next(ln for ln in out.splitlines() if ln.strip().startswith("yolo11n-pose "))
    assert "refused to load" in out
    (home / POSE).unlink()
    server.routes[f"/{POSE}"] = code_running_file(tmp_path / "served.pt", marker)
    monkeypatch.setenv("GAZECAM_MIRROR", server.url)
    assert main(["models", "download", "yolo11n-pose"]) == 1
    assert "not a valid detector file" in one_line(capsys.readouterr().err, "error:")
    assert not (home / POSE).exists()
    assert main(["models", "list"]) == 0
    assert "not downloaded" in next(ln for ln in capsys.readouterr().out.splitlines()
                                    if ln.strip().startswith("yolo11n-pose "))
    # a genuine (randomly initialised) pose model passes the same checks and is recorded
    from gazecam.ultra import ultralytics_env

    ultralytics_env()
    from ultralytics import YOLO

    YOLO("yolo11n-pose.yaml").save(str(tmp_path / "good.pt"))
    server.routes[f"/{POSE}"] = tmp_path / "good.pt"
    assert main(["models", "path", "yolo11n-pose"]) == 0
    assert capsys.readouterr().out.strip() == str(home / POSE)
    assert json.loads((home / "manifest.json").read_text())[POSE]["sha256"] == sha256_file(home / POSE)
    assert main(["models", "list"]) == 0
    assert "cached" in next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("yolo11n-pose "))


def test_a_detect_model_is_not_accepted_as_the_pose_file(home, tmp_path):
    from gazecam.detect import validate_pose_file
    from gazecam.ultra import ultralytics_env
    from gazecam.weights import WeightsError

    ultralytics_env()
    from ultralytics import YOLO

    YOLO("yolo11n.yaml").save(str(tmp_path / "detect.pt"))
    with pytest.raises(WeightsError, match=r"not a COCO-keypoint pose model .* Delete it"):
        validate_pose_file(pose_weights(), tmp_path / "detect.pt")


# -- live: the model and detector loading of the inference thread (no window) ----------------------------------
@pytest.mark.slow
def test_live_model_loading_refuses_code_running_files(server, home, marker, golden_dir, tmp_path, monkeypatch):
    pytest.importorskip("PyQt6.QtCore")
    from gazecam.detect_offline import OfflineHeadDetector
    from gazecam.errors import GazecamError
    from gazecam.gaze import GazeOptions
    from gazecam.gui.processing import DetectorUnavailable, ProcessorBuilder, load_gui_model
    from gazecam.loading import ModelSpec

    files = ModelSpec(backbone_weights=str(golden_dir / "dinov2_vits14_random.pth"),
                      gaze_weights=str(golden_dir / "gazelle_vits14_inout_random.pt"), device="cpu")
    # a bad pose file in the cache: `auto` falls back with the reason, shown in the window's notice
    code_running_file(home / POSE, marker)
    processor, info = ProcessorBuilder(detector="auto").build(files, GazeOptions())
    assert isinstance(processor.detector, OfflineHeadDetector)
    assert "refused to load" in info.detector_warning and "\n" not in info.detector_warning
    # a code-running YOLO head model: the detector is unavailable, with the reason
    evil = code_running_file(tmp_path / "evil.pt", marker)
    with pytest.raises(DetectorUnavailable, match="refused to load"):
        ProcessorBuilder(detector=str(evil)).build(files, GazeOptions())
    # a code-running gaze decoder from the mirror, and as a local file
    entry = get_zoo_model(NAME)
    server.routes[f"/{entry.backbone_file.filename}"] = golden_dir / "dinov2_vits14_random.pth"
    server.routes[f"/{entry.decoder.filename}"] = code_running_file(tmp_path / "dec.pt", marker, tensors=True)
    monkeypatch.setenv("GAZECAM_MIRROR", server.url)
    with pytest.raises(GazecamError, match="could run code"):
        load_gui_model(ModelSpec(name=NAME, device="cpu"))
    with pytest.raises(GazecamError, match="could run code"):
        load_gui_model(ModelSpec(backbone_weights=files.backbone_weights,
                                 gaze_weights=str(tmp_path / "dec.pt"), device="cpu"))
