"""Small signal helpers on numpy arrays: down-mixing to mono and exact-ratio resampling."""

from __future__ import annotations

from math import gcd

import numpy as np


def to_mono(audio: np.ndarray) -> np.ndarray:
    """[shape=(n,) or (n, channels)] -> [shape=(n,)] float64."""
    a = np.asarray(audio, dtype=np.float64)
    return a.mean(axis=1) if a.ndim == 2 else a


def resample(audio: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling along the first axis (exact ratio, no phase shift)."""
    if sr_from == sr_to:
        return np.asarray(audio)
    from scipy.signal import resample_poly

    g = gcd(int(sr_from), int(sr_to))
    return resample_poly(audio, int(sr_to) // g, int(sr_from) // g, axis=0)
