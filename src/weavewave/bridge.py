"""The bridge: fuse observations and explicit controls into one MusicBrief.

Priority is fixed: explicit controls (``user``), then text, then image, then defaults. Within a
priority, continuous attributes are averaged by confidence; categorical ones take the most confident
proposal. The result is deterministic: the same inputs always give the same brief.
"""

from __future__ import annotations

import functools
import math
import random
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from weavewave.brief import Key, Mood, MusicBrief, Provenance, Section, Texture
from weavewave.errors import BadInputError
from weavewave.music.form import label_texts, plan_sections, section_caption
from weavewave.music.instruments import DRUMS, family_of, resolve_instrument
from weavewave.music.styles import GENRES, resolve_genre
from weavewave.music.theory import METERS, bar_seconds, parse_key, parse_meter
from weavewave.perceive import Perception, Proposal
from weavewave.perceive import lexicon as lx

# How much each source's proposals count, before their own confidence.
SOURCE_WEIGHT = {"text": 1.0, "image": 0.7}
SOURCE_PRIORITY = {"user": 3, "brief": 3, "text": 2, "image": 1, "default": 0}
# --- video (scoring to picture) ---
SOURCE_WEIGHT["video"] = 0.8
SOURCE_PRIORITY["video"] = 1
# --- end video ---
# Audio (reference tunes): measured, so as strong as text; an explicit request in the text still wins a tie.
SOURCE_WEIGHT["audio"] = 0.9
SOURCE_PRIORITY["audio"] = 2
# neural engineer: a multimodal model's description weighs a little more than the image measures, and
# never overrides what the text asked for explicitly.
SOURCE_WEIGHT["mllm"] = 0.9
SOURCE_PRIORITY["mllm"] = 1
# Instructions ("make it jazz") are applied after fusion by weavewave.refine, over everything but the user.
SOURCE_PRIORITY["instruction"] = 3
DEFAULT_DURATION_S = 30.0
MAJOR_VALENCE = 0.1  # below this the mode turns minor (dorian for jazz and lofi when only slightly below)
MAX_ENSEMBLE = 6
TIMELINE_CLIMAX_AT = 0.75  # a climax peaks about three quarters of the way through the sections
TIMELINE_MIN_SPLIT_BARS = 4  # a one-section piece at least this long is split in two for a timeline
TEMPO_SEED_SPREAD = 0.4  # the seed moves the tempo by up to +-20 % of the genre's range

# Tonics that sit well for each genre's usual instruments; one is picked by the seed.
GENRE_TONICS = {
    "pop": ("C", "G", "D", "F", "A"),
    "rock": ("E", "A", "D", "G"),
    "jazz": ("F", "Bb", "Eb", "C"),
    "lofi": ("F", "Eb", "A", "D"),
    "electronic": ("A", "F", "C", "G"),
    "ambient": ("D", "E", "C", "A"),
    "classical": ("D", "G", "C", "F", "A"),
    "folk": ("G", "D", "A", "C"),
    "cinematic": ("D", "C", "E", "G"),
}
# Genres a mood suits when nothing names one: (valence sign, arousal sign) -> candidates, the first the
# likeliest. One is drawn by the seed, weighted by how near the genre's own mood lies, so five photos of a
# similar mood do not all become one band.
MOOD_GENRES = {
    (1, 1): ("pop", "folk", "electronic", "jazz"),
    (1, 0): ("folk", "lofi", "classical", "jazz"),
    (0, 1): ("cinematic", "rock", "electronic"),
    (0, 0): ("ambient", "lofi", "classical", "cinematic"),
}
MOOD_GENRE_WIDTH = 0.5  # mood distance at which a candidate's weight falls to 1/e
MOOD_GENRE_RANK_DECAY = 0.6  # each later candidate's weight is scaled by this
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


@dataclass
class Controls:
    """Explicit user controls; any field left None is filled from the inputs or defaults."""

    duration: float | None = None
    tempo: float | None = None
    key: str | None = None
    meter: str | None = None
    genre: str | None = None
    instruments: list[str] | None = None
    seed: int | None = None

    def validated(self) -> Controls:
        """Check ranges and names before any work is done. Raises BadInputError."""
        if self.duration is not None and not (0 < self.duration <= 600):
            raise BadInputError(
                f"duration {self.duration:g} s is out of range: use more than 0 and at most 600 seconds"
            )
        if self.tempo is not None and not (30 <= self.tempo <= 300):
            raise BadInputError(f"tempo {self.tempo:g} BPM is out of range: use 30 to 300 BPM")
        if self.seed is not None and not (0 <= self.seed < 2**32):
            raise BadInputError(f"seed {self.seed} is out of range: use 0 to 4294967295")
        return Controls(
            duration=self.duration,
            tempo=self.tempo,
            key=str(parse_key(self.key)) if self.key is not None else None,
            meter=parse_meter(self.meter) if self.meter is not None else None,
            genre=resolve_genre(self.genre) if self.genre is not None else None,
            instruments=_dedupe(resolve_instrument(i) for i in self.instruments)
            if self.instruments is not None
            else None,
            seed=self.seed,
        )


