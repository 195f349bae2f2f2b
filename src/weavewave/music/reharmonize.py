"""How far a reference's detected chords can be trusted, and clean chords for a tune when they cannot.

A chord per beat read from chroma is only as good as the harmony in the recording. Over real
accompaniment the triad templates fit well and one clearly wins; over a mostly monophonic or noisy
performance every beat fits something a little, the winner changes by chance, and the chords wander
out of the key (Db, F#m, Bbm under an A-minor tune). :func:`harmony_confidence` scores that from three
measurements; :func:`reharmonize` then writes diatonic chords that fit the kept melody instead, and
:func:`clean_melody` drops notes that are likely transcription blips rather than tune.

Plain Python (no numpy), so it is cheap to import and to test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from weavewave.music.theory import MODES, TONIC_NAMES

# --- trust in detected chords ----------------------------------------------------------------------
# Mean correlation of the winning triad template with each beat's chroma: about 0.85 over real
# triads (rendered Ode to Joy), about 0.5 over a solo line (music21's test_audio.wav).
TEMPLATE_FIT = (0.45, 0.80)  # mapped to 0..1
# Mean lead of the winning template over the runner-up: 0.19 vs 0.04 on the same two.
TEMPLATE_MARGIN = 0.15  # this lead or more scores 1
TRUSTED_HARMONY = 0.6  # confidence below this: re-harmonise the melody instead
# --- re-harmonisation ------------------------------------------------------------------------------
CHORD_TONE, SCALE_TONE, FOREIGN_TONE = 1.0, -0.25, -1.0  # a melody note against a candidate chord
DOWNBEAT_WEIGHT, BEAT_WEIGHT, OFFBEAT_WEIGHT, HELD_WEIGHT = 1.5, 1.0, 0.7, 0.8
CHANGE_AT_BAR, CHANGE_MID_BAR = 0.2, 0.6  # cost of changing chord; mid-bar changes need more evidence
TONIC_START, TONIC_END, PHRASE_TONIC = 1.0, 1.5, 0.2  # priors for the tonic
CADENCE_DOMINANT = 0.4  # dominant in the second half of a phrase's last bar
TONIC_HOME = 0.2  # every slot: where the tune allows it, the tonic, so the key is heard as the key asked
PHRASE_BARS = 4
MINOR_V_COST = (
    0.3  # in minor, the minor v: weak as a dominant, and where it dwells the key is heard as its own
)
# Degree-to-degree moves that a listener hears as functional harmony (0-based scale degrees).
PROGRESSION_BONUS = {(4, 0): 0.4, (3, 4): 0.2, (1, 4): 0.2, (4, 5): 0.1, (3, 0): 0.1, (5, 3): 0.1}
# --- melody clean-up -------------------------------------------------------------------------------
BLIP_S = 0.15  # a note shorter than this that is foreign or an octave slip is a transcription blip
ISOLATED_LEAP = 7  # semitones from both neighbours: a foreign note this far off is not a passing tone
OCTAVE_SLIP = 11  # a short note this far from both neighbours is an octave error


@dataclass(frozen=True)
class ChordChoice:
    """A candidate triad: its symbol, pitch classes and scale degree (0-based)."""

    symbol: str
    pcs: frozenset[int]
    degree: int


@dataclass(frozen=True)
class HarmonyTrust:
    """How trustworthy detected chords are (0..1), the measurements behind it, and why, in words."""

    confidence: float
    template_fit: float
    template_margin: float
    key_fit: float
    reason: str

    @property
    def trusted(self) -> bool:
        return self.confidence >= TRUSTED_HARMONY


def key_chords(tonic: int, mode: str) -> list[ChordChoice]:
    """The major and minor triads on the key's degrees (diminished ones left out), plus the major
    dominant in minor keys (the harmonic minor's V, which a raised seventh in the tune asks for)."""
    scale = [(tonic + s) % 12 for s in MODES.get(mode, MODES["major"])]
    out = []
    for degree, root in enumerate(scale):
        third, fifth = scale[(degree + 2) % 7], scale[(degree + 4) % 7]
        quality = {(4, 7): "maj", (3, 7): "min"}.get(((third - root) % 12, (fifth - root) % 12))
        if quality:
            out.append(ChordChoice(f"{TONIC_NAMES[root]}:{quality}", frozenset((root, third, fifth)), degree))
    if mode == "minor":
        root = scale[4]
        out.append(
            ChordChoice(f"{TONIC_NAMES[root]}:maj", frozenset((root, (root + 4) % 12, (root + 7) % 12)), 4)
        )
    return out


def _symbol_pcs(symbol: str) -> frozenset[int]:
    from weavewave.music.theory import tonic_pitch_class

    root, _, quality = symbol.partition(":")
    r = tonic_pitch_class(root)
    return frozenset((r, (r + (3 if quality == "min" else 4)) % 12, (r + 7) % 12))


def harmony_confidence(
    best_scores: list[float],
    margins: list[float],
    chords: list[tuple[float, float, str]],
    tonic: int,
    mode: str,
) -> HarmonyTrust:
    """Score detected chords 0..1 from the per-beat template fit, the winner's margin, and the share of
    chord time whose triad belongs to the key (its diatonic triads or the minor key's major V)."""
    fit = sum(best_scores) / len(best_scores) if best_scores else 0.0
    margin = sum(margins) / len(margins) if margins else 0.0
    allowed = {c.pcs for c in key_chords(tonic, mode)}
    total = sum(d for _, d, _ in chords)
    in_key = sum(d for _, d, s in chords if _symbol_pcs(s) in allowed) / total if total > 0 else 0.0
    parts = {
        "template fit": _unit(fit, *TEMPLATE_FIT),
        "template margin": _unit(margin, 0.0, TEMPLATE_MARGIN),
        "chords in key": in_key,
    }
    confidence = sum(parts.values()) / len(parts)
    weakest = min(parts, key=parts.__getitem__)
    verdict = "trusted" if confidence >= TRUSTED_HARMONY else "not trusted (mostly one line or noisy)"
    reason = (
        f"detected chords {verdict}: confidence {confidence:.2f} from template fit {fit:.2f}, margin "
        f"{margin:.2f}, {in_key:.0%} of chord time in key; weakest: {weakest}"
    )
    return HarmonyTrust(round(confidence, 3), round(fit, 3), round(margin, 3), round(in_key, 3), reason)


def _unit(value: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (value - lo) / (hi - lo)))


