"""``OUTDIR/manifest.jsonl``: one JSON line per input per attempt; the last line of an input is its state.

Append-only: each line is written with one ``write`` and ``fsync``'d, so the file is readable (``tail -f``,
``jq``) while the batch runs and a crash loses at most the line being written.  A line that cannot be used
(torn by a crash, not a JSON object, missing fields) is reported with its line number and ignored; the input
it names is redone, and the outputs it names count as this batch's.  Output paths are written relative to
the output folder (a moved, copied or symlinked folder resumes); absolute ones of older manifests still
read.  While a batch runs it holds the output tree's lock (:mod:`gazecam.batch.lock`) and an exclusive lock
on the manifest (``flock``), so two batches never write one output tree at once.  A manifest that is a
symbolic link, a hard link or not a regular file is refused (lines would land in another file).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Mapping

from ..errors import InputError
from .lock import TreeLock

__all__ = ["MANIFEST_NAME", "ManifestEntry", "Manifest", "ModelIdentity", "BadLine", "jsonable"]

MANIFEST_NAME = "manifest.jsonl"

Status = Literal["done", "failed"]


def jsonable(value: object) -> Any:
    """``value`` as it reads back from JSON (tuples -> lists, Paths -> strings): for comparisons."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@dataclass(frozen=True, kw_only=True)
class ModelIdentity:
    """What makes two runs use the same model: its name and the SHA-256 of each weights file."""

    name: str
    weights_sha256: Mapping[str, str]  # role ("backbone", "gaze", ...) -> hex digest

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("ModelIdentity.name must not be empty")
        for role, digest in self.weights_sha256.items():
            if not (isinstance(digest, str) and len(digest) == 64):
                raise ValueError(f"ModelIdentity.weights_sha256[{role!r}] must be a 64-hex SHA-256, got {digest!r}")


@dataclass(frozen=True, kw_only=True)
class ManifestEntry:
    """One line of the manifest (``input`` absolute; ``video``/``records`` relative to the output folder,
    absolute in older manifests; sizes in bytes; ``input_mtime_ns`` as ``os.stat`` gives)."""

    input: str
    status: Status
    video: str | None
    records: str | None
    frames: int
    people_frames: int
    seconds: float
    error: str | None
    input_size: int | None
    input_mtime_ns: int | None
    model: str
    weights_sha256: dict[str, str]
    options: dict[str, Any]
    node: str | None = None  # host name, or the Ray node id, of the worker that ran it
    worker: str | None = None  # e.g. "pid 1234"
    warnings: list[str] = field(default_factory=list)
    finished: str = ""  # UTC time the line was written (ISO 8601)

    def __post_init__(self) -> None:
        if self.status not in ("done", "failed"):
            raise ValueError(f"ManifestEntry.status must be 'done' or 'failed', got {self.status!r}")
        if (self.status == "failed") != (self.error is not None):
            raise ValueError("ManifestEntry: a failed entry has an error message, a done one has none")
        if not (isinstance(self.input, str) and self.input):
            raise TypeError(f"ManifestEntry.input must be a path, got {self.input!r}")
        for name in ("video", "records", "error", "model"):
            if not isinstance(getattr(self, name), (str, type(None))):
                raise TypeError(f"ManifestEntry.{name} must be a string or null, got {getattr(self, name)!r}")
        for name in ("input_size", "input_mtime_ns", "frames", "people_frames"):
            if not isinstance(getattr(self, name), (int, type(None))) or isinstance(getattr(self, name), bool):
                raise TypeError(f"ManifestEntry.{name} must be a whole number, got {getattr(self, name)!r}")
        if not isinstance(self.weights_sha256, dict) or not isinstance(self.options, dict):
            raise TypeError("ManifestEntry.weights_sha256 and .options must be JSON objects")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ManifestEntry":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


_STRING = r'"((?:[^"\\]|\\.)*)"'


def _field(prefix: str, name: str) -> str | None:
    """The string field ``name`` of a torn (cut short) line, when its value was written whole."""
    m = re.search(rf'"{name}":{_STRING}', prefix)
    if not m:
        return None
    try:
        return json.loads(f'"{m.group(1)}"')
    except ValueError:
        return None


@dataclass(frozen=True, kw_only=True)
class BadLine:
    """A manifest line that was ignored: its number (from 1), why, and what it names when readable."""

    number: int
    reason: str
    input: str | None = None
    outputs: tuple[str, ...] = ()


