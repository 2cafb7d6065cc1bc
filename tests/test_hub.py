"""Model cache + download path, end to end against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from fakes import FileServer as _Server

from gazecam.cli import main as cli_main
from gazecam.hub import ChecksumError, ModelCache, OfflineError
from gazecam.model import GazeModel, validate_model_file
from gazecam.weights import WeightsError
from gazecam.zoo import ZOO, get_zoo_model

NAME = "gazelle_dinov2_vitb14_inout"


def _serve_golden_as_official(server: _Server, golden_dir: Path, name: str = NAME) -> None:
    entry = get_zoo_model(name)
    server.routes[f"/{entry.backbone_file.filename}"] = golden_dir / "dinov2_vits14_random.pth"
    server.routes[f"/{entry.decoder.filename}"] = golden_dir / (
        "gazelle_vits14_inout_random.pt" if entry.inout else "gazelle_vits14_random.pt")


def _free_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


def test_zoo_has_official_names_and_urls():
    gazelle = {m for m in ZOO if ZOO[m].family == "gazelle"}  # gazelle-dinov3 entries: tests/test_dinov3.py
    assert gazelle == {"gazelle_dinov2_vitb14", "gazelle_dinov2_vitl14",
                       "gazelle_dinov2_vitb14_inout", "gazelle_dinov2_vitl14_inout"}
    e = ZOO["gazelle_dinov2_vitl14_inout"]
    assert e.decoder.url == "https://github.com/fkryan/gazelle/releases/download/v1.0.0/gazelle_dinov2_vitl14_inout.pt"
    assert e.backbone_file.url == "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth"


def test_download_records_sha256_and_loads(server, golden_dir, tmp_path):
    _serve_golden_as_official(server, golden_dir)
    cache = ModelCache(root=tmp_path / "cache", mirror=server.url, progress=False)
    entry = get_zoo_model(NAME)
    paths = cache.fetch(entry.files, validate=validate_model_file)
    assert [p.name for p in paths] == ["dinov2_vitb14_pretrain.pth", "gazelle_dinov2_vitb14_inout.pt"]
    manifest = json.loads(cache.manifest_path.read_text())
    for path in paths:
        rec = manifest[path.name]
        import hashlib
        assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert rec["size"] == path.stat().st_size and rec["source"].startswith(server.url)
    assert not list((tmp_path / "cache").glob("*.part"))
    # second fetch: no network, verified from the cache
    n = len(server.requests)
    cache.fetch(entry.files, validate=validate_model_file)
    assert len(server.requests) == n


@pytest.mark.slow
def test_from_pretrained_through_mirror_flags_non_released_files(server, golden_dir, tmp_path, golden_images):
    _serve_golden_as_official(server, golden_dir)
    model = GazeModel.from_pretrained(NAME, cache_dir=tmp_path / "c", mirror=server.url, progress=False)
    # The golden files are ViT-S random weights served under the ViT-B names: loaded, but never called "released".
    assert not model.released and "dinov2_vits14" in model.note
    ref = GazeModel.from_files(backbone_weights=golden_dir / "dinov2_vits14_random.pth",
                               gaze_weights=golden_dir / "gazelle_vits14_inout_random.pt")
    img = golden_images["chelsea"]
    a, b = model.predict(img, [(0.2, 0.2, 0.5, 0.5)]), ref.predict(img, [(0.2, 0.2, 0.5, 0.5)])
    np.testing.assert_array_equal(a.heatmaps, b.heatmaps)


def test_tampered_cache_file_is_detected(server, golden_dir, tmp_path):
    _serve_golden_as_official(server, golden_dir)
    cache = ModelCache(root=tmp_path, mirror=server.url, progress=False)
    entry = get_zoo_model(NAME)
    _, dec = cache.fetch(entry.files, validate=validate_model_file)
    data = bytearray(dec.read_bytes())
    data[-100] ^= 0xFF
    dec.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="has changed since it was recorded"):
        cache.fetch(entry.files, validate=validate_model_file)


def test_truncated_download_leaves_nothing(server, golden_dir, tmp_path):
    entry = get_zoo_model(NAME)
    body = (golden_dir / "gazelle_vits14_inout_random.pt").read_bytes()
    server.routes[f"/{entry.decoder.filename}"] = (body[: len(body) // 2], len(body))
    server.routes[f"/{entry.backbone_file.filename}"] = golden_dir / "dinov2_vits14_random.pth"
    cache = ModelCache(root=tmp_path, mirror=server.url, progress=False, timeout_s=5)
    with pytest.raises(OfflineError) as e:
        cache.fetch(entry.files, validate=validate_model_file)
    assert "gazelle_dinov2_vitb14_inout.pt" in str(e.value)
    assert not (tmp_path / entry.decoder.filename).exists()
    assert not list(tmp_path.glob("*.part"))


def test_wrong_file_is_rejected(server, golden_dir, tmp_path):
    entry = get_zoo_model(NAME)
    # a backbone file served under the decoder's name
    server.routes[f"/{entry.decoder.filename}"] = golden_dir / "dinov2_vits14_random.pth"
    server.routes[f"/{entry.backbone_file.filename}"] = golden_dir / "dinov2_vits14_random.pth"
    cache = ModelCache(root=tmp_path, mirror=server.url, progress=False)
    with pytest.raises(WeightsError, match="not a valid decoder file"):
        cache.fetch(entry.files, validate=validate_model_file)
    assert not (tmp_path / entry.decoder.filename).exists()
    # not a checkpoint at all
    server.routes[f"/{entry.decoder.filename}"] = (b"<html>not found</html>", None)
    with pytest.raises(WeightsError, match="not a valid decoder file"):
        cache.fetch(entry.files, validate=validate_model_file)


def test_offline_error_names_files_urls_and_places(tmp_path):
    cache = ModelCache(root=tmp_path / "cache", mirror=_free_port_url(), progress=False, timeout_s=5)
    entry = get_zoo_model(NAME)
    with pytest.raises(OfflineError) as e:
        cache.fetch(entry.files, validate=validate_model_file)
    msg = str(e.value)
    for f in entry.files:
        assert f.filename in msg and str(tmp_path / "cache" / f.filename) in msg
    assert "cannot connect" in msg and "GAZECAM_MIRROR" in msg


def test_offline_error_without_mirror_names_official_urls(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    asked: list[str] = []

    def no_network(req, timeout=None):
        asked.append(req.full_url)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.delenv("GAZECAM_MIRROR", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)  # never reach the real internet from a test
    cache = ModelCache(root=tmp_path, progress=False, timeout_s=5)
    entry = get_zoo_model("gazelle_dinov2_vitl14")
    with pytest.raises(OfflineError) as e:
        cache.fetch(entry.files)
    assert asked == [entry.backbone_file.url, entry.decoder.url]
    assert entry.decoder.url in str(e.value) and entry.backbone_file.url in str(e.value)


def test_http_404(server, tmp_path):
    cache = ModelCache(root=tmp_path, mirror=server.url, progress=False)
    with pytest.raises(OfflineError, match="HTTP 404"):
        cache.fetch(get_zoo_model(NAME).files)


def test_file_placed_by_hand_is_checked_and_recorded(golden_dir, tmp_path):
    import shutil

    entry = get_zoo_model(NAME)
    shutil.copy(golden_dir / "dinov2_vits14_random.pth", tmp_path / entry.backbone_file.filename)
    shutil.copy(golden_dir / "gazelle_vits14_inout_random.pt", tmp_path / entry.decoder.filename)
    cache = ModelCache(root=tmp_path, mirror=_free_port_url(), progress=False)
    cache.fetch(entry.files, validate=validate_model_file)
    assert set(json.loads(cache.manifest_path.read_text())) == {f.filename for f in entry.files}
    # a wrong file placed by hand is refused with the reason
    (tmp_path / "manifest.json").unlink()
    shutil.copy(golden_dir / "gazelle_vits14_random.pt", tmp_path / entry.backbone_file.filename)
    with pytest.raises(ValueError, match="not a DINOv2 backbone"):
        cache.fetch(entry.files, validate=validate_model_file)


def test_cli_models_download_and_path(server, golden_dir, tmp_path, monkeypatch, capsys):
    _serve_golden_as_official(server, golden_dir)
    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path))
    monkeypatch.setenv("GAZECAM_MIRROR", server.url)
    assert cli_main(["models", "download", NAME]) == 0
    assert cli_main(["models", "path", NAME]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "gazelle_dinov2_vitb14_inout.pt") in out
    assert cli_main(["models", "list"]) == 0
    assert f"{NAME}" in capsys.readouterr().out
    assert cli_main(["models", "download", "no_such_model"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_cli_offline_error_is_one_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path))
    monkeypatch.setenv("GAZECAM_MIRROR", _free_port_url())
    assert cli_main(["models", "download", NAME]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "could not be downloaded" in err and "put it at" in err


def test_gazecam_home_that_is_not_a_folder_is_named(tmp_path, monkeypatch):
    from gazecam.errors import InputError
    from gazecam.hub import default_cache_dir

    home = tmp_path / "file"
    home.write_text("x")
    monkeypatch.setenv("GAZECAM_HOME", str(home))
    with pytest.raises(InputError, match=rf"GAZECAM_HOME={home} is a file, not a folder; point GAZECAM_HOME at a "
                                         "folder"):
        ModelCache()
    monkeypatch.setenv("GAZECAM_HOME", str(home / "sub" / "cache"))
    with pytest.raises(InputError, match=rf"GAZECAM_HOME={home}/sub/cache is inside {home}, which is a file"):
        default_cache_dir()
    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path / "new" / "cache"))
    assert default_cache_dir() == tmp_path / "new" / "cache"  # created when first needed
