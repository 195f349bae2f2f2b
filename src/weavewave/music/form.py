"""Planning the form: bar-aligned sections in 4- and 8-bar phrases, with an energy curve and captions.

Each genre has a few form templates (verse/chorus, AABA with solos, build/drop, AABB dance tunes,
through-composed cues); the seed picks one, so two seeds of one prompt get different forms. Sections
are whole phrases: 8 bars where the piece has room, 4 where it is short, with the intro and outro
taking up what is left over (an intro of 1-4 bars, an outro of 2-6).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from weavewave.music.theory import bar_seconds

# Energy of a section by label: (relative to the piece's energy, offset). Primes ("chorus'") add a little.
LABEL_ENERGY: dict[str, tuple[float, float]] = {
    "intro": (0.9, 0.0),
    "outro": (0.6, 0.0),
    "A": (0.8, 0.0),
    "B": (1.2, 0.12),
    "C": (1.0, 0.05),
    "verse": (0.8, 0.0),
    "chorus": (1.2, 0.12),
    "bridge": (0.7, 0.0),
    "solo": (1.05, 0.05),
    "build": (0.75, 0.0),
    "drop": (1.3, 0.2),
    "break": (0.55, 0.0),
    "climax": (1.3, 0.2),
}
PRIME_LIFT = 0.05  # each return of a section is a little stronger
# Body templates per genre (between intro and outro); cycled with primes to fill long pieces.
FORMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pop": (
        ("verse", "chorus", "verse", "chorus", "bridge", "chorus"),
        ("verse", "verse", "chorus", "bridge", "chorus", "chorus"),
    ),
    "rock": (("verse", "chorus", "verse", "chorus", "solo", "chorus"), ("A", "A", "B", "A", "solo", "B")),
    "jazz": (
        ("A", "A", "B", "A", "solo", "solo", "A"),  # AABA head, solo choruses, head out
        ("A", "B", "solo", "A", "B"),
    ),
    "lofi": (("A", "A", "B", "A", "B"), ("A", "B", "A", "B", "break", "A")),
    "electronic": (("build", "drop", "break", "build", "drop"), ("A", "build", "drop", "break", "drop")),
    "ambient": (("A", "A", "B", "A"), ("A", "B", "A", "B")),
    "classical": (("A", "A", "B", "A"), ("A", "B", "A", "C", "A")),  # ternary; rondo
    "folk": (("A", "A", "B", "B"), ("verse", "chorus", "verse", "chorus")),  # AABB dance tune; song
    "cinematic": (("A", "B", "C", "climax", "A"), ("A", "B", "B", "climax")),  # through-composed cue
}
# Bodies for pieces too short for the whole template (by number of body sections), where alternating the
# template's first themes would lose the idiom: an electronic build always lands in a drop.
# The seed's template choice picks among a length's bodies, so two seeds still differ in form.
SHORT_FORMS: dict[str, dict[int, tuple[tuple[str, ...], ...]]] = {
    "electronic": {
        2: (("build", "drop"),),
        3: (("A", "build", "drop"), ("build", "drop", "drop")),
        4: (("build", "drop", "break", "drop"), ("A", "build", "drop", "drop")),
    },
}
# Section labels with a special job in the form (the composer and the harmony planner read them too).
INTRO_LABELS = frozenset({"intro", "introduction", "prelude"})
OUTRO_LABELS = frozenset({"outro", "coda", "ending", "end"})
PHRASE_BARS = 8
SHORT_PHRASE_BARS = 4
# Intro and outro bars (before the leftover is shared out), by piece length in bars.
INTRO_BARS = (2, 4)
OUTRO_BARS = 2
MAX_OUTRO_BARS = 6
MAX_INTRO_BARS = 4


@dataclass(frozen=True)
class PlannedSection:
    label: str
    start_bar: int
    bars: int
    energy: float


def _choice(seed: int, label: str, n: int) -> int:
    return zlib.crc32(f"{seed}:{label}".encode()) % n


def _labels(body: tuple[str, ...], count: int) -> list[str]:
    """``count`` labels cycling through ``body``; each repeat of a label gets one more prime."""
    seen: dict[str, int] = {}
    out = []
    for i in range(count):
        base = body[i % len(body)]
        out.append(base + "'" * seen.get(base, 0))
        seen[base] = seen.get(base, 0) + 1
    return out


def _energy(label: str, energy: float) -> float:
    base = label.rstrip("'")
    rel, off = LABEL_ENERGY.get(base, (1.0, 0.0))
    lift = PRIME_LIFT * (len(label) - len(base)) if base not in ("intro", "outro", "break", "bridge") else 0.0
    return round(min(1.0, max(0.05, energy * rel + off + lift)), 3)


def form_template(total_bars: int, genre: str = "pop", seed: int = 0) -> list[tuple[str, int]]:
    """(label, bars) for a piece of ``total_bars`` bars: phrase-length sections between an intro and outro."""
    if total_bars < 6:
        return [("A", total_bars)]
    if total_bars < 10:
        # Too short for a form: one phrase, and what is left rings out as the outro.
        a = PHRASE_BARS if total_bars >= PHRASE_BARS else SHORT_PHRASE_BARS
        return [("A", a)] + ([("outro", total_bars - a)] if total_bars > a else [])
    if total_bars < 12:
        return [("A", PHRASE_BARS), ("outro", total_bars - PHRASE_BARS)]
    forms = FORMS.get(genre, FORMS["pop"])
    form_index = _choice(seed, "form", len(forms))
    body = forms[form_index]
    intro = INTRO_BARS[_choice(seed, "intro", len(INTRO_BARS))] if total_bars >= 24 else 2
    room = total_bars - intro - OUTRO_BARS
    phrase = PHRASE_BARS if room >= 2 * PHRASE_BARS else SHORT_PHRASE_BARS
    n = max(1, room // phrase)
    left = room - n * phrase
    # The leftover (less than a phrase) lengthens the outro, then the intro; a half phrase more becomes a
    # short section of its own rather than a ragged one.
    if left >= SHORT_PHRASE_BARS and phrase == PHRASE_BARS:
        sizes = [phrase] * n + [SHORT_PHRASE_BARS]
        left -= SHORT_PHRASE_BARS
    else:
        sizes = [phrase] * n
    outro = OUTRO_BARS + min(left, MAX_OUTRO_BARS - OUTRO_BARS)
    left -= outro - OUTRO_BARS
    intro += left
    if intro > MAX_INTRO_BARS:  # a long remainder: the last body section is extended instead
        sizes[-1] += intro - MAX_INTRO_BARS
        intro = MAX_INTRO_BARS
    short = SHORT_FORMS.get(genre, {}).get(len(sizes))
    if short and len(sizes) < len(body):
        body = short[form_index % len(short)]
    elif len(sizes) < len(body) and len(set(body[: len(sizes)])) < min(len(sizes), len(set(body))):
        # Too short for the whole template: its themes in turn, so the contrast is still heard.
        themes = tuple(dict.fromkeys(body))[: 2 if len(sizes) < 4 else None]
        body = tuple(themes[i % len(themes)] for i in range(len(sizes)))
    labels = _labels(body, len(sizes))
    plan = [("intro", intro)] if intro else []
    plan += list(zip(labels, sizes, strict=True))
    plan.append(("outro", outro))
    return plan


def plan_sections(
    duration_s: float, tempo_bpm: float, meter: str, energy: float, *, genre: str = "pop", seed: int = 0
) -> list[PlannedSection]:
    """Bar-aligned sections covering ``duration_s``; the last one absorbs any partial bar."""
    bar = bar_seconds(tempo_bpm, meter)
    total_bars = max(1, round(duration_s / bar))
    out: list[PlannedSection] = []
    start = 0
    for label, n in form_template(total_bars, genre, seed):
        if n <= 0:
            continue
        out.append(PlannedSection(label, start, n, _energy(label, energy)))
        start += n
    return out


def energy_word(energy: float) -> str:
    return (
        "very low"
        if energy < 0.2
        else "low"
        if energy < 0.4
        else "medium"
        if energy < 0.65
        else ("high" if energy < 0.85 else "peak")
    )


_LABEL_TEXT = {
    "intro": "an introduction that sets the mood",
    "A": "the main theme is stated",
    "B": "a contrasting section that lifts",
    "C": "a new episode",
    "A'": "the theme returns, developed",
    "verse": "a verse that tells the tune",
    "chorus": "the chorus lifts with the hook",
    "solo": "a solo over the changes",
    "build": "a build, rising towards the drop",
    "drop": "the drop hits with the full beat",
    "break": "a breakdown that strips back",
    "climax": "the climax at full strength",
    "bridge": "a bridge that pulls back",
    "B'": "the contrasting section returns at full strength",
    "outro": "the piece winds down to a final cadence",
}


def label_texts() -> frozenset[str]:
    """What section captions say each label does ("the main theme is stated"), to recognise them."""
    return frozenset(_LABEL_TEXT.values())


def section_caption(label: str, energy: float, genre_words: str) -> str:
    """A one-sentence caption for a section, readable by a person or a text-to-music model."""
    base = label.rstrip("'")
    what = _LABEL_TEXT.get(label) or _LABEL_TEXT.get(base, f"section {label}")
    if label not in _LABEL_TEXT and base in _LABEL_TEXT:
        what += ", varied again" if label.count("'") > 1 or base not in ("A", "B") else ", returning"
    return f"{genre_words.capitalize()}, {energy_word(energy)} energy: {what}."
