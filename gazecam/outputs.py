"""Writing outputs without losing anything: every file gazecam writes (videos, records, exports, reports).

* :class:`PendingOutput`: bytes go to a temporary file next to the destination,
  ``NAME.partial.SUFFIX`` (``NAME.partial-2.SUFFIX``, ... when that name is taken), renamed over the
  destination by :meth:`~PendingOutput.commit` only when the output is complete.  A failure removes that
  temporary file and nothing else: a file gazecam did not create is never deleted or truncated.  A run
  killed outright (SIGKILL, power loss) leaves the ``.partial`` file (a video is fragmented MP4, playable up
  to its last complete fragment); gazecam never removes or reuses it.
* Destinations that are not regular files (``/dev/null``, a device, a fifo, ``/dev/stdout`` on a pipe) are
  written directly, never renamed over and never removed.  A symlink to a regular file is followed: the
  file it points to is replaced, the link stays.
* :func:`atomic_output`: the same as a context manager for writers that take a path (exports, reports).
* :func:`check_output_path` / :func:`check_outputs`: fail before any work when an output cannot be written,
  is one of the inputs (``os.path.samefile``: hard links and symlinks too; resolved paths for files that do
  not exist yet), would land in an input folder as one of its images, or two outputs are one file.

Errors are :class:`~gazecam.errors.InputError` naming the Python parameter (``video_path='x.mp4'``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

__all__ = ["PendingOutput", "atomic_output", "partial_path", "check_output_path", "check_outputs", "Named",
           "is_special_file"]

_MAX_PARTIAL_NAMES = 1000


def is_special_file(path: Path) -> bool:
    """True when ``path`` exists and is not a regular file or folder (device, fifo, socket; links followed)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _target(path: Path) -> Path:
    """Where the bytes of a regular-file output end up: a symlink (chain) is followed to its file."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def partial_path(path: str | Path, n: int = 1) -> Path:
    """The ``n``-th temporary name of ``path``: ``out.mp4`` -> ``out.partial.mp4``, ``out.partial-2.mp4``, ..."""
    path = Path(path)
    suffix = path.suffix
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}.partial{'' if n == 1 else f'-{n}'}{suffix}")


class PendingOutput:
    """One output being written: :attr:`write_path` now, :attr:`path` after :meth:`commit`.

    Creating it claims a fresh temporary file (``O_EXCL``: never an existing file) in the destination's
    folder; for a destination that is not a regular file (a device, a fifo) :attr:`write_path` is the
    destination itself and :attr:`direct` is True.  :meth:`commit` flushes the temporary file to disk and
    renames it over the destination; :meth:`discard` removes it (only it).  Both are idempotent; after one of
    them the other does nothing.  OSError from the file system is raised as is (the caller words it).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.direct = is_special_file(self.path)
        self.done = False
        self.committed = False
        if self.direct:
            self.write_path = self.path
            return
        target = _target(self.path)
        self._target = target
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for n in range(1, _MAX_PARTIAL_NAMES + 1):
            candidate = partial_path(target, n)
            try:
                fd = os.open(candidate, flags, 0o666)  # the umask applies, as for any new file
            except FileExistsError:
                continue  # a leftover of a killed run, or a run writing the same output: never touched
            os.close(fd)
            self.write_path = candidate
            return
        raise FileExistsError(f"{partial_path(target)} and {_MAX_PARTIAL_NAMES - 1} further temporary names "
                              "exist already; remove the old .partial files")

    def commit(self) -> None:
        """The output is complete: flush it to disk and rename it over the destination."""
        if self.done:
            return
        self.done = True
        if self.direct:
            self.committed = True
            return
        try:
            fd = os.open(self.write_path, os.O_RDONLY)
            try:
                os.fsync(fd)  # a power loss right after the rename must not leave an empty file
            finally:
                os.close(fd)
            os.replace(self.write_path, self._target)
        except BaseException:
            self.done = False
            raise
        self.committed = True
        _fsync_dir(self._target.parent)

    def discard(self) -> None:
        """The output failed: remove the temporary file (the destination is left as it was)."""
        if self.done:
            return
        self.done = True
        if not self.direct:
            try:
                os.unlink(self.write_path)
            except FileNotFoundError:
                pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync folders; the rename itself is done
    finally:
        os.close(fd)


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """``with atomic_output("report.html") as tmp: write(tmp)``: ``tmp`` is renamed to the path on success.

    An exception inside the block removes ``tmp`` and leaves the destination as it was.  For a destination
    that is a device or a fifo, ``tmp`` is the destination itself.  ``tmp`` keeps the destination's suffix
    (writers that pick a format by suffix still work).
    """
    pending = PendingOutput(path)
    try:
        yield pending.write_path
    except BaseException:
        pending.discard()
        raise
    pending.commit()


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Named:
    """A path and the parameter it was given as (``Named("video_path", Path("out.mp4"))``)."""

    parameter: str
    path: Path

    @property
    def label(self) -> str:
        return f"{self.parameter}={str(self.path)!r}"


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path.expanduser()))


