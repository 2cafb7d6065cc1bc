"""On-disk cache of frozen-backbone features, so training epochs after the first skip the encoder.

One file per (image file, backbone): ``<root>/<backbone id>/<key>.pt`` holding the raw DINOv2 patch
features (C, 32, 32) of the UN-augmented image (``torch.save`` of a tensor; read back with
``weights_only=True``).  The key hashes the image's absolute path, size and modification time, so
an edited image is re-encoded; the backbone id hashes the backbone weights, so features of another
backbone are never reused.  Disk cost per image: C*32*32*4 bytes (1.5 MiB ViT-S, 3 MiB ViT-B,
4 MiB ViT-L) in float32, half that with ``dtype=torch.float16``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ...errors import GazecamError

__all__ = ["FeatureCache", "backbone_fingerprint"]


def backbone_fingerprint(backbone: torch.nn.Module) -> str:
    """Short hash of a backbone's weights (names, shapes, values)."""
    h = hashlib.sha256()
    for name, t in backbone.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class FeatureCache:
    """Backbone features per image file, computed once and then read from disk."""

    def __init__(self, *, root: str | Path, backbone: torch.nn.Module, dtype: torch.dtype = torch.float32) -> None:
        if dtype not in (torch.float32, torch.float16):
            raise ValueError(f"feature cache dtype must be float32 or float16, got {dtype}")
        self.dtype = dtype
        self.dir = Path(root).expanduser() / backbone_fingerprint(backbone)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GazecamError(f"cannot create the feature cache folder {self.dir}: {e}") from e
        self.hits = 0
        self.misses = 0

    def path_for(self, image_path: Path) -> Path:
        p = Path(image_path).resolve()
        try:
            st = p.stat()
        except OSError as e:
            raise GazecamError(f"image not found for the feature cache: {p} ({e})") from e
        key = hashlib.sha256(f"{p}|{st.st_size}|{st.st_mtime_ns}|{self.dtype}".encode()).hexdigest()[:32]
        return self.dir / key[:2] / f"{key}.pt"

    def load(self, image_path: Path) -> torch.Tensor | None:
        """Cached (C, 32, 32) float32 features, or None (missing or unreadable entries are recomputed)."""
        f = self.path_for(image_path)
        if not f.is_file():
            return None
        try:
            t = torch.load(f, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a truncated/corrupt entry is simply recomputed
            return None
        if not isinstance(t, torch.Tensor) or t.ndim != 3:
            return None
        return t.float()

    def save(self, image_path: Path, features: torch.Tensor) -> None:
        """Write atomically (temp file + rename): an interrupted run never leaves a truncated entry."""
        f = self.path_for(image_path)
        f.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=f.parent, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(features.detach().to("cpu", self.dtype).contiguous().clone(), tmp)
            os.replace(tmp, f)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def features(self, paths: Sequence[Path], encode: Callable[[list[int]], torch.Tensor],
                 device: torch.device) -> torch.Tensor:
        """(B, C, 32, 32) features for ``paths``; ``encode(indices)`` computes the missing ones."""
        found: list[torch.Tensor | None] = [self.load(p) for p in paths]
        missing = [i for i, t in enumerate(found) if t is None]
        if missing:
            computed = encode(missing)  # (M, C, 32, 32)
            for i, t in zip(missing, computed):
                self.save(paths[i], t)
                found[i] = t.detach().to("cpu", self.dtype).float()  # same values as a later cache read
        self.hits += len(paths) - len(missing)
        self.misses += len(missing)
        return torch.stack([t for t in found if t is not None]).to(device)  # (B, C, 32, 32)
