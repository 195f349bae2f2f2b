"""Harmony: chords built in the key's mode, progressions with cadences, and voice-led voicings."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from weavewave.generators.symbolic import patterns as P
from weavewave.music.form import INTRO_LABELS
from weavewave.music.theory import MINOR_THIRD_MODES, MODES

_VOICING_CACHE: dict[tuple, list[tuple[int, ...]]] = {}


@dataclass(frozen=True)
class Chord:
    """A chord: scale degree (0-6), root pitch class, and pitch classes stacked from the root."""

    degree: int
    root: int
    pcs: tuple[int, ...]  # root, third, fifth[, seventh[, ninth]] (or the suspension in the third's place)
    symbol: str

    @property
    def triad(self) -> tuple[int, ...]:
        return self.pcs[:3]

    @property
    def fifth(self) -> int:
        return self.pcs[2]

    @property
    def third(self) -> int:
        return self.pcs[1]


@dataclass(frozen=True)
class ChordSpan:
    """A chord sounding from ``start`` for ``dur`` quarter notes."""

    start: float
    dur: float
    chord: Chord

    @property
    def end(self) -> float:
        return self.start + self.dur


@dataclass(frozen=True)
class KeyContext:
    """The key as the composer uses it: tonic pitch class, mode and its scale."""

    tonic: int
    mode: str

    @property
    def scale(self) -> tuple[int, ...]:
        return tuple((self.tonic + s) % 12 for s in MODES[self.mode])

    @property
    def is_minor(self) -> bool:
        return self.mode in MINOR_THIRD_MODES

    def chord(self, token: str) -> Chord:
        """Build the chord a progression token names (see :mod:`.patterns`)."""
        head, *exts = token.split(".")
        degree = int(head) - 1
        if not 0 <= degree < 7:
            raise ValueError(f"chord token {token!r}: degree must be 1-7")
        scale = self.scale
        steps = [0, 2, 4]
        if "7" in exts or "9" in exts:
            steps.append(6)
        if "9" in exts or "a9" in exts:
            steps.append(8)
        pcs = [scale[(degree + s) % 7] for s in steps]
        root = pcs[0]
        if "D" in exts:
            pcs[1] = (root + 4) % 12
            if len(pcs) > 3:
                pcs[3] = (root + 10) % 12
        if "s4" in exts:
            pcs[1] = scale[(degree + 3) % 7]
        elif "s2" in exts:
            pcs[1] = scale[(degree + 1) % 7]
        return Chord(degree, root, tuple(pcs), token)


def _color(token: str, genre: str, key: KeyContext) -> str:
    """Add the genre's usual extensions to a plain degree token."""
    if "." in token:
        return token
    every, tonic, dominant = P.GENRE_COLOR.get(genre, ("", "", ""))
    if token == "1":
        ext = tonic
    elif token == "5":
        ext = dominant
    else:
        ext = every
    if ext == ".a9" and key.mode == "locrian":
        ext = ""
    if token == "1" and key.mode == "mixolydian" and ext in (".7", ".9") and genre != "jazz":
        # A seventh on the home chord of a mixolydian piece is a dominant seventh: its tritone pulls to IV,
        # the tonic of the major scale the mode shares, and the piece is heard there. The added ninth
        # keeps the colour without the pull. Jazz keeps its dominant-ninth vamp, which its walking bass
        # over the tonic centres (measured in bench/bench_key_adherence.py).
        ext = ".a9"
    return token + ext


def progression_pool(genre: str, key: KeyContext) -> tuple[str, ...]:
    """Candidate progression loops for a genre in a key."""
    if key.mode in P.MODAL_VAMPS:
        return P.MODAL_VAMPS[key.mode]
    table = P.PROGRESSIONS.get(genre, P.PROGRESSIONS["pop"])
    return table["minor" if key.is_minor else "major"]


def cadence_tokens(kind: str, genre: str, key: KeyContext) -> tuple[str, ...]:
    """Tokens of a cadence ("authentic" ends on the tonic, "half" on a dominant-function chord)."""
    if genre == "jazz" and key.mode in ("major", "minor"):
        tokens = P.JAZZ_CADENCE[kind]
        return tuple(t + ".D" if key.mode == "minor" and t == "5" else t for t in tokens)
    if key.mode == "minor" and genre in P.CLASSICAL_MINOR_GENRES:
        return P.CLASSICAL_MINOR_CADENCE[kind]
    return P.CADENCES[key.mode][kind]


