"""Instruments (wanted, unwanted, solo, groups) and genres named in a text."""

from __future__ import annotations

from dataclasses import dataclass, field

from weavewave.music.instruments import known_instrument_names, resolve_instrument
from weavewave.music.styles import GENRE_ALIASES, resolve_genre
from weavewave.perceive import lexicon as lx
from weavewave.perceive.text.tokens import MAX_NGRAM, Token, longest_match, ngram, norm_phrase, text_raw


def _instrument_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for name in known_instrument_names():
        norm = norm_phrase(name)
        if norm and norm not in table:
            table[norm] = resolve_instrument(name)
    return table


INSTRUMENT_TABLE = _instrument_table()
GENRE_TABLE: dict[str, str] = {norm_phrase(k): resolve_genre(k) for k in GENRE_ALIASES}


def instrument_at(tokens: list[Token], i: int) -> tuple[str, str, int] | None:
    """(canonical name, words matched, token count) of an instrument named at tokens[i], if any."""
    for n in range(MAX_NGRAM, 0, -1):
        gram = ngram(tokens, i, n)
        if gram is None:
            continue
        for form in (
            gram,
            gram[:-1] if gram.endswith("s") else None,
            gram[:-2] if gram.endswith("es") else None,
        ):
            if form and form in INSTRUMENT_TABLE:
                return INSTRUMENT_TABLE[form], gram, n
        if n == 1 and gram.endswith(lx.LESS_SUFFIX):  # "drumless"
            base = gram[: -len(lx.LESS_SUFFIX)]
            if base in INSTRUMENT_TABLE:
                return INSTRUMENT_TABLE[base], gram, 1
    return None


def _requested(tokens: list[Token], i: int) -> bool:
    """Whether a request word ("with", "no", "solo", ...) precedes tokens[i], past a few adjectives."""
    j = i - 1
    while j >= 0 and tokens[j].word in lx.INSTRUMENT_ADJECTIVES and i - j <= 3:
        j -= 1
    return j >= 0 and tokens[j].word in lx.INSTRUMENT_REQUEST_WORDS


@dataclass
class _Mention:
    name: str
    words: str  # normalised
    said: str  # as written
    start: int  # token index
    end: int
    requested: bool


@dataclass
class InstrumentReading:
    add: list[str] = field(default_factory=list)
    only: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)  # in a story, not asked for
    words: dict[str, list[str]] = field(default_factory=dict)  # proposal key -> words that said it
    consumed: set[int] = field(default_factory=set)


