"""Image conversion and still-image I/O (numpy / PIL only, no torch).

Every stage of gazecam works on ``H x W x 3`` ``uint8`` RGB arrays; :func:`to_rgb`
turns what cameras, image files and decoders deliver (gray, gray + alpha, RGBA,
16-bit, float) into that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazecam.errors import GazecamError, InputError
from gazecam.outputs import IMAGE_SUFFIXES, atomic_output

__all__ = ["to_rgb", "read_image", "write_png", "letterbox", "IMAGE_SUFFIXES"]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale any numeric dtype to uint8 (uint16 -> /257, float in [0, 1] -> *255)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)  # 65535 -> 255
    if np.issubdtype(image.dtype, np.floating):
        if image.size and not np.all(np.isfinite(image)):
            raise ValueError("to_rgb: float image contains NaN or infinite values")
        lo, hi = (float(image.min()), float(image.max())) if image.size else (0.0, 1.0)
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"to_rgb: float images must have values in [0, 1], got range [{lo:.4g}, {hi:.4g}]; "
                "scale the image to [0, 1] or convert it to uint8 first"
            )
        return np.round(image * 255.0).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        lo, hi = (int(image.min()), int(image.max())) if image.size else (0, 0)
        if lo >= 0 and hi <= 255:
            return image.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return _to_uint8(image.astype(np.uint16))
        raise ValueError(
            f"to_rgb: integer image of dtype {image.dtype} has values in [{lo}, {hi}]; "
            "expected 8-bit [0, 255] or 16-bit [0, 65535] values"
        )
    raise ValueError(f"to_rgb: unsupported dtype {image.dtype}; expected uint8, uint16, bool or float in [0, 1]")


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as an ``H x W x 3`` uint8 RGB array.

    Accepts ``H x W`` gray, ``H x W x 1`` gray, ``H x W x 2`` gray + alpha,
    ``H x W x 3`` RGB and ``H x W x 4`` RGBA (alpha is dropped, not blended).
    uint16 is scaled by 1/257, floats must lie in [0, 1], bool maps to 0/255.
    Raises ``ValueError`` for anything else.  Returns the input itself when it is
    already contiguous uint8 RGB.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"to_rgb: expected a numpy array, got {type(image).__name__}")
    if image.ndim == 2:
        image = image[:, :, None]  # (H, W) -> (H, W, 1)
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(
            f"to_rgb: expected an H x W, H x W x 1, H x W x 3 or H x W x 4 image, got shape {image.shape}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"to_rgb: image is empty, shape {image.shape}")
    image = _to_uint8(image)
    channels = image.shape[2]
    if channels in (1, 2):
        image = np.repeat(image[:, :, :1], 3, axis=2)  # gray (+alpha) -> (H, W, 3)
    elif channels == 4:
        image = image[:, :, :3]  # RGBA -> RGB, alpha dropped
    return np.ascontiguousarray(image)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``H x W x 3`` uint8 RGB (EXIF orientation applied).

    Raises :class:`InputError` for a missing, unreadable or unsupported file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"image file not found: {path}")
    if path.is_dir():
        raise InputError(f"expected an image file, got a directory: {path}")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1", "RGBa", "La"):
                img = img.convert("RGBA" if "A" in img.mode or "a" in img.mode or img.mode == "P" else "RGB")
            array = np.asarray(img)
    except (UnidentifiedImageError, ImportError) as exc:
        # ImportError: once ultralytics is imported it patches Image.open to retry unknown files with the
        # optional pi-heif plugin, which raises ModuleNotFoundError when that plugin is not installed.
        raise InputError(f"cannot read {path}: not an image or an unsupported image format") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated / corrupt files
        raise InputError(f"cannot read image {path}: {exc}; the file may be truncated or corrupt") from exc
    try:
        return to_rgb(array)
    except ValueError as exc:
        raise InputError(f"cannot use image {path}: {exc}") from exc


def letterbox(image: np.ndarray, *, width: int, height: int) -> np.ndarray:
    """``image`` (H x W x 3 uint8 RGB) scaled to fit ``width`` x ``height`` (aspect kept), centred on black.

    Returns the input itself when it already has that size.
    """
    from PIL import Image

    if width < 1 or height < 1:
        raise ValueError(f"letterbox: width and height must be positive, got {width} x {height}")
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top:top + new_h, left:left + new_w] = resized  # (new_h, new_w, 3) pasted in the centre
    return out


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an image (anything :func:`to_rgb` accepts) as an RGB PNG file."""
    from PIL import Image

    path = Path(path).expanduser()
    image = to_rgb(rgb)
    try:
        with atomic_output(path) as tmp:  # renamed into place when complete
            Image.fromarray(image).save(tmp, format="PNG")
    except OSError as exc:
        raise GazecamError(
            f"cannot write PNG {path}: {exc.strerror or exc}; check that the directory exists and is writable"
        ) from exc
