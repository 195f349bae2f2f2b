"""Performance: note events, velocity shaping, swing and small seeded timing deviations."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from weavewave.generators.symbolic.grid import Grid, swing_qn

# Velocity shaping.
ENERGY_VELOCITY_RANGE = (0.55, 1.12)  # multiplier at section energy 0 and 1: sections differ by 3 LU and more
ACCENT = {2: 9, 1: 5, 0: 0, -1: -6}  # by metric strength (see Grid.strength)
PHRASE_ARC = 7  # velocity swell across a phrase, peak in the middle
VELOCITY_JITTER = 4
MIN_VELOCITY, MAX_VELOCITY = 20, 124
# Timing deviation (standard deviation, seconds) by genre; drums tighter than the rest.
TIMING_SD_S: dict[str, float] = {
    "electronic": 0.002,
    "rock": 0.005,
    "pop": 0.004,
    "jazz": 0.007,
    "lofi": 0.009,
    "classical": 0.008,
    "folk": 0.006,
    "ambient": 0.008,
    "cinematic": 0.006,
}
DRUM_TIMING_SCALE = 0.6
MAX_DEVIATION_S = 0.025
# Swing grid by genre: which subdivision swings (qn).
SWING_UNIT: dict[str, float] = {"jazz": 0.5, "lofi": 0.25}
MIN_NOTE_S = 0.03


@dataclass(slots=True)
class Ev:
    """A note while composing: start and length in quarter notes from the piece start."""

    start: float
    dur: float
    pitch: int
    vel: int


def velocity(base: float, energy: float, strength: int, *, arc: float | None = None) -> int:
    """Velocity for a note: role base, scaled by energy, accented by metre, swelled by phrase.

    ``arc`` is the position in the phrase (0..1) or None for no swell.
    """
    lo, hi = ENERGY_VELOCITY_RANGE
    v = base * (lo + (hi - lo) * energy) + ACCENT.get(strength, 0)
    if arc is not None:
        v += PHRASE_ARC * (math.sin(math.pi * min(max(arc, 0.0), 1.0)) - 0.5)
    return int(round(min(MAX_VELOCITY, max(MIN_VELOCITY, v))))


def perform(
    events: list[Ev],
    *,
    grid: Grid,
    genre: str,
    swing: float,
    end_s: float,
    rng: random.Random,
    drums: bool = False,
) -> list[tuple[int, int, float, float]]:
    """Events -> (pitch, velocity, start_s, end_s): swing, timing and velocity jitter, clipped to the end.

    Notes never start before 0 or end after ``end_s``; notes that would start at the very end are dropped.
    """
    unit = SWING_UNIT.get(genre, 0.0) if grid.meter != "6/8" else 0.0
    sd = TIMING_SD_S.get(genre, 0.005) * (DRUM_TIMING_SCALE if drums else 1.0)
    qs = grid.qn_seconds
    out: list[tuple[int, int, float, float]] = []
    for ev in events:
        on = swing_qn(ev.start, swing, unit) if unit else ev.start
        off = swing_qn(ev.start + ev.dur, swing, unit) if unit else ev.start + ev.dur
        dev = max(-MAX_DEVIATION_S, min(MAX_DEVIATION_S, rng.gauss(0.0, sd)))
        start = max(0.0, on * qs + (dev if ev.start > 0 else 0.0))
        end = min(end_s, off * qs + dev * 0.5)
        if start >= end_s - MIN_NOTE_S:
            continue
        end = max(end, min(end_s, start + MIN_NOTE_S))
        vel = ev.vel + rng.randint(-VELOCITY_JITTER, VELOCITY_JITTER)
        vel = int(min(127, max(1, vel)))
        out.append((ev.pitch, vel, round(start, 6), round(end, 6)))
    return out
