"""Mastering every backend shares: fades, loudness normalisation to -14 LUFS and a true-peak limiter.

``master(mix, n, timings)`` takes a stereo mix at :data:`SAMPLE_RATE` and returns the master, the gain
envelope that made it (so stems can be multiplied by it and still sum to the mix) and its measured stats.
The limiter is a smooth look-ahead gain envelope computed from the oversampled (true) peaks.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from weavewave.dsp.loudness import integrated_lufs, sample_peak_dbfs, true_peak_dbfs, true_peak_envelope

# Every backend delivers 48 kHz stereo (midirenderer renders at it; MusicGen's audio is resampled to it).
SAMPLE_RATE = 48000

TARGET_LUFS = -14.0
LOUDNESS_TOLERANCE_LU = 0.2  # re-measure and correct beyond this
TRUE_PEAK_LIMIT_DBFS = -1.0
LIMITER_CEILING_DBFS = -1.3  # the limiter aims a little under the limit
MAX_MASTER_GAIN_DB = 30.0  # a near-silent mix is not blown up to the target
MAX_MAKEUP_DB = 6.0  # most extra gain to win back loudness the limiter took
LIMITER_ITERATIONS = 6
LOUDNESS_CORRECTIONS = 2
# Limiter envelope: a held minimum of the required gain, smoothed by two moving averages (half-widths in
# seconds). The gain starts falling (sum of both) before a peak and recovers as long after it.
LIMITER_SMOOTHING_S = (0.005, 0.030)
LIMITER_BLOCK_S = 0.005
FADE_IN_S = 0.005
FADE_OUT_MAX_S = 3.0
FADE_OUT_FRACTION = 0.15


def master(
    mix: np.ndarray, n: int, timings: dict[str, float], *, fades: bool = True
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Fade (unless ``fades`` is False: a loop), normalise to ``TARGET_LUFS`` and limit below
    ``TRUE_PEAK_LIMIT_DBFS`` the mix [shape=(2, n)]; ``timings`` gets each step's seconds.

    The mastering every backend shares (the symbolic mix here, MusicGen's audio in its generator).
    Returns the master [shape=(n, 2)], the gain envelope that made it from ``mix`` [shape=(n,)] (to apply
    to stems), and the stats.
    """
    clock = Clock(timings)
    fade = _fade_envelope(n) if fades else np.ones(n, np.float32)
    faded = mix * fade
    clock.lap("mix")
    loudness = integrated_lufs(faded.T, SAMPLE_RATE)
    clock.lap("loudness")

    ceiling = 10.0 ** (LIMITER_CEILING_DBFS / 20.0)
    max_gain = 10.0 ** (MAX_MASTER_GAIN_DB / 20.0)
    target = 1.0 if loudness is None else min(10.0 ** ((TARGET_LUFS - loudness) / 20.0), max_gain)
    gain_cap = min(target * 10.0 ** (MAX_MAKEUP_DB / 20.0), max_gain)
    # exact oversampled peaks wherever some allowed gain could push them over the ceiling
    peaks = true_peak_envelope(faded.T, threshold=ceiling / gain_cap)
    power = faded[0] * faded[0]
    power += faded[1] * faded[1]
    total_power = float(power.sum(dtype=np.float64))
    del faded
    gain, limiter = _gain_for_loudness(target, gain_cap, peaks, ceiling, power, total_power)
    envelope = _envelope(gain, limiter, fade)
    audio = mix * envelope
    clock.lap("limiter")

    lufs = integrated_lufs(audio.T, SAMPLE_RATE) if loudness is not None else None
    clock.lap("loudness")
    for _ in range(LOUDNESS_CORRECTIONS):
        if lufs is None or abs(lufs - TARGET_LUFS) <= LOUDNESS_TOLERANCE_LU or gain >= gain_cap:
            break
        # the power estimate of the limiter's loudness loss was off: correct from the measurement
        target = min(target * 10.0 ** ((TARGET_LUFS - lufs) / 20.0), gain_cap)
        gain, limiter = _gain_for_loudness(target, gain_cap, peaks, ceiling, power, total_power)
        envelope = _envelope(gain, limiter, fade)
        audio = mix * envelope
        clock.lap("limiter")
        lufs = integrated_lufs(audio.T, SAMPLE_RATE)
        clock.lap("loudness")
    true_peak = true_peak_dbfs(audio.T, SAMPLE_RATE)
    if true_peak > LIMITER_CEILING_DBFS:
        # the smooth gain envelope moved an inter-sample peak: trim the whole master to the ceiling
        trim = np.float32(10.0 ** ((LIMITER_CEILING_DBFS - true_peak) / 20.0))
        envelope *= trim
        audio *= trim
        true_peak = true_peak_dbfs(audio.T, SAMPLE_RATE)
        lufs = None if lufs is None else integrated_lufs(audio.T, SAMPLE_RATE)
    clock.lap("true_peak")

    master = np.ascontiguousarray(audio.T)
    clock.lap("apply")
    sample_peak = sample_peak_dbfs(master)
    stats: dict[str, Any] = {
        "lufs": lufs,
        "true_peak_dbfs": true_peak if math.isfinite(true_peak) else None,
        "sample_peak_dbfs": sample_peak if math.isfinite(sample_peak) else None,
        "duration_s": n / SAMPLE_RATE,
        "gain_db": 20.0 * math.log10(gain),
        "limiter_max_reduction_db": 0.0 if limiter is None else -20.0 * math.log10(float(limiter.min())),
    }
    return master, envelope, stats


