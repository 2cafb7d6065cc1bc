"""``GazeModel``: a DINOv2 backbone + Gaze-LLE decoder, encode once per image, decode many heads.

    model = GazeModel.from_pretrained("gazelle_dinov2_vitb14_inout", device="cuda")
    pred = model.predict(image, [(0.3, 0.1, 0.5, 0.4), None])   # image: H x W x 3 uint8 RGB
    pred.heatmaps (N, 64, 64), pred.inout (N,) or None, pred.points_norm (N, 2)

    feats = model.encode(image)            # the expensive part, once per frame
    pred = model.decode(feats, heads)      # cheap, for any number of heads

Head boxes are normalised (xmin, ymin, xmax, ymax).  ``None`` means "no box" (an empty prompt),
as in the official code.  Coordinates outside [0, 1] are clipped to [0, 1] (for values above 1 this
is what the official code does; for negative values the official code wraps around, a bug that is
not reproduced).  Inverted boxes (xmax < xmin) and non-finite values are errors.  An empty head list
gives an empty prediction (the official code crashes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .models.dinov2 import DinoV2Backbone, get_arch, infer_dinov2_arch
from .models.gazelle import (
    FEATMAP,
    GazeLLEDecoder,
    build_head_maps,
    decoder_config_from_state_dict,
    head_map_bounds,
)
from .models.preprocess import preprocess_images
from .predictor import BatchPredictor, HeadBox, empty_prediction, normalize_heads, split_predictions  # noqa: F401 (re-exported)
from .types import GazePrediction, check_rgb_image
from .weights import WeightsError, load_state_dict_file

__all__ = ["GazeModel", "SceneFeatures", "HeadBox", "normalize_heads", "validate_model_file"]

IN_SIZE = 448


@dataclass(frozen=True)
class SceneFeatures:
    """Encoded images: projected scene tokens, ready for :meth:`GazeModel.decode`."""

    scene: torch.Tensor  # (B, 256, 32, 32) on the model's device (decoder.project output)
    image_sizes: tuple[tuple[int, int], ...]  # (height, width) of each source image

    def __len__(self) -> int:
        return int(self.scene.shape[0])


class GazeModel(BatchPredictor):
    """Frozen DINOv2 encoder + Gaze-LLE decoder on one device."""

    def __init__(self, *, backbone: DinoV2Backbone, decoder: GazeLLEDecoder, device: str | torch.device = "cpu",
                 name: str = "custom", released: bool = False, note: str = "") -> None:
        if decoder.config.in_dim != backbone.embed_dim:
            raise ValueError(f"decoder expects {decoder.config.in_dim}-dim features but backbone "
                             f"{backbone.arch.name} gives {backbone.embed_dim}")
        self.device = torch.device(device)
        self.backbone = backbone.eval().requires_grad_(False).to(self.device)
        self.decoder = decoder.eval().requires_grad_(False).to(self.device)
        self.name = name
        self.released = released  # True only for the released checkpoints of the zoo
        self.note = note  # why the weights are not the released ones, if known

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_state_dicts(cls, *, backbone_state: dict[str, torch.Tensor], gaze_state: dict[str, torch.Tensor],
                         backbone: str | None = None, device: str | torch.device = "cpu", name: str = "custom",
                         released: bool = False, note: str = "") -> "GazeModel":
        arch = infer_dinov2_arch(backbone_state)
        if backbone is not None and get_arch(backbone).name != arch.name:
            raise ValueError(f"backbone weights are {arch.name} (embed dim {arch.embed_dim}), "
                             f"but backbone={backbone} was asked for")
        cfg = decoder_config_from_state_dict(gaze_state)
        if cfg.in_dim != arch.embed_dim:
            raise ValueError(f"decoder checkpoint expects {cfg.in_dim}-dim backbone features, "
                             f"but the backbone weights are {arch.name} ({arch.embed_dim}-dim)")
        bb = DinoV2Backbone(arch=arch.name, img_size=IN_SIZE)
        bb.load_official(backbone_state)
        dec = GazeLLEDecoder(in_dim=cfg.in_dim, inout=cfg.inout)
        dec.load_official(gaze_state)
        return cls(backbone=bb, decoder=dec, device=device, name=name, released=released, note=note)

    @classmethod
    def from_files(cls, *, backbone: str | None = None, backbone_weights: str | Path, gaze_weights: str | Path,
                   device: str | torch.device = "cpu") -> "GazeModel":
        """Official DINOv2 checkpoint + official Gaze-LLE decoder checkpoint (any local paths)."""
        bstate = load_state_dict_file(backbone_weights, what="backbone")
        gstate = load_state_dict_file(gaze_weights, what="gaze decoder")
        try:
            return cls.from_state_dicts(backbone_state=bstate, gaze_state=gstate, backbone=backbone, device=device,
                                        name=Path(gaze_weights).stem,
                                        note="custom weights files (not a released zoo model)")
        except ValueError as e:
            raise WeightsError(f"{backbone_weights} + {gaze_weights}: {e}") from e

    @classmethod
    def from_pretrained(cls, name: str, *, device: str | torch.device = "cpu", cache_dir: str | Path | None = None,
                        mirror: str | None = None, progress: bool = True) -> "GazeModel":
        """A zoo model: files from the cache, downloaded on first use (see :mod:`gazecam.hub`)."""
        from .hub import ModelCache
        from .zoo import get_zoo_model

        entry = get_zoo_model(name)
        cache = ModelCache(root=cache_dir, mirror=mirror, progress=progress)
        bpath, dpath = cache.fetch(entry.files, validate=validate_model_file)
        bstate = load_state_dict_file(bpath, what="backbone")
        gstate = load_state_dict_file(dpath, what="gaze decoder")
        arch = infer_dinov2_arch(bstate)
        cfg = decoder_config_from_state_dict(gstate)
        problems = []
        if arch.name != entry.backbone:
            problems.append(f"backbone file is {arch.name}, {name} uses {entry.backbone}")
        if cfg.inout != entry.inout:
            problems.append(f"decoder file {'has' if cfg.inout else 'lacks'} an in/out head, {name} "
                            f"{'has' if entry.inout else 'has none'}")
        note = ("files in the cache are not the released " + name + " weights: " + "; ".join(problems)) if problems else ""
        try:
            return cls.from_state_dicts(backbone_state=bstate, gaze_state=gstate, device=device, name=name,
                                        released=not problems, note=note)
        except ValueError as e:
            raise WeightsError(f"{bpath} + {dpath}: {e}") from e

    @classmethod
    def from_random(cls, *, backbone: str = "dinov2_vitb14", inout: bool = True, seed: int = 0,
                    device: str | torch.device = "cpu") -> "GazeModel":
        """Randomly initialised weights, for timing and tests only (``released`` is False)."""
        g = torch.random.fork_rng(devices=[])
        with g:
            torch.manual_seed(seed)
            bb = DinoV2Backbone(arch=backbone, img_size=IN_SIZE)
            dec = GazeLLEDecoder(in_dim=bb.embed_dim, inout=inout)
        return cls(backbone=bb, decoder=dec, device=device, name=f"random-{backbone}{'-inout' if inout else ''}",
                   released=False, note="random (untrained) weights")

    # -- properties -----------------------------------------------------------------------
    @property
    def has_inout(self) -> bool:
        return self.decoder.inout

    @property
    def input_size(self) -> int:
        return IN_SIZE

    # -- inference ------------------------------------------------------------------------
    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """H x W x 3 uint8 RGB images -> (B, 3, 448, 448) normalised float32 on the device."""
        return preprocess_images(list(images), size=IN_SIZE, device=self.device)

    @torch.inference_mode()
    def backbone_features(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, C, 32, 32) raw DINOv2 patch features (what the official ``model.backbone`` returns)."""
        return self.backbone(self.preprocess(images))

    @torch.inference_mode()
    def encode_tensor(self, pixels: torch.Tensor, image_sizes: Sequence[tuple[int, int]]) -> SceneFeatures:
        """Preprocessed (B, 3, 448, 448) pixels -> :class:`SceneFeatures`."""
        scene = self.decoder.project(self.backbone(pixels.to(self.device)))
        return SceneFeatures(scene=scene, image_sizes=tuple((int(h), int(w)) for h, w in image_sizes))

    def encode_batch(self, images: Sequence[np.ndarray]) -> SceneFeatures:
        images = [check_rgb_image(im, f"image {i}") for i, im in enumerate(images)]
        if not images:
            raise ValueError("encode_batch: got no images")
        return self.encode_tensor(self.preprocess(images), [im.shape[:2] for im in images])

    @torch.inference_mode()
    def decode_batch(self, feats: SceneFeatures, heads_per_image: Sequence[Sequence[HeadBox]]) -> list[GazePrediction]:
        """Decode all heads of all encoded images in one decoder batch."""
        boxes = self._decode_boxes(feats, heads_per_image, own_features=isinstance(feats, SceneFeatures))
        counts = [len(b) for b in boxes]
        total = sum(counts)
        if total == 0:
            return [empty_prediction(self.has_inout) for _ in counts]
        all_boxes = np.concatenate(boxes)  # (N, 4)
        bounds = torch.from_numpy(head_map_bounds(all_boxes, FEATMAP)).to(self.device)
        head_maps = build_head_maps(bounds, FEATMAP)  # (N, 32, 32) on device
        image_index = torch.repeat_interleave(torch.arange(len(counts), device=self.device),
                                              torch.tensor(counts, device=self.device))  # (N,)
        heatmaps, inout = self.decoder(feats.scene, head_maps, image_index)
        return split_predictions(heatmaps.float().cpu().numpy(),
                                 inout.float().cpu().numpy() if inout is not None else None, counts)

    def __repr__(self) -> str:
        return (f"GazeModel(name={self.name!r}, backbone={self.backbone.arch.name}, inout={self.has_inout}, "
                f"device={self.device}, released={self.released})")


def validate_model_file(file, path: Path) -> None:
    """Check a downloaded/cached file: safe load, exact key set and shapes for its kind."""
    state = load_state_dict_file(path, what=file.kind)
    if file.kind == "backbone":
        infer_dinov2_arch(state)
    else:
        decoder_config_from_state_dict(state)
