"""Fusion: observations and explicit controls become one MusicBrief with provenance for every attribute.

Priority is fixed: explicit controls (``user``), then text, then image, then defaults. Within a
priority, continuous attributes are averaged by confidence; categorical ones take the most confident
proposal. The result is deterministic: the same inputs always give the same brief.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from weavewave.bridge.caption import dedupe, write_caption
from weavewave.bridge.controls import Controls
from weavewave.bridge.fixed import EXCLUDED_KEY, excluded_provenance
from weavewave.bridge.sections import apply_timeline, with_sections
from weavewave.brief import Key, Mood, MusicBrief, Provenance, Texture
from weavewave.errors import BadInputError
from weavewave.music.instruments import DRUMS, family_of, resolve_instrument
from weavewave.music.styles import GENRES, resolve_genre
from weavewave.music.theory import parse_key, parse_meter
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
# Instructions ("make it jazz") are applied after fusion by weavewave.bridge.refine, over everything but the user.
SOURCE_PRIORITY["instruction"] = 3
DEFAULT_DURATION_S = 30.0
MAJOR_VALENCE = 0.1  # below this the mode turns minor (dorian for jazz and lofi when only slightly below)
MAX_ENSEMBLE = 6
# Genres played by acoustic players: a timbre the words only suggest ("a village dance" reads close to a
# party, whose timbres are synths) does not join them if it is electronic. A named instrument still does.
ACOUSTIC_GENRES = frozenset({"folk", "classical", "jazz"})
ELECTRONIC_FAMILIES = frozenset({"Synth Lead", "Synth Pad", "Synth Effects"})
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


def derive_seed(perceptions: list[Perception]) -> int:
    """A seed from the inputs themselves, so a piece is reproducible without naming one."""
    text = "|".join(
        f"{p.observation.source}:{p.observation.input}:{sorted(p.observation.measurements.items())}"
        for p in perceptions
    )
    return zlib.crc32(text.encode("utf-8"))


class _Pools(dict[str, _Pool]):
    """Every attribute's proposals, by attribute name (``tempo_bpm``, ``genre``, ...)."""

    @classmethod
    def of(cls, perceptions: list[Perception]) -> _Pools:
        pools = cls()
        for perception in perceptions:
            for key, proposal in perception.proposals.items():
                pools.setdefault(key, _Pool()).items.append((perception.observation.source, proposal))
        return pools

    def pick(self, name: str) -> tuple[str, Proposal] | None:
        """The winning proposal for a categorical attribute, with its source."""
        pool = self.get(name)
        return pool.best() if pool else None

    def mean(self, name: str) -> tuple[float, str, str] | None:
        """The fused value of a continuous attribute (see :meth:`_Pool.mean`)."""
        return self[name].mean() if name in self else None


Prov = dict[str, Provenance]


