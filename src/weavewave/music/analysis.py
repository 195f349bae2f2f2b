"""Measuring audio against its brief: tempo and key estimates (librosa), and their scores (mir_eval).

These are the adherence checks used by the test suite and the benchmarks; the evaluation module
builds on them. librosa and mir_eval come with the ``eval`` extra (``analysis`` has them too) and are
imported only when a measurement is made.
"""

from __future__ import annotations

import numpy as np

from weavewave._deps import require
from weavewave.music.theory import tonic_pitch_class

# Krumhansl & Kessler (1982) probe-tone key profiles, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Aarden-Essen profiles (Aarden 2003, from the Essen folk-song collection; humdrum's keycor, music21's
# default key analysis). On rendered Bach chorales they score well above Krumhansl-Kessler, which leans
# to the dominant key (docs/PERCEPTION.md); the audio perceiver uses them.
AARDEN_MAJOR = np.array(
    [
        17.7661,
        0.145624,
        14.9265,
        0.160186,
        19.8049,
        11.3587,
        0.291248,
        22.062,
        0.145624,
        8.15494,
        0.232998,
        4.95122,
    ]
)
AARDEN_MINOR = np.array(
    [
        18.2648,
        0.737619,
        14.0499,
        16.8599,
        0.702494,
        14.4362,
        0.702494,
        18.6161,
        4.56621,
        1.93186,
        7.37619,
        1.75623,
    ]
)
KEY_PROFILES = {"krumhansl": (KK_MAJOR, KK_MINOR), "aarden": (AARDEN_MAJOR, AARDEN_MINOR)}
ANALYSIS_SR = 22050
# For scoring, modes reduce to the major/minor key with the same tonic and third.
MODE_TO_MAJMIN = {
    "major": "major",
    "lydian": "major",
    "mixolydian": "major",
    "minor": "minor",
    "dorian": "minor",
    "phrygian": "minor",
    "locrian": "minor",
}


def _librosa():
    """librosa with its JIT cache set up and warm (see :mod:`weavewave.jitcache`)."""
    from weavewave.jitcache import librosa

    return librosa()


def _mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    librosa = _librosa()
    y = audio.mean(axis=1) if audio.ndim == 2 else audio
    return librosa.resample(y.astype(np.float32), orig_sr=sample_rate, target_sr=ANALYSIS_SR)


def estimate_tempo(
    audio: np.ndarray, sample_rate: int, *, start_bpm: float = 120.0, onset_envelope: np.ndarray | None = None
) -> float:
    """Tempo in BPM of ``audio`` [shape=(n,) or (n, channels)] by onset autocorrelation (librosa).

    ``onset_envelope``: the caller's onset strength of the same audio at ``ANALYSIS_SR`` (hop 512), if it
    has one already; then ``audio`` is not analysed again.
    """
    librosa = _librosa()
    onset = onset_envelope
    if onset is None:
        onset = librosa.onset.onset_strength(y=_mono(audio, sample_rate), sr=ANALYSIS_SR)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=ANALYSIS_SR, start_bpm=start_bpm)
    return float(np.atleast_1d(tempo)[0])


def estimate_key(audio: np.ndarray, sample_rate: int) -> tuple[int, str, float]:
    """Key as (tonic pitch class, "major" | "minor", correlation) from mean CQT chroma."""
    librosa = _librosa()
    y = _mono(audio, sample_rate)
    return key_from_chroma(librosa.feature.chroma_cqt(y=y, sr=ANALYSIS_SR).mean(axis=1))


def key_from_chroma(chroma: np.ndarray, *, profile: str = "krumhansl") -> tuple[int, str, float]:
    """Key as (tonic pitch class, "major" | "minor", correlation) of a mean chroma vector [shape=(12,)].

    The best of the 24 rotated key profiles (``KEY_PROFILES[profile]``) by Pearson correlation.
    """
    major, minor = KEY_PROFILES[profile]
    best = (0, "major", -2.0)
    for mode, profile_values in (("major", major), ("minor", minor)):
        for tonic in range(12):
            r = float(np.corrcoef(chroma, np.roll(profile_values, tonic))[0, 1])
            if r > best[2]:
                best = (tonic, mode, r)
    return best


# Key from a transcribed line: the first and the last note are heard as home more than the rest, so they
# count as this many extra note lengths (the mean); chroma, when given, adds its evidence at this weight
# (the audio perceiver gives none: a line's chroma holds its twelfths, and with 0.25 of it a clarinet's
# Essen tune in G major read as D major). With
# Krumhansl-Kessler on the known notes of 60 Essen tunes, Ode to Joy and the real recording
# (bench/bench_restyle_hearing.py's tunes): 0 extra lengths 56/62 keys right, 1: 58/62, 2: 61/62.
EDGE_NOTE_WEIGHT = 2.0
NOTES_CHROMA_WEIGHT = 0.25


