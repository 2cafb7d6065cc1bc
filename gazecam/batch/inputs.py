"""Batch inputs: video files, folders (searched recursively), glob patterns and ``@list.txt`` files.

Every input keeps the folder it was found under (``base``); the batch mirrors each input's path
relative to the common folder of all bases under the output folder, so equal file names in different
folders never collide.  No torch import here.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Sequence

from ..errors import InputError
from ..imageio import IMAGE_SUFFIXES

__all__ = ["VIDEO_SUFFIXES", "BatchInput", "InputSet", "collect_inputs", "input_signature", "probe_frames"]

#: File name suffixes searched for in folders (lower case).  A file named explicitly is tried whatever its suffix.
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".wmv", ".flv", ".mpg", ".mpeg", ".ts", ".mts",
    ".m2ts", ".3gp", ".ogv", ".mxf", ".dv", ".vob",
})

InputKind = Literal["video", "images"]


@dataclass(frozen=True, kw_only=True)
class BatchInput:
    """One clip of a batch: a video file or (when asked) a folder of images."""

    path: Path  # absolute, normalised (symlinks kept)
    kind: InputKind
    base: Path  # absolute folder the output path mirrors from (before the common root is taken)

    def __post_init__(self) -> None:
        if not self.path.is_absolute() or not self.base.is_absolute():
            raise ValueError(f"BatchInput: path and base must be absolute, got {self.path} / {self.base}")
        if self.kind not in ("video", "images"):
            raise ValueError(f"BatchInput.kind must be 'video' or 'images', got {self.kind!r}")

    @property
    def key(self) -> str:
        """The input's identity in the manifest (its absolute path)."""
        return str(self.path)


@dataclass(frozen=True, kw_only=True)
class InputSet:
    """What :func:`collect_inputs` found."""

    inputs: tuple[BatchInput, ...]
    ignored_image_folders: tuple[Path, ...] = ()  # folders of images skipped (image_folders=False)
    excluded: tuple[Path, ...] = field(default=())  # folders not searched (the output folder)


def _abspath(p: str | Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(p))))


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _walk(folder: Path, *, base: Path, image_folders: bool, exclude: Sequence[Path],
          found: list[BatchInput], ignored: list[Path], excluded: list[Path]) -> None:
    """Video files under ``folder`` (recursively, sorted, hidden names skipped, symlinked folders not followed)."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        root_p = Path(root)
        keep = []
        for d in sorted(dirs):
            if _is_hidden(d):
                continue
            sub = root_p / d
            if any(_same(sub, x) for x in exclude):
                excluded.append(sub)
                continue
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if not _is_hidden(name) and Path(name).suffix.lower() in VIDEO_SUFFIXES:
                found.append(BatchInput(path=root_p / name, kind="video", base=base))
        if any(not _is_hidden(n) and Path(n).suffix.lower() in IMAGE_SUFFIXES for n in files):
            if image_folders:
                # the clip's output mirrors the folder itself: in/session1/ -> OUTDIR/session1.mp4
                found.append(BatchInput(path=root_p, kind="images", base=base if root_p != base else base.parent))
            else:
                ignored.append(root_p)


def _glob_base(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return _abspath(Path(*fixed)) if fixed else _abspath(".")


def _dir_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` names (links followed), None when it cannot be read."""
    return _dir_id(path)


def _glob(pattern: str) -> list[Path]:
    """``glob.glob(pattern, recursive=True)`` without following symlinked folders below the fixed part
    (a link loop such as ``l -> .`` is never entered) and without visiting one folder twice; sorted."""
    base = _glob_base(pattern)
    parts = Path(pattern).parts
    fixed = 0
    for part in parts:
        if glob.has_magic(part):
            break
        fixed += 1
    rest = list(parts[fixed:])
    out: list[Path] = []
    visited: set[tuple[tuple[int, int], int]] = set()  # (folder, pattern part): each searched once

    def entries(folder: Path) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError:
            return []

    def real_dir(entry: os.DirEntry[str]) -> bool:
        try:
            return entry.is_dir(follow_symlinks=False)
        except OSError:
            return False

    def match(folder: Path, i: int) -> None:
        ident = _dir_id(folder)
        if ident is None or (ident, i) in visited:
            return
        visited.add((ident, i))
        if i == len(rest):
            out.append(folder)
            return
        part = rest[i]
        if part == "**":
            match(folder, i + 1)  # zero folders
            for e in entries(folder):
                if not _is_hidden(e.name) and real_dir(e):  # symlinked folders are not followed
                    match(Path(e.path), i)
            return
        if not glob.has_magic(part):
            nxt = folder / part
            if i + 1 == len(rest):
                if os.path.lexists(nxt):
                    out.append(nxt)
            elif nxt.is_dir():
                match(nxt, i + 1)
            return
        for e in entries(folder):
            if _is_hidden(e.name) and not part.startswith("."):
                continue
            if not fnmatch.fnmatchcase(e.name, part):
                continue
            if i + 1 == len(rest):
                out.append(Path(e.path))
            elif real_dir(e) or (rest[i + 1] != "**" and Path(e.path).is_dir()):
                match(Path(e.path), i + 1)  # a symlinked folder only for a fixed depth (no loop possible)

    match(base, 0)
    return sorted(dict.fromkeys(out))


def _list_file_entries(spec: str) -> tuple[Path, list[str]]:
    path = _abspath(spec[1:])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"list file not found: {path} (from {spec!r}); expected a text file with one path per "
                         "line") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read list file {path}: {e}") from e
    lines = [ln.strip() for ln in text.splitlines()]
    return path, [ln for ln in lines if ln and not ln.startswith("#")]


