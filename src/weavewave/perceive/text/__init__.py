"""The text perceiver: a sentence, a prompt or a whole story -> observation and proposals.

Three readings, combined by confidence:

1. **Explicit requests** (confidence 1.0): tempo ("120 bpm"), key ("in F# minor", "c#m"), mode ("in a
   minor key"), meter ("3/4", "waltz"), duration ("45 seconds", "1:30"), genre ("lo-fi"), instruments
   ("with strings and a cello", "no drums", "solo piano"). Values out of range raise
   :class:`~weavewave.errors.BadInputError`.
2. **Lexicon**: mood and scene words (:mod:`weavewave.perceive.lexicon`) give valence/arousal, tags, a
   caption phrase and genre/instrument hints; "very" and "not" modify them.
3. **Sentence model** (optional, ``weavewave[semantic]``): the text is compared with prototype
   sentences (:mod:`weavewave.perceive.semantic`), which reads stories with no mood words at all.

The readings live in the modules of this package (``tokens``, ``explicit``, ``instruments``, ``words``,
``timeline``); this module combines them into one perception.

    >>> p = perceive_text("a rainy night in the city, lo-fi, 80 bpm", semantic=False)
    >>> p.proposals["tempo_bpm"].value, p.proposals["genre"].value
    (80.0, 'lofi')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from weavewave.brief import Observation
from weavewave.errors import BadInputError
from weavewave.music.theory import KeySpec
from weavewave.perceive import Perception, Proposal
from weavewave.perceive import lexicon as lx
from weavewave.perceive.text.explicit import ExplicitRequests, mask, parse_explicit
from weavewave.perceive.text.instruments import GenreHit, InstrumentReading, read_genres, read_instruments
from weavewave.perceive.text.timeline import (
    EnsembleReading,
    TimelineReading,
    read_ensemble,
    read_form,
    read_timeline,
    timeline_summary,
)
from weavewave.perceive.text.tokens import Token, fmt, quote, tokenize
from weavewave.perceive.text.words import LexiconReading, WordHit, read_words

INPUT_PREVIEW_CHARS = 80


def _resolve_semantic(semantic: bool | None) -> bool:
    from weavewave.perceive import semantic as sem

    if semantic is None:
        return sem.is_available()
    if semantic:
        sem.require()
    return bool(semantic)


def _clip(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _salience_mean(values: list[float]) -> float:
    """Mean that lets strongly felt words outweigh near-neutral ones ("rainy" over "city")."""
    weights = [lx.LEXICON_NEUTRAL_WEIGHT + abs(v) for v in values]
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def _lexicon_confidence(n: int) -> float:
    return min(
        lx.LEXICON_MAX_CONFIDENCE, lx.LEXICON_BASE_CONFIDENCE + lx.LEXICON_CONFIDENCE_PER_WORD * (n - 1)
    )


def _semantic_confidence(top_cos: float) -> float:
    span = lx.SEMANTIC_COS_FULL - lx.SEMANTIC_COS_FLOOR
    return lx.SEMANTIC_MAX_CONFIDENCE * _clip((top_cos - lx.SEMANTIC_COS_FLOOR) / span, 0.0, 1.0)


def _agrees(
    valence: float,
    arousal: float,
    lex_valence: tuple[float, float, str] | None,
    lex_arousal: tuple[float, float, str] | None,
) -> bool:
    """Whether a prototype's mood is compatible with the mood words the prompt itself uses.

    The mood words are the writer's own: "lonely and calm" rules out a party however close the scene
    reads to one.
    """
    for proto, lex in ((valence, lex_valence), (arousal, lex_arousal)):
        if lex is None:
            continue
        if (
            abs(lex[0]) >= lx.MOOD_CLASH_WORDS
            and abs(proto) >= lx.MOOD_CLASH_PROTOTYPE
            and (lex[0] > 0) != (proto > 0)
        ):
            return False
    return True


def _hit_label(h: WordHit) -> str:
    return ("not " if h.negated else "") + h.word


def _combine(
    name: str,
    lex: tuple[float, float, str] | None,
    sem: tuple[float, float, str] | None,
) -> Proposal | None:
    """Confidence-weighted mean of the lexicon and sentence-model readings of one dimension."""
    parts = [p for p in (lex, sem) if p is not None and p[1] > 0]
    if not parts:
        return None
    total = sum(c for _, c, _ in parts)
    value = sum(v * c for v, c, _ in parts) / total
    confs = sorted((c for _, c, _ in parts), reverse=True)
    conf = confs[0] + (lx.COMBINED_SECOND_OPINION * confs[1] if len(confs) > 1 else 0.0)
    conf = min(lx.COMBINED_MAX_CONFIDENCE if len(confs) > 1 else confs[0], conf)
    return Proposal(
        round(_clip(value), 3), round(conf, 3), f"{name} {fmt(value)}: " + "; ".join(r for *_, r in parts)
    )


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _join_phrases(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= INPUT_PREVIEW_CHARS else flat[: INPUT_PREVIEW_CHARS - 1].rstrip() + "…"


_Reading = tuple[float, float, str]  # (value, confidence, reason) of one mood dimension


@dataclass
class _TextReading:
    """What the readers found in one text, and the proposals and measurements being built from it."""

    text: str
    n_words: int
    short: bool
    ex: ExplicitRequests
    masked: str
    tokens: list[Token]
    timeline: TimelineReading
    ensemble: EnsembleReading | None
    form: tuple[str, lx.NamedForm] | None
    apart: set[int]  # tokens read as timeline or ensemble, kept from the line-up reader
    instruments: InstrumentReading
    genre_hits: list[GenreHit]
    genre_used: set[int]
    words: LexiconReading
    proposals: dict[str, Proposal] = field(default_factory=dict)
    measurements: dict[str, Any] = field(default_factory=dict)
    explicit_record: dict[str, Any] = field(default_factory=dict)
    lex_valence: _Reading | None = None
    lex_arousal: _Reading | None = None


@dataclass
class _SemanticFindings:
    """What the sentence model adds, when it runs (all empty when it does not)."""

    method: str = "lexicon"
    valence: _Reading | None = None
    arousal: _Reading | None = None
    setting_tags: list[str] = field(default_factory=list)
    setting_phrase: str | None = None
    genre: tuple[str, float] | None = None
    setting: tuple[Any, float] | None = None
    tag: str | None = None


def _read_text(text: str) -> _TextReading:
    """Run the readers (explicit values, timeline, ensemble, form, instruments, genres, words) on a text."""
    n_words = len(text.split())
    short = n_words <= lx.SHORT_PROMPT_WORDS
    ex = parse_explicit(text, long_text=not short)
    masked = mask(text, ex.spans)
    tokens = tokenize(masked)
    timeline = read_timeline(masked, tokens)
    ensemble = read_ensemble(text, tokens)
    form = read_form(tokens)
    apart = timeline.consumed | (ensemble.tokens if ensemble else set())
    instruments = read_instruments(text, tokens, short=short, skip=frozenset(apart))
    genre_hits, genre_used = read_genres(text, tokens, instruments.consumed)
    words = read_words(tokens, instruments.consumed | genre_used)
    return _TextReading(
        text=text,
        n_words=n_words,
        short=short,
        ex=ex,
        masked=masked,
        tokens=tokens,
        timeline=timeline,
        ensemble=ensemble,
        form=form,
        apart=apart,
        instruments=instruments,
        genre_hits=genre_hits,
        genre_used=genre_used,
        words=words,
    )


def _propose_explicit_values(r: _TextReading) -> None:
    """Tempo, key, meter, duration ... as the prompt asks for them, and a meter word ("waltz")."""
    ex, proposals = r.ex, r.proposals
    for key, value in ex.values.items():
        proposals[key] = Proposal(value, ex.confidences[key], ex.reasons[key])
    if "meter" not in proposals and r.words.meter is not None:
        word, meter = r.words.meter
        proposals["meter"] = Proposal(meter, lx.METER_WORD_CONFIDENCE, f"meter {meter}: prompt says '{word}'")
    r.explicit_record = {k: (str(v) if isinstance(v, KeySpec) else v) for k, v in ex.values.items()}
    if "meter" in proposals and "meter" not in r.explicit_record:
        r.explicit_record["meter"] = proposals["meter"].value
    if ex.decade:
        r.measurements["decade"] = ex.decade


def _propose_lineup(r: _TextReading) -> None:
    """The instruments the prompt asks for, adds or excludes, and a named ensemble ("a jazz trio")."""
    instruments = r.instruments
    for key, names in (
        ("instruments_only", instruments.only),
        ("instruments_add", instruments.add),
        ("instruments_exclude", instruments.exclude),
    ):
        if names:
            said = quote(_dedupe(instruments.words[key]))
            r.proposals[key] = Proposal(
                list(names),
                lx.EXPLICIT_CONFIDENCE,
                f"{key.removeprefix('instruments_')} {', '.join(names)}: prompt says {said}",
            )
            r.explicit_record[key] = list(names)
    ensemble = r.ensemble
    if ensemble is not None:
        r.proposals["ensemble"] = Proposal(
            {
                "noun": ensemble.noun,
                "qualifier": ensemble.qualifier,
                "instruments": list(ensemble.instruments),
            },
            lx.EXPLICIT_CONFIDENCE,
            f"ensemble: prompt says '{ensemble.said}'",
        )
        r.explicit_record["ensemble"] = ensemble.said


def _propose_structure(r: _TextReading) -> None:
    """The timeline the prompt tells and a named form ("lullaby"), with the form's meter."""
    proposals = r.proposals
    if r.timeline.events:
        events = [{k: v for k, v in e.items() if k != "pos"} for e in r.timeline.events]
        proposals["timeline"] = Proposal(
            events,
            lx.EXPLICIT_CONFIDENCE,
            "timeline: prompt says " + quote(_dedupe(e["said"] for e in events)),
        )
        r.measurements["timeline"] = timeline_summary(events)
    if r.form is not None:
        said, nf = r.form
        proposals["form"] = Proposal(
            {"name": nf.name, "ensemble": list(nf.ensemble), "drums": nf.drums},
            lx.FORM_CONFIDENCE,
            f"form {nf.name}: prompt says '{said}'",
        )
        if nf.meter and "meter" not in proposals:
            proposals["meter"] = Proposal(
                nf.meter, lx.FORM_CONFIDENCE, f"meter {nf.meter}: a {said} is in {nf.meter}"
            )
            r.explicit_record["meter"] = nf.meter


