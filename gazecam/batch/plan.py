"""Where each input's outputs go: the input's relative path mirrored under the output folder.

``in/a.mp4`` and ``in/sub/a.mp4`` -> ``OUT/a.mp4`` + ``OUT/a.jsonl`` and ``OUT/sub/a.mp4`` + ``OUT/sub/a.jsonl``.
When inputs of one folder share a stem (``a.mp4``, ``a.avi``), the non-``.mp4`` ones keep their full
name (``OUT/a.mp4`` + ``OUT/a.jsonl`` and ``OUT/a.avi.mp4`` + ``OUT/a.avi.jsonl``).
Each output is written under one hidden temporary name beside it (:func:`temp_path`; the writers' pending
outputs are held there, :class:`gazecam.outputs.HeldOutputs`) and renamed when the clip is complete,
together with the others and the records' ``.meta.json`` sidecar that the records writer puts beside them.  Before the
renames a hidden commit marker (:attr:`BatchTask.marker`) is written, and removed once the manifest line is:
a crash in between leaves it, and the next run knows those outputs are its own (and redoes the input).
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal, Sequence

from ..errors import InputError
from ..records.meta import meta_path
from .inputs import BatchInput

__all__ = ["BatchTask", "plan_tasks", "temp_path", "TEMP_MARK"]

RecordsFormat = Literal["jsonl", "csv"]

#: Part of every temporary output name (``OUT/sub/.a.gazecam-tmp.mp4``): never a finished file.
TEMP_MARK = ".gazecam-tmp"


def temp_path(final: Path) -> Path:
    """The hidden name an output is written under before it is complete (same folder, same suffix)."""
    return final.with_name(f".{final.stem}{TEMP_MARK}{final.suffix}")


@dataclass(frozen=True, kw_only=True)
class BatchTask:
    """One input with its output paths: what a worker needs to process it (picklable)."""

    input: BatchInput
    rel: PurePath  # the input's mirrored path relative to the output folder (display)
    video_path: Path | None  # final annotated clip, or None (records only)
    records_path: Path | None  # final records, or None (video only)
    records_format: RecordsFormat | None
    frames_estimate: int | None = None  # from the header; for progress only

    def __post_init__(self) -> None:
        if self.video_path is None and self.records_path is None:
            raise ValueError("BatchTask: give video_path and/or records_path")
        if (self.records_path is None) != (self.records_format is None):
            raise ValueError("BatchTask: records_format goes with records_path")

    @property
    def key(self) -> str:
        return self.input.key

    @property
    def outputs(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.video_path, self.records_path) if p is not None)

    @property
    def marker(self) -> Path:
        """The hidden file that says "these outputs are being committed by this batch" (``.a.gazecam-tmp.commit``)."""
        return temp_path(self.outputs[0]).with_suffix(".commit")

    @property
    def sidecars(self) -> tuple[Path, ...]:
        """Files written beside the outputs when the job makes them (the records' ``.meta.json``)."""
        return (meta_path(self.records_path),) if self.records_path is not None else ()


def plan_tasks(inputs: Sequence[BatchInput], *, outdir: Path, video: bool = True,
               records_format: RecordsFormat | None = "jsonl") -> list[BatchTask]:
    """One :class:`BatchTask` per input, outputs mirrored under ``outdir`` (absolute paths)."""
    if not video and records_format is None:
        raise InputError("nothing to write: ask for the annotated video (video=True) and/or records "
                         "(records_format='jsonl' or 'csv')")
    if records_format not in (None, "jsonl", "csv"):
        raise InputError(f"records_format must be 'jsonl' or 'csv', got {records_format!r}")
    if not inputs:
        return []
    outdir = Path(os.path.abspath(outdir))
    root = Path(os.path.commonpath([str(i.base) for i in inputs]))
    rels = [i.path.relative_to(root) for i in inputs]
    stems = [r.parent / (r.stem if i.kind == "video" else r.name) for i, r in zip(inputs, rels)]
    by_stem: dict[str, list[int]] = defaultdict(list)
    for n, s in enumerate(stems):
        by_stem[str(s).lower()].append(n)
    for group in by_stem.values():
        if len(group) > 1:  # a.mp4 + a.avi in one folder: a.avi keeps its full name
            for n in group:
                if inputs[n].kind == "images" or rels[n].suffix.lower() != ".mp4":
                    stems[n] = rels[n]
    tasks = []
    seen: dict[Path, int] = {}
    for n, (item, rel, stem) in enumerate(zip(inputs, rels, stems)):
        vid = outdir / f"{stem}.mp4" if video else None
        rec = outdir / f"{stem}.{records_format}" if records_format else None
        for p in (vid, rec):
            if p is None:
                continue
            other = seen.setdefault(p, n)
            if other != n:
                raise InputError(f"{inputs[other].path} and {item.path} would both write {p}; rename one of them")
        tasks.append(BatchTask(input=item, rel=rel, video_path=vid, records_path=rec, records_format=records_format))
    return tasks