def pitch_class_weights(notes: list[tuple[float, float, int]]) -> np.ndarray:
    """Duration-weighted pitch-class histogram [shape=(12,)] of (start_s, end_s, pitch) notes, summing to 1.

    Long notes weigh by their length, and the first and last notes get ``EDGE_NOTE_WEIGHT`` mean note
    lengths more: where a tune starts and ends is where it is at home.
    """
    hist = np.zeros(12)
    if not notes:
        return hist
    ordered = sorted(notes)
    mean = float(np.mean([e - s for s, e, _ in ordered]))
    for s, e, p in ordered:
        hist[p % 12] += max(0.0, e - s)
    for _, _, p in (ordered[0], ordered[-1]):
        hist[p % 12] += EDGE_NOTE_WEIGHT * mean
    return hist / hist.sum() if hist.sum() > 0 else hist


def key_from_notes(
    notes: list[tuple[float, float, int]], *, chroma: np.ndarray | None = None, profile: str = "aarden"
) -> tuple[int, str, float]:
    """Key as (tonic pitch class, "major" | "minor", correlation) of a transcribed line.

    The notes' :func:`pitch_class_weights`, plus ``NOTES_CHROMA_WEIGHT`` of the mean chroma [shape=(12,)]
    when given (each normalised to sum 1), correlated with the key profiles as in :func:`key_from_chroma`.
    A single line's chroma holds its harmonics (a twelfth above every note), which lean the key to the
    dominant or the relative minor; the notes do not.
    """
    vec = pitch_class_weights(notes)
    if chroma is not None and float(np.sum(chroma)) > 0:
        vec = vec + NOTES_CHROMA_WEIGHT * np.asarray(chroma, dtype=float) / float(np.sum(chroma))
    return key_from_chroma(vec, profile=profile)


# Key names as mir_eval reads them ("C# minor"), by pitch class.
MIR_EVAL_KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def mirex_key_score(estimated: tuple[int, str], reference: tuple[int, str]) -> float:
    """MIREX weighted key score (``mir_eval.key.weighted_score``): 1 exact, 0.5 a fifth above or below,
    0.3 relative, 0.2 parallel, else 0. Keys are (pitch class, "major" | "minor")."""
    key = require("mir_eval.key", "eval", "the MIREX key score")
    est, ref = (f"{MIR_EVAL_KEY_NAMES[pc % 12]} {mode}" for pc, mode in (estimated, reference))
    # mir_eval gives 0.5 only for the fifth above (its issue 337: as in MIREX's old reference code); the
    # MIREX task counts a fifth either way, so score both directions (the other weights are symmetric).
    return max(float(key.weighted_score(ref, est)), float(key.weighted_score(est, ref)))


def reference_key(tonic: str, mode: str) -> tuple[int, str]:
    """A brief's key as (pitch class, major/minor) for scoring."""
    return tonic_pitch_class(tonic), MODE_TO_MAJMIN[mode]


def tempo_matches(
    estimated: float, requested: float, *, tolerance: float = 0.04, allow_octave: bool = False
) -> bool:
    """Acc1 (within 4 %) or, with ``allow_octave``, Acc2 (also x2, x1/2, x3, x1/3)."""
    factors = (1.0, 2.0, 0.5, 3.0, 1 / 3) if allow_octave else (1.0,)
    return any(abs(estimated - requested * f) <= tolerance * requested * f for f in factors)


# --- used by weavewave.evaluate ------------------------------------------------------------------
# Analysis frames: librosa's default hop at ANALYSIS_SR, about 23 ms.
HOP = 512
# Local-tempo window: 8 s of onset envelope, long enough for two bars at 30 BPM.
TEMPO_WINDOW_S = 8.0


