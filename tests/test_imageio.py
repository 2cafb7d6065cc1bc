"""gazecam.imageio: conversion of every image layout to RGB uint8, still-image reading and writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gazecam.errors import GazecamError, InputError
from gazecam.imageio import read_image, to_rgb, write_png


@pytest.fixture
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def test_to_rgb_passes_rgb_through(rgb: np.ndarray) -> None:
    out = to_rgb(rgb)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1)])
def test_to_rgb_gray_is_replicated(shape: tuple[int, ...]) -> None:
    gray = np.arange(35, dtype=np.uint8).reshape(shape)
    out = to_rgb(gray)
    assert out.shape == (5, 7, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray.reshape(5, 7))


def test_to_rgb_drops_alpha(rgb: np.ndarray) -> None:
    rgba = np.concatenate([rgb, np.full((5, 7, 1), 17, np.uint8)], axis=2)
    np.testing.assert_array_equal(to_rgb(rgba), rgb)
    gray_alpha = np.stack([rgb[:, :, 0], np.zeros((5, 7), np.uint8)], axis=2)
    np.testing.assert_array_equal(to_rgb(gray_alpha)[:, :, 2], rgb[:, :, 0])


def test_to_rgb_odd_size_is_contiguous() -> None:
    image = np.zeros((359, 641, 4), np.uint8)  # odd size with alpha
    out = to_rgb(image[:, ::-1])  # a negative-stride view
    assert out.shape == (359, 641, 3) and out.flags["C_CONTIGUOUS"]


def test_to_rgb_scales_uint16_and_float() -> None:
    u16 = np.array([[0, 257, 65535]], np.uint16)
    np.testing.assert_array_equal(to_rgb(u16)[0, :, 0], [0, 1, 255])
    f = np.array([[0.0, 0.5, 1.0]], np.float32)
    np.testing.assert_array_equal(to_rgb(f)[0, :, 1], [0, 128, 255])
    i32 = np.array([[0, 200, 255]], np.int32)  # PIL mode "I" with 8-bit values
    np.testing.assert_array_equal(to_rgb(i32)[0, :, 2], [0, 200, 255])
    b = np.array([[True, False]])
    np.testing.assert_array_equal(to_rgb(b)[0, :, 0], [255, 0])


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.full((2, 2), 1.5, np.float32), r"\[0, 1\]"),
        (np.full((2, 2), np.nan, np.float32), "NaN"),
        (np.full((2, 2), -3, np.int32), "8-bit"),
        (np.zeros((2, 2, 5), np.uint8), "H x W x 4"),
        (np.zeros((2, 2, 3, 1), np.uint8), "H x W x 4"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((2, 2), np.complex64), "dtype"),
    ],
)
def test_to_rgb_rejects_with_clear_message(bad: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        to_rgb(bad)


def test_to_rgb_rejects_non_arrays() -> None:
    with pytest.raises(TypeError, match="numpy array"):
        to_rgb([[1, 2], [3, 4]])  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["RGB", "L", "LA", "RGBA", "P", "I;16", "1", "CMYK"])
def test_read_image_every_mode(tmp_path: Path, rgb: np.ndarray, mode: str) -> None:
    img = Image.fromarray(rgb).convert(mode) if mode != "I;16" else Image.fromarray(
        (rgb[:, :, 0].astype(np.uint16) * 257))
    suffix = ".tif" if mode == "CMYK" else ".png"
    path = tmp_path / f"img{suffix}"
    img.save(path)
    out = read_image(path)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    if mode == "RGB":
        np.testing.assert_array_equal(out, rgb)
    if mode == "I;16":
        np.testing.assert_array_equal(out[:, :, 0], rgb[:, :, 0])


def test_read_image_applies_exif_orientation(tmp_path: Path) -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    image[0, 0] = 255  # marker in the top-left corner
    pil = Image.fromarray(image)
    exif = pil.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    pil.save(path, exif=exif, quality=100)
    out = read_image(path)
    assert out.shape == (6, 4, 3)


def test_read_image_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(InputError, match="directory"):
        read_image(tmp_path)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(InputError, match="not an image"):
        read_image(text)
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_image(truncated)


def test_write_png_roundtrip(tmp_path: Path, rgb: np.ndarray) -> None:
    path = tmp_path / "out.png"
    write_png(path, rgb)
    np.testing.assert_array_equal(read_image(path), rgb)
    write_png(path, rgb[:, :, 0])  # gray input is converted
    np.testing.assert_array_equal(read_image(path)[:, :, 1], rgb[:, :, 0])


def test_write_png_unwritable(tmp_path: Path, rgb: np.ndarray) -> None:
    with pytest.raises(GazecamError, match="cannot write PNG"):
        write_png(tmp_path / "no" / "such" / "dir.png", rgb)


def test_letterbox_keeps_aspect_and_centres_on_black():
    from gazecam.imageio import letterbox

    img = np.full((50, 200, 3), 255, np.uint8)  # 4:1 into 100 x 100 -> 100 x 25 band in the middle
    out = letterbox(img, width=100, height=100)
    assert out.shape == (100, 100, 3) and out.dtype == np.uint8
    rows = np.flatnonzero(out[:, 50, 0] > 128)
    assert (rows.min(), rows.max()) == (37, 61)  # 25 rows, centred: (100 - 25) // 2 = 37
    assert out[:37].max() == 0 and out[62:].max() == 0
    tall = letterbox(np.full((300, 100, 3), 255, np.uint8), width=160, height=120)  # 40 x 120 column
    cols = np.flatnonzero(tall[60, :, 0] > 128)
    assert (cols.min(), cols.max()) == (60, 99)
    same = np.zeros((7, 9, 3), np.uint8)
    assert letterbox(same, width=9, height=7) is same
    with pytest.raises(ValueError, match="positive"):
        letterbox(same, width=0, height=7)
