"""Rule-based instruction refiner: rewrite a brief with an instruction such as "make it jazz".

``refine(brief, instruction)`` applies what the instruction asks for (genre, mood, instruments, tempo,
key, "more energetic", "calmer", "as a lullaby on music box", "a Christmas carol") and keeps everything
else, including the reference material a restyle keeps. An instruction never undoes an explicit request:
attributes the user set (provenance ``user``: a control, the page, a hand edit) are never changed, and
instruments a request left out ("no drums", provenance ``instruments.excluded``) come back only when the
instruction names them. Every change is recorded with provenance ``instruction``, and the caption and every
section caption are rewritten, as M2T2M rewrites its segment captions, except text the user wrote.

This is the offline refiner and the extension point for model-based ones: an LLM refiner takes the
same ``(brief, instruction) -> MusicBrief`` call and falls back to this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from weavewave.bridge.caption import derive_section_caption, instrument_words, rederive, write_caption
from weavewave.bridge.fixed import (
    EXCLUDED_KEY,
    EXCLUDED_SEP,
    excluded_instruments,
    excluded_provenance,
    fixed_by_user,
)
from weavewave.bridge.sections import rescale_sections
from weavewave.brief import MAX_DURATION_S, TEMPO_RANGE, MusicBrief, Provenance
from weavewave.errors import BadInputError
from weavewave.music.instruments import ALIASES, DRUMS, GM_PROGRAMS, family_of
from weavewave.music.styles import GENRE_ALIASES, GENRES
from weavewave.music.theory import parse_key, parse_meter

MAX_ENSEMBLE = 5
ENERGY_STEP = 0.25
AROUSAL_STEP = 0.4
TEMPO_STEP = 1.15  # "faster" multiplies by this, "slower" divides
SECTION_ENERGY_RANGE = (0.05, 0.95)
# A named style whose band has a drum kit plays it: energy (and every section's) is lifted to at least this.
# A quiet reference (a home recording's level says little about the music) would otherwise stay under the
# symbolic composer's drum threshold (0.3, generators/symbolic/compose.py) and "make it jazz" had no drums.
STYLE_DRUMS_ENERGY = 0.35


@dataclass(frozen=True)
class Rule:
    """What one kind of request changes. ``None`` leaves an attribute alone."""

    pattern: str
    words: str  # how the caption says it
    genre: str | None = None
    ensemble: tuple[str, ...] = ()  # lead first, used when the instruction names no instrument
    tempo_factor: float | None = None
    tempo_range: tuple[float, float] | None = None
    energy: float | None = None  # target; a delta when ``relative``
    arousal: float | None = None
    valence: float | None = None
    mode: str | None = None
    drums: bool | None = None
    relative: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)


# Scenario rules first: their ensembles and ranges are more specific than the generic words.
RULES: tuple[Rule, ...] = (
    Rule(
        r"\blullab(y|ies)\b|\bcradle song\b",
        "gentle lullaby",
        genre="classical",
        ensemble=("Music Box", "Orchestral Harp", "String Ensemble 1"),
        tempo_factor=0.8,
        tempo_range=(56.0, 78.0),
        energy=0.2,
        arousal=-0.7,
        valence=0.35,
        drums=False,
        tags=("lullaby", "tender"),
    ),
    Rule(
        r"\bchristmas\b|\bxmas\b|\bcarols?\b|\bfestive\b|\byuletide\b",
        "festive Christmas carol with bells and choir",
        genre="classical",
        ensemble=("Glockenspiel", "Choir Aahs", "String Ensemble 1", "Contrabass"),
        tempo_range=(76.0, 112.0),
        energy=0.5,
        valence=0.6,
        mode="major",
        drums=False,
        tags=("festive", "warm"),
    ),
    Rule(
        r"\bmore energetic\b|\benergetic\b|\bupbeat\b|\blivel(y|ier)\b|\bfaster\b|\bdriving\b|\bintense\b|"
        r"\bpunchier\b|\bexciting\b",
        "more energetic",
        tempo_factor=TEMPO_STEP,
        energy=ENERGY_STEP,
        arousal=AROUSAL_STEP,
        relative=True,
        tags=("energetic",),
    ),
    Rule(
        r"\bcalm(er)?\b|\bgentle\b|\bsoft(er)?\b|\brelax(ed|ing)?\b|\bslower\b|\bmellow(er)?\b|\bquiet(er)?\b|"
        r"\bpeaceful\b|\bsoothing\b",
        "calmer",
        tempo_factor=1 / TEMPO_STEP,
        energy=-ENERGY_STEP,
        arousal=-AROUSAL_STEP,
        relative=True,
        tags=("calm",),
    ),
    Rule(
        r"\bsad(der)?\b|\bmelanchol(y|ic)\b|\bdarker\b|\bgloomy\b|\bin minor\b|\bminor key\b",
        "in a sadder minor",
        valence=-0.5,
        mode="minor",
        tags=("melancholic",),
    ),
    Rule(
        r"\bhapp(y|ier)\b|\bcheerful\b|\bjoyful\b|\bbrighter\b|\bin major\b|\bmajor key\b",
        "in a brighter major",
        valence=0.5,
        mode="major",
        tags=("joyful",),
    ),
)
TEMPO_RE = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)\b")
KEY_RE = re.compile(
    r"\bin (?:the key of )?([a-g](?:#|b|-sharp|-flat| sharp| flat)?(?: major| minor| dorian| mixolydian"
    r"| lydian| phrygian|m)?)\b(?! *(?:bpm|seconds))"
)
METER_RE = re.compile(r"\bin (\d{1,2}/\d{1,2})\b|\b(\d{1,2}/\d{1,2}) (?:time|meter)\b")
NO_DRUMS_RE = re.compile(r"\b(no|without|drop the|lose the) (drums|percussion|beat)\b")


def _names_in(text: str) -> list[str]:
    """Instruments named in the text, in order of appearance, longest name first at each place."""
    aliases = {**{n.lower(): n for n in GM_PROGRAMS}, **{k.lower(): v for k, v in ALIASES.items()}}
    found: list[tuple[int, str]] = []
    taken = [False] * len(text)
    for alias in sorted(aliases, key=len, reverse=True):
        for m in re.finditer(rf"\b{re.escape(alias)}s?\b", text):
            if any(taken[m.start() : m.end()]):
                continue
            taken[m.start() : m.end()] = [True] * (m.end() - m.start())
            found.append((m.start(), aliases[alias]))
    return list(dict.fromkeys(name for _, name in sorted(found)))


def _genres_in(text: str) -> list[str]:
    found = []
    for alias in sorted(GENRE_ALIASES, key=len, reverse=True):
        m = re.search(rf"\b{re.escape(alias)}\b", text)
        if m:
            found.append((m.start(), GENRE_ALIASES[alias]))
    return list(dict.fromkeys(g for _, g in sorted(found)))


def _clip(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


@dataclass
class _Asked:
    """What an instruction's words ask for."""

    rules: list[Any]
    genres: list[str]
    named: list[str]
    tempo: re.Match[str] | None
    key: re.Match[str] | None
    meter: re.Match[str] | None
    no_drums: bool

    @classmethod
    def read(cls, text: str) -> _Asked:
        return cls(
            rules=[r for r in RULES if re.search(r.pattern, text)],
            genres=_genres_in(text),
            named=_names_in(text),
            tempo=TEMPO_RE.search(text),
            key=KEY_RE.search(text),
            meter=METER_RE.search(text),
            no_drums=bool(NO_DRUMS_RE.search(text)),
        )

    def anything(self) -> bool:
        return bool(
            self.rules or self.genres or self.named or self.tempo or self.key or self.meter or self.no_drums
        )


