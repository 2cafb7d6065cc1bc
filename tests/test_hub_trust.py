"""Provenance of cached model files (issue 18 case 13): only what gazecam downloaded, what matches a published
SHA-256 or what the user confirmed (`gazecam models trust NAME`) counts as the released weights."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from fakes import FileServer

from gazecam.cli import main as cli_main
from gazecam.hub import ChecksumError, ModelCache
from gazecam.model import GazeModel
from gazecam.render import weights_banner_text
from gazecam.weights import is_unverified_note
from gazecam.zoo import RemoteFile, get_zoo_model

GOLDEN3 = Path(os.environ.get("GAZECAM_GOLDEN_DINOV3",
                              Path(__file__).resolve().parents[1].parent / "shared" / "golden_dinov3"))
VARIANT = "gazelle_dinov3_vit_tiny_inout"  # alias dinov3-s-inout; no SHA-256 is published for it
RANDOM = GOLDEN3 / f"{VARIANT}_random.pt"  # random weights of the right architecture


@pytest.fixture()
def random_weights() -> Path:
    if not RANDOM.is_file():
        pytest.fail(f"gazelle-dinov3 fixture not found at {RANDOM} (expected ../shared/golden_dinov3)")
    return RANDOM


def _models_list_line(capsys, name: str) -> tuple[str, str]:
    assert cli_main(["models", "list"]) == 0
    out = capsys.readouterr().out
    return next(x for x in out.splitlines() if x.strip().startswith(name)), out


def test_random_weights_copied_into_the_cache_are_unverified_until_trusted(random_weights, tmp_path, monkeypatch,
                                                                           capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(random_weights, cache / f"{VARIANT}.pt")  # placed by hand under the zoo name
    model = GazeModel.from_pretrained("dinov3-s-inout", cache_dir=cache, progress=False)
    assert not model.released and is_unverified_note(model.note)
    assert f"{VARIANT}.pt was placed in the cache by hand" in model.note
    assert f"gazecam models trust {VARIANT}" in model.note
    banner = weights_banner_text(released=model.released, note=model.note)
    assert banner.startswith("UNVERIFIED WEIGHTS") and "could not be verified" in banner
    entry = json.loads((cache / "manifest.json").read_text())[f"{VARIANT}.pt"]
    assert entry["trust"] == "unverified" and entry["sha256"] == hashlib.sha256(random_weights.read_bytes()).hexdigest()

    monkeypatch.setenv("GAZECAM_HOME", str(cache))
    monkeypatch.setenv("GAZECAM_MIRROR", "http://127.0.0.1:9")  # never used: nothing is downloaded here
    line, out = _models_list_line(capsys, VARIANT)
    assert "UNVERIFIED" in line
    assert f"{VARIANT}.pt: {VARIANT}.pt was placed in the cache by hand" in out and "gazecam models trust" in out
    # still unverified on the next load (the manifest entry does not make it trusted)
    assert not GazeModel.from_pretrained(VARIANT, cache_dir=cache, progress=False).released

    assert cli_main(["models", "trust", "dinov3-s-inout"]) == 0
    assert "dinov3-s-inout: model trusted" in capsys.readouterr().out
    assert json.loads((cache / "manifest.json").read_text())[f"{VARIANT}.pt"]["trust"] == "user"
    trusted = GazeModel.from_pretrained(VARIANT, cache_dir=cache, progress=False)
    assert trusted.released and trusted.note == ""
    line, _ = _models_list_line(capsys, VARIANT)
    assert "UNVERIFIED" not in line and "cached" in line


def test_downloaded_files_stay_trusted(random_weights, tmp_path, monkeypatch, capsys):
    """The real download path (a local HTTP server as GAZECAM_MIRROR, as the README's main command uses)."""
    server = FileServer()
    try:
        server.routes[f"/{VARIANT}.pt"] = random_weights
        monkeypatch.setenv("GAZECAM_HOME", str(tmp_path))
        monkeypatch.setenv("GAZECAM_MIRROR", server.url)
        assert cli_main(["models", "download", "dinov3-s-inout"]) == 0
        model = GazeModel.from_pretrained(VARIANT, progress=False)
        assert model.released and model.note == ""
        assert json.loads((tmp_path / "manifest.json").read_text())[f"{VARIANT}.pt"]["trust"] == "downloaded"
        capsys.readouterr()
        line, _ = _models_list_line(capsys, VARIANT)
        assert "cached" in line and "UNVERIFIED" not in line
        assert server.requests == [f"/{VARIANT}.pt"]
    finally:
        server.close()


def test_trust_refuses_missing_changed_and_invalid_files(random_weights, golden_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path))
    assert cli_main(["models", "trust", VARIANT]) == 1  # nothing to trust: never downloads
    assert f"{VARIANT}.pt is not in the cache" in capsys.readouterr().err
    shutil.copy(golden_dir / "gazelle_vits14_inout_random.pt", tmp_path / f"{VARIANT}.pt")  # a decoder, no backbone
    assert cli_main(["models", "trust", VARIANT]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err and "unexpected" not in err
    assert not (tmp_path / "manifest.json").exists() or "user" not in (tmp_path / "manifest.json").read_text()
    # a file recorded once and changed afterwards is never confirmed by `trust`
    shutil.copy(random_weights, tmp_path / f"{VARIANT}.pt")
    (tmp_path / "manifest.json").unlink(missing_ok=True)
    cache = ModelCache(root=tmp_path, progress=False)
    file = get_zoo_model(VARIANT).decoder
    cache.verify(file)
    with open(tmp_path / f"{VARIANT}.pt", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ChecksumError):
        cache.trust(file)
    assert cache.trust_of(file) == "unverified"


def test_published_digest_must_match(tmp_path):
    data = b"weights"
    pinned = RemoteFile("w.pt", "http://127.0.0.1:9/w.pt", "decoder", sha256=hashlib.sha256(data).hexdigest())
    cache = ModelCache(root=tmp_path, progress=False)
    (tmp_path / "w.pt").write_bytes(data)
    cache.verify(pinned)
    assert cache.trust_of(pinned) == "published" and cache.is_trusted(pinned)
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "w.pt").write_bytes(b"random weights")
    with pytest.raises(ChecksumError, match="does not match the published"):
        cache.verify(pinned)
    assert cache.check(pinned).status == "invalid"


