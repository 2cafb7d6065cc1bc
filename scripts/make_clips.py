"""Write N short test clips (H.264 mp4) into a folder, for the batch scripts (ray_two_nodes.sh, bench_batch.sh).

A clip is a crop of an image moving a few pixels per frame: the golden astronaut image when
../shared/golden is there (the offline face detector finds her face, so records are not empty), else a
synthetic gradient.  Usage: python scripts/make_clips.py OUTDIR [--count 10] [--frames 5] [--size 224]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOLDEN_IMAGE = REPO.parent / "shared" / "golden" / "images" / "astronaut.png"


def base_image(size: int, frames: int) -> np.ndarray:
    side = size + 2 * frames
    if GOLDEN_IMAGE.is_file():
        from PIL import Image

        return np.asarray(Image.open(GOLDEN_IMAGE).convert("RGB").resize((side, side)))
    y, x = np.mgrid[0:side, 0:side]
    return np.stack([x * 255 // side, y * 255 // side, (x + y) * 127 // side], axis=-1).astype(np.uint8)


def write_clip(path: Path, pixels: np.ndarray, *, frames: int, size: int, offset: int) -> None:
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width = v.height = size
        v.pix_fmt = "yuv420p"
        for i in range(frames):
            dy, dx = (i + offset) % frames, (2 * i + offset) % (2 * frames)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels[dy:dy + size, dx:dx + size]),
                                               format="rgb24")
            frame.pts = i
            for packet in v.encode(frame):
                c.mux(packet)
        for packet in v.encode(None):
            c.mux(packet)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--size", type=int, default=224, help="width = height in pixels (even)")
    args = ap.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    pixels = base_image(args.size, args.frames)
    for n in range(args.count):
        write_clip(args.outdir / f"clip{n:02d}.mp4", pixels, frames=args.frames, size=args.size, offset=n)
    print(f"{args.count} clip(s) of {args.frames} frame(s), {args.size}x{args.size}, in {args.outdir}")


if __name__ == "__main__":
    main()
