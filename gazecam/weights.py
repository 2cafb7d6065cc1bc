"""Reading checkpoint files safely (``torch.load(weights_only=True)``), with clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GazecamError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["WeightsError", "load_state_dict_file", "sha256_file", "describe_load_error", "is_unpickling_error",
           "refers_to_code"]


class WeightsError(GazecamError):
    """A weights file is missing, unreadable, corrupt or of the wrong kind."""


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def describe_load_error(e: BaseException) -> str:
    """One line about why ``torch.load(..., weights_only=True)`` failed, without torch's advice.

    torch's refusal of a pickle that references arbitrary Python objects suggests loading the file with
    ``weights_only=False``, i.e. running whatever code it holds; gazecam never passes that advice on.
    """
    if refers_to_code(e):
        return ("it holds Python objects other than tensors and plain containers (a pickle that could run code "
                "when loaded), so it was not loaded")
    if is_unpickling_error(e):
        return "its data is not a checkpoint torch can read safely (unreadable pickle data)"
    text = str(e)
    first = text.strip().splitlines()[0] if text.strip() else ""
    if len(first) > 120 and ". " in first:  # torch's long explanations: their first sentence says it
        first = first.split(". ", 1)[0]
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def is_unpickling_error(e: BaseException) -> bool:
    """Whether ``torch.load(weights_only=True)`` refused the pickle data (torch then advises loading it anyway)."""
    import pickle

    text = str(e)
    return isinstance(e, pickle.UnpicklingError) or "Weights only load failed" in text or "WeightsUnpickler" in text


def refers_to_code(e: BaseException) -> bool:
    """Whether the refused pickle names a Python global (a class or function it would call when loaded)."""
    return is_unpickling_error(e) and ("Unsupported global" in str(e) or "GLOBAL " in str(e))


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
            f"cannot read {what} file {p}: {describe_load_error(e)}. It may be truncated, tampered with or not "
            "a PyTorch checkpoint: delete it or replace it with the original file"
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
