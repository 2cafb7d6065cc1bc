"""Fidelity against fp32: per-head comparison, the accumulated summary, and the bench columns (fake backends)."""

from __future__ import annotations

import numpy as np
import pytest

from gazecam.fidelity import AGREE_PEAK_FRACTION, FidelityMeter, compare_heads
from gazecam.types import GazePrediction


def _blob(row: float, col: float, *, size: int = 64, sigma: float = 3.0, peak: float = 0.8) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return (peak * np.exp(-((y - row) ** 2 + (x - col) ** 2) / (2 * sigma ** 2))).astype(np.float32)


def test_known_shift_gives_known_columns():
    ref = np.stack([_blob(20, 20), _blob(40, 10)])
    shifted = np.stack([_blob(20, 23), _blob(41, 10)])  # head 0: 3 cells right; head 1: 1 cell down
    c = compare_heads(shifted, ref, np.array([0.9, 0.2]), np.array([0.8, 0.25]))
    np.testing.assert_allclose(c.argmax_shift_cells, [3.0, 1.0])
    assert c.within_cell.tolist() == [False, True]
    assert c.agree.tolist() == [False, True]  # 3 cells away the fp32 blob is at exp(-9/18) = 61% of its peak
    np.testing.assert_allclose(c.heatmap_diff, np.abs(shifted - ref).reshape(2, -1).max(axis=1))
    np.testing.assert_allclose(c.inout_diff, [0.1, 0.05], atol=1e-6)


def test_a_jump_between_near_equal_peaks_agrees():
    ref = _blob(10, 10) + _blob(50, 50, peak=0.8 * (AGREE_PEAK_FRACTION + 0.005))  # second peak 99.5% of first
    other = ref.copy()
    other[50, 50] = 1.0  # this configuration's maximum is at the far second peak
    c = compare_heads(other[None], ref[None])
    assert c.argmax_shift_cells[0] == pytest.approx(np.hypot(40, 40))
    assert not c.within_cell[0] and c.agree[0]
    ref2 = _blob(10, 10) + _blob(50, 50, peak=0.8 * (AGREE_PEAK_FRACTION - 0.02))  # 97%: a real disagreement
    c2 = compare_heads(other[None], ref2[None])
    assert not c2.agree[0]


def test_meter_accumulates_over_frames_and_heads():
    meter = FidelityMeter()
    assert meter.result() is None
    ref = np.stack([_blob(20, 20), _blob(40, 40)])
    meter.add(ref, ref, np.array([0.5, 0.5]), np.array([0.5, 0.5]))  # identical frame
    meter.add(np.stack([_blob(20, 25), _blob(40, 40)]), ref, np.array([0.5, 0.7]), np.array([0.5, 0.5]))
    meter.add(np.zeros((0, 64, 64)), np.zeros((0, 64, 64)))  # a frame without heads changes nothing
    f = meter.result()
    assert f is not None and f.heads == 4
    assert f.agreement == pytest.approx(3 / 4) and f.within_cell == pytest.approx(3 / 4)
    assert f.mean_argmax_shift_cells == pytest.approx(5 / 4)
    assert f.max_inout_diff == pytest.approx(0.2, abs=1e-6)
    assert f.max_heatmap_diff == pytest.approx(float(np.abs(_blob(20, 25) - _blob(20, 20)).max()))
    assert "agreement 75.0%" in f.summary()


def test_shape_errors():
    with pytest.raises(ValueError, match="heatmap arrays of one shape"):
        compare_heads(np.zeros((2, 64, 64)), np.zeros((3, 64, 64)))
    with pytest.raises(ValueError, match="in/out scores"):
        compare_heads(np.zeros((2, 64, 64)), np.zeros((2, 64, 64)), np.zeros(3), np.zeros(2))


# -- the bench columns, with fake backends -------------------------------------------------------------------
class _ShiftBackend:
    """Heatmap of head k peaks at (row 10 + 8 k, col 12 + shift); in/out = 0.5 + inout_shift."""

    def __init__(self, shift: int, inout_shift: float = 0.0) -> None:
        self.shift, self.inout_shift = shift, inout_shift
        self.device = "cpu"

    def preprocess(self, image):
        return image

    def encode_pixels(self, pixels, sizes):
        return sizes

    def decode(self, feats, heads):
        n = len(heads)
        heat = np.stack([_blob(10 + 8 * k, 12 + self.shift) for k in range(n)])
        return GazePrediction(heatmaps=heat, inout=np.full(n, 0.5 + self.inout_shift, np.float32))


class _FakeModel:
    name, released, note, has_inout, device = "fake", False, "fake weights", True, "cpu"