def test_entries_of_older_versions_keep_their_provenance(tmp_path):
    """Manifests written before provenance was recorded: their ``source`` tells a download from a file by hand."""
    cache = ModelCache(root=tmp_path, progress=False)
    files = {name: RemoteFile(f"{name}.pt", f"http://x/{name}.pt", "decoder") for name in ("got", "hand")}
    manifest = {}
    for name, source in (("got", "https://github.com/x/got.pt"), ("hand", f"placed by hand at {tmp_path}/hand.pt")):
        (tmp_path / f"{name}.pt").write_bytes(name.encode())
        manifest[f"{name}.pt"] = {"sha256": hashlib.sha256(name.encode()).hexdigest(), "size": len(name),
                                  "source": source}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert cache.check(files["got"]).status == "cached"
    state = cache.check(files["hand"])
    assert state.status == "unverified" and "could not be verified" in state.reason


def test_unverified_files_still_load(tmp_path):
    """Unverified is not invalid: the file is used (the model is just not called released)."""
    cache = ModelCache(root=tmp_path, progress=False)
    file = RemoteFile("x.pt", "http://127.0.0.1:9/x.pt", "decoder")
    (tmp_path / "x.pt").write_bytes(b"x")
    assert cache.fetch([file]) == [tmp_path / "x.pt"]
    assert cache.check(file).status == "unverified" and not cache.is_trusted(file)


@pytest.mark.slow
def test_an_export_made_before_trust_follows_the_model(random_weights, tmp_path):
    """ONNX exports are cached by weights; released or not is what the model says now, not at export time."""
    pytest.importorskip("onnxruntime")
    from gazecam.backends import load_backend

    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(random_weights, cache / f"{VARIANT}.pt")
    before = GazeModel.from_pretrained(VARIANT, cache_dir=cache, progress=False)
    backend = load_backend("onnxruntime", model=before, export_root=tmp_path / "exports")
    assert not backend.released and is_unverified_note(backend.note)
    ModelCache(root=cache, progress=False).trust(get_zoo_model(VARIANT).decoder)
    after = GazeModel.from_pretrained(VARIANT, cache_dir=cache, progress=False)
    backend = load_backend("onnxruntime", model=after, export_root=tmp_path / "exports")  # the cached export
    assert backend.released and backend.note == "" and len(list((tmp_path / "exports").iterdir())) == 1
