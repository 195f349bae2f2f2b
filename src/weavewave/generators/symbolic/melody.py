"""Melody: motifs stated, repeated, sequenced, inverted and developed into antecedent/consequent phrases.

Pitches are worked out as diatonic indices (0 = the tonic near middle C, 7 = an octave up), so every
transformation stays in the mode; chord tones land on strong beats and long notes, the rest move mostly
by step (interval statistics learned from music21's corpus, see ``tools/learn_melody_stats.py``).
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from weavewave.generators.symbolic import patterns as P
from weavewave.generators.symbolic.grid import SIXTEENTH, Grid
from weavewave.generators.symbolic.harmony import ChordSpan, KeyContext, chord_at
from weavewave.generators.symbolic.humanize import Ev, velocity
from weavewave.music.theory import MODES

STATS_PATH = Path(__file__).resolve().parents[2] / "data" / "melody_stats.json"
# Where the held note of a cadence bar lands (qn from the bar start) and the breath after it.
CADENCE_POS = {"4/4": 2.0, "3/4": 0.0, "6/8": 1.5}
BREATH_QN = 0.5
TONIC_OCTAVE_BASE = 60  # diatonic index 0 is the tonic in the octave from middle C
# Notes per quarter of a motif bar: base + slope * (density and energy), before the tempo correction.
NOTES_PER_QN = (1.0, 1.4)
MAX_MOTIF_SPAN = 5  # diatonic steps a motif may wander from its first note
SECOND_BAR_SHARE = 0.7  # the answering bar of an idea holds this share of the first bar's notes
CHROMATIC_APPROACH_P = 0.3  # jazz: chance a weak note before a strong one becomes a half-step approach


Rhythm = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Motif:
    """A two-bar basic idea: per bar, a rhythm ((onset, length) qn pairs) and the diatonic steps
    between its notes; ``link`` is the step from the first bar's last note to the second bar's first."""

    bars: tuple[Rhythm, Rhythm]
    steps: tuple[tuple[int, ...], tuple[int, ...]]
    link: int


@functools.lru_cache(maxsize=1)
def load_stats() -> dict:
    """Learned melodic statistics, or the built-in fallbacks when the data file is missing."""
    try:
        return json.loads(STATS_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def parse_rhythm(text: str) -> tuple[tuple[float, float], ...]:
    """``"x-x.x---"`` on a sixteenth grid -> ((onset, length), ...) in quarter notes."""
    out: list[list[float]] = []
    for i, ch in enumerate(text):
        if ch == "x":
            out.append([i * SIXTEENTH, SIXTEENTH])
        elif ch == "-" and out:
            out[-1][1] += SIXTEENTH
    return tuple((a, b) for a, b in out)


def rhythm_pool(meter: str, genre: str = "") -> list[tuple[Rhythm, float]]:
    """(rhythm, weight) candidates for one bar: learned ones (plus syncopations for pop-family
    genres), else the built-in set."""
    learned = load_stats().get("rhythms", {}).get(meter) or []
    pool = [(parse_rhythm(r), float(c)) for r, c in learned if r.startswith("x")]
    if len(pool) < 5:
        pool = [(parse_rhythm(r), 1.0) for r in P.FALLBACK_RHYTHMS[meter]]
    if genre in P.SYNCOPATED_GENRES:
        pool += [(parse_rhythm(r), P.SYNCOPATED_WEIGHT) for r in P.SYNCOPATED_RHYTHMS.get(meter, ())]
    pool += [(parse_rhythm(r), P.RUNNING_WEIGHT) for r in P.RUNNING_RHYTHMS.get(meter, ())]
    return pool


def _step_table() -> dict[int, dict[int, float]]:
    trans = load_stats().get("step_transitions")
    if not trans:
        return {}
    return {int(a): {int(b): float(c) for b, c in row.items()} for a, row in trans.items()}


def sample_steps(n: int, rng: random.Random) -> tuple[int, ...]:
    """``n`` diatonic steps from the learned Markov chain, kept within a small span."""
    table = _step_table()
    steps: list[int] = []
    prev, pos = 0, 0
    for _ in range(n):
        row = table.get(prev) or P.FALLBACK_STEPS
        items = [(s, w) for s, w in row.items() if abs(pos + s) <= MAX_MOTIF_SPAN and abs(s) <= 5]
        if not items:
            items = [(-1 if pos > 0 else 1, 1.0)]
        # Repeated notes are common in hymns but make weak motifs: damp them.
        weights = [w * (0.35 if s == 0 else 1.0) for s, w in items]
        s = rng.choices([s for s, _ in items], weights=weights)[0]
        steps.append(s)
        prev, pos = s, pos + s
    return tuple(steps)


def _pick_rhythm(
    pool: list[tuple[Rhythm, float]], target: float, rng: random.Random, *, answer: bool, avoid: Rhythm | None
) -> Rhythm:
    weights = []
    for rhythm, count in pool:
        n = len(rhythm)
        w = math.sqrt(count) * math.exp(-((n - target) ** 2) / 2.0)
        if rhythm == avoid:
            w *= 0.05
        if n < 2:
            w *= 0.2
        if answer and rhythm[-1][1] < 1.0:
            w *= 0.3  # an answering bar usually ends on a longer note
        weights.append(w)
    return rng.choices([r for r, _ in pool], weights=weights)[0]


def make_motif(
    grid: Grid, notes_per_bar: float, rng: random.Random, *, genre: str = "", avoid: Rhythm | None = None
) -> Motif:
    """A two-bar idea whose first bar has about ``notes_per_bar`` notes and whose second answers it."""
    pool = rhythm_pool(grid.meter, genre)
    first = _pick_rhythm(pool, notes_per_bar, rng, answer=False, avoid=avoid)
    second = _pick_rhythm(pool, max(1.5, notes_per_bar * SECOND_BAR_SHARE), rng, answer=True, avoid=first)
    steps1 = sample_steps(len(first) - 1, rng)
    link = sample_steps(1, rng)[0] or rng.choice((-1, 1))
    steps2 = sample_steps(len(second) - 1, rng)
    return Motif((first, second), (steps1, steps2), link)


class MelodyWriter:
    """Realises motifs over a chord plan in one instrument's register."""

    def __init__(
        self, key: KeyContext, grid: Grid, spans: list[ChordSpan], *, genre: str, base_velocity: float
    ):
        self.key, self.grid, self.spans, self.genre = key, grid, spans, genre
        self.base_velocity = base_velocity
        self.intervals = MODES[key.mode]
        self.last_d: int | None = None

    # --- pitch helpers ---------------------------------------------------------------------------
    def pitch(self, d: int, t: float) -> int:
        """MIDI pitch of diatonic index ``d``, raised where the chord at ``t`` alters the scale."""
        p = TONIC_OCTAVE_BASE + self.key.tonic + 12 * (d // 7) + self.intervals[d % 7]
        pcs = chord_at(self.spans, t).chord.pcs
        if p % 12 not in pcs and (p + 1) % 12 in pcs and (p + 1) % 12 not in self.key.scale:
            p += 1
        return p

    def chord_degrees(self, t: float) -> set[int]:
        """Scale degrees (0-6) that are tones of the chord at ``t``."""
        pcs = chord_at(self.spans, t).chord.pcs
        out = set()
        for i, pc in enumerate(self.key.scale):
            if pc in pcs or ((pc + 1) % 12 in pcs and (pc + 1) % 12 not in self.key.scale):
                out.add(i)
        return out

    def snap(self, d: int, t: float, prefer: int = 0, avoid: int | None = None) -> int:
        """Nearest chord tone to ``d`` at ``t``; ties go in direction ``prefer``; ``avoid`` (the previous
        note) is skipped when another chord tone is as near, so moving lines do not stall."""
        degs = self.chord_degrees(t)
        if not degs:
            return d
        cands = [c for c in range(d - 3, d + 4) if c % 7 in degs]
        if not cands:
            return d

        def cost(c: int) -> tuple[float, int]:
            dist = abs(c - d) + (1.5 if c == avoid and c != d else 0.0)
            side = 0 if (c - d) * prefer >= 0 else 1
            return dist, side

        return min(cands, key=cost)

    def fit(self, d: int, lo_d: int, hi_d: int) -> int:
        while d > hi_d:
            d -= 7
        while d < lo_d:
            d += 7
        return d

    # --- phrase writing --------------------------------------------------------------------------
    @staticmethod
    def bar_ops(n_bars: int, form: str, dev_op: str) -> list[tuple[str, ...]]:
        """What each bar of a phrase does. A period states the two-bar idea then develops it; a sentence
        states its first bar, sequences it, fragments it, then cadences."""
        if n_bars <= 1:
            return [("cad",)]
        if form == "sentence" and n_bars >= 4:
            body = [("m", "0"), ("seq",), ("dev", "fragment")]
        else:
            body = [("m", "0"), ("m", "1"), ("dev", dev_op)]
        while len(body) < n_bars - 1:
            body.append(("dev", "rhythm" if len(body) % 2 else "sequence"))
        return body[: n_bars - 1] + [("cad",)]

    def phrase(
        self,
        motif: Motif,
        bar0: int,
        n_bars: int,
        *,
        window: tuple[int, int],
        energy: float,
        closed: bool,
        final: bool,
        end_qn: float,
        dev_op: str,
        rng: random.Random,
        form: str = "period",
        repeat_of: list[list[tuple[float, float, int]]] | None = None,
        lone_bar: bool = False,
    ) -> tuple[list[Ev], list[list[tuple[float, float, int]]]]:
        """One phrase of ``n_bars`` bars from bar ``bar0``, ending with a cadence bar.

        Returns the events and the per-bar (onset, length, diatonic) plan, which a consequent phrase
        (or a returning section) passes back as ``repeat_of`` to restate the opening bars.
        ``lone_bar`` marks a piece of a single bar: the tune gets a short figure before its final note.
        """
        lo_d, hi_d = self._window_d(window)
        centre = (lo_d + hi_d) // 2
        bar_qn = self.grid.bar_qn
        plans: list[list[tuple[float, float, int]]] = []
        events: list[Ev] = []
        first_anchor = None
        for j, op in enumerate(self.bar_ops(n_bars, form, dev_op)):
            t0 = (bar0 + j) * bar_qn
            arc = round(2 * math.sin(math.pi * (j + 0.5) / max(1, n_bars)))
            if op[0] == "cad":
                plan = self._cadence_bar(
                    motif,
                    t0,
                    closed=closed,
                    final=final,
                    end_qn=end_qn,
                    lo_d=lo_d,
                    hi_d=hi_d,
                    lone_bar=lone_bar,
                )
            elif repeat_of is not None and j < min(2, len(repeat_of) - 1) and repeat_of[j]:
                plan = self._refit(repeat_of[j], t0, lo_d, hi_d)
            elif op[0] == "m" and op[1] == "0":
                start = self.last_d + rng.choice((-2, -1, 1, 2)) if self.last_d is not None else centre
                target = round(0.5 * start + 0.5 * (centre + arc))
                plan = self._bar(motif.bars[0], motif.steps[0], t0, target, lo_d, hi_d, rng)
            elif op[0] == "m":
                target = (self.last_d if self.last_d is not None else centre) + motif.link
                plan = self._bar(motif.bars[1], motif.steps[1], t0, target, lo_d, hi_d, rng)
            elif op[0] == "seq":
                shift = rng.choice((1, 2, -1)) if arc >= 0 else rng.choice((-1, -2))
                target = (first_anchor if first_anchor is not None else centre) + shift
                plan = self._bar(motif.bars[0], motif.steps[0], t0, target, lo_d, hi_d, rng)
            else:
                rhythm, steps = self._develop(motif, op[1], rng)
                target = (self.last_d if self.last_d is not None else centre) + (1 if arc > 0 else -1)
                plan = self._bar(rhythm, steps, t0, target, lo_d, hi_d, rng)
            if plan:
                if first_anchor is None:
                    first_anchor = plan[0][2]
                self.last_d = plan[-1][2]
            plans.append(plan)
            for on, dur, d in plan:
                strength = self.grid.strength(on)
                pos = (j * bar_qn + on) / (n_bars * bar_qn)
                v = velocity(self.base_velocity, energy, strength, arc=pos)
                events.append(Ev(t0 + on, dur, self.pitch(d, t0 + on), v))
        if self.genre == "jazz":
            self._chromatic_approaches(events, rng)
        return events, plans

    def _develop(
        self, motif: Motif, op: str, rng: random.Random
    ) -> tuple[list[tuple[float, float]], list[int]]:
        """A development of the idea's first bar: inversion, rhythmic variation or fragmentation."""
        rhythm, steps = list(motif.bars[0]), list(motif.steps[0])
        if op == "invert":
            steps = [-s for s in steps]
        elif op == "rhythm":
            rhythm, steps = _vary_rhythm(rhythm, steps, rng)
        elif op == "fragment":
            half_qn = self.grid.bar_qn / 2
            half = [(on, dur) for on, dur in rhythm if on < half_qn - 1e-6] or rhythm[:1]
            k = len(half)
            shift = rng.choice((-2, -1, 1, 2))
            frag = steps[: k - 1]
            rhythm = [(on, min(dur, half_qn - on)) for on, dur in half]
            rhythm += [(on + half_qn, dur) for on, dur in rhythm]
            steps = frag + [shift - sum(frag)] + frag
        elif op == "sequence":
            pass  # same shape, placed from a new anchor by the caller
        return rhythm, steps

    def _window_d(self, window: tuple[int, int]) -> tuple[int, int]:
        lo, hi = window
        lo_d = math.ceil((lo - TONIC_OCTAVE_BASE - self.key.tonic) * 7 / 12)
        hi_d = math.floor((hi - TONIC_OCTAVE_BASE - self.key.tonic - 1) * 7 / 12)
        while self.pitch_plain(lo_d) < lo:
            lo_d += 1
        while self.pitch_plain(hi_d) > hi - 1:  # one semitone of headroom for raised degrees
            hi_d -= 1
        return lo_d, max(hi_d, lo_d + 4)

    def pitch_plain(self, d: int) -> int:
        return TONIC_OCTAVE_BASE + self.key.tonic + 12 * (d // 7) + self.intervals[d % 7]

    def _bar(
        self, rhythm, steps, t0: float, target: int, lo_d: int, hi_d: int, rng: random.Random
    ) -> list[tuple[float, float, int]]:
        rhythm, steps = list(rhythm), list(steps)
        rel = [0]
        for st in steps[: len(rhythm) - 1]:
            rel.append(rel[-1] + st)
        while len(rel) < len(rhythm):
            rel.append(rel[-1] + rng.choice((-1, 1)))
        # Anchor: a chord tone near the target, octave chosen so the bar fits the window.
        anchor = self.snap(target, t0 + rhythm[0][0], avoid=self.last_d)
        anchor = self.fit(anchor, lo_d - min(rel), hi_d - max(rel))
        plan = []
        prev = self.last_d
        for i, ((on, dur), r) in enumerate(zip(rhythm, rel, strict=False)):
            d = anchor + r
            t = t0 + on
            if i > 0 and (self.grid.strength(on) >= 1 or dur >= self.grid.beat_qn - 1e-6):
                d = self.snap(d, t, prefer=r - rel[i - 1], avoid=prev if r != rel[i - 1] else None)
            if prev is not None and abs(d - prev) > P.MAX_LEAP_STEPS:
                d += -7 if d > prev else 7
            d = self.fit(d, lo_d, hi_d)
            plan.append((on, dur, d))
            prev = d
        return self._passing_tones(plan, rng)

    def _passing_tones(
        self, plan: list[tuple[float, float, int]], rng: random.Random
    ) -> list[tuple[float, float, int]]:
        """Weak, short notes between two others move by step: a passing tone toward the next note, or a
        neighbour when the line returns to where it was."""
        out = list(plan)
        for i in range(1, len(out) - 1):
            on, dur, d = out[i]
            if (
                self.grid.strength(on) >= 1
                or dur >= self.grid.beat_qn - 1e-6
                or rng.random() > P.PASSING_TONE_P
            ):
                continue
            a, c = out[i - 1][2], out[i + 1][2]
            if c != a:
                step = 1 if c > a else -1
                d = a + step if abs(c - a) > 1 else (d if abs(d - a) <= 1 and abs(d - c) <= 1 else a)
            else:
                d = a + (1 if d >= a else -1)
            out[i] = (on, dur, d)
        return out

    def _refit(self, plan: list[tuple[float, float, int]], t0: float, lo_d: int, hi_d: int):
        out = []
        for on, dur, d in plan:
            if self.grid.strength(on) >= 1 or dur >= self.grid.beat_qn - 1e-6:
                d = self.snap(d, t0 + on)
            out.append((on, dur, self.fit(d, lo_d, hi_d)))
        return out

    def _cadence_bar(
        self,
        motif: Motif,
        t0: float,
        *,
        closed: bool,
        final: bool,
        end_qn: float,
        lo_d: int,
        hi_d: int,
        lone_bar: bool = False,
    ) -> list[tuple[float, float, int]]:
        bar_qn = self.grid.bar_qn
        pos = CADENCE_POS[self.grid.meter]
        if final and not lone_bar:
            pos = 0.0
        elif lone_bar and pos == 0.0:
            pos = self.grid.beats[1]
        if final and pos > 0.5 * (end_qn - t0):
            pos = 0.0  # too short a piece for a figure before the last note
        t_target = t0 + pos
        degs = self.chord_degrees(t_target)
        wanted = (0,) if final else (P.CLOSED_ENDINGS if closed else P.OPEN_ENDINGS)
        prev = self.last_d if self.last_d is not None else (lo_d + hi_d) // 2
        choices = [d for d in range(lo_d, hi_d + 1) if d % 7 in wanted and (final or d % 7 in degs)]
        if not choices:
            choices = [d for d in range(lo_d, hi_d + 1) if d % 7 in (0, 2, 4) and d % 7 in degs] or [
                self.fit(self.snap(prev, t_target), lo_d, hi_d)
            ]
        target = min(choices, key=lambda d: abs(d - prev) + (0 if d % 7 == wanted[0] else 1.5))
        plan: list[tuple[float, float, int]] = []
        head = [(on, dur) for on, dur in motif.bars[1] if on < pos - 1e-6]
        if head:
            # Approach the goal by step from the side we come from.
            direction = 1 if prev > target else -1
            n = len(head)
            for i, (on, dur) in enumerate(head):
                d = target + direction * (n - i)
                if self.grid.strength(on) >= 1:
                    d = self.snap(d, t0 + on, prefer=direction, avoid=target)
                plan.append((on, min(dur, pos - on), self.fit(d, lo_d, hi_d)))
        if final:
            length = end_qn - t_target
        else:
            length = max(self.grid.beat_qn / 2, bar_qn - pos - BREATH_QN)
        plan.append((pos, length, target))
        return plan

    def _chromatic_approaches(self, events: list[Ev], rng: random.Random) -> None:
        for a, b in zip(events, events[1:], strict=False):
            on_b = b.start % self.grid.bar_qn
            if (
                self.grid.strength(on_b) >= 0
                and self.grid.strength(a.start % self.grid.bar_qn) < 0
                and a.dur <= 0.5
                and abs(a.pitch - b.pitch) <= 3
                and rng.random() < CHROMATIC_APPROACH_P
            ):
                a.pitch = b.pitch - 1


def _vary_rhythm(rhythm: list[tuple[float, float]], steps: list[int], rng: random.Random):
    """Split the longest note in two (adding a passing step) or merge the last two notes."""
    rhythm, steps = list(rhythm), list(steps)
    longest = max(range(len(rhythm)), key=lambda i: rhythm[i][1])
    on, dur = rhythm[longest]
    if dur >= 1.0 - 1e-6 and (len(rhythm) < 3 or rng.random() < 0.7):
        half = dur / 2
        rhythm[longest : longest + 1] = [(on, half), (on + half, half)]
        step = rng.choice((-1, 1))
        if longest < len(steps):
            nxt = steps[longest]
            steps[longest : longest + 1] = [step, nxt - step]
        else:
            steps.append(step)
    elif len(rhythm) >= 3:
        (a_on, _), (b_on, b_dur) = rhythm[-2], rhythm[-1]
        rhythm[-2:] = [(a_on, b_on + b_dur - a_on)]
        steps = steps[:-1]
    return rhythm, steps


def split_phrases(n_bars: int) -> list[int]:
    """Phrase lengths for a section: fours, with a short remainder merged or kept as a short phrase."""
    if n_bars <= P.PHRASE_BARS + 1:
        return [n_bars]
    out = [P.PHRASE_BARS] * (n_bars // P.PHRASE_BARS)
    rest = n_bars % P.PHRASE_BARS
    if rest == 1:
        out[-1] += 1
    elif rest:
        out.append(rest)
    return out


def notes_per_bar(grid: Grid, density: float, energy: float, genre: str = "") -> float:
    """How many notes a motif bar should hold, from texture density, energy, tempo and genre."""
    d = 0.5 * density + 0.5 * energy
    per_qn = (NOTES_PER_QN[0] + NOTES_PER_QN[1] * d) * P.GENRE_TUNE_DENSITY.get(genre, 1.0)
    quarter_bpm = 60.0 / grid.qn_seconds
    if quarter_bpm > 130:
        per_qn *= 130 / quarter_bpm
    elif quarter_bpm < 70:
        per_qn *= min(1.4, 70 / quarter_bpm)
    return max(1.5, per_qn * grid.bar_qn)