@dataclass
class _Pool:
    """Proposals for one attribute from every perception, with their source."""

    items: list[tuple[str, Proposal]] = field(default_factory=list)

    def best(self) -> tuple[str, Proposal] | None:
        """Highest priority, then highest weighted confidence; ties keep input order."""
        if not self.items:
            return None
        return max(
            self.items,
            key=lambda sp: (
                SOURCE_PRIORITY[sp[0]] if sp[1].confidence >= 0.99 else 0,
                sp[1].confidence * SOURCE_WEIGHT.get(sp[0], 1.0),
            ),
        )

    def mean(self) -> tuple[float, str, str] | None:
        """Confidence-weighted mean, the dominant source and a reason naming the contributions."""
        if not self.items:
            return None
        weights = [p.confidence * SOURCE_WEIGHT.get(s, 1.0) for s, p in self.items]
        total = sum(weights)
        if total <= 0:
            return None
        value = sum(w * float(p.value) for w, (_, p) in zip(weights, self.items, strict=True)) / total
        dominant = self.items[max(range(len(weights)), key=weights.__getitem__)][0]
        if len(self.items) == 1:
            # The perceiver's reason already states its value: strip it, the caller restates the fused one.
            reason = self.items[0][1].reason.split(": ", 1)[-1]
        else:
            reason = "; ".join(
                f"{s} says {p.reason} (weight {w:.2f})" for w, (s, p) in zip(weights, self.items, strict=True)
            )
        return value, dominant, reason


