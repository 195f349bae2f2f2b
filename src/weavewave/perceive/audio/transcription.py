"""The melody as notes: basic-pitch for polyphonic music, pyin for a single line, chosen by polyphony."""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from weavewave._deps import require
from weavewave.perceive.audio.model import HOP, SR, get_librosa

# Melody transcription (basic-pitch) and clean-up.
ONSET_THRESHOLD = 0.5


FRAME_THRESHOLD = 0.3


MIN_NOTE_MS = 80.0


MELODY_MIN_PITCH = 48  # below C3 a transcribed note is bass, not tune


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
    get_librosa()  # basic-pitch imports librosa: its JIT cache must be set up and warm first
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
    librosa = get_librosa()
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
