"""Reading checkpoint files safely (``torch.load(weights_only=True)``), with clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GazecamError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["WeightsError", "load_state_dict_file", "sha256_file", "describe_load_error", "is_unpickling_error",
           "refers_to_code", "UNVERIFIED_NOTE", "is_unverified_note"]

#: How a model's ``note`` starts when its files were placed in the cache by hand and could not be verified
#: as the released ones (no published SHA-256; see :mod:`gazecam.hub`): not released, banner says so.
UNVERIFIED_NOTE = "weights could not be verified"


def is_unverified_note(note: str) -> bool:
    """Whether a model's ``note`` says its weights could not be verified (rather than not being released)."""
    return note.startswith(UNVERIFIED_NOTE)


class WeightsError(GazecamError):
    """A weights file is missing, unreadable, corrupt or of the wrong kind."""


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class _Skipped:
    """Stands in for an object of a training checkpoint that is not needed (numpy RNG state, paths, ...).

    Mapped to such globals during ``weights_only`` loading, so they are never imported or called: the
    placeholder takes any arguments and state and keeps none of it.
    """

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> "_Skipped":
        return object.__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass

    def __repr__(self) -> str:
        return "<skipped>"


# Globals that training checkpoints hold beside the weights (numpy RNG state and scalars, paths, parsed
# arguments, timestamps): replaced by inert placeholders when found.  Any other refused global (builtins.exec,
# os.system, ...) makes the whole file refused.
_BENIGN_PREFIXES = ("numpy.", "pathlib.", "argparse.Namespace", "datetime.", "collections.")


def _load_weights_only(torch, p: Path) -> tuple[object, list[str]]:  # type: ignore[no-untyped-def]
    """``torch.load(weights_only=True)``; refused globals of the benign kinds above (e.g. numpy arrays in the
    RNG state of a training checkpoint) become inert :class:`_Skipped` placeholders, never imported or called.

    Returns the loaded object and the names of the globals that were replaced.
    """
    try:
        return torch.load(p, map_location="cpu", weights_only=True), []
    except Exception as first:  # noqa: BLE001 - UnpicklingError, or RuntimeError for non-zip files
        try:
            unsafe = list(torch.serialization.get_unsafe_globals_in_checkpoint(str(p)))
        except Exception:  # noqa: BLE001 - not a zip checkpoint, truncated, ...: report the first error
            raise first from None
        if not unsafe or not all(name.startswith(_BENIGN_PREFIXES) for name in unsafe):
            raise
        with torch.serialization.safe_globals([(_Skipped, name) for name in unsafe]):
            return torch.load(p, map_location="cpu", weights_only=True), unsafe


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

    Accepts the official layouts: a bare state dict, or one nested under ``"model"``/``"state_dict"``,
    also beside other entries (training checkpoints: optimizer, scheduler, RNG state, arguments).
    Those other entries are never needed; the objects in them that ``weights_only`` loading refuses, when of
    the kinds training checkpoints hold (numpy arrays and scalars, paths, parsed arguments), are replaced by
    inert placeholders (nothing is imported or executed), never allowed; any other refused object (a pickle
    that could run code) makes the file refused.
    """
    import torch  # lazily: the cache and zoo code needs no torch

    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(f"{what} file not found: {p}")
    try:
        obj, skipped = _load_weights_only(torch, p)
    except Exception as e:  # corrupt zip, truncated file, ...
        raise WeightsError(
            f"cannot read {what} file {p}: {describe_load_error(e)}. It may be truncated, tampered with or not "
            "a PyTorch checkpoint: delete it or replace it with the original file"
        ) from e
    if isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("model", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise WeightsError(f"{what} file {p} does not hold a state dict (got {type(obj).__name__})")
    if skipped and any(isinstance(v, _Skipped) for v in obj.values()):
        raise WeightsError(f"cannot read {what} file {p}: its weights include objects other than tensors "
                           f"({', '.join(sorted(skipped)[:5])}); it is not a plain PyTorch state dict")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{what} file {p} has non-tensor entries: {bad[:5]}")
    return obj