def test_bench_fidelity_columns_with_a_known_shift():
    from gazecam.research.bench import StageHooks, format_report, run_benchmark
    from gazecam.research.bench_inputs import synthetic_frame

    frames = [synthetic_frame(i, width=32, height=24) for i in range(3)]
    hooks = StageHooks(frames=lambda: iter(frames))
    backends = [("fp32", _ShiftBackend(0)), ("near", _ShiftBackend(1, 0.01)), ("far", _ShiftBackend(4, 0.1))]
    report = run_benchmark(model=_FakeModel(), backends=backends, heads=[2], frames=2, warmup=1, hooks=hooks,
                           reference=False)
    by_label = {r.label: r for r in report.results}
    assert by_label["fp32"].fidelity is None  # the baseline itself
    near, far = by_label["near"].fidelity, by_label["far"].fidelity
    assert near is not None and far is not None
    assert near.heads == far.heads == 2 * 3  # 2 heads on every frame, warm-up frames included
    assert near.agreement == 1.0 and near.mean_argmax_shift_cells == pytest.approx(1.0)
    assert far.agreement == 0.0 and far.mean_argmax_shift_cells == pytest.approx(4.0)
    assert far.max_heatmap_diff == pytest.approx(float(np.abs(_blob(10, 16) - _blob(10, 12)).max()))
    assert near.max_inout_diff == pytest.approx(0.01, abs=1e-6) and far.max_inout_diff == pytest.approx(0.1, abs=1e-6)
    assert by_label["far"].max_heatmap_diff == far.max_heatmap_diff
    text = format_report(report)
    far_line = next(line for line in text.splitlines() if line.startswith("2 ") and " far " in line)
    assert far_line.split()[-4:] == [f"{far.max_heatmap_diff:.1e}", "1.0e-01", "4.00", "0%"]
    assert "fidelity vs fp32" in text


def test_within_bound():
    from gazecam.fidelity import FIDELITY_BOUND, Fidelity, within_bound

    ok = Fidelity(heads=10, max_heatmap_diff=FIDELITY_BOUND["max_heatmap_diff"], max_inout_diff=None,
                  mean_argmax_shift_cells=0.1, agreement=FIDELITY_BOUND["agreement"], within_cell=0.9)
    assert within_bound(ok)
    assert not within_bound(Fidelity(heads=10, max_heatmap_diff=0.03, max_inout_diff=None,
                                     mean_argmax_shift_cells=0.0, agreement=1.0, within_cell=1.0))
    assert not within_bound(Fidelity(heads=10, max_heatmap_diff=0.001, max_inout_diff=None,
                                     mean_argmax_shift_cells=2.0, agreement=0.9, within_cell=0.9))


def test_bench_parses_int8_for_onnxruntime_only():
    from gazecam.research.bench_inputs import parse_backend_specs

    (spec,) = parse_backend_specs("onnxruntime:int8")
    assert spec.label == "onnxruntime:int8" and spec.precision == "int8"
    with pytest.raises(ValueError, match="onnxruntime:int8"):
        parse_backend_specs("torch:int8")


def test_report_names_the_fastest_reduced_precision_within_the_bound():
    from gazecam.fidelity import Fidelity
    from gazecam.research.bench import STAGES, BenchReport, ConfigResult, format_report

    def result(label, fps, fid):
        return ConfigResult(label=label, heads=1, stage_ms={s: 1.0 for s in STAGES}, total_ms=1000 / fps, fps=fps,
                            frames=1, max_heatmap_diff=None if fid is None else fid.max_heatmap_diff,
                            max_inout_diff=None, fidelity=fid)

    exact = Fidelity(heads=5, max_heatmap_diff=1e-7, max_inout_diff=None, mean_argmax_shift_cells=0.0,
                     agreement=1.0, within_cell=1.0)
    close = Fidelity(heads=5, max_heatmap_diff=4e-3, max_inout_diff=None, mean_argmax_shift_cells=0.2,
                     agreement=1.0, within_cell=0.8)
    far = Fidelity(heads=5, max_heatmap_diff=0.05, max_inout_diff=None, mean_argmax_shift_cells=3.0,
                   agreement=0.6, within_cell=0.6)
    report = BenchReport(model="m", released=False, note="", device="cpu", machine="x", versions={},
                         frame_size=(64, 96), frames=1, warmup=0, stage_impl={},
                         results=[result("reference", 1.0, None), result("onnxruntime", 1.5, exact),
                                  result("onnxruntime:int8", 2.5, close), result("too-far", 4.0, far)])
    text = format_report(report)
    assert "speedup vs reference (1 heads): 1.50×" in text
    line = next(ln for ln in text.splitlines() if "reduced precision within the bound" in ln)
    assert "2.50×" in line and "onnxruntime:int8" in line and "too-far" not in line