@dataclass
class _Edit:
    """The brief being rewritten, as data, with what changed and why; fields the user fixed stay."""

    brief: MusicBrief
    said: str
    data: dict[str, Any] = field(init=False)
    prov: dict[str, Provenance] = field(init=False)
    locked: set[str] = field(init=False)
    changed: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    energy_asked: float = 0.0  # the energy the instruction asks for, applied or not

    def __post_init__(self) -> None:
        self.data = self.brief.to_dict()
        self.prov = dict(self.brief.provenance)
        self.locked = set(fixed_by_user(self.brief))

    def set(self, name: str, value: Any, why: str, path: tuple[str, ...] | None = None) -> None:
        if name in self.locked:
            return
        target = self.data
        keys = path or (name,)
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
        self.prov[name] = Provenance(source="instruction", reason=f"{why}: {self.said}")
        self.changed.append(name)


def refine(brief: MusicBrief, instruction: str) -> MusicBrief:
    """Apply an instruction to a brief; keep everything it does not mention.

    Raises
    ------
    BadInputError: the instruction is empty, or no rule understands any of it.
    """
    text = " ".join(instruction.lower().split())
    if not text:
        raise BadInputError(
            "--instruction is empty: say what to change, e.g. 'as jazz', 'calmer', 'on music box'"
        )
    asked = _Asked.read(text)
    if not asked.anything():
        raise BadInputError(
            f"could not understand the instruction {instruction.strip()!r}: name a genre, mood, "
            "instrument, tempo or key, e.g. 'as jazz', 'calmer', 'on music box', 'at 90 bpm', "
            "'in D minor', 'as a lullaby', 'a Christmas carol'"
        )
    edit = _Edit(brief, said=f"from the instruction {instruction.strip()!r}")
    genre = _edit_genre(edit, asked)
    ensemble = _edit_instruments(edit, asked, genre)
    drums_floor = _edit_mood_and_tempo(edit, asked, genre, ensemble)
    _edit_key_and_meter(edit, asked)
    if not edit.changed:
        raise BadInputError(
            f"the instruction {instruction.strip()!r} asks for nothing that is not already so "
            "(or only for what you set explicitly with a control)"
        )
    return _finish(
        brief,
        edit.data,
        edit.prov,
        edit.phrases or [instruction.strip()],
        edit.energy_asked - brief.energy,
        drums_floor,
    )


