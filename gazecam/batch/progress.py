"""Terminal progress for a batch: one bar for the whole batch (videos done/failed, frames, frames/s, ETA)
above one bar per running video (one per worker slot); failures and warnings as lines above the bars."""

from __future__ import annotations

import sys
from typing import IO, Any, Callable, Sequence

from .plan import BatchTask
from .runner import BatchListener, BatchSummary
from .task import TaskOutcome

__all__ = ["TqdmProgress"]

NAME_WIDTH = 32


def _short(text: str, width: int = NAME_WIDTH) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


class TqdmProgress(BatchListener):
    """:class:`BatchListener` drawing tqdm bars on ``file`` (stderr); ``quiet``: no bars, failures only."""

    def __init__(self, *, file: IO[str] | None = None, quiet: bool = False, prefix: str = "gazecam batch",
                 reword: Callable[[str], str] | None = None) -> None:
        self.file = file or sys.stderr
        self.quiet = quiet
        self.prefix = prefix
        self.reword = reword or (lambda text: text)  # e.g. the CLI's parameter -> flag wording of warnings
        self._batch: Any = None
        self._videos: dict[int, Any] = {}
        self._frames: dict[str, int] = {}  # frames counted in the batch bar per running input
        self._estimates: dict[str, int] = {}
        self._todo = 0
        self._done = 0
        self._failed = 0
        self._warned: set[str] = set()

    # -- helpers
    def write(self, text: str) -> None:
        from tqdm import tqdm

        tqdm.write(text, file=self.file)

    def warn(self, message: str, *, where: str | None = None) -> None:
        """A warning line, each distinct message once per batch (not with ``quiet``)."""
        message = self.reword(message)
        if self.quiet or message in self._warned:
            return
        self._warned.add(message)
        self.write(f"{self.prefix}: warning: {message}" + (f" ({where})" if where else ""))

    def manifest_problem(self, *, message: str) -> None:
        self.write(f"{self.prefix}: warning: {message}")  # also with ``quiet``: the batch's own record

    def _desc(self) -> str:
        return f"videos {self._done + self._failed}/{self._todo} ({self._failed} failed)"

    # -- BatchListener
    def batch_started(self, *, todo: Sequence[BatchTask], skipped: int, failed_early: int, workers: str) -> None:
        from tqdm import tqdm

        self._todo = len(todo) + failed_early
        if not self.quiet:
            parts = [f"{len(todo)} to do"]
            if skipped:
                parts.append(f"{skipped} already done (skipped)")
            if failed_early:
                parts.append(f"{failed_early} refused")
            self.write(f"{self.prefix}: {', '.join(parts)}")
        known = [t.frames_estimate for t in todo if t.frames_estimate]
        guess = round(sum(known) / len(known)) if known else None  # unknown lengths: the mean of the known
        self._estimates = {t.key: t.frames_estimate or guess for t in todo if t.frames_estimate or guess}
        total = sum(self._estimates.values()) if self._estimates and len(self._estimates) == len(todo) else None
        self._batch = tqdm(total=total, unit="frame", desc=self._desc(), position=0, file=self.file,
                           dynamic_ncols=True, disable=self.quiet or not todo, leave=True)

    def workers_starting(self, *, workers: str) -> None:
        if self._batch is not None and not self.quiet:
            self._batch.set_description_str(f"{self._desc()} - loading the model")

    def workers_ready(self, *, workers: str) -> None:
        if not self.quiet:
            self.write(f"{self.prefix}: models loaded: {workers}")
        if self._batch is not None:
            self._batch.set_description_str(self._desc())
            self._batch.reset(total=self._batch.total)  # rate and ETA from the first frame, not the model load

    def video_started(self, *, slot: int, task: BatchTask) -> None:
        from tqdm import tqdm

        if self._batch is not None:
            self._batch.set_description_str(self._desc())
        old = self._videos.pop(slot, None)
        if old is not None:
            old.close()
        self._frames[task.key] = 0
        self._videos[slot] = tqdm(total=task.frames_estimate, unit="frame", desc=_short(str(task.rel)),
                                  position=slot + 1, file=self.file, dynamic_ncols=True, leave=False,
                                  disable=self.quiet)

    def video_progress(self, *, slot: int, task: BatchTask, frames: int) -> None:
        seen = self._frames.get(task.key, 0)
        if frames > seen:
            self._frames[task.key] = frames
            if self._batch is not None:
                self._batch.update(frames - seen)
            bar = self._videos.get(slot)
            if bar is not None:
                bar.update(frames - bar.n)

    def video_finished(self, *, slot: int | None, task: BatchTask, outcome: TaskOutcome) -> None:
        seen = self._frames.pop(task.key, 0)
        if self._batch is not None:
            if outcome.frames > seen:
                self._batch.update(outcome.frames - seen)
                seen = outcome.frames
            est = self._estimates.pop(task.key, None)
            if self._batch.total is not None and est is not None:  # the estimate was off: fix the total
                self._batch.total = max(self._batch.n, self._batch.total + seen - est)
        if outcome.status == "done":
            self._done += 1
        elif outcome.status == "failed":
            self._failed += 1
            self.write(f"{self.prefix}: failed: {task.input.path}: {outcome.error}")
        for w in outcome.warnings:
            self.warn(w, where=str(task.rel))
        if slot is not None:
            bar = self._videos.pop(slot, None)
            if bar is not None:
                bar.close()
        if self._batch is not None:
            self._batch.set_description_str(self._desc())
            self._batch.refresh()

    def stopping(self) -> None:
        self.write(f"{self.prefix}: stopping: the video(s) in progress are discarded (redone by the next run); "
                   "press Ctrl-C again to quit at once")

    def batch_finished(self, summary: BatchSummary) -> None:
        for bar in self._videos.values():
            bar.close()
        self._videos.clear()
        if self._batch is not None:
            self._batch.close()
            self._batch = None
