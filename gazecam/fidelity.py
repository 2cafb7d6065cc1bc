"""How far a reduced-precision configuration's gaze is from fp32's on the same frames (numpy only).

Per head, against the fp32 heatmap of the same head on the same frame:

* heatmap difference: ``max |h - h_fp32|`` (heatmaps are in [0, 1]);
* in/out difference: ``|p - p_fp32|`` of the in/out score (models with an in/out head);
* argmax displacement: Euclidean distance in heatmap cells (of 64) between the two gaze points (the first
  maximum of each heatmap, :func:`gazecam.types.heatmap_argmax_norm`'s convention);
* **agreement**: the gaze point is within :data:`AGREE_CELLS` cell of fp32's (Chebyshev distance: the
  8 neighbouring cells count), *or* it lands where the fp32 heatmap is at least :data:`AGREE_PEAK_FRACTION`
  of the fp32 peak.  Flat heatmaps have near-ties far apart; a jump between two near-equal peaks is no error.

:class:`FidelityMeter` accumulates frames; :meth:`FidelityMeter.result` gives a :class:`Fidelity`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AGREE_CELLS", "AGREE_PEAK_FRACTION", "FIDELITY_BOUND", "Fidelity", "FidelityMeter", "HeadAgreement",
           "compare_heads", "within_bound"]

AGREE_CELLS = 1  # within this many heatmap cells (Chebyshev) of fp32's gaze point
AGREE_PEAK_FRACTION = 0.99  # or where fp32's heatmap is at least this share of its peak
# the bound a reduced-precision mode must stay within (issue 13; precision="auto" picks only such modes)
FIDELITY_BOUND = {"max_heatmap_diff": 0.02, "agreement": 0.95}


@dataclass(frozen=True, kw_only=True)
class HeadAgreement:
    """Per-head comparison of one frame's heatmaps with fp32's (arrays of length N)."""

    heatmap_diff: np.ndarray  # (N,) float32 max |h - h_fp32| per head
    argmax_shift_cells: np.ndarray  # (N,) float32 Euclidean distance of the argmax cells
    within_cell: np.ndarray  # (N,) bool: argmax within AGREE_CELLS (Chebyshev) of fp32's
    agree: np.ndarray  # (N,) bool: within_cell, or fp32's heatmap there >= AGREE_PEAK_FRACTION * its peak
    inout_diff: np.ndarray | None  # (N,) float32 |p - p_fp32|, None without in/out scores

    def __post_init__(self) -> None:
        n = len(self.heatmap_diff)
        for name in ("argmax_shift_cells", "within_cell", "agree"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"HeadAgreement.{name}: expected {n} rows, got {len(getattr(self, name))}")
        if self.inout_diff is not None and len(self.inout_diff) != n:
            raise ValueError(f"HeadAgreement.inout_diff: expected {n} rows, got {len(self.inout_diff)}")


def compare_heads(heatmaps: np.ndarray, ref_heatmaps: np.ndarray, inout: np.ndarray | None = None,
                  ref_inout: np.ndarray | None = None) -> HeadAgreement:
    """Compare (N, H, W) heatmaps (and (N,) in/out scores) of one frame with fp32's ``ref_*`` for the same heads."""
    h = np.asarray(heatmaps, np.float32)
    r = np.asarray(ref_heatmaps, np.float32)
    if h.ndim != 3 or h.shape != r.shape:
        raise ValueError(f"compare_heads: expected two (N, H, W) heatmap arrays of one shape, got {h.shape} and "
                         f"{r.shape}")
    n, height, width = h.shape
    if n == 0:
        empty = np.zeros(0, np.float32)
        return HeadAgreement(heatmap_diff=empty, argmax_shift_cells=empty, within_cell=np.zeros(0, bool),
                             agree=np.zeros(0, bool), inout_diff=None if inout is None or ref_inout is None else empty)
    diff = np.abs(h - r).reshape(n, -1).max(axis=1)
    flat_h = h.reshape(n, -1).argmax(axis=1)  # first maximum, as GazePrediction.points_norm
    flat_r = r.reshape(n, -1).argmax(axis=1)
    (yh, xh), (yr, xr) = np.divmod(flat_h, width), np.divmod(flat_r, width)
    dx, dy = (xh - xr).astype(np.float32), (yh - yr).astype(np.float32)
    shift = np.hypot(dx, dy)
    within = np.maximum(np.abs(dx), np.abs(dy)) <= AGREE_CELLS
    ref_flat = r.reshape(n, -1)
    ref_peak = ref_flat.max(axis=1)
    ref_at_point = ref_flat[np.arange(n), flat_h]
    near_peak = ref_at_point >= AGREE_PEAK_FRACTION * ref_peak
    io_diff = None
    if inout is not None and ref_inout is not None:
        a, b = np.asarray(inout, np.float32).reshape(-1), np.asarray(ref_inout, np.float32).reshape(-1)
        if a.shape != (n,) or b.shape != (n,):
            raise ValueError(f"compare_heads: expected ({n},) in/out scores, got {a.shape} and {b.shape}")
        io_diff = np.abs(a - b)
    return HeadAgreement(heatmap_diff=diff.astype(np.float32), argmax_shift_cells=shift, within_cell=within,
                         agree=within | near_peak, inout_diff=io_diff)


