"""Make tests/data/hgnetv2_pico_inout_reference.npz by RUNNING gazelle-dinov3's reference code (not gazecam).

Usage (the reference snapshot unpacked somewhere outside the repository, e.g. /tmp/gd3; nothing of it is
committed here):

    git --git-dir=<mirror of PINTO0309/gazelle-dinov3> archive 0c67fb720feb6d2b8178bfba31f00ecca2a2e35d | tar -x -C /tmp/gd3
    cd /tmp/gd3 && python <repo>/scripts/make_hgnetv2_pico_fixture.py <repo>/tests/data/hgnetv2_pico_inout_reference.npz

Recipe (as ../shared/golden_hgnetv2's, with one generator walked over the state-dict keys in sorted order so
that the weights can be rebuilt from the seed alone, see :func:`random_state`): ``gazelle_hgnetv2_pico_inout``
built by ``get_gazelle_model`` (its start-weight file replaced by a random B0 state dict), ``.eval()``;
every floating-point entry but ``pos_embed`` replaced by seeded random values rounded to float16
(seed 5003).  The file holds the reference outputs only (heatmaps, in/out, a strided subset of the
backbone features), small enough to commit; tests rebuild the weights with the same function.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import torch

SEED = 5003
IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "golden" / "images"
CASES = {"astronaut": [(0.35, 0.05, 0.62, 0.42)], "chelsea": [(0.05, 0.05, 0.3, 0.35), (0.4, 0.1, 0.7, 0.5), None]}
FEATURE_SUBSET = (slice(None), slice(None, None, 8), slice(None, None, 4), slice(None, None, 4))  # (1, 64, 10, 10)


def random_state(state: dict[str, torch.Tensor], seed: int = SEED) -> dict[str, torch.Tensor]:
    """Seeded random values (float16-exact) for every floating-point entry of ``state`` but ``pos_embed``.

    Keys walked in sorted order with one ``torch.Generator``: conv weights N(0, sqrt(2/fan_in)); BatchNorm /
    LayerNorm weights and learnable-affine scales 1+N(0,0.1); running_var 1+|N(0,0.1)|; running_mean and
    biases N(0,0.02); head/in-out tokens N(0,1); heatmap_head.1 / inout_head.0 weights N(0,0.2); others N(0,0.02).
    """
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k in sorted(state):
        v = state[k]
        if not v.is_floating_point() or k == "pos_embed":
            out[k] = v.clone()
            continue
        z = torch.randn(v.shape, generator=g, dtype=torch.float32)
        leaf = k.rsplit(".", 1)[-1]
        if k in ("head_token.weight", "inout_token.weight"):
            r = z
        elif k in ("heatmap_head.1.weight", "inout_head.0.weight"):
            r = 0.2 * z
        elif leaf == "running_var":
            r = 1 + (0.1 * z).abs()
        elif leaf == "running_mean" or leaf == "bias":
            r = 0.02 * z
        elif leaf == "scale" or (leaf == "weight" and (".bn." in k or ".norm" in k)):
            r = 1 + 0.1 * z
        elif leaf == "weight" and v.ndim == 4:
            fan_in = v.shape[1] * v.shape[2] * v.shape[3]
            r = z * math.sqrt(2.0 / fan_in)
        else:
            r = 0.02 * z
        out[k] = r.half().float()
    return out


def main(dest: str) -> None:
    sys.path.insert(0, ".")
    from PIL import Image

    from gazelle.backbone import HGNetv2Backbone
    from gazelle.model import get_gazelle_model

    Path("ckpts").mkdir(exist_ok=True)
    b0 = HGNetv2Backbone(model_name="hgnetv2_n", use_lab=True, return_idx=[2, 3], pretrained=False)
    torch.save(b0.state_dict(), "ckpts/PPHGNetV2_B0_stage1.pth")  # the start weights it reads: random here
    model, transform = get_gazelle_model("gazelle_hgnetv2_pico_inout")
    model.load_state_dict(random_state(model.state_dict()), strict=True)
    model.eval()
    arrays = {}
    with torch.no_grad():
        for name, boxes in CASES.items():
            x = transform(Image.open(IMAGES / f"{name}.png").convert("RGB")).unsqueeze(0)
            feats = model.backbone(x)
            out = model({"images": x, "bboxes": [boxes]})
            arrays[f"{name}_backbone_subset"] = feats[FEATURE_SUBSET].numpy().astype(np.float32)
            arrays[f"{name}_heatmaps"] = out["heatmap"][0].numpy().astype(np.float32)
            arrays[f"{name}_inout"] = out["inout"][0].numpy().astype(np.float32)
            if len(sys.argv) > 2:  # full tensors for a one-off check outside the repository
                np.savez(Path(sys.argv[2]) / f"pico_{name}_full.npz", input=x.numpy(), backbone=feats.numpy())
    np.savez_compressed(dest, **arrays)
    print("wrote", dest, {k: v.shape for k, v in arrays.items()})


if __name__ == "__main__":
    main(sys.argv[1])
