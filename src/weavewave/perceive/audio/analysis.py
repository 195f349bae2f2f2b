"""Measurements of a reference from its signal: beat grid, meter, energy, chords and section boundaries."""

from __future__ import annotations

from typing import Any

import numpy as np

from weavewave.music.theory import TONIC_NAMES as PITCH_CLASS_NAMES
from weavewave.perceive.audio.model import HOP, SR

KEY_PROFILE = "aarden"  # see weavewave.music.analysis.KEY_PROFILES and docs/PERCEPTION.md


# A transcribed single line: duration-weighted notes against Krumhansl-Kessler (the Krumhansl-Schmuckler
# key finder), whose tonic is its highest weight; Aarden's dominant outweighs its tonic, which on a
# scale or an arpeggio (notes of nearly equal length) reads C major as F major.
NOTE_KEY_PROFILE = "krumhansl"


SEGMENT_S = 10.0  # target segment length for per-segment observations


MAX_SEGMENTS = 24


NOVELTY_HALF_BEATS = 8  # the novelty kernel compares two bars of 4/4 before a beat with two after


# Chords: triad templates over beat-synchronous chroma, smoothed so a chord holds unless the evidence moves.
CHORD_QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7)}


CHORD_CHANGE_PENALTY = 0.5  # in correlation units; higher holds chords longer


CHORD_OCTAVES = 4  # C1-C5


MIN_CHORD_CHROMA = 1e-3


# Meter: accent contrast of the beats' RMS peaks needed to call a meter.
METER_CONTRAST = 1.15


TRIPLE_MARGIN = 1.3  # 3/4 must beat 4/4 clearly: a wrong triple meter re-bars a kept tune


ACCENT_FRAMES = 4  # about 90 ms after each beat


# Mood and energy mapping (documented in docs/PERCEPTION.md).
LOUDNESS_ENERGY = (-40.0, -8.0)  # LUFS mapped to energy 0..1


ONSET_ENERGY = (0.5, 6.0)  # onsets per second mapped to energy 0..1


TEMPO_AROUSAL = (60.0, 160.0)  # BPM mapped to arousal -1..1


BRIGHT_HZ = (800.0, 3500.0)  # spectral centroid mapped to -1..1 (dark..bright)


def resample(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """To the analysis rate with a polyphase filter (scipy): no JIT warm-up, unlike librosa's resamplers."""
    from math import gcd

    from scipy.signal import resample_poly

    if sample_rate == SR:
        return mono.astype(np.float32)
    g = gcd(SR, sample_rate)
    return resample_poly(mono.astype(np.float64), SR // g, sample_rate // g).astype(np.float32)


def extend_to_start(beat_frames: np.ndarray, period_frames: float) -> np.ndarray:
    """Beats before the first tracked one, at the tempo, back to the start: the tracker skips weak
    opening beats, and the material must start where the music starts."""
    if beat_frames.size == 0:
        return beat_frames
    first = float(beat_frames[0])
    n_before = int(np.floor(first / period_frames + 0.25))
    before = [int(round(first - k * period_frames)) for k in range(n_before, 0, -1)]
    return np.concatenate([np.array([max(0, b) for b in before], dtype=int), beat_frames])


def meter_from_accents(rms: np.ndarray, beat_frames: np.ndarray) -> str | None:
    """3/4 or 4/4 from which grouping of beats gives the strongest regular accent; None if unclear.

    A beat's accent is the peak RMS level just after it (linear amplitude: a log-spectral onset curve
    flattens the difference between a loud and a soft attack).
    """
    idx = np.clip(beat_frames[:, None] + np.arange(ACCENT_FRAMES)[None, :], 0, len(rms) - 1)
    strength = rms[idx].max(axis=1)
    if strength.size < 12 or strength.mean() <= 0:
        return None
    contrast = {}
    for beats in (3, 4):
        best = 0.0
        for phase in range(beats):
            accented = strength[phase::beats].mean()
            others = np.delete(strength, np.arange(phase, strength.size, beats)).mean()
            best = max(best, accented / max(others, 1e-9))
        contrast[beats] = best
    if contrast[3] > contrast[4] * TRIPLE_MARGIN and contrast[3] > METER_CONTRAST:
        return "3/4"
    if contrast[4] > contrast[3] * METER_CONTRAST / 1.1 and contrast[4] > METER_CONTRAST:
        return "4/4"
    return None


def scale_range(value: float, lo: float, hi: float) -> float:
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0))


def energy_level(loudness: float | None, onsets_per_s: float) -> float:
    loud = scale_range(loudness, *LOUDNESS_ENERGY) if loudness is not None else 0.0
    return round(0.5 * loud + 0.5 * scale_range(onsets_per_s, *ONSET_ENERGY), 3)


