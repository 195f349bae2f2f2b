"""Measuring audio against its brief: tempo and key estimates (needs librosa, the ``test`` extra).

These are the adherence checks used by the test suite and the benchmarks; the evaluation module
builds on them.
"""

from __future__ import annotations

import numpy as np

from weavewave.errors import MissingDependencyError
from weavewave.theory import tonic_pitch_class

# Krumhansl & Kessler (1982) probe-tone key profiles, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
ANALYSIS_SR = 22050
# For scoring, modes reduce to the major/minor key with the same tonic and third.
MODE_TO_MAJMIN = {"major": "major", "lydian": "major", "mixolydian": "major", "minor": "minor",
                  "dorian": "minor", "phrygian": "minor", "locrian": "minor"}


def _librosa():
    try:
        import librosa
    except ImportError as exc:
        raise MissingDependencyError('audio analysis needs librosa: pip install "weavewave[test]"') from exc
    return librosa


def _mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    librosa = _librosa()
    y = audio.mean(axis=1) if audio.ndim == 2 else audio
    return librosa.resample(y.astype(np.float32), orig_sr=sample_rate, target_sr=ANALYSIS_SR)


def estimate_tempo(audio: np.ndarray, sample_rate: int, *, start_bpm: float = 120.0) -> float:
    """Tempo in BPM of ``audio`` [shape=(n,) or (n, channels)] by onset autocorrelation (librosa)."""
    librosa = _librosa()
    y = _mono(audio, sample_rate)
    onset = librosa.onset.onset_strength(y=y, sr=ANALYSIS_SR)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=ANALYSIS_SR, start_bpm=start_bpm)
    return float(np.atleast_1d(tempo)[0])


def estimate_key(audio: np.ndarray, sample_rate: int) -> tuple[int, str, float]:
    """Key as (tonic pitch class, "major" | "minor", correlation) from mean CQT chroma."""
    librosa = _librosa()
    y = _mono(audio, sample_rate)
    chroma = librosa.feature.chroma_cqt(y=y, sr=ANALYSIS_SR).mean(axis=1)
    best = (0, "major", -2.0)
    for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1])
            if r > best[2]:
                best = (tonic, mode, r)
    return best


def mirex_key_score(estimated: tuple[int, str], reference: tuple[int, str]) -> float:
    """MIREX weighted key score: 1 exact, 0.5 fifth, 0.3 relative, 0.2 parallel, else 0."""
    (et, em), (rt, rm) = estimated, reference
    if (et, em) == (rt, rm):
        return 1.0
    if em == rm and (et - rt) % 12 in (5, 7):
        return 0.5
    if em != rm and ((rm == "major" and et == (rt + 9) % 12) or (rm == "minor" and et == (rt + 3) % 12)):
        return 0.3
    if et == rt and em != rm:
        return 0.2
    return 0.0


def reference_key(tonic: str, mode: str) -> tuple[int, str]:
    """A brief's key as (pitch class, major/minor) for scoring."""
    return tonic_pitch_class(tonic), MODE_TO_MAJMIN[mode]


def tempo_matches(estimated: float, requested: float, *, tolerance: float = 0.04,
                  allow_octave: bool = False) -> bool:
    """Acc1 (within 4 %) or, with ``allow_octave``, Acc2 (also x2, x1/2, x3, x1/3)."""
    factors = (1.0, 2.0, 0.5, 3.0, 1 / 3) if allow_octave else (1.0,)
    return any(abs(estimated - requested * f) <= tolerance * requested * f for f in factors)
