"""Drums: genre grooves per meter and energy, phrase-end variations, section fills and crashes."""

from __future__ import annotations

import random

from weavewave.generators.symbolic import grooves as G
from weavewave.generators.symbolic.grid import SIXTEENTH, Grid
from weavewave.generators.symbolic.humanize import Ev
from weavewave.generators.symbolic.parts import BarContext

ENERGY_VELOCITY = (0.7, 1.05)
JAZZ_COMP_P = 0.18  # chance per off-beat eighth of a snare comping note
PHRASE_BARS = 4
PICKUP_KICK_P = 0.5
ROLL_VELOCITY = (35, 115)  # a build's snare roll swells between these (percent of a normal hit)


def groove_for(genre: str, meter: str, level: int, variant: int = 0) -> G.Groove:
    """The groove a genre plays in a meter at an energy level (0-2); ``variant`` picks among its grooves."""
    if meter == "4/4":
        sets = [G.GROOVES_44.get(genre, G.GROOVES_44["pop"])]
        if genre in G.GROOVE_VARIANTS_44:
            sets.append(G.GROOVE_VARIANTS_44[genre])
        return sets[variant % len(sets)][level]
    table = G.GROOVES_34 if meter == "3/4" else G.GROOVES_68
    return table[G.TRIPLE_FEEL.get(genre, "waltz")][level]


class DrumWriter:
    """Writes the kit part bar by bar."""

    def __init__(self, grid: Grid, *, genre: str, rng: random.Random):
        self.grid, self.genre, self.rng = grid, genre, rng

    def _vel(self, ch: str, energy: float) -> int:
        lo, hi = ENERGY_VELOCITY
        return int(min(127, max(1, G.STEP_VELOCITY[ch] * (lo + (hi - lo) * energy))))

    def write(self, ctx: BarContext, *, crash: bool, variant: int = 0) -> list[Ev]:
        out: list[Ev] = []
        steps = self.grid.steps_per_bar
        groove = groove_for(self.genre, self.grid.meter, ctx.level, variant)
        for bar in range(ctx.start_bar, ctx.start_bar + ctx.bars):
            t0 = bar * self.grid.bar_qn
            if bar == ctx.final_bar:
                end = ctx.end_qn - t0
                out.append(Ev(t0, min(end, 4.0), G.CRASH, self._vel("X", ctx.energy)))
                out.append(Ev(t0, min(end, G.HIT_QN), G.KICK, self._vel("X", ctx.energy)))
                break
            last = bar == ctx.start_bar + ctx.bars - 1
            fill_steps = G.FILL_LENGTH_STEPS[ctx.level] if (last and ctx.fill_last) else 0
            fill_from = steps - fill_steps
            for drum, pattern in groove.items():
                for i, ch in enumerate(pattern[:steps]):
                    if ch == "." or (fill_steps and i >= fill_from and drum not in G.FEET):
                        continue
                    length = G.LONG_HITS.get(drum, G.HIT_QN)
                    out.append(Ev(t0 + i * SIXTEENTH, length, drum, self._vel(ch, ctx.energy)))
            if fill_steps:
                out.extend(self._fill(t0 + fill_from * SIXTEENTH, fill_steps, ctx.energy))
            elif (bar - ctx.start_bar) % PHRASE_BARS == PHRASE_BARS - 1 and ctx.level >= 1:
                out.extend(self._phrase_end(t0, ctx.energy))
            if self.genre == "jazz":
                out.extend(self._jazz_comping(t0, ctx.energy))
            if bar == ctx.start_bar and crash:
                out.append(Ev(t0, 2.0, G.CRASH, self._vel("x", ctx.energy)))
                if not any(e.pitch == G.KICK and abs(e.start - t0) < 1e-6 for e in out):
                    out.append(Ev(t0, G.HIT_QN, G.KICK, self._vel("x", ctx.energy)))
        return out

    def roll(self, start_bar: int, bars: int, energy: float, *, drum: int = G.SNARE) -> list[Ev]:
        """A roll (the snare's, unless ``drum`` says) over ``bars`` bars that doubles its rate each bar
        (eighths, then sixteenths) and swells from soft to full: the riser of a build."""
        out = []
        for k in range(bars):
            step = 0.5 / 2 ** min(k, 1) if bars > 1 else SIXTEENTH
            t0 = (start_bar + k) * self.grid.bar_qn
            n = int(round(self.grid.bar_qn / step))
            for i in range(n):
                rise = (k * n + i + 1) / (bars * n)
                vel = int(min(127, ROLL_VELOCITY[0] + (ROLL_VELOCITY[1] - ROLL_VELOCITY[0]) * rise))
                out.append(Ev(t0 + i * step, G.HIT_QN / 2, drum, self._vel("x", energy) * vel // 100))
        return out

    def pickup(self, ctx: BarContext) -> list[Ev]:
        """Only a fill over the end of one bar: the kit's entrance into the next section."""
        t0 = ctx.start_bar * self.grid.bar_qn
        n = G.FILL_LENGTH_STEPS[ctx.level]
        return self._fill(t0 + (self.grid.steps_per_bar - n) * SIXTEENTH, n, ctx.energy)

    def _fill(self, t: float, n_steps: int, energy: float) -> list[Ev]:
        fill = G.FILLS[G.GENRE_FILL.get(self.genre, "snare")]
        # Use the fill's last n_steps steps so it always resolves into the next downbeat.
        offset = max(0, 8 - n_steps)
        out = []
        for step, drum, ch in fill:
            if step < offset:
                continue
            crescendo = 0.85 + 0.15 * (step - offset) / max(1, n_steps - 1)
            out.append(
                Ev(t + (step - offset) * SIXTEENTH, G.HIT_QN, drum, int(self._vel(ch, energy) * crescendo))
            )
        return out

    def _phrase_end(self, t0: float, energy: float) -> list[Ev]:
        # A small variation closing each four-bar phrase: open hat on the last off-beat, a pickup kick.
        last_off = self.grid.bar_qn - 0.5
        out = [Ev(t0 + last_off, 0.45, G.OPEN_HAT, self._vel("x", energy))]
        if self.rng.random() < PICKUP_KICK_P and self.genre not in ("jazz", "ambient", "classical"):
            out.append(Ev(t0 + self.grid.bar_qn - SIXTEENTH, G.HIT_QN, G.KICK, self._vel("o", energy)))
        return out

    def _jazz_comping(self, t0: float, energy: float) -> list[Ev]:
        out = []
        n = int(self.grid.bar_qn / 0.5)
        for k in range(n):
            if k % 2 == 1 and self.rng.random() < JAZZ_COMP_P * (0.5 + energy):
                out.append(Ev(t0 + k * 0.5, G.HIT_QN, G.SNARE, self._vel("o", energy)))
        return out
