"""The audio perceiver: what a reference tune is, measured, and the material a restyle keeps.

``perceive_audio(path)`` decodes WAV, FLAC, MP3 or OGG (:func:`weavewave.io.audio.load_audio`) and measures
tempo and beat grid, key and mode, meter where the accents show it, loudness and an energy curve,
brightness (spectral centroid), onset density, section boundaries, a chord per beat from chroma
(triad templates, smoothed by Viterbi), and the melody as notes: basic-pitch's ONNX model (which ships
inside its package) and its top line for polyphonic music, librosa's pyin f0 tracker for a single line,
chosen by the measured polyphony of basic-pitch's notes. A single line's key comes from its notes. The
kept tune is put on the tracked beats with its bar lines where its long notes fall on strong beats, and
snapped to the grid. The reference is cut into segments at detected section boundaries, about
``SEGMENT_S`` seconds each, and every segment gets a caption of its own, as in M2T2M.

The proposals it makes (tempo, key, meter, genre, mood, energy, duration) are fused by the bridge with
provenance source ``"audio"``; :func:`attach_reference` then stores the kept material in the brief.
librosa, soundfile and basic-pitch are imported only when a file is analysed.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from weavewave._deps import require
from weavewave.brief import (
    MAX_DURATION_S,
    REFERENCE_MODES,
    Key,
    Observation,
    ReferenceMaterial,
)
from weavewave.errors import BadInputError
from weavewave.io.audio import load_audio
from weavewave.music.reharmonize import HarmonyTrust, clean_melody, harmony_confidence, reharmonize
from weavewave.music.theory import TONIC_NAMES as PITCH_CLASS_NAMES
from weavewave.perceive import Perception, Proposal

# Analysis.
SR = 22050
HOP = 512
KEY_PROFILE = "aarden"  # see weavewave.music.analysis.KEY_PROFILES and docs/PERCEPTION.md
# A transcribed single line: duration-weighted notes against Krumhansl-Kessler (the Krumhansl-Schmuckler
# key finder), whose tonic is its highest weight; Aarden's dominant outweighs its tonic, which on a
# scale or an arpeggio (notes of nearly equal length) reads C major as F major.
NOTE_KEY_PROFILE = "krumhansl"
SEGMENT_S = 10.0  # target segment length for per-segment observations
MAX_SEGMENTS = 24
NOVELTY_HALF_BEATS = 8  # the novelty kernel compares two bars of 4/4 before a beat with two after
SAME_THEME_CORRELATION = 0.9  # segments whose mean chroma correlate this well share a label
# Chords: triad templates over beat-synchronous chroma, smoothed so a chord holds unless the evidence moves.
CHORD_QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7)}
CHORD_CHANGE_PENALTY = 0.5  # in correlation units; higher holds chords longer
CHORD_OCTAVES = 4  # C1-C5
MIN_CHORD_CHROMA = 1e-3
# Melody transcription (basic-pitch) and clean-up.
ONSET_THRESHOLD = 0.5
FRAME_THRESHOLD = 0.3
MIN_NOTE_MS = 80.0
MELODY_MIN_PITCH = 48  # below C3 a transcribed note is bass, not tune
GRID_QN = 0.25  # kept material is quantised to sixteenths...
COARSE_GRID_QN = 0.5  # ...or to eighths when the tune moves slowly: a sung line's jitter is not rhythm
SLOW_TUNE_IOI_QN = 1.0  # median beats between tune onsets from which the eighth grid is used
# Which transcriber: basic-pitch hears chords, but on a single line (voice, whistle, a solo instrument) it
# often reports a harmonic (octave, twelfth) instead of the note; pyin's f0 tracking gets the octave right.
HARMONIC_INTERVALS = frozenset({12, 19, 24, 28, 31, 34, 36})  # partials 2-8 above a note, in semitones
SHARED_SHARE = 0.5  # two notes sound together when they share half of the shorter one's length
PARTIAL_SHARE = 0.3  # a note this much covered by a lower note a harmonic below it is that note's partial
MONOPHONIC_MAX_POLYPHONY = 0.25  # note-time share sounding with another, non-harmonic note: above is chords
# pyin (probabilistic YIN) for a monophonic line, and note segmentation from its f0 track.
PYIN_FMIN_HZ = 65.0  # C2
PYIN_FMAX_HZ = 2093.0  # C7
PYIN_FRAME = 2048  # 93 ms at SR: two periods of C2
PYIN_RESOLUTION = 0.25  # semitones per pitch bin: enough to round to notes, 6x faster than librosa's 0.1
MIN_VOICED_SHARE = 0.5  # of the sounding frames; less and the line is not pitched (drums, noise): basic-pitch
SOUNDING_DB = -40.0  # frames within this of the loudest count as sounding
NOTE_MIN_PROB = 0.3  # a note's mean voicing probability; below, a breath or noise that pyin half-hears
SLIP_GAP_FRAMES = 3  # an unattacked octave of the note just ended, this soon after it, is its decay
PITCH_HOLD_FRAMES = (
    3  # a new pitch must hold this many frames (70 ms) to start a note: vibrato and scoops do not
)
REPEAT_RISE = 1.25  # RMS rise across an onset that re-attacks the same pitch (a repeated note)
ONSET_LOOKBACK_S = 0.15  # a note starts at an attack this close before its first voiced frame (pyin lags it)
# Bars: the downbeat is the beat phase that puts the tune's long notes on strong beats.
STRONG_BEATS = {4: {0: 1.0, 2: 0.6}, 3: {0: 1.0}}  # beat-in-bar weights, 4/4 and 3/4
PHASE_MARGIN = 1.25  # another phase must beat the tracker's by this factor to move the bar line
ONBEAT_TOLERANCE_QN = 0.2  # an onset this close to a beat is on it
FIRST_SOUND_DB = -20.0  # leading frames quieter than this under the peak are silence before the music
# Meter: accent contrast of the beats' RMS peaks needed to call a meter.
METER_CONTRAST = 1.15
TRIPLE_MARGIN = 1.3  # 3/4 must beat 4/4 clearly: a wrong triple meter re-bars a kept tune
ACCENT_FRAMES = 4  # about 90 ms after each beat
# Mood and energy mapping (documented in docs/PERCEPTION.md).
LOUDNESS_ENERGY = (-40.0, -8.0)  # LUFS mapped to energy 0..1
ONSET_ENERGY = (0.5, 6.0)  # onsets per second mapped to energy 0..1
TEMPO_AROUSAL = (60.0, 160.0)  # BPM mapped to arousal -1..1
BRIGHT_HZ = (800.0, 3500.0)  # spectral centroid mapped to -1..1 (dark..bright)


@dataclass
class Segment:
    """One span of the reference with its own measurements and caption."""

    start_s: float
    end_s: float
    label: str
    energy: float
    loudness_db: float
    brightness_hz: float
    onsets_per_s: float
    chords: list[str]
    caption: str = ""


@dataclass
class AudioAnalysis:
    """Everything measured from a reference. Times in seconds unless named ``_qn``."""

    name: str
    duration_s: float
    tempo_bpm: float
    beat_times: np.ndarray  # [shape=(n_beats,)]
    key_tonic: int
    key_mode: str
    key_correlation: float
    meter: str | None  # None when the accents do not show it
    loudness_lufs: float | None
    energy: float
    energy_curve: list[float]  # one value per second, 0..1
    brightness_hz: float
    onsets_per_s: float
    boundaries_s: list[float]
    chords: list[tuple[float, float, str]]  # (start_qn, dur_qn, symbol)
    melody: list[tuple[float, float, int, int]]  # (start_qn, dur_qn, pitch, velocity)
    melody_s: list[tuple[float, float, int]]  # the same notes in seconds, unquantised: (start, end, pitch)
    length_qn: float
    segments: list[Segment] = field(default_factory=list)
    # How far the chords read from chroma can be trusted; when not, ``chords`` are re-harmonised from the
    # kept melody (``chords_from == "melody"``) and ``detected_chords`` keeps what chroma said.
    harmony: HarmonyTrust | None = None
    chords_from: str = "audio"
    detected_chords: list[tuple[float, float, str]] = field(default_factory=list)
    melody_dropped: int = 0  # transcribed notes left out of the kept tune as likely blips
    transcriber: str = "basic-pitch"  # "pyin" for a monophonic line, "none" when not transcribed
    polyphony: float | None = None  # see :func:`polyphony`; what chose the transcriber
    voiced_share: float | None = None  # pyin's voiced share of the sounding frames, when pyin ran
    key_from: str = "chroma"  # "notes" when a monophonic transcription gives the key
    origin_qn: float = 0.0  # the beat of the recording that became quarter note 0 (a downbeat)

    @property
    def key(self) -> Key:
        return Key(tonic=PITCH_CLASS_NAMES[self.key_tonic], mode=self.key_mode)


@dataclass
class AudioPerception(Perception):
    """A Perception that also carries the full analysis, for restyling."""

    analysis: AudioAnalysis | None = None


# --- analysis ------------------------------------------------------------------------------------
def _librosa():
    from weavewave.jitcache import librosa

    return librosa()


def analyse_audio(
    mono: np.ndarray, sample_rate: int, *, name: str = "audio", transcribe: bool = True
) -> AudioAnalysis:
    """Measure a mono signal [shape=(n,)]. See the module docstring for what is measured."""
    from weavewave.dsp.loudness import integrated_lufs
    from weavewave.music.analysis import estimate_tempo, key_from_chroma, key_from_notes

    librosa = _librosa()
    y = _resample(mono, sample_rate)
    duration = y.shape[0] / SR
    onset_env = librosa.onset.onset_strength(y=y, sr=SR, hop_length=HOP)
    tempo = float(estimate_tempo(y, SR, onset_envelope=onset_env))  # SR and HOP are the tempo analysis's own
    _, beat_frames = librosa.beat.beat_track(
        onset_envelope=onset_env, sr=SR, hop_length=HOP, bpm=tempo, units="frames"
    )
    beat_frames = np.asarray(beat_frames, dtype=int)
    if beat_frames.size < 4:  # no pulse to lock to: a regular grid at the estimated tempo
        beat_frames = librosa.time_to_frames(np.arange(0.0, duration, 60.0 / tempo), sr=SR, hop_length=HOP)
    beat_frames = _extend_to_start(beat_frames, 60.0 / tempo * SR / HOP)
    beat_times = librosa.frames_to_time(beat_frames, sr=SR, hop_length=HOP)
    chroma = librosa.feature.chroma_cqt(y=y, sr=SR, hop_length=HOP)
    rms = librosa.feature.rms(y=y, hop_length=HOP)[0]
    meter = _meter(rms, beat_frames)
    loud = integrated_lufs(mono, sample_rate)
    centroid = librosa.feature.spectral_centroid(y=y, sr=SR, hop_length=HOP)[0]
    onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=SR, hop_length=HOP, units="time")
    onsets_per_s = float(len(onsets) / duration)
    energy = _energy(loud, onsets_per_s)
    curve = _energy_curve(rms)
    heard = transcribe_line(y, rms=rms, onset_envelope=onset_env) if transcribe else Transcription([], "none")
    melody_s = heard.notes
    if heard.method == "pyin" and melody_s:
        # A single line's chroma is its harmonics as much as its notes (a twelfth puts G over C, leaning the
        # key to the dominant): the notes, which pyin heard at the right pitch, carry the key alone.
        tonic, mode, corr = key_from_notes(melody_s, profile=NOTE_KEY_PROFILE)
        key_from = "notes"
    else:
        tonic, mode, corr = key_from_chroma(chroma.mean(axis=1), profile=KEY_PROFILE)
        key_from = "chroma"
    # Chords from the register below the tune (C1-C5): a loud melody would otherwise pull every beat's chord.
    low_chroma = librosa.feature.chroma_cqt(
        y=y, sr=SR, hop_length=HOP, fmin=librosa.note_to_hz("C1"), n_octaves=CHORD_OCTAVES
    )
    beat_chroma = librosa.util.sync(low_chroma, beat_frames, aggregate=np.median)
    chord_labels = _chords_per_beat(beat_chroma)
    chords = _chord_spans(chord_labels)
    best, margins = _template_evidence(beat_chroma)
    trust = harmony_confidence(best, margins, chords, tonic, mode)
    tune_s = clean_melody(melody_s, tonic, mode)
    to_qn = seconds_to_qn(beat_times, tempo)
    beats_per_bar = int((meter or "4/4").split("/")[0])
    first_sound = _first_sound_s(rms)
    melody, length_qn, origin = _melody_qn(
        tune_s, to_qn, duration, beats_per_bar=beats_per_bar, first_sound_s=first_sound
    )
    chords = _shift_chords(chords, origin)
    boundaries = _boundaries(librosa, y, chroma, beat_frames, duration, start_s=first_sound)
    detected = [c for c in chords if c[0] < length_qn]
    chords_from = "audio"
    if not trust.trusted and melody:
        chords, chords_from = reharmonize(melody, tonic, mode, length_qn, float(beats_per_bar)), "melody"
    analysis = AudioAnalysis(
        name=name,
        duration_s=round(duration, 3),
        tempo_bpm=round(tempo, 2),
        beat_times=beat_times,
        key_tonic=tonic,
        key_mode=mode,
        key_correlation=round(corr, 3),
        meter=meter,
        loudness_lufs=None if loud is None else round(loud, 2),
        energy=energy,
        energy_curve=curve,
        brightness_hz=round(float(np.mean(centroid)), 1),
        onsets_per_s=round(onsets_per_s, 2),
        boundaries_s=boundaries,
        chords=[c for c in chords if c[0] < length_qn],
        melody=melody,
        melody_s=melody_s,
        length_qn=length_qn,
        harmony=trust,
        chords_from=chords_from,
        detected_chords=detected,
        melody_dropped=len(melody_s) - len(tune_s),
        transcriber=heard.method,
        polyphony=heard.polyphony,
        voiced_share=heard.voiced_share,
        key_from=key_from,
        origin_qn=origin,
    )
    analysis.segments = _segments(analysis, rms, centroid, onsets, chroma)
    return analysis


def _resample(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """To the analysis rate with a polyphase filter (scipy): no JIT warm-up, unlike librosa's resamplers."""
    from math import gcd

    from scipy.signal import resample_poly

    if sample_rate == SR:
        return mono.astype(np.float32)
    g = gcd(SR, sample_rate)
    return resample_poly(mono.astype(np.float64), SR // g, sample_rate // g).astype(np.float32)


def _extend_to_start(beat_frames: np.ndarray, period_frames: float) -> np.ndarray:
    """Beats before the first tracked one, at the tempo, back to the start: the tracker skips weak
    opening beats, and the material must start where the music starts."""
    if beat_frames.size == 0:
        return beat_frames
    first = float(beat_frames[0])
    n_before = int(np.floor(first / period_frames + 0.25))
    before = [int(round(first - k * period_frames)) for k in range(n_before, 0, -1)]
    return np.concatenate([np.array([max(0, b) for b in before], dtype=int), beat_frames])


def _meter(rms: np.ndarray, beat_frames: np.ndarray) -> str | None:
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


def _scale(value: float, lo: float, hi: float) -> float:
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0))