def _propose_named_genre(r: _TextReading) -> None:
    """The genre the prompt names, strongest reading first; closes the record of explicit requests."""
    genre_hits = r.genre_hits
    strong_genres = [h for h in genre_hits if h.confidence >= lx.EXPLICIT_CONFIDENCE]
    if genre_hits:
        best = (strong_genres or genre_hits)[0]
        r.proposals["genre"] = Proposal(
            best.genre, best.confidence, f"genre {best.genre}: prompt says '{best.words}'"
        )
        r.measurements["genre_words"] = {h.words: h.genre for h in genre_hits}
        if best.confidence >= lx.EXPLICIT_CONFIDENCE:
            r.explicit_record["genre"] = best.genre
    r.measurements["explicit"] = r.explicit_record


def _read_lexicon(r: _TextReading) -> None:
    """Valence and arousal from the mood and scene words (and tempo words, for arousal)."""
    hits = r.words.hits
    r.measurements["words"] = [
        {"word": _hit_label(h), "valence": round(h.valence, 2), "arousal": round(h.arousal, 2)}
        | ({"scale": h.scale} if h.scale != 1.0 else {})
        for h in hits
    ]
    story_factor = 1.0 if r.short else lx.LEXICON_STORY_FACTOR
    if hits:
        conf = _lexicon_confidence(len(hits)) * story_factor
        v = _salience_mean([h.valence for h in hits])
        named = quote(_dedupe(_hit_label(h) for h in hits)[:4])
        r.lex_valence = (v, conf, f"{named} in the prompt")
    arousal_sources = [(h.arousal, _hit_label(h)) for h in hits] + [(t.arousal, w) for w, t in r.words.tempo]
    if arousal_sources:
        conf = _lexicon_confidence(len(arousal_sources)) * story_factor
        a = _salience_mean([x for x, _ in arousal_sources])
        named = quote(_dedupe(w for _, w in arousal_sources)[:4])
        r.lex_arousal = (a, conf, f"{named} in the prompt")
    if r.lex_valence or r.lex_arousal:
        r.measurements["lexicon"] = {
            k: round(p[0], 3)
            for k, p in (("valence", r.lex_valence), ("arousal", r.lex_arousal))
            if p is not None
        }


