"""One lock per output tree: a batch writing ``out`` and one writing ``out/sub`` never run at once.

A batch holds an exclusive ``flock`` on its output folder and a shared one on every folder above it (the
real path: a symlinked or relative path to the same folder takes the same locks).  A second batch on
the same folder, on a folder inside it or on a folder above it then finds one of them taken and is refused
with one line naming the other batch's folder; batches on side-by-side folders share the locks above them
and run together.  Folders are locked through a read-only descriptor: no lock file is created anywhere.
File systems without ``flock`` (some network mounts) run unlocked, as before.  No torch import here.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from ..errors import InputError

__all__ = ["TreeLock"]

#: Folders searched for the batch holding a folder inside the one asked for (to name it); never more.
_SEARCH_LIMIT = 10_000


def _flock(fd: int, exclusive: bool) -> bool:
    """True when taken, False when another process holds a conflicting lock (OSError: no flock here)."""
    import fcntl

    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _held_below(folder: Path, manifest_name: str) -> Path | None:
    """The folder inside ``folder`` whose batch holds its lock (found by its manifest), or None."""
    import fcntl

    for n, (root, dirs, files) in enumerate(os.walk(folder, followlinks=False)):
        if n > _SEARCH_LIMIT:
            return None
        dirs.sort()
        if Path(root) == folder or manifest_name not in files:
            continue
        try:
            fd = os.open(root, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Path(root)
        except OSError:
            pass
        finally:
            os.close(fd)
    return None


class TreeLock:
    """The locks of one batch on ``outdir`` (a context manager; :meth:`acquire` raises :class:`InputError`)."""

    def __init__(self, outdir: Path, *, manifest_name: str) -> None:
        self.outdir = Path(os.path.realpath(outdir))
        self._manifest_name = manifest_name
        self._fds: list[int] = []

    def acquire(self) -> None:
        try:
            import fcntl  # noqa: F401
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return
        try:
            self._take(self.outdir, exclusive=True)
            for above in self.outdir.parents:
                self._take(above, exclusive=False)
        except BaseException:
            self.release()
            raise

    def _take(self, folder: Path, *, exclusive: bool) -> None:
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return  # a folder above that cannot be opened (no permission): not lockable, not ours
        try:
            taken = _flock(fd, exclusive)
        except OSError:  # file systems without flock: run unlocked
            os.close(fd)
            return
        if taken:
            self._fds.append(fd)
            return
        try:
            same = exclusive and not _flock(fd, False)  # its own batch holds it exclusively, not one inside it
        except OSError:
            same = False
        finally:
            os.close(fd)
        if not exclusive:
            raise InputError(f"another gazecam batch is writing {folder}, which contains the output folder "
                             f"{self.outdir}; wait for it to finish or choose an output folder outside it")
        if same:
            raise InputError(f"another gazecam batch is writing {folder} (its manifest is locked); wait for it "
                             "to finish or choose another output folder")
        other = _held_below(folder, self._manifest_name)
        where = f"{other}, inside" if other is not None else "a folder inside"
        raise InputError(f"another gazecam batch is writing {where} the output folder {folder}; wait for it "
                         "to finish or choose an output folder that does not contain it")

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)  # closing releases the lock
        self._fds = []

    def __enter__(self) -> "TreeLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