def fuse(perceptions: list[Perception], controls: Controls | None = None) -> MusicBrief:
    """Fuse perceptions and explicit controls into a MusicBrief with provenance for every attribute.

    Mood comes first (other defaults follow from it), then genre, length, meter, seed, tempo, key, energy,
    texture and instruments; then sections, a prompt's timeline and the caption.
    """
    c = (controls or Controls()).validated()
    pools = _Pools.of(perceptions)
    prov: Prov = {}
    mood = _fuse_mood(pools, prov)
    genre = _fuse_genre(c, pools, mood, perceptions, prov)
    valence, arousal = _mood_defaults(genre, mood, prov)
    style = GENRES[genre]
    duration = float(
        _categorical(
            pools,
            prov,
            "duration_s",
            c.duration,
            "--duration",
            float,
            DEFAULT_DURATION_S,
            f"duration {DEFAULT_DURATION_S:g} s: the default length",
        )  # fmt: skip
    )
    meter = str(
        _categorical(
            pools,
            prov,
            "meter",
            c.meter,
            "--meter",
            lambda v: parse_meter(str(v)),
            style.meters[0],
            f"meter {style.meters[0]}: usual for {genre}",
        )  # fmt: skip
    )
    seed = _fuse_seed(c, perceptions, prov)
    tempo = _fuse_tempo(c, pools, genre, seed, arousal, prov)
    key = _fuse_key(c, pools, genre, seed, valence, prov)
    energy = _fuse_energy(pools, arousal, prov)
    texture = _fuse_texture(pools, energy, prov)
    instruments = _choose_instruments(c, genre, pools, prov)
    tags = dedupe(str(t) for _, p in pools.get("mood_tags", _Pool()).items for t in p.value)[:6]
    brief = MusicBrief(
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
    return _finish(brief, pools, prov)


def _categorical(
    pools: _Pools, prov: Prov, name: str, user_value: Any, flag: str, convert: Any, default: Any, why: str
) -> Any:
    """The user's value, else the best proposal, else the default; provenance recorded either way."""
    if user_value is not None:
        shown = f"{user_value:g}" if isinstance(user_value, int | float) else user_value  # 8 and 8.0 alike
        prov[name] = Provenance(source="user", reason=f"{name} {shown}: set with {flag}")
        return user_value
    if (got := pools.pick(name)) is not None:
        prov[name] = Provenance(source=got[0], reason=got[1].reason)
        return convert(got[1].value)
    prov[name] = Provenance(source="default", reason=why)
    return default


def _fuse_mood(pools: _Pools, prov: Prov) -> dict[str, float]:
    """Valence and arousal the inputs proposed (confidence-weighted), clipped to -1..1."""
    mood: dict[str, float] = {}
    for attr in ("valence", "arousal"):
        if (got := pools.mean(attr)) is None:
            continue
        value, source, reason = got
        mood[attr] = max(-1.0, min(1.0, value))
        prov[f"mood.{attr}"] = Provenance(source=source, reason=f"{attr} {mood[attr]:+.2f}: {reason}")
    return mood


def _fuse_genre(
    c: Controls, pools: _Pools, mood: dict[str, float], perceptions: list[Perception], prov: Prov
) -> str:
    """The user's genre, else the one proposed, else one the mood suits (drawn by the seed)."""
    if c.genre:
        prov["genre"] = Provenance(source="user", reason=f"genre {c.genre}: set with --genre")
        return c.genre
    if (g := pools.pick("genre")) is not None:
        prov["genre"] = Provenance(source=g[0], reason=g[1].reason)
        return resolve_genre(str(g[1].value))
    v, a = mood.get("valence", 0.2), mood.get("arousal", 0.0)
    genre = _genre_for_mood(v, a, c.seed if c.seed is not None else derive_seed(perceptions))
    prov["genre"] = Provenance(
        source="default",
        reason=f"genre {genre}: nothing named a genre; valence {v:+.2f} and arousal {a:+.2f} suit it",
    )
    return genre


def _mood_defaults(genre: str, mood: dict[str, float], prov: Prov) -> tuple[float, float]:
    """(valence, arousal): what the inputs said, else what is typical of the genre."""
    style = GENRES[genre]
    for attr, bias in (("valence", style.valence_bias), ("arousal", style.arousal_bias)):
        if attr not in mood:
            mood[attr] = bias
            prov[f"mood.{attr}"] = Provenance(
                source="default", reason=f"{attr} {bias:+.2f}: typical of {genre}"
            )
    return mood["valence"], mood["arousal"]


def _fuse_seed(c: Controls, perceptions: list[Perception], prov: Prov) -> int:
    if c.seed is not None:
        prov["seed"] = Provenance(source="user", reason="set with --seed")
        return c.seed
    prov["seed"] = Provenance(
        source="default", reason="derived from the inputs, so the same inputs give the same piece"
    )
    return derive_seed(perceptions)


def _fuse_tempo(c: Controls, pools: _Pools, genre: str, seed: int, arousal: float, prov: Prov) -> float:
    """Explicit, else placed in the genre's range by arousal, and moved within it by the seed so two seeds
    of one prompt do not share a tempo."""
    if c.tempo is not None:
        prov["tempo_bpm"] = Provenance(source="user", reason=f"tempo {float(c.tempo):g}: set with --tempo")
        return float(c.tempo)
    if (t := pools.pick("tempo_bpm")) is not None and t[1].confidence >= 0.99:
        prov["tempo_bpm"] = Provenance(source=t[0], reason=t[1].reason)
        return float(t[1].value)
    lo, hi = GENRES[genre].tempo_range
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
    return tempo


def _fuse_key(c: Controls, pools: _Pools, genre: str, seed: int, valence: float, prov: Prov) -> Key:
    """Explicit, else proposed, else the mode from a proposal or the valence and a tonic of the genre."""
    if c.key:
        ks = parse_key(c.key)
        key = Key(tonic=ks.tonic, mode=ks.mode)
        prov["key"] = Provenance(source="user", reason=f"key {key}: set with --key")
        return key
    if (k := pools.pick("key")) is not None:
        prov["key"] = Provenance(source=k[0], reason=k[1].reason)
        return Key(tonic=k[1].value.tonic, mode=k[1].value.mode)
    tonics = GENRE_TONICS[genre]
    tonic = tonics[seed % len(tonics)]
    if (md := pools.pick("mode")) is not None:
        mode, src, why = str(md[1].value), md[0], md[1].reason
    else:
        if valence >= MAJOR_VALENCE:
            mode = "major"
        else:
            mode = "dorian" if genre in ("jazz", "lofi") and valence > -MAJOR_VALENCE else "minor"
        src, why = prov["mood.valence"].source, f"valence {valence:+.2f}"
    key = Key(tonic=tonic, mode=mode)
    prov["key"] = Provenance(source=src, reason=f"key {key}: mode from {why}; tonic {tonic} suits {genre}")
    return key


def _fuse_energy(pools: _Pools, arousal: float, prov: Prov) -> float:
    if energy_got := pools.mean("energy"):
        energy, src, why = energy_got
        energy = max(0.0, min(1.0, energy))
    else:
        energy, src, why = 0.5 + 0.4 * arousal, prov["mood.arousal"].source, f"arousal {arousal:+.2f}"
    energy = round(energy, 3)
    prov["energy"] = Provenance(source=src, reason=f"energy {energy:.2f}: {why}")
    return energy


def _fuse_texture(pools: _Pools, energy: float, prov: Prov) -> dict[str, float]:
    """Register and density: proposed, else neutral and from the energy."""
    texture: dict[str, float] = {"register": 0.0, "density": round(0.3 + 0.5 * energy, 3)}
    prov["texture.density"] = Provenance(
        source="default", reason=f"density {texture['density']:.2f}: from energy"
    )
    prov["texture.register"] = Provenance(source="default", reason="register 0.00: neutral")
    for attr in ("register", "density"):
        if got := pools.mean(attr):
            lo = -1.0 if attr == "register" else 0.0
            texture[attr] = round(max(lo, min(1.0, got[0])), 3)
            prov[f"texture.{attr}"] = Provenance(
                source=got[1], reason=f"{attr} {texture[attr]:+.2f}: {got[2]}"
            )
    return texture


def _finish(brief: MusicBrief, pools: _Pools, prov: Prov) -> MusicBrief:
    """Sections, the prompt's timeline, the caption and the provenance of a fused brief."""
    brief = with_sections(brief)
    prov["sections"] = Provenance(
        source="default",
        reason=f"{len(brief.sections)} bar-aligned sections planned from the length and energy {brief.energy:.2f}",
    )
    if (tl := pools.pick("timeline")) is not None:
        brief.provenance = dict(prov)
        brief = apply_timeline(brief, tl[1].value, source=tl[0])
        prov.update(brief.provenance)
        prov["timeline"] = Provenance(source=tl[0], reason=f"{prov['timeline'].reason} ({tl[1].reason})")
    hints = dedupe(
        str(p.value)
        for _, p in sorted(pools.get("caption_hint", _Pool()).items, key=lambda sp: -SOURCE_PRIORITY[sp[0]])
    )
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


@dataclass
class _Lineup:
    """The ensemble as it is being chosen: players, the reasons so far and the source that decided."""

    names: list[str]
    reasons: list[str]
    source: str
    size: int | None = None  # a named ensemble's size ("trio"): named players fill it up
    fixed: bool = False  # a named ensemble or a form's own line-up: no suggestions added


def _choose_instruments(c: Controls, genre: str, pools: _Pools, prov: Prov) -> list[str]:
    """The user's instruments, else an "only" request, else an ensemble with what the inputs add,
    suggest and leave out."""
    if c.instruments:
        prov["instruments"] = Provenance(source="user", reason="set with --instruments")
        return list(c.instruments)
    if (only := pools.pick("instruments_only")) is not None:
        prov["instruments"] = Provenance(source=only[0], reason=only[1].reason)
        return dedupe(resolve_instrument(n) for n in only[1].value)
    genre_named = c.genre is not None or ((g := pools.pick("genre")) is not None and g[1].confidence >= 0.99)
    lineup = _base_lineup(pools, genre, genre_named)
    add = pools.pick("instruments_add")
    if add is not None:
        _add_named(lineup, add)
    if not genre_named and not lineup.fixed:
        _add_suggested(lineup, pools.pick("instruments_suggest"), genre)
    _drop_drums_for_form(lineup, pools.pick("form"), add)
    if (ex := pools.pick("instruments_exclude")) is not None:
        _exclude(lineup, ex, prov)
    if pools.pick("ensemble") is None:  # a named ensemble ("big band") keeps every player it names
        lineup.names = lineup.names[:MAX_ENSEMBLE]
    prov["instruments"] = Provenance(source=lineup.source, reason="; ".join(lineup.reasons))
    return lineup.names


def _base_lineup(pools: _Pools, genre: str, genre_named: bool) -> _Lineup:
    """A named ensemble ("string quartet"), else a form's line-up (unless a genre was named), else the
    genre's band."""
    ens, form = pools.pick("ensemble"), pools.pick("form")
    form_ensemble = form[1].value.get("ensemble") if form is not None else None
    if ens is not None:
        e = ens[1].value
        names = ensemble_instruments(e["noun"], e["qualifier"], e["instruments"], genre)
        return _Lineup(names, [f"{ens[1].reason}: {', '.join(names)}"], ens[0],
                       size=lx.ENSEMBLE_SIZES.get(e["noun"]), fixed=True)  # fmt: skip
    if form is not None and form_ensemble and not genre_named:
        names = [resolve_instrument(n) for n in form_ensemble]
        return _Lineup(names, [f"{form[1].reason}, played by {', '.join(names)}"], form[0], fixed=True)
    return _Lineup(list(GENRES[genre].ensemble), [f"{genre} ensemble"], "default")


def _add_named(lineup: _Lineup, add: tuple[str, Proposal]) -> None:
    """Players the input named join; each replaces the ensemble's player of the same family, if any."""
    wanted = [resolve_instrument(n) for n in add[1].value]
    names = lineup.names
    if lineup.size is not None:
        # "a guitar and violin duo": the named players are the ensemble, filled up to its size.
        names = _fill_to(wanted, names, lineup.size)
    for w in wanted:
        if w not in names:
            same = [n for n in names if family_of(n) == family_of(w) and n != DRUMS]
            if same:
                names[names.index(same[0])] = w
            else:
                names.insert(0, w)
    lineup.names = names
    lineup.reasons.append(add[1].reason)
    lineup.source = add[0]


def _add_suggested(lineup: _Lineup, sug: tuple[str, Proposal] | None, genre: str) -> None:
    """The first suggested timbre not yet playing that suits the genre joins, while the ensemble has room."""
    if sug is None or len(lineup.names) >= MAX_ENSEMBLE:
        return
    has_bass = any(family_of(n) == "Bass" for n in lineup.names)
    for s in sug[1].value:
        s = resolve_instrument(s)
        if s not in lineup.names and _suits(s, genre, has_bass):
            lineup.names.insert(min(2, len(lineup.names)), s)
            lineup.reasons.append(f"{s}: {sug[1].reason}")
            lineup.source = lineup.source if lineup.source != "default" else sug[0]
            return


def _suits(name: str, genre: str, has_bass: bool) -> bool:
    """Whether a merely suggested timbre fits: no second bass under the band's own, no synth in an
    acoustic genre ("Synth Bass 1" is in GM's Bass family, so it is told by its name)."""
    family = family_of(name)
    if family == "Bass" and has_bass:
        return False
    electronic = family in ELECTRONIC_FAMILIES or name.startswith("Synth ")
    return not (electronic and genre in ACOUSTIC_GENRES)


def _drop_drums_for_form(
    lineup: _Lineup, form: tuple[str, Proposal] | None, add: tuple[str, Proposal] | None
) -> None:
    """A form without drums (a chorale) drops the kit, unless the input named drums."""
    if (
        form is not None
        and form[1].value.get("drums") is False
        and DRUMS in lineup.names
        and not (add is not None and DRUMS in add[1].value)
    ):
        lineup.names.remove(DRUMS)
        lineup.reasons.append(f"no drums: {form[1].reason}")
        lineup.source = form[0]


def _exclude(lineup: _Lineup, ex: tuple[str, Proposal], prov: Prov) -> None:
    """Players the input left out ("no drums"); recorded so a later instruction does not bring them back."""
    drop = {resolve_instrument(n) for n in ex[1].value}
    lineup.names = [n for n in lineup.names if n not in drop]
    lineup.reasons.append(ex[1].reason)
    prov[EXCLUDED_KEY] = excluded_provenance(sorted(drop), ex[0], ex[1].reason.split(": ", 1)[-1])
    lineup.source = ex[0]
    if not lineup.names:
        raise BadInputError(
            "the prompt excludes every instrument of the arrangement: name at least "
            "one instrument to keep, e.g. --instruments piano"
        )
