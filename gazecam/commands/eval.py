"""``gazecam eval gazefollow|vat|jsonl --data DIR``: official benchmark metrics of a model."""

from __future__ import annotations

import argparse

from .common import add_model_arguments

HELP = "evaluate a model on GazeFollow / VideoAttentionTarget (official metrics)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=("gazefollow", "vat", "jsonl"),
                        help="gazefollow: AUC / Avg L2 / Min L2; vat and jsonl: AUC / L2 / in-out AP")
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="dataset folder (published layout or official *_preprocessed.json); for jsonl a "
                             ".jsonl file or a folder holding <split>.jsonl")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--layout", choices=("auto", "published", "preprocessed"), default="auto",
                        help="annotation layout (default auto: <split>_preprocessed.json if present, else the "
                             "published annotation files)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="B", help="images per encoder batch (default 8)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N images")
    parser.add_argument("--json", default=None, metavar="OUT", help="write the results as JSON to OUT")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..errors import InputError
    from ..outputs import atomic_output
    from ..research.eval.datasets import load_dataset
    from ..research.eval.evaluate import evaluate, format_scores
    from .common import load_model

    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    dataset = load_dataset(args.dataset, args.data, split=args.split, layout=args.layout).limit(args.limit)
    if not dataset.images:
        raise InputError(f"{dataset.source}: no images to evaluate")
    dataset.check_images()  # a missing image fails here, with its annotation line, before the model loads
    model = load_model(args)
    if not model.released:
        print(f"note: {model.name}: {model.note or 'not the released weights'}")
    scores = evaluate(model, dataset, batch_size=args.batch_size, progress=not args.no_progress)
    print(format_scores(scores, title=f"{args.dataset} {args.split} ({dataset.source}) - model {model.name}"))
    if args.json:
        out = Path(args.json).expanduser()
        record = {"dataset": args.dataset, "split": args.split, "source": str(dataset.source), "model": model.name,
                  "released_weights": model.released, **scores.to_json()}
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(out) as tmp:
                tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            raise InputError(f"cannot write --json {out}: {e}") from e
        print(f"results written to {out}")
    return 0