def _edit_genre(edit: _Edit, asked: _Asked) -> str | None:
    """A named genre beats a scenario's."""
    genre = asked.genres[0] if asked.genres else next((r.genre for r in asked.rules if r.genre), None)
    if genre and genre != edit.brief.genre:
        edit.set("genre", genre, f"genre {genre}")
    return genre


def _edit_instruments(edit: _Edit, asked: _Asked, genre: str | None) -> list[str]:
    """Named instruments lead; otherwise a scenario's ensemble, or the new genre's. What a request left out
    stays out unless this instruction names it ("add strings" after "no drums")."""
    brief, prov, named = edit.brief, edit.prov, asked.named
    new_genre = edit.data["genre"]
    ensemble = list(edit.data["instruments"])
    scenario = next((r.ensemble for r in asked.rules if r.ensemble), ())
    calm = any(r.drums is False for r in asked.rules)
    if named:
        accomp_pool = list(scenario[1:] or GENRES[new_genre].ensemble)
        ensemble = named + [
            n for n in accomp_pool if n not in named and family_of(n) not in {family_of(x) for x in named}
        ]
    elif scenario:
        ensemble = list(scenario)
    elif genre and genre != brief.genre:
        ensemble = list(GENRES[new_genre].ensemble)
    if calm or asked.no_drums:
        ensemble = [n for n in ensemble if n != DRUMS] or ensemble
    excluded = [n for n in excluded_instruments(brief) if n not in named]
    ensemble = [n for n in ensemble if n not in excluded] or ensemble
    if EXCLUDED_KEY in prov and len(excluded) < len(excluded_instruments(brief)):
        if excluded:
            why = prov[EXCLUDED_KEY].reason.split(EXCLUDED_SEP, 1)[-1]
            prov[EXCLUDED_KEY] = excluded_provenance(excluded, prov[EXCLUDED_KEY].source, why)
        else:
            del prov[EXCLUDED_KEY]
    ensemble = list(dict.fromkeys(ensemble))[:MAX_ENSEMBLE]
    if ensemble != list(edit.data["instruments"]):
        edit.set("instruments", ensemble, f"instruments {', '.join(instrument_words(n) for n in ensemble)}")
    return ensemble


def _edit_mood_and_tempo(edit: _Edit, asked: _Asked, genre: str | None, ensemble: list[str]) -> float | None:
    """Mood, energy and tempo: relative steps first, then a scenario's targets and ranges, then an explicit
    tempo. Returns the energy floor a genre with drums asks for (None: none); ``ensemble`` is the one the
    instruction asked for (applied or, where the user fixed the instruments, not)."""
    data, rules = edit.data, asked.rules
    mood = data["mood"]
    energy, valence, arousal, tempo = data["energy"], mood["valence"], mood["arousal"], data["tempo_bpm"]
    for r in sorted(rules, key=lambda r: not r.relative):
        if r.energy is not None:
            energy = energy + r.energy if r.relative else r.energy
        if r.arousal is not None:
            arousal = arousal + r.arousal if r.relative else r.arousal
        if r.valence is not None:
            valence = r.valence if not r.relative else valence + r.valence
        if r.tempo_factor is not None:
            tempo *= r.tempo_factor
        if r.tempo_range is not None:
            tempo = _clip(tempo, *r.tempo_range)
        edit.phrases.append(r.words)
    drums_floor = None
    if genre and DRUMS in ensemble and not asked.no_drums and "energy" not in edit.locked:
        drums_floor = STYLE_DRUMS_ENERGY
        if energy < drums_floor:
            energy = drums_floor
            edit.phrases.append(f"with {GENRES[data['genre']].description} drums")
    if asked.tempo:
        tempo = float(asked.tempo.group(1))
        if not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]:
            raise BadInputError(
                f"the instruction asks for {tempo:g} BPM: use {TEMPO_RANGE[0]:g} to {TEMPO_RANGE[1]:g} BPM"
            )
    energy, valence, arousal = (
        round(_clip(energy, 0.0, 1.0), 3),
        round(_clip(valence, -1, 1), 3),
        round(_clip(arousal, -1, 1), 3),
    )
    edit.energy_asked = energy
    tempo = round(_clip(tempo, *TEMPO_RANGE), 2)
    if energy != data["energy"]:
        edit.set("energy", energy, f"energy {energy:.2f}")
    if valence != mood["valence"]:
        edit.set("mood.valence", valence, f"valence {valence:+.2f}", ("mood", "valence"))
    if arousal != mood["arousal"]:
        edit.set("mood.arousal", arousal, f"arousal {arousal:+.2f}", ("mood", "arousal"))
    if tempo != data["tempo_bpm"]:
        edit.set("tempo_bpm", tempo, f"tempo {tempo:g}")
    tags = list(dict.fromkeys([t for r in rules for t in r.tags] + list(mood["tags"])))[:6]
    if tags != mood["tags"] and "mood.tags" not in edit.locked:
        mood["tags"] = tags
    return drums_floor


