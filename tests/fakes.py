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
