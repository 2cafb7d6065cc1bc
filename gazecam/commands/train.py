"""``gazecam train``: fine-tune the Gaze-LLE decoder (backbone frozen) on GazeFollow, VAT or JSONL data."""

from __future__ import annotations

import argparse

HELP = "fine-tune the Gaze-LLE decoder on GazeFollow / VideoAttentionTarget / your own JSONL annotations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="dataset folder (published layout or official *_preprocessed.json); for --format "
                             "jsonl a .jsonl file or a folder holding <split>.jsonl")
    parser.add_argument("--format", required=True, choices=("gazefollow", "vat", "jsonl"), dest="data_format")
    parser.add_argument("--split", default="train", help="training split (default: train)")
    parser.add_argument("--init", required=True, metavar="SPEC",
                        help="starting weights: a zoo model name; a decoder checkpoint FILE (with "
                             "--backbone-weights); a whole gazelle-dinov3 model FILE; or random[:ARCH] for a new "
                             "decoder (with --backbone-weights)")
    parser.add_argument("--backbone-weights", metavar="FILE", default=None,
                        help="backbone checkpoint (DINOv2, DINOv3 or ViT-Tiny), for --init FILE / random")
    parser.add_argument("--no-inout", action="store_true", help="with --init random: no in/out head")
    parser.add_argument("--epochs", type=int, default=10, metavar="E", help="default 10")
    parser.add_argument("--batch-size", type=int, default=16, metavar="B", help="heads per step (default 16)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3, cosine-annealed)")
    parser.add_argument("--lr-inout", type=float, default=None,
                        help="learning rate of the in/out head and token (default: --lr)")
    parser.add_argument("--inout-weight", type=float, default=1.0,
                        help="weight of the in/out BCE (vat/jsonl data; 0 = heatmap only; default 1)")
    parser.add_argument("--no-augment", action="store_true", help="no crop / flip / head-box jitter")
    parser.add_argument("--out", default="gazelle_finetuned.pt", metavar="CKPT",
                        help="decoder checkpoint (official format); also writes <stem>.state.pt and "
                             "<stem>.log.jsonl beside it (default: gazelle_finetuned.pt)")
    parser.add_argument("--cache-features", metavar="DIR", default=None,
                        help="cache backbone features in DIR: epochs after the first skip the encoder "
                             "(disables the crop/flip augmentations; head-box jitter stays)")
    parser.add_argument("--cache-dtype", choices=("float32", "float16"), default="float32",
                        help="feature cache precision (float16 halves the disk use)")
    parser.add_argument("--resume", metavar="STATE", default=None,
                        help="continue from a <stem>.state.pt written by an earlier run")
    parser.add_argument("--val-split", default=None, metavar="FRACTION|SPLIT|FILE",
                        help="validation data: a fraction of the training images (e.g. 0.1), a split name of "
                             "--data (e.g. test), or a .jsonl file; metrics are logged every epoch")
    parser.add_argument("--frame-step", type=int, default=1, metavar="N",
                        help="VideoAttentionTarget: use every N-th frame (the official VAT training uses 3..6)")
    parser.add_argument("--max-steps", type=int, default=None, metavar="N", help="at most N steps per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _model_from_init(args: argparse.Namespace):
    """The GazeModel to fine-tune, from --init (built through :mod:`gazecam.loading`)."""
    from pathlib import Path

    from ..errors import InputError
    from ..loading import ModelSpec, load_gaze_model, new_decoder_model, resolve_device
    from ..zoo import ZOO

    device = resolve_device(args.device)
    spec: str = args.init
    from ..zoo import resolve_model_name

    if resolve_model_name(spec) in ZOO:
        if args.backbone_weights:
            raise InputError(f"--init {spec} is a zoo model; drop --backbone-weights (or use --init FILE)")
        return load_gaze_model(ModelSpec(name=spec, device=device, progress=not args.no_progress))
    if spec == "random" or spec.startswith("random:"):
        if not args.backbone_weights:
            raise InputError(f"--init {spec} also needs --backbone-weights FILE (a DINOv2, DINOv3 or ViT-Tiny "
                             "backbone checkpoint)")
        arch = spec.split(":", 1)[1] if ":" in spec else None
        try:
            return new_decoder_model(backbone_weights=args.backbone_weights, backbone=arch,
                                     inout=not args.no_inout, seed=args.seed, device=device)
        except InputError as e:
            raise InputError(f"--init {spec}: {e}") from e
    if not Path(spec).expanduser().is_file():
        raise InputError(f"--init {spec}: not a zoo model ({', '.join(ZOO)}), not random[:ARCH], and no such file")
    # a decoder file needs --backbone-weights; a whole-model file (gazelle-dinov3) holds its backbone
    return load_gaze_model(ModelSpec(backbone_weights=args.backbone_weights, gaze_weights=Path(spec), device=device))


def _validation(args: argparse.Namespace, train_ds):
    """(train dataset, validation dataset or None) from --val-split."""
    from pathlib import Path

    from ..errors import InputError
    from ..research.eval.datasets import load_dataset, read_jsonl
    from ..research.train.data import split_dataset

    v = args.val_split
    if v is None:
        return train_ds, None
    try:
        frac = float(v)
    except ValueError:
        frac = None
    if frac is not None:
        try:
            return split_dataset(train_ds, frac, seed=args.seed)
        except ValueError as e:
            raise InputError(f"--val-split {v}: {e}") from e
    if v.endswith(".jsonl"):
        val = read_jsonl(Path(v).expanduser())
    elif args.data_format == "jsonl" and Path(args.data).expanduser().is_file():
        val = read_jsonl(Path(args.data).expanduser().parent / f"{v}.jsonl")  # e.g. test.jsonl beside train.jsonl
    else:
        val = load_dataset(args.data_format, args.data, split=v, frame_step=args.frame_step)
    return train_ds, val


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import InputError
    from ..research.eval.datasets import load_dataset
    from ..research.train.data import training_samples
    from ..research.train.features import FeatureCache
    from ..research.train.loop import TrainConfig, Trainer, log_path_for, state_path_for

    if args.epochs < 1 or args.batch_size < 1 or args.frame_step < 1:
        raise InputError("--epochs, --batch-size and --frame-step must be >= 1")
    out = Path(args.out).expanduser()
    if out.suffix == "" or out.is_dir():
        raise InputError(f"--out {out}: give a checkpoint file name such as finetuned.pt")
    if not args.resume and any(p.exists() for p in (out, state_path_for(out), log_path_for(out))):
        raise InputError(f"--out {out} (or its .state.pt / .log.jsonl) already exists; choose another name, "
                         f"delete them, or continue that run with --resume {state_path_for(out)}")
    dataset = load_dataset(args.data_format, args.data, split=args.split, frame_step=args.frame_step)
    train_ds, val_ds = _validation(args, dataset)
    for ds in (train_ds, val_ds):  # a missing image fails here, with its annotation line, before the model loads
        if ds is not None:
            ds.check_images()
    in_frame_only = args.data_format == "gazefollow"  # official GazeFollow training: in-frame heads only
    samples = training_samples(train_ds, in_frame_only=in_frame_only)
    try:
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, lr_inout=args.lr_inout,
                             inout_weight=args.inout_weight, inout_loss=not in_frame_only, seed=args.seed,
                             augment=not args.no_augment, max_steps_per_epoch=args.max_steps)
    except ValueError as e:
        raise InputError(str(e)) from e
    model = _model_from_init(args)
    import torch

    cache = (FeatureCache(root=args.cache_features, backbone=model.backbone,
                          dtype=torch.float16 if args.cache_dtype == "float16" else torch.float32)
             if args.cache_features else None)
    trainer = Trainer(model=model, samples=samples, config=config, val=val_ds, feature_cache=cache, out=out,
                      progress=not args.no_progress, on_epoch=lambda rec: print(rec.line(), flush=True))
    if args.resume:
        trainer.load_state(args.resume)
        print(f"resuming after epoch {trainer.epoch}")
    print(f"training {model.name} decoder ({sum(p.numel() for p in model.decoder.parameters())} parameters; "
          f"backbone frozen) on {len(samples)} heads from {len(train_ds.images)} images"
          + (f", validating on {len(val_ds.images)} images" if val_ds is not None else "")
          + (f"; in/out loss x{args.inout_weight}" if trainer.use_inout_loss else "; heatmap loss only")
          + ("; feature cache on: crop/flip off" if cache else ""))
    trainer.fit()
    print(f"{'decoder' if model.family == 'gazelle' else 'model'} checkpoint: {out}\n"
          f"training state:    {state_path_for(out)}\nlog:               "
          f"{log_path_for(out)}")
    return 0