def _edit_key_and_meter(edit: _Edit, asked: _Asked) -> None:
    data = edit.data
    if asked.key:
        ks = parse_key(asked.key.group(1).replace("-", " "))
        edit.set("key", {"tonic": ks.tonic, "mode": ks.mode}, f"key {ks}")
    else:
        mode = next((r.mode for r in reversed(asked.rules) if r.mode), None)
        if mode and mode != data["key"]["mode"]:
            edit.set(
                "key", {"tonic": data["key"]["tonic"], "mode": mode}, f"key {data['key']['tonic']} {mode}"
            )
    if asked.meter:
        wanted = asked.meter.group(1) or asked.meter.group(2)
        try:
            meter = parse_meter(wanted)
        except BadInputError as exc:
            raise BadInputError(f"the instruction asks for {exc}") from None
        if meter != data["meter"]:
            edit.set("meter", meter, f"meter {meter}")


def _finish(
    brief: MusicBrief,
    data: dict[str, Any],
    prov: dict[str, Provenance],
    phrases: list[str],
    energy_delta: float,
    energy_floor: float | None = None,
) -> MusicBrief:
    """Re-derive what follows from the changes: length (a kept tune at a new tempo), sections, captions.

    ``energy_floor``: every section's energy is at least this (a style's drums play in all of them).
    """
    ref = brief.reference
    duration_from_reference = (
        prov.get("duration_s", Provenance(source="default", reason="")).source == "audio"
    )
    if ref is not None and duration_from_reference and data["tempo_bpm"] != brief.tempo_bpm:
        duration = round(min(MAX_DURATION_S, ref.length_qn * 60.0 / data["tempo_bpm"]), 3)
        data["duration_s"] = duration
        data["sections"] = [s.model_dump() for s in rescale_sections(brief, duration)]
        prov["duration_s"] = Provenance(
            source="audio", reason=f"duration {duration:g} s: the reference's length at the new tempo"
        )
    lo, hi = SECTION_ENERGY_RANGE
    for s in data["sections"]:
        s["energy"] = round(_clip(max(s["energy"] + energy_delta, energy_floor or lo), lo, hi), 3)
    data["provenance"] = {k: v.model_dump() for k, v in sorted(prov.items())}
    refined = MusicBrief.from_dict(data, origin="refined brief")
    phrase = ", ".join(dict.fromkeys(phrases))
    keep = None
    if ref is not None:
        from weavewave.bridge.reference import KEEP_WORDS

        keep = KEEP_WORDS[ref.mode]
    # Text the user wrote is theirs: the instruction rewrites only the derived captions.
    own_sections = "sections.captions" in fixed_by_user(brief)
    refined.sections = [
        s
        if own_sections and derive_section_caption(brief, s) is None
        else s.model_copy(
            update={"caption": section_caption(refined, s.label, s.start_s, s.end_s, s.energy, phrase, keep)}
        )
        for s in refined.sections
    ]
    if "caption" not in fixed_by_user(brief):
        hint = f"{phrase[0].upper()}{phrase[1:]}" + (f", {keep}" if keep else "")
        refined.caption = write_caption(refined, [hint])
        refined.provenance = {
            **refined.provenance,
            "caption": Provenance(
                source="instruction", reason="rewritten from the refined attributes and the instruction"
            ),
        }
    return rederive(refined)


def section_caption(
    brief: MusicBrief, label: str, start: float, end: float, energy: float, phrase: str, keep: str | None
) -> str:
    """One section's caption after refining: its place, level, the new style and what is kept."""
    level = "quiet" if energy < 0.35 else "steady" if energy < 0.65 else "full"
    inst = " and ".join(dict.fromkeys(instrument_words(n) for n in brief.instruments[:3]))
    style = GENRES[brief.genre].description
    return f"{label} ({start:.0f}-{end:.0f} s): {level} {style} passage on {inst}, {phrase}" + (
        f", {keep}" if keep else ""
    )
