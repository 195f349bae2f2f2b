"""Planning the form: bar-aligned sections with an energy curve, and their captions."""

from __future__ import annotations

from dataclasses import dataclass

from weavewave.theory import bar_seconds

# (label, energy relative to the piece's energy, energy offset), in playing order for a full form.
_INTRO = ("intro", 0.55, 0.0)
_A = ("A", 0.85, 0.0)
_B = ("B", 1.1, 0.1)
_A2 = ("A'", 1.0, 0.05)
_BRIDGE = ("bridge", 0.7, 0.0)
_B2 = ("B'", 1.2, 0.12)
_OUTRO = ("outro", 0.5, 0.0)

# Bars per section in the ideal form; real lengths are scaled to the piece.
PHRASE_BARS = 8
INTRO_BARS = 4
OUTRO_BARS = 4


@dataclass(frozen=True)
class PlannedSection:
    label: str
    start_bar: int
    bars: int
    energy: float


def _template(total_bars: int) -> list[tuple[str, float, float, int]]:
    """Section labels with ideal bar counts for a piece of ``total_bars`` bars."""
    if total_bars < 6:
        return [("A", 1.0, 0.0, total_bars)]
    if total_bars < 12:
        return [(*_A[:3], total_bars - 2), (*_OUTRO[:3], 2)]
    if total_bars < 24:
        return [(*_INTRO, 2), (*_A, PHRASE_BARS), (*_B, PHRASE_BARS), (*_OUTRO, 2)]
    if total_bars < 44:
        return [(*_INTRO, INTRO_BARS), (*_A, PHRASE_BARS), (*_B, PHRASE_BARS), (*_A2, PHRASE_BARS),
                (*_OUTRO, OUTRO_BARS)]
    body = [_A, _B, _A2, _BRIDGE, _B2]
    plan = [(*_INTRO, INTRO_BARS)]
    # Repeat the body cycle to fill long pieces; each repeat of A/B gets a prime.
    used = INTRO_BARS + OUTRO_BARS
    i = 0
    while used + PHRASE_BARS <= total_bars:
        label, rel, off = body[i % len(body)]
        if i >= len(body):
            label = label.rstrip("'") + "'" * (1 + i // len(body))
        plan.append((label, rel, off, PHRASE_BARS))
        used += PHRASE_BARS
        i += 1
    plan.append((*_OUTRO, OUTRO_BARS))
    return plan


def plan_sections(duration_s: float, tempo_bpm: float, meter: str, energy: float) -> list[PlannedSection]:
    """Bar-aligned sections covering ``duration_s``; the last one absorbs any partial bar."""
    bar = bar_seconds(tempo_bpm, meter)
    total_bars = max(1, round(duration_s / bar))
    template = _template(total_bars)
    ideal = sum(t[3] for t in template)
    # Scale the template to the real number of bars, keeping at least one bar a section.
    bars = [max(1, round(t[3] * total_bars / ideal)) for t in template]
    while sum(bars) > total_bars:
        j = max(range(len(bars)), key=lambda k: (bars[k], -k))
        bars[j] -= 1
    bars[-2 if len(bars) > 1 else -1] += total_bars - sum(bars)
    out: list[PlannedSection] = []
    start = 0
    for (label, rel, off, _), n in zip(template, bars, strict=True):
        if n <= 0:
            continue
        out.append(PlannedSection(label, start, n, round(min(1.0, max(0.05, energy * rel + off)), 3)))
        start += n
    return out


def energy_word(energy: float) -> str:
    return "very low" if energy < 0.2 else "low" if energy < 0.4 else "medium" if energy < 0.65 else (
        "high" if energy < 0.85 else "peak")


_LABEL_TEXT = {
    "intro": "an introduction that sets the mood",
    "A": "the main theme is stated",
    "B": "a contrasting section that lifts",
    "A'": "the theme returns, developed",
    "bridge": "a bridge that pulls back",
    "B'": "the contrasting section returns at full strength",
    "outro": "the piece winds down to a final cadence",
}


def section_caption(label: str, energy: float, genre_words: str) -> str:
    """A one-sentence caption for a section, readable by a person or a text-to-music model."""
    base = label.rstrip("'")
    what = _LABEL_TEXT.get(label) or _LABEL_TEXT.get(base, f"section {label}")
    if label not in _LABEL_TEXT and base in _LABEL_TEXT:
        what += ", varied again"
    return f"{genre_words.capitalize()}, {energy_word(energy)} energy: {what}."
