"""Replaying a reference tune's kept material (``brief.reference``) inside a new arrangement.

The melody and chords are stored in quarter notes in the reference's key. Here they are moved to the
brief's key (a transposition, plus a scale-degree map when the mode changes: major to minor lowers the
third, sixth and seventh), looped to the piece's length in whole bars, and handed to the composer as
chord spans (harmony and melody modes) and melody events (melody mode). Everything else, voicing,
instruments, groove, bass and drums, is written fresh by the composer, which is what a restyle is.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from weavewave.brief import Key, ReferenceMaterial
from weavewave.generators.symbolic.grid import Grid
from weavewave.generators.symbolic.harmony import Chord, ChordSpan, KeyContext
from weavewave.generators.symbolic.humanize import Ev, velocity
from weavewave.music.theory import MODES, tonic_pitch_class

CHORD_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8)}
MIN_MELODY_QN = 0.125


def pitch_map(source: Key, target: Key) -> Callable[[int], int]:
    """A map of MIDI pitches from ``source`` key to ``target`` key, by scale degree.

    Same mode: a transposition by the smallest interval between tonics (at most a tritone), so the
    tune stays in its register. Another mode: diatonic notes move to the same degree of the new mode.
    """
    src_pc, dst_pc = tonic_pitch_class(source.tonic), tonic_pitch_class(target.tonic)
    shift = (dst_pc - src_pc + 6) % 12 - 6
    src_scale, dst_scale = MODES[source.mode], MODES[target.mode]

    def move(pitch: int) -> int:
        rel = (pitch - src_pc) % 12
        delta = 0
        if source.mode != target.mode and rel in src_scale:
            delta = dst_scale[src_scale.index(rel)] - rel
        return pitch + shift + delta

    return move


def parse_chord(symbol: str) -> tuple[int, tuple[int, ...]]:
    """Root pitch class and intervals of a "Root:quality" symbol ("A:min", "F#:maj")."""
    root, _, quality = symbol.partition(":")
    return tonic_pitch_class(root), CHORD_INTERVALS.get(quality or "maj", CHORD_INTERVALS["maj"])


def _chord(symbol: str, move: Callable[[int], int], key: KeyContext) -> Chord:
    root, steps = parse_chord(symbol)
    pcs = tuple(move(60 + root + s) % 12 for s in steps)
    scale = key.scale
    degree = scale.index(pcs[0]) if pcs[0] in scale else min(range(7), key=lambda d: (pcs[0] - scale[d]) % 12)
    return Chord(degree, pcs[0], pcs, f"ref:{symbol}")


def loop_period(ref: ReferenceMaterial, grid: Grid) -> float:
    """The material's length rounded up to whole bars, so a loop restarts on a downbeat."""
    return max(1, math.ceil(ref.length_qn / grid.bar_qn - 1e-6)) * grid.bar_qn


def reference_spans(ref: ReferenceMaterial, key: Key, grid: Grid, end_qn: float) -> list[ChordSpan]:
    """The reference's chords in ``key``, looped to ``end_qn``; the first starts at 0, the last ends at the end."""
    move = pitch_map(ref.key, key)
    ctx = KeyContext(tonic_pitch_class(key.tonic), key.mode)
    period = loop_period(ref, grid)
    spans: list[ChordSpan] = []
    offset = 0.0
    while offset < end_qn - 1e-6:
        for start, dur, symbol in ref.chords:
            s = offset + start
            if s >= end_qn - 1e-6 or start >= period:
                break
            chord = _chord(symbol, move, ctx)
            if spans and spans[-1].chord.pcs == chord.pcs:
                last = spans[-1]
                spans[-1] = ChordSpan(last.start, s + dur - last.start, last.chord)
            else:
                spans.append(ChordSpan(s, dur, chord))
        offset += period
    if not spans:
        return []
    spans[0] = ChordSpan(0.0, spans[0].end, spans[0].chord)
    fixed = [ChordSpan(a.start, b.start - a.start, a.chord) for a, b in zip(spans, spans[1:], strict=False)]
    last = spans[-1]
    return [*fixed, ChordSpan(last.start, max(MIN_MELODY_QN, end_qn - last.start), last.chord)]


def reference_melody(
    ref: ReferenceMaterial,
    key: Key,
    grid: Grid,
    end_qn: float,
    window: tuple[int, int],
    playable: tuple[int, int],
) -> list[tuple[float, float, int]]:
    """The reference tune in ``key``, moved by whole octaves into ``window``, looped to ``end_qn``.

    Returns (start_qn, dur_qn, pitch) notes; notes outside the instrument's ``playable`` range are folded
    by octaves (the only notes whose intervals change).
    """
    if not ref.melody:
        return []
    move = pitch_map(ref.key, key)
    pitches = sorted(move(p) for _, _, p, _ in ref.melody)
    median = pitches[len(pitches) // 2]
    centre = (window[0] + window[1]) / 2
    octave = 12 * round((centre - median) / 12)
    lo, hi = playable
    period = loop_period(ref, grid)
    out: list[tuple[float, float, int]] = []
    offset = 0.0
    while offset < end_qn - 1e-6:
        for start, dur, pitch, _vel in ref.melody:
            s = offset + start
            if s >= end_qn - 1e-6 or start >= period:
                break
            p = move(pitch) + octave
            while p < lo:
                p += 12
            while p > hi:
                p -= 12
            out.append((s, max(MIN_MELODY_QN, min(dur, end_qn - s)), p))
        offset += period
    return out


def melody_events(
    notes: list[tuple[float, float, int]],
    grid: Grid,
    start_qn: float,
    end_qn: float,
    *,
    base_velocity: float,
    energy: float,
) -> list[Ev]:
    """The kept tune's notes that start in [start_qn, end_qn), accented by the meter and the section's energy."""
    out = []
    for s, d, p in notes:
        if start_qn - 1e-6 <= s < end_qn - 1e-6:
            strength = grid.strength(s % grid.bar_qn)
            out.append(Ev(s, d, p, velocity(base_velocity, energy, strength)))
    return out
