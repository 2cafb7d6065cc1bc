"""Test doubles shared by several test modules: a full disk, generated videos (CFR, VFR, corrupt)."""

from __future__ import annotations

import errno
import http.server
import io
import threading
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from gazecam.types import GazePrediction


class FullDisk(io.RawIOBase):
    """A seekable binary file that fails with ENOSPC once `capacity` bytes were written."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.size, self.pos = capacity, 0, 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else (self.pos + offset if whence == 1 else self.size + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def write(self, data) -> int:
        if self.pos + len(data) > self.capacity:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.pos += len(data)
        self.size = max(self.size, self.pos)
        return len(data)


class FakeVideoJob:
    """A batch job without a model (gazecam.batch.VideoJob): decodes the clip, writes each frame to the
    video and one JSON line per frame ({"frame", "mean"}) to the records; honours ``stop``.

    ``exit_on``: a file name whose processing kills the worker process (os._exit), to test lost workers.
    ``delay_s``: sleep per frame (to stop a batch midway).
    """

    def __init__(self, *, delay_s: float = 0.0, exit_on: str | None = None) -> None:
        self.delay_s = delay_s
        self.exit_on = exit_on
        self.calls = 0

    def __call__(self, source, *, video_path, records_path, records_format, stop, on_frame):
        import json
        import os
        import time
        from contextlib import ExitStack

        from gazecam.batch import JobResult
        from gazecam.capture import Capture
        from gazecam.errors import InputError
        from gazecam.outputs import atomic_output
        from gazecam.sinks import VideoSink

        self.calls += 1
        if self.exit_on is not None and source.name == self.exit_on:
            os._exit(3)
        frames = 0
        with ExitStack() as stack:
            cap = stack.enter_context(Capture(str(source)))
            info = cap.info
            video = (stack.enter_context(VideoSink(video_path, width=info.width, height=info.height, fps=info.fps))
                     if video_path is not None else None)
            rec = (stack.enter_context(open(stack.enter_context(atomic_output(records_path)), "w"))  # as the sinks
                   if records_path is not None else None)
            for frame in cap:
                if stop.is_set():
                    return JobResult(frames=frames, people_frames=frames, interrupted=True)
                if video is not None:
                    video.write(frame.image)
                if rec is not None:
                    rec.write(json.dumps({"frame": frame.index, "mean": round(float(frame.image.mean()), 3)}) + "\n")
                frames += 1
                on_frame()
                if self.delay_s:
                    time.sleep(self.delay_s)
        if frames == 0:
            raise InputError(f"no frame could be read from {source}")
        if records_path is not None:  # as RecordsSink does: a sidecar beside the records
            from gazecam.records import RecordsMeta, write_meta

            write_meta(records_path, RecordsMeta(source=str(source), model="fake", released=False))
        return JobResult(frames=frames, people_frames=frames)


class FakeJobFactory:
    """Picklable job factory for gazecam.batch executors: builds a FakeVideoJob (no model)."""

    def __init__(self, *, delay_s: float = 0.0, exit_on: str | None = None, fail_load: str | None = None) -> None:
        self.delay_s, self.exit_on, self.fail_load = delay_s, exit_on, fail_load
        self.loads = 0  # in-process count (InlineExecutor)

    def __call__(self) -> FakeVideoJob:
        from gazecam.errors import InputError

        self.loads += 1
        if self.fail_load:
            raise InputError(self.fail_load)
        return FakeVideoJob(delay_s=self.delay_s, exit_on=self.exit_on)


class CountingModel:
    """A stand-in for GazeModel (same interface): a heatmap peaking at the frame centre."""

    name = "counting"
    released = False
    note = "test model"
    has_inout = True

    def __init__(self) -> None:
        self.encodes = 0
        self.thread_ids: set[int] = set()

    def encode(self, image):
        self.encodes += 1
        self.thread_ids.add(threading.get_ident())
        return image.shape

    def decode(self, feats, heads):
        self.thread_ids.add(threading.get_ident())
        n = len(np.asarray(heads).reshape(-1, 4))
        hm = np.zeros((n, 64, 64), np.float32)
        hm[:, 32, 32] = 1.0
        return GazePrediction(heatmaps=hm, inout=np.full(n, 0.8, np.float32))


# --------------------------------------------------------------------------- generated videos


def frame_value(i: int) -> int:
    """Gray level that encodes frame i (survives lossy coding to within a few levels)."""
    return (i * 23) % 200 + 20


def left_level(image: np.ndarray) -> float:
    h, w = image.shape[:2]
    return float(image[h // 4: 3 * h // 4, w // 8: 3 * w // 8].mean())


def make_video(path: Path, *, n: int = 12, width: int = 64, height: int = 48, fps: Fraction = Fraction(25),
               codec: str = "libx264", pix_fmt: str = "yuv420p", audio: bool = True, gray: bool = False,
               rgba: bool = False, container_options: dict[str, str] | None = None,
               audio_tail_s: float = 0.0, times_ms: Sequence[int] | None = None, gop: int | None = None,
               codec_options: dict[str, str] | None = None) -> Path:
    """Encode n frames whose left half has gray level frame_value(i); optional 440 Hz AAC track
    (as long as the video plus ``audio_tail_s``).

    ``times_ms``: a variable frame rate instead: frame i is shown at ``times_ms[i]`` milliseconds
    (``n = len(times_ms)``, no audio).  ``gop``: a keyframe every ``gop`` frames (libx264).
    ``codec_options``: more encoder options (e.g. ``{"bf": "2"}``: B-frames).
    """
    import av

    if times_ms is not None:
        n, audio, time_base = len(times_ms), False, Fraction(1, 1000)
    else:
        time_base = 1 / Fraction(fps)
    with av.open(str(path), mode="w", options=container_options or {}) as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.time_base = time_base
        if times_ms is not None:
            video.codec_context.time_base = time_base
        if gop is not None or codec_options:
            video.options = {**({"g": str(gop), "keyint_min": str(gop)} if gop is not None else {}),
                             **(codec_options or {})}
        astream = container.add_stream("aac", rate=44100, layout="mono") if audio else None
        sent = 0
        for i in range(n + int(round(audio_tail_s * fps))):
            image = np.zeros((height, width, 3), np.uint8)
            image[:, : width // 2] = frame_value(i)
            if gray:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:, :, 0]), format="gray")
            elif rgba:
                alpha = np.full((height, width, 1), 255, np.uint8)
                frame = av.VideoFrame.from_ndarray(np.concatenate([image, alpha], axis=2), format="rgba")
            else:
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i if times_ms is None else int(times_ms[i])
            frame.time_base = time_base
            for packet in video.encode(frame) if i < n else ():
                container.mux(packet)
            if astream is not None:
                until = int(round((i + 1) / fps * 44100))
                while sent < until:
                    k = min(1024, until - sent)
                    t = np.arange(sent, sent + k) / 44100
                    pcm = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]  # (1, k)
                    aframe = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
                    aframe.sample_rate, aframe.pts, aframe.time_base = 44100, sent, Fraction(1, 44100)
                    for packet in astream.encode(aframe):
                        container.mux(packet)
                    sent += k
        for stream in (video, astream):
            if stream is not None:
                for packet in stream.encode(None):
                    container.mux(packet)
    return path


#: Frame times (ms) of a variable-frame-rate clip: bursts closer than one frame at its average rate
#: (two frames round to one number) and pauses (numbers skipped).
VFR_TIMES_MS = (0, 40, 60, 70, 120, 200, 210, 215, 260, 300, 340, 345, 400, 480, 490, 500, 560, 640, 650, 700)


def corrupt_packets(path: Path, out: Path, which: tuple[int, ...]) -> Path:
    """A copy of ``path`` whose video packets number ``which`` (decode order) are overwritten with noise."""
    import av

    with av.open(str(path)) as container:
        spans = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for k in which:
        pos, size = spans[k]
        data[pos: pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    out.write_bytes(bytes(data))
    return out


def same_frame(a, b) -> bool:
    """Two :class:`~gazecam.types.Frame` objects with the same index, timestamp and pixels."""
    return a.index == b.index and a.timestamp_s == b.timestamp_s and np.array_equal(a.image, b.image)


def shown_at(indices: Sequence[int], target: int) -> int:
    """The frame a player shows at number ``target``: the last one numbered <= target (else the first)."""
    return max((i for i in indices if i <= target), default=min(indices))


class FileServer:
    """Serves ``routes`` (URL path -> file, or (bytes, declared length)) on 127.0.0.1."""

    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                requests.append(self.path)
                item = routes.get(self.path)
                if item is None:
                    self.send_error(404)
                    return
                if isinstance(item, Path):
                    body, length = item.read_bytes(), None
                else:
                    body, length = item
                self.send_response(200)
                self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if length is not None and length != len(body):
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------- people walking (offline detector)

WALKERS = ((0.12, 3.0, 0.83, 0.53, (150, 40, 40)), (0.52, -2.5, 0.89, 0.58, (40, 60, 150)),
           (0.81, 2.0, 0.81, 0.47, (40, 130, 60)))  # start x, px/frame at 640 px, feet y, height (of H), shirt


def walkers_image(i: int, *, width: int = 640, height: int = 360, background: np.ndarray | None = None) -> np.ndarray:
    """Frame ``i`` of three stick-figure people walking over a still, slightly noisy room (RGB uint8).

    OpenCV's HOG pedestrian detector (``--detector offline``) finds them; they have no faces.
    """
    import cv2

    if background is None:
        rng = np.random.default_rng(0)
        background = np.clip(rng.normal(160, 8, (height, width, 3)), 0, 255).astype(np.uint8)
        background[int(0.8 * height):] = (110, 100, 90)
    img = background.copy()
    for k, (x0, speed, feet, tall, shirt) in enumerate(WALKERS):
        s, cx, feet, top, head_r = _walker(k, i, width=width, height=height)
        neck, hip, swing = top + 2 * head_r, feet - 45 * s, np.sin(i * 0.4 + k) * 12 * s
        cv2.circle(img, (int(cx), int(top + head_r)), head_r, (205, 170, 140), -1)
        cv2.line(img, (int(cx), int(neck)), (int(cx), int(hip)), shirt, max(1, int(12 * s)))
        for d in (-1, 1):
            cv2.line(img, (int(cx), int(hip)), (int(cx + d * swing), int(feet)), (40, 40, 60), max(1, int(7 * s)))
            cv2.line(img, (int(cx), int(neck + 4 * s)), (int(cx - d * swing * 0.8), int(feet - 50 * s)), shirt,
                     max(1, int(5 * s)))
    return img


def _walker(k: int, i: int, *, width: int, height: int) -> tuple[float, float, float, float, int]:
    """Walker ``k`` on frame ``i``: scale, centre x, feet y, top y (pixels) and head radius."""
    x0, speed, feet, tall, _ = WALKERS[k]
    s, cx = tall * height / 100.0, (x0 * width + speed * i * width / 640) % width
    return s, cx, feet * height, feet * height - tall * height, int(7 * s)


def walkers_heads_xyxy(i: int, *, width: int = 640, height: int = 360) -> np.ndarray:
    """(3, 4) the true head boxes ``xyxy`` (the squares around the head discs) of :func:`walkers_image` frame ``i``."""
    out = []
    for k in range(len(WALKERS)):
        _, cx, _, top, r = _walker(k, i, width=width, height=height)
        cx, cy = int(cx), int(top + r)  # as drawn
        out.append((cx - r, cy - r, cx + r + 1, cy + r + 1))
    return np.asarray(out, np.float32)


def make_walkers_video(path: Path, *, n: int = 200, width: int = 640, height: int = 360, fps: int = 25) -> Path:
    """An H.264 clip of :func:`walkers_image` frames 0..n-1 (no audio)."""
    import av

    rng = np.random.default_rng(0)
    background = np.clip(rng.normal(160, 8, (height, width, 3)), 0, 255).astype(np.uint8)
    background[int(0.8 * height):] = (110, 100, 90)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(walkers_image(i, width=width, height=height, background=background),
                                               format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
    return path


class ImageModel:
    """A stand-in for GazeModel whose output depends on the pixels and the head boxes (for comparing runs):
    the heatmap is the frame's grey 64 x 64 thumbnail shifted by the head's position, in/out its brightness."""

    name = "image-model"
    released = False
    note = "test model"
    has_inout = True

    def __init__(self) -> None:
        self.thread_ids: set[int] = set()

    def encode(self, image):
        import cv2

        self.thread_ids.add(threading.get_ident())
        return cv2.resize(image.mean(axis=2).astype(np.float32) / 255.0, (64, 64), interpolation=cv2.INTER_AREA)

    def decode(self, feats, heads):
        self.thread_ids.add(threading.get_ident())
        boxes = np.asarray(heads, np.float32).reshape(-1, 4)
        hm = np.stack([np.roll(feats, (int(b[1] * 64), int(b[0] * 64)), axis=(0, 1)) for b in boxes]) if len(boxes) \
            else np.zeros((0, 64, 64), np.float32)
        inout = hm.reshape(len(boxes), -1).mean(axis=1) if len(boxes) else np.zeros(0, np.float32)
        return GazePrediction(heatmaps=hm, inout=inout)


# -- child processes that tests signal ---------------------------------------------------------------------
# Runs in the child before the command: SIGINT set explicitly (never inherited: bash starts `cmd &` of a
# non-interactive shell, and nohup, with SIGINT ignored), and the child killed if the test process dies.
_CHILD_WRAPPER = """
import ctypes, os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN if sys.argv[1] == "ignore" else signal.SIG_DFL)
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the test
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[2]):
    sys.exit("the test process is gone")
