"""Accompanying parts: bass lines, chord accompaniments (block, comp, arpeggio, strum, pad), counter lines,
a string quartet's inner voices and timpani. Each writer fills a range of bars and returns note events in
quarter notes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from weavewave.generators.symbolic import patterns as P
from weavewave.generators.symbolic.grid import Grid
from weavewave.generators.symbolic.harmony import Chord, ChordSpan, KeyContext, chord_at, voice_chord
from weavewave.generators.symbolic.humanize import Ev, velocity

EPS = 1e-6
GATE = 0.96  # fraction of a block chord's slot that sounds
UPSTROKE_STRINGS = 3
ROOT_REACH = 17  # semitones above the bass window's bottom that a root may sit
# A walking bass line: how far one note may move (semitones), the penalty on a skip against a step, and
# the random choice between near-equal notes.
WALK_REACH = 5
WALK_SKIP_COST = 1.5
WALK_JITTER = 1.2
UPSTROKE_VELOCITY_DROP = 14
TIMPANI = "Timpani"
# Modes whose vamps sit on a tonic pedal: their scale is another key's major or minor scale (D dorian
# is C major's notes), so only the tonic held underneath says which note is home. Locrian is left out:
# its tonic triad is diminished and no pedal for it.
PEDAL_MODES = frozenset({"dorian", "mixolydian", "lydian", "phrygian"})


@dataclass
class BarContext:
    """The bars a writer fills, with the section's energy and what comes after."""

    start_bar: int
    bars: int
    energy: float
    level: int  # 0 low, 1 mid, 2 high
    final_bar: int  # index of the piece's last bar (held to end_qn)
    end_qn: float
    section_start: bool = True
    fill_last: bool = False  # drum fill in the section's last bar


@dataclass
class Voicer:
    """Voice-leads one part: remembers its last voicing so each chord moves as little as possible."""

    lo: int
    hi: int
    n_voices: int = 4
    drop_root: bool = False
    spread: bool = False
    prev: tuple[int, ...] | None = None
    cache: dict[tuple[float, str], tuple[int, ...]] = field(default_factory=dict)

    def voicing(self, span: ChordSpan) -> tuple[int, ...]:
        key = (span.start, span.chord.symbol)
        if key not in self.cache:
            v = voice_chord(
                span.chord,
                self.prev,
                self.lo,
                self.hi,
                n_voices=self.n_voices,
                drop_root=self.drop_root,
                spread=self.spread,
            )
            self.cache[key] = v
            self.prev = v
        return self.cache[key]


def _nearest(pc: int, ref: float, lo: int, hi: int) -> int:
    """The pitch of class ``pc`` nearest ``ref`` within [lo, hi] (or nearest the window)."""
    cands = [p for p in range(lo, hi + 1) if p % 12 == pc]
    if not cands:
        base = lo + (pc - lo) % 12
        return base
    return min(cands, key=lambda p: abs(p - ref))