def _energy(loudness: float | None, onsets_per_s: float) -> float:
    loud = _scale(loudness, *LOUDNESS_ENERGY) if loudness is not None else 0.0
    return round(0.5 * loud + 0.5 * _scale(onsets_per_s, *ONSET_ENERGY), 3)


def _energy_curve(rms: np.ndarray) -> list[float]:
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


def _chords_per_beat(beat_chroma: np.ndarray) -> list[str]:
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


def _template_evidence(beat_chroma: np.ndarray) -> tuple[list[float], list[float]]:
    """Per beat, the best triad template's correlation and its lead over the runner-up: high and clear
    over real chords, low and ambiguous over a single line or noise."""
    _, templates = _templates()
    c = beat_chroma - beat_chroma.mean(axis=0, keepdims=True)
    scores = templates @ (c / np.maximum(np.linalg.norm(c, axis=0), MIN_CHORD_CHROMA))
    if scores.shape[1] == 0:
        return [], []
    top = np.sort(scores, axis=0)
    return [float(v) for v in top[-1]], [float(v) for v in top[-1] - top[-2]]


def _chord_spans(labels: list[str]) -> list[tuple[float, float, str]]:
    """Per-beat labels merged into (start_qn, dur_qn, symbol) runs; beat ``i`` is quarter note ``i``."""
    spans: list[tuple[float, float, str]] = []
    for i, name in enumerate(labels):
        if spans and spans[-1][2] == name:
            start, dur, _ = spans[-1]
            spans[-1] = (start, dur + 1.0, name)
        else:
            spans.append((float(i), 1.0, name))
    return spans