def _in_key(pc: int, tonic: int, mode: str) -> bool:
    scale = {(tonic + s) % 12 for s in MODES.get(mode, MODES["major"])}
    if mode == "minor":
        scale.add((tonic + 11) % 12)  # the leading tone is at home in minor
    return pc in scale


def clean_melody(
    notes: list[tuple[float, float, int]], tonic: int, mode: str
) -> list[tuple[float, float, int]]:
    """Drop likely transcription blips from a monophonic line of (start_s, end_s, pitch) notes.

    A blip is a note foreign to the key that is very short or leaps at least ``ISOLATED_LEAP``
    semitones from both neighbours, or a very short note an octave off both neighbours. Chromatic
    notes reached by step (passing and neighbour tones) are kept, whatever their length.
    """
    kept = list(notes)
    changed = True
    while changed:  # removing one blip can make its neighbour's context clear
        changed = False
        for i, (start, end, pitch) in enumerate(kept):
            near = [kept[j][2] for j in (i - 1, i + 1) if 0 <= j < len(kept)]
            leap = min((abs(pitch - p) for p in near), default=0)
            short = end - start < BLIP_S
            foreign = not _in_key(pitch % 12, tonic, mode)
            if (foreign and (short or leap >= ISOLATED_LEAP)) or (short and leap >= OCTAVE_SLIP):
                del kept[i]
                changed = True
                break
    return kept


