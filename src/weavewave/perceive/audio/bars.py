"""The transcribed tune on the tracked beats: seconds to quarter notes, the downbeat, the grid."""

from __future__ import annotations

from typing import Any

import numpy as np

from weavewave.perceive.audio.model import HOP, SR

GRID_QN = 0.25  # kept material is quantised to sixteenths...


COARSE_GRID_QN = 0.5  # ...or to eighths when the tune moves slowly: a sung line's jitter is not rhythm


SLOW_TUNE_IOI_QN = 1.0  # median beats between tune onsets from which the eighth grid is used


# Bars: the downbeat is the beat phase that puts the tune's long notes on strong beats.
STRONG_BEATS = {4: {0: 1.0, 2: 0.6}, 3: {0: 1.0}}  # beat-in-bar weights, 4/4 and 3/4


PHASE_MARGIN = 1.25  # another phase must beat the tracker's by this factor to move the bar line


ONBEAT_TOLERANCE_QN = 0.2  # an onset this close to a beat is on it


FIRST_SOUND_DB = -20.0  # leading frames quieter than this under the peak are silence before the music


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


def first_sound_time(rms: np.ndarray) -> float:
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


def melody_qn(
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


def shift_chords(chords: list[tuple[float, float, str]], origin: float) -> list[tuple[float, float, str]]:
    """Chord spans moved so ``origin`` is 0; what sounded before it is cut off."""
    out = []
    for start, dur, name in chords:
        s, e = start - origin, start - origin + dur
        if e > 1e-6:
            out.append((max(0.0, s), e - max(0.0, s), name))
    return out
