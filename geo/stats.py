"""Intervals for proportions and their differences, shared by the funnel's lift and the forecast.

Every function is vectorised where it makes sense and returns NaN (never an
error) where a group is empty. ``confidence`` is the interval's level (0.95 for
a 95 % interval).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.stats import norm


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (1.959964 for 0.95)."""
    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: ArrayLike, trials: ArrayLike,
                    confidence: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval for a binomial proportion (vectorised; NaN where trials is 0).

    Wilson, E. B. (1927), "Probable inference, the law of succession, and
    statistical inference", JASA 22: 209-212.
    """
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def jeffreys_interval(successes: ArrayLike, trials: ArrayLike,
                      confidence: float = 0.90) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Equal-tailed Jeffreys interval of a proportion (NaN where there are no trials).

    The Beta(k + 1/2, n - k + 1/2) posterior's quantiles; Brown, Cai and
    DasGupta (2001), Statistical Science 16: 101-133.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    a = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(a, k + 0.5, n - k + 0.5), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - a, k + 0.5, n - k + 0.5), 1.0)
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


def two_proportion_ci(k1: int, n1: int, k2: int, n2: int,
                      confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of two proportions with the unpooled Wald interval.

    ``d = p1 - p2``, ``SE = sqrt(p1 (1 - p1) / n1 + p2 (1 - p2) / n2)``,
    interval ``d -/+ z SE`` with ``z`` the ``(1 + confidence) / 2`` normal
    quantile (1.959964 for 95 %). See Agresti, A. (2013), *Categorical Data
    Analysis*, 3rd ed., sect. 3.1.3, or Newcombe, R. G. (1998), Statistics in
    Medicine 17: 873-890, method 1.

    Returns
    -------
    d, low, high
        NaN when either group is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return float("nan"), float("nan"), float("nan")
    p1, p2 = k1 / n1, k2 / n2
    se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    z = z_value(confidence)
    d = p1 - p2
    return float(d), float(d - z * se), float(d + z * se)


def relative_lift_ci(k1: int, n1: int, k2: int, n2: int,
                     confidence: float = 0.95) -> tuple[float, float, float]:
    """Relative lift ``p1 / p2 - 1`` with the Katz log interval for the risk ratio.

    ``SE(log RR) = sqrt(1/k1 - 1/n1 + 1/k2 - 1/n2)`` (Katz et al. 1978,
    Biometrics 34: 469-474). NaN when either group has no redemption.
    """
    if min(k1, k2, n1, n2) <= 0:
        return float("nan"), float("nan"), float("nan")
    rr = (k1 / n1) / (k2 / n2)
    se = np.sqrt(1 / k1 - 1 / n1 + 1 / k2 - 1 / n2)
    z = z_value(confidence)
    return float(rr - 1), float(rr * np.exp(-z * se) - 1), float(rr * np.exp(z * se) - 1)
