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
* :func:`check_before_writing`: the one output check (process, batch, the GUI recorder, report): before any
  work, fail when an output cannot be written (:func:`check_output_path`), is one of the inputs
  (:func:`check_outputs`; ``os.path.samefile``: hard links and symlinks too; resolved paths for files that
  do not exist yet), would land in an input folder as one of its images, or two outputs are one file.
* :func:`begin_output`: a :class:`PendingOutput` for a writer (the sinks), its failure one line.
* :class:`HeldOutputs`: outputs committed together by their owner once all their writers are done (batch:
  one clip's video, records and records sidecar, each under one temporary name the owner chose).

Check errors are :class:`~gazecam.errors.InputError` naming the Python parameter (``video_path='x.mp4'``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, SinkError

__all__ = ["PendingOutput", "HeldOutputs", "atomic_output", "begin_output", "partial_path", "fsync_dir", "check_before_writing",
           "check_output_path", "check_outputs", "Inputs", "Named", "is_special_file", "is_disk_full", "IMAGE_SUFFIXES"]

_MAX_PARTIAL_NAMES = 1000

#: File name suffixes read as still images (lower case): what an image folder input reads, so what an output
#: must never be inside one (re-exported by :mod:`gazecam.imageio`).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"})


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


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
    them the other does nothing.  OSError from the file system (IsADirectoryError for a folder) is raised
    as is (the caller words it, e.g. :func:`begin_output`).  Made inside :meth:`HeldOutputs.writing` for one
    of its destinations, it is *held*: written under the owner's temporary name, which :meth:`commit` only
    flushes, for the owner to rename.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.done = False
        held = _HELD.get()
        self._held = held if held is not None and _key(self.path) in held._temporaries else None
        self.direct = self._held is None and is_special_file(self.path)
        if self.direct:
            self.write_path = self.path
            return
        # a held destination is renamed as a name (a symlink is replaced); else a symlink is followed
        target = _key(self.path) if self._held is not None else _target(self.path)
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(self.path))
        self._target = target
        names = ([self._held._temporaries[target]] if self._held is not None
                 else [partial_path(target, n) for n in range(1, _MAX_PARTIAL_NAMES + 1)])
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for candidate in names:
            try:
                fd = os.open(candidate, flags, 0o666)  # the umask applies, as for any new file
            except FileExistsError:
                if self._held is not None:
                    raise
                continue  # a leftover of a killed run, or a run writing the same output: never touched
            os.close(fd)
            self.write_path = candidate
            return
        raise FileExistsError(f"{partial_path(target)} and {_MAX_PARTIAL_NAMES - 1} further temporary names "
                              "exist already; remove the old .partial files")

    @property
    def held(self) -> bool:
        """True when a :class:`HeldOutputs` owner, not :meth:`commit`, puts this output in place."""
        return self._held is not None

    def commit(self) -> None:
        """The output is complete: flush it to disk and rename it over the destination (held: its owner does)."""
        if self.done:
            return
        self.done = True
        if self.direct:
            return
        try:
            _fsync(self.write_path)  # a power loss right after the rename must not leave an empty file
            if self._held is None:
                os.replace(self.write_path, self._target)
        except BaseException:
            self.done = False
            raise
        if self._held is not None:
            self._held._complete.add(self._target)
        else:
            fsync_dir(self._target.parent)

    def discard(self) -> None:
        """The output failed: remove the temporary file (the destination is left as it was)."""
        if self.done:
            return
        self.done = True
        if not self.direct:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.write_path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: The HeldOutputs whose writers run in this thread (HeldOutputs.writing).
_HELD: ContextVar["HeldOutputs | None"] = ContextVar("gazecam_held_outputs", default=None)


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path.expanduser()))


