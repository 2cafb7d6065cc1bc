"""The model identity recorded per input: the model's name and the SHA-256 of each of its weights files.

Zoo models: the digests the model cache recorded when it downloaded (and re-checks on every load) the
files (:mod:`gazecam.hub`); missing files are downloaded here, once, before any worker starts.  Local
files: hashed once per batch.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..weights import WeightsError, sha256_file
from .manifest import ModelIdentity

__all__ = ["model_identity"]


def _hash(path: Path, what: str) -> str:
    try:
        return sha256_file(path)
    except FileNotFoundError:
        raise WeightsError(f"{what} file not found: {path}") from None
    except OSError as e:
        raise WeightsError(f"cannot read {what} file {path}: {e.strerror or e}") from e


def model_identity(*, name: str | None = None, backbone_weights: str | Path | None = None,
                   gaze_weights: str | Path | None = None, default_model: str | None = None) -> ModelIdentity:
    """The identity of a zoo model (``name``, else ``default_model``) or of local weights files."""
    if gaze_weights is not None or backbone_weights is not None:
        if name:
            raise InputError("give either a zoo model name or local weights files, not both")
        if gaze_weights is None:
            raise InputError("local weights need gaze_weights (and backbone_weights unless the gaze file holds "
                             "the backbone)")
        digests = {"decoder": _hash(Path(gaze_weights).expanduser(), "gaze weights")}
        if backbone_weights is not None:
            digests["backbone"] = _hash(Path(backbone_weights).expanduser(), "backbone weights")
        return ModelIdentity(name=Path(gaze_weights).stem, weights_sha256=digests)
    from ..hub import ModelCache
    from ..model import validate_model_file
    from ..zoo import DEFAULT_MODEL, get_zoo_model

    model = name or default_model or DEFAULT_MODEL
    try:
        entry = get_zoo_model(model)
    except ValueError as e:
        raise InputError(str(e)) from e
    cache = ModelCache(progress=True)
    cache.fetch(entry.files, validate=validate_model_file)  # downloads once; re-checks the recorded digests
    try:
        recorded = json.loads(cache.manifest_path.read_text())
        digests = {f.kind: recorded[f.filename]["sha256"] for f in entry.files}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"the model cache manifest {cache.manifest_path} has no digest for {model}'s files "
                           f"({e}); delete the manifest to rebuild it") from e
    return ModelIdentity(name=model, weights_sha256=digests)
