"""The real per-video job: :func:`gazecam.jobs.process_source` with a model loaded once per worker.

    factory = ProcessJobFactory(load_model=functools.partial(load_model, spec), options=ProcessOptions())
    job = factory()          # in the worker: loads the model (once)
    job(path, video_path=..., records_path=..., records_format="jsonl", stop=event, on_frame=tick)

``load_model`` must be picklable (a module-level function, or a ``functools.partial`` of one) so that the
factory can travel to worker processes and Ray actors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .task import JobResult

if TYPE_CHECKING:  # pragma: no cover
    from ..jobs import ProcessOptions

__all__ = ["ProcessJobFactory", "ProcessJob"]


@dataclass(frozen=True, kw_only=True)
class ProcessJobFactory:
    """Picklable: builds a :class:`ProcessJob` (loading the model) in the worker that calls it."""

    load_model: Callable[[], Any]
    options: "ProcessOptions"

    def __call__(self) -> "ProcessJob":
        return ProcessJob(model=self.load_model(), options=self.options)


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