def read_instruments(
    text: str, tokens: list[Token], *, short: bool, skip: frozenset[int] = frozenset()
) -> InstrumentReading:
    mentions: list[_Mention] = []
    i = 0
    while i < len(tokens):
        found = None if i in skip else instrument_at(tokens, i)
        if found is None:
            i += 1
            continue
        name, words, n = found
        requested = _requested(tokens, i)
        ambiguous = n == 1 and words in lx.AMBIGUOUS_INSTRUMENT_WORDS
        nxt = tokens[i + n].word if i + n < len(tokens) else None
        if ambiguous and not (requested and (nxt is None or nxt in lx.AMBIGUOUS_INSTRUMENT_FOLLOWERS)):
            i += 1
            continue
        mentions.append(_Mention(name, words, text_raw(text, tokens, i, n), i, i + n, requested))
        i += n

    # Group mentions into lists ("no drums or bass", "just piano and cello") and give each group a mode.
    groups: list[list[_Mention]] = []
    modes: list[str] = []
    closed_lists: list[bool] = []
    for m in mentions:
        if groups:
            prev = groups[-1][-1]
            between = [t.word for t in tokens[prev.end : m.start]]
            connectors = lx.EXCLUDE_CONNECTORS if modes[-1] == "exclude" else lx.ADD_CONNECTORS
            # "no drums, bass or piano": a comma continues a list only until it is closed by "or"/"and".
            closed = "," in between and closed_lists[-1]
            if (
                between
                and not closed
                and any(w in connectors for w in between)
                and all(w in connectors or w in lx.LIST_ARTICLES for w in between)
            ):
                groups[-1].append(m)
                closed_lists[-1] = closed_lists[-1] or any(w in lx.LIST_CLOSERS for w in between)
                continue
        groups.append([m])
        modes.append(_group_mode(tokens, m))
        closed_lists.append(False)

    reading = InstrumentReading()
    featured: list[str] = []  # "piano solo": the whole ensemble, unless other instruments are asked for
    for group, mode in zip(groups, modes, strict=True):
        last = group[-1]
        after = tokens[last.end].word if last.end < len(tokens) else None
        if after in lx.ONLY_SUFFIXES and mode == "add":
            mode = "only"
            if after == "solo":
                featured += [m.name for m in group]
        if after in lx.EXCLUDE_SUFFIXES or any(
            m.words.endswith(lx.LESS_SUFFIX) and m.words not in INSTRUMENT_TABLE for m in group
        ):
            mode = "exclude"
        if mode == "add" and not short and not any(m.requested for m in group):
            mode = "mentioned"
        target = {
            "add": reading.add,
            "only": reading.only,
            "exclude": reading.exclude,
            "mentioned": reading.mentioned,
        }[mode]
        key = {
            "add": "instruments_add",
            "only": "instruments_only",
            "exclude": "instruments_exclude",
            "mentioned": "instruments_suggest",
        }[mode]
        for m in group:
            if m.name not in target:
                target.append(m.name)
            reading.words.setdefault(key, []).append(m.said)
            reading.consumed.update(range(m.start, m.end))
    if featured and reading.add and set(reading.only) <= set(featured):
        reading.add = featured + [n for n in reading.add if n not in featured]
        reading.words["instruments_add"] = reading.words.pop("instruments_only", []) + reading.words.get(
            "instruments_add", []
        )
        reading.only = []
    reading.add = [n for n in reading.add if n not in reading.only]
    reading.add = [n for n in reading.add if n not in reading.exclude]
    reading.only = [n for n in reading.only if n not in reading.exclude]
    reading.mentioned = [
        n
        for n in reading.mentioned
        if n not in reading.exclude and n not in reading.add and n not in reading.only
    ]
    return reading


def _group_mode(tokens: list[Token], first: _Mention) -> str:
    j = first.start - 1
    while j >= 0 and tokens[j].word in lx.INSTRUMENT_ADJECTIVES | lx.LIST_ARTICLES and first.start - j <= 3:
        j -= 1
    before = tokens[j].word if j >= 0 else None
    if before in lx.EXCLUDE_TRIGGERS:
        return "exclude"
    if before in lx.ONLY_TRIGGERS:
        return "only"
    if before == "for" and j >= 1 and tokens[j - 1].word in lx.EXCLUDE_TRIGGERS:
        return "exclude"
    return "add"


@dataclass
class GenreHit:
    genre: str
    words: str
    confidence: float


def read_genres(text: str, tokens: list[Token], consumed: set[int]) -> tuple[list[GenreHit], set[int]]:
    hits: list[GenreHit] = []
    used: set[int] = set()
    i = 0
    while i < len(tokens):
        if i in consumed:
            i += 1
            continue
        match = longest_match(tokens, i, GENRE_TABLE)
        if match is None or any(k in consumed for k in range(i, i + match[1])):
            i += 1
            continue
        words, n = match
        after = tokens[i + n].word if i + n < len(tokens) else None
        context = after in lx.GENRE_CONTEXT_WORDS
        if n == 1 and words in lx.GENRE_WORDS_NEED_CONTEXT and not context:
            i += 1
            continue
        if after in lx.SECTION_NOUNS:  # "an ambient intro": the intro's colour, not the piece's genre
            i += n
            continue
        weak = n == 1 and words in lx.GENRE_WORDS_WEAK and not context
        hits.append(
            GenreHit(
                GENRE_TABLE[words],
                text_raw(text, tokens, i, n),
                lx.GENRE_WEAK_CONFIDENCE if weak else lx.EXPLICIT_CONFIDENCE,
            )
        )
        if not weak:  # "chill" and "epic" are mood words too
            used.update(range(i, i + n))
        i += n
    return hits, used
