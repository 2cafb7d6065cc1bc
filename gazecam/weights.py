"""Reading checkpoint files safely (``torch.load(weights_only=True)``), with clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GazecamError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["WeightsError", "load_state_dict_file", "sha256_file"]


class WeightsError(GazecamError):
    """A weights file is missing, unreadable, corrupt or of the wrong kind."""


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_state_dict_file(path: str | Path, *, what: str = "weights") -> "dict[str, torch.Tensor]":
    """Load a plain ``{name: tensor}`` checkpoint without arbitrary unpickling.

    Accepts the official layouts: a bare state dict, or one nested under ``"model"``/``"state_dict"``.
    """
    import torch  # lazily: the cache and zoo code needs no torch

    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(f"{what} file not found: {p}")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt zip, truncated file, pickled code objects, ...
        raise WeightsError(
            f"cannot read {what} file {p}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}\n"
            "It may be truncated or not a PyTorch checkpoint; delete it and download it again."
        ) from e
    for key in ("model", "state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict) and len(obj) <= 3:
            obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise WeightsError(f"{what} file {p} does not hold a state dict (got {type(obj).__name__})")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{what} file {p} has non-tensor entries: {bad[:5]}")
    return obj
