"""The benchmark's reference (:mod:`gazecam.research.bench`): the official Gaze-LLE inference algorithm.

Re-does what the official Gaze-LLE code does at inference, written from its documented behaviour (not
copied): fp32 eager; the official transform on the PIL image (``ToTensor``, ``Normalize``,
``Resize((448, 448))`` on the float tensor); the backbone once per image; head maps built per person with
Python loops on the CPU (``round`` = half to even) then moved to the device; the projected features
repeated per person (``repeat_interleave``); the in/out token, the three transformer blocks and the heads.
"""

from __future__ import annotations

import contextlib

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..predictor import HeadBox

__all__ = ["ReferenceGazeLLE"]


class ReferenceGazeLLE:
    """The official Gaze-LLE inference algorithm, step by step, on a GazeModel's weights (fp32, eager)."""

    label = "reference"

    def __init__(self, model: Any) -> None:
        import torch
        from torchvision import transforms

        from ..models.preprocess import IMAGENET_MEAN, IMAGENET_STD

        self.model = model
        self.device = model.device
        self.dinov2 = getattr(model, "family", "gazelle") == "gazelle"
        self.vit = model.backbone.vit if self.dinov2 else None  # the DINOv2 ViT (same weights as the fast path)
        self.dec = model.decoder
        self.in_size = model.input_size
        self.featmap = model.decoder.featmap  # 32 (Gaze-LLE) or 40 (gazelle-dinov3; HGNetV2 20 / 26 / 40)
        self.heatmap_size = int(getattr(model, "heatmap_size", 64))  # 64; HGNetV2 Atto 32, Femto 48
        normalize = [transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)] if getattr(model, "normalizes_input", True) else []
        self.transform = transforms.Compose([transforms.ToTensor(), *normalize,  # HGNetV2 CNNs: no Normalize
                                             transforms.Resize((self.in_size, self.in_size))])
        self._torch = torch

    def preprocess(self, image: np.ndarray) -> Any:
        from PIL import Image

        return self.transform(Image.fromarray(image)).unsqueeze(0).to(self.device)  # (1, 3, 448, 448)

    def encode(self, pixels: Any) -> Any:
        """Backbone once per image: (1, C, 32, 32) patch tokens (DINOv2 x_norm_patchtokens, reshaped)."""
        with self._torch.no_grad():
            if not self.dinov2:  # gazelle-dinov3: the backbone module's patch features
                unfolded = getattr(self.model.backbone, "unfolded", None)  # HGNetV2: BatchNorm unfused, as eager
                with unfolded() if unfolded is not None else contextlib.nullcontext():
                    return self.model.backbone(pixels)
            tokens = self.vit.forward_features(pixels)[:, 1:]  # (1, 1024, C), final norm applied
            b, _, c = tokens.shape
            return tokens.reshape(b, self.featmap, self.featmap, c).permute(0, 3, 1, 2)

    def head_map(self, box: HeadBox) -> Any:
        """Official per-person head map: a 32x32 CPU tensor, ones inside the rounded box."""
        m = self._torch.zeros((self.featmap, self.featmap))
        if box is None:
            return m
        xmin, ymin, xmax, ymax = box
        xmin, ymin = round(xmin * self.featmap), round(ymin * self.featmap)
        xmax, ymax = round(xmax * self.featmap), round(ymax * self.featmap)
        m[ymin:ymax, xmin:xmax] = 1
        return m

    def decode(self, feats: Any, heads: Sequence[HeadBox]) -> tuple[np.ndarray, np.ndarray | None]:
        torch = self._torch
        dec = self.dec
        with torch.no_grad():
            x = dec.linear(feats) + dec.pos_embed  # (1, 256, 32, 32)
            head_maps = torch.stack([self.head_map(b) for b in heads]).to(self.device)  # (N, 32, 32), CPU loop
            n = len(heads)
            x = torch.repeat_interleave(x, torch.tensor([n], device=self.device), dim=0)  # (N, 256, 32, 32)
            x = x + head_maps.unsqueeze(1) * dec.head_token.weight.unsqueeze(-1).unsqueeze(-1)
            x = x.flatten(start_dim=2).permute(0, 2, 1)  # (N, 1024, 256)
            if dec.inout:
                x = torch.cat([dec.inout_token.weight.unsqueeze(dim=0).repeat(n, 1, 1), x], dim=1)  # (N, 1025, 256)
            x = dec.transformer(x)
            inout = None
            if dec.inout:
                inout = dec.inout_head(x[:, 0, :]).squeeze(dim=-1)  # (N,)
                x = x[:, 1:, :]
            x = x.reshape(n, self.featmap, self.featmap, x.shape[-1]).permute(0, 3, 1, 2)  # (N, 256, 32, 32)
            # (N, 64, 64): Gaze-LLE's final resize is a no-op; gazelle-dinov3 resizes 2F x 2F -> its out size
            heat = dec.finish_heatmaps(dec.heatmap_head(x).squeeze(dim=1))
        return heat.cpu().numpy(), (inout.cpu().numpy() if inout is not None else None)
