"""Benchmark: per-stage timings and frames/s of the backends against a reference run of the official algorithm.

The reference (:class:`~gazecam.research.bench_reference.ReferenceGazeLLE`) re-does the official Gaze-LLE
inference step by step, on the same weights as the backends, in the same process.  Frames come from a
synthetic 1280x720 video decoded frame by frame (:mod:`~gazecam.research.bench_inputs`); configurations
run interleaved (frame i of every configuration before frame i+1) so background load hits them alike.
The heatmaps of every configuration are compared with the reference on the same frames (without the
reference: with the first configuration) by :mod:`gazecam.fidelity` (max heatmap and in/out difference,
argmax shift, agreement).  Timing does not depend on weight values, so random weights give representative
figures; the fidelity columns do (on random weights they are a proxy).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..fidelity import FIDELITY_BOUND, Fidelity, FidelityMeter, within_bound
from ..predictor import HeadBox
from ..types import STAGE_NAMES, Frame, GazePrediction, GazeResult, HeadBoxes
from .bench_inputs import bench_head_boxes
from .bench_reference import ReferenceGazeLLE

__all__ = ["STAGES", "SUMMARY_TOL", "StageHooks", "ConfigResult", "BenchReport", "run_benchmark", "format_report",
           "save_chart"]

SUMMARY_TOL = 1e-3  # issue 4: the speedup counts only for heatmaps within 1e-3 of the reference
STAGES = (*STAGE_NAMES[:2], "preprocess", *STAGE_NAMES[2:])  # the pipeline's stages, preprocessing apart
#: Pause before each configuration's frame, outside its timing: after a torch run its OpenMP worker threads
#: spin-wait for more work for a while and would take the CPUs from the next configuration's capture and model
#: (on 2 cores: +3-4 ms capture, +2-3 ms per ONNX Runtime run right after a torch row).
SETTLE_S = 0.05


# -- runners: one per configuration ------------------------------------------------------------------------
class _Runner:
    """preprocess / encode / decode of one configuration, with device sync for honest stage times."""

    def __init__(self, label: str, impl: Any, *, reference: bool, compare: bool = True) -> None:
        self.label = label
        self.impl = impl
        self.reference = reference
        self.compare = compare  # False: another model, timed only (its heatmaps differ by design)
        dev = str(getattr(impl, "device", "cpu"))
        self._cuda = dev.startswith("cuda")

    def sync(self) -> None:
        if self._cuda:
            import torch

            torch.cuda.synchronize()

    def preprocess(self, image: np.ndarray) -> Any:
        return self.impl.preprocess(image)

    def encode(self, pixels: Any, size: tuple[int, int]) -> Any:
        if self.reference:
            return self.impl.encode(pixels)
        return self.impl.encode_pixels(pixels, [size])

    def decode(self, feats: Any, heads: Sequence[HeadBox]) -> tuple[np.ndarray, np.ndarray | None]:
        if self.reference:
            return self.impl.decode(feats, heads)
        pred = self.impl.decode(feats, heads)
        return pred.heatmaps, pred.inout


class _StageModel:
    """A configuration as the gaze stage's model: ``encode`` = preprocess + encode, each synced and timed.

    The gaze stage times ``encode`` as a whole; the benchmark reports preprocessing apart (``preprocess_ms``,
    ``encode_ms`` of the last call), as the reference does it step by step.
    """

    def __init__(self, runner: _Runner, model: Any) -> None:
        self.runner = runner
        self.name, self.released, self.note = runner.label, bool(model.released), str(model.note)
        self.has_inout = bool(model.has_inout)
        self.heatmap_size = int(getattr(runner.impl, "heatmap_size", getattr(model, "heatmap_size", 64)))
        self.preprocess_ms = self.encode_ms = float("nan")

    def encode(self, image: np.ndarray) -> Any:
        r = self.runner
        pixels, self.preprocess_ms = _timed(lambda: r.preprocess(image), r.sync)
        feats, self.encode_ms = _timed(lambda: r.encode(pixels, (int(image.shape[0]), int(image.shape[1]))), r.sync)
        return feats

    def decode(self, feats: Any, heads: np.ndarray) -> GazePrediction:
        heat, inout = self.runner.decode(feats, [tuple(float(v) for v in box) for box in heads])  # (N, 4) normalised
        self.runner.sync()
        return GazePrediction(heatmaps=heat, inout=inout)


class _FixedHeads:
    """The benchmark's head boxes on every frame, after running the detect hook (timed as detection)."""

    is_fallback = False
    name = "bench heads"

    def __init__(self, boxes: Sequence[HeadBox], detect: Callable[[np.ndarray, int], Any] | None) -> None:
        self.boxes_norm = np.array(boxes, np.float32).reshape(-1, 4)  # (N, 4)
        self._detect = detect

    def detect(self, frame: Frame) -> HeadBoxes:
        if self._detect is not None:
            self._detect(frame.image, frame.index)  # the boxes themselves stay fixed (same for every configuration)
        h, w = frame.height, frame.width
        return HeadBoxes(xyxy=self.boxes_norm * np.array([w, h, w, h], np.float32), image_size=(h, w))


