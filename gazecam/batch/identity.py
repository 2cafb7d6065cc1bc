"""The model identity recorded per input: the model's name and the SHA-256 of each of its weights files.

Zoo models: the digests the model cache recorded when it downloaded (and re-checks on every load) the
files (:mod:`gazecam.hub`); missing files are downloaded here, once, before any worker starts.  Local
files: hashed once per batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..weights import WeightsError, sha256_file
from .manifest import ModelIdentity

if TYPE_CHECKING:  # pragma: no cover
    from ..loading import ModelSpec

__all__ = ["model_identity"]


def _hash(path: Path, what: str) -> str:
    try:
        return sha256_file(path)
    except FileNotFoundError:
        raise WeightsError(f"{what} file not found: {path}") from None
    except OSError as e:
        raise WeightsError(f"cannot read {what} file {path}: {e.strerror or e}") from e


def model_identity(spec: "ModelSpec") -> ModelIdentity:
    """The identity of the model ``spec`` names: a zoo model (files downloaded here when missing) or local files."""
    if spec.is_files:
        digests = {"decoder": _hash(Path(spec.gaze_weights), "gaze weights")}  # type: ignore[arg-type]
        if spec.backbone_weights is not None:
            digests["backbone"] = _hash(Path(spec.backbone_weights), "backbone weights")
        return ModelIdentity(name=Path(spec.gaze_weights).stem, weights_sha256=digests)  # type: ignore[arg-type]
    from ..hub import ModelCache
    from ..model import validate_model_file
    from ..zoo import get_zoo_model

    model = str(spec.zoo_name)
    try:
        entry = get_zoo_model(model)
    except ValueError as e:
        raise InputError(f"name={model!r}: {e}") from e
    cache = ModelCache(progress=spec.progress)
    cache.fetch(entry.files, validate=validate_model_file)  # downloads once; re-checks the recorded digests
    try:
        recorded = json.loads(cache.manifest_path.read_text())
        digests = {f.kind: recorded[f.filename]["sha256"] for f in entry.files}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"the model cache manifest {cache.manifest_path} has no digest for {model}'s files "
                           f"({e}); delete the manifest to rebuild it") from e
    return ModelIdentity(name=model, weights_sha256=digests)