class Clock:
    """Adds the seconds since the last lap to ``timings[name]``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def _fade_envelope(n: int) -> np.ndarray:
    """Raised-cosine fade-in (``FADE_IN_S``) and fade-out ending at exactly zero on the last sample."""
    env = np.ones(n, np.float32)
    fade_in = min(n, int(round(FADE_IN_S * SAMPLE_RATE)))
    fade_out = min(n, int(round(min(FADE_OUT_MAX_S, FADE_OUT_FRACTION * n / SAMPLE_RATE) * SAMPLE_RATE)))
    if fade_in > 0:
        env[:fade_in] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(fade_in) / fade_in)
    if fade_out > 0:
        env[n - fade_out :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade_out + 1) / fade_out)
    return env


def _envelope(gain: float, limiter: np.ndarray | None, fade: np.ndarray) -> np.ndarray:
    env = fade * np.float32(gain)
    if limiter is not None:
        env *= limiter
    return env


def _gain_for_loudness(
    target: float, gain_cap: float, peaks: np.ndarray, ceiling: float, power: np.ndarray, total_power: float
) -> tuple[float, np.ndarray | None]:
    """Master gain and limiter envelope whose product keeps the loudness of gain ``target``.

    The limiter takes loudness from the peaks; the gain is raised by the loss (estimated from the signal
    power weighted by the squared limiter gain) and the limiter recomputed, a few times, never beyond
    ``gain_cap``.
    """
    gain = target
    limiter = _limiter_envelope(peaks, gain, ceiling)
    for _ in range(LIMITER_ITERATIONS):
        if limiter is None or total_power <= 0:
            break
        kept = float(np.dot(limiter * limiter, power)) / total_power
        wanted = min(target / math.sqrt(max(kept, 1e-12)), gain_cap)
        if abs(20.0 * math.log10(wanted / gain)) < 0.01:
            break
        gain = wanted
        limiter = _limiter_envelope(peaks, gain, ceiling)
    return gain, limiter


def _limiter_envelope(peaks: np.ndarray, gain: float, ceiling: float) -> np.ndarray | None:
    """Smooth look-ahead gain [shape=(n,), float32] keeping ``gain * peaks`` under ``ceiling``; None if 1.

    The required gain is held at its minimum over a window, at block resolution, then smoothed by two moving
    averages whose combined reach is within the hold: every averaged value is then at most the required gain
    at the centre, so the envelope never lets a peak through, and it has no corners.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    over = peaks * np.float32(gain) > ceiling
    if not over.any():
        return None
    n = peaks.shape[0]
    required = np.ones(n, np.float32)
    required[over] = ceiling / (gain * peaks[over])
    block = max(1, int(round(LIMITER_BLOCK_S * SAMPLE_RATE)))
    halfwidths = [int(round(s * SAMPLE_RATE)) for s in LIMITER_SMOOTHING_S]
    reach = -(-sum(halfwidths) // block)  # blocks the smoothing can reach
    n_blocks = -(-n // block)
    padded = np.ones(n_blocks * block, np.float32)
    padded[:n] = required
    held = minimum_filter1d(padded.reshape(n_blocks, block).min(axis=1), size=2 * reach + 1, mode="nearest")
    env = np.repeat(held, block)[:n]
    for h in halfwidths:
        env = uniform_filter1d(env, size=2 * h + 1, mode="nearest")
    np.minimum(env, np.float32(1.0), out=env)
    return env


# --- a neural model's audio -> the master ---------------------------------------------------------------
def to_stereo_48k(audio: np.ndarray, sample_rate: int, duration_s: float) -> np.ndarray:
    """A model's audio [shape=(channels, n)] at its own rate -> 48 kHz stereo [shape=(2, round(duration *
    48000))], cut or padded with silence (mono is played on both sides)."""
    from weavewave.dsp.signal import resample

    n = int(round(duration_s * SAMPLE_RATE))
    up = resample(audio.T.astype(np.float64), sample_rate, SAMPLE_RATE).T.astype(np.float32)
    if up.shape[0] == 1:
        up = np.repeat(up, 2, axis=0)
    out = np.zeros((2, n), np.float32)
    m = min(n, up.shape[1])
    out[:, :m] = up[:2, :m]
    return out


def fold_loop(stereo: np.ndarray, n: int) -> np.ndarray:
    """A seamless loop of ``n`` samples from audio [shape=(2, m > n)] that plays on past ``n``.

    The continuation after ``n`` fades in over the start while the start fades in under it: at the wrap
    the last sample is followed by (mostly) the very sample the model played next. The two sides are
    different music, so an equal-power crossfade keeps the level.
    """
    m = min(stereo.shape[1] - n, n)
    tail = stereo[:, n : n + m]
    out = stereo[:, :n].copy()
    if m == 0:
        return out
    theta = (0.5 * np.pi * (np.arange(m) + 0.5) / m).astype(np.float32)
    out[:, :m] = out[:, :m] * np.sin(theta) + tail * np.cos(theta)
    return out


def master_model_audio(
    audio: np.ndarray, sample_rate: int, duration_s: float, *, loop: bool, seam_s: float = 0.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Master what a neural backend made: ``audio`` [shape=(channels, n)] at ``sample_rate`` covers
    ``duration_s + seam_s`` (a loop plays ``seam_s`` on past its end, folded over the start). Returns the
    master [shape=(n, 2)] of exactly ``duration_s`` and :func:`master`'s stats."""
    stereo = to_stereo_48k(audio, sample_rate, duration_s + seam_s)
    n = int(round(duration_s * SAMPLE_RATE))
    if loop:
        stereo = fold_loop(stereo, n)
    mastered, _, stats = master(stereo, n, {}, fades=not loop)
    return mastered, stats
