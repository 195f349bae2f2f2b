"""Melody lines and how alike two of them are.

``skyline`` reduces polyphonic notes (a transcription, or a part that plays both tune and chords) to
the single line a listener hears as the tune: the highest sounding note. ``melodic_similarity`` scores
two lines by aligning their interval sequences, so a tune moved to another key, tempo or register
still scores as itself. Both are plain numpy-free Python: they run in microseconds on a few hundred
notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# A note for these functions: (start, end, pitch). Times in any unit, as long as both lines share it.
NoteTuple = tuple[float, float, int]

MAX_INTERVAL = 12  # leaps beyond an octave count as an octave: transcription octave slips stay local
SEMITONE_COST = 0.5  # a substituted interval one semitone off costs half; two or more, a full edit
OVERLAP_SHARE = 0.5  # a note more than half covered by a higher one is accompaniment, not tune
MIN_NOTE = 1e-6


def skyline(notes: Iterable[NoteTuple], *, min_duration: float = 0.0) -> list[NoteTuple]:
    """The top line of ``notes``: each note kept unless a higher note covers most of it.

    Remaining overlaps are cut so the result is monophonic and sorted by start.
    """
    items = sorted(
        (n for n in notes if n[1] - n[0] > max(min_duration, MIN_NOTE)), key=lambda n: (n[0], -n[2])
    )
    kept: list[NoteTuple] = []
    for i, (start, end, pitch) in enumerate(items):
        covered = 0.0
        for other in items:
            if other[0] >= end:  # sorted by start: nothing later overlaps this note
                break
            if other[2] <= pitch or other is items[i]:
                continue
            covered += max(0.0, min(end, other[1]) - max(start, other[0]))
        if covered <= OVERLAP_SHARE * (end - start):
            kept.append((start, end, pitch))
    line: list[NoteTuple] = []
    for start, end, pitch in kept:
        if line and start < line[-1][0] + MIN_NOTE:
            continue  # two notes at one instant: the higher one came first in the sort
        if line and line[-1][1] > start:
            line[-1] = (line[-1][0], start, line[-1][2])
        line.append((start, end, pitch))
    return line


def intervals(pitches: Sequence[int]) -> list[int]:
    """Successive pitch differences, clipped to an octave either way."""
    return [max(-MAX_INTERVAL, min(MAX_INTERVAL, b - a)) for a, b in zip(pitches, pitches[1:], strict=False)]


def melodic_similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """How alike two melodies (pitch sequences) are, 0 (unrelated) .. 1 (the same tune).

    The interval sequences are aligned by edit distance: inserting or deleting an interval costs 1,
    substituting one costs ``SEMITONE_COST`` per semitone of difference, at most 1. The similarity is
    ``1 - distance / max(len(ia), len(ib))``. It ignores key, octave and tempo, and tolerates the odd
    missed or split note of a transcription; two unrelated tunes in one key score about 0.2-0.35.
    """
    ia, ib = intervals(a), intervals(b)
    if not ia or not ib:
        return 1.0 if ia == ib else 0.0
    prev = [float(j) for j in range(len(ib) + 1)]
    for i, x in enumerate(ia, start=1):
        cur = [float(i)] + [0.0] * len(ib)
        for j, y in enumerate(ib, start=1):
            sub = min(1.0, SEMITONE_COST * abs(x - y))
            cur[j] = min(prev[j] + 1.0, cur[j - 1] + 1.0, prev[j - 1] + sub)
        prev = cur
    return max(0.0, 1.0 - prev[-1] / max(len(ia), len(ib)))