def energy_curve(rms: np.ndarray) -> list[float]:
    """Energy per second, 0..1: RMS level in dB relative to the whole, centred on the overall energy."""
    per_s = max(1, int(round(SR / HOP)))
    n = max(1, len(rms) // per_s)
    blocks = rms[: n * per_s].reshape(n, per_s).mean(axis=1) if len(rms) >= per_s else np.array([rms.mean()])
    db = 20 * np.log10(np.maximum(blocks, 1e-6))
    ref = np.median(db)
    return [round(float(np.clip(0.5 + (d - ref) / 24.0, 0.0, 1.0)), 3) for d in db]


def _templates() -> tuple[list[str], np.ndarray]:
    names, rows = [], []
    for root in range(12):
        for quality, steps in CHORD_QUALITIES.items():
            t = np.zeros(12)
            t[[(root + s) % 12 for s in steps]] = 1.0
            names.append(f"{PITCH_CLASS_NAMES[root]}:{quality}")
            rows.append((t - t.mean()) / np.linalg.norm(t - t.mean()))
    return names, np.array(rows)


def chords_per_beat(beat_chroma: np.ndarray) -> list[str]:
    """One triad name per beat: template correlation, then Viterbi with a penalty for changing."""
    names, templates = _templates()
    c = beat_chroma - beat_chroma.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(c, axis=0)
    scores = templates @ (c / np.maximum(norms, MIN_CHORD_CHROMA))  # [24, n_beats]
    n_states, n = scores.shape
    if n == 0:
        return []
    total = scores[:, 0].copy()
    back = np.zeros((n_states, n), dtype=int)
    for t in range(1, n):
        stay = total
        best_prev = int(np.argmax(total))
        switch = total[best_prev] - CHORD_CHANGE_PENALTY
        choose_switch = switch > stay
        back[:, t] = np.where(choose_switch, best_prev, np.arange(n_states))
        total = np.where(choose_switch, switch, stay) + scores[:, t]
    path = [int(np.argmax(total))]
    for t in range(n - 1, 0, -1):
        path.append(int(back[path[-1], t]))
    return [names[i] for i in reversed(path)]


def template_evidence(beat_chroma: np.ndarray) -> tuple[list[float], list[float]]:
    """Per beat, the best triad template's correlation and its lead over the runner-up: high and clear
    over real chords, low and ambiguous over a single line or noise."""
    _, templates = _templates()
    c = beat_chroma - beat_chroma.mean(axis=0, keepdims=True)
    scores = templates @ (c / np.maximum(np.linalg.norm(c, axis=0), MIN_CHORD_CHROMA))
    if scores.shape[1] == 0:
        return [], []
    top = np.sort(scores, axis=0)
    return [float(v) for v in top[-1]], [float(v) for v in top[-1] - top[-2]]


def chord_spans(labels: list[str]) -> list[tuple[float, float, str]]:
    """Per-beat labels merged into (start_qn, dur_qn, symbol) runs; beat ``i`` is quarter note ``i``."""
    spans: list[tuple[float, float, str]] = []
    for i, name in enumerate(labels):
        if spans and spans[-1][2] == name:
            start, dur, _ = spans[-1]
            spans[-1] = (start, dur + 1.0, name)
        else:
            spans.append((float(i), 1.0, name))
    return spans


def find_boundaries(
    librosa: Any,
    y: np.ndarray,
    chroma: np.ndarray,
    beat_frames: np.ndarray,
    duration: float,
    *,
    start_s: float = 0.0,
) -> list[float]:
    """Section boundaries (seconds, starting with 0): the strongest changes in beat-synchronous timbre
    (MFCC) and harmony (chroma), by a Foote checkerboard novelty curve over the beats.

    One boundary per ``SEGMENT_S`` of music, at least a third of that apart and from either end. Only the
    music from ``start_s`` (the first sound) is read: leading silence is unlike everything else and
    would take the boundary for itself.
    """
    from weavewave.music.analysis import checkerboard_novelty, top_peaks

    start_frame = int(librosa.time_to_frames(start_s, sr=SR, hop_length=HOP))
    mfcc = librosa.feature.mfcc(y=y, sr=SR, hop_length=HOP, n_mfcc=13)
    n = min(chroma.shape[1], mfcc.shape[1])
    beats = beat_frames[(beat_frames >= start_frame) & (beat_frames < n)]
    k = int(np.clip(round((duration - start_s) / SEGMENT_S), 1, MAX_SEGMENTS))
    if k <= 1 or beats.size < max(2 * k, 2 * NOVELTY_HALF_BEATS):
        return [0.0]
    feats = []
    for f in (mfcc[1:, :n], chroma[:, :n]):
        per_beat = np.stack(
            [f[:, a:b].mean(axis=1) for a, b in zip(beats[:-1], beats[1:], strict=False)], axis=1
        )
        per_beat = (per_beat - per_beat.mean(axis=1, keepdims=True)) / (
            per_beat.std(axis=1, keepdims=True) + 1e-9
        )
        feats.append(per_beat / np.sqrt(f.shape[0]))
    x = np.vstack(feats)
    x = x / (np.linalg.norm(x, axis=0, keepdims=True) + 1e-9)
    novelty = checkerboard_novelty(x.T @ x, half=NOVELTY_HALF_BEATS)
    beat_s = float(np.median(np.diff(beats))) * HOP / SR
    gap = max(1, int(round(SEGMENT_S / 3 / beat_s)))
    peaks = top_peaks(novelty, k - 1, min_gap=gap, edge=gap)
    times = librosa.frames_to_time(beats[peaks], sr=SR, hop_length=HOP)
    return [0.0, *(round(float(t), 3) for t in times if duration - t >= SEGMENT_S / 3)]