def _boundaries(
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


# --- melody --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet():
    """basic-pitch logs a warning for each backend it lacks (TF, TFLite, CoreML), prints progress to
    stdout, and resampy warns about pkg_resources: noise for a user of the ONNX backend, all it needs."""
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


@lru_cache(maxsize=1)
def _basic_pitch_model() -> Any:
    _librosa()  # basic-pitch imports librosa: its JIT cache must be set up and warm first
    with _quiet():
        inference = require("basic_pitch.inference", "audio", "melody transcription")
        from basic_pitch import ICASSP_2022_MODEL_PATH

        return inference.Model(ICASSP_2022_MODEL_PATH)


def transcribe_notes(y: np.ndarray) -> list[tuple[float, float, int, float]]:
    """All notes basic-pitch hears in a 22.05 kHz mono signal: (start_s, end_s, pitch, amplitude)."""
    model = _basic_pitch_model()
    with _quiet():
        from basic_pitch.inference import predict
    import soundfile as sf  # a core dependency

    with tempfile.TemporaryDirectory(prefix="weavewave-bp-") as tmp:
        wav = Path(tmp) / "reference.wav"
        sf.write(str(wav), y, SR, subtype="FLOAT")
        with _quiet():
            _, _, events = predict(
                wav,
                model,
                onset_threshold=ONSET_THRESHOLD,
                frame_threshold=FRAME_THRESHOLD,
                minimum_note_length=MIN_NOTE_MS,
            )
    return [(float(s), float(e), int(p), float(a)) for s, e, p, a, _ in events]


def transcribe_melody(y: np.ndarray) -> list[tuple[float, float, int]]:
    """The tune of a 22.05 kHz mono signal as a monophonic line: (start_s, end_s, pitch).

    pyin for a monophonic recording, basic-pitch's top line otherwise (see :func:`transcribe_line`).
    """
    return transcribe_line(y).notes


@dataclass
class Transcription:
    """A transcribed tune and how it was heard: ``method`` is "pyin", "basic-pitch" or "none"."""

    notes: list[tuple[float, float, int]]  # (start_s, end_s, pitch), monophonic, by start
    method: str
    polyphony: float | None = None
    voiced_share: float | None = None


def polyphony(notes: list[tuple[float, float, int, float]] | list[tuple[float, float, int]]) -> float:
    """How polyphonic a transcription is: the share of note time (0..1) that sounds with another voice.

    Notes a harmonic above a lower note sounding with them (octave, twelfth...: ``HARMONIC_INTERVALS``,
    for ``PARTIAL_SHARE`` of their length) are that note's partials, which transcribers report, not
    voices, and are left out. Of the rest, two notes sound together when they share ``SHARED_SHARE`` of
    the shorter one's length (legato overlaps do not count). A solo line scores near 0, chords near 1.
    """
    items = sorted((float(n[0]), float(n[1]), int(n[2])) for n in notes if n[1] > n[0])

    def overlap(a: tuple[float, float, int], b: tuple[float, float, int]) -> float:
        return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))

    voices = [
        n
        for n in items
        if sum(overlap(n, m) for m in items if (n[2] - m[2]) in HARMONIC_INTERVALS)
        < PARTIAL_SHARE * (n[1] - n[0])
    ]
    total = sum(e - s for s, e, _ in voices)
    if total <= 0:
        return 0.0
    together = sum(
        n[1] - n[0]
        for n in voices
        if any(
            m is not n and m[2] != n[2] and overlap(n, m) >= SHARED_SHARE * min(n[1] - n[0], m[1] - m[0])
            for m in voices
        )
    )
    return round(together / total, 3)