def _slot_scores(
    melody: list[tuple[float, float, int, int]],
    choices: list[ChordChoice],
    slot_qn: float,
    bar_qn: float,
    n_slots: int,
    tonic: int,
    mode: str,
) -> list[list[float]]:
    """How well each candidate fits the melody in each slot: chord tones score, other notes cost,
    weighted by how long they sound in the slot and where they start in the bar."""
    scores = [[0.0] * len(choices) for _ in range(n_slots)]
    for start, dur, pitch, _vel in melody:
        pc = pitch % 12
        off_chord = SCALE_TONE if _in_key(pc, tonic, mode) else FOREIGN_TONE
        first, last = int(start // slot_qn), int(math.ceil((start + dur) / slot_qn - 1e-9)) - 1
        for k in range(max(0, first), min(n_slots - 1, last) + 1):
            overlap = min(start + dur, (k + 1) * slot_qn) - max(start, k * slot_qn)
            if overlap <= 0:
                continue
            pos = start % bar_qn
            weight = (
                HELD_WEIGHT
                if k != first
                else DOWNBEAT_WEIGHT
                if pos < 1e-6
                else BEAT_WEIGHT
                if abs(pos - round(pos)) < 1e-6
                else OFFBEAT_WEIGHT
            )
            for c, choice in enumerate(choices):
                tone = CHORD_TONE if pc in choice.pcs else off_chord
                scores[k][c] += weight * min(overlap, 2.0) * tone
    return scores


def _prior(choice: ChordChoice, k: int, n_slots: int, slots_per_bar: int, minor: bool) -> float:
    """Functional preferences: tonic first and last, on phrase starts, dominant before a phrase ends."""
    bar, within = divmod(k, slots_per_bar)
    tonic = choice.degree == 0
    bonus = TONIC_HOME if tonic else 0.0
    if minor and choice.degree == 4 and choice.symbol.endswith(":min"):
        bonus -= MINOR_V_COST
    if k == 0 and tonic:
        bonus += TONIC_START
    if k == n_slots - 1 and tonic:
        bonus += TONIC_END
    if within == 0 and bar % PHRASE_BARS == 0 and tonic:
        bonus += PHRASE_TONIC
    if (
        bar % PHRASE_BARS == PHRASE_BARS - 1
        and within == slots_per_bar - 1
        and choice.degree == 4
        and k < n_slots - 1
    ):
        bonus += CADENCE_DOMINANT
    return bonus


def reharmonize(
    melody: list[tuple[float, float, int, int]], tonic: int, mode: str, length_qn: float, bar_qn: float = 4.0
) -> list[tuple[float, float, str]]:
    """Diatonic chords for a kept tune: (start_qn, dur_qn, "A:min") spans covering ``length_qn``.

    One chord per half bar at most (per bar in bars of three beats), chosen by Viterbi over how well
    each chord fits the melody notes there and the functional preferences of :func:`_prior`.
    """
    choices = key_chords(tonic, mode)
    slots_per_bar = 2 if bar_qn >= 4 and float(bar_qn).is_integer() and int(bar_qn) % 2 == 0 else 1
    slot_qn = bar_qn / slots_per_bar
    n_slots = max(1, math.ceil(length_qn / slot_qn - 1e-9))
    fit = _slot_scores(melody, choices, slot_qn, bar_qn, n_slots, tonic, mode)
    total = [
        fit[0][c] + _prior(ch, 0, n_slots, slots_per_bar, mode == "minor") for c, ch in enumerate(choices)
    ]
    back: list[list[int]] = []
    for k in range(1, n_slots):
        cost = CHANGE_AT_BAR if k % slots_per_bar == 0 else CHANGE_MID_BAR
        row, new_total = [], []
        for c, ch in enumerate(choices):
            options = [
                total[p]
                + (0.0 if p == c else PROGRESSION_BONUS.get((choices[p].degree, ch.degree), 0.0) - cost)
                for p in range(len(choices))
            ]
            best = max(range(len(choices)), key=options.__getitem__)
            row.append(best)
            new_total.append(
                options[best] + fit[k][c] + _prior(ch, k, n_slots, slots_per_bar, mode == "minor")
            )
        back.append(row)
        total = new_total
    path = [max(range(len(choices)), key=total.__getitem__)]
    for row in reversed(back):
        path.append(row[path[-1]])
    path.reverse()
    spans: list[tuple[float, float, str]] = []
    for k, c in enumerate(path):
        start, end = k * slot_qn, min(length_qn, (k + 1) * slot_qn)
        if spans and spans[-1][2] == choices[c].symbol:
            spans[-1] = (spans[-1][0], end - spans[-1][0], spans[-1][2])
        else:
            spans.append((start, end - start, choices[c].symbol))
    return [(float(s), float(d), sym) for s, d, sym in spans if d > 0]
