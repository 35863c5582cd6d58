"""How `calibrate` turns the values a tensor took over the representative dataset into one range
(`calibrate{method=...}`). Every observer has `update(x)`, `seen`, `nan_samples` and `range()`.

- `minmax` (default, the official converter's numbers): the running min and max over all
  samples (`kernels.RunningMinMax`).
- `moving-average`: an exponential moving average of each sample's min and max, started at the
  first sample's (`x_avg += c * (x_sample - x_avg)`, c = `averaging-constant`, 0.01 by default:
  PyTorch's MovingAverageMinMaxObserver, tfmot's activation quantizer with c = 1 - ema_decay).
  One outlier sample moves the range by c of its excess only.
- `percentile`: the range that keeps `percentile` % of the values on each side (99.99: the
  0.01 % most negative and most positive values are clipped), read from a histogram.
- `mse`: the range [s lo, t hi] (s, t in (0, 1], 128 steps each) minimising the expected
  int8 quantization error over the histogram: rounding noise step^2 / 12 inside the range,
  the squared clipping distance outside, step = (t hi - s lo) / 255. A single outlier is
  kept (clipping it costs more than the finer step gains); a heavy tail is clipped.

The histograms are symmetric around zero, [-R, R] in 2048 bins; a sample beyond R doubles R
(adjacent bins merge exactly), so the result does not depend on the sample order beyond one
bin width, and the cost is one `bincount` pass per sample and tensor. The percentile and MSE
ranges never exceed the observed min/max, and keep zero inside (as every int8 range does).

Inside WHILE bodies and IF branches only each sample's min and max over all iterations are known
(`LOOP_METHOD`): percentile and mse fall back to min/max there.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from .kernels import RunningMinMax, minmax

METHODS = ("minmax", "moving-average", "percentile", "mse")
LOOP_METHOD = {
    "minmax": "minmax",
    "moving-average": "moving-average",
    "percentile": "minmax",
    "mse": "minmax",
}
"""The method of a tensor inside a WHILE / IF function: only each run's min and max over all
iterations leave the loop (calibrate_loops.py), so the histogram methods fall back to min/max;
moving-average averages the per-run extremes."""
BINS = 2048
MSE_STEPS = 128


class Observer(Protocol):
    nan_samples: int

    @property
    def seen(self) -> bool: ...

    def update(self, x: np.ndarray) -> None: ...

    def range(self) -> tuple[float, float]: ...


class MinMax(RunningMinMax):
    """The running min/max (the official calibration)."""

    __slots__ = ()

    def range(self) -> tuple[float, float]:
        return self.lo, self.hi


class MovingAverageMinMax:
    """Exponential moving average of the per-sample min and max."""

    def __init__(self, averaging_constant: float = 0.01) -> None:
        if not 0.0 < averaging_constant <= 1.0:
            raise ValueError(f"averaging-constant must be in (0, 1], got {averaging_constant}")
        self.c = averaging_constant
        self.lo = math.inf
        self.hi = -math.inf
        self.nan_samples = 0
        self.count = 0

    @property
    def seen(self) -> bool:
        return self.count > 0

    def update(self, x: np.ndarray) -> None:
        lo, hi, had_nan = minmax(x)
        self.nan_samples += had_nan
        if lo > hi:  # every element NaN
            return
        if self.count == 0:
            self.lo, self.hi = lo, hi
        else:
            self.lo += self.c * (lo - self.lo)
            self.hi += self.c * (hi - self.hi)
        self.count += 1

    def range(self) -> tuple[float, float]:
        return self.lo, self.hi


class Histogram:
    """A histogram on [-R, R] (R doubles as needed) plus the exact min/max; the range is a
    percentile or the MSE-optimal clipping (`method`)."""

    def __init__(self, method: str = "percentile", percentile: float = 99.99) -> None:
        if method not in ("percentile", "mse"):
            raise ValueError(f"a histogram gives percentile or mse ranges, not {method!r}")
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"percentile must be in (50, 100], got {percentile}")
        self.method = method
        self.percentile = percentile
        self.minmax = RunningMinMax()
        self.counts = np.zeros(BINS, np.int64)
        self.radius = 0.0

    @property
    def nan_samples(self) -> int:
        return self.minmax.nan_samples

    @property
    def seen(self) -> bool:
        return self.minmax.seen

    def update(self, x: np.ndarray) -> None:
        self.minmax.update(x)
        flat = x.reshape(-1)
        if self.minmax.nan_samples and np.isnan(flat).any():
            flat = flat[~np.isnan(flat)]
        if flat.size == 0:
            return
        absmax = max(abs(self.minmax.lo), abs(self.minmax.hi))
        if self.radius == 0.0:
            self.radius = absmax if absmax > 0 else 1.0
        while absmax > self.radius:
            self._double()
        scale = BINS / (2 * self.radius)
        idx = ((flat.astype(np.float64) + self.radius) * scale).astype(np.int64)
        np.clip(idx, 0, BINS - 1, out=idx)
        self.counts += np.bincount(idx, minlength=BINS)

    def _double(self) -> None:
        """[-R, R] -> [-2R, 2R]: adjacent bins merge into the middle half."""
        merged = self.counts.reshape(-1, 2).sum(axis=1)
        self.counts = np.zeros(BINS, np.int64)
        self.counts[BINS // 4 : BINS // 4 + merged.size] = merged
        self.radius *= 2

    def _centers(self) -> np.ndarray:
        width = 2 * self.radius / BINS
        return -self.radius + (np.arange(BINS) + 0.5) * width

    def range(self) -> tuple[float, float]:
        lo, hi = self.minmax.lo, self.minmax.hi
        total = int(self.counts.sum())
        if total == 0 or lo >= hi:
            return lo, hi
        if self.method == "percentile":
            a, b = self._percentile_range(total)
        else:
            a, b = self._mse_range(total)
        # within the observed values, zero inside
        return max(min(a, 0.0), lo), min(max(b, 0.0), hi)

    def _percentile_range(self, total: int) -> tuple[float, float]:
        edges = np.linspace(-self.radius, self.radius, BINS + 1)
        cum = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.float64)
        tail = total * (100.0 - self.percentile) / 100.0
        lo = float(np.interp(tail, cum, edges))
        hi = float(np.interp(total - tail, cum, edges))
        return lo, hi

    def _mse_range(self, total: int) -> tuple[float, float]:
        """argmin over (a, b) = (s lo, t hi), s and t on a grid in (0, 1], of the expected
        squared error: clipping below a and above b (separable in s and t) plus rounding noise
        step^2 / 12 on the values inside, step = (b - a) / 255."""
        lo, hi = min(self.minmax.lo, 0.0), max(self.minmax.hi, 0.0)
        x = self._centers()
        p = self.counts / total
        keep = p > 0
        x, p = x[keep], p[keep]
        grid = np.linspace(1.0 / MSE_STEPS, 1.0, MSE_STEPS)
        a, b = grid * lo, grid * hi  # candidate lower / upper ends
        below = np.minimum(x[None, :] - a[:, None], 0.0)  # [s, k]: distance under a
        above = np.maximum(x[None, :] - b[:, None], 0.0)  # [t, k]: distance over b
        clip_lo, clip_hi = (below**2) @ p, (above**2) @ p
        share_lo, share_hi = (below < 0) @ p, (above > 0) @ p
        step = (b[None, :] - a[:, None]) / 255.0
        inside = np.clip(1.0 - share_lo[:, None] - share_hi[None, :], 0.0, 1.0)
        err = clip_lo[:, None] + clip_hi[None, :] + inside * step**2 / 12.0
        s_best, t_best = np.unravel_index(int(np.argmin(err)), err.shape)
        return float(a[s_best]), float(b[t_best])


def make_observer(method: str, percentile: float = 99.99, averaging_constant: float = 0.01):
    """The observer of a calibration method (`METHODS`)."""
    if method == "minmax":
        return MinMax()
    if method == "moving-average":
        return MovingAverageMinMax(averaging_constant)
    if method in ("percentile", "mse"):
        return Histogram(method, percentile)
    raise ValueError(f"unknown calibration method {method!r} (one of {', '.join(METHODS)})")