@dataclass
class StageHooks:
    """The non-model stages.  ``frames`` yields H x W x 3 uint8 RGB frames (a fresh iterator per configuration);
    ``detect(image, index)``, ``render(result) -> image`` (a :class:`~gazecam.types.GazeResult`) and
    ``write(image)`` may be None (reported as n/a).  ``names`` labels each stage's implementation."""

    frames: Callable[[], Iterator[np.ndarray]]
    detect: Callable[[np.ndarray, int], Any] | None = None
    render: Callable[[GazeResult], np.ndarray] | None = None
    write: Callable[[np.ndarray], None] | None = None
    names: dict[str, str] = field(default_factory=dict)
    close: Callable[[], None] | None = None


@dataclass
class ConfigResult:
    label: str
    heads: int
    stage_ms: dict[str, float | None]  # median ms per frame; None = stage not run (n/a)
    total_ms: float  # mean per-frame wall time of all stages
    fps: float
    frames: int
    max_heatmap_diff: float | None  # vs the reference on the same frames (None for the reference itself)
    max_inout_diff: float | None
    fidelity: Fidelity | None = None  # vs the reference (or the first configuration) on the same frames


@dataclass
class BenchReport:
    model: str
    released: bool
    note: str
    device: str
    machine: str
    versions: dict[str, str]
    frame_size: tuple[int, int]
    frames: int
    warmup: int
    stage_impl: dict[str, str]
    results: list[ConfigResult]
    load_avg: tuple[float, float] = (float("nan"), float("nan"))  # 1-min load average at start / end
    cpus: int = 0

    def summary(self) -> list[tuple[int, ConfigResult, ConfigResult]]:
        """Per head count: (heads, reference, fastest configuration within SUMMARY_TOL of the reference).

        If no configuration is that close, the fastest one (its line then says it exceeds the tolerance).
        """
        out = []
        for n in sorted({r.heads for r in self.results}):
            ref = [r for r in self.results if r.heads == n and r.label == ReferenceGazeLLE.label]
            others = [r for r in self.results if r.heads == n and r.label != ReferenceGazeLLE.label
                      and r.max_heatmap_diff is not None]  # rows of other models (not compared) never count
            close = [r for r in others if r.max_heatmap_diff is not None and r.max_heatmap_diff <= SUMMARY_TOL]
            if ref and others:
                out.append((n, ref[0], max(close or others, key=lambda r: r.fps)))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN -> None) plus the per-head-count summary."""
        d = asdict(self)
        d["load_avg"] = [v if v == v else None for v in self.load_avg]
        d["summary"] = [{"heads": n, "best": best.label, "speedup": best.fps / ref.fps,
                         "max_heatmap_diff": best.max_heatmap_diff,
                         "within_tolerance": best.max_heatmap_diff is not None and best.max_heatmap_diff <= SUMMARY_TOL}
                        for n, ref, best in self.summary()]
        return d


def _load_avg() -> float:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):  # pragma: no cover - not on Unix
        return float("nan")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 0


def _timed(fn: Callable[[], Any], sync: Callable[[], None]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    sync()
    return out, (time.perf_counter() - t) * 1000.0


def _run_all(runners: list[_Runner], *, model: Any, heads: Sequence[int], frames: int, warmup: int,
             hooks: StageHooks, progress: Callable[[str], None] | None, total_steps: int) -> tuple[list[ConfigResult], tuple[int, int]]:
    """The timing loop: per head count, frame i of every runner (reference first) before frame i + 1.

    Every configuration runs the pipeline's per-frame step (:class:`~gazecam.pipeline.FrameProcessor`).
    """
    import torch

    from ..gaze import GazeOptions
    from ..options import ProcessOptions
    from ..pipeline import build_processor

    options = ProcessOptions(gaze=GazeOptions(smooth=False))

    results: list[ConfigResult] = []
    frame_size = (0, 0)
    step = 0
    for n in heads:
        detector = _FixedHeads(bench_head_boxes(n), hooks.detect)
        models = {r.label: _StageModel(r, model) for r in runners}
        # one per-frame step (detect -> gaze) per configuration, as the pipeline runs it: stride 1, no smoothing
        steps = {r.label: build_processor(models[r.label], options, fps=None, detector=detector, track=False)
                 for r in runners}
        streams = {r.label: hooks.frames() for r in runners}
        times = {r.label: {s: [] for s in STAGES} for r in runners}
        totals: dict[str, list[float]] = {r.label: [] for r in runners}
        # vs runners[0] (the reference, or the first); runners of other models (compare=False) are timed only
        meters = {r.label: FidelityMeter() for r in runners[1:] if r.compare}
        for i in range(warmup + frames):
            ref_out: tuple[np.ndarray, np.ndarray | None] | None = None
            for r in runners:
                step += 1
                if progress:
                    progress(f"{n} head{'s' if n > 1 else ''}, {r.label}, frame {i + 1}/{warmup + frames} "
                             f"({step}/{total_steps})")
                time.sleep(SETTLE_S)  # the previous configuration's spinning worker threads go idle first
                t_all = time.perf_counter()
                rec: dict[str, float] = {}
                try:
                    image, rec["capture"] = _timed(lambda s=streams[r.label]: next(s), lambda: None)
                except StopIteration:
                    raise RuntimeError(f"the benchmark video has fewer than {warmup + frames} frames") from None
                frame_size = (int(image.shape[0]), int(image.shape[1]))
                with torch.inference_mode():
                    result = steps[r.label].step(Frame(image=image, index=i, timestamp_s=i / 25.0))
                if hooks.detect is not None:
                    rec["detect"] = result.timings.detect
                rec["preprocess"], rec["encode"] = models[r.label].preprocess_ms, models[r.label].encode_ms
                rec["decode"] = result.timings.decode
                heat, inout = result.heatmaps, result.inout
                if hooks.render is not None:
                    drawn, rec["render"] = _timed(lambda: hooks.render(result), lambda: None)  # type: ignore[misc]
                else:
                    drawn = image
                if hooks.write is not None:
                    _, rec["write"] = _timed(lambda: hooks.write(drawn), lambda: None)  # type: ignore[misc]
                wall = (time.perf_counter() - t_all) * 1000.0
                if r is runners[0]:
                    ref_out = (heat, inout)
                elif ref_out is not None and r.label in meters:  # other models (compare=False): timed only
                    meters[r.label].add(heat, ref_out[0], inout, ref_out[1])
                if i >= warmup:
                    for s, v in rec.items():
                        times[r.label][s].append(v)
                    totals[r.label].append(wall)
        for stream in streams.values():
            close = getattr(stream, "close", None)  # generators: closes the video file now
            if close is not None:
                close()
        for r in runners:
            stage_ms = {s: (statistics.median(v) if v else None) for s, v in times[r.label].items()}
            mean_total = statistics.fmean(totals[r.label])
            fid = meters[r.label].result() if r.label in meters else None
            results.append(ConfigResult(
                label=r.label, heads=n, stage_ms=stage_ms, total_ms=mean_total, fps=1000.0 / mean_total,
                frames=frames, max_heatmap_diff=None if fid is None else fid.max_heatmap_diff,
                max_inout_diff=None if fid is None else fid.max_inout_diff, fidelity=fid))
    return results, frame_size


def run_benchmark(*, model: Any, backends: Sequence[tuple[str, Any]], heads: Sequence[int], frames: int,
                  hooks: StageHooks, warmup: int = 1, reference: bool = True,
                  progress: Callable[[str], None] | None = None,
                  others: Sequence[tuple[str, Any]] = ()) -> BenchReport:
    """Time ``backends`` ((label, backend) pairs) and the reference on ``frames`` frames per head count.

    ``others``: (label, backend) pairs of *other* models, timed in the same interleaved loop (speedup
    against this run's reference) but not compared with it (no heatmap diff; never the summary's pick).
    """
    import torch

    runners = [_Runner(label, impl, reference=False) for label, impl in backends]
    runners += [_Runner(label, impl, reference=False, compare=False) for label, impl in others]
    if reference:
        runners.insert(0, _Runner(ReferenceGazeLLE.label, ReferenceGazeLLE(model), reference=True))
    load_start = _load_avg()
    total_steps = len(heads) * len(runners) * (frames + warmup)
    try:
        results, frame_size = _run_all(runners, model=model, heads=heads, frames=frames, warmup=warmup,
                                       hooks=hooks, progress=progress, total_steps=total_steps)
    finally:
        if hooks.close is not None:
            hooks.close()
    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    try:
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    except ImportError:  # pragma: no cover
        pass
    device = str(model.device)
    if device.startswith("cuda"):
        machine = torch.cuda.get_device_name(model.device)
    else:
        machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"
    return BenchReport(model=model.name, released=bool(model.released), note=model.note, device=device,
                       machine=machine, versions=versions, frame_size=frame_size, frames=frames, warmup=warmup,
                       stage_impl={s: hooks.names.get(s, "n/a" if s in ("detect", "render", "write") and
                                                       getattr(hooks, s) is None else "") for s in STAGES},
                       results=results, load_avg=(load_start, _load_avg()), cpus=_cpus())


# -- output -------------------------------------------------------------------------------------------------
def _fmt_ms(v: float | None) -> str:
    return "n/a" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")


def format_report(report: BenchReport) -> str:
    lines = []
    h, w = report.frame_size
    weights = "released weights" if report.released else f"NOT released weights: {report.note or 'unknown'}"
    lines.append(f"gazecam bench: {report.model} ({weights}; timings do not depend on weight values)")
    lines.append(f"device {report.device} ({report.machine}); " + ", ".join(f"{k} {v}" for k, v in
                                                                             report.versions.items()))
    lines.append(f"{w}x{h} synthetic H.264 video, {report.frames} timed frames per row after {report.warmup} "
                 "warm-up; median ms per stage, frames/s = 1000 / mean per-frame total")
    lo, hi = report.load_avg
    if lo == lo:  # not NaN
        busy = max(lo, hi) > 1.5 * max(1, report.cpus)
        lines.append(f"CPU load (1-min average) at start / end: {lo:.1f} / {hi:.1f} on {report.cpus} CPUs"
                     + (" - OTHER PROCESSES COMPETED FOR THE CPUS: figures are noisy" if busy else ""))
    impl = ", ".join(f"{s}: {v}" for s, v in report.stage_impl.items() if v)
    if impl:
        lines.append(f"stages: {impl}")
    head = ["heads", "config"] + list(STAGES) + ["total", "frames/s", "speedup", "max diff", "in/out diff",
                                                 "shift", "agree"]
    rows = []
    refs = {r.heads: r for r in report.results if r.label == ReferenceGazeLLE.label}
    for r in report.results:
        ref = refs.get(r.heads)
        speed = f"{r.fps / ref.fps:.2f}x" if ref is not None else "-"
        fid = r.fidelity
        fid_cols = ["-"] * 4 if fid is None else [
            f"{fid.max_heatmap_diff:.1e}", "-" if fid.max_inout_diff is None else f"{fid.max_inout_diff:.1e}",
            f"{fid.mean_argmax_shift_cells:.2f}", f"{100 * fid.agreement:.0f}%"]
        rows.append([str(r.heads), r.label] + [_fmt_ms(r.stage_ms[s]) for s in STAGES]
                    + [_fmt_ms(r.total_ms), f"{r.fps:.3f}" if r.fps < 10 else f"{r.fps:.1f}", speed] + fid_cols)
    widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    fmt = lambda row: "  ".join(c.ljust(wd) if i < 2 else c.rjust(wd) for i, (c, wd) in enumerate(zip(row, widths)))  # noqa: E731
    lines.append(fmt(head))
    lines.extend(fmt(r) for r in rows)
    base = report.results[0].label if report.results else "-"
    lines.append(f"fidelity vs {base} on the same frames: max diff = max heatmap difference, shift = mean argmax "
                 "displacement in heatmap cells (of 64), agree = heads within 1 cell of its gaze point or where its "
                 "heatmap is >= 99% of its peak" + ("" if report.released else " (random weights: a proxy)"))
    for n, ref, best in report.summary():
        diff = best.max_heatmap_diff
        flag = "" if diff is not None and diff <= SUMMARY_TOL else f"; EXCEEDS {SUMMARY_TOL:.0e}"
        lines.append(f"speedup vs reference ({n} heads): {best.fps / ref.fps:.2f}× frames/s, "
                     f"max heatmap diff {diff:.1e} [{best.label}{flag}]")
        bound = [r for r in report.results if r.heads == n and r.fidelity is not None and within_bound(r.fidelity)]
        fastest = max(bound, key=lambda r: r.fps, default=None)
        if fastest is not None and fastest is not best:
            lines.append(f"  reduced precision within the bound (max heatmap diff <= "
                         f"{FIDELITY_BOUND['max_heatmap_diff']}, agreement >= {FIDELITY_BOUND['agreement']:.0%}): "
                         f"{fastest.fps / ref.fps:.2f}× "
                         f"[{fastest.label}: {fastest.fidelity.summary()}]")  # type: ignore[union-attr]
    return "\n".join(lines)


def save_chart(report: BenchReport, path: str | Path) -> Path:
    """Stacked horizontal bars of the stage times per configuration and head count (PNG, matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heads = sorted({r.heads for r in report.results})
    fig, axes = plt.subplots(len(heads), 1, figsize=(10, 1.2 + 1.1 * len(report.results) / max(1, len(heads))
                                                     * len(heads)), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, n in zip(axes[:, 0], heads):
        rows = [r for r in report.results if r.heads == n]
        for y, r in enumerate(rows):
            left = 0.0
            for k, s in enumerate(STAGES):
                v = r.stage_ms[s]
                if v is None:
                    continue
                ax.barh(y, v, left=left, color=colors[k % len(colors)], label=s if y == 0 else None)
                left += v
            ax.text(left, y, f"  {r.fps:.2f} fps", va="center", fontsize=8)
        ax.set_yticks(range(len(rows)), [r.label for r in rows])
        ax.invert_yaxis()
        ax.set_title(f"{n} head{'s' if n > 1 else ''}", fontsize=10)
        ax.set_xlabel("ms per frame")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=max(1, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(f"gazecam bench: {report.model} on {report.device} ({report.machine})", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    from ..outputs import atomic_output

    out = Path(path)
    try:
        with atomic_output(out) as tmp:  # same suffix: matplotlib picks the format from it
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return out