def transcribe_line(
    y: np.ndarray, *, rms: np.ndarray | None = None, onset_envelope: np.ndarray | None = None
) -> Transcription:
    """The tune of a 22.05 kHz mono signal [shape=(n,)], by the transcriber that suits it.

    basic-pitch transcribes everything; when its notes show one line (:func:`polyphony` at most
    ``MONOPHONIC_MAX_POLYPHONY``) pyin tracks the f0 and :func:`notes_from_f0` segments it, unless fewer
    than ``MIN_VOICED_SHARE`` of the sounding frames are voiced (unpitched sound: basic-pitch stays).
    ``rms`` and ``onset_envelope`` (hop ``HOP``) are the caller's, if it has them.
    """
    from weavewave.music.melodic import skyline

    everything = transcribe_notes(y)
    poly = polyphony(everything)
    top = [(s, e, p) for s, e, p, _ in everything if p >= MELODY_MIN_PITCH]
    line = [(round(s, 4), round(e, 4), p) for s, e, p in skyline(top, min_duration=MIN_NOTE_MS / 2000)]
    if poly > MONOPHONIC_MAX_POLYPHONY:
        return Transcription(line, "basic-pitch", poly)
    # basic-pitch's onsets are precise even where its pitch slips: they time pyin's notes.
    attacks = sorted({round(s, 3) for s, *_ in everything})
    notes, voiced = pyin_notes(y, rms=rms, onset_envelope=onset_envelope, attacks_s=attacks)
    if voiced < MIN_VOICED_SHARE or not notes:
        return Transcription(line, "basic-pitch", poly, voiced)
    return Transcription(notes, "pyin", poly, voiced)


