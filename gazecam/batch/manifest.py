"""``OUTDIR/manifest.jsonl``: one JSON line per input per attempt; the last line of an input is its state.

Append-only: each line is written with one ``write`` and ``fsync``'d, so the file is readable (``tail -f``,
``jq``) while the batch runs and a crash loses at most the line being written (a torn last line is ignored
when read back, and the next line starts on a fresh line).  While a batch runs it holds an exclusive lock
on the manifest (``flock``), so two batches never write one output folder at once.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Mapping

from ..errors import InputError

__all__ = ["MANIFEST_NAME", "ManifestEntry", "Manifest", "ModelIdentity", "jsonable"]

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
    """One line of the manifest (paths absolute; sizes in bytes; ``input_mtime_ns`` as ``os.stat`` gives)."""

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

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ManifestEntry":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class Manifest:
    """The manifest of an output folder: :meth:`open` reads it and locks it, :meth:`append` adds a line."""

    def __init__(self, path: Path, fd: int, entries: list[ManifestEntry], torn_lines: int) -> None:
        self.path = path
        self._fd = fd
        self.entries = entries  # every line read at open() plus every line appended since
        self.torn_lines = torn_lines  # lines that could not be parsed (a crash mid-write), ignored

    @classmethod
    def open(cls, outdir: str | Path) -> "Manifest":
        """Create/read ``outdir/manifest.jsonl`` and lock it; :class:`InputError` if another batch holds it."""
        outdir = Path(outdir)
        path = outdir / MANIFEST_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise InputError(f"cannot write the manifest {path}: {e.strerror or e}; check the output folder") from e
        try:
            _lock(fd, path)
            entries, torn = _read(path)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, entries, torn)

    def last_states(self) -> dict[str, ManifestEntry]:
        """Input -> its last entry."""
        return {e.input: e for e in self.entries}

    def recorded_outputs(self) -> set[str]:
        """Every output path any entry ever named (these files belong to this batch)."""
        return {p for e in self.entries for p in (e.video, e.records) if p}

    def append(self, entry: ManifestEntry) -> None:
        """Write one line (one write call, fsync'd)."""
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
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)
        self.entries.append(entry)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # also releases the lock
            self._fd = -1

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


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


def _read(path: Path) -> tuple[list[ManifestEntry], int]:
    entries: list[ManifestEntry] = []
    torn = 0
    with open(path, "rb") as f:
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            try:
                entries.append(ManifestEntry.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                torn += 1
    return entries, torn
