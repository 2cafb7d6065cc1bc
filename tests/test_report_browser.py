"""The HTML report opened in a real headless browser (Debian's chromium) and screenshotted.

scripts/test.sh installs chromium where it can (Debian, as root); without it this test skips.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scenes import classroom, write_jsonl

from gazecam.records import RecordsMeta, write_meta
from gazecam.report import build_report, write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/test.sh "
                                                          "installs it as root with apt-get)")


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 2400) -> np.ndarray:
    """Open ``html`` from disk in headless chromium (no network features) and return the screenshot as RGB."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={width},{height}",
                        html.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    return np.asarray(Image.open(png).convert("RGB"))


def _has_color(img: np.ndarray, rgb: tuple[int, int, int], *, tol: int = 6, min_pixels: int = 200) -> bool:
    return int((np.abs(img.astype(int) - rgb).max(axis=2) <= tol).sum()) >= min_pixels


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    rec = write_jsonl(tmp_path / "class.jsonl", classroom())
    write_meta(rec, RecordsMeta(source="class.mp4", model="gazelle_vits14_inout_random", released=False,
                                weights_note="random (untrained) weights", width=640, height=360, fps=10.0))
    html = write_html(build_report([rec]), tmp_path / "report.html")
    img = screenshot(html, tmp_path / "shot.png")
    assert img.shape == (2400, 1280, 3)
    assert _has_color(img, (0xFD, 0xE8, 0xE7))  # the untrained-weights banner
    assert _has_color(img[:400], (0xFD, 0xE8, 0xE7))  # ... at the top of the page
    # the embedded pictures were decoded and drawn: the people's colours of the timeline bars
    # (#1 looks at #2: green; #2 looks at #1: blue, from gazecam.render.PALETTE) and the scene grey
    for rgb in ((72, 220, 72), (56, 168, 255), (0x8A, 0xA1, 0xB1)):
        assert _has_color(img, rgb, min_pixels=2000), rgb
    # nothing runs off the right edge: the last column of the page is page background
    assert np.abs(img[:, -3:].astype(int) - (0xF6, 0xF7, 0xF9)).max() <= 3
