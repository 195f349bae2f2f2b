"""The composer's time grid: bars and beats in quarter notes (qn), strong beats, and swing.

All composition happens in quarter notes from the start of the piece; ``compose`` converts to seconds
at the very end. A 6/8 bar is three quarter notes long and its felt beat is the dotted quarter.
"""

from __future__ import annotations

from dataclasses import dataclass

from weavewave.music.theory import beats_per_bar

# Felt beats and strong beats of each meter, in qn from the bar start.
METER_BEATS: dict[str, tuple[float, ...]] = {
    "4/4": (0.0, 1.0, 2.0, 3.0),
    "3/4": (0.0, 1.0, 2.0),
    "6/8": (0.0, 1.5),
}
METER_STRONG: dict[str, tuple[float, ...]] = {"4/4": (0.0, 2.0), "3/4": (0.0,), "6/8": (0.0, 1.5)}
SIXTEENTH = 0.25
_EPS = 1e-6


@dataclass(frozen=True)
class Grid:
    """Bar/beat arithmetic for one meter and tempo."""

    meter: str
    tempo_bpm: float  # the felt beat, as in the brief

    @property
    def bar_qn(self) -> float:
        return beats_per_bar(self.meter)

    @property
    def beats(self) -> tuple[float, ...]:
        return METER_BEATS[self.meter]

    @property
    def beat_qn(self) -> float:
        return 1.5 if self.meter == "6/8" else 1.0

    @property
    def qn_seconds(self) -> float:
        quarter_bpm = self.tempo_bpm * 1.5 if self.meter == "6/8" else self.tempo_bpm
        return 60.0 / quarter_bpm

    @property
    def bar_seconds(self) -> float:
        return self.bar_qn * self.qn_seconds

    @property
    def steps_per_bar(self) -> int:
        return round(self.bar_qn / SIXTEENTH)

    def strength(self, pos_in_bar: float) -> int:
        """2 = downbeat, 1 = other strong beat, 0 = other beat, -1 = off the beat."""
        p = round(pos_in_bar % self.bar_qn, 4)
        if abs(p) < _EPS:
            return 2
        if any(abs(p - s) < _EPS for s in METER_STRONG[self.meter]):
            return 1
        if any(abs(p - b) < _EPS for b in self.beats):
            return 0
        return -1

    def is_strong(self, pos_in_bar: float) -> bool:
        return self.strength(pos_in_bar) >= 1


def swing_qn(t: float, amount: float, unit: float) -> float:
    """Delay the off-beat ``unit`` (0.5 = eighths, 0.25 = sixteenths) toward a triplet feel.

    ``amount`` 0 is straight, 1 puts the off-beat at two thirds of the pair. Positions between grid
    points move piecewise linearly, so note lengths stay consistent.
    """
    if amount <= 0 or unit <= 0:
        return t
    pair = 2 * unit
    base = (t // pair) * pair
    frac = (t - base) / pair  # 0..1 within the pair
    split = 0.5 + amount * (2 / 3 - 0.5)
    if frac <= 0.5:
        mapped = frac * (split / 0.5)
    else:
        mapped = split + (frac - 0.5) * ((1 - split) / 0.5)
    return base + mapped * pair
