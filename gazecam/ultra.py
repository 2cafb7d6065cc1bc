"""ultralytics, imported one way: offline, no auto-install, restricted (``weights_only``) model loading.

Every gazecam import of ultralytics is preceded by :func:`ultralytics_env`, which sets

* ``YOLO_OFFLINE=1`` - never phone home (unless the user set it otherwise),
* ``YOLO_AUTOINSTALL=0`` - never pip-install at run time (unless the user set it otherwise),
* ``ULTRALYTICS_SAFE_LOAD=1`` - always: ultralytics then loads ``.pt`` files with
  ``torch.load(weights_only=True)`` against its allow-list of known model classes (ultralytics 8.4.190:
  ``ultralytics.utils.SAFE_LOAD`` -> ``ultralytics.nn.tasks.torch_safe_load``), so a pickle that would
  run code when loaded is refused instead of executed.

The flag is read once, when ultralytics is first imported: :func:`load_yolo` refuses to load a ``.pt``
file when ultralytics was imported before gazecam could set it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import GazecamError, InputError
from .weights import describe_load_error, is_unpickling_error, refers_to_code

__all__ = ["ultralytics_env", "safe_load_active", "load_yolo", "load_yolo_checkpoint", "UnsafeModelError",
           "ultralytics_device"]


class UnsafeModelError(InputError):
    """A model file holds more than a known model's classes and tensors: loading it could run code."""


def ultralytics_env() -> None:
    """Set ultralytics' environment (offline, no auto-install, restricted loading); call before importing it."""
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never phone home
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")  # never pip-install behind the user's back
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"  # not a preference: model files never run code


def safe_load_active() -> bool:
    """Whether the imported ultralytics loads ``.pt`` files with its restricted (``weights_only``) loader."""
    ultralytics_env()
    import ultralytics.nn.tasks as tasks

    return bool(getattr(tasks, "SAFE_LOAD", False)) and bool(getattr(tasks._SafeLoad, "SUPPORTED", False))


def ultralytics_device(device: str | None) -> str | None:
    """gazecam/torch device name -> ultralytics device string ("cuda" -> "0", "cuda:1" -> "1")."""
    if device in (None, "", "auto"):
        return None
    if device == "cuda":
        return "0"
    if device.startswith("cuda:"):
        return device.split(":", 1)[1]
    return device


GENUINE = "a genuine Ultralytics YOLO .pt file (or an exported .onnx)"


def _refusal(what: str, path: Path, reason: str, replacement: str = GENUINE) -> str:
    return f"{what}: refused to load {path}: {reason}. Delete it, or replace it with {replacement}"


def _check_safe_loading(what: str) -> None:
    if not safe_load_active():
        raise GazecamError(
            f"{what}: ultralytics was imported before gazecam could turn on its restricted model loading, so "
            ".pt model files are not loaded. Set ULTRALYTICS_SAFE_LOAD=1 in the environment (or import gazecam "
            "before ultralytics)")


@contextmanager
def _as_pt(path: Path) -> Iterator[Path]:
    """``path`` under a name ending in ``.pt`` (ultralytics checks the suffix): a link beside it if needed."""
    if path.suffix.lower() == ".pt":
        yield path
        return
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".pt")
    os.close(fd)
    link = Path(name)
    try:
        link.unlink()
        try:
            os.link(path, link)  # same inode: the bytes checked are the bytes later renamed into place
        except OSError:
            shutil.copyfile(path, link)
        yield link
    finally:
        link.unlink(missing_ok=True)


def load_yolo_checkpoint(path: str | Path, *, what: str = "YOLO model", replacement: str = GENUINE) -> dict:
    """Read a YOLO ``.pt`` checkpoint with ultralytics' restricted loader only (``safe_only=True``).

    Returns the checkpoint dict (``model`` / ``ema`` hold the network).  A file that references anything
    outside ultralytics' allow-list raises :class:`UnsafeModelError`; an unreadable one :class:`InputError`.
    """
    ultralytics_env()
    from ultralytics.nn.tasks import torch_safe_load

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what}: model file {path} does not exist")
    try:
        with _as_pt(path) as pt:
            ckpt, _ = torch_safe_load(str(pt), safe_only=True)
    except Exception as e:  # noqa: BLE001 - torch/ultralytics raise many kinds; one line for the user
        raise _load_error(what, path, e, replacement) from e
    if not isinstance(ckpt, dict):
        raise InputError(_refusal(what, path, f"it holds a {type(ckpt).__name__}, not an Ultralytics checkpoint",
                                  replacement))
    return ckpt


def _load_error(what: str, path: Path, e: BaseException, replacement: str = GENUINE) -> InputError:
    """One line for a failed restricted load: code-referencing pickle, not a YOLO checkpoint, or unreadable."""
    chain, cause = [], e
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(refers_to_code(c) for c in chain) or isinstance(e, ModuleNotFoundError):
        return UnsafeModelError(_refusal(
            what, path, "it holds Python objects outside the known Ultralytics model classes (a pickle that could "
            "run code when loaded)", replacement))
    unpickling = next((c for c in chain if is_unpickling_error(c)), None)
    if unpickling is None and "references types outside" in str(e):  # loaded, but no network in it
        return InputError(_refusal(what, path, "it is not an Ultralytics YOLO checkpoint (no model network in "
                                   "it)", replacement))
    return InputError(f"{what}: cannot load {path} as a YOLO model ({describe_load_error(unpickling or chain[-1])}); it "
                      f"may be truncated or not a YOLO model. Delete it, or replace it with {replacement}")


def load_yolo(path: str | Path, *, what: str = "YOLO model") -> Any:
    """``ultralytics.YOLO(path)`` for a ``.pt`` (restricted loading only) or ``.onnx`` file; one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what}: model file {path} does not exist (expected a YOLO .pt or .onnx file)")
    suffix = path.suffix.lower()
    if suffix not in (".pt", ".onnx"):
        raise InputError(f"{what}: {path} is not a YOLO model file (expected .pt or .onnx, got "
                         f"{suffix or 'no suffix'!r})")
    ultralytics_env()
    try:
        from ultralytics import YOLO
    except ImportError as e:  # pragma: no cover - ultralytics is a dependency
        raise GazecamError(f"ultralytics is needed for YOLO head detection but cannot be imported: {e}") from e
    if suffix == ".pt":
        _check_safe_loading(what)
    try:
        return YOLO(str(path), task=None if suffix == ".pt" else "detect")
    except Exception as e:  # noqa: BLE001 - ultralytics raises many kinds; report one line
        raise _load_error(what, path, e) from e