def _propose_word_hints(r: _TextReading) -> None:
    """Tempo words ("slow") when no tempo is asked for, and register and density words."""
    words, proposals = r.words, r.proposals
    if words.tempo:
        word, tw = words.tempo[0]
        proposals["tempo_bpm"] = proposals.get("tempo_bpm") or Proposal(
            float(tw.tempo_bpm), lx.TEMPO_WORD_CONFIDENCE, f"tempo {tw.tempo_bpm:g} BPM: prompt says '{word}'"
        )
        r.measurements["tempo_words"] = [w for w, _ in words.tempo]
    for key, found in (("register", words.register), ("density", words.density)):
        if found:
            value = round(_mean([x for _, x in found]), 3)
            proposals[key] = Proposal(
                value,
                lx.TEXTURE_WORD_CONFIDENCE,
                f"{key} {value:g}: prompt says {quote(w for w, _ in found)}",
            )


def _read_semantic(r: _TextReading, use_semantic: bool) -> _SemanticFindings:
    """Mood, genre and setting from the sentence model, when it is used and the text has words to read."""
    found = _SemanticFindings()
    tokens = r.tokens
    consumed = r.instruments.consumed
    descriptive = [
        t
        for k, t in enumerate(tokens)
        if not t.is_punct
        and t.word not in lx.STOPWORDS
        and k not in consumed
        and k not in r.genre_used
        and t.word.isalpha()
    ]
    if not (use_semantic and descriptive):
        return found
    from weavewave.perceive import semantic as sem

    found.method = "lexicon+minilm"
    # Genre and instrument words are read exactly above; left in, they drag the scene reading ("lo-fi
    # hip hop" reads as a party), so the sentence model sees the text without them.
    read_apart = consumed | r.genre_used | r.apart
    sem_text = " ".join(mask(r.masked, [(tokens[k].start, tokens[k].end) for k in read_apart]).split())
    reading = sem.read(sem_text, temperature=lx.SEMANTIC_TEMPERATURE)
    top_mood, top_cos = reading.mood_matches[0]
    top_setting, top_setting_cos = reading.setting_matches[0]
    anchor, anchor_cos = max(
        ((top_mood.text, top_cos), (top_setting.texts[0], top_setting_cos)), key=lambda p: p[1]
    )
    conf = _semantic_confidence(anchor_cos)
    closest = f"{'story' if not r.short else 'text'} reads closest to '{anchor}' (cos {anchor_cos:.2f})"
    if conf > 0:
        found.valence = (reading.valence, conf, closest)
        found.arousal = (reading.arousal, conf, closest)
    k = lx.SEMANTIC_TOP_K
    r.measurements["semantic"] = {
        "valence": round(reading.valence, 3),
        "arousal": round(reading.arousal, 3),
        "chunks": reading.chunks,
        "moods": [{"prototype": m.text, "cos": round(c, 3)} for m, c in reading.mood_matches[:k]],
        "genres": [{"genre": g, "cos": round(c, 3)} for g, c in reading.genre_matches[:k]],
        "settings": [{"setting": s.name, "cos": round(c, 3)} for s, c in reading.setting_matches[:k]],
    }
    (g1, c1), (_, c2) = reading.genre_matches[0], reading.genre_matches[1]
    if c1 >= lx.SEMANTIC_GENRE_MIN_COS and c1 - c2 >= lx.SEMANTIC_GENRE_MARGIN:
        found.genre = (g1, c1)
    (s1, sc1), (_, sc2) = reading.setting_matches[0], reading.setting_matches[1]
    if (
        sc1 >= lx.SEMANTIC_SETTING_MIN_COS
        and sc1 - sc2 >= lx.SEMANTIC_SETTING_MARGIN
        and _agrees(s1.valence, s1.arousal, r.lex_valence, r.lex_arousal)
    ):
        found.setting_tags = list(s1.tags)
        found.setting_phrase = s1.phrase
        r.measurements["setting"] = s1.name
        found.setting = (s1, sc1)
    if (
        found.valence is not None
        and top_cos >= lx.SEMANTIC_TAG_MIN_COS
        and _agrees(top_mood.valence, top_mood.arousal, r.lex_valence, r.lex_arousal)
    ):
        found.tag = top_mood.tag
    return found


