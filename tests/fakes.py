"""Test doubles shared by several test modules."""

from __future__ import annotations

import errno
import io
import threading

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
            rec = stack.enter_context(open(records_path, "w")) if records_path is not None else None
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
