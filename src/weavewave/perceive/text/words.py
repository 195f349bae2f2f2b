"""Mood and scene words of the lexicon, with their modifiers ("very", "not")."""

from __future__ import annotations

from dataclasses import dataclass, field

from weavewave.perceive import lexicon as lx
from weavewave.perceive.text.tokens import Token, longest_match


@dataclass
class WordHit:
    word: str
    entry: lx.WordEntry
    scale: float  # intensifier
    negated: bool

    @property
    def valence(self) -> float:
        v = self.entry.valence * self.scale
        return max(-1.0, min(1.0, v * lx.NEGATED_VALENCE_FACTOR if self.negated else v))

    @property
    def arousal(self) -> float:
        a = self.entry.arousal * self.scale
        return max(-1.0, min(1.0, a * lx.NEGATED_AROUSAL_FACTOR if self.negated else a))


_WORD_TABLE: dict[str, lx.WordEntry] = {**lx.SCENE_WORDS, **lx.MOOD_WORDS}


def _lookup_word(word: str) -> tuple[str, lx.WordEntry] | None:
    candidates = [word]
    if len(word) > 4:
        if word.endswith("ily"):
            candidates.append(word[:-3] + "y")  # happily -> happy
        if word.endswith("ly"):
            candidates.append(word[:-2])  # sadly -> sad
        if word.endswith("iness"):
            candidates.append(word[:-5] + "y")  # loneliness -> lonely
        if word.endswith("ness"):
            candidates.append(word[:-4])
        if word.endswith("s"):
            candidates.append(word[:-1])
    for c in candidates:
        if c in _WORD_TABLE:
            return c, _WORD_TABLE[c]
    return None


def _modifiers(tokens: list[Token], i: int) -> tuple[float, bool]:
    scale, negated = 1.0, False
    j = i - 1
    if j >= 0 and tokens[j].word in lx.INTENSIFIERS:
        scale = lx.INTENSIFIERS[tokens[j].word]
    for k in range(i - 1, max(-1, i - 1 - lx.NEGATION_SCOPE), -1):
        w = tokens[k].word
        if tokens[k].is_punct or w in {"but", "yet"}:
            break
        if w in lx.NEGATORS or w.endswith("n't"):
            negated = True
            break
    return scale, negated


@dataclass
class LexiconReading:
    hits: list[WordHit] = field(default_factory=list)
    tempo: list[tuple[str, lx.TempoWord]] = field(default_factory=list)
    register: list[tuple[str, float]] = field(default_factory=list)
    density: list[tuple[str, float]] = field(default_factory=list)
    meter: tuple[str, str] | None = None  # (word, meter)


def read_words(tokens: list[Token], skip: set[int]) -> LexiconReading:
    out = LexiconReading()
    i = 0
    while i < len(tokens):
        if i in skip or tokens[i].is_punct:
            i += 1
            continue
        tempo = longest_match(tokens, i, lx.TEMPO_WORDS)
        if tempo is not None:
            out.tempo.append((tempo[0], lx.TEMPO_WORDS[tempo[0]]))
            i += tempo[1]
            continue
        meter = longest_match(tokens, i, lx.METER_WORDS)
        if meter is not None and tokens[i].raw.islower() and out.meter is None:
            out.meter = (meter[0], lx.METER_WORDS[meter[0]])
        word = tokens[i].word
        if word in lx.REGISTER_WORDS:
            out.register.append((word, lx.REGISTER_WORDS[word]))
        if word in lx.DENSITY_WORDS:
            out.density.append((word, lx.DENSITY_WORDS[word]))
        found = _lookup_word(word)
        if found is not None:
            scale, negated = _modifiers(tokens, i)
            out.hits.append(WordHit(found[0], found[1], scale, negated))
        i += 1
    return out