def _propose_mood(r: _TextReading, sem: _SemanticFindings) -> None:
    """Valence and arousal from the lexicon and the sentence model combined, and energy from arousal."""
    proposals = r.proposals
    feeling = any(h.word in lx.MOOD_WORDS and not h.negated for h in r.words.hits)
    for name, lex, sem_p in (
        ("valence", r.lex_valence, sem.valence),
        ("arousal", r.lex_arousal, sem.arousal),
    ):
        if (
            feeling
            and lex is not None
            and sem_p is not None
            and abs(lex[0]) >= lx.MOOD_CLASH_WORDS
            and abs(sem_p[0]) >= lx.MOOD_CLASH_WORDS
            and (lex[0] > 0) != (sem_p[0] > 0)
        ):
            # The writer's own feeling words ("tense", "lonely") are direct evidence; a sentence-model reading
            # on the other side of neutral is a guess from the scene, and counts for less.
            sem_p = (
                sem_p[0],
                sem_p[1] * lx.SEMANTIC_CLASH_FACTOR,
                sem_p[2] + ", against the prompt's own words",
            )
        p = _combine(name, lex, sem_p)
        if p is not None:
            proposals[name] = p
    if "arousal" in proposals:
        arousal_p = proposals["arousal"]
        energy = round((arousal_p.value + 1.0) / 2.0, 3)
        proposals["energy"] = Proposal(
            energy,
            round(arousal_p.confidence * lx.ENERGY_FROM_AROUSAL_CONFIDENCE, 3),
            f"energy {energy:.2f}: follows arousal {fmt(arousal_p.value)}",
        )


