"""What a report is made of: records files, or the ``done`` videos of a ``gazecam batch`` output folder.

* a ``.jsonl`` / ``.csv`` records file is one video;
* a folder holding ``manifest.jsonl``, or that manifest itself, is a batch: the last line per input is
  its state; ``done`` inputs are reported (their ``records`` path, relative to the folder or absolute),
  the others are listed as skipped with their reason.

The manifest is only read here (never locked or written), so a report can be made while a batch runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..records import RecordsError, RecordsMeta, read_meta

__all__ = ["RecordsSource", "SkippedInput", "resolve_inputs", "MANIFEST_NAME"]

MANIFEST_NAME = "manifest.jsonl"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordsSource:
    """One video's records: where they are, what to call them, where its frames can be read."""

    records_path: Path
    label: str
    video_path: Path | None = None  # a video file to take the density background from
    meta: RecordsMeta | None = None  # the records' sidecar, if any
    model_hint: str = ""  # the model named by a batch manifest (when there is no sidecar)


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedInput:
    """A batch input that is not in the report, and why."""

    input: str
    reason: str


def _is_manifest(path: Path) -> bool:
    if path.name == MANIFEST_NAME:
        return True
    if path.suffix.lower() != ".jsonl" or not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    obj = json.loads(line)
                    return isinstance(obj, dict) and "status" in obj and "input" in obj and "frame" not in obj
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return False


def _read_manifest(path: Path) -> tuple[list[RecordsSource], list[SkippedInput]]:
    outdir = path.parent
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise RecordsError(f"cannot read the batch manifest {path}: {e}") from e
    last: dict[str, dict] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash mid-write: the batch ignores it too
        if isinstance(obj, dict) and isinstance(obj.get("input"), str):
            last[obj["input"]] = obj
    sources: list[RecordsSource] = []
    skipped: list[SkippedInput] = []
    for name, entry in last.items():
        status = entry.get("status")
        if status != "done":
            reason = entry.get("error") or f"status {status!r}"
            skipped.append(SkippedInput(input=name, reason=f"{status}: {reason}" if status == "failed" else reason))
            continue
        records = entry.get("records")
        if isinstance(records, list):  # tolerate a list of paths: the first records file
            records = next((r for r in records if isinstance(r, str)), None)
        if not isinstance(records, str) or not records:
            skipped.append(SkippedInput(input=name, reason="done, but the batch wrote no records for it"))
            continue
        rec = Path(records) if os.path.isabs(records) else outdir / records
        if not rec.is_file():
            skipped.append(SkippedInput(input=name, reason=f"its records {rec} are missing"))
            continue
        try:
            meta = read_meta(rec)
        except RecordsError as e:  # one video's damaged sidecar does not sink the whole batch report
            skipped.append(SkippedInput(input=name, reason=str(e)))
            continue
        video = Path(name)
        sources.append(RecordsSource(records_path=rec, label=name, video_path=video if video.is_file() else None,
                                     meta=meta, model_hint=str(entry.get("model") or "")))
    return sources, skipped


def _short_labels(labels: list[str]) -> list[str]:
    """File names where they are unique, else paths relative to the inputs' common folder."""
    names = [Path(s).name for s in labels]
    if len(set(names)) == len(names):
        return names
    try:
        common = os.path.commonpath([str(Path(s).parent) for s in labels])
    except ValueError:  # different drives
        return labels
    return [os.path.relpath(s, common) for s in labels]


def resolve_inputs(paths: Sequence[str | Path]) -> tuple[list[RecordsSource], list[SkippedInput]]:
    """The videos to report (one :class:`RecordsSource` each) and the batch inputs left out.

    Raises :class:`~gazecam.records.RecordsError` for a path that does not exist, a folder without a batch
    manifest, or the same records given twice.
    """
    if not paths:
        raise RecordsError("no records given; expected gazecam .jsonl/.csv records files or a batch output folder")
    sources: list[RecordsSource] = []
    skipped: list[SkippedInput] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            manifest = path / MANIFEST_NAME
            if not manifest.is_file():
                raise RecordsError(f"{path} is a folder without a gazecam batch {MANIFEST_NAME}; expected records "
                                   "files (.jsonl/.csv) or a gazecam batch output folder")
            found, left = _read_manifest(manifest)
        elif not path.exists():
            raise RecordsError(f"records {path} does not exist; expected gazecam .jsonl/.csv records files or a "
                               "gazecam batch output folder")
        elif _is_manifest(path):
            found, left = _read_manifest(path)
        else:
            found, left = [RecordsSource(records_path=path, label=str(path), meta=read_meta(path))], []
        sources.extend(found)
        skipped.extend(left)
    for i, a in enumerate(sources):
        for b in sources[:i]:
            if os.path.samefile(a.records_path, b.records_path):
                raise RecordsError(f"records {a.records_path} are given twice (also as {b.records_path})")
    labels = _short_labels([s.label for s in sources])
    sources = [RecordsSource(records_path=s.records_path, label=label, video_path=s.video_path, meta=s.meta,
                             model_hint=s.model_hint) for s, label in zip(sources, labels)]
    return sources, skipped