def analysis_signal(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``ANALYSIS_SR``, the signal every estimator here works on.

    Passing the result back into an estimator with ``sample_rate=ANALYSIS_SR`` skips resampling, so a
    caller that runs several estimators on one track resamples once.
    """
    return _mono(audio, sample_rate)


def beat_times(audio: np.ndarray, sample_rate: int, *, start_bpm: float = 120.0) -> np.ndarray:
    """Beat times in seconds [shape=(n_beats,)] by dynamic-programming beat tracking (librosa)."""
    librosa = _librosa()
    y = _mono(audio, sample_rate)
    onset = librosa.onset.onset_strength(y=y, sr=ANALYSIS_SR, hop_length=HOP)
    _, beats = librosa.beat.beat_track(
        onset_envelope=onset, sr=ANALYSIS_SR, hop_length=HOP, start_bpm=start_bpm, units="time"
    )
    return np.asarray(beats, dtype=float)


def tempo_curve(
    audio: np.ndarray, sample_rate: int, *, start_bpm: float = 120.0
) -> tuple[np.ndarray, np.ndarray]:
    """Local tempo over time: (times s [shape=(n,)], BPM [shape=(n,)]) from a sliding tempogram.

    The window is ``TEMPO_WINDOW_S``; each frame's estimate is the autocorrelation peak nearest the
    prior, as in :func:`estimate_tempo`, so the curve and the global estimate agree where tempo is steady.
    """
    librosa = _librosa()
    y = _mono(audio, sample_rate)
    onset = librosa.onset.onset_strength(y=y, sr=ANALYSIS_SR, hop_length=HOP)
    win = max(16, int(TEMPO_WINDOW_S * ANALYSIS_SR / HOP))
    bpm = librosa.feature.tempo(
        onset_envelope=onset,
        sr=ANALYSIS_SR,
        hop_length=HOP,
        aggregate=None,
        start_bpm=start_bpm,
        ac_size=TEMPO_WINDOW_S,
    )
    times = librosa.times_like(bpm, sr=ANALYSIS_SR, hop_length=HOP)
    step = max(1, win // 16)
    return times[::step], np.asarray(bpm, dtype=float)[::step]


def chroma(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Constant-Q chroma [shape=(12, frames)], C first, frames of ``HOP`` samples at ``ANALYSIS_SR``."""
    librosa = _librosa()
    return librosa.feature.chroma_cqt(y=_mono(audio, sample_rate), sr=ANALYSIS_SR, hop_length=HOP)


def section_boundaries(audio: np.ndarray, sample_rate: int, count: int) -> np.ndarray:
    """The ``count`` strongest section boundaries in seconds, sorted [shape=(count,)].

    Timbre (MFCC) and harmony (chroma) are averaged per second; a Foote checkerboard kernel slid along
    the diagonal of their self-similarity matrix gives a novelty curve whose highest peaks, at least 4 s
    apart and away from the ends, are the boundaries. The count is given (the brief's), so the result
    measures *where* the music changes, not how many times.
    """
    librosa = _librosa()
    if count <= 0:
        return np.zeros(0)
    y = _mono(audio, sample_rate)
    per_s = ANALYSIS_SR // HOP  # frames per ~second
    mfcc = librosa.feature.mfcc(y=y, sr=ANALYSIS_SR, n_mfcc=13, hop_length=HOP)
    chr_ = librosa.feature.chroma_cqt(y=y, sr=ANALYSIS_SR, hop_length=HOP)
    n_sec = mfcc.shape[1] // per_s
    if n_sec < 8:
        return np.zeros(0)
    feats = []
    for f in (mfcc[1:], chr_):
        pooled = f[:, : n_sec * per_s].reshape(f.shape[0], n_sec, per_s).mean(axis=2)
        pooled = (pooled - pooled.mean(axis=1, keepdims=True)) / (pooled.std(axis=1, keepdims=True) + 1e-9)
        feats.append(pooled / np.sqrt(f.shape[0]))
    x = np.vstack(feats)
    x = x / (np.linalg.norm(x, axis=0, keepdims=True) + 1e-9)
    ssm = x.T @ x
    novelty = checkerboard_novelty(ssm, half=4)
    return top_peaks(novelty, count, min_gap=4, edge=3).astype(float) + 0.0


def checkerboard_novelty(ssm: np.ndarray, half: int) -> np.ndarray:
    """Foote (2000) novelty: a Gaussian-tapered checkerboard kernel correlated along the diagonal."""
    idx = np.arange(-half, half) + 0.5
    taper = np.exp(-0.5 * (idx / (half / 2)) ** 2)
    kernel = np.outer(taper, taper) * np.sign(np.outer(idx, idx))
    n = ssm.shape[0]
    padded = np.pad(ssm, half, mode="edge")
    return np.array([np.sum(kernel * padded[i : i + 2 * half, i : i + 2 * half]) for i in range(n)])


def top_peaks(curve: np.ndarray, count: int, *, min_gap: int, edge: int) -> np.ndarray:
    """Indices of the ``count`` highest local maxima at least ``min_gap`` apart, ``edge`` from the ends."""
    order = np.argsort(curve)[::-1]
    chosen: list[int] = []
    for i in order:
        if i < edge or i > len(curve) - 1 - edge:
            continue
        if all(abs(i - j) >= min_gap for j in chosen):
            chosen.append(int(i))
        if len(chosen) == count:
            break
    return np.sort(np.array(chosen, dtype=int))


def boundary_f_measure(estimated: np.ndarray, reference: np.ndarray, *, window_s: float = 3.0) -> float:
    """F-measure of boundary hits within ``window_s`` (MIREX structural segmentation, one-to-one).

    Hits are the largest one-to-one matching of estimated to reference times (``mir_eval.util.match_events``),
    not a greedy nearest-first pairing, which can leave a boundary unmatched that another pairing would hit.
    """
    if len(reference) == 0 and len(estimated) == 0:
        return 1.0
    if len(reference) == 0 or len(estimated) == 0:
        return 0.0
    util = require("mir_eval.util", "eval", "the section boundary score")
    est, ref = np.asarray(estimated, dtype=float), np.asarray(reference, dtype=float)
    hits = len(util.match_events(ref, est, window_s))
    return float(util.f_measure(hits / len(est), hits / len(ref)))