def pyin_notes(
    y: np.ndarray,
    *,
    rms: np.ndarray | None = None,
    onset_envelope: np.ndarray | None = None,
    attacks_s: list[float] | None = None,
) -> tuple[list[tuple[float, float, int]], float]:
    """A monophonic line's notes by pyin: ((start_s, end_s, pitch) list, voiced share of sounding frames).

    Attacks are librosa's onsets plus ``attacks_s`` (seconds: another transcriber's note onsets).
    """
    librosa = _librosa()
    f0, voiced, prob = librosa.pyin(
        y,
        fmin=PYIN_FMIN_HZ,
        fmax=PYIN_FMAX_HZ,
        sr=SR,
        frame_length=PYIN_FRAME,
        hop_length=HOP,
        resolution=PYIN_RESOLUTION,
    )
    if rms is None:
        rms = librosa.feature.rms(y=y, hop_length=HOP)[0]
    if onset_envelope is None:
        onset_envelope = librosa.onset.onset_strength(y=y, sr=SR, hop_length=HOP)
    n = min(len(f0), len(rms), len(onset_envelope))
    f0, voiced, prob, rms = f0[:n], voiced[:n], prob[:n], rms[:n]
    sounding = rms >= float(np.max(rms)) * 10 ** (SOUNDING_DB / 20)
    share = float(np.mean(voiced[sounding])) if sounding.any() else 0.0
    onset_frames = librosa.onset.onset_detect(onset_envelope=onset_envelope[:n], sr=SR, hop_length=HOP)
    timing = None
    if attacks_s:
        extra = np.round(np.asarray(attacks_s) * SR / HOP).astype(int)
        onset_frames = np.union1d(onset_frames, extra[(extra >= 0) & (extra < n)])
        timing = np.asarray(attacks_s, dtype=float)
    notes = notes_from_f0(
        librosa.hz_to_midi(np.where(voiced, f0, np.nan)),
        prob,
        rms,
        onset_frames,
        hop_s=HOP / SR,
        timing_s=timing,
    )
    return notes, round(share, 3)


def _rise(rms: np.ndarray, frame: int) -> float:
    """How much the level rises across an onset: the peak just after over the quietest just before."""
    before = rms[max(0, frame - 4) : max(1, frame)]
    after = rms[frame : frame + 3] if frame < len(rms) else rms[-1:]
    return float(np.max(after)) / max(float(np.min(before)), 1e-9)


def notes_from_f0(
    midi: np.ndarray,
    prob: np.ndarray,
    rms: np.ndarray,
    onset_frames: np.ndarray,
    *,
    hop_s: float,
    timing_s: np.ndarray | None = None,
) -> list[tuple[float, float, int]]:
    """Segment an f0 track into notes: (start_s, end_s, pitch).

    midi: f0 per frame in MIDI numbers, NaN where unvoiced [shape=(n,)]; prob: voicing probability
    [shape=(n,)]; rms: level [shape=(n,)]; onset_frames: attack frames. A note starts where voicing
    starts, where a new pitch holds ``PITCH_HOLD_FRAMES`` frames, or at an attack that re-strikes the same
    pitch (the level rises by ``REPEAT_RISE``), and ends where voicing ends. A jump of whole octaves with
    no attack is the tracker slipping in a decay, not a new note. Its pitch is the median of its frames;
    notes shorter than ``MIN_NOTE_MS`` or less sure than ``NOTE_MIN_PROB`` are dropped, and each start
    moves back to an attack within ``ONSET_LOOKBACK_S``, which pyin's window hears late: an onset where
    the level rises by ``REPEAT_RISE``, or one of ``timing_s`` (seconds, another transcriber's onsets).
    """
    n = len(midi)
    rounded = np.where(np.isfinite(midi), np.round(np.nan_to_num(midi)), np.nan)
    attacks = {int(f) for f in onset_frames}
    spans: list[tuple[int, int, float]] = []  # (first frame, end frame, pitch)
    start, pitch = -1, np.nan

    def close(end: int) -> None:
        if start >= 0:
            spans.append((start, end, pitch))

    for i in range(n):
        r = rounded[i]
        if not np.isfinite(r):
            close(i)
            start, pitch = -1, np.nan
            continue
        if start < 0:
            start, pitch = i, r
            continue
        held = rounded[i : i + PITCH_HOLD_FRAMES]
        new_pitch = r != pitch and held.size == PITCH_HOLD_FRAMES and bool(np.all(held == r))
        attacked = any(f in attacks for f in range(i - 1, i + 2))
        if new_pitch and (r - pitch) % 12 == 0 and not attacked:
            continue  # an octave slip in the decay: the same note
        if new_pitch or (
            i in attacks and r == pitch and i - start >= PITCH_HOLD_FRAMES and _rise(rms, i) >= REPEAT_RISE
        ):
            close(i)
            start, pitch = i, r
    close(n)
    merged: list[tuple[int, int, float]] = []
    for a, b, p in spans:
        if (
            merged
            and a - merged[-1][1] <= SLIP_GAP_FRAMES
            and (p - merged[-1][2]) % 12 == 0
            and not any(f in attacks for f in range(a - 2, a + 3))
        ):
            merged[-1] = (merged[-1][0], b, merged[-1][2])  # the tracker slipped an octave in the decay
        else:
            merged.append((a, b, p))
    # Attacks that time a note: the given ones, plus energy onsets where the level really rises (an
    # onset detector also fires on vibrato, which does not).
    rising = [f for f in sorted(attacks) if _rise(rms, f) >= REPEAT_RISE]
    attack_s = np.array(rising, dtype=float) * hop_s
    if timing_s is not None:
        attack_s = np.union1d(attack_s, timing_s)
    notes: list[tuple[float, float, int]] = []
    for a, b, held_pitch in merged:
        frames = midi[a:b][np.abs(midi[a:b] - held_pitch) <= 1.0]  # not the slipped octaves
        if (b - a) * hop_s < MIN_NOTE_MS / 1000 or float(np.mean(prob[a:b])) < NOTE_MIN_PROB:
            continue
        t0, t1 = a * hop_s, b * hop_s
        earlier = attack_s[(attack_s >= t0 - ONSET_LOOKBACK_S) & (attack_s <= t0)]
        if notes:
            earlier = earlier[earlier >= notes[-1][0] + MIN_NOTE_MS / 1000]
        if earlier.size:
            t0 = float(earlier[0])
        if notes and notes[-1][1] > t0:  # the previous note's tail was this one's attack
            notes[-1] = (notes[-1][0], round(t0, 4), notes[-1][2])
        notes.append((round(t0, 4), round(t1, 4), int(np.round(np.nanmedian(frames)))))
    return notes


