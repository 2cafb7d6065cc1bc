"""The real per-video job: :func:`gazecam.jobs.process_source` with a model loaded once per worker.

    factory = ProcessJobFactory(spec=ModelSpec(name="gazelle_dinov2_vitb14_inout"), options=ProcessOptions())
    job = factory()          # in the worker: loads the model (once), gazecam.loading.load_model(spec)
    job(path, video_path=..., records_path=..., records_format="jsonl", stop=event, on_frame=tick)

The factory is a small frozen dataclass, so it travels to worker processes and Ray actors.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .task import JobResult

if TYPE_CHECKING:  # pragma: no cover
    from ..jobs import ProcessOptions
    from ..loading import ModelSpec

log = logging.getLogger(__name__)

__all__ = ["ProcessJobFactory", "ProcessJob"]


@dataclass(frozen=True, kw_only=True)
class ProcessJobFactory:
    """Picklable: builds a :class:`ProcessJob` (loading the model ``spec`` names) in the worker that calls it."""

    spec: "ModelSpec"
    options: "ProcessOptions"

    def __call__(self) -> "ProcessJob":
        from ..loading import load_model

        return ProcessJob(model=load_model(self.spec, notify=log.warning), options=self.options)


class ProcessJob:
    """One loaded model, reused for every clip this worker processes."""

    def __init__(self, *, model: Any, options: "ProcessOptions") -> None:
        self.model = model
        self.options = options

    def __call__(self, source: Path, *, video_path: Path | None, records_path: Path | None,
                 records_format: str | None, stop: threading.Event, on_frame: Callable[[], None]) -> JobResult:
        from ..jobs import process_source

        notes: list[str] = []
        report = process_source(str(source), model=self.model, options=self.options, video_path=video_path,
                                records_path=records_path, records_format=records_format,
                                on_frame=lambda _result: on_frame(), stop=stop, notify=notes.append)
        return JobResult(frames=int(report.frames), people_frames=int(report.people_frames),
                         interrupted=bool(report.interrupted), warnings=tuple(dict.fromkeys(notes)))