def collect_inputs(specs: Iterable[str | Path], *, image_folders: bool = False,
                   exclude: Sequence[str | Path] = ()) -> InputSet:
    """The clips named by ``specs`` (files, folders, glob patterns, ``@list.txt``), in a stable order.

    Folders are searched recursively for files with a :data:`VIDEO_SUFFIXES` suffix (hidden names skipped;
    a folder of images becomes one clip only with ``image_folders=True``).  Glob patterns keep the video
    files (and folders) they match; ``@FILE`` reads one path, folder or pattern per line (``#`` comments;
    relative lines are relative to the list file's folder).  Folders in ``exclude`` (the output folder)
    are never searched.  Each clip appears once: a file reached through a symlink or a hard link too
    (the first name found is kept); patterns never follow symlinked folders through ``**`` (no link loops).
    Raises :class:`InputError` for a missing input, a list file that cannot be read, or when nothing is found.
    """
    excl = [_abspath(x) for x in exclude]
    found: list[BatchInput] = []
    ignored: list[Path] = []
    excluded: list[Path] = []

    def add(spec: str, *, relative_to: Path | None = None) -> None:
        raw = os.path.expanduser(spec)
        if relative_to is not None and not os.path.isabs(raw):
            raw = str(relative_to / raw)
        path = _abspath(raw)
        if path.exists():
            if path.is_dir():
                if any(_same(path, x) for x in excl):
                    raise InputError(f"input folder {path} is the output folder; choose another output folder "
                                     "(outputs would be mixed with the inputs)")
                _walk(path, base=path, image_folders=image_folders, exclude=excl, found=found, ignored=ignored,
                      excluded=excluded)
            else:
                found.append(BatchInput(path=path, kind="video", base=path.parent))
            return
        if glob.has_magic(raw):
            matches = _glob(raw)
            base = _glob_base(raw)
            hits = 0
            for m in matches:
                mp = _abspath(m)
                if any(mp == x or x in mp.parents for x in excl):
                    continue
                if mp.is_dir():
                    before = len(found)
                    _walk(mp, base=mp if mp == base else base, image_folders=image_folders, exclude=excl,
                          found=found, ignored=ignored, excluded=excluded)
                    hits += len(found) - before
                elif mp.suffix.lower() in VIDEO_SUFFIXES and not _is_hidden(mp.name):
                    found.append(BatchInput(path=mp, kind="video", base=base))
                    hits += 1
            if not hits:
                raise InputError(f"pattern {spec!r} matches no video file (looked for "
                                 f"{', '.join(sorted(VIDEO_SUFFIXES))})")
            return
        raise InputError(f"input not found: {path}; expected a video file, a folder, a glob pattern or @LIST.txt")

    for spec in specs:
        spec = str(spec)
        if spec.startswith("@"):
            list_path, entries = _list_file_entries(spec)
            if not entries:
                raise InputError(f"list file {list_path} names no input")
            for entry in entries:
                add(entry, relative_to=list_path.parent)
        else:
            add(spec)

    unique: dict[object, BatchInput] = {}
    for item in found:  # one file reached twice (a symlink, a hard link, two specs) is one input
        unique.setdefault(_file_id(item.path) or item.path, item)  # the first spec naming a clip decides its base
    if not unique:
        hint = (f"; {len(ignored)} folder(s) of images were found: ask for them as clips (image_folders=True)"
                if ignored else "")
        raise InputError(f"no video found in {', '.join(map(str, specs))} (looked for "
                         f"{', '.join(sorted(VIDEO_SUFFIXES))}){hint}")
    return InputSet(inputs=tuple(unique.values()), ignored_image_folders=tuple(dict.fromkeys(ignored)),
                    excluded=tuple(dict.fromkeys(excluded)))


def _images_of(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and not _is_hidden(p.name)
            and p.suffix.lower() in IMAGE_SUFFIXES]


def input_signature(item: BatchInput) -> tuple[int, int]:
    """(size in bytes, mtime in ns) of a clip: of the file, or for an image folder the sum of the images'
    sizes and the newest mtime of the folder and its images.  Raises OSError when it cannot be read."""
    if item.kind == "video":
        st = item.path.stat()
        return int(st.st_size), int(st.st_mtime_ns)
    st = item.path.stat()
    size, mtime = 0, int(st.st_mtime_ns)
    for p in _images_of(item.path):
        s = p.stat()
        size += int(s.st_size)
        mtime = max(mtime, int(s.st_mtime_ns))
    return size, mtime


def probe_frames(item: BatchInput) -> int | None:
    """The clip's frame count from its header (an estimate; None when unknown or unreadable)."""
    if item.kind == "images":
        try:
            return len(_images_of(item.path)) or None
        except OSError:
            return None
    try:
        import av

        with av.open(str(item.path), metadata_errors="ignore") as c:
            if not c.streams.video:
                return None
            v = c.streams.video[0]
            if v.frames:
                return int(v.frames)
            rate = v.average_rate or v.guessed_rate
            if v.duration is not None and v.time_base is not None and rate:
                return max(1, int(round(float(v.duration * v.time_base) * float(rate))))
            if c.duration and rate:
                return max(1, int(round(c.duration / 1e6 * float(rate))))
    except Exception:  # noqa: BLE001 - a probe only; the job reports the real error
        return None
    return None

