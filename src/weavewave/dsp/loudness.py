"""The loudness and peak measurements a master is judged by, on numpy arrays.

The measurements follow ITU-R BS.1770: integrated loudness (LUFS) with pyloudnorm's K-weighting, and true
peak from a 4x oversampled signal (a 48-tap polyphase interpolator, 12 taps per phase, as in BS.1770 Annex
2). They are plain functions on numpy arrays so that mastering, evaluation and tests share them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from weavewave.errors import BadInputError

# ITU-R BS.1770-4 loudness, with pyloudnorm's K-weighting stages: (gain dB, Q, corner Hz, kind).
_K_WEIGHTING_STAGES = ((4.0, 1 / math.sqrt(2), 1500.0, "high_shelf"), (0.0, 0.5, 38.0, "high_pass"))
LOUDNESS_BLOCK_S = 0.4  # gating block; loudness is undefined for anything shorter
_BLOCK_STEP = 0.25  # 75 % overlap
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
_LUFS_OFFSET = -0.691
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
# True peak: 4x oversampling with a 48-tap interpolator (12 taps per phase).
OVERSAMPLE = 4
TAPS_PER_PHASE = 12
_INTERP_TAPS = OVERSAMPLE * TAPS_PER_PHASE
_KAISER_BETA = 5.0
# Samples are examined in blocks; a block is only oversampled when its loudest sample could reach the level
# asked about, which is exact (see `true_peak_envelope`) and skips most of a typical master.
_PEAK_BLOCK = 256
_PEAK_BLOCKS_PER_CHUNK = 2048
_HALO = TAPS_PER_PHASE  # samples each block borrows from its neighbours for the interpolation filter


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float | None:
    """Integrated loudness in LUFS (ITU-R BS.1770-4: K-weighting, 400 ms blocks, absolute and relative gates).

    The K-weighting filters are pyloudnorm's (``pyloudnorm.IIRfilter`` with the Meter's K-weighting
    parameters) and the gating follows pyloudnorm's ``Meter.integrated_loudness`` block for block; the
    filtering runs as one float32 second-order-section cascade and the gating is vectorised, which makes it
    several times faster. The tests check it agrees with pyloudnorm.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (n, channels)]
        Float samples; up to 5 channels in the order L, R, C, Ls, Rs.
    sample_rate : int
        Samples per second.

    Returns
    -------
    float or None
        The loudness, or None when there is nothing to measure: silence, everything below the -70 LUFS
        absolute gate, or a signal no longer than one 400 ms gating block.
    """
    from scipy.signal import sosfilt

    data = _as_2d(audio)
    n, channels = data.shape
    block = LOUDNESS_BLOCK_S * sample_rate
    if n <= block or channels > len(_CHANNEL_WEIGHTS) or not np.any(data):
        return None
    weighted = sosfilt(_k_weighting(int(sample_rate)), data.astype(np.float32, copy=False), axis=0)
    n_blocks = int(np.round((n / sample_rate - LOUDNESS_BLOCK_S) / (LOUDNESS_BLOCK_S * _BLOCK_STEP))) + 1
    z = _block_mean_squares(weighted, sample_rate, n_blocks)  # [shape=(n_blocks, channels)]
    weights = np.asarray(_CHANNEL_WEIGHTS[:channels])
    with np.errstate(divide="ignore"):
        block_lufs = _LUFS_OFFSET + 10.0 * np.log10(z @ weights)
    gated = block_lufs >= ABSOLUTE_GATE_LUFS
    if not gated.any():
        return None
    relative_gate = _LUFS_OFFSET + 10.0 * np.log10(z[gated].mean(axis=0) @ weights) + RELATIVE_GATE_LU
    gated = (block_lufs > relative_gate) & (block_lufs > ABSOLUTE_GATE_LUFS)
    if not gated.any():
        return None
    loudness = _LUFS_OFFSET + 10.0 * math.log10(float(z[gated].mean(axis=0) @ weights))
    return loudness if math.isfinite(loudness) else None


def _block_mean_squares(weighted: np.ndarray, sample_rate: int, n_blocks: int) -> np.ndarray:
    """Mean square of each 400 ms gating block (75 % overlap) per channel, [shape=(n_blocks, channels)].

    When the 100 ms hop is a whole number of samples, blocks are sums of four hop segments (fast);
    otherwise block bounds are computed as pyloudnorm does, from a running sum.
    """
    n, channels = weighted.shape
    block = LOUDNESS_BLOCK_S * sample_rate
    hop = LOUDNESS_BLOCK_S * _BLOCK_STEP * sample_rate
    per_block = int(round(1 / _BLOCK_STEP))
    if hop == int(hop):
        hop = int(hop)
        whole = n // hop
        segments = np.zeros((n_blocks + per_block, channels))
        body = weighted[: whole * hop].reshape(whole, hop, channels)
        segments[:whole] = np.einsum("ijk,ijk->ik", body, body)
        tail = weighted[whole * hop :]
        segments[whole] = np.einsum("jk,jk->k", tail, tail)
        sums = np.zeros((n_blocks, channels))
        for k in range(per_block):  # in order, as the sum was always taken (the bytes depend on it)
            sums += segments[k : k + n_blocks]
        return sums / block
    energy = np.zeros((n + 1, channels))
    np.cumsum(np.square(weighted, dtype=np.float64), axis=0, out=energy[1:])
    j = np.arange(n_blocks)
    lower = (LOUDNESS_BLOCK_S * (j * _BLOCK_STEP) * sample_rate).astype(np.int64)
    upper = np.minimum((LOUDNESS_BLOCK_S * (j * _BLOCK_STEP + 1) * sample_rate).astype(np.int64), n)
    return (energy[upper] - energy[lower]) / block


@lru_cache(maxsize=8)
def _k_weighting(sample_rate: int) -> np.ndarray:
    """pyloudnorm's K-weighting (high shelf, then high pass) as float32 second-order sections."""
    from pyloudnorm import IIRfilter

    sections = []
    for gain_db, q, fc, kind in _K_WEIGHTING_STAGES:
        stage = IIRfilter(gain_db, q, fc, sample_rate, kind)
        b, a = np.asarray(stage.b, float), np.asarray(stage.a, float)
        sections.append(np.concatenate([b * stage.passband_gain / a[0], a / a[0]]))
    return np.array(sections, np.float32)


