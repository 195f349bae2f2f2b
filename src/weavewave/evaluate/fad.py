"""Fréchet Audio Distance (Kilgour et al., 2019) and its extrapolated, unbiased FAD∞ (Chung et al., 2020).

FAD fits one Gaussian to the frame embeddings of each set and measures the Fréchet (2-Wasserstein)
distance between the two:

    FAD = |mu_g - mu_r|^2 + tr(S_g + S_r - 2 (S_g S_r)^(1/2))

Plain FAD is biased upwards by the number of samples. FAD∞ computes FAD on random subsets of the
generated set of growing size N, fits FAD against 1/N with a line, and reports the line's value at 1/N
= 0, the distance an infinite sample would give.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from weavewave.errors import BadInputError

FAD_INF_POINTS = 15  # subset sizes the line is fitted on
FAD_INF_MIN_FRACTION = 0.2  # the smallest subset, as a fraction of the set
_SQRTM_EPS = 1e-6


@dataclass(frozen=True)
class GaussianStats:
    """Mean [shape=(d,)] and covariance [shape=(d, d)] of a set of embeddings, and how many there were."""

    mean: np.ndarray
    cov: np.ndarray
    count: int

    @classmethod
    def of(cls, embeddings: np.ndarray) -> GaussianStats:
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise BadInputError(
                f"FAD needs at least two embeddings in a (count, dim) array, got shape {x.shape}: "
                "give more or longer tracks"
            )
        return cls(x.mean(axis=0), np.cov(x, rowvar=False), x.shape[0])


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance between two Gaussians. Near-singular covariances get a tiny ridge, as in FID code."""
    from scipy import linalg

    if a.mean.shape != b.mean.shape:
        raise BadInputError(
            f"embeddings differ in size ({a.mean.shape[0]} vs {b.mean.shape[0]}): "
            "compare sets embedded by the same embedder"
        )
    diff = a.mean - b.mean
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(a.cov @ b.cov)
    if caught or not np.isfinite(covmean).all():  # singular product: fewer embeddings than dimensions
        ridge = np.eye(a.cov.shape[0]) * _SQRTM_EPS
        covmean = linalg.sqrtm((a.cov + ridge) @ (b.cov + ridge))
    covmean = np.real(covmean)
    value = float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def fad(generated: np.ndarray, reference: np.ndarray | GaussianStats) -> float:
    """FAD between generated embeddings [shape=(n, d)] and reference embeddings (or their statistics)."""
    ref = reference if isinstance(reference, GaussianStats) else GaussianStats.of(reference)
    return frechet_distance(GaussianStats.of(generated), ref)


def fad_infinity(
    generated: np.ndarray,
    reference: np.ndarray | GaussianStats,
    *,
    seed: int = 0,
    points: int = FAD_INF_POINTS,
    min_fraction: float = FAD_INF_MIN_FRACTION,
) -> float | None:
    """FAD∞: FAD on subsets of ``generated`` of ``points`` sizes, extrapolated linearly in 1/N to 1/N = 0.

    Returns None when the set is too small for the smallest subset to hold more than ``d + 1`` embeddings
    (its covariance would be singular and the fit meaningless). Subsets are drawn without replacement
    from a generator seeded with ``seed``, so the result is reproducible.
    """
    ref = reference if isinstance(reference, GaussianStats) else GaussianStats.of(reference)
    x = np.asarray(generated, dtype=np.float64)
    n, d = x.shape
    smallest = int(n * min_fraction)
    if smallest <= d + 1:
        return None
    rng = np.random.default_rng(seed)
    sizes = np.unique(np.linspace(smallest, n, points).astype(int))
    values = [frechet_distance(GaussianStats.of(x[rng.choice(n, size=k, replace=False)]), ref) for k in sizes]
    slope, intercept = np.polyfit(1.0 / sizes, values, 1)
    return float(intercept)