def _dedupe(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def derive_seed(perceptions: list[Perception]) -> int:
    """A seed from the inputs themselves, so a piece is reproducible without naming one."""
    text = "|".join(
        f"{p.observation.source}:{p.observation.input}:{sorted(p.observation.measurements.items())}"
        for p in perceptions
    )
    return zlib.crc32(text.encode("utf-8"))


def fuse(perceptions: list[Perception], controls: Controls | None = None) -> MusicBrief:
    """Fuse perceptions and explicit controls into a MusicBrief with provenance for every attribute."""
    c = (controls or Controls()).validated()
    pools: dict[str, _Pool] = {}
    for perception in perceptions:
        for key, proposal in perception.proposals.items():
            pools.setdefault(key, _Pool()).items.append((perception.observation.source, proposal))
    prov: dict[str, Provenance] = {}

    def pick(name: str) -> tuple[str, Proposal] | None:
        pool = pools.get(name)
        return pool.best() if pool else None

    def categorical(
        name: str, user_value: Any, flag: str, convert: Any, default: Any, default_reason: str
    ) -> Any:
        """The user's value, else the best proposal, else the default; provenance recorded either way."""
        if user_value is not None:
            shown = (
                f"{user_value:g}" if isinstance(user_value, int | float) else user_value
            )  # 8 and 8.0 alike
            prov[name] = Provenance(source="user", reason=f"{name} {shown}: set with {flag}")
            return user_value
        if (got := pick(name)) is not None:
            prov[name] = Provenance(source=got[0], reason=got[1].reason)
            return convert(got[1].value)
        prov[name] = Provenance(source="default", reason=default_reason)
        return default

    # Mood first: other defaults follow from it.
    mood_values: dict[str, float] = {}
    for attr in ("valence", "arousal"):
        got = pools[attr].mean() if attr in pools else None
        if got is None:
            continue
        value, source, reason = got
        mood_values[attr] = max(-1.0, min(1.0, value))
        prov[f"mood.{attr}"] = Provenance(source=source, reason=f"{attr} {mood_values[attr]:+.2f}: {reason}")

    # Genre.
    if c.genre:
        genre = c.genre
        prov["genre"] = Provenance(source="user", reason=f"genre {genre}: set with --genre")
    elif (g := pick("genre")) is not None:
        genre = resolve_genre(str(g[1].value))
        prov["genre"] = Provenance(source=g[0], reason=g[1].reason)
    else:
        v, a = mood_values.get("valence", 0.2), mood_values.get("arousal", 0.0)
        genre = _genre_for_mood(v, a, c.seed if c.seed is not None else derive_seed(perceptions))
        prov["genre"] = Provenance(
            source="default",
            reason=(f"genre {genre}: nothing named a genre; valence {v:+.2f} and arousal {a:+.2f} suit it"),
        )
    style = GENRES[genre]
    for attr, bias in (("valence", style.valence_bias), ("arousal", style.arousal_bias)):
        if attr not in mood_values:
            mood_values[attr] = bias
            prov[f"mood.{attr}"] = Provenance(
                source="default", reason=f"{attr} {bias:+.2f}: typical of {genre}"
            )
    valence, arousal = mood_values["valence"], mood_values["arousal"]

    duration = float(
        categorical(
            "duration_s",
            c.duration,
            "--duration",
            float,
            DEFAULT_DURATION_S,
            f"duration {DEFAULT_DURATION_S:g} s: the default length",
        )
    )
    meter = str(
        categorical(
            "meter",
            c.meter,
            "--meter",
            lambda v: parse_meter(str(v)),
            style.meters[0],
            f"meter {style.meters[0]}: usual for {genre}",
        )
    )

    # Seed.
    seed = c.seed if c.seed is not None else derive_seed(perceptions)
    prov["seed"] = Provenance(
        source="user" if c.seed is not None else "default",
        reason="set with --seed"
        if c.seed is not None
        else "derived from the inputs, so the same inputs give the same piece",
    )

    # Tempo: explicit, else placed in the genre's range by arousal, and moved within it by the seed so two
    # seeds of one prompt do not share a tempo.
    if c.tempo is not None:
        tempo = float(c.tempo)
        prov["tempo_bpm"] = Provenance(source="user", reason=f"tempo {tempo:g}: set with --tempo")
    elif (t := pick("tempo_bpm")) is not None and t[1].confidence >= 0.99:
        tempo = float(t[1].value)
        prov["tempo_bpm"] = Provenance(source=t[0], reason=t[1].reason)
    else:
        lo, hi = style.tempo_range
        nudge = (random.Random(f"{seed}:tempo").random() - 0.5) * TEMPO_SEED_SPREAD
        tempo = float(round(min(hi, max(lo, lo + ((arousal + 1) / 2 + nudge) * (hi - lo)))))
        why = prov["mood.arousal"].reason.split(":", 1)[-1].strip()
        prov["tempo_bpm"] = Provenance(
            source=prov["mood.arousal"].source,
            reason=(
                f"tempo {tempo:g}: arousal {arousal:+.2f} placed in {genre}'s {lo:g}-{hi:g} BPM range ({why}), "
                f"moved {nudge * (hi - lo):+.0f} BPM by the seed"
            ),
        )

    # Key: explicit, else mode from proposals or valence, tonic from the genre's list by seed.
    if c.key:
        ks = parse_key(c.key)
        key = Key(tonic=ks.tonic, mode=ks.mode)
        prov["key"] = Provenance(source="user", reason=f"key {key}: set with --key")
    elif (k := pick("key")) is not None:
        key = Key(tonic=k[1].value.tonic, mode=k[1].value.mode)
        prov["key"] = Provenance(source=k[0], reason=k[1].reason)
    else:
        tonics = GENRE_TONICS[genre]
        tonic = tonics[seed % len(tonics)]
        if (md := pick("mode")) is not None:
            mode, src, why = str(md[1].value), md[0], md[1].reason
        else:
            if valence >= MAJOR_VALENCE:
                mode = "major"
            else:
                mode = "dorian" if genre in ("jazz", "lofi") and valence > -MAJOR_VALENCE else "minor"
            src, why = prov["mood.valence"].source, f"valence {valence:+.2f}"
        key = Key(tonic=tonic, mode=mode)
        prov["key"] = Provenance(
            source=src, reason=f"key {key}: mode from {why}; tonic {tonic} suits {genre}"
        )

    # Energy, texture.
    energy_got = pools["energy"].mean() if "energy" in pools else None
    if energy_got:
        energy, src, why = energy_got
        energy = max(0.0, min(1.0, energy))
    else:
        energy, src, why = 0.5 + 0.4 * arousal, prov["mood.arousal"].source, f"arousal {arousal:+.2f}"
    energy = round(energy, 3)
    prov["energy"] = Provenance(source=src, reason=f"energy {energy:.2f}: {why}")
    texture: dict[str, float] = {"register": 0.0, "density": round(0.3 + 0.5 * energy, 3)}
    prov["texture.density"] = Provenance(
        source="default", reason=f"density {texture['density']:.2f}: from energy"
    )
    prov["texture.register"] = Provenance(source="default", reason="register 0.00: neutral")
    for attr in ("register", "density"):
        if attr in pools and (got := pools[attr].mean()):
            lo = -1.0 if attr == "register" else 0.0
            texture[attr] = round(max(lo, min(1.0, got[0])), 3)
            prov[f"texture.{attr}"] = Provenance(
                source=got[1], reason=f"{attr} {texture[attr]:+.2f}: {got[2]}"
            )

    instruments = _choose_instruments(c, genre, pick, prov)

    tags: list[str] = []
    for _source, p in pools.get("mood_tags", _Pool()).items:
        tags.extend(str(t) for t in p.value)
    tags = _dedupe(tags)[:6]
    hints = _dedupe(
        str(p.value)
        for _, p in sorted(pools.get("caption_hint", _Pool()).items, key=lambda sp: -SOURCE_PRIORITY[sp[0]])
    )

    brief_fields: dict[str, Any] = dict(
        caption="",
        duration_s=round(duration, 3),
        tempo_bpm=round(tempo, 2),
        meter=meter,
        key=key,
        mood=Mood(valence=round(valence, 3), arousal=round(arousal, 3), tags=tags),
        genre=genre,
        instruments=instruments,
        energy=energy,
        texture=Texture(**texture),
        seed=seed,
        observations=[p.observation for p in perceptions],
    )
    brief = MusicBrief(**brief_fields)
    brief = with_sections(brief)
    prov["sections"] = Provenance(
        source="default",
        reason=(
            f"{len(brief.sections)} bar-aligned sections planned from the length and energy {energy:.2f}"
        ),
    )
    if (tl := pick("timeline")) is not None:
        brief.provenance = dict(prov)
        brief = apply_timeline(brief, tl[1].value, source=tl[0])
        prov.update(brief.provenance)
        prov["timeline"] = Provenance(source=tl[0], reason=f"{prov['timeline'].reason} ({tl[1].reason})")
    brief.caption = write_caption(brief, hints)
    prov["caption"] = Provenance(source="default", reason="written from the final attributes")
    brief.provenance = dict(sorted(prov.items()))
    return brief


def _genre_for_mood(valence: float, arousal: float, seed: int) -> str:
    """A genre for a mood: drawn by the seed among the mood's candidates, nearer ones likelier."""
    names = MOOD_GENRES[(int(valence >= 0), int(arousal >= 0))]
    weights = []
    for rank, name in enumerate(names):
        style = GENRES[name]
        d2 = (valence - style.valence_bias) ** 2 + (arousal - style.arousal_bias) ** 2
        weights.append(math.exp(-d2 / MOOD_GENRE_WIDTH**2) * MOOD_GENRE_RANK_DECAY**rank)
    return random.Random(f"{seed}:genre").choices(names, weights=weights)[0]


def ensemble_instruments(noun: str, qualifier: str, instruments: Iterable[str], genre: str) -> list[str]:
    """The line-up an ensemble word names: fixed by the words ("string quartet"), else by the genre.

    A bare "trio" in jazz is piano, bass and drums; a "band" is the genre's band; a size the genre has no
    line-up for takes the first instruments of the genre's own ensemble.
    """
    fixed = list(instruments)
    if fixed:
        return fixed
    if (genre, noun) in lx.GENRE_ENSEMBLES:
        return list(lx.GENRE_ENSEMBLES[(genre, noun)])
    ensemble = list(GENRES[genre].ensemble)
    size = lx.ENSEMBLE_SIZES.get(noun)
    return ensemble[:size] if size else ensemble


def _fill_to(named: list[str], pool: list[str], size: int) -> list[str]:
    """Named players, then players from the pool of families not yet present, up to ``size``."""
    out = list(named)
    for name in pool:
        if len(out) >= size:
            break
        if name not in out and all(family_of(name) != family_of(n) or name == DRUMS for n in out):
            out.append(name)
    return out


def _choose_instruments(c: Controls, genre: str, pick: Any, prov: dict[str, Provenance]) -> list[str]:
    if c.instruments:
        prov["instruments"] = Provenance(source="user", reason="set with --instruments")
        return list(c.instruments)
    if (only := pick("instruments_only")) is not None:
        names = _dedupe(resolve_instrument(n) for n in only[1].value)
        prov["instruments"] = Provenance(source=only[0], reason=only[1].reason)
        return names
    genre_named = c.genre is not None or ((g := pick("genre")) is not None and g[1].confidence >= 0.99)
    ens = pick("ensemble")
    form = pick("form")
    form_ensemble = form[1].value.get("ensemble") if form is not None else None
    size: int | None = None
    if ens is not None:
        e = ens[1].value
        names = ensemble_instruments(e["noun"], e["qualifier"], e["instruments"], genre)
        size = lx.ENSEMBLE_SIZES.get(e["noun"])
        reasons = [f"{ens[1].reason}: {', '.join(names)}"]
        source = ens[0]
    elif form is not None and form_ensemble and not genre_named:
        names = [resolve_instrument(n) for n in form_ensemble]
        reasons = [f"{form[1].reason}, played by {', '.join(names)}"]
        source = form[0]
    else:
        names = list(GENRES[genre].ensemble)
        reasons = [f"{genre} ensemble"]
        source = "default"
    if (add := pick("instruments_add")) is not None:
        wanted = [resolve_instrument(n) for n in add[1].value]
        if size is not None:
            # "a guitar and violin duo": the named players are the ensemble, filled up to its size.
            names = _fill_to(wanted, names, size)
        for w in wanted:
            if w not in names:
                # A requested instrument replaces the genre's instrument of the same family, if any.
                same = [n for n in names if family_of(n) == family_of(w) and n != DRUMS]
                if same:
                    names[names.index(same[0])] = w
                else:
                    names.insert(0, w)
        reasons.append(add[1].reason)
        source = add[0]
    fixed = ens is not None or (form is not None and bool(form_ensemble) and not genre_named)
    if (
        not genre_named
        and not fixed
        and (sug := pick("instruments_suggest")) is not None
        and len(names) < MAX_ENSEMBLE
    ):
        for s in sug[1].value:
            s = resolve_instrument(s)
            if s not in names:
                names.insert(min(2, len(names)), s)
                reasons.append(f"{s}: {sug[1].reason}")
                source = source if source != "default" else sug[0]
                break
    if (
        form is not None
        and form[1].value.get("drums") is False
        and DRUMS in names
        and not (add is not None and DRUMS in add[1].value)
    ):
        names.remove(DRUMS)
        reasons.append(f"no drums: {form[1].reason}")
        source = form[0]
    if (ex := pick("instruments_exclude")) is not None:
        drop = {resolve_instrument(n) for n in ex[1].value}
        names = [n for n in names if n not in drop]
        reasons.append(ex[1].reason)
        # An explicit request: a later instruction must not bring these back (refine reads this).
        prov[EXCLUDED_KEY] = excluded_provenance(sorted(drop), ex[0], ex[1].reason.split(": ", 1)[-1])
        source = ex[0]
        if not names:
            raise BadInputError(
                "the prompt excludes every instrument of the arrangement: name at least "
                "one instrument to keep, e.g. --instruments piano"
            )
    if ens is None:  # a named ensemble ("big band") keeps every player it names
        names = names[:MAX_ENSEMBLE]
    prov["instruments"] = Provenance(source=source, reason="; ".join(reasons))
    return names


def _event_index(event: dict[str, Any], cursor: int, n: int) -> tuple[int, int]:
    """(section index, new cursor) of a timeline event: the start, the end, or the section after the last."""
    if event["at"] == "start":
        return 0, 0
    if event["at"] == "end":
        return n - 1, cursor
    cursor = min(cursor + 1, n - 1)
    return cursor, cursor


def _split_longest(brief: MusicBrief) -> MusicBrief:
    """The brief with its longest section split at the bar nearest its middle, so that a timeline change
    has somewhere to happen (a one-section piece, or a build and a quiet end in two sections)."""
    sections = list(brief.sections)
    k = max(range(len(sections)), key=lambda i: sections[i].end_s - sections[i].start_s)
    only = sections[k]
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    bars = round((only.end_s - only.start_s) / bar)
    if bars < TIMELINE_MIN_SPLIT_BARS:
        return brief
    cut = round(only.start_s + (bars // 2) * bar, 4)
    first = only.model_copy(update={"end_s": cut})
    second = only.model_copy(update={"start_s": cut, "label": f"{only.label}'"})
    return brief.model_copy(update={"sections": [*sections[:k], first, second, *sections[k + 1 :]]})


def apply_timeline(brief: MusicBrief, events: list[dict[str, Any]], *, source: str = "text") -> MusicBrief:
    """Write the prompt's timeline into the brief's sections: who plays where, and how loud.

    ``events`` are the text perceiver's timeline proposals, in the order the prompt tells them; each has
    ``action`` ("only", "enter", "exit", "climax", "build", "quiet_start", "quiet_end"), ``at`` ("start",
    "next": the section after the previous change, "end") and ``instruments``. Instruments an event names
    join the brief's instruments unless the user fixed them (then events about others are dropped). The
    sections' boundaries stay as planned; a one-section piece is split in two so a change can happen.
    Returns a new brief with ``provenance["timeline"]`` saying what was done.
    """
    if not events or not brief.sections:
        return brief
    user_fixed = brief.provenance.get("instruments", Provenance(source="default", reason="")).source == "user"
    instruments = list(brief.instruments)
    for e in events:
        for name in e.get("instruments", []):
            name = resolve_instrument(name)
            if name not in instruments and not user_fixed:
                instruments.append(name)
    actions = {e["action"] for e in events}
    if len(brief.sections) == 1 and actions & {"only", "enter", "exit"}:
        brief = _split_longest(brief)
    if len(brief.sections) < 3 and actions & {"climax", "build"} and "quiet_end" in actions:
        brief = _split_longest(brief)
    sections = list(brief.sections)
    n = len(sections)
    entry = {name: 0 for name in instruments}
    leave = {name: n for name in instruments}
    energies = [s.energy for s in sections]
    notes: list[str] = []
    cursor = 0
    for i, e in enumerate(events):
        idx, cursor = _event_index(e, cursor, n)
        names = [
            resolve_instrument(x) for x in e.get("instruments", []) if resolve_instrument(x) in instruments
        ]
        label = sections[idx].label
        action = e["action"]
        if action == "only" and names:
            if e["at"] == "end":
                for other in instruments:
                    if other not in names:
                        leave[other] = min(leave[other], idx)
            else:
                # Alone until the next change; everyone else comes in then.
                nxt = next(
                    (
                        _event_index(f, cursor, n)[0]
                        for f in events[i + 1 :]
                        if f["action"] in ("enter", "exit", "only")
                    ),
                    idx + 1,
                )
                for other in instruments:
                    if other not in names:
                        entry[other] = max(entry[other], max(nxt, idx + 1))
            notes.append(f"{' and '.join(names)} alone in {label}")
        elif action == "enter" and names:
            for name in names:
                entry[name] = max(entry[name], max(idx, 1))
            notes.append(f"{' and '.join(names)} join in {sections[max(idx, 1)].label}")
        elif action == "exit" and names:
            for name in names:
                leave[name] = min(leave[name], max(idx, 1))
            notes.append(f"{' and '.join(names)} drop out from {sections[max(idx, 1)].label}")
        elif action in ("climax", "build"):
            peak = n - 1 if action == "build" or n < 3 else max(1, round(TIMELINE_CLIMAX_AT * (n - 1)))
            top = lx.TIMELINE_CLIMAX if action == "climax" else max(energies[peak], lx.TIMELINE_CLIMAX - 0.1)
            low = min(energies[0], lx.TIMELINE_BUILD_FROM)
            for k in range(peak + 1):
                energies[k] = round(low + (top - low) * k / max(1, peak), 3)
            for k in range(peak + 1, n):
                energies[k] = min(energies[k], round(top - lx.TIMELINE_AFTER_CLIMAX_DROP, 3))
            notes.append(
                f"{'builds to a climax in' if action == 'climax' else 'builds up to'} {sections[peak].label}"
            )
        elif action == "quiet_start":
            energies[0] = min(energies[0], lx.TIMELINE_QUIET_START)
            notes.append(f"{sections[0].label} quiet")
        elif action == "quiet_end":
            energies[-1] = min(energies[-1], lx.TIMELINE_QUIET_END)
            notes.append(f"ends quietly in {sections[-1].label}")
    style = GENRES[brief.genre]
    out = []
    for k, sec in enumerate(sections):
        players = [x for x in instruments if entry[x] <= k < leave[x]]
        if not players or len(players) == len(instruments):
            players = []
        caption = section_caption(sec.label, energies[k], style.description)
        if players:
            caption += f", {_instrument_words(players)} only"
        out.append(
            sec.model_copy(
                update={"energy": max(0.0, min(1.0, energies[k])), "instruments": players, "caption": caption}
            )
        )
    provenance = dict(brief.provenance)
    provenance["timeline"] = Provenance(source=source, reason="; ".join(notes) or "no change")
    if instruments != list(brief.instruments):
        added = [x for x in instruments if x not in brief.instruments]
        old = provenance.get("instruments")
        provenance["instruments"] = Provenance(
            source=old.source if old else source,
            reason=(f"{old.reason}; " if old else "") + f"{', '.join(added)}: the timeline brings them in",
        )
    return brief.model_copy(update={"instruments": instruments, "sections": out, "provenance": provenance})


def with_sections(brief: MusicBrief) -> MusicBrief:
    """A copy of the brief with freshly planned, bar-aligned sections."""
    style = GENRES[brief.genre]
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    sections = []
    planned = plan_sections(
        brief.duration_s, brief.tempo_bpm, brief.meter, brief.energy, genre=brief.genre, seed=brief.seed
    )
    for i, ps in enumerate(planned):
        start = round(ps.start_bar * bar, 4)
        end = brief.duration_s if i == len(planned) - 1 else round((ps.start_bar + ps.bars) * bar, 4)
        if end <= start:
            continue
        sections.append(
            Section(
                start_s=start,
                end_s=round(min(end, brief.duration_s), 4),
                label=ps.label,
                energy=ps.energy,
                caption=section_caption(ps.label, ps.energy, style.description),
            )
        )
    return brief.model_copy(update={"sections": sections})


def rescale_sections(brief: MusicBrief, new_duration: float) -> list[Section]:
    """Keep a brief's (possibly user-edited) sections, stretched to a new duration."""
    if not brief.sections:
        return []
    factor = new_duration / brief.duration_s
    out = []
    for i, s in enumerate(brief.sections):
        end = new_duration if i == len(brief.sections) - 1 else round(s.end_s * factor, 4)
        out.append(s.model_copy(update={"start_s": round(s.start_s * factor, 4), "end_s": end}))
    return out


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
    return ", ".join(_dedupe(words))


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


def _instrument_words(names: list[str]) -> str:
    words = _dedupe(instrument_words(n) for n in names)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def write_caption(brief: MusicBrief, hints: Iterable[str] = ()) -> str:
    """One or two sentences a text-to-music model could read, written from the final attributes."""
    style = GENRES[brief.genre]
    meter = "" if brief.meter == "4/4" else f" in {brief.meter}"
    described = f"{_mood_words(brief)} {style.description}"
    first = (
        f"{indefinite_article(described).capitalize()} {described} piece in {brief.key} at "
        f"{brief.tempo_bpm:g} BPM{meter}, with {_instrument_words(brief.instruments)}."
    )
    hint_list = _dedupe(h for h in hints if h)[:2]
    if hint_list:
        # Capitalise the first letter only: the hint's own capitals ("Tokyo", "Christmas") stay.
        hint = "; ".join(hint_list).rstrip(".")
        first += " " + hint[0].upper() + hint[1:] + "."
    return first


def apply_controls(brief: MusicBrief, controls: Controls) -> MusicBrief:
    """Vary a loaded brief with explicit controls; everything else, including edits, is kept.

    Fields edited by hand become the user's (:func:`mark_hand_edits`), and the derived text follows the
    new fields (:func:`rederive`), also when no control is given.
    """
    c = controls.validated()
    brief = mark_hand_edits(brief)
    update: dict[str, Any] = {}
    prov = dict(brief.provenance)
    if c.genre:
        update["genre"] = c.genre
        prov["genre"] = Provenance(source="user", reason=f"genre {c.genre}: set with --genre")
    if c.tempo is not None:
        update["tempo_bpm"] = float(c.tempo)
        prov["tempo_bpm"] = Provenance(source="user", reason=f"tempo {c.tempo:g}: set with --tempo")
    if c.key:
        ks = parse_key(c.key)
        update["key"] = Key(tonic=ks.tonic, mode=ks.mode)
        prov["key"] = Provenance(source="user", reason=f"key {ks}: set with --key")
    if c.meter:
        update["meter"] = c.meter
        prov["meter"] = Provenance(source="user", reason=f"meter {c.meter}: set with --meter")
    if c.instruments:
        update["instruments"] = list(c.instruments)
        prov["instruments"] = Provenance(source="user", reason="set with --instruments")
    if c.seed is not None:
        update["seed"] = c.seed
        prov["seed"] = Provenance(source="user", reason="set with --seed")
    if c.duration is not None:
        update["duration_s"] = float(c.duration)
        update["sections"] = rescale_sections(brief, float(c.duration))
        prov["duration_s"] = Provenance(
            source="user", reason=f"duration {c.duration:g} s: set with --duration"
        )
    if not update:
        return rederive(brief)
    data = brief.to_dict()
    data.update({k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in update.items()})
    data["sections"] = [s.model_dump() if hasattr(s, "model_dump") else s for s in data["sections"]]
    data["provenance"] = {k: v.model_dump() for k, v in sorted(prov.items())}
    varied = MusicBrief.from_dict(data, origin="brief with controls")
    if not varied.sections:
        varied = with_sections(varied)
    return rederive(varied)


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
EXCLUDED_KEY = "instruments.excluded"  # provenance of instruments a request left out ("no drums")
EXCLUDED_SEP = " left out: "
# Attributes whose provenance reason starts by stating the value ("genre lofi: ..."): a loaded brief whose
# field no longer says what its reason states was edited by hand, and the edit is the user's.
_STATED = {
    "genre": re.compile(r"genre ([a-z-]+)\b"),
    "tempo_bpm": re.compile(r"tempo (\d+(?:\.\d+)?)\b"),
    "key": re.compile(r"key ([A-G][#b]? [a-z]+)\b"),
    "meter": re.compile(r"meter (\d+/\d+)\b"),
    "energy": re.compile(r"energy (\d(?:\.\d+)?)\b"),
}
STATED_TOLERANCE = {"tempo_bpm": 0.51, "energy": 0.006}  # reasons round what they state


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
        fresh += f", {_instrument_words(section.instruments)} only"
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
    inst = " and ".join(_dedupe(instrument_words(n) for n in brief.instruments[:3]))
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


def _stated(name: str, reason: str) -> str | None:
    m = _STATED[name].match(reason)
    return m.group(1) if m else None


def _disagrees(name: str, stated: str, value: Any) -> bool:
    if name in STATED_TOLERANCE:
        return abs(float(stated) - float(value)) > STATED_TOLERANCE[name]
    if name == "genre":
        try:
            return resolve_genre(stated) != value
        except BadInputError:
            return False
    if name == "key":
        try:
            return str(parse_key(stated)) != str(value)
        except BadInputError:
            return False
    return stated != str(value)


def mark_hand_edits(brief: MusicBrief) -> MusicBrief:
    """A loaded brief with the attributes edited by hand marked as the user's (so nothing overrides them).

    An attribute was edited by hand when its provenance reason states a value ("genre lofi: ...") that
    the field no longer has. Derived text is not touched here: :func:`rederive` follows.
    """
    prov = dict(brief.provenance)
    for name in _STATED:
        p = prov.get(name)
        if p is None or p.source == "user" or (stated := _stated(name, p.reason)) is None:
            continue
        value = getattr(brief, name)
        if _disagrees(name, stated, value):
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            prov[name] = Provenance(
                source="user",
                reason=f"{name.removesuffix('_bpm')} {shown}: edited in the brief (was {stated})",
            )
    if prov == brief.provenance:
        return brief
    return brief.model_copy(update={"provenance": dict(sorted(prov.items()))})


def fixed_by_user(brief: MusicBrief) -> set[str]:
    """The attributes the user set explicitly (a control, the page, a hand edit): provenance ``user``."""
    return {name for name, p in brief.provenance.items() if p.source == "user"}


def excluded_instruments(brief: MusicBrief) -> list[str]:
    """Instruments a request left out ("no drums"), which nothing but a request naming them brings back."""
    p = brief.provenance.get(EXCLUDED_KEY)
    if p is None or EXCLUDED_SEP not in p.reason:
        return []
    names = []
    for name in p.reason.split(EXCLUDED_SEP, 1)[0].split(", "):
        try:
            names.append(resolve_instrument(name))
        except BadInputError:
            continue
    return names


def excluded_provenance(names: Iterable[str], source: str, why: str) -> Provenance:
    """The provenance entry :func:`excluded_instruments` reads."""
    return Provenance(source=source, reason=f"{', '.join(names)}{EXCLUDED_SEP}{why}")  # type: ignore[arg-type]


def keep_fixed(before: MusicBrief, after: MusicBrief) -> MusicBrief:
    """``after`` (e.g. a refiner's output) with what the user fixed in ``before`` restored, re-derived.

    For refiners that do not read provenance: what the user set wins, and instruments a request left out
    stay out unless ``after``'s provenance says a later request named them.
    """
    data = after.to_dict()
    old = before.to_dict()
    prov = dict(after.provenance)
    for name in fixed_by_user(before):
        path = name.split(".")
        if path[0] not in MusicBrief.model_fields and path[0] not in ("schema",):
            continue
        src, dst = old, data
        for k in path[:-1]:
            src, dst = src.get(k, {}), dst.setdefault(k, {})
        if path[-1] in src:
            dst[path[-1]] = src[path[-1]]
            prov[name] = before.provenance[name]
    excluded = set(excluded_instruments(after))  # a refiner that named them took the entry out
    if excluded and "instruments" not in fixed_by_user(before):
        data["instruments"] = [n for n in data["instruments"] if n not in excluded] or data["instruments"]
        for s in data["sections"]:
            s["instruments"] = [n for n in s["instruments"] if n in data["instruments"]]
    data["provenance"] = {k: v.model_dump() for k, v in sorted(prov.items())}
    return rederive(MusicBrief.from_dict(data, origin="refined brief"))