def seconds_to_qn(beat_times: np.ndarray, tempo: float):
    """A map from seconds to quarter notes that follows the detected beats (beat i = qn i)."""
    qn_s = 60.0 / tempo

    def to_qn(t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        inside = np.interp(t, beat_times, np.arange(len(beat_times), dtype=float))
        before = (t - beat_times[0]) / qn_s
        after = len(beat_times) - 1 + (t - beat_times[-1]) / qn_s
        return np.where(t < beat_times[0], before, np.where(t > beat_times[-1], after, inside))

    return to_qn


def _first_sound_s(rms: np.ndarray) -> float:
    """When the music starts: the first frame within ``FIRST_SOUND_DB`` of the loudest."""
    loud = np.flatnonzero(rms >= float(np.max(rms)) * 10 ** (FIRST_SOUND_DB / 20))
    return float(loud[0] * HOP / SR) if loud.size else 0.0


def downbeat_phase(onsets_qn: list[float], weights: list[float], beats_per_bar: int) -> int:
    """The beat (0 .. ``beats_per_bar`` - 1) the bars start on, from a tune's onsets in beats.

    The phase that puts the most weight (a note's length: long notes sit on strong beats) on beat 1 (and,
    less, beat 3 of 4/4) wins; the tracker's own phase, 0, stays unless another clearly beats it.
    """
    strong = STRONG_BEATS.get(beats_per_bar, {0: 1.0})
    scores = []
    for phase in range(beats_per_bar):
        score = 0.0
        for q, w in zip(onsets_qn, weights, strict=True):
            beat = round(q)
            if abs(q - beat) <= ONBEAT_TOLERANCE_QN:
                score += w * strong.get((beat - phase) % beats_per_bar, 0.0)
        scores.append(score)
    best = int(np.argmax(scores))
    return best if scores[best] > PHASE_MARGIN * scores[0] else 0


def _melody_qn(
    melody_s: list[tuple[float, float, int]],
    to_qn: Any,
    duration: float,
    *,
    beats_per_bar: int = 4,
    first_sound_s: float = 0.0,
) -> tuple[list[tuple[float, float, int, int]], float, float]:
    """The melody on the tracked beat grid, bars starting on the tune's downbeat, snapped to the grid.

    The origin (quarter note 0) is the downbeat at or before the first sound or note, whichever is first,
    so leading silence is dropped and a pickup stays a pickup. Onsets snap to sixteenths, or to eighths
    when the tune moves in beats or slower (``SLOW_TUNE_IOI_QN``). Returns the notes, the length in
    quarter notes, and the origin (the recording's beat that became 0).
    """
    raw = [(float(to_qn(s)), float(to_qn(e)), p) for s, e, p in melody_s]
    phase = downbeat_phase([s for s, _, _ in raw], [min(e - s, 2.0) for s, e, _ in raw], beats_per_bar)
    start = min([float(to_qn(first_sound_s)), *(s for s, _, _ in raw[:1])])
    origin = phase + beats_per_bar * np.floor((start + ONBEAT_TOLERANCE_QN - phase) / beats_per_bar)
    iois = np.diff([s for s, _, _ in raw])
    grid = COARSE_GRID_QN if iois.size and float(np.median(iois)) >= SLOW_TUNE_IOI_QN else GRID_QN
    notes: list[tuple[float, float, int, int]] = []
    for s, e, p in raw:
        start_q = round((s - origin) / grid) * grid
        end_q = round((e - origin) / grid) * grid
        if notes and start_q < notes[-1][0] + grid:
            continue  # two notes snapped onto one grid step: keep the first
        if notes and notes[-1][0] + notes[-1][1] > start_q:
            notes[-1] = (notes[-1][0], start_q - notes[-1][0], notes[-1][2], notes[-1][3])
        notes.append((float(start_q), float(max(grid, end_q - start_q)), p, 90))
    length = float(to_qn(duration)) - origin
    length = max(GRID_QN, np.ceil(length / GRID_QN) * GRID_QN)
    return [n for n in notes if n[0] < length], float(length), float(origin)


def _shift_chords(chords: list[tuple[float, float, str]], origin: float) -> list[tuple[float, float, str]]:
    """Chord spans moved so ``origin`` is 0; what sounded before it is cut off."""
    out = []
    for start, dur, name in chords:
        s, e = start - origin, start - origin + dur
        if e > 1e-6:
            out.append((max(0.0, s), e - max(0.0, s), name))
    return out


# --- segments and captions -----------------------------------------------------------------------
def _segments(
    a: AudioAnalysis, rms: np.ndarray, centroid: np.ndarray, onsets: np.ndarray, chroma: np.ndarray
) -> list[Segment]:
    """Per-segment measurements, theme labels by chroma similarity, and a caption each."""
    from weavewave.jitcache import librosa as _get_librosa

    librosa = _get_librosa()

    edges = [*a.boundaries_s, a.duration_s]
    frames = librosa.time_to_frames(np.array(edges), sr=SR, hop_length=HOP)
    overall_db = 20 * np.log10(max(float(np.mean(rms)), 1e-6))
    themes: list[np.ndarray] = []
    out: list[Segment] = []
    for i in range(len(edges) - 1):
        f0, f1 = int(frames[i]), max(int(frames[i]) + 1, int(frames[i + 1]))
        seg_db = 20 * np.log10(max(float(np.mean(rms[f0:f1])), 1e-6))
        mean_chroma = chroma[:, f0:f1].mean(axis=1)
        label = None
        for k, theme in enumerate(themes):
            if np.corrcoef(theme, mean_chroma)[0, 1] >= SAME_THEME_CORRELATION:
                label = chr(ord("A") + k)
                break
        if label is None:
            themes.append(mean_chroma)
            label = chr(ord("A") + min(len(themes) - 1, 25))
        dur = edges[i + 1] - edges[i]
        seg_onsets = float(np.sum((onsets >= edges[i]) & (onsets < edges[i + 1])) / max(dur, 1e-6))
        q0, q1 = _qn_range(a, edges[i], edges[i + 1])
        chords = list(dict.fromkeys(c[2] for c in a.chords if c[0] + c[1] > q0 and c[0] < q1))[:4]
        out.append(
            Segment(
                start_s=round(edges[i], 3),
                end_s=round(edges[i + 1], 3),
                label=label,
                energy=round(float(np.clip(a.energy + (seg_db - overall_db) / 24.0, 0.05, 0.95)), 3),
                loudness_db=round(seg_db, 1),
                brightness_hz=round(float(np.mean(centroid[f0:f1])), 1),
                onsets_per_s=round(seg_onsets, 2),
                chords=chords,
            )
        )
    for seg in out:
        seg.caption = segment_caption(seg, tempo=a.tempo_bpm)
    return out


def _qn_range(a: AudioAnalysis, start_s: float, end_s: float) -> tuple[float, float]:
    to_qn = seconds_to_qn(a.beat_times, a.tempo_bpm)
    return float(to_qn(start_s)) - a.origin_qn, float(to_qn(end_s)) - a.origin_qn


def _words(energy: float, brightness_hz: float, onsets_per_s: float) -> str:
    level = "quiet" if energy < 0.35 else "steady" if energy < 0.65 else "loud"
    tone = (
        "dark"
        if brightness_hz < BRIGHT_HZ[0] * 1.5
        else "bright"
        if brightness_hz > BRIGHT_HZ[1] * 0.8
        else "warm"
    )
    motion = "sparse" if onsets_per_s < 1.5 else "flowing" if onsets_per_s < 4 else "busy"
    return f"{level}, {tone}, {motion}"


def _chord_words(chords: list[str]) -> str:
    if not chords:
        return ""
    names = [c.replace(":maj", "").replace(":min", "m") for c in chords]
    return f" over {' - '.join(names)}"


def segment_caption(
    seg: Segment,
    *,
    tempo: float,
    style: str | None = None,
    instruments: str | None = None,
    keep: str | None = None,
) -> str:
    """A caption for one segment: what it sounds like; with ``style`` etc., how the restyle plays it."""
    head = f"{seg.label} ({seg.start_s:.0f}-{seg.end_s:.0f} s): {_words(seg.energy, seg.brightness_hz, seg.onsets_per_s)}"
    if style is None:
        return f"{head} passage{_chord_words(seg.chords)}, {tempo:g} BPM"
    return f"{head} {style} passage{' on ' + instruments if instruments else ''}" + (
        f", {keep}" if keep else ""
    )


# --- proposals -----------------------------------------------------------------------------------
def _genre_guess(a: AudioAnalysis) -> tuple[str, float, str]:
    """A weak genre guess from tempo, brightness and activity; an instruction or --genre overrides it."""
    if a.energy < 0.35 and a.onsets_per_s < 2.0:
        return "ambient", 0.3, "quiet and sparse"
    if a.tempo_bpm >= 118 and a.onsets_per_s >= 4.0 and a.brightness_hz > 2000:
        return "electronic", 0.3, "fast, busy and bright"
    if a.energy > 0.7 and a.brightness_hz > 2000:
        return "rock", 0.3, "loud and bright"
    if a.brightness_hz < 1500 and a.energy < 0.55:
        return "classical", 0.3, "soft and warm"
    return "pop", 0.25, "moderate tempo and level"


def duration_proposal(length_qn: float, tempo_bpm: float, name: str) -> Proposal:
    """The brief's length from a reference: its beats at its tempo, capped at the brief's limit.

    The beat grid is rounded up to whole grid steps and follows the player's tempo drift, so a tune of
    exactly ``MAX_AUDIO_S`` (600 s) can measure a little over it (613 s was seen); such a reference is
    accepted, and the piece made from it is as long as a brief may be.
    """
    seconds = length_qn * 60.0 / tempo_bpm
    if seconds <= MAX_DURATION_S:
        return Proposal(round(seconds, 3), 0.9, f"duration: the length of {name}")
    return Proposal(
        MAX_DURATION_S,
        0.9,
        f"duration: the length of {name} ({seconds:.0f} s), capped at {MAX_DURATION_S:g} s",
    )


def _proposals(a: AudioAnalysis) -> dict[str, Proposal]:
    n = a.name
    brightness = 2 * _scale(a.brightness_hz, *BRIGHT_HZ) - 1
    valence = float(np.clip((0.35 if a.key_mode == "major" else -0.35) + 0.25 * brightness, -1, 1))
    arousal = float(
        np.clip(0.6 * (2 * _scale(a.tempo_bpm, *TEMPO_AROUSAL) - 1) + 0.4 * (2 * a.energy - 1), -1, 1)
    )
    genre, g_conf, g_why = _genre_guess(a)
    key = a.key
    props = {
        "tempo_bpm": Proposal(a.tempo_bpm, 1.0, f"tempo {a.tempo_bpm:g}: measured from the beats of {n}"),
        "key": Proposal(
            key,
            float(np.clip(a.key_correlation, 0.1, 0.95)),
            f"key {key}: chroma of {n} correlates {a.key_correlation:.2f} with the Aarden-Essen key profile"
            if a.key_from == "chroma"
            else f"key {key}: the notes of {n}'s single line, weighted by length, correlate "
            f"{a.key_correlation:.2f} with the Krumhansl-Kessler key profile",
        ),
        "duration_s": duration_proposal(a.length_qn, a.tempo_bpm, n),
        "valence": Proposal(
            round(valence, 3),
            0.7,
            f"valence {valence:+.2f}: {key.mode} key, brightness {a.brightness_hz:.0f} Hz",
        ),
        "arousal": Proposal(
            round(arousal, 3), 0.7, f"arousal {arousal:+.2f}: {a.tempo_bpm:g} BPM, energy {a.energy:.2f}"
        ),
        "energy": Proposal(
            a.energy,
            0.8,
            f"energy {a.energy:.2f}: loudness "
            f"{a.loudness_lufs if a.loudness_lufs is not None else -70:.1f} LUFS, "
            f"{a.onsets_per_s:.1f} onsets/s",
        ),
        "density": Proposal(
            round(_scale(a.onsets_per_s, *ONSET_ENERGY), 3),
            0.6,
            f"density: {a.onsets_per_s:.1f} onsets/s in {n}",
        ),
        "genre": Proposal(genre, g_conf, f"genre {genre}: {n} is {g_why} (a guess from the sound)"),
        "mood_tags": Proposal(
            [w for w in _words(a.energy, a.brightness_hz, a.onsets_per_s).split(", ")][:2],
            0.5,
            "from the reference's level and brightness",
        ),
        "caption_hint": Proposal(f"after the reference {n}", 0.5, "restyled from a reference tune"),
    }
    if a.meter is not None:
        props["meter"] = Proposal(
            a.meter, 0.6, f"meter {a.meter}: accents of {n} repeat every {a.meter[0]} beats"
        )
    return props


def perceive_audio(path: str | Path, *, transcribe: bool = True) -> AudioPerception:
    """Analyse a reference recording and propose brief attributes from it.

    Parameters
    ----------
    path: a WAV, FLAC, MP3 or OGG file, at most ``WEAVEWAVE_MAX_AUDIO_S`` (default 600) seconds.
    transcribe: transcribe the melody (basic-pitch, or pyin for a single line; off: chords, key and tempo only).

    Raises
    ------
    BadInputError: the file is missing, empty, undecodable, truncated, too long, too short or silent.
    """
    p = Path(path)
    mono, sr = load_audio(p)
    a = analyse_audio(mono, sr, name=p.name, transcribe=transcribe)
    measurements: dict[str, Any] = {
        "duration_s": a.duration_s,
        "tempo_bpm": a.tempo_bpm,
        "beats": int(len(a.beat_times)),
        "key": str(a.key),
        "key_correlation": a.key_correlation,
        "meter": a.meter,
        "loudness_lufs": a.loudness_lufs,
        "energy": a.energy,
        "energy_curve": a.energy_curve,
        "brightness_hz": a.brightness_hz,
        "onsets_per_s": a.onsets_per_s,
        "section_boundaries_s": a.boundaries_s,
        "melody_notes": len(a.melody),
        "chords": [c[2] for c in a.chords][:64],
        "chords_from": a.chords_from,
        "detected_chords": [c[2] for c in a.detected_chords][:64],
        "harmony_confidence": a.harmony.confidence if a.harmony else None,
        "harmony_reason": a.harmony.reason if a.harmony else "",
        "melody_notes_dropped": a.melody_dropped,
        "transcriber": a.transcriber,
        "polyphony": a.polyphony,
        "voiced_share": a.voiced_share,
        "key_from": a.key_from,
        "origin_beat": a.origin_qn,
        "segments": [
            {
                "start_s": s.start_s,
                "end_s": s.end_s,
                "label": s.label,
                "energy": s.energy,
                "loudness_db": s.loudness_db,
                "brightness_hz": s.brightness_hz,
                "onsets_per_s": s.onsets_per_s,
                "chords": s.chords,
                "caption": s.caption,
            }
            for s in a.segments
        ],
    }
    summary = (
        f"{a.duration_s:.0f} s reference in {a.key} at {a.tempo_bpm:g} BPM"
        f"{', ' + a.meter if a.meter else ''}; {len(a.segments)} segments, {len(a.melody)} melody notes, "
        f"{len(a.chords)} chord changes"
        f"{' (re-harmonised from the melody: detected chords not trusted)' if a.chords_from == 'melody' else ''}"
    )
    obs = Observation(source="audio", input=p.name, summary=summary, measurements=measurements)
    return AudioPerception(observation=obs, proposals=_proposals(a), analysis=a)


# --- restyle: keep the reference in the brief ----------------------------------------------------
def reference_material(a: AudioAnalysis, mode: str) -> ReferenceMaterial:
    """The material a brief keeps for ``mode`` (see :class:`weavewave.brief.ReferenceMaterial`)."""
    if mode not in REFERENCE_MODES:
        raise BadInputError(f"unknown reference mode {mode!r}: use melody, harmony or style")
    return ReferenceMaterial(
        source=a.name,
        mode=mode,
        tempo_bpm=a.tempo_bpm,
        key=a.key,
        length_qn=a.length_qn,
        melody=list(a.melody) if mode == "melody" else [],
        chords=list(a.chords) if mode in ("melody", "harmony") else [],
        chords_from=a.chords_from,
        harmony_confidence=a.harmony.confidence if a.harmony else None,
        harmony_reason=a.harmony.reason if a.harmony else "",
    )