def _fitted_cadence(
    kind: str, genre: str, key: KeyContext, before: list[str], loop_end: list[str]
) -> list[str]:
    """A section's closing chords in place of the loop's last ones, ``loop_end``, after its chords ``before``.

    Cut to its last two chords, an authentic cadence (IV-V-I) loses its subdominant; a section of I, V and
    vi alone then has no 4th degree and is heard in the dominant's key. Such a section ends on the half
    cadence instead (IV-V, ii-V): the subdominant stays, and the piece's last bar is the tonic anyway.
    A loop that comes home by itself (ends on I) keeps its ending rather than take a half cadence: I-V-IV-I
    turned I-V-IV-V holds the dominant twice and the tonic once, and rock anthems were heard in the dominant.
    """
    room = len(loop_end)
    if kind == "half" and loop_end and loop_end[-1] == "1":
        return loop_end
    cad = cadence_tokens(kind, genre, key)
    if len(cad) > room and not any(_degree(t) in P.SUBDOMINANT_DEGREES for t in before):
        cad = cadence_tokens("half", genre, key)
    kept = list(cad[-min(len(cad), room) :])
    # A cadence shorter than its room keeps the loop's chords before it, so the section's slots stay filled
    # (a shorter list left the section's last bars without a chord: the band fell silent there).
    return list(loop_end[: room - len(kept)]) + kept


def _degree(token: str) -> int:
    """The scale degree (1-7) a chord token stands on."""
    return int(token.split(".")[0])


def bars_per_chord(genre: str, bar_seconds: float) -> float:
    """Harmonic rhythm in bars per chord: slower for ambient, faster when bars are very long."""
    bpc = P.BARS_PER_CHORD.get(genre, 1)
    if bar_seconds < 1.4 and genre in ("cinematic", "electronic", "rock"):
        bpc = 2
    if bar_seconds > 4.5 and bpc > 1:
        bpc = 1
    return bpc


@dataclass(frozen=True)
class SectionSpan:
    """What the harmony planner needs to know about a section (bars from the piece start)."""

    start_bar: int
    bars: int
    theme: str  # sections with the same theme share a progression
    last: bool