class HeldOutputs:
    """Outputs their owner commits together, after all their writers are done (batch: one clip's video,
    records and records sidecar, put in place only with each other).

    ``temporaries`` maps each destination to the one temporary name its bytes are written under (a name
    the owner owns: it removes leftovers of its own killed runs before writing).  While :meth:`writing` is
    active in this thread, a :class:`PendingOutput` made for one of those destinations (by a sink,
    :func:`atomic_output`, the probe of :func:`check_output_path`) is held: it writes to that name
    (``O_EXCL``), and its ``commit()`` only flushes it to disk and marks it complete (:meth:`ready`);
    :meth:`rename` puts the complete ones in place, :meth:`discard` removes every temporary name.
    """

    def __init__(self, temporaries: Mapping[Path, Path]) -> None:
        self._temporaries = {_key(Path(final)): Path(tmp) for final, tmp in temporaries.items()}
        self._complete: set[Path] = set()
        #: destinations :meth:`rename` has put in place so far (also when it failed midway)
        self.renamed: list[Path] = []

    @contextmanager
    def writing(self) -> Iterator["HeldOutputs"]:
        """Outputs made inside the block (this thread) for these destinations are held."""
        token = _HELD.set(self)
        try:
            yield self
        finally:
            _HELD.reset(token)

    def ready(self, path: Path) -> bool:
        """True when the output of ``path`` was written and committed by its writer (flushed to disk)."""
        return _key(path) in self._complete

    def rename(self, paths: Sequence[Path]) -> list[Path]:
        """Rename the complete outputs among ``paths`` into place, in that order; the destinations renamed.

        OSError on the first failed rename (the destinations renamed before it stay, listed in
        :attr:`renamed`: the caller decides).  The folders are flushed (best effort) at the end.
        """
        start = len(self.renamed)
        for path in paths:
            key = _key(path)
            if key in self._complete:
                os.replace(self._temporaries[key], key)
                self._complete.discard(key)
                self.renamed.append(key)
        for folder in dict.fromkeys(p.parent for p in self.renamed[start:]):
            fsync_dir(folder)
        return self.renamed[start:]

    def discard(self) -> None:
        """Remove every temporary name (complete or not); the destinations are left as they are."""
        self._complete.clear()
        for tmp in self._temporaries.values():
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def begin_output(path: Path, what: str) -> PendingOutput:
    """:class:`PendingOutput` of ``path``, else :class:`~gazecam.errors.SinkError` saying why in one line.

    ``what`` names the output (``"video"``, ``"records"``): ``cannot write video out.mp4: directory out
    does not exist; create it first``.
    """
    try:
        return PendingOutput(path)
    except OSError as exc:
        folder = _target(Path(path)).parent
        if isinstance(exc, IsADirectoryError):
            reason = "it is a directory; give a file name"
        elif isinstance(exc, FileNotFoundError):
            reason = f"directory {folder} does not exist; create it first"
        elif isinstance(exc, NotADirectoryError):
            reason = f"{folder} is not a directory"
        else:
            reason = f"{exc.strerror or exc}; check the path and its permissions"
        raise SinkError(f"cannot write {what} {path}: {reason}") from exc


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems cannot sync folders)."""
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
    try:
        return [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    except OSError:
        return []


def _identity(path: Path) -> tuple:
    """What makes two paths one file: the inode when it exists, else the resolved path."""
    st = _stat(path.expanduser())
    return ("inode", st.st_dev, st.st_ino) if st is not None else ("path", _resolved(path))


class Inputs:
    """Inputs to check outputs against, each looked at once (a batch checks many outputs against them).

    Files (a video, a heads file) and folders (a folder of images: its images, and any new image inside it).
    """

    def __init__(self, inputs: Sequence[Named]) -> None:
        self._files: dict[tuple, tuple[int, Named]] = {}
        self._folders: list[tuple[Named, set[tuple], tuple]] = []
        for i, inp in enumerate(inputs):
            if inp.path is None:
                continue
            if inp.path.is_dir():
                self._folders.append((inp, {_identity(p) for p in _folder_images(inp.path)}, _identity(inp.path)))
            else:
                self._files.setdefault(_identity(inp.path), (i, inp))

    def check(self, outputs: Sequence[Named]) -> None:
        """:func:`check_outputs` against these inputs."""
        outs = [(o, _identity(o.path)) for o in outputs if o.path is not None and not is_special_file(o.path)]
        seen: dict[tuple, Named] = {}
        for out, ident in outs:
            if ident in seen:
                raise InputError(f"{seen[ident].label} and {out.label} name the same file; give each output its "
                                 "own path")
            seen[ident] = out
        hits = [(self._files[ident], out) for out, ident in outs if ident in self._files]
        if hits:
            (_, inp), out = min(hits, key=lambda hit: hit[0][0])  # the first input, as given
            link = "" if _resolved(out.path) == _resolved(inp.path) else " (by a link)"
            raise InputError(f"{out.label} is the input file {inp.label}{link}; it would be overwritten: "
                             "choose another output path")
        for inp, members, folder in self._folders:
            for out, ident in outs:
                if ident[0] == "inode" and ident in members:
                    raise InputError(f"{out.label} is one of the images of the input folder {inp.label}; "
                                     "choose an output path outside it")
                if out.path.suffix.lower() in IMAGE_SUFFIXES and _identity(_target(out.path).parent) == folder:
                    raise InputError(f"{out.label} is inside the input folder {inp.label} and would be read as "
                                     "one of its images; choose an output path outside it")


def check_outputs(outputs: Sequence[Named], inputs: Sequence[Named] | Inputs) -> None:
    """Fail (``InputError``) when an output would overwrite an input or another output.

    ``inputs`` may name files (a video, a heads file) and folders (a folder of images: an output that is one
    of its images, or that would be read as one, is refused).  Paths that do not exist yet compare by their
    resolved paths; devices and fifos (``/dev/null``) are never inputs' files and are not compared.
    """
    (inputs if isinstance(inputs, Inputs) else Inputs(inputs)).check(outputs)


def check_before_writing(outputs: Sequence[Named], inputs: Sequence[Named] | Inputs = ()) -> None:
    """The one output check, before any work: each output can be written (:func:`check_output_path`) and
    none is an input or another output (:func:`check_outputs`); ``InputError`` naming the parameter if not.

    ``outputs`` / ``inputs``: :class:`Named` paths (``Named("video_path", Path("out.mp4"))``); an input may
    be a folder of images.  Many outputs against the same inputs (a batch): pass ``Inputs(inputs)``, built
    once.  Used by ``process`` (:func:`gazecam.jobs.check_job_outputs`), the GUI recorder, ``report``, batch.
    """
    for out in outputs:
        check_output_path(out.path, parameter=out.parameter)
    check_outputs(outputs, inputs)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None
