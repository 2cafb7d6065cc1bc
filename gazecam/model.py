"""``GazeModel``: a frozen ViT backbone + Gaze-LLE decoder, encode once per image, decode many heads.

Two model families: Gaze-LLE (DINOv2 at 448 px, decoder on 32x32 features) and gazelle-dinov3
(DINOv3 ViT-S/S+/B or the distilled ViT-Tiny/Tiny+ at 640 px, decoder on 40x40 features); both give
64x64 heatmaps.

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .models.families import (
    Backbone,
    backbone_from_state,
    build_backbone,
    family_of_backbone,
    infer_backbone_arch,
    is_model_state,
    join_model_state,
    split_model_state,
)
from .models.gazelle import (
    GazeLLEDecoder,
    build_head_maps,
    decoder_config_for,
    decoder_config_from_state_dict,
    head_map_bounds,
)
from .models.archs import HGNETV2_ARCHS, backbone_normalizes, heatmap_size
from .models.preprocess import preprocess_images
from .predictor import BatchPredictor, HeadBox, empty_prediction, normalize_heads, split_predictions  # noqa: F401 (re-exported)
from .types import GazePrediction
from .weights import UNVERIFIED_NOTE, WeightsError, load_state_dict_file

__all__ = ["GazeModel", "SceneFeatures", "HeadBox", "normalize_heads", "decode_heads", "validate_model_file"]


@dataclass(frozen=True)
class SceneFeatures:
    """Encoded images: projected scene tokens, ready for :meth:`GazeModel.decode`."""

    scene: torch.Tensor  # (B, 256, F, F) on the model's device (decoder.project output; F = 32 or 40)
    image_sizes: tuple[tuple[int, int], ...]  # (height, width) of each source image

    def __len__(self) -> int:
        return int(self.scene.shape[0])


class GazeModel(BatchPredictor):
    """Frozen backbone (DINOv2, DINOv3 or ViT-Tiny) + Gaze-LLE decoder on one device."""

    def __init__(self, *, backbone: Backbone, decoder: GazeLLEDecoder, device: str | torch.device = "cpu",
                 name: str = "custom", released: bool = False, note: str = "") -> None:
        if decoder.config.in_dim != backbone.embed_dim:
            raise ValueError(f"decoder expects {decoder.config.in_dim}-dim features but backbone "
                             f"{backbone.arch.name} gives {backbone.embed_dim}")
        if decoder.config.featmap != backbone.grid:
            raise ValueError(f"decoder expects a {decoder.config.featmap}x{decoder.config.featmap} feature map but "
                             f"backbone {backbone.arch.name} gives {backbone.grid}x{backbone.grid}")
        self.device = torch.device(device)
        self.backbone = backbone.eval().requires_grad_(False).to(self.device)
        self.decoder = decoder.eval().requires_grad_(False).to(self.device)
        self.name = name
        self.released = released  # True only for the released checkpoints of the zoo
        self.note = note  # why the weights are not the released ones, if known

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_state_dicts(cls, *, gaze_state: dict[str, torch.Tensor],
                         backbone_state: dict[str, torch.Tensor] | None = None, backbone: str | None = None,
                         device: str | torch.device = "cpu", name: str = "custom", released: bool = False,
                         note: str = "") -> "GazeModel":
        """Build from state dicts: a decoder + a backbone, or one whole-model state (gazelle-dinov3).

        ``backbone`` (optional) is the architecture the caller expects; a mismatch is an error.
        """
        if is_model_state(gaze_state):
            if backbone_state is not None:
                raise ValueError("the gaze weights already hold a backbone (a whole gazelle-dinov3 model); "
                                 "give no separate backbone weights")
            backbone_state, gaze_state = split_model_state(gaze_state)
        elif backbone_state is None:
            raise ValueError("the gaze weights hold a decoder only (no 'backbone.*' keys); the backbone weights "
                             "are needed too (backbone_weights=...)")
        arch = infer_backbone_arch(backbone_state)
        if backbone is not None and backbone != arch:
            raise ValueError(f"backbone weights are {arch}, but backbone={backbone!r} was asked for")
        family = family_of_backbone(arch)
        cfg = decoder_config_from_state_dict(gaze_state, family=family, grid=_grid_override(arch),
                                             out_size=heatmap_size(arch))
        bb = backbone_from_state(backbone_state)
        if cfg.in_dim != bb.embed_dim:
            raise ValueError(f"decoder weights expect {cfg.in_dim}-dim backbone features, "
                             f"but the backbone weights are {arch} ({bb.embed_dim}-dim)")
        dec = GazeLLEDecoder(config=cfg)
        dec.load_official(gaze_state)
        return cls(backbone=bb, decoder=dec, device=device, name=name, released=released, note=note)

    @classmethod
    def from_files(cls, *, gaze_weights: str | Path, backbone_weights: str | Path | None = None,
                   backbone: str | None = None, device: str | torch.device = "cpu") -> "GazeModel":
        """Local weights files: a decoder checkpoint + a backbone checkpoint, or one whole-model file.

        Whole-model files (gazelle-dinov3's releases and training checkpoints, ``{"model": ...}`` with
        optimizer/RNG state beside it) need no ``backbone_weights``.
        """
        gstate = load_state_dict_file(gaze_weights, what="gaze weights")
        bstate = load_state_dict_file(backbone_weights, what="backbone") if backbone_weights is not None else None
        files = f"{backbone_weights} + {gaze_weights}" if backbone_weights is not None else f"{gaze_weights}"
        try:
            return cls.from_state_dicts(backbone_state=bstate, gaze_state=gstate, backbone=backbone, device=device,
                                        name=Path(gaze_weights).stem,
                                        note="custom weights files (not a released zoo model)")
        except ValueError as e:
            raise WeightsError(f"{files}: {e}") from e

    @classmethod
    def from_pretrained(cls, name: str, *, device: str | torch.device = "cpu", cache_dir: str | Path | None = None,
                        mirror: str | None = None, progress: bool = True) -> "GazeModel":
        """A zoo model (name or alias): files from the cache, downloaded on first use (see :mod:`gazecam.hub`)."""
        from .hub import ModelCache
        from .zoo import get_zoo_model

        entry = get_zoo_model(name)
        cache = ModelCache(root=cache_dir, mirror=mirror, progress=progress)
        paths = cache.fetch(entry.files, validate=validate_model_file)
        states = {f.kind: load_state_dict_file(p, what=f.kind) for f, p in zip(entry.files, paths)}
        gstate = states.get("decoder", states.get("model"))
        try:
            model = cls.from_state_dicts(backbone_state=states.get("backbone"), gaze_state=gstate, device=device,
                                         name=entry.name)
        except ValueError as e:
            raise WeightsError(" + ".join(str(p) for p in paths) + f": {e}") from e
        problems = []
        if model.backbone.arch.name != entry.backbone:
            problems.append(f"backbone is {model.backbone.arch.name}, {entry.name} uses {entry.backbone}")
        if model.has_inout != entry.inout:
            problems.append(f"decoder {'has' if model.has_inout else 'lacks'} an in/out head, {entry.name} "
                            f"{'has' if entry.inout else 'has none'}")
        unverified = [cache.unverified_reason(f) for f in entry.files if not cache.is_trusted(f)]
        model.released = not problems and not unverified
        model.note = ("files in the cache are not the released " + entry.name + " weights: "
                      + "; ".join(problems)) if problems else ""
        if unverified and not problems:
            model.note = (f"{UNVERIFIED_NOTE}: " + "; ".join(unverified)
                          + f" (if you trust them: gazecam models trust {entry.name})")
        return model

    @classmethod
    def from_random(cls, *, backbone: str = "dinov2_vitb14", inout: bool = True, seed: int = 0,
                    device: str | torch.device = "cpu", inout_head: str | None = None) -> "GazeModel":
        """Randomly initialised weights, for timing and tests only (``released`` is False).

        ``backbone``: any architecture of :data:`gazecam.models.archs.BACKBONE_NAMES`; the decoder is the
        matching family's (Gaze-LLE for DINOv2, gazelle-dinov3 for the DINOv3 family).
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            bb = build_backbone(backbone)
            cfg = decoder_config_for(family_of_backbone(backbone), in_dim=bb.embed_dim, inout=inout,
                                     inout_head=inout_head, grid=_grid_override(backbone),
                                     out_size=heatmap_size(backbone))
            dec = GazeLLEDecoder(config=cfg)
        return cls(backbone=bb, decoder=dec, device=device, name=f"random-{backbone}{'-inout' if inout else ''}",
                   released=False, note="random (untrained) weights")

    def official_checkpoint(self) -> dict[str, torch.Tensor]:
        """The weights as the family's official code saves them (float32, CPU).

        Gaze-LLE: the decoder alone (``get_gazelle_state_dict()``; the DINOv2 backbone is a separate
        file).  gazelle-dinov3: the whole model (``GazeLLE.state_dict()`` with ``backbone.dinov3.*``).
        """
        decoder = self.decoder.official_state_dict()
        if self.family == "gazelle":
            return {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in decoder.items()}
        return join_model_state(self.backbone, decoder)

    # -- properties -----------------------------------------------------------------------
    @property
    def has_inout(self) -> bool:
        return self.decoder.inout

    @property
    def input_size(self) -> int:
        """Network input side in pixels: 448 (DINOv2) or 640 (DINOv3 family)."""
        return int(self.backbone.img_size)

    @property
    def heatmap_size(self) -> int:
        """Side of the heatmaps: 64, or 32 / 48 for the HGNetV2 Atto / Femto models."""
        return int(self.decoder.config.out_size)

    @property
    def normalizes_input(self) -> bool:
        """Whether :meth:`preprocess` applies ImageNet mean/std (the ViTs) or keeps [0, 1] (the HGNetV2 CNNs)."""
        return backbone_normalizes(self.backbone.arch.name)

    @property
    def featmap(self) -> int:
        """Feature-map side: 32 (DINOv2) or 40 (DINOv3 family)."""
        return int(self.decoder.featmap)

    @property
    def family(self) -> str:
        """``"gazelle"`` (Gaze-LLE, DINOv2) or ``"gazelle_dinov3"``."""
        return self.decoder.config.family

    # -- inference ------------------------------------------------------------------------
    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """H x W x 3 uint8 RGB images -> (B, 3, S, S) normalised float32 on the device (S = :attr:`input_size`)."""
        return preprocess_images(list(images), size=self.input_size, device=self.device,
                                 normalize=self.normalizes_input)

    @torch.inference_mode()
    def backbone_features(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, C, F, F) raw backbone patch features (what the official ``model.backbone`` returns)."""
        return self.backbone(self.preprocess(images))

    preprocess_batch = preprocess  # what BatchPredictor.encode_batch calls

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor, image_sizes: Sequence[tuple[int, int]]) -> SceneFeatures:
        """Preprocessed (B, 3, S, S) pixels -> :class:`SceneFeatures`."""
        scene = self.decoder.project(self.backbone(pixels.to(self.device)))
        return SceneFeatures(scene=scene, image_sizes=tuple((int(h), int(w)) for h, w in image_sizes))

    @torch.inference_mode()
    def decode_batch(self, feats: SceneFeatures, heads_per_image: Sequence[Sequence[HeadBox]]) -> list[GazePrediction]:
        """Decode all heads of all encoded images in one decoder batch."""
        boxes = self._decode_boxes(feats, heads_per_image, own_features=isinstance(feats, SceneFeatures))
        return decode_heads(self.decoder, feats.scene, boxes, featmap=self.featmap, has_inout=self.has_inout,
                            heatmap_size=self.heatmap_size)

    def __repr__(self) -> str:
        return (f"GazeModel(name={self.name!r}, backbone={self.backbone.arch.name}, inout={self.has_inout}, "
                f"device={self.device}, released={self.released})")


def _grid_override(arch: str) -> int | None:
    """The decoder's feature grid when it is not the family's default (the HGNetV2 CNNs: input / 16)."""
    return HGNETV2_ARCHS[arch].img_size // 16 if arch in HGNETV2_ARCHS else None


DecoderFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


def decode_heads(decoder: DecoderFn, scene: torch.Tensor, boxes: Sequence[np.ndarray], *, featmap: int,
                 has_inout: bool, heatmap_size: int = 64, chunk: int | None = None,
                 pad: bool = False) -> list[GazePrediction]:
    """The one decode path (:class:`GazeModel`, :class:`~gazecam.backends.torch.TorchBackend`).

    ``decoder(scene, head_maps, image_index)`` -> heatmaps, inout; ``boxes``: (N_i, 4) normalised boxes per
    image (NaN rows = ``None``).  ``heatmap_size``: side of the maps (64; HGNetV2 Atto 32, Femto 48).
    ``chunk``: at most that many heads per decoder call; ``pad``: each call's heads padded to a power of two
    (empty maps, dropped), so a compiled decoder sees few shapes.
    """
    counts = [len(b) for b in boxes]
    if sum(counts) == 0:
        return [empty_prediction(has_inout, heatmap_size) for _ in counts]
    all_boxes = np.concatenate(boxes)  # (N, 4)
    index = np.repeat(np.arange(len(counts)), counts)  # (N,) image of each head
    step = chunk or len(all_boxes)
    heat_parts, inout_parts = [], []
    for start in range(0, len(all_boxes), step):
        part = all_boxes[start:start + step]
        n = len(part)
        padded = 1 << (n - 1).bit_length() if pad else n
        bounds = np.zeros((padded, 4), np.int64)  # padding rows: empty maps (= None heads)
        bounds[:n] = head_map_bounds(part, featmap)
        idx = np.zeros(padded, np.int64)
        idx[:n] = index[start:start + step]
        head_maps = build_head_maps(torch.from_numpy(bounds).to(scene.device), featmap)  # (P, F, F)
        heatmaps, inout = decoder(scene, head_maps, torch.from_numpy(idx).to(scene.device))
        heat_parts.append(heatmaps[:n].float().cpu().numpy())
        if inout is not None:
            inout_parts.append(inout[:n].float().cpu().numpy())
    return split_predictions(np.concatenate(heat_parts), np.concatenate(inout_parts) if has_inout else None, counts)


def validate_model_file(file, path: Path) -> None:
    """Check a downloaded/cached file: safe load, exact key set and shapes for its kind.

    Kinds: ``backbone`` (DINOv2/DINOv3/ViT-Tiny checkpoint), ``decoder`` (Gaze-LLE decoder), ``model``
    (a whole gazelle-dinov3 model, possibly a training checkpoint with optimizer/RNG state).
    """
    state = load_state_dict_file(path, what=file.kind)
    if file.kind == "backbone":
        infer_backbone_arch(state)
    elif file.kind == "model":
        if not is_model_state(state):
            raise ValueError("expected a whole model (backbone.* and decoder keys); this file holds no backbone")
        bstate, dstate = split_model_state(state)
        arch = infer_backbone_arch(bstate)
        decoder_config_from_state_dict(dstate, family=family_of_backbone(arch), grid=_grid_override(arch),
                                       out_size=heatmap_size(arch))
    else:
        decoder_config_from_state_dict(state)
