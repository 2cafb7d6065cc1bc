"""Many videos: resumable batches on one machine (one process or N worker processes) or a Ray cluster.

    from gazecam.batch import collect_inputs, run_batch, InlineExecutor, ProcessJobFactory
    inputs = collect_inputs(["videos/"]).inputs
    summary = run_batch(inputs, outdir="out", executor=InlineExecutor(factory), identity=..., result_key=...)

Outputs mirror the inputs' relative paths under the output folder, each written to a temporary name and
renamed when complete; ``OUTDIR/manifest.jsonl`` records every attempt (the last line of an input is its
state) so that re-running resumes.  See README "Many videos".  Importing this package loads no torch;
the Ray executor lives in :mod:`gazecam.batch.ray_executor` (Ray is optional).
"""

from __future__ import annotations

from .executors import Executor, InlineExecutor, ProcessExecutor, WorkerError
from .identity import model_identity
from .inputs import VIDEO_SUFFIXES, BatchInput, InputSet, collect_inputs
from .job import ProcessJob, ProcessJobFactory
from .manifest import MANIFEST_NAME, Manifest, ManifestEntry, ModelIdentity
from .plan import BatchTask, plan_tasks, temp_path
from .runner import BatchListener, BatchSummary, run_batch
from .task import JobFactory, JobResult, TaskOutcome, VideoJob

__all__ = [
    "VIDEO_SUFFIXES", "BatchInput", "InputSet", "collect_inputs", "BatchTask", "plan_tasks", "temp_path",
    "MANIFEST_NAME", "Manifest", "ManifestEntry", "ModelIdentity", "model_identity", "JobResult", "VideoJob",
    "JobFactory", "TaskOutcome", "Executor", "InlineExecutor", "ProcessExecutor", "WorkerError",
    "ProcessJob", "ProcessJobFactory", "BatchListener", "BatchSummary", "run_batch",
]
