"""Travel bands: their limits, their labels and the band of each value (minutes, or km in radius mode).

Bands are given by their upper limits (``[5, 10, 15]``) and always start at 0;
an upper limit belongs to its band, so 5.0 minutes is in ``"0-5"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def band_edges(bands: Sequence[float]) -> np.ndarray:
    """Sorted, unique band limits (minutes or km) with 0 prepended, e.g. ``[0, 5, 10, 15]``."""
    edges = np.unique(np.asarray(list(bands), dtype=float))
    if len(edges) == 0 or edges[0] <= 0 or not np.isfinite(edges).all():
        raise ValueError(f"bands must be positive finite numbers, got {list(bands)}")
    return np.concatenate([[0.0], edges])


def _fmt(x: float) -> str:
    return f"{x:g}"


def band_labels(bands: Sequence[float]) -> list[str]:
    """Labels of the bands: ``[5, 10, 15]`` → ``["0-5", "5-10", "10-15"]``."""
    edges = band_edges(bands)
    return [f"{_fmt(a)}-{_fmt(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]


def band_index(values: np.ndarray, bands: Sequence[float]) -> np.ndarray:
    """Band number per value (0 for the first band); -1 beyond the last band or missing.

    Upper limits are inclusive: with bands 5/10, 5.0 minutes is in ``"0-5"``.
    """
    edges = band_edges(bands)
    values = np.asarray(values, dtype=float)
    idx = np.searchsorted(edges, values, side="left") - 1
    idx[values == 0] = 0
    idx[~np.isfinite(values) | (values < 0) | (values > edges[-1])] = -1
    return idx
