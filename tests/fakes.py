"""Test doubles shared by several test modules."""

from __future__ import annotations

import errno
import io


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