def plan_progression(
    sections: list[SectionSpan],
    *,
    genre: str,
    key: KeyContext,
    bar_qn: float,
    bar_seconds: float,
    end_qn: float,
    rng_seed: int,
    loop_back: bool = False,
) -> list[ChordSpan]:
    """Chord spans covering the piece: one loop per theme, phrase and section cadences, tonic ending.

    The final span starts on the last bar and lasts to ``end_qn``. With ``loop_back`` the piece instead ends
    on a half cadence (the dominant) that resolves into the first bar when the piece repeats.
    """
    total_bars = sections[-1].start_bar + sections[-1].bars
    pool = progression_pool(genre, key)
    bpc = bars_per_chord(genre, bar_seconds)
    loops: dict[str, list[str]] = {}
    spans: list[ChordSpan] = []
    # The opening themes (an intro and the first theme) start on the tonic, so the key is heard first;
    # later themes may open anywhere ("3 6 2 5").
    home = [p for p in pool if p.split()[0].split(".")[0] == "1"] or list(pool)
    opening = {sections[0].theme, *(s.theme for s in sections[1:2] if sections[0].theme in INTRO_LABELS)}
    for sec in sections:
        if sec.theme not in loops:
            # Seeds take the pool's loops in turn (from a place set by the theme), so consecutive seeds of
            # one prompt never share a progression.
            choices = home if sec.theme in opening else pool
            offset = random.Random(f"prog:{sec.theme}").randrange(len(choices))
            loops[sec.theme] = choices[(rng_seed + offset) % len(choices)].split()
        loop = loops[sec.theme]
        slot_bars = bpc if sec.bars >= 2 * bpc else 1
        n_slots = max(1, int(round(sec.bars / slot_bars)))
        tokens = [loop[i % len(loop)] for i in range(n_slots)]
        per_phrase = max(1, round(P.PHRASE_BARS / slot_bars))
        if genre in P.PHRASE_CADENCE_GENRES and n_slots >= 2 * per_phrase:
            for k, end in enumerate(range(per_phrase, n_slots, per_phrase)):
                kind = "half" if k % 2 == 0 else "authentic"
                if kind == "half" and tokens[end - 1] == "1":
                    continue  # the loop comes home here by itself (see _fitted_cadence)
                cad = cadence_tokens(kind, genre, key)[-min(per_phrase - 1, 3) :]
                tokens[end - len(cad) : end] = list(cad)
        # A section's cadence takes at most half its chord slots (two at least: V-I, IV-V), so a short
        # section still plays its own loop's opening chords instead of the genre's one cadence formula.
        most = max(P.MIN_CADENCE_SLOTS, n_slots // 2)
        if sec.last:
            kind = "half" if loop_back else "authentic"
            room = min(n_slots, most)
            tokens[n_slots - room :] = _fitted_cadence(
                kind, genre, key, tokens[: n_slots - room], tokens[n_slots - room :]
            )
        elif genre not in P.LOOP_ONLY_GENRES and n_slots >= 3:
            kind = "authentic" if genre in P.PHRASE_CADENCE_GENRES else "half"
            room = min(n_slots - 1, most)
            tokens[n_slots - room :] = _fitted_cadence(
                kind, genre, key, tokens[: n_slots - room], tokens[n_slots - room :]
            )
        start = sec.start_bar * bar_qn
        slot_qn = sec.bars * bar_qn / n_slots
        for i, tok in enumerate(tokens):
            spans.append(ChordSpan(start + i * slot_qn, slot_qn, key.chord(_color(tok, genre, key))))
    if spans and not loop_back:
        spans = _merge_final(spans, key, genre, (total_bars - 1) * bar_qn, end_qn)
    return spans


def _merge_final(
    spans: list[ChordSpan], key: KeyContext, genre: str, final_qn: float, end_qn: float
) -> list[ChordSpan]:
    """End on the tonic: the last bar (from ``final_qn``) holds the tonic chord until ``end_qn``."""
    kept = [
        ChordSpan(s.start, min(s.dur, final_qn - s.start), s.chord)
        for s in spans
        if s.start < final_qn - 1e-6
    ]
    tonic = key.chord(_color("1", genre, key))
    return kept + [ChordSpan(final_qn, end_qn - final_qn, tonic)]


def chord_at(spans: list[ChordSpan], t: float) -> ChordSpan:
    """The span sounding at time ``t`` (qn); binary search on starts."""
    lo, hi = 0, len(spans) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if spans[mid].start <= t + 1e-6:
            lo = mid
        else:
            hi = mid - 1
    return spans[lo]


# --- voicing -------------------------------------------------------------------------------------
def chord_tones_for_voicing(chord: Chord, n_voices: int, *, drop_root: bool) -> list[int]:
    """Pitch classes to voice: extensions kept, the fifth then the root dropped if there are too many."""
    pcs = list(chord.pcs)
    if drop_root and len(pcs) >= 4:
        pcs = pcs[1:]
    while len(pcs) > n_voices:
        # Drop a perfect fifth first; it adds least colour.
        if (chord.fifth - chord.root) % 12 == 7 and chord.fifth in pcs:
            pcs.remove(chord.fifth)
        else:
            pcs.pop(0)
    i = 0
    base = list(pcs)
    while len(pcs) < n_voices:
        pcs.append(base[i % len(base)])
        i += 1
    return pcs


def _candidates(pcs: tuple[int, ...], lo: int, hi: int, spread: bool) -> list[tuple[int, ...]]:
    key = (pcs, lo, hi, spread)
    cached = _VOICING_CACHE.get(key)
    if cached is not None:
        return cached
    out: set[tuple[int, ...]] = set()
    for order in set(itertools.permutations(pcs)) if len(pcs) <= 5 else {pcs}:
        for base in range(lo, lo + 12):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                nxt = notes[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                notes.append(nxt)
            for octave in (0, 12, 24):
                v = [n + octave for n in notes]
                if spread and len(v) >= 4:
                    v = sorted(v)
                    v[-2] -= 12  # drop-2: opens the close voicing for pads and strings
                v = sorted(v)
                if v[0] >= lo and v[-1] <= hi and v[-1] - v[0] <= (24 if spread else 16):
                    out.add(tuple(v))
    result = sorted(out)
    _VOICING_CACHE[key] = result
    return result


def voice_chord(
    chord: Chord,
    prev: tuple[int, ...] | None,
    lo: int,
    hi: int,
    *,
    n_voices: int = 4,
    drop_root: bool = False,
    spread: bool = False,
) -> tuple[int, ...]:
    """A voicing of ``chord`` in [lo, hi] that moves least from ``prev`` (common tones stay put)."""
    pcs = tuple(chord_tones_for_voicing(chord, n_voices, drop_root=drop_root))
    cands = _candidates(pcs, lo, hi, spread)
    if not cands:
        cands = _candidates(pcs, lo - 12, hi + 12, False) or [
            tuple(sorted(60 + (pc - 60) % 12 for pc in pcs))
        ]
    centre = (lo + hi) / 2
    best, best_cost = cands[0], float("inf")
    for c in cands:
        cost = abs(sum(c) / len(c) - centre) * 0.6
        if prev:
            cost += _movement(prev, c)
        # Thirds below ~E3 sound muddy.
        if c[0] < 52 and len(c) > 1 and c[1] - c[0] < 7:
            cost += 4
        if cost < best_cost:
            best, best_cost = c, cost
    return best


def _movement(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    if len(a) == len(b):
        return float(sum(abs(x - y) for x, y in zip(a, b, strict=True)))
    return float(sum(min(abs(x - y) for y in b) for x in a) + sum(min(abs(x - y) for x in a) for y in b)) / 2
