"""gazecam.ultra: one place sets ultralytics' environment; YOLO files load only through restricted loading."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gazecam.errors import InputError
from gazecam.ultra import UnsafeModelError, load_yolo, load_yolo_checkpoint, safe_load_active, ultralytics_env

REPO = Path(__file__).resolve().parents[1]


class RunsCode:
    """Pickles to ``exec(...)``: loading it with ``torch.load(weights_only=False)`` writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('code ran')",))


def code_running_file(path: Path, marker: Path, *, tensors: bool = False) -> Path:
    """A .pt file whose unpickling runs code (checked here: an unrestricted load does write ``marker``)."""
    obj = {"model": RunsCode(marker)}
    if tensors:
        obj["weight"] = torch.zeros(2)
    torch.save(obj, path)
    torch.load(path, map_location="cpu", weights_only=False)  # the payload is live ...
    assert marker.read_text() == "code ran"
    marker.unlink()  # ... and gone again before gazecam sees the file
    return path


def test_environment_is_set_in_one_place(monkeypatch):
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    monkeypatch.setenv("YOLO_AUTOINSTALL", "1")  # a user's own choice for these two is kept
    monkeypatch.setenv("ULTRALYTICS_SAFE_LOAD", "0")  # but never for restricted loading
    ultralytics_env()
    assert os.environ["YOLO_OFFLINE"] == "1" and os.environ["YOLO_AUTOINSTALL"] == "1"
    assert os.environ["ULTRALYTICS_SAFE_LOAD"] == "1"
    assert safe_load_active()  # conftest called ultralytics_env() before any test imported ultralytics


def test_only_gazecam_ultra_sets_the_ultralytics_environment():
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "gazecam").rglob("*.py")
                 if p.name != "ultra.py" and ("YOLO_OFFLINE" in p.read_text() or "YOLO_AUTOINSTALL" in p.read_text())
                 and 'os.environ' in p.read_text()]
    assert offenders == []


def test_code_running_yolo_file_is_refused(tmp_path):
    marker = tmp_path / "marker"
    evil = code_running_file(tmp_path / "head.pt", marker)
    for load in (lambda: load_yolo(evil, what="head model"), lambda: load_yolo_checkpoint(evil, what="head model")):
        with pytest.raises(UnsafeModelError) as e:
            load()
        msg = str(e.value)
        assert "refused" in msg and "Delete it" in msg and "\n" not in msg
        assert "weights_only" not in msg and "trust" not in msg  # never the advice to load it anyway
    assert not marker.exists()


def test_genuine_yolo_checkpoint_loads_restricted_also_under_another_suffix(tmp_path):
    ultralytics_env()
    from ultralytics import YOLO

    YOLO("yolo11n-pose.yaml").save(str(tmp_path / "pose.pt"))
    ckpt = load_yolo_checkpoint(tmp_path / "pose.pt")
    assert isinstance(ckpt["model"], torch.nn.Module)
    part = tmp_path / ".pose.pt.abc.part"  # how the model cache names a download in progress
    part.write_bytes((tmp_path / "pose.pt").read_bytes())
    assert isinstance(load_yolo_checkpoint(part)["model"], torch.nn.Module)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".pose.pt.abc.part", "pose.pt"]  # no link left behind
    assert load_yolo(tmp_path / "pose.pt").task == "pose"


def test_unreadable_yolo_file_is_one_line(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="cannot load") as e:
        load_yolo(junk)
    assert "\n" not in str(e.value) and "Delete it" in str(e.value)
    with pytest.raises(InputError, match="does not exist"):
        load_yolo_checkpoint(tmp_path / "missing.pt")


@pytest.mark.slow
def test_ultralytics_imported_first_without_the_flag_refuses_pt_files(tmp_path):
    """A program that imported ultralytics before gazecam gets a clear error, never an unrestricted load."""
    marker = tmp_path / "marker"
    evil = code_running_file(tmp_path / "head.pt", marker)
    code = ("import os; os.environ.pop('ULTRALYTICS_SAFE_LOAD', None); import ultralytics\n"
            "from gazecam.errors import GazecamError\nfrom gazecam.detect import make_detector\n"
            f"try:\n    make_detector({str(evil)!r})\nexcept GazecamError as e:\n    print('ERROR', e)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1", "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("ULTRALYTICS_SAFE_LOAD", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert "ERROR" in r.stdout and "ULTRALYTICS_SAFE_LOAD=1" in r.stdout, r.stdout + r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("content, kind, words", [
    (b"not a model", InputError, "unreadable pickle data"),          # bytes that are no pickle at all
    (b"PK\x03\x04 broken", InputError, "not a ZIP archive"),          # a truncated/corrupt zip
    (None, InputError, "not an Ultralytics YOLO checkpoint"),         # a plain state dict, no network
])
def test_files_that_are_not_yolo_checkpoints_are_told_apart_from_code(tmp_path, content, kind, words):
    path = tmp_path / "model.pt"
    if content is None:
        torch.save({"weight": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(kind, match=words) as e:
        load_yolo(path)
    assert not isinstance(e.value, UnsafeModelError) and "could run code" not in str(e.value)
    assert "weights_only" not in str(e.value) and "\n" not in str(e.value)