os.execv(sys.argv[3], sys.argv[3:])
"""


class Child:
    """A child process for a test that signals it; use it as a context manager.

    * SIGINT is set explicitly in the child (``sigint="default"``: Python's KeyboardInterrupt handler;
      ``"ignore"``: SIG_IGN, as after ``nohup`` or ``cmd &`` in a script) whatever this process inherited;
    * the child runs in its own session and is killed with its whole group on exit from the ``with`` block
      when it is still running (after SIGABRT, which makes it dump its Python stacks to its stderr), and
      dies with the test process (PR_SET_PDEATHSIG);
    * every wait has a timeout, and ``faulthandler`` dumps this process's stacks if the block outlives
      ``timeout_s``.

    ``args[0]`` must be an absolute path to the program (``sys.executable``).  stdout and stderr are read
    by threads: :meth:`read_line` returns stdout lines, :attr:`stderr` what the child wrote there.
    """

    def __init__(self, args: Sequence[str], *, sigint: str = "default", timeout_s: float = 300.0,
                 cwd: str | Path | None = None, env: dict[str, str] | None = None) -> None:
        import os
        import subprocess
        import sys

        if sigint not in ("default", "ignore"):
            raise ValueError(f"sigint must be 'default' or 'ignore', not {sigint!r}")
        self.timeout_s = timeout_s
        env = {**(env if env is not None else os.environ), "PYTHONFAULTHANDLER": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", _CHILD_WRAPPER, sigint, str(os.getpid()), *args],
                                     cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        import queue

        self._lines: "queue.Queue[str | None]" = queue.Queue()
        self._err: list[str] = []
        self._readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines.put), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self._err.append), daemon=True)]
        for t in self._readers:
            t.start()

    @staticmethod
    def _pump(stream, put) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            put(line)
        put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stderr(self) -> str:
        return "".join(x for x in list(self._err) if x is not None)

    def read_line(self, timeout_s: float | None = None) -> str:
        """The next stdout line (without the newline); AssertionError on a timeout or when the child exited."""
        import queue

        try:
            line = self._lines.get(timeout=timeout_s if timeout_s is not None else self.timeout_s)
        except queue.Empty:
            raise AssertionError(f"no output from the child within {timeout_s or self.timeout_s} s; "
                                 f"stderr so far:\n{self.stderr}") from None
        if line is None:
            self.proc.wait(timeout=30)
            raise AssertionError(f"the child exited ({self.proc.returncode}) before writing the expected line; "
                                 f"stderr:\n{self.stderr}")
        return line.rstrip("\n")

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout_s: float | None = None) -> tuple[int, str, str]:
        """Wait for the child to exit: its exit code, the rest of its stdout and its stderr."""
        code = self.proc.wait(timeout=timeout_s if timeout_s is not None else self.timeout_s)
        for t in self._readers:
            t.join(timeout=30)
        rest = []
        while not self._lines.empty():
            line = self._lines.get_nowait()
            if line is not None:
                rest.append(line)
        return code, "".join(rest), self.stderr

    def __enter__(self) -> "Child":
        import faulthandler

        faulthandler.dump_traceback_later(self.timeout_s, exit=False)
        return self

    def __exit__(self, *exc: object) -> None:
        import faulthandler
        import os
        import signal
        import subprocess
        import sys

        faulthandler.cancel_dump_traceback_later()
        if self.proc.poll() is None:  # something failed: the child's stacks, then kill it and its group
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
            for t in self._readers:
                t.join(timeout=5)
            print(f"killed child {self.proc.pid} ({self.proc.returncode}); its stderr:\n{self.stderr}",
                  file=sys.stderr)
        else:
            try:  # grandchildren left in its group
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


# --------------------------------------------------------------------------- measured differences

#: worst max-abs difference per (path, quantity) measured by the golden tests of this run; tests/conftest.py
#: lists them at the end of the run (they are what the README's "measured max abs differences" quote)
MEASURED_DIFFERENCES: dict[str, float] = {}


def record_difference(key: str, value: float) -> float:
    """Keep the worst ``value`` seen for ``key`` and return ``value`` (for use inside an assertion)."""
    MEASURED_DIFFERENCES[key] = max(MEASURED_DIFFERENCES.get(key, 0.0), float(value))
    return value


# --------------------------------------------------------------------------- golden fixtures of the model families


def max_abs_diff(a, b) -> float:
    """Largest absolute difference of two arrays (float64), the figure the fixtures' tolerances bound."""
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def case_boxes(variants: dict, variant: str):
    """(case, boxes) of one variant of a fixture's ``cases.json`` (boxes as tuples; ``None`` = no box)."""
    for c in variants[variant]["cases"]:
        yield c, [None if b is None else tuple(b) for b in c["bboxes"]]


def golden_family_fixtures(folder: Path, *, what: str, expected: str, variants: Sequence[str]):
    """The module-scoped fixtures of a family's golden folder: ``gdir`` (the folder; a missing one fails),
    ``meta`` (its ``cases.json`` variants), ``images`` (the session's golden images by their cases.json names)
    and ``models`` (each variant loaded from its one checkpoint file, which holds the backbone too)."""
    import json

    import pytest

    @pytest.fixture(scope="module")
    def gdir() -> Path:
        if not (folder / "cases.json").is_file():
            pytest.fail(f"{what} fixtures not found at {folder} (expected {expected})")
        return folder

    @pytest.fixture(scope="module")
    def meta(gdir) -> dict:
        return json.loads((gdir / "cases.json").read_text())["variants"]

    @pytest.fixture(scope="module")
    def images(golden_images) -> dict[str, np.ndarray]:
        return {f"{name}.png": image for name, image in golden_images.items()}  # as cases.json names them

    @pytest.fixture(scope="module")
    def models(gdir, meta) -> dict:
        from gazecam.model import GazeModel

        return {v: GazeModel.from_files(gaze_weights=gdir / meta[v]["checkpoint"], device="cpu") for v in variants}

    return gdir, meta, images, models