def _propose_tags_and_caption(r: _TextReading, sem: _SemanticFindings) -> None:
    """Mood tags (words, sentence model, decade) and the caption's scene phrase."""
    hits, ex, proposals = r.words.hits, r.ex, r.proposals
    ordered_hits = sorted((h for h in hits if not h.negated), key=lambda h: -abs(h.valence) - abs(h.arousal))
    lexicon_tags = [t for h in ordered_hits for t in h.entry.tags]
    model_tags = ([sem.tag] if sem.tag else []) + sem.setting_tags
    tags = lexicon_tags + model_tags if r.short else model_tags + lexicon_tags
    if ex.decade:
        tags.append(ex.decade)
    tags = _dedupe(tags)[: lx.MAX_MOOD_TAGS]
    if tags:
        proposals["mood_tags"] = Proposal(
            tags,
            _mood_tag_confidence(proposals),
            f"mood tags from {_tag_sources(hits, sem.setting, sem.tag, ex.decade)}",
        )

    phrases = _dedupe(h.entry.phrase for h in hits if h.entry.phrase and not h.negated)[
        : lx.MAX_CAPTION_PHRASES
    ]
    if phrases and (r.short or not sem.setting):
        hint = f"evoking {_join_phrases(phrases)}"
        proposals["caption_hint"] = Proposal(
            hint, lx.LEXICON_MAX_CONFIDENCE, f"caption: scene words {quote(phrases)} in the prompt"
        )
    elif sem.setting_phrase and sem.setting:
        hint = f"evoking {sem.setting_phrase}"
        proposals["caption_hint"] = Proposal(
            hint,
            lx.SEMANTIC_SETTING_CONFIDENCE,
            f"caption: text reads closest to the '{sem.setting[0].name}' setting (cos {sem.setting[1]:.2f})",
        )


