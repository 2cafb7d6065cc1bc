"""Render assets/sample_annotated.png: one annotated frame of assets/sample.mp4 for the README.

Runs the real pipeline (capture -> head detection -> ByteTrack -> gaze -> renderer) on the sample clip and
saves frame ``--frame`` as a PNG.  By default it uses the golden *random* ViT-S/14 weights of
../shared/golden (the released weights cannot be downloaded here), so the picture carries the
"UNTRAINED WEIGHTS" banner and the gaze it shows is meaningless; heads come from the offline
face-cascade fallback.  With random weights every in/out score is ~0.46, so the in/out threshold is
lowered (``--inout-threshold 0.3``) to show the arrows and heatmap rather than only out-of-frame markers.

    python scripts/render_readme_frame.py [--frame 40] [--output assets/sample_annotated.png]
    python scripts/render_readme_frame.py --model gazelle_dinov2_vitb14_inout --detector auto   # real weights
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO.parent / "shared" / "golden"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=REPO / "assets" / "sample.mp4")
    ap.add_argument("--output", type=Path, default=REPO / "assets" / "sample_annotated.png")
    ap.add_argument("--frame", type=int, default=40, help="0-based index of the frame to save")
    ap.add_argument("--model", default=None, help="zoo model name (default: the golden random ViT-S/14 files)")
    ap.add_argument("--detector", default="face", help="PATH|auto|pose|offline|face (default face: the face cascade alone)")
    ap.add_argument("--inout-threshold", type=float, default=0.3)
    ap.add_argument("--heatmap", choices=("combined", "per_person"), default="per_person")
    a = ap.parse_args()

    from gazecam import GazeModel
    from gazecam.gaze import GazeOptions
    from gazecam.imageio import write_png
    from gazecam.jobs import ProcessOptions
    from gazecam.pipeline import Pipeline, build_processor
    from gazecam.render import GazeRenderer, untrained_banner_text

    if a.model:
        model = GazeModel.from_pretrained(a.model, device="cpu")
    else:
        model = GazeModel.from_files(backbone="dinov2_vits14", backbone_weights=GOLDEN / "dinov2_vits14_random.pth",
                                     gaze_weights=GOLDEN / "gazelle_vits14_inout_random.pt", device="cpu")
    options = ProcessOptions(detector=a.detector, gaze=GazeOptions(inout_threshold=a.inout_threshold))
    renderer = GazeRenderer(heatmap_mode=a.heatmap, banner=untrained_banner_text(released=model.released))
    with Pipeline(a.input, processor=build_processor(model, options, fps=None), max_frames=a.frame + 1) as pipe:
        result = None
        for result in pipe:
            pass
    if result is None or result.frame.index != a.frame:
        raise SystemExit(f"{a.input} has no frame {a.frame}")
    write_png(a.output, renderer.render(result))
    print(f"wrote {a.output}: frame {a.frame}, {len(result)} head(s), ids {result.heads.track_ids.tolist()}, "
          f"in/out {None if result.inout is None else result.inout.round(2).tolist()}, "
          f"looking_at {result.looking_at.tolist()}, model {model.name} (released={model.released})")


if __name__ == "__main__":
    main()