def _same_file(a: Path, b: Path) -> bool:
    """One file: the same inode when both exist, else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return _resolved(a) == _resolved(b)


def check_output_path(path: str | Path, *, parameter: str) -> None:
    """Fail now (``InputError`` naming ``parameter``) if ``path`` cannot be written.

    The folder is really written to (a temporary file is created and removed: permission bits say nothing
    of read-only or pseudo file systems); an existing regular file must be writable; a device is opened for
    appending (nothing is written); a fifo is not opened (that would wait for its reader, then end its stream).
    """
    path = Path(path).expanduser()
    label = f"{parameter}={str(path)!r}"
    if path.is_dir():
        raise InputError(f"{label} is a directory; expected a file path")
    if is_special_file(path):
        if stat.S_ISFIFO(os.stat(path).st_mode):  # opening would wait for a reader, and closing end its stream
            if not os.access(path, os.W_OK):
                raise InputError(f"{label}: cannot write {path} (permission denied); choose another path")
            return
        try:
            with open(path, "ab"):
                pass
        except OSError as e:
            raise InputError(f"{label}: cannot write {path} ({e.strerror or e}); choose another path") from e
        return
    target = _target(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.exists():
        raise InputError(f"{label}: folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise InputError(f"{label}: {parent} is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise InputError(f"{label}: {path} exists and is read-only; choose another path or make it writable")
    try:
        PendingOutput(path).discard()
    except OSError as e:
        raise InputError(f"{label}: cannot write in folder {parent} ({e.strerror or e}); "
                         "choose another path") from e


def _folder_images(folder: Path) -> list[Path]:
    from .imageio import IMAGE_SUFFIXES

    try:
        return [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    except OSError:
        return []


def check_outputs(outputs: Sequence[Named], inputs: Sequence[Named]) -> None:
    """Fail (``InputError``) when an output would overwrite an input or another output.

    ``inputs`` may name files (a video, a heads file) and folders (a folder of images: an output that is one
    of its images, or that would be read as one, is refused).  Paths that do not exist yet compare by their
    resolved paths; devices and fifos (``/dev/null``) are never inputs' files and are not compared.
    """
    from .imageio import IMAGE_SUFFIXES

    outs = [o for o in outputs if o.path is not None]
    for i, a in enumerate(outs):
        for b in outs[i + 1:]:
            if not is_special_file(a.path) and _same_file(a.path, b.path):
                raise InputError(f"{a.label} and {b.label} name the same file; give each output its own path")
    for inp in inputs:
        if inp.path is None:
            continue
        folder = inp.path.is_dir()
        members = {(s.st_dev, s.st_ino) for s in map(_stat, _folder_images(inp.path)) if s} if folder else set()
        for out in outs:
            if is_special_file(out.path):
                continue
            if not folder:
                if _same_file(out.path, inp.path):
                    link = "" if _resolved(out.path) == _resolved(inp.path) else " (by a link)"
                    raise InputError(f"{out.label} is the input file {inp.label}{link}; it would be overwritten: "
                                     "choose another output path")
                continue
            st = _stat(out.path)
            if st is not None and (st.st_dev, st.st_ino) in members:
                raise InputError(f"{out.label} is one of the images of the input folder {inp.label}; "
                                 "choose an output path outside it")
            inside = _same_file(_target(out.path).parent, inp.path)
            if inside and out.path.suffix.lower() in IMAGE_SUFFIXES:
                raise InputError(f"{out.label} is inside the input folder {inp.label} and would be read as one "
                                 "of its images; choose an output path outside it")


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None