def _propose_implied_genre_and_tempo(r: _TextReading) -> None:
    """A genre an ensemble or form implies, and a form's tempo range placed by arousal."""
    proposals, ensemble, form = r.proposals, r.ensemble, r.form
    if "genre" not in proposals and ensemble is not None and ensemble.genre:
        proposals["genre"] = Proposal(
            ensemble.genre,
            lx.ENSEMBLE_GENRE_CONFIDENCE,
            f"genre {ensemble.genre}: a {ensemble.said} suggests it",
        )
    if "genre" not in proposals and form is not None and form[1].genre:
        proposals["genre"] = Proposal(
            form[1].genre, lx.GENRE_WEAK_CONFIDENCE, f"genre {form[1].genre}: a {form[0]} suggests it"
        )
    if form is not None and form[1].tempo_range and "tempo_bpm" not in r.ex.values:
        lo, hi = form[1].tempo_range
        a = proposals["arousal"].value if "arousal" in proposals else 0.0
        bpm = float(round(lo + (hi - lo) * (a + 1.0) / 2.0))
        proposals["tempo_bpm"] = Proposal(
            bpm, lx.FORM_TEMPO_CONFIDENCE, f"tempo {bpm:g} BPM: a {form[0]} is played at {lo:g}-{hi:g} BPM"
        )


def _propose_hinted_genre(r: _TextReading, sem: _SemanticFindings) -> None:
    """When no genre is set yet: the genre the mood words vote for, or the sentence model's."""
    if "genre" in r.proposals:
        return
    votes: dict[str, list[str]] = {}
    for h in r.words.hits:
        if h.entry.genre and not h.negated:
            votes.setdefault(h.entry.genre, []).append(h.word)
    if votes:
        genre, voters = max(votes.items(), key=lambda kv: len(kv[1]))
        conf = lx.GENRE_HINT_CONFIDENCE
        reason = f"genre {genre}: {quote(_dedupe(voters))} in the prompt suggest it"
        if sem.genre and sem.genre[0] == genre:
            conf = max(conf, lx.SEMANTIC_GENRE_CONFIDENCE) + lx.COMBINED_SECOND_OPINION * conf
            reason += f"; the text also reads closest to {genre} (cos {sem.genre[1]:.2f})"
        r.proposals["genre"] = Proposal(genre, round(min(conf, lx.COMBINED_MAX_CONFIDENCE), 3), reason)
    elif sem.genre:
        genre, cos = sem.genre
        r.proposals["genre"] = Proposal(
            genre,
            lx.SEMANTIC_GENRE_CONFIDENCE,
            f"genre {genre}: text reads closest to {genre} prototypes (cos {cos:.2f})",
        )


