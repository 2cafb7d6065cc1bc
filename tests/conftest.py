"""Shared fixtures: the golden fixtures of ../shared/golden and models built from them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gazecam.ultra import ultralytics_env

ultralytics_env()  # before any test imports ultralytics: offline, restricted loading

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(os.environ.get("GAZECAM_GOLDEN", REPO.parent / "shared" / "golden"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_gazecam_home(tmp_path_factory):
    """Tests never read or write the user's model cache, and never use a mirror from the environment."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GAZECAM_HOME", str(tmp_path_factory.mktemp("gazecam_home")))
    mp.delenv("GAZECAM_MIRROR", raising=False)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    if not (GOLDEN / "cases.json").is_file():
        pytest.fail(f"golden fixtures not found at {GOLDEN} (expected ../shared/golden beside the repo)")
    return GOLDEN


@pytest.fixture(scope="session")
def golden_images(golden_dir: Path) -> dict[str, np.ndarray]:
    from PIL import Image

    return {p.stem: np.asarray(Image.open(p).convert("RGB")) for p in sorted((golden_dir / "images").glob("*.png"))}


def _golden_model(golden_dir: Path, decoder: str):
    from gazecam import GazeModel

    return GazeModel.from_files(backbone="dinov2_vits14", backbone_weights=golden_dir / "dinov2_vits14_random.pth",
                                gaze_weights=golden_dir / decoder, device="cpu")


@pytest.fixture(scope="session")
def golden_model_inout(golden_dir: Path):
    return _golden_model(golden_dir, "gazelle_vits14_inout_random.pt")


@pytest.fixture(scope="session")
def golden_model_base(golden_dir: Path):
    return _golden_model(golden_dir, "gazelle_vits14_random.pt")


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path]:
    """(records, AOI file) of two people and two AOIs over 30 frames (tests/scenes.py: write_aoi_scene)."""
    from scenes import write_aoi_scene

    return write_aoi_scene(tmp_path)


@pytest.fixture()
def server():
    """A :class:`fakes.FileServer` on 127.0.0.1 (set ``server.routes["/name"] = path``), shut down after the test."""
    from fakes import FileServer

    s = FileServer()
    yield s
    s.close()


def pytest_terminal_summary(terminalreporter) -> None:
    """The worst differences the golden tests measured in this run (tests/fakes.py record_difference)."""
    from fakes import MEASURED_DIFFERENCES

    if MEASURED_DIFFERENCES:
        terminalreporter.section("measured max-abs differences against the reference fixtures")
        for key, value in sorted(MEASURED_DIFFERENCES.items()):
            terminalreporter.write_line(f"{key:<60} {value:.2e}")
