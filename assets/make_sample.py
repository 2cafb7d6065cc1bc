"""Build assets/sample.mp4, the short clip the README's main command runs on.

Source: NASA portrait of astronaut Eileen Collins (public domain, a work of the
US government; distributed as ``skimage.data.astronaut()``).  The clip shows the
photo next to its mirror image (two faces turned towards each other) with a slow
pan and zoom, 640 x 360, 20 fps, 4 s, H.264 + a generated AAC tone (a gentle
chirp) so that audio passthrough can be seen.

    python assets/make_sample.py [--image PATH] [--output PATH]

``--image`` defaults to ``../shared/golden/images/astronaut.png`` relative to
the repository root (the shared fixtures beside the clone).  Deterministic:
the same image gives the same frames (the encoded bytes may differ between
x264 builds).
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO.parent / "shared" / "golden" / "images" / "astronaut.png"
DEFAULT_OUTPUT = REPO / "assets" / "sample.mp4"

WIDTH, HEIGHT = 640, 360
FPS = Fraction(20)
SECONDS = 4.0
AUDIO_RATE = 44100


def build_canvas(photo: np.ndarray) -> np.ndarray:
    """(H, W, 3) photo -> (H, 2W, 3): the photo and its mirror image side by side."""
    return np.concatenate([photo, photo[:, ::-1]], axis=1)


def camera_path(t: float, canvas_w: int, canvas_h: int) -> tuple[float, float, float]:
    """Crop window (centre x, centre y, width) at time t in [0, 1]: slow zoom in, then out, drifting right."""
    ease = 0.5 - 0.5 * np.cos(np.pi * t)  # 0 -> 1, smooth at both ends
    max_w = canvas_h * WIDTH / HEIGHT  # widest 16:9 window that fits the canvas height
    width = max_w * (1.0 - 0.16 * np.sin(np.pi * t))  # zoom in to 84 % and back
    cx = canvas_w / 2 + (ease - 0.5) * 0.08 * canvas_w
    cy = canvas_h / 2 - 0.06 * canvas_h * np.sin(np.pi * t)  # rise a little towards the faces
    return float(cx), float(cy), float(width)


def render_frame(canvas: np.ndarray, t: float) -> np.ndarray:
    import cv2

    ch, cw = canvas.shape[:2]
    cx, cy, w = camera_path(t, cw, ch)
    h = w * HEIGHT / WIDTH
    cx = min(max(cx, w / 2), cw - w / 2)
    cy = min(max(cy, h / 2), ch - h / 2)
    scale = WIDTH / w
    # affine map canvas -> output: sub-pixel crop + resize in one step (smooth motion)
    m = np.array([[scale, 0.0, WIDTH / 2 - scale * cx], [0.0, scale, HEIGHT / 2 - scale * cy]], np.float64)
    return cv2.warpAffine(canvas, m, (WIDTH, HEIGHT), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def chirp(seconds: float, rate: int) -> np.ndarray:
    """(samples,) float32 mono: 330 -> 660 Hz sweep, quiet, with 0.2 s fades."""
    t = np.arange(int(round(seconds * rate))) / rate
    f0, f1 = 330.0, 660.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))  # linear sweep
    fade = np.clip(np.minimum(t, seconds - t) / 0.2, 0.0, 1.0)
    return (0.2 * fade * np.sin(phase)).astype(np.float32)


def write_clip(photo: np.ndarray, output: Path) -> int:
    import av

    canvas = build_canvas(photo)
    n_frames = int(round(SECONDS * FPS))
    with av.open(str(output), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.time_base = 1 / FPS
        video.options = {"crf": "24", "preset": "slow", "threads": "1"}  # 1 thread: reproducible bytes
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        audio.bit_rate = 64_000
        pcm = chirp(SECONDS, AUDIO_RATE)
        sent = 0
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(render_frame(canvas, i / max(n_frames - 1, 1)), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / FPS
            for packet in video.encode(frame):
                container.mux(packet)
            until = min(len(pcm), int(round((i + 1) / FPS * AUDIO_RATE)))  # audio in step with the video
            while sent < until:
                chunk = pcm[sent:min(sent + 1024, until)]
                aframe = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")  # (1, n)
                aframe.sample_rate = AUDIO_RATE
                aframe.pts = sent
                aframe.time_base = Fraction(1, AUDIO_RATE)
                for packet in audio.encode(aframe):
                    container.mux(packet)
                sent += len(chunk)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return n_frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE,
                        help="public-domain astronaut photo (default: ../shared/golden/images/astronaut.png "
                             "relative to the repository)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="default: assets/sample.mp4")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from gazecam.errors import InputError
    from gazecam.imageio import read_image

    try:
        photo = read_image(args.image)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n = write_clip(photo, args.output)
    size = args.output.stat().st_size
    print(f"wrote {args.output}: {n} frames, {WIDTH}x{HEIGHT} @ {FPS} fps, {SECONDS:g} s, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
