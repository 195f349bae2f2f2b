"""An anacrusis: a short, quiet scale run that leads from t=0 into a late first downbeat.

Scoring to picture puts the first downbeat where the cuts want it, 0.1-0.8 s into the video. Left silent,
that span is dead air at the start. A pickup fills it the way a player would count a band in: a few
notes in one part, climbing by step through the key to the note that part plays on the downbeat, soft
and growing louder. It sits on the MIDI file's pickup bar (whole sixteenths, see
:func:`weavewave.music.arrangement.pickup_sixteenths`), so nothing at or after the downbeat moves.
"""

from __future__ import annotations

from weavewave.generators.symbolic import orchestra as O
from weavewave.generators.symbolic.harmony import KeyContext
from weavewave.music.arrangement import Arrangement, Note, Part, pickup_sixteenths
from weavewave.music.theory import tonic_pitch_class

# Which part leads in, first choice first: a bass walk-up is the least obtrusive, then the harmony.
PICKUP_ROLES = ("bass", "chords", "pad", "melody")
MAX_PICKUP_NOTES = 3
PICKUP_VELOCITY = (0.5, 0.75)  # first and last pickup note, as a share of the downbeat note's velocity
MIN_PICKUP_VELOCITY = 20
PICKUP_LEGATO = 0.9  # each note sounds for this share of its slot
ON_DOWNBEAT_S = 0.02  # a note starting this close to the downbeat is played on it
MIN_PICKUP_S = 0.05  # a shorter pre-roll is not heard as a gap: it stays silent


def add_pickup(arrangement: Arrangement, downbeat_s: float) -> Part | None:
    """Add a pickup before ``downbeat_s`` to the best part; return that part (None when none fits, or the
    pre-roll is shorter than :data:`MIN_PICKUP_S`).

    The run has one note per eighth of the pickup bar (one sixteenth for the shortest), at most
    :data:`MAX_PICKUP_NOTES`; the first note starts at 0 and takes any odd sixteenth, so the opening
    sounds at once.
    """
    if downbeat_s < MIN_PICKUP_S:
        return None
    part, target = _leading_part(arrangement, downbeat_s)
    if part is None or target is None:
        return None
    sixteenths = pickup_sixteenths(downbeat_s * arrangement.midi_quarter_bpm() / 60.0)
    count = min(MAX_PICKUP_NOTES, max(1, sixteenths // 2))
    lengths = [sixteenths - 2 * (count - 1)] + [2] * (count - 1) if count > 1 else [sixteenths]
    key = KeyContext(tonic_pitch_class(arrangement.key_tonic), arrangement.key_mode)
    pitches = _run(target.pitch, count, key, O.instrument_range(part.instrument))
    slot_s = downbeat_s / sixteenths
    notes, at = [], 0
    for i, (pitch, length) in enumerate(zip(pitches, lengths, strict=True)):
        share = PICKUP_VELOCITY[0] + (PICKUP_VELOCITY[1] - PICKUP_VELOCITY[0]) * (i / max(1, count - 1))
        velocity = max(MIN_PICKUP_VELOCITY, round(target.velocity * share))
        start = round(at * slot_s, 6)
        notes.append(Note(pitch, velocity, start, round(start + length * slot_s * PICKUP_LEGATO, 6)))
        at += length
    part.notes = notes + part.notes
    return part


def _leading_part(arrangement: Arrangement, downbeat_s: float) -> tuple[Part | None, Note | None]:
    """The pitched part (by :data:`PICKUP_ROLES`) playing on the downbeat, and its lowest note there."""
    best: tuple[int, Part, Note] | None = None
    for part in arrangement.parts:
        if part.is_drum or part.role not in PICKUP_ROLES:
            continue
        on = [n for n in part.notes if abs(n.start - downbeat_s) <= ON_DOWNBEAT_S]
        if any(n.start < downbeat_s - ON_DOWNBEAT_S for n in part.notes) or not on:
            continue
        rank = PICKUP_ROLES.index(part.role)
        if best is None or rank < best[0]:
            best = (rank, part, min(on, key=lambda n: n.pitch))
    return (best[1], best[2]) if best else (None, None)


def _run(target: int, count: int, key: KeyContext, span: tuple[int, int]) -> list[int]:
    """``count`` scale notes climbing by step to ``target`` (falling to it if that leaves the range)."""
    scale = set(key.scale)
    below = [p for p in range(target - 1, target - 13, -1) if p % 12 in scale][:count]
    above = [p for p in range(target + 1, target + 13) if p % 12 in scale][:count]
    low, high = span
    if below[-1] >= low:
        return below[::-1]
    if above[-1] <= high:
        return above[::-1]
    return [target] * count
