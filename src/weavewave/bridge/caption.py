"""The bridge's derived text: the caption and section captions, written from the brief's fields.

:func:`write_caption` writes the caption a text-to-music model reads; :func:`rederive` re-derives every
derived text after any edit (controls on a loaded brief, the page, an instruction, scoring to picture, a
loop) and keeps text the user wrote, marking it as the user's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from weavewave.brief import MusicBrief, Provenance, Section
from weavewave.errors import BadInputError
from weavewave.music.form import label_texts, section_caption
from weavewave.music.instruments import DRUMS
from weavewave.music.styles import GENRES
from weavewave.music.theory import METERS, parse_key
from weavewave.perceive import lexicon as lx

GENRE_MOOD_WORDS = {
    (1, 1): "joyful, energetic",
    (1, 0): "warm, gentle",
    (0, 1): "tense, driving",
    (0, 0): "melancholic, calm",
}
# Captions: mood tags that are nouns, not adjectives ("A lullaby, warm piece" is not English).
CAPTION_NOUN_TAGS = frozenset({"lullaby"})
CAPTION_MAX_TAGS = 2
# A tag is left out of the caption when it sits at least CAPTION_CLASH_TAG from neutral on an axis where the
# brief sits at least CAPTION_CLASH_BRIEF on the other side.
CAPTION_CLASH_TAG = 0.3
CAPTION_CLASH_BRIEF = 0.15
# Spelling exceptions for "a"/"an": vowels that sound like consonants, and silent h.
CONSONANT_SOUND_PREFIXES = ("uni", "use", "usu", "uto", "eu", "one", "once", "ukulele")
VOWEL_SOUND_PREFIXES = ("hour", "honest", "honou", "heir")


def _tag_moods() -> dict[str, tuple[float, float]]:
    """Where each mood tag sits (mean valence and arousal of the lexicon words that carry it)."""
    sums: dict[str, list[float]] = {}
    for entry in (*lx.MOOD_WORDS.values(), *lx.SCENE_WORDS.values()):
        for tag in entry.tags:
            acc = sums.setdefault(tag, [0.0, 0.0, 0.0])
            acc[0] += entry.valence
            acc[1] += entry.arousal
            acc[2] += 1
    return {t: (v / n, a / n) for t, (v, a, n) in sums.items()}


_TAG_MOODS = _tag_moods()


def _clashes(tag: str, valence: float, arousal: float, limit: float = CAPTION_CLASH_BRIEF) -> bool:
    """Whether a tag says the opposite of a mood on either axis ("quiet" in an energetic piece)."""
    where = _TAG_MOODS.get(tag)
    if where is None:
        return False
    for tag_x, x in zip(where, (valence, arousal), strict=True):
        if abs(tag_x) >= CAPTION_CLASH_TAG and abs(x) >= limit and (tag_x > 0) != (x > 0):
            return True
    return False


def _mood_words(brief: MusicBrief) -> str:
    """The mood adjectives of the caption: the brief's tags that fit its mood, then the quadrant's words.

    No word twice (also not one the genre's description already uses, as in "driving driving rock"), and
    no tag that contradicts the mood the brief settled on ("energetic, quiet").
    """
    v, a = brief.mood.valence, brief.mood.arousal
    quadrant = GENRE_MOOD_WORDS[(int(v >= 0), int(a >= 0))]
    if abs(v) < 0.15 and abs(a) < 0.15:
        quadrant = "balanced, reflective"
    taken = set(GENRES[brief.genre].description.split())
    words: list[str] = []
    for tag in brief.mood.tags:
        if len(words) == CAPTION_MAX_TAGS:
            break
        if tag in taken or tag in CAPTION_NOUN_TAGS or _clashes(tag, v, a) or _clashes_any(tag, words):
            continue
        words.append(tag)
        taken.add(tag)
    words += [
        w
        for w in quadrant.split(", ")
        if w not in taken and not _clashes(w, v, a) and not _clashes_any(w, words)
    ]
    return ", ".join(dedupe(words))


def _clashes_any(word: str, kept: list[str]) -> bool:
    """Whether a word contradicts one already in the caption ("energetic" after "quiet")."""
    return any(_clashes(word, *_TAG_MOODS[k], limit=CAPTION_CLASH_TAG) for k in kept if k in _TAG_MOODS)


def indefinite_article(phrase: str) -> str:
    """ "a" or "an" for the phrase, by how its first word sounds: "an epic", "a uniform", "an 80s"."""
    word = phrase.strip().split(" ", 1)[0].strip(",").lower()
    if not word:
        return "a"
    if word[0].isdigit():
        return (
            "an" if word.startswith(("8", "11", "18")) and not word.startswith(("110", "111", "112")) else "a"
        )
    if word.startswith(CONSONANT_SOUND_PREFIXES):
        return "a"
    if word.startswith(VOWEL_SOUND_PREFIXES):
        return "an"
    return "an" if word[0] in "aeiou" else "a"


def instrument_words(name: str) -> str:
    """How a caption names an instrument: "Pad 2 (warm)" -> "warm pad", "Electric Bass (finger)" -> "electric bass"."""
    base, _, detail = name.partition(" (")
    detail = detail.rstrip(")")
    base = " ".join(w for w in base.split() if not w.isdigit()).lower()
    if base in ("pad", "lead", "fx") and detail:
        return f"{detail} {base}"
    return base


def players_phrase(names: list[str]) -> str:
    words = dedupe(instrument_words(n) for n in names)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def write_caption(brief: MusicBrief, hints: Iterable[str] = ()) -> str:
    """One or two sentences a text-to-music model could read, written from the final attributes."""
    style = GENRES[brief.genre]
    meter = "" if brief.meter == "4/4" else f" in {brief.meter}"
    described = f"{_mood_words(brief)} {style.description}"
    first = (
        f"{indefinite_article(described).capitalize()} {described} piece in {brief.key} at "
        f"{brief.tempo_bpm:g} BPM{meter}, with {players_phrase(brief.instruments)}."
    )
    hint_list = dedupe(h for h in hints if h)[:2]
    if hint_list:
        # Capitalise the first letter only: the hint's own capitals ("Tokyo", "Christmas") stay.
        hint = "; ".join(hint_list).rstrip(".")
        first += " " + hint[0].upper() + hint[1:] + "."
    return first


# --- derived text: the caption, section captions and provenance follow every edit -------------------
# A caption is the caption writer's own when its first sentence is exactly what write_caption would say for
# some genre, key, tempo and meter (those a user edits) with the brief's own mood, and names only known
# instruments. Anything else was written by a person (or a model) and is kept. The text after the first
# sentence (what the inputs or an instruction added) is carried over verbatim.
_CAPTION_HEAD_RE = re.compile(
    r"(?P<article>A|An) (?P<described>.+?) piece in (?P<tonic>[A-G][#b]?) (?P<mode>[a-z]+) at "
    r"(?P<tempo>\d+(?:\.\d+)?) BPM(?: in (?P<meter>\d+/\d+))?, with (?P<players>[^.]+)\.(?: (?P<rest>.*))?",
    re.S,
)
# form.section_caption (+ a timeline's ", X only") and the passage captions of a refine or a restyle.
_FORM_CAPTION_RE = re.compile(
    r"(?P<style>[^,]+), (?P<level>[a-z ]+) energy: (?P<what>.+?)\.(?:, (?P<players>.+) only)?", re.S
)
_PASSAGE_CAPTION_RE = re.compile(
    r"(?P<label>.+?) \(\d+-\d+ s\): (?P<words>.+?) (?P<style>{styles}) passage(?: on (?P<inst>.+?))?"
    r"(?P<rest>, .*)?",
    re.S,
)
PASSAGE_LEVELS = ("quiet", "steady", "full")  # the refiner's level words, re-derived from the energy
PASSAGE_QUIET, PASSAGE_FULL = 0.35, 0.65  # section energy below which a passage is quiet / from which full


@functools.cache
def _known_words() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(instrument words, genre descriptions, form 'what' texts) the writers use."""
    from weavewave.music.instruments import GM_PROGRAMS

    players = frozenset(instrument_words(n) for n in (*GM_PROGRAMS, DRUMS))
    return players, frozenset(s.description for s in GENRES.values()), label_texts()


def _players_known(phrase: str | None, players: frozenset[str]) -> bool:
    if not phrase:
        return False
    return all(w in players for w in re.split(r", | and ", phrase))


def caption_rest(brief: MusicBrief, caption: str | None = None) -> str | None:
    """What follows the derived first sentence of ``caption`` (default: the brief's), or None when the
    caption is not the writer's (a person or a model wrote it). "" when there is nothing after it."""
    text = brief.caption if caption is None else caption
    m = _CAPTION_HEAD_RE.fullmatch(text.strip())
    players, styles, _ = _known_words()
    if m is None or not _players_known(m["players"], players):
        return None
    described = m["described"]
    genre = next((g for g, s in GENRES.items() if described.endswith(s.description)), None)
    if genre is None or m["article"] != indefinite_article(described).capitalize():
        return None
    if m["meter"] is not None and (m["meter"] not in METERS or m["meter"] == "4/4"):
        return None
    # The mood words depend on the genre (no word its description already says) and on the mood.
    old = brief.model_copy(update={"genre": genre})
    if f"{_mood_words(old)} {GENRES[genre].description}" != described:
        return None
    try:
        parse_key(f"{m['tonic']} {m['mode']}")
    except BadInputError:
        return None
    return m["rest"] or ""


def _passage_level(energy: float) -> str:
    return PASSAGE_LEVELS[0] if energy < PASSAGE_QUIET else PASSAGE_LEVELS[1 if energy < PASSAGE_FULL else 2]


def derive_section_caption(brief: MusicBrief, section: Section) -> str | None:
    """The section's caption re-derived from the brief's fields, or None when it is not a derived one.

    Form captions ("Driving rock, high energy: ...") are rewritten whole; passage captions ("A (3-10 s):
    steady jazz passage on piano, calmer") keep what follows the instruments and any measured words.
    An empty caption is written afresh.
    """
    style = GENRES[brief.genre].description
    players, styles, whats = _known_words()
    text = section.caption.strip()
    fresh = section_caption(section.label, section.energy, style)
    if section.instruments:
        fresh += f", {players_phrase(section.instruments)} only"
    if not text:
        return fresh
    m = _FORM_CAPTION_RE.fullmatch(text)
    if m is not None:
        what = m["what"].removesuffix(", returning").removesuffix(", varied again")
        known_what = what in whats or what.startswith("section ")
        known_style = any(m["style"] == s.capitalize() for s in styles)
        if known_what and known_style and (m["players"] is None or _players_known(m["players"], players)):
            return fresh
        return None
    pattern = _PASSAGE_CAPTION_RE.pattern.format(styles="|".join(re.escape(s) for s in sorted(styles)))
    m = re.fullmatch(pattern, text, re.S)
    if m is None or (m["inst"] is not None and not _players_known(m["inst"], players)):
        return None
    words = _passage_level(section.energy) if m["words"] in PASSAGE_LEVELS else m["words"]
    inst = " and ".join(dedupe(instrument_words(n) for n in brief.instruments[:3]))
    on = f" on {inst}" if m["inst"] is not None else ""
    return (
        f"{section.label} ({section.start_s:.0f}-{section.end_s:.0f} s): {words} {style} passage{on}"
        f"{m['rest'] or ''}"
    )


def rederive(brief: MusicBrief) -> MusicBrief:
    """The brief with every derived text re-derived from its fields: the caption and the section captions.

    Called after every edit (controls on a loaded brief, a hand-edited brief.json, the page, an
    instruction, scoring to picture, a loop). Text the user wrote is kept: a caption whose provenance
    says ``user``, or one the caption writer could not have written, which is then marked as the user's;
    likewise for section captions. A freshly derived brief comes back unchanged.
    """
    prov = dict(brief.provenance)
    caption = brief.caption
    said = prov.get("caption", Provenance(source="default", reason=""))
    if said.source != "user":
        rest = caption_rest(brief) if caption.strip() else ""
        if rest is not None:
            caption = write_caption(brief) + (f" {rest}" if rest else "")
            if not brief.caption.strip():
                prov["caption"] = Provenance(source="default", reason="written from the final attributes")
        elif said.source == "default" or said.reason.startswith("rewritten from the refined"):
            # The writer's caption, changed since by hand: the words are the user's now.
            prov["caption"] = Provenance(
                source="user", reason="written by hand in the brief; kept as written"
            )
    sections = []
    kept = []
    for s in brief.sections:
        new = derive_section_caption(brief, s)
        if new is None:
            kept.append(s.label)
        sections.append(s if new is None or new == s.caption else s.model_copy(update={"caption": new}))
    planned = prov.get("sections", Provenance(source="audio", reason="")).source in ("default", "instruction")
    if kept and planned and "sections.captions" not in prov:
        prov["sections.captions"] = Provenance(
            source="user", reason=f"written by hand for {', '.join(kept)}; kept as written"
        )
    if caption == brief.caption and sections == list(brief.sections) and prov == brief.provenance:
        return brief
    return brief.model_copy(
        update={"caption": caption, "sections": sections, "provenance": dict(sorted(prov.items()))}
    )


def dedupe(names: Iterable[str]) -> list[str]:
    """The names in order, each once."""
    return list(dict.fromkeys(names))