# --- bass ----------------------------------------------------------------------------------------
class BassWriter:
    """Genre bass lines: patterns, walking (jazz) and tonic pedal (ambient/cinematic)."""

    def __init__(
        self,
        key: KeyContext,
        grid: Grid,
        spans: list[ChordSpan],
        *,
        genre: str,
        window: tuple[int, int],
        base_velocity: float,
        rng: random.Random,
        simple: bool = False,
    ):
        self.key, self.grid, self.spans, self.genre = key, grid, spans, genre
        self.lo, self.hi = window
        self.base_velocity, self.rng, self.simple = base_velocity, rng, simple
        self.prev = (self.lo + self.hi) / 2 - 3

    def root(self, chord: Chord) -> int:
        return _nearest(chord.root, self.prev, self.lo, self.root_hi)

    @property
    def root_hi(self) -> int:
        """The highest a root may sit: the line's low part, where roots sound as a bass."""
        return min(self.hi, self.lo + ROOT_REACH)

    def tone(self, code: str, span: ChordSpan, t: float) -> int:
        root = self.root(span.chord)
        if code == "R":
            return root
        if code == "5":
            p = root + (span.chord.fifth - span.chord.root) % 12
            return p if p <= self.hi else p - 12
        if code == "8":
            return root + 12 if root + 12 <= self.hi else root
        if code == "3":
            p = root + (span.chord.third - span.chord.root) % 12
            return p if p <= self.hi else p - 12
        if code == "A":
            nxt = chord_at(self.spans, span.end + EPS) if span.end < self.spans[-1].end else span
            target = _nearest(nxt.chord.root, root, self.lo, self.root_hi)  # where the next root will sit
            step = -1 if target >= root else 1
            if self.genre != "jazz":
                # Diatonic neighbour of the next root.
                scale = self.key.scale
                cand = target + step
                while cand % 12 not in scale:
                    cand += step
                return cand if self.lo <= cand <= self.hi else root
            p = target + step
            return p if self.lo <= p <= self.hi else root
        if code in ("W1", "W2"):
            return self.walk_in(span, root, int(code[1]))
        return root

    def walk_in(self, span: ChordSpan, root: int, steps: int) -> int:
        """The scale tone ``steps`` diatonic steps before the next chord's root, on the side the line
        comes from (the next root itself, when the chord does not change, is approached from below)."""
        nxt = chord_at(self.spans, span.end + EPS) if span.end < self.spans[-1].end else span
        target = _nearest(nxt.chord.root, root, self.lo, self.root_hi)
        back = 1 if target < root else -1  # from the target back toward where the line is
        p = target
        for _ in range(steps):
            p += back
            while p % 12 not in self.key.scale:
                p += back
        return p if self.lo <= p <= self.hi else root

    def pedalled(self, span: ChordSpan, t: float, ctx: BarContext) -> ChordSpan:
        """In a modal key, the bass holds the tonic under the vamp's other chords (C/D, G/D in D dorian).

        It follows the chord roots again in a section's last bar, where the cadence (bVII-i, IV-I) needs
        them, so phrase ends still move and the tonic's return is heard.
        """
        bar = int((t + EPS) // self.grid.bar_qn)
        if (
            self.key.mode not in PEDAL_MODES
            or span.chord.root == self.key.tonic
            or bar >= ctx.start_bar + ctx.bars - 1
        ):
            return span
        return ChordSpan(span.start, span.dur, self.key.chord("1"))

    def write(self, ctx: BarContext) -> list[Ev]:
        style = P.BASS_STYLE.get(self.genre, P.BASS_STYLE["pop"])[ctx.level]
        if self.simple and style in ("walking", "eighths", "octave", "pop_busy", "ostinato"):
            style = "root_fifth"
        out: list[Ev] = []
        for bar in range(ctx.start_bar, ctx.start_bar + ctx.bars):
            t0 = bar * self.grid.bar_qn
            if bar == ctx.final_bar:
                span = chord_at(self.spans, t0)
                out.append(
                    Ev(
                        t0,
                        ctx.end_qn - t0,
                        self.root(span.chord),
                        velocity(self.base_velocity, ctx.energy, 2),
                    )
                )
                break
            if style == "walking":
                out.extend(self._walking_bar(t0, ctx))
            elif style == "pedal":
                out.extend(self._pedal_bar(bar, t0, ctx))
            else:
                out.extend(self._pattern_bar(P.BASS_PATTERNS[self.grid.meter][style], t0, ctx))
        for ev in out:
            self.prev = 0.7 * self.prev + 0.3 * ev.pitch
        return out

    def _pattern_bar(self, pattern, t0: float, ctx: BarContext) -> list[Ev]:
        out: list[Ev] = []
        onsets = {round(on, 4) for on, _, _ in pattern}
        hits = list(pattern)
        # A chord change inside the bar gets its root on the change.
        for span in self.spans_in_bar(t0):
            rel = round(span.start - t0, 4)
            if rel > 0 and rel not in onsets:
                hits.append((rel, span.dur, "R"))
        hits.sort()
        for on, dur, code in hits:
            t = t0 + on
            span = chord_at(self.spans, t)
            if span.start > t0 + on + EPS:
                continue
            length = min(dur, span.end - t)
            if length <= EPS:
                continue
            p = self.tone(code, self.pedalled(span, t, ctx), t)
            out.append(Ev(t, length, p, velocity(self.base_velocity, ctx.energy, self.grid.strength(on))))
            self.prev = 0.8 * self.prev + 0.2 * p
        return out

    def spans_in_bar(self, t0: float) -> list[ChordSpan]:
        t1 = t0 + self.grid.bar_qn
        return [s for s in self.spans if s.start < t1 - EPS and s.end > t0 + EPS]

    def _walking_bar(self, t0: float, ctx: BarContext) -> list[Ev]:
        beats = self.grid.beats
        out: list[Ev] = []
        for i, b in enumerate(beats):
            t = t0 + b
            span = self.pedalled(chord_at(self.spans, t), t, ctx)
            beat_in_span = round((t - span.start) / self.grid.beat_qn)
            beats_left = round((span.end - t) / self.grid.beat_qn)
            if out:  # the line carries on from its last note
                self.prev = out[-1].pitch
            root = self.root(span.chord)
            if beat_in_span == 0:
                p = root
            elif beats_left <= 1:
                p = self.tone("A", span, t)
            else:
                p = self._walk_step(out[-1].pitch if out else root, span, t, beats_left)
            out.append(
                Ev(
                    t,
                    self.grid.beat_qn * 0.92,
                    p,
                    velocity(self.base_velocity, ctx.energy, self.grid.strength(b)) - (0 if i == 0 else 4),
                )
            )
        return out

    def _walk_step(self, prev: int, span: ChordSpan, t: float, beats_left: int) -> int:
        """A walking line's next note between the chord's root and the approach into the next one: scale
        steps (and chord tones, to cover a wider distance) heading for the approach note."""
        goal = self.tone("A", span, t)
        ideal = prev + (goal - prev) / beats_left  # where an even walk to the approach would be now
        chord = {(pc - span.chord.root) % 12 for pc in span.chord.pcs}
        # In a modal key the line outlines the (pedalled) chord: scale runs through another key's major
        # scale (D dorian's are C major's) would lose the home note.
        scalar = self.key.mode not in PEDAL_MODES
        options = [
            o
            for o in range(max(self.lo, prev - WALK_REACH), min(self.hi, prev + WALK_REACH) + 1)
            if o != prev
            and o != goal
            and ((scalar and o % 12 in self.key.scale) or (o - span.chord.root) % 12 in chord)
        ]
        if not options:
            return self.root(span.chord)

        def cost(o: int) -> float:
            step = abs(o - prev) <= 2
            return abs(o - ideal) + (0 if step else WALK_SKIP_COST) + self.rng.random() * WALK_JITTER

        return min(options, key=cost)

    def _pedal_bar(self, bar: int, t0: float, ctx: BarContext) -> list[Ev]:
        # Tonic pedal, re-struck every other bar; the section's cadence bars use their roots.
        near_end = bar >= ctx.start_bar + ctx.bars - 2 and ctx.bars > 2
        span = chord_at(self.spans, t0)
        if near_end:
            p = self.root(span.chord)
        else:
            if (bar - ctx.start_bar) % 2:
                return []
            p = _nearest(self.key.tonic, self.prev, self.lo, self.lo + 14)
        length = self.grid.bar_qn * (1 if near_end else 2)
        length = min(length, (ctx.start_bar + ctx.bars) * self.grid.bar_qn - t0)
        return [Ev(t0, length * 0.98, p, velocity(self.base_velocity, ctx.energy, 2))]


# --- chords --------------------------------------------------------------------------------------
class ChordWriter:
    """Accompaniment in one style over the chord plan, voice-led within a register."""

    def __init__(
        self,
        key: KeyContext,
        grid: Grid,
        spans: list[ChordSpan],
        *,
        genre: str,
        style: str,
        window: tuple[int, int],
        base_velocity: float,
        rng: random.Random,
        has_bass: bool,
    ):
        self.key, self.grid, self.spans, self.genre, self.style = key, grid, spans, genre, style
        self.base_velocity, self.rng = base_velocity, rng
        lo, hi = window
        n = 4
        if style in ("strum",):
            n = 5
        if style == "alberti":
            n = 3
        if style in ("power", "ostinato"):
            n = 3
        self.voicer = Voicer(
            lo,
            hi,
            n_voices=n,
            drop_root=(style == "comp" and has_bass),
            spread=style in ("pad", "arp", "pulse", "strum"),
        )

    def _voicing(self, span: ChordSpan) -> tuple[int, ...]:
        if self.style == "power":
            root = _nearest(span.chord.root, self.voicer.lo + 5, self.voicer.lo, self.voicer.lo + 11)
            if self.key.mode in PEDAL_MODES:
                # A mode is told from its neighbours only by its thirds (D dorian's G major against D
                # minor): the guitar plays them on top of the power chord.
                return (root, root + 7, root + 12, root + 12 + (span.chord.third - span.chord.root) % 12)
            return (root, root + 7, root + 12)
        return self.voicer.voicing(span)

    def write(self, ctx: BarContext) -> list[Ev]:
        out: list[Ev] = []
        meter = self.grid.meter
        for bar in range(ctx.start_bar, ctx.start_bar + ctx.bars):
            t0 = bar * self.grid.bar_qn
            if bar == ctx.final_bar:
                out.extend(self._final(t0, ctx))
                break
            if self.style in ("arp", "alberti"):
                out.extend(self._arp_bar(t0, ctx))
            elif self.style == "strum":
                out.extend(self._strum_bar(t0, ctx))
            else:
                style = self.style
                if meter == "3/4" and style in ("block", "comp") and self.genre in P.WALTZ_GENRES:
                    style = "waltz"
                if style == "comp" and meter in P.COMP_RHYTHMS:
                    hits = self.rng.choice(P.COMP_RHYTHMS[meter])
                else:
                    table = P.BLOCK_RHYTHMS[meter].get(style, P.BLOCK_RHYTHMS[meter]["block"])
                    hits = table[ctx.level]
                out.extend(self._hits_bar(hits, t0, ctx, sustain=style == "pad", roll=style == "rolled"))
        if self.style == "pad" and self.genre in P.HELD_PAD_GENRES:
            out = self._tied(out)
        return out

    def _tied(self, evs: list[Ev]) -> list[Ev]:
        """A pad's repeated notes within one chord joined into one held note (the first attack's velocity)."""
        out: list[Ev] = []
        held: dict[int, Ev] = {}  # pitch -> its sounding event
        for ev in sorted(evs, key=lambda e: (e.start, e.pitch)):
            prev = held.get(ev.pitch)
            if (
                prev is not None
                and abs(prev.start + prev.dur - ev.start) < EPS
                and chord_at(self.spans, prev.start) is chord_at(self.spans, ev.start)
            ):
                prev.dur += ev.dur
                continue
            held[ev.pitch] = ev
            out.append(ev)
        return out

    def _hits_bar(self, hits, t0: float, ctx: BarContext, *, sustain: bool, roll: bool) -> list[Ev]:
        out: list[Ev] = []
        hits = list(hits)
        starts = {round(on, 4) for on, _ in hits}
        for span in self.spans:
            rel = round(span.start - t0, 4)
            if 0 < rel < self.grid.bar_qn and rel not in starts:
                hits.append((rel, self.grid.bar_qn - rel))
        hits.sort()
        for on, dur in hits:
            t = t0 + on
            span = chord_at(self.spans, t)
            length = min(dur * (1.0 if sustain else GATE), span.end - t)
            if length <= EPS:
                continue
            v = velocity(self.base_velocity, ctx.energy, self.grid.strength(on))
            for i, p in enumerate(self._voicing(span)):
                off = i * P.ROLL_SPREAD_QN if roll else 0.0
                out.append(Ev(t + off, max(length - off, 0.1), p, v - (2 * i if roll else 0)))
        return out

    def _arp_bar(self, t0: float, ctx: BarContext) -> list[Ev]:
        if self.style == "alberti":
            step, order = P.ALBERTI[self.grid.meter]
        else:
            level = max(ctx.level, P.ARP_MIN_LEVEL.get(self.genre, 0))
            step, order = P.ARP_PATTERNS[self.grid.meter][level]
        out: list[Ev] = []
        n_steps = int(round(self.grid.bar_qn / step))
        for k in range(n_steps):
            t = t0 + k * step
            span = chord_at(self.spans, t)
            v = self._voicing(span)
            idx = order[k % len(order)]
            p = v[idx % len(v)] + 12 * (idx // len(v))
            length = min(step * 2.0, span.end - t)
            vel = velocity(self.base_velocity, ctx.energy, self.grid.strength(k * step)) - 4
            out.append(Ev(t, length, p, vel))
        return out

    def _strum_bar(self, t0: float, ctx: BarContext) -> list[Ev]:
        strums = P.STRUMS[self.grid.meter][ctx.level]
        out: list[Ev] = []
        for j, (on, down) in enumerate(strums):
            t = t0 + on
            span = chord_at(self.spans, t)
            nxt = strums[j + 1][0] if j + 1 < len(strums) else self.grid.bar_qn
            length = min(nxt - on, span.end - t)
            if length <= EPS:
                continue
            v = self._voicing(span)
            strings = list(v) if down else list(reversed(v))[:UPSTROKE_STRINGS]
            base = velocity(self.base_velocity, ctx.energy, self.grid.strength(on))
            if not down:
                base -= UPSTROKE_VELOCITY_DROP
            for i, p in enumerate(strings):
                off = i * P.STRUM_SPREAD_QN
                out.append(Ev(t + off, max(length - off, 0.1), p, base - i))
        return out

    def _final(self, t0: float, ctx: BarContext) -> list[Ev]:
        span = chord_at(self.spans, t0)
        v = self._voicing(span)
        if self.voicer.drop_root:  # the last chord states its root, even over a bass
            v = voice_chord(span.chord, v, self.voicer.lo, self.voicer.hi, n_voices=self.voicer.n_voices)
        roll = self.style in ("arp", "alberti", "strum", "rolled")
        vel = velocity(self.base_velocity, ctx.energy, 2)
        return [
            Ev(
                t0 + (i * P.ROLL_SPREAD_QN if roll else 0.0),
                ctx.end_qn - t0 - (i * P.ROLL_SPREAD_QN if roll else 0.0),
                p,
                vel,
            )
            for i, p in enumerate(v)
        ]


# --- counter line and timpani --------------------------------------------------------------------
class CounterWriter:
    """A counter line: slow guide tones (thirds and sevenths), voice-led, one or two per chord; or, where
    ``scale`` is given and the section is not quiet, a second voice moving in quarter notes (chord tones
    on the beats, a passing tone into each chord change), as the inner voice of a quartet moves."""

    def __init__(
        self,
        grid: Grid,
        spans: list[ChordSpan],
        *,
        window: tuple[int, int],
        base_velocity: float,
        scale: tuple[int, ...] | None = None,
    ):
        self.grid, self.spans = grid, spans
        self.lo, self.hi = window
        self.base_velocity = base_velocity
        self.scale = scale
        self.prev = (self.lo + self.hi) / 2

    def write(self, ctx: BarContext) -> list[Ev]:
        t_start, t_end = ctx.start_bar * self.grid.bar_qn, (ctx.start_bar + ctx.bars) * self.grid.bar_qn
        if ctx.final_bar < ctx.start_bar + ctx.bars:
            t_end = ctx.end_qn
        out: list[Ev] = []
        for span in self.spans:
            if span.end <= t_start + EPS or span.start >= t_end - EPS:
                continue
            a, b = max(span.start, t_start), min(span.end, t_end)
            if self.scale is not None and ctx.level >= 1 and b < ctx.end_qn - EPS:
                out.extend(self._moving(span, a, b, ctx))
                continue
            guides = [span.chord.third] + (
                [span.chord.pcs[3]] if len(span.chord.pcs) > 3 else [span.chord.fifth]
            )
            pieces = [(a, b - a)]
            if ctx.level == 2 and b - a >= 2 * self.grid.beat_qn and b < ctx.end_qn - EPS:
                half = (b - a) / 2
                pieces = [(a, half), (a + half, half)]
            for k, (t, d) in enumerate(pieces):
                pc = guides[k % len(guides)]
                p = _nearest(pc, self.prev, self.lo, self.hi)
                self.prev = p
                gap = 0.0 if t + d >= ctx.end_qn - EPS else 0.1
                out.append(Ev(t, d - gap, p, velocity(self.base_velocity, ctx.energy, 2, arc=0.5)))
        return out

    def _moving(self, span: ChordSpan, a: float, b: float, ctx: BarContext) -> list[Ev]:
        """Quarter notes over one chord: guide tone first, then the nearest other chord tones, and a
        scale step toward the next chord's nearest guide tone on the last beat."""
        assert self.scale is not None  # only called with a scale (see write)
        beat = self.grid.beat_qn
        n = max(1, int(round((b - a) / beat)))
        nxt = chord_at(self.spans, b + EPS) if b < self.spans[-1].end - EPS else span
        out = []
        for k in range(n):
            t = a + k * beat
            if k == 0:
                p = _nearest(span.chord.third, self.prev, self.lo, self.hi)
            elif k == n - 1 and n >= 2:
                goal = _nearest(nxt.chord.third, self.prev, self.lo, self.hi)
                step = 1 if goal > self.prev else -1
                p = int(self.prev) + step
                while p % 12 not in self.scale:
                    p += step
                if not self.lo <= p <= self.hi or p == goal:
                    p = _nearest(span.chord.fifth, self.prev, self.lo, self.hi)
            else:
                options = [_nearest(pc, self.prev, self.lo, self.hi) for pc in span.chord.pcs]
                options = [o for o in options if o != self.prev] or options
                p = min(options, key=lambda o: abs(o - self.prev))
            self.prev = p
            strength = self.grid.strength(t % self.grid.bar_qn)
            out.append(Ev(t, beat * 0.95, p, velocity(self.base_velocity, ctx.energy, strength, arc=0.5)))
        return out


# Inner voices of a string quartet: costs (semitones of motion are worth 1) that keep the two voices off
# each other's pitch class, off the cello's root, covering the chord's third, and moving when they move.
INNER_DOUBLING_COST = 4.0
INNER_ROOT_COST = 2.5
INNER_THIRD_COST = 2.0
INNER_STILL_COST = 2.5
INNER_PASSING_COST = 0.5
# Semitones the lower inner voice leaves under the tune (room for a chord tone of the upper voice), or at
# least, where nothing fits otherwise.
INNER_TUNE_ROOM = (6, 3)


class InnerVoicesWriter:
    """The two inner voices of a string quartet (second violin above, viola below), written together
    under the tune so they never cross it, each other, or double each other's note.

    Quiet sections hold a chord tone each per chord (split at bar lines); from mid energy the upper voice
    moves a note a beat, with a passing tone into a chord change; in the loudest sections both move. The
    tune written so far is passed to :meth:`write`: a voice stays under the lowest tune note it sounds
    against, and rests where no chord tone fits there.
    """

    def __init__(
        self,
        grid: Grid,
        spans: list[ChordSpan],
        *,
        voices: dict[str, tuple[int, int]],
        base_velocity: float,
        scale: tuple[int, ...],
    ):
        self.grid, self.spans = grid, spans
        self.names = list(voices)  # upper voice first
        (self.u_lo, self.u_hi), (self.l_lo, self.l_hi) = voices[self.names[0]], voices[self.names[1]]
        self.base_velocity = base_velocity
        self.scale = scale
        self.prev_u, self.prev_l = (self.u_lo + self.u_hi) / 2, (self.l_lo + self.l_hi) / 2
        self._section: tuple[int, int] | None = None
        self._written: dict[str, list[Ev]] = {}

    def write(self, ctx: BarContext, voice: str, tune: list[Ev]) -> list[Ev]:
        """The events of ``voice`` over the section ``ctx`` (both voices are written on the first call)."""
        if self._section != (ctx.start_bar, ctx.bars):
            self._section = (ctx.start_bar, ctx.bars)
            self._written = dict(zip(self.names, self._write_both(ctx, tune), strict=True))
        return self._written[voice]

    def _write_both(self, ctx: BarContext, tune: list[Ev]) -> tuple[list[Ev], list[Ev]]:
        bar_qn = self.grid.bar_qn
        t_start, t_end = ctx.start_bar * bar_qn, (ctx.start_bar + ctx.bars) * bar_qn
        if ctx.final_bar < ctx.start_bar + ctx.bars:
            t_end = ctx.end_qn
        near = [e for e in tune if e.start < t_end + EPS and e.start + e.dur > t_start - EPS]
        upper: list[Ev] = []
        lower: list[Ev] = []
        for span in self.spans:
            if span.end <= t_start + EPS or span.start >= t_end - EPS:
                continue
            a = max(span.start, t_start)
            while a < min(span.end, t_end) - EPS:
                b = min(span.end, t_end, (int((a + EPS) // bar_qn) + 1) * bar_qn)
                held = b >= ctx.end_qn - EPS  # the last chord of the piece is held to the end
                lows = self._lower(span, a, b, ctx, near, moving=ctx.level == 2 and not held)
                lower.extend(lows)
                upper.extend(self._upper(span, a, b, ctx, near, lows, moving=ctx.level >= 1 and not held))
                a = b
        return upper, lower

    def _slots(self, a: float, b: float, moving: bool) -> list[tuple[float, float]]:
        if not moving:
            return [(a, b)]
        beat = self.grid.beat_qn
        n = max(1, int(round((b - a) / beat)))
        return [(a + k * beat, beat if k < n - 1 else b - a - k * beat) for k in range(n)]

    def _ev(self, t: float, d: float, pitch: int, ctx: BarContext, moving: bool) -> Ev:
        gate = d * 0.95 if moving else (d if t + d >= ctx.end_qn - EPS else d - 0.1)
        strength = self.grid.strength(t % self.grid.bar_qn)
        return Ev(t, gate, pitch, velocity(self.base_velocity, ctx.energy, strength, arc=0.5))

    def _lower(
        self, span: ChordSpan, a: float, b: float, ctx: BarContext, tune: list[Ev], *, moving: bool
    ) -> list[Ev]:
        chord = span.chord
        out = []
        for t, d in self._slots(a, b, moving):
            tune_low = _ceiling(tune, t, t + d, self.l_hi + INNER_TUNE_ROOM[0])
            cands: list[int] = []
            for room in INNER_TUNE_ROOM:  # room for the upper voice if it fits, else less
                top = min(self.l_hi, tune_low - room)
                cands = cands or [p for p in range(self.l_lo, top + 1) if p % 12 in chord.pcs]
            if not cands:
                continue  # no room under the tune here: the viola rests
            root = chord.root if len(chord.pcs) >= 3 else -1
            p = min(cands, key=lambda p: (_inner_cost(p, self.prev_l, moving, avoid=(root,)), p))
            self.prev_l = p
            out.append(self._ev(t, d, p, ctx, moving))
        return out

    def _upper(
        self,
        span: ChordSpan,
        a: float,
        b: float,
        ctx: BarContext,
        tune: list[Ev],
        lows: list[Ev],
        *,
        moving: bool,
    ) -> list[Ev]:
        chord = span.chord
        slots = self._slots(a, b, moving)
        out = []
        for k, (t, d) in enumerate(slots):
            ceiling = _ceiling(tune, t, t + d, self.u_hi + 1) - 1
            under = [e.pitch for e in lows if e.start < t + d - EPS and e.start + e.dur > t + EPS]
            floor = max(under, default=self.u_lo - 1) + 1
            low_pcs = {p % 12 for p in under}
            cands = {
                p: 0.0
                for p in range(max(self.u_lo, floor), min(self.u_hi, ceiling) + 1)
                if p % 12 in chord.pcs
            }
            if moving and k == len(slots) - 1 and b >= span.end - EPS and b < self.spans[-1].end - EPS:
                # The last beat of a chord: a scale step on the way to the next chord's nearest tone.
                nxt = chord_at(self.spans, b + EPS).chord
                goal = _nearest(nxt.third, self.prev_u, self.u_lo, self.u_hi)
                step = 1 if goal > self.prev_u else -1
                p = int(self.prev_u) + step
                while p % 12 not in self.scale:
                    p += step
                if p != goal and (p - self.prev_u) * (goal - p) > 0 and floor <= p <= min(self.u_hi, ceiling):
                    cands.setdefault(p, INNER_PASSING_COST)
            if not cands:
                continue  # squeezed between the viola and the tune: the second violin rests
            costs = {
                p: extra
                + (INNER_THIRD_COST if chord.third not in low_pcs | {p % 12} else 0.0)
                + _inner_cost(p, self.prev_u, moving, double=tuple(low_pcs))
                for p, extra in cands.items()
            }
            p = min(costs, key=lambda p: (costs[p], p))
            self.prev_u = p
            out.append(self._ev(t, d, p, ctx, moving))
        return out


def _inner_cost(
    p: int, prev: float, moving: bool, *, avoid: tuple[int, ...] = (), double: tuple[int, ...] = ()
) -> float:
    """What an inner voice's next pitch costs: its leap, plus a note it should leave to the cello
    (``avoid``), a pitch class the other inner voice holds (``double``), and standing still while moving."""
    c = abs(p - prev)
    c += INNER_ROOT_COST if p % 12 in avoid else 0.0
    c += INNER_DOUBLING_COST if p % 12 in double else 0.0
    return c + (INNER_STILL_COST if moving and p == prev else 0.0)


def _ceiling(tune: list[Ev], a: float, b: float, default: int) -> int:
    """The lowest tune pitch sounding between ``a`` and ``b`` (``default`` where the tune is silent)."""
    over = [e.pitch for e in tune if e.start < b - EPS and e.start + e.dur > a + EPS and e.pitch >= 0]
    return min(over, default=default)


class TimpaniWriter:
    """Timpani: root hits on section downbeats, beat one at high energy, a roll into the ending."""

    ROLL_STEP_QN = 0.125

    def __init__(
        self,
        grid: Grid,
        spans: list[ChordSpan],
        key: KeyContext,
        *,
        window: tuple[int, int],
        base_velocity: float,
    ):
        self.grid, self.spans, self.key = grid, spans, key
        self.lo, self.hi = window
        self.base_velocity = base_velocity

    def _pitch(self, chord: Chord) -> int:
        return _nearest(chord.root, (self.lo + self.hi) / 2, self.lo, self.hi)

    def write(self, ctx: BarContext) -> list[Ev]:
        out: list[Ev] = []
        bar_qn = self.grid.bar_qn
        for bar in range(ctx.start_bar, ctx.start_bar + ctx.bars):
            t0 = bar * bar_qn
            span = chord_at(self.spans, t0)
            first = bar == ctx.start_bar and ctx.section_start
            if bar == ctx.final_bar:
                out.append(
                    Ev(
                        t0,
                        min(ctx.end_qn - t0, 2 * bar_qn),
                        self._pitch(span.chord),
                        velocity(self.base_velocity, max(ctx.energy, 0.6), 2),
                    )
                )
                break
            if first or ctx.level == 2 or (ctx.level == 1 and (bar - ctx.start_bar) % 2 == 0):
                out.append(
                    Ev(t0, bar_qn * 0.9, self._pitch(span.chord), velocity(self.base_velocity, ctx.energy, 2))
                )
            if bar + 1 == ctx.final_bar or (
                ctx.fill_last and bar == ctx.start_bar + ctx.bars - 1 and ctx.level >= 1
            ):
                # A crescendo roll over the last beat, on the root of what comes next.
                nxt = chord_at(self.spans, t0 + bar_qn)
                n = int(self.grid.beat_qn / self.ROLL_STEP_QN)
                for k in range(n):
                    t = t0 + bar_qn - self.grid.beat_qn + k * self.ROLL_STEP_QN
                    out.append(
                        Ev(t, self.ROLL_STEP_QN, self._pitch(nxt.chord), int(50 + 40 * k / max(1, n - 1)))
                    )
        return out