@dataclass(frozen=True, kw_only=True)
class Fidelity:
    """Summary over every head of every compared frame (see the module docstring for the definitions)."""

    heads: int  # head-frames compared
    max_heatmap_diff: float
    max_inout_diff: float | None  # None without in/out scores
    mean_argmax_shift_cells: float  # heatmap cells (of 64)
    agreement: float  # share of heads that agree, in [0, 1]
    within_cell: float  # share within AGREE_CELLS cell (the strict rule alone)

    def __post_init__(self) -> None:
        for name in ("agreement", "within_cell"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0 and self.heads:
                raise ValueError(f"Fidelity.{name} must be a share in [0, 1], got {v}")

    def summary(self) -> str:
        io = "" if self.max_inout_diff is None else f", max in/out diff {self.max_inout_diff:.1e}"
        return (f"agreement {100 * self.agreement:.1f}% ({100 * self.within_cell:.1f}% within {AGREE_CELLS} cell), "
                f"max heatmap diff {self.max_heatmap_diff:.1e}{io}, mean argmax shift "
                f"{self.mean_argmax_shift_cells:.2f} cells, {self.heads} head(s)")


class FidelityMeter:
    """Accumulates :func:`compare_heads` over frames."""

    def __init__(self) -> None:
        self._heads = 0
        self._max_heat = 0.0
        self._max_inout: float | None = None
        self._shift_sum = 0.0
        self._agree = 0
        self._within = 0

    def add(self, heatmaps: np.ndarray, ref_heatmaps: np.ndarray, inout: np.ndarray | None = None,
            ref_inout: np.ndarray | None = None) -> HeadAgreement:
        """Compare one frame's heads; returns the per-head comparison."""
        c = compare_heads(heatmaps, ref_heatmaps, inout, ref_inout)
        n = len(c.heatmap_diff)
        if n == 0:
            return c
        self._heads += n
        self._max_heat = max(self._max_heat, float(c.heatmap_diff.max()))
        if c.inout_diff is not None:
            self._max_inout = max(self._max_inout or 0.0, float(c.inout_diff.max()))
        self._shift_sum += float(c.argmax_shift_cells.sum())
        self._agree += int(c.agree.sum())
        self._within += int(c.within_cell.sum())
        return c

    def result(self) -> Fidelity | None:
        """The summary, or None when no head was compared."""
        if self._heads == 0:
            return None
        n = self._heads
        return Fidelity(heads=n, max_heatmap_diff=self._max_heat, max_inout_diff=self._max_inout,
                        mean_argmax_shift_cells=self._shift_sum / n, agreement=self._agree / n,
                        within_cell=self._within / n)


def within_bound(f: Fidelity) -> bool:
    """Whether ``f`` stays within :data:`FIDELITY_BOUND`."""
    return f.max_heatmap_diff <= FIDELITY_BOUND["max_heatmap_diff"] and f.agreement >= FIDELITY_BOUND["agreement"]