def _propose_suggested_instruments(r: _TextReading, sem: _SemanticFindings) -> None:
    """Instruments the text mentions in passing, or that suit its words or setting."""
    instruments = r.instruments
    taken = set(instruments.add) | set(instruments.only) | set(instruments.exclude)
    why: dict[str, list[str]] = {}  # reason -> instruments
    if instruments.mentioned:
        said = quote(_dedupe(instruments.words.get("instruments_suggest", [])))
        why[f"the text mentions {said}"] = list(instruments.mentioned)
    for h in r.words.hits:
        if not h.negated and h.entry.instruments:
            why.setdefault(f"suit '{h.word}'", []).extend(h.entry.instruments)
    if sem.setting:
        why.setdefault(f"suit the '{sem.setting[0].name}' setting", []).extend(sem.setting[0].instruments)
    suggest: list[str] = []
    parts: list[str] = []
    for reason, names in why.items():
        fresh = [n for n in _dedupe(names) if n not in taken and n not in suggest]
        if fresh:
            suggest += fresh
            parts.append(f"{', '.join(fresh)} {reason}")
    if suggest:
        conf = lx.INSTRUMENT_MENTION_CONFIDENCE if instruments.mentioned else lx.INSTRUMENT_HINT_CONFIDENCE
        r.proposals["instruments_suggest"] = Proposal(
            suggest, conf, f"suggest {', '.join(suggest)}: {'; '.join(parts)}"
        )


def perceive_text(text: str, *, semantic: bool | None = None) -> Perception:
    """Read a prompt or a story into an observation and proposals for the brief.

    Parameters
    ----------
    text
        A prompt ("a rainy night in Tokyo, lo-fi, 80 bpm") or a story of any length.
    semantic
        ``None`` (default): also use the shipped sentence model if ``weavewave[semantic]`` is installed.
        ``True``: require it. ``False``: lexicon and explicit parsing only (never imports the model).

    Raises
    ------
    BadInputError
        If the text is empty, or asks for a tempo, duration or meter that cannot be made.
    MissingDependencyError
        If ``semantic=True`` and the sentence model is not installed.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadInputError("the text prompt is empty: describe the music, a scene or a story")
    use_semantic = _resolve_semantic(semantic)
    r = _read_text(text)
    # The order of the steps is the order of the proposals and measurements in the result.
    _propose_explicit_values(r)
    _propose_lineup(r)
    _propose_structure(r)
    _propose_named_genre(r)
    _read_lexicon(r)
    _propose_word_hints(r)
    sem = _read_semantic(r, use_semantic)
    r.measurements["method"] = sem.method
    _propose_mood(r, sem)
    _propose_tags_and_caption(r, sem)
    _propose_implied_genre_and_tempo(r)
    _propose_hinted_genre(r, sem)
    _propose_suggested_instruments(r, sem)

    summary = _summary(r.n_words, r.proposals, sem.method, r.explicit_record, r.measurements.get("setting"))
    observation = Observation(
        source="text", input=_preview(text), summary=summary, measurements=r.measurements
    )
    return Perception(observation=observation, proposals=r.proposals)


def _mood_tag_confidence(proposals: dict[str, Proposal]) -> float:
    confs = [proposals[k].confidence for k in ("valence", "arousal") if k in proposals]
    return round(max(confs), 3) if confs else lx.INSTRUMENT_HINT_CONFIDENCE


def _tag_sources(
    hits: list[WordHit], setting: tuple[Any, float] | None, semantic_tag: str | None, decade: str | None
) -> str:
    parts = []
    if hits:
        parts.append(f"{quote(_dedupe(h.word for h in hits)[:4])} in the prompt")
    if semantic_tag:
        parts.append(f"the sentence model's closest mood '{semantic_tag}'")
    if setting is not None:
        parts.append(f"the '{setting[0].name}' setting (cos {setting[1]:.2f})")
    if decade:
        parts.append(f"the {decade} named in the prompt")
    return "; ".join(parts)


def _summary(
    n_words: int, proposals: dict[str, Proposal], method: str, explicit: dict[str, Any], setting: str | None
) -> str:
    parts = [f"{n_words} word{'s' if n_words != 1 else ''} ({method})"]
    if "valence" in proposals or "arousal" in proposals:
        v = proposals.get("valence")
        a = proposals.get("arousal")
        parts.append(
            "mood "
            + " ".join(f"{k} {fmt(p.value)}" for k, p in (("valence", v), ("arousal", a)) if p is not None)
        )
    if explicit:
        parts.append("asks for " + ", ".join(f"{k}={_short(v)}" for k, v in explicit.items()))
    if setting:
        parts.append(f"setting {setting}")
    return "; ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