def sample_peak_dbfs(audio: np.ndarray) -> float:
    """Largest absolute sample in dBFS; ``-inf`` for silence.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (n, channels)]
    """
    data = np.asarray(audio)
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


def true_peak_dbfs(audio: np.ndarray, sample_rate: int) -> float:
    """True peak in dBTP (dB relative to full scale) from 4x oversampling, in the style of ITU-R BS.1770.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (n, channels)]
        Float samples.
    sample_rate : int
        Samples per second. The oversampling factor is 4 whatever the rate.

    Returns
    -------
    float
        The largest absolute value of the oversampled signal (never below the sample peak), in dB;
        ``-inf`` for silence.
    """
    del sample_rate  # the interpolator works in units of the sample period
    data = _as_2d(audio)
    if data.size == 0:
        return float("-inf")
    sample_peak = float(np.max(np.abs(data)))
    if sample_peak == 0.0:
        return float("-inf")
    # Only blocks within reach of the sample peak can hold the true peak.
    envelope = true_peak_envelope(data, threshold=sample_peak)
    return 20.0 * math.log10(max(sample_peak, float(envelope.max())))


def true_peak_envelope(audio: np.ndarray, *, threshold: float = 0.0) -> np.ndarray:
    """Per-sample true-peak envelope: the largest absolute oversampled value around each sample.

    Entry ``i`` is the maximum over all channels of ``|x[i]|`` and of the four interpolated values at
    ``i - 3/8 .. i + 3/8`` sample periods. Blocks whose samples are too quiet for any interpolated value to
    reach ``threshold`` are not oversampled (the bound is exact: an interpolated value never exceeds the
    filter's absolute tap sum times the largest nearby sample); there the envelope holds the plain
    per-sample peak.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (n, channels)]
        Float samples.
    threshold : float
        Linear level below which the exact oversampled value is not needed. 0 oversamples everything.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
    """
    from scipy.signal import upfirdn

    data = _as_2d(audio).astype(np.float32, copy=False)
    n, channels = data.shape
    envelope = np.abs(data[:, 0])
    for c in range(1, channels):
        np.maximum(envelope, np.abs(data[:, c]), out=envelope)
    if n == 0:
        return envelope
    taps, gain_bound = _interpolator()
    n_blocks = -(-n // _PEAK_BLOCK)
    padded_env = np.zeros(n_blocks * _PEAK_BLOCK + 2 * _HALO, np.float32)
    padded_env[_HALO : _HALO + n] = envelope
    # The loudest sample a block's interpolation can see: its own samples plus the halo on each side.
    block_max = padded_env[_HALO : _HALO + n_blocks * _PEAK_BLOCK].reshape(n_blocks, _PEAK_BLOCK).max(axis=1)
    neighbour = np.maximum(np.concatenate([[0.0], block_max[:-1]]), np.concatenate([block_max[1:], [0.0]]))
    reach = np.maximum(block_max, neighbour) * gain_bound
    selected = np.flatnonzero(reach >= threshold) if threshold > 0 else np.arange(n_blocks)
    if selected.size == 0:
        return envelope
    width = _PEAK_BLOCK + 2 * _HALO
    # upsampled index m sits at original time (m - delay) / 4 within a row; the first kept value is 3/8
    # of a sample before the row's first own sample.
    delay = (_INTERP_TAPS - 1) / 2
    first = int(round(OVERSAMPLE * _HALO + delay - 1.5))
    by_block = padded_env[_HALO : _HALO + n_blocks * _PEAK_BLOCK].reshape(n_blocks, _PEAK_BLOCK)
    for c in range(channels):
        padded = np.zeros(n_blocks * _PEAK_BLOCK + 2 * _HALO, np.float32)
        padded[_HALO : _HALO + n] = data[:, c]
        rows_view = np.lib.stride_tricks.sliding_window_view(padded, width)[::_PEAK_BLOCK]
        for start in range(0, selected.size, _PEAK_BLOCKS_PER_CHUNK):
            blocks = selected[start : start + _PEAK_BLOCKS_PER_CHUNK]
            up = upfirdn(taps, rows_view[blocks], up=OVERSAMPLE, axis=1)
            own = np.abs(up[:, first : first + OVERSAMPLE * _PEAK_BLOCK])
            # max over the 4 phases; strided elementwise maxima are far faster than a reduce over axis 2
            peaks = np.maximum(np.maximum(own[:, 0::4], own[:, 1::4]), np.maximum(own[:, 2::4], own[:, 3::4]))
            by_block[blocks] = np.maximum(by_block[blocks], peaks)
    return padded_env[_HALO : _HALO + n].copy()
    return envelope


@lru_cache(maxsize=1)
def _interpolator() -> tuple[np.ndarray, float]:
    """The 4x interpolation filter (48 taps, gain 4) and the largest absolute tap sum of its phases."""
    from scipy.signal import firwin

    taps = firwin(_INTERP_TAPS, 1.0 / OVERSAMPLE, window=("kaiser", _KAISER_BETA)) * OVERSAMPLE
    gain_bound = float(np.abs(taps).reshape(TAPS_PER_PHASE, OVERSAMPLE).sum(axis=0).max())
    return taps.astype(np.float32), gain_bound


def _as_2d(audio: np.ndarray) -> np.ndarray:
    data = np.asarray(audio)
    return data[:, None] if data.ndim == 1 else data


# --- used by weavewave.evaluate ------------------------------------------------------------------
SHORT_TERM_S = 3.0  # EBU R 128 short-term loudness window
SILENCE_DBFS = -60.0  # a 100 ms block this quiet (RMS) counts as silent
CLIP_LEVEL = 0.999  # a sample this close to full scale counts as clipped ...
CLIP_RUN = 3  # ... when at least this many in a row are (one lone peak is just a loud master)


def loudness_curve(
    audio: np.ndarray, sample_rate: int, *, window_s: float = SHORT_TERM_S, hop_s: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Ungated K-weighted loudness over time, (window centres s, LUFS), both [shape=(n,)].

    With the default 3 s window this is EBU R 128 short-term loudness; with 0.4 s it is momentary
    loudness. The K-weighting is the one :func:`integrated_lufs` uses. Silent windows give ``-inf``.
    """
    from scipy.signal import sosfilt

    data = _as_2d(audio)
    n, channels = data.shape
    if channels > len(_CHANNEL_WEIGHTS):
        raise BadInputError(f"loudness needs at most {len(_CHANNEL_WEIGHTS)} channels, got {channels}")
    weighted = sosfilt(_k_weighting(int(sample_rate)), data.astype(np.float32, copy=False), axis=0)
    energy = np.zeros((n + 1, channels))
    np.cumsum(np.square(weighted, dtype=np.float64), axis=0, out=energy[1:])
    win, hop = max(1, int(round(window_s * sample_rate))), max(1, int(round(hop_s * sample_rate)))
    if n < win:
        win = n
    starts = np.arange(0, n - win + 1, hop)
    z = (energy[starts + win] - energy[starts]) / win
    with np.errstate(divide="ignore"):
        lufs = _LUFS_OFFSET + 10.0 * np.log10(z @ np.asarray(_CHANNEL_WEIGHTS[:channels]))
    return (starts + win / 2) / sample_rate, lufs


def longest_silence_s(audio: np.ndarray, sample_rate: int, *, threshold_dbfs: float = SILENCE_DBFS) -> float:
    """Length in seconds of the longest run of 100 ms blocks whose RMS is below ``threshold_dbfs``."""
    data = _as_2d(audio).astype(np.float64, copy=False)
    block = max(1, int(sample_rate // 10))
    n_blocks = data.shape[0] // block
    if n_blocks == 0:
        return data.shape[0] / sample_rate
    ms = np.square(data[: n_blocks * block]).reshape(n_blocks, block, -1).mean(axis=(1, 2))
    quiet = ms < 10 ** (threshold_dbfs / 10)
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best * block / sample_rate


def clipped_runs(audio: np.ndarray, *, level: float = CLIP_LEVEL, run: int = CLIP_RUN) -> int:
    """How many times the signal sits at full scale for ``run`` or more samples in a row (any channel)."""
    data = _as_2d(audio)
    count = 0
    for ch in range(data.shape[1]):
        hot = np.abs(data[:, ch]) >= level
        if not hot.any():
            continue
        edges = np.diff(np.concatenate([[0], hot.astype(np.int8), [0]]))
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        count += int(np.sum(lengths >= run))
    return count
