"""Decoder training with the backbone frozen (the Gaze-LLE recipe), checkpoints, resume and log.

Loss, as the official training scripts: pixel-wise BCE between the 64x64 heatmap and a Gaussian
target (sigma 3) over the heads whose gaze is in the frame, plus ``inout_weight`` x BCE of the
in/out score over all heads (in/out decoders, when ``inout_loss`` is on).  Adam, cosine-annealed
learning rate over the epochs (eta_min 1e-7), in/out parameters optionally with their own rate.

Outputs, per epoch:

- ``out``: the weights in the official checkpoint format of the model's family (float32): for Gaze-LLE
  the decoder alone (the keys and shapes of ``GazeLLE.get_gazelle_state_dict()``), loading with
  ``GazeModel.from_files`` and the official ``load_gazelle_state_dict``; for gazelle-dinov3 the whole
  model as its releases hold it (``{"model": GazeLLE.state_dict()}``, frozen backbone included), loading
  with ``GazeModel.from_files(gaze_weights=...)`` alone and in gazelle-dinov3;
- ``<out stem>.state.pt``: the training state (decoder, optimizer, scheduler, epoch, RNG states,
  configuration), for ``resume``; plain tensors/containers, read with ``weights_only=True``;
- ``<out stem>.log.jsonl``: one JSON record per epoch (losses, learning rate, validation metrics).

Both files are written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import GazecamError
from ...models.gazelle import build_head_maps, head_map_bounds
from ...weights import describe_load_error
from .data import AugmentConfig, Batch, TrainSample, collate
from .features import FeatureCache, backbone_fingerprint

if TYPE_CHECKING:  # pragma: no cover
    from ..eval.datasets import GazeDataset
    from ..eval.metrics import GazeFollowScores, VatScores
    from ...model import GazeModel

__all__ = ["TrainConfig", "StepResult", "EpochRecord", "Trainer", "state_path_for", "log_path_for", "save_decoder",
           "save_weights"]

STATE_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3  # official train_gazefollow.py default
    lr_inout: float | None = None  # in/out head + token (default: lr)
    inout_weight: float = 1.0
    inout_loss: bool = True  # train the in/out head (needs in/out labels: vat / jsonl data)
    eta_min: float = 1e-7
    seed: int = 0
    augment: bool = True
    max_steps_per_epoch: int | None = None  # for smoke tests / quick looks

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if not (self.lr > 0 and (self.lr_inout is None or self.lr_inout > 0)):
            raise ValueError("learning rates must be > 0")
        if self.inout_weight < 0:
            raise ValueError(f"inout_weight must be >= 0, got {self.inout_weight}")


@dataclass(frozen=True)
class StepResult:
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    loss: float
    heatmap_loss: float
    inout_loss: float | None


@dataclass
class EpochRecord:
    epoch: int
    steps: int
    loss: float
    heatmap_loss: float
    inout_loss: float | None
    lr: float
    seconds: float
    val: dict[str, object] | None = None
    cache_hits: int = 0
    cache_misses: int = 0

    def line(self) -> str:
        s = f"epoch {self.epoch}: loss {self.loss:.4f} (heatmap {self.heatmap_loss:.4f}"
        s += f", in/out {self.inout_loss:.4f})" if self.inout_loss is not None else ")"
        s += f"  lr {self.lr:.2e}  {self.seconds:.1f} s"
        if self.val:
            s += "  | val " + "  ".join(f"{k} {v:.4f}" for k, v in self.val.items()
                                        if k in ("auc", "avg_l2", "min_l2", "l2", "ap") and isinstance(v, float))
        return s


def state_path_for(out: Path) -> Path:
    return out.with_name(out.stem + ".state.pt")


def log_path_for(out: Path) -> Path:
    return out.with_name(out.stem + ".log.jsonl")


def _atomic_torch_save(obj: object, path: Path) -> None:
    from ...outputs import atomic_output

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # NAME.partial.pt, renamed into place when complete
        torch.save(obj, tmp)


# key order of the official get_gazelle_state_dict() (module definition order of the official GazeLLE)
_OFFICIAL_ORDER = ("pos_embed", "linear.", "head_token.", "inout_token.", "transformer.", "heatmap_head.",
                   "inout_head.")


def _official_rank(key: str) -> int:
    return next((i for i, p in enumerate(_OFFICIAL_ORDER) if key == p or key.startswith(p)), len(_OFFICIAL_ORDER))


def save_weights(model: "GazeModel", path: Path) -> None:
    """``model``'s weights in its family's official format: the decoder (Gaze-LLE) or the whole model."""
    if model.family == "gazelle":
        save_decoder(model.decoder, path)
    else:
        _atomic_torch_save({"model": model.official_checkpoint()}, path)


def save_decoder(decoder: torch.nn.Module, path: Path) -> None:
    """The decoder in the official checkpoint format (float32 tensors, official key names and order)."""
    state = decoder.official_state_dict()  # type: ignore[operator]
    keys = sorted(state, key=_official_rank)  # stable: keeps the order within each group
    _atomic_torch_save({k: state[k].detach().to("cpu", torch.float32).contiguous().clone() for k in keys}, path)


class Trainer:
    """Trains ``model.decoder`` in place on ``samples`` (the backbone stays frozen)."""

    def __init__(self, *, model: "GazeModel", samples: Sequence[TrainSample], config: TrainConfig,
                 val: "GazeDataset | None" = None, feature_cache: FeatureCache | None = None,
                 out: str | Path | None = None, progress: bool = True,
                 on_step: Callable[[StepResult], None] | None = None,
                 on_epoch: Callable[[EpochRecord], None] | None = None) -> None:
        if not samples:
            raise GazecamError("no training samples (no annotated heads; GazeFollow training uses in-frame heads only)")
        self.model = model
        self.decoder = model.decoder
        self.samples = list(samples)
        self.config = config
        self.val = val
        self.cache = feature_cache
        self.out = Path(out).expanduser() if out is not None else None
        self.progress = progress
        self.on_step = on_step
        self.on_epoch = on_epoch
        self.use_inout_loss = bool(config.inout_loss and self.decoder.inout and config.inout_weight > 0)
        self.aug = (AugmentConfig(image_augment=feature_cache is None) if config.augment else AugmentConfig.none())
        self.rng = np.random.default_rng(config.seed)
        self.epoch = 0  # completed epochs
        self.decoder.requires_grad_(True)
        inout_params = [p for n, p in self.decoder.named_parameters() if "inout" in n]
        other_params = [p for n, p in self.decoder.named_parameters() if "inout" not in n]
        groups = [{"params": other_params, "lr": config.lr}]
        if inout_params:
            groups.append({"params": inout_params, "lr": config.lr_inout or config.lr})
        self.optimizer = torch.optim.Adam(groups)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=config.epochs,
                                                                    eta_min=config.eta_min)
        self.torch_rng_state = self._seeded_torch_state(config.seed)
        self.fingerprint = backbone_fingerprint(model.backbone)

    @staticmethod
    def _seeded_torch_state(seed: int) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return torch.get_rng_state()

    # -- one step --------------------------------------------------------------------------------
    def _backbone_features(self, batch: Batch) -> torch.Tensor:
        device = self.model.device
        if self.cache is None:
            with torch.no_grad():
                return self.model.backbone(self.model.preprocess(batch.images))  # (N, C, F, F)

        def encode(idx: list[int]) -> torch.Tensor:
            with torch.no_grad():
                return self.model.backbone(self.model.preprocess([batch.images[i] for i in idx]))

        return self.cache.features(batch.image_paths, encode, device)

    def step(self, batch: Batch) -> tuple[float, float, float | None]:
        device = self.model.device
        feats = self._backbone_features(batch)  # (N, C, F, F), no grad
        n = feats.shape[0]
        scene = self.decoder.project(feats)  # (N, 256, F, F)
        featmap = self.model.featmap  # 32 (Gaze-LLE) or 40 (gazelle-dinov3)
        bounds = torch.from_numpy(head_map_bounds(batch.boxes_norm, featmap)).to(device)
        head_maps = build_head_maps(bounds, featmap)  # (N, F, F)
        heatmaps, inout = self.decoder(scene, head_maps, torch.arange(n, device=device))
        targets = torch.from_numpy(batch.targets).to(device)
        labels = torch.from_numpy(batch.inout).to(device)
        in_frame = labels > 0.5
        if bool(in_frame.any()):
            hm_loss = F.binary_cross_entropy(heatmaps[in_frame], targets[in_frame])
        else:
            hm_loss = heatmaps.sum() * 0.0  # keeps the graph; no in-frame head in this batch
        loss = hm_loss
        io_loss = None
        if self.use_inout_loss and inout is not None:
            io_loss = F.binary_cross_entropy(inout, labels)
            loss = loss + self.config.inout_weight * io_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach()), float(hm_loss.detach()), (float(io_loss.detach()) if io_loss is not None else None)

    # -- epochs ----------------------------------------------------------------------------------
    def run_epoch(self) -> EpochRecord:
        from tqdm import tqdm

        epoch = self.epoch + 1
        bs = self.config.batch_size
        order = self.rng.permutation(len(self.samples))
        n_steps = math.ceil(len(order) / bs)
        if self.config.max_steps_per_epoch is not None:
            n_steps = min(n_steps, self.config.max_steps_per_epoch)
        lr = float(self.optimizer.param_groups[0]["lr"])
        hits0, misses0 = (self.cache.hits, self.cache.misses) if self.cache else (0, 0)
        t0 = time.perf_counter()
        losses: list[tuple[float, float, float | None]] = []
        self.decoder.train()
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.torch_rng_state)
            bar = tqdm(range(n_steps), desc=f"epoch {epoch}/{self.config.epochs}", unit="step",
                       disable=not self.progress, dynamic_ncols=True)
            try:
                for k in bar:
                    batch = collate([self.samples[i] for i in order[k * bs:(k + 1) * bs]], self.rng, self.aug,
                                    self.model.heatmap_size)
                    res = self.step(batch)
                    losses.append(res)
                    bar.set_postfix(loss=f"{res[0]:.4f}")
                    if self.on_step:
                        self.on_step(StepResult(epoch=epoch, step=k + 1, loss=res[0], heatmap_loss=res[1],
                                                inout_loss=res[2]))
            finally:
                bar.close()
            self.torch_rng_state = torch.get_rng_state()
        self.decoder.eval()
        self.scheduler.step()
        self.epoch = epoch
        io = [r[2] for r in losses if r[2] is not None]
        record = EpochRecord(epoch=epoch, steps=len(losses), loss=float(np.mean([r[0] for r in losses])),
                             heatmap_loss=float(np.mean([r[1] for r in losses])),
                             inout_loss=float(np.mean(io)) if io else None, lr=lr,
                             seconds=time.perf_counter() - t0)
        if self.cache:
            record.cache_hits, record.cache_misses = self.cache.hits - hits0, self.cache.misses - misses0
        if self.val is not None:
            record.val = self.validate().to_json()
        return record

    def validate(self) -> "GazeFollowScores | VatScores":
        from ..eval.evaluate import evaluate

        self.decoder.eval()
        return evaluate(self.model, self.val, batch_size=self.config.batch_size, progress=self.progress,  # type: ignore[arg-type]
                        feature_cache=self.cache)

    def fit(self) -> list[EpochRecord]:
        """Train up to ``config.epochs`` (continuing after a resume); save and log after every epoch."""
        records = []
        while self.epoch < self.config.epochs:
            rec = self.run_epoch()
            records.append(rec)
            if self.out is not None:
                save_weights(self.model, self.out)
                self.save_state(state_path_for(self.out))
                with open(log_path_for(self.out), "a", encoding="utf-8") as f:
                    f.write(json.dumps({"epoch": rec.epoch, **{k: v for k, v in asdict(rec).items() if k != "epoch"}})
                            + "\n")
            if self.on_epoch:
                self.on_epoch(rec)
        self.decoder.eval()
        self.decoder.requires_grad_(False)
        return records

    # -- resumable state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, object]:
        return {
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "decoder": {k: v.detach().cpu().clone() for k, v in self.decoder.state_dict().items()},
            "decoder_in_dim": self.decoder.config.in_dim,
            "decoder_inout": self.decoder.inout,
            "backbone_fingerprint": self.fingerprint,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": self.torch_rng_state.clone(),
            "config": json.dumps(asdict(self.config)),
            "num_samples": len(self.samples),
        }

    def save_state(self, path: Path) -> None:
        _atomic_torch_save(self.state_dict(), path)

    def load_state(self, path: str | Path) -> None:
        """Continue from a ``.state.pt`` file written by :meth:`save_state` (same backbone and decoder type)."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise GazecamError(f"training-state file not found: {path}")
        try:
            st = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise GazecamError(f"cannot read the training state {path}: {describe_load_error(e)}") from e
        if not isinstance(st, dict) or st.get("version") != STATE_VERSION or "optimizer" not in st:
            raise GazecamError(f"{path} is not a gazecam training-state file (expected the "
                               "<checkpoint>.state.pt written next to the checkpoint, not the checkpoint itself)")
        if (st["decoder_in_dim"], st["decoder_inout"]) != (self.decoder.config.in_dim, self.decoder.inout):
            raise GazecamError(f"training state {path} holds a decoder for {st['decoder_in_dim']}-dim features "
                               f"(in/out head: {st['decoder_inout']}), but the model to train has "
                               f"{self.decoder.config.in_dim}-dim (in/out head: {self.decoder.inout}); start from "
                               "the same weights as the first run")
        if st["backbone_fingerprint"] != self.fingerprint:
            raise GazecamError(f"training state {path} was trained with another backbone (weights differ); "
                               "start from the same weights and backbone as the first run")
        if int(st.get("num_samples", len(self.samples))) != len(self.samples):
            raise GazecamError(f"training state {path} was trained on {st['num_samples']} heads but this run has "
                               f"{len(self.samples)}; resume with the same data, split and validation split, or "
                               "train on other data in a new run that starts from the checkpoint")
        if int(st["epoch"]) >= self.config.epochs:
            raise GazecamError(f"training state {path} has already completed {st['epoch']} epochs; "
                               f"ask for more epochs (epochs={self.config.epochs} now)")
        self.decoder.load_state_dict(st["decoder"], strict=True)
        self.optimizer.load_state_dict(st["optimizer"])
        sched = dict(st["scheduler"])
        if sched.get("T_max") != self.config.epochs:  # --epochs changed: continue on the new cosine schedule
            sched["T_max"] = self.config.epochs
            epoch = int(st["epoch"])
            for group, base in zip(self.optimizer.param_groups, sched["base_lrs"]):
                group["lr"] = self.config.eta_min + (base - self.config.eta_min) * (
                    1 + math.cos(math.pi * epoch / self.config.epochs)) / 2
        self.scheduler.load_state_dict(sched)
        self.rng.bit_generator.state = json.loads(st["numpy_rng"])
        self.torch_rng_state = st["torch_rng"].clone()
        self.epoch = int(st["epoch"])