class Manifest:
    """The manifest of an output folder: :meth:`open` reads it and locks it, :meth:`append` adds a line."""

    def __init__(self, path: Path, fd: int, entries: list[ManifestEntry], bad_lines: list[BadLine],
                 lock: TreeLock | None = None, line_numbers: list[int] | None = None) -> None:
        self.path = path
        self.outdir = path.parent
        self._fd = fd
        self._lock = lock
        self.entries = entries  # every line read at open() plus every line appended since
        self.bad_lines = bad_lines  # lines that could not be used (a crash mid-write, a foreign line): ignored
        self._numbers = list(line_numbers) if line_numbers is not None else list(range(1, len(entries) + 1))

    @property
    def torn_lines(self) -> int:
        """How many lines were ignored."""
        return len(self.bad_lines)

    def problems(self) -> list[str]:
        """One line per ignored manifest line, naming the file, the line and the input that is redone."""
        return [f"{self.path} line {b.number}: {b.reason}; ignored"
                + (f", {b.input} is redone" if b.input else "") for b in self.bad_lines]

    @classmethod
    def open(cls, outdir: str | Path) -> "Manifest":
        """Lock the output tree, create/read ``outdir/manifest.jsonl`` and lock it; :class:`InputError` if
        another batch holds either or the manifest is not a regular file of its own."""
        outdir = Path(outdir)
        path = outdir / MANIFEST_NAME
        lock = TreeLock(outdir, manifest_name=MANIFEST_NAME)
        lock.acquire()
        try:
            fd = _open(path)
        except BaseException:
            lock.release()
            raise
        try:
            _lock(fd, path)
            entries, bad, numbers = _read(fd)
        except BaseException:
            os.close(fd)
            lock.release()
            raise
        return cls(path, fd, entries, bad, lock, numbers)

    def resolve(self, output: str) -> Path:
        """An output path as a manifest line names it (relative to the output folder, or absolute)."""
        return Path(output) if os.path.isabs(output) else self.outdir / output

    def relative(self, output: Path) -> str:
        """How a line names ``output`` (a path inside the output folder): relative to it, with ``/``."""
        return Path(os.path.relpath(output, self.outdir)).as_posix()

    def last_states(self) -> dict[str, ManifestEntry]:
        """Input -> its last entry (none when an ignored line after it names the input: it is redone)."""
        last = {e.input: (n, e) for n, e in zip(self._numbers, self.entries)}
        for b in self.bad_lines:
            if b.input is not None and b.input in last and last[b.input][0] < b.number:
                del last[b.input]
        return {k: e for k, (_, e) in last.items()}

    def recorded_outputs(self) -> set[str]:
        """Every output any line ever named, ignored lines included (these files belong to this batch): the
        real absolute paths."""
        named = [p for e in self.entries for p in (e.video, e.records) if p]
        named += [p for b in self.bad_lines for p in b.outputs]
        return {os.path.realpath(self.resolve(p)) for p in named}

    def redo_inputs(self) -> set[str]:
        """Inputs named by an ignored line (their outputs belong to this batch whatever their names)."""
        states = self.last_states()
        return {b.input for b in self.bad_lines if b.input is not None and b.input not in states}

    def append(self, entry: ManifestEntry) -> None:
        """Write one line (one write call, fsync'd); a failed write is undone and raised as :class:`InputError`."""
        if self._fd < 0:
            raise ValueError(f"manifest {self.path} is closed")
        if not entry.finished:
            entry = ManifestEntry.from_dict({**asdict(entry),
                                             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        data = (entry.to_json() + "\n").encode("utf-8")
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # after a torn line: start a fresh one
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
        except OSError as e:  # a full disk, an I/O error
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size)  # only the bytes of this line (ours): no torn line is left
            raise InputError(f"cannot write the manifest {self.path}: {e.strerror or e}; the line for "
                             f"{entry.input} was not written (it is redone by the next run); free space or "
                             "fix the output folder, then run the same command again") from e
        self.entries.append(entry)
        self._numbers.append(1 << 62)  # after every line read

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # also releases the lock
            self._fd = -1
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _open(path: Path) -> int:
    """The manifest's descriptor (created when missing); refused when it is a link or not a regular file."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if os.path.islink(path):
        raise InputError(f"the manifest {path} is a symbolic link (to {os.readlink(path)}); a batch writes only "
                         "its own regular file there: remove the link or choose another output folder")
    try:
        fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o644)  # O_NONBLOCK: a fifo must not hang
    except OSError as e:
        raise InputError(f"cannot write the manifest {path}: {e.strerror or e}; check the output folder") from e
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = "is not a regular file"
    elif st.st_nlink > 1:
        problem = f"has {st.st_nlink} hard links (lines would also land in the other names)"
    if problem:
        os.close(fd)
        raise InputError(f"the manifest {path} {problem}; a batch writes only its own regular file there: "
                         "move it away or choose another output folder")
    os.set_blocking(fd, True)
    return fd


def _lock(fd: int, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(f"another gazecam batch is writing {path.parent} (its manifest is locked); wait for it "
                         "to finish or choose another output folder") from None
    except OSError:
        pass  # file systems without flock (some network mounts): run unlocked


def _bad(number: int, reason: str, text: str) -> BadLine:
    """What an ignored line still says: its input and outputs, when they were written whole."""
    inp = _field(text, "input")
    outs = tuple(p for p in (_field(text, "video"), _field(text, "records")) if p)
    return BadLine(number=number, reason=reason, input=inp, outputs=outs)


def _read(fd: int) -> tuple[list[ManifestEntry], list[BadLine], list[int]]:
    entries: list[ManifestEntry] = []
    numbers: list[int] = []
    bad: list[BadLine] = []
    with os.fdopen(os.dup(fd), "rb") as f:
        f.seek(0)
        for number, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            text = line.decode("utf-8", errors="replace")
            try:
                data = json.loads(line)
            except ValueError:
                bad.append(_bad(number, "torn (cut short by a crash) or not JSON", text))
                continue
            if not isinstance(data, dict):
                bad.append(BadLine(number=number, reason=f"expected a JSON object, got {type(data).__name__} "
                                                         f"{text[:40]}"))
                continue
            try:
                entries.append(ManifestEntry.from_dict(data))
                numbers.append(number)
            except (ValueError, TypeError) as e:
                inp = data.get("input") if isinstance(data.get("input"), str) else None
                outs = tuple(data[k] for k in ("video", "records") if isinstance(data.get(k), str))
                bad.append(BadLine(number=number, reason=f"not a manifest entry ({' '.join(str(e).split())[:120]})",
                                   input=inp, outputs=outs))
    return entries, bad, numbers
