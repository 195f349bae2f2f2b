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

    >>> p = perceive_text("a rainy night in the city, lo-fi, 80 bpm", semantic=False)
    >>> p.proposals["tempo_bpm"].value, p.proposals["genre"].value
    (80.0, 'lofi')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from weavewave.brief import MAX_DURATION_S, TEMPO_RANGE, Observation
from weavewave.errors import BadInputError
from weavewave.music.instruments import known_instrument_names, resolve_instrument
from weavewave.music.styles import GENRE_ALIASES, resolve_genre
from weavewave.music.theory import METERS, MODE_ALIASES, KeySpec, parse_key
from weavewave.perceive import Perception, Proposal
from weavewave.perceive import lexicon as lx

INPUT_PREVIEW_CHARS = 80
MAX_NGRAM = 3


# ==================================================================================================
# Tokens
# ==================================================================================================
@dataclass(frozen=True)
class _Token:
    word: str  # lower case
    raw: str  # as written
    start: int
    end: int

    @property
    def is_punct(self) -> bool:
        return self.word in {",", ".", ";", ":", "!", "?"}


_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[&,.;:!?]", re.IGNORECASE)


def _tokenize(text: str) -> list[_Token]:
    return [_Token(m.group(0).lower(), m.group(0), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def _norm_phrase(name: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", name.lower()))


def _ngram(tokens: list[_Token], i: int, n: int) -> str | None:
    """The words of tokens[i:i+n] joined by spaces, or None if it runs out or crosses punctuation."""
    span = tokens[i : i + n]
    if len(span) < n or any(t.is_punct for t in span):
        return None
    return " ".join(t.word for t in span)


def _longest_match(
    tokens: list[_Token], i: int, table: Iterable[str] | dict[str, Any]
) -> tuple[str, int] | None:
    for n in range(MAX_NGRAM, 0, -1):
        gram = _ngram(tokens, i, n)
        if gram is not None and gram in table:
            return gram, n
    return None


def _raw(text: str, tokens: list[_Token], i: int, n: int) -> str:
    """The prompt's own spelling of tokens[i:i+n] ("lo-fi", not "lo fi")."""
    return text[tokens[i].start : tokens[i + n - 1].end]


def _fmt(x: float) -> str:
    return f"{x:+.2f}"


def _quote(words: Iterable[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


# ==================================================================================================
# Explicit requests
# ==================================================================================================
_NUM_WORDS = "|".join(
    sorted((re.escape(k).replace(r"\ ", r"[\s-]") for k in lx.NUMBER_WORDS), key=len, reverse=True)
)
_NUM = rf"(\d+(?:\.\d+)?|(?:{_NUM_WORDS})(?![a-z]))"

_TEMPO_RES = (
    re.compile(
        r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:bpm|b\.p\.m\.?|beats?\s+(?:per|a|each)\s+minute)(?![a-z])", re.I
    ),
    re.compile(r"\b(?:tempo|bpm)\s*(?:of|=|:|at|is|around|about|~)?\s*(\d+(?:\.\d+)?)(?![\w.%])", re.I),
)
_CLOCK_RE = re.compile(r"(?<![\d:.])(\d{1,2}):([0-5]\d)(?![\d:])(?!\s*(?:am|pm|a\.m|p\.m|o'clock))", re.I)
_HOURS_RE = re.compile(rf"(?<![\w.]){_NUM}\s*(?:hours?|hrs?)(?![a-z])", re.I)
_MINUTES_RE = re.compile(
    rf"(?<![\w.]){_NUM}(?:[\s-]*(?:minutes?|mins?)|m)(?![a-z])"
    r"(?:\s*(?:and\s+)?(\d{1,2})(?:\s*(?:seconds?|secs?|s))?(?![\w/]|\s*(?:bpm|b\.p\.m|beats|/)))?",
    re.I,
)
_SECONDS_RE = re.compile(rf"(?<![\w.:'’]){_NUM}(\s*-?\s*)(seconds?|secs?|s)(?![a-z])", re.I)
_DECADE_RE = re.compile(r"(?<![\w.])(['’])?(\d{2}|\d{4})s(?![a-z])", re.I)
_METER_RE = re.compile(r"(?<![\d/])(\d{1,2})\s*/\s*(\d{1,2})(?![\d/])")
_IN_COUNT_RE = re.compile(
    r"\bin\s+(3|4|6|three|four|six)\b(?=\s*(?:$|[,.;!?)]|time\b|with\b|and\b|for\b|"
    r"feel\b|please\b|meter\b))",
    re.I,
)
_KEY_RE = re.compile(
    r"(?<![\w#♯♭'’])(?P<prefix>in\s+(?:the\s+)?(?:key\s+of\s+)?|(?:the\s+)?key\s*(?:of|:|=)?\s*)?"
    r"(?P<tonic>[A-G])(?P<acc>#|♯|♭|b(?![a-ln-z])|\s*-?\s*sharp|\s*-?\s*flat)?"
    r"(?P<mode>\s*(?:major|minor|maj|min|ionian|aeolian|dorian|phrygian|lydian|mixolydian|locrian)(?![a-z])"
    r"|m(?![a-z]))?(?![\w#♯])",
    re.I,
)
_MODE_ONLY_RE = re.compile(
    r"\b(?:in\s+)?(?:an?\s+)?(major|minor|dorian|phrygian|lydian|mixolydian|locrian|aeolian|ionian)"
    r"(?:\s+(?:key|tonality|scale|mode)\b|(?<=major|minor)(?=\s*(?:$|[,.;!?])))",
    re.I,
)
_WORD_AFTER_RE = re.compile(r"\s*([a-z]+)", re.I)


@dataclass
class _Explicit:
    values: dict[str, Any] = field(default_factory=dict)  # proposal key -> value
    reasons: dict[str, str] = field(default_factory=dict)
    confidences: dict[str, float] = field(default_factory=dict)
    spans: list[tuple[int, int]] = field(default_factory=list)
    decade: str | None = None

    def set(
        self,
        key: str,
        value: Any,
        reason: str,
        span: tuple[int, int],
        confidence: float = lx.EXPLICIT_CONFIDENCE,
    ) -> None:
        self.spans.append(span)
        if key not in self.values:  # the first request wins; later ones are ignored
            self.values[key] = value
            self.reasons[key] = reason
            self.confidences[key] = confidence

    def taken(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e in self.spans)


def _number(text: str) -> float:
    t = re.sub(r"[\s-]+", " ", text.strip().lower())
    return float(lx.NUMBER_WORDS[t]) if t in lx.NUMBER_WORDS else float(t)


def _word_after(text: str, pos: int) -> str | None:
    m = _WORD_AFTER_RE.match(text, pos)
    return m.group(1).lower() if m else None


def _word_before(text: str, pos: int) -> str | None:
    m = re.search(r"([a-z]+)\W*$", text[:pos], re.I)
    return m.group(1).lower() if m else None


def _check_tempo(bpm: float, said: str) -> None:
    lo, hi = TEMPO_RANGE
    if not lo <= bpm <= hi:
        raise BadInputError(
            f"the prompt asks for {said}; tempo must be {lo:g}-{hi:g} BPM: change the number or pass --tempo"
        )


def _check_duration(seconds: float, said: str) -> None:
    if seconds <= 0 or seconds > MAX_DURATION_S:
        raise BadInputError(
            f"the prompt asks for {said} ({seconds:g} s); duration must be more than 0 and at "
            f"most {MAX_DURATION_S:g} s ({MAX_DURATION_S / 60:g} minutes): change it or pass "
            "--duration"
        )


def _sentence_of(text: str, pos: int) -> str:
    start = max(text.rfind(c, 0, pos) for c in ".!?\n") + 1
    ends = [i for i in (text.find(c, pos) for c in ".!?\n") if i >= 0]
    return text[start : min(ends) if ends else len(text)]


def _parse_tempo(text: str, ex: _Explicit) -> None:
    for pattern in _TEMPO_RES:
        for m in pattern.finditer(text):
            if ex.taken(*m.span()):
                continue
            bpm = float(m.group(1))
            _check_tempo(bpm, f"{bpm:g} BPM")
            ex.set("tempo_bpm", bpm, f"tempo {bpm:g} BPM: prompt says '{m.group(0).strip()}'", m.span())


def _parse_duration(text: str, ex: _Explicit, *, long_text: bool) -> None:
    def is_request(pos: int) -> bool:
        if not long_text:
            return True
        words = set(re.findall(r"[a-z]+", _sentence_of(text, pos).lower()))
        return bool(words & lx.MUSIC_REQUEST_WORDS)

    def add(seconds: float, m: re.Match[str]) -> None:
        said = m.group(0).strip()
        if not is_request(m.start()):
            return
        _check_duration(seconds, f"'{said}'")
        ex.set("duration_s", seconds, f"duration {seconds:g} s: prompt says '{said}'", m.span())

    for m in _CLOCK_RE.finditer(text):
        add(int(m.group(1)) * 60 + int(m.group(2)), m)
    for m in _HOURS_RE.finditer(text):
        add(_number(m.group(1)) * 3600, m)
    for m in _MINUTES_RE.finditer(text):
        if not ex.taken(*m.span()):
            add(_number(m.group(1)) * 60 + (int(m.group(2)) if m.group(2) else 0), m)
    for m in _DECADE_RE.finditer(text):
        if ex.taken(*m.span()):
            continue
        apostrophe, digits = m.group(1), m.group(2)
        n = int(digits)
        plausible = (len(digits) == 2 and n % 10 == 0) or (
            len(digits) == 4 and 1900 <= n <= 2090 and n % 10 == 0
        )
        if not plausible:
            continue
        after, before = _word_after(text, m.end()), _word_before(text, m.start())
        following = _norm_phrase(text[m.end() : m.end() + 40]).split()[:MAX_NGRAM]
        names_music = any(
            " ".join(following[:n]) in _GENRE_TABLE or " ".join(following[:n]) in _INSTRUMENT_TABLE
            for n in range(1, len(following) + 1)
        )
        decade = bool(apostrophe) or len(digits) == 4 or before in {"the", "early", "late", "mid"}
        if not decade and after not in lx.DURATION_FOLLOWERS and before not in lx.DURATION_PRECEDERS:
            decade = (
                after in lx.DECADE_FOLLOWERS or names_music or (n in lx.DEFAULT_DECADES and after is None)
            )
            decade = decade or (n in lx.DEFAULT_DECADES and after not in lx.DURATION_FOLLOWERS)
        if decade:
            full = n if len(digits) == 4 else (1900 + n if n >= 20 else 2000 + n)
            ex.decade = ex.decade or f"{full}s"
            ex.spans.append(m.span())
    for m in _SECONDS_RE.finditer(text):
        if not ex.taken(*m.span()):
            add(_number(m.group(1)), m)


def _parse_meter(text: str, ex: _Explicit) -> None:
    for m in _METER_RE.finditer(text):
        num, den = int(m.group(1)), int(m.group(2))
        if num < 2 or den not in (2, 4, 8, 16) or ex.taken(*m.span()):
            continue
        written = f"{num}/{den}"
        if written in METERS:
            ex.set("meter", written, f"meter {written}: prompt says '{written}'", m.span())
        elif written in lx.METER_EQUIVALENTS:
            meter = lx.METER_EQUIVALENTS[written]
            ex.set(
                "meter", meter, f"meter {meter}: prompt says '{written}', which it plays as {meter}", m.span()
            )
        else:
            raise BadInputError(
                f"the prompt asks for {written} time; supported meters are "
                f"{', '.join(METERS)}: change it or remove it"
            )
    for m in _IN_COUNT_RE.finditer(text):
        meter = lx.COUNT_METERS[m.group(1).lower()]
        ex.set("meter", meter, f"meter {meter}: prompt says '{m.group(0)}'", m.span())


def _parse_key(text: str, ex: _Explicit) -> None:
    for m in _KEY_RE.finditer(text):
        if ex.taken(*m.span()):
            continue
        prefix = (m.group("prefix") or "").lower()
        tonic, acc_raw, mode_raw = m.group("tonic"), m.group("acc") or "", m.group("mode") or ""
        acc = acc_raw.replace("-", "").strip().lower()
        mode_word = mode_raw.strip().lower()
        mode_attached = mode_raw == "m" or mode_raw == "M"
        symbol_acc = acc in {"#", "♯", "♭", "b"}
        if mode_attached and not (tonic.isupper() or acc):
            continue  # "am", "em", "dm": ordinary words
        if mode_attached and not acc and _word_after(text, m.end()) in lx.PRONOUNS:
            continue  # "Am I right?"
        if not prefix and not mode_word:
            if not (symbol_acc and tonic.isupper()):
                continue  # bare letters and "a flat tire" are not keys
        if prefix and not (mode_word or acc or tonic.isupper() or "key" in prefix):
            continue  # "in a forest"
        if tonic.lower() == "a" and not acc and mode_word in {"major", "minor"}:
            after = _word_after(text, m.end())
            if after in lx.KEY_MODE_NOUNS and tonic == "a":
                ex.set(
                    "mode",
                    mode_word,
                    f"mode {mode_word}: prompt says '{m.group(0).strip()} {after}'",
                    (m.start(), m.end() + len(after) + 1),
                )
                continue
            article = tonic == "a" or m.start() == 0 or text[: m.start()].rstrip().endswith((".", "!", "?"))
            if article and not prefix and after is not None and after not in lx.KEY_CONFIRMING_FOLLOWERS:
                continue  # "a minor setback", "A major storm"
        acc = {"♯": "#", "sharp": "#", "♭": "b", "flat": "b"}.get(acc, acc)
        mode = "minor" if mode_attached else (MODE_ALIASES.get(mode_word, mode_word) or "major")
        key: KeySpec = parse_key(f"{tonic}{acc} {mode}")
        ex.set("key", key, f"key {key}: prompt says '{m.group(0).strip()}'", m.span())
    if "key" in ex.values:
        return
    for m in _MODE_ONLY_RE.finditer(text):
        if ex.taken(*m.span()):
            continue
        mode = MODE_ALIASES[m.group(1).lower()]
        ex.set("mode", mode, f"mode {mode}: prompt says '{m.group(0).strip()}'", m.span())


def _parse_explicit(text: str, *, long_text: bool) -> _Explicit:
    ex = _Explicit()
    _parse_tempo(text, ex)
    _parse_duration(text, ex, long_text=long_text)
    _parse_meter(text, ex)
    _parse_key(text, ex)
    return ex


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


# ==================================================================================================
# Instruments and genres
# ==================================================================================================
def _instrument_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for name in known_instrument_names():
        norm = _norm_phrase(name)
        if norm and norm not in table:
            table[norm] = resolve_instrument(name)
    return table


_INSTRUMENT_TABLE = _instrument_table()
_GENRE_TABLE: dict[str, str] = {_norm_phrase(k): resolve_genre(k) for k in GENRE_ALIASES}


def _instrument_at(tokens: list[_Token], i: int) -> tuple[str, str, int] | None:
    """(canonical name, words matched, token count) of an instrument named at tokens[i], if any."""
    for n in range(MAX_NGRAM, 0, -1):
        gram = _ngram(tokens, i, n)
        if gram is None:
            continue
        for form in (
            gram,
            gram[:-1] if gram.endswith("s") else None,
            gram[:-2] if gram.endswith("es") else None,
        ):
            if form and form in _INSTRUMENT_TABLE:
                return _INSTRUMENT_TABLE[form], gram, n
        if n == 1 and gram.endswith(lx.LESS_SUFFIX):  # "drumless"
            base = gram[: -len(lx.LESS_SUFFIX)]
            if base in _INSTRUMENT_TABLE:
                return _INSTRUMENT_TABLE[base], gram, 1
    return None


def _requested(tokens: list[_Token], i: int) -> bool:
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
class _InstrumentReading:
    add: list[str] = field(default_factory=list)
    only: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)  # in a story, not asked for
    words: dict[str, list[str]] = field(default_factory=dict)  # proposal key -> words that said it
    consumed: set[int] = field(default_factory=set)


def _read_instruments(
    text: str, tokens: list[_Token], *, short: bool, skip: frozenset[int] = frozenset()
) -> _InstrumentReading:
    mentions: list[_Mention] = []
    i = 0
    while i < len(tokens):
        found = None if i in skip else _instrument_at(tokens, i)
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
        mentions.append(_Mention(name, words, _raw(text, tokens, i, n), i, i + n, requested))
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

    reading = _InstrumentReading()
    featured: list[str] = []  # "piano solo": the whole ensemble, unless other instruments are asked for
    for group, mode in zip(groups, modes, strict=True):
        last = group[-1]
        after = tokens[last.end].word if last.end < len(tokens) else None
        if after in lx.ONLY_SUFFIXES and mode == "add":
            mode = "only"
            if after == "solo":
                featured += [m.name for m in group]
        if after in lx.EXCLUDE_SUFFIXES or any(
            m.words.endswith(lx.LESS_SUFFIX) and m.words not in _INSTRUMENT_TABLE for m in group
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


def _group_mode(tokens: list[_Token], first: _Mention) -> str:
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
class _GenreHit:
    genre: str
    words: str
    confidence: float


def _read_genres(text: str, tokens: list[_Token], consumed: set[int]) -> tuple[list[_GenreHit], set[int]]:
    hits: list[_GenreHit] = []
    used: set[int] = set()
    i = 0
    while i < len(tokens):
        if i in consumed:
            i += 1
            continue
        match = _longest_match(tokens, i, _GENRE_TABLE)
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
            _GenreHit(
                _GENRE_TABLE[words],
                _raw(text, tokens, i, n),
                lx.GENRE_WEAK_CONFIDENCE if weak else lx.EXPLICIT_CONFIDENCE,
            )
        )
        if not weak:  # "chill" and "epic" are mood words too
            used.update(range(i, i + n))
        i += n
    return hits, used


# ==================================================================================================
# Mood and scene words
# ==================================================================================================
@dataclass
class _WordHit:
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


def _modifiers(tokens: list[_Token], i: int) -> tuple[float, bool]:
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
class _LexiconReading:
    hits: list[_WordHit] = field(default_factory=list)
    tempo: list[tuple[str, lx.TempoWord]] = field(default_factory=list)
    register: list[tuple[str, float]] = field(default_factory=list)
    density: list[tuple[str, float]] = field(default_factory=list)
    meter: tuple[str, str] | None = None  # (word, meter)


def _read_words(tokens: list[_Token], skip: set[int]) -> _LexiconReading:
    out = _LexiconReading()
    i = 0
    while i < len(tokens):
        if i in skip or tokens[i].is_punct:
            i += 1
            continue
        tempo = _longest_match(tokens, i, lx.TEMPO_WORDS)
        if tempo is not None:
            out.tempo.append((tempo[0], lx.TEMPO_WORDS[tempo[0]]))
            i += tempo[1]
            continue
        meter = _longest_match(tokens, i, lx.METER_WORDS)
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
            out.hits.append(_WordHit(found[0], found[1], scale, negated))
        i += 1
    return out


# ==================================================================================================
# Ensembles, named forms and timelines
# ==================================================================================================
@dataclass
class _Ensemble:
    noun: str  # "trio", "band", "big band"
    qualifier: str  # "string", "jazz", "" when bare
    instruments: tuple[str, ...]  # fixed by the words themselves; empty: the genre decides
    genre: str | None
    said: str
    tokens: set[int]  # qualifier and noun, kept from the instrument reader ("piano trio" is not piano)


def _read_ensemble(text: str, tokens: list[_Token]) -> _Ensemble | None:
    """The first ensemble word ("a jazz trio", "string quartet", "big band", "orchestra"), if any."""
    for i, t in enumerate(tokens):
        two = _ngram(tokens, i, 2)
        if two in lx.ENSEMBLE_OPEN:
            noun, n = two, 2
        elif t.word in lx.ENSEMBLE_SIZES or t.word in lx.ENSEMBLE_OPEN:
            noun, n = t.word, 1
        else:
            continue
        if noun in ("band", "combo") and i + 1 < len(tokens) and tokens[i + 1].word in ("of", "in"):
            continue  # "a band of thieves"
        qualifier = tokens[i - 1].word if i > 0 and not tokens[i - 1].is_punct else ""
        known = lx.NAMED_ENSEMBLES.get((qualifier, noun))
        if known is None and qualifier + "s" in ("strings",):
            known = lx.NAMED_ENSEMBLES.get(("string", noun))
        used = set(range(i, i + n))
        if known is not None:
            used.add(i - 1)
            said = _raw(text, tokens, i - 1, n + 1)
            return _Ensemble(noun, qualifier, known[0], known[1], said, used)
        if ("", noun) in lx.NAMED_ENSEMBLES:
            instruments, genre = lx.NAMED_ENSEMBLES[("", noun)]
            return _Ensemble(noun, "", instruments, genre, _raw(text, tokens, i, n), used)
        return _Ensemble(noun, qualifier, (), None, _raw(text, tokens, i, n), used)
    return None


def _read_form(tokens: list[_Token]) -> tuple[str, lx.NamedForm] | None:
    """The first named form ("lullaby", "funeral march", "Christmas carol"), longest phrase first."""
    for i in range(len(tokens)):
        found = _longest_match(tokens, i, lx.NAMED_FORMS)
        if found is not None:
            return found[0], lx.NAMED_FORMS[found[0]]
    return None


def _phrase_re(phrases: Iterable[str]) -> str:
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True))


_ENTER_RE = re.compile(rf"\b(?:{_phrase_re(lx.ENTER_VERBS)})\b", re.I)
_EXIT_RE = re.compile(rf"\b(?:{_phrase_re(lx.EXIT_VERBS)})\b", re.I)
_BRING_RE = re.compile(rf"\b(?:{_phrase_re(lx.BRING_VERBS)})\b", re.I)
_START_RE = re.compile(rf"\b(?:{_phrase_re(lx.START_VERBS)})(?:\s+off)?\s+(?:with|on|in)\b", re.I)
_START_QUIET_RE = re.compile(rf"\b(?:{_phrase_re(lx.START_VERBS)})(?:\s+off)?\s+(?P<how>[a-z]+)", re.I)
_END_RE = re.compile(rf"\b(?:{_phrase_re(lx.END_VERBS)})\b", re.I)
_FADE_END_RE = re.compile(rf"\b(?:{_phrase_re(lx.FADE_END_WORDS)})\b", re.I)
_BUILD_RE = re.compile(rf"\b(?:{_phrase_re(lx.BUILD_WORDS)})\b", re.I)
_CLIMAX_RE = re.compile(rf"\b(?:{_phrase_re(lx.CLIMAX_WORDS)})\b", re.I)
_SECTION_RE = re.compile(rf"\b(?:{_phrase_re(lx.SECTION_NOUNS)})\b", re.I)
_DROP_RE = re.compile(r"\b(?:the\s+)?(?:beat|bass|drums?)\s+drops?\b(?!\s+out)|\bthe\s+drop\b", re.I)


def _clause_bounds(tokens: list[_Token], start: int, end: int) -> tuple[int, int]:
    """Character span of the clause around [start, end): it stops at punctuation and linking words."""
    left = 0
    right = tokens[-1].end if tokens else end
    for t in tokens:
        if t.end <= start and (t.is_punct or t.word in lx.CLAUSE_BREAKS):
            left = t.end
        if t.start >= end and (t.is_punct or t.word in lx.CLAUSE_BREAKS):
            right = t.start
            break
    return left, right


def _instruments_between(tokens: list[_Token], start: int, end: int) -> tuple[list[str], set[int]]:
    """Instruments named between two character offsets, ambiguous words included ("strings join")."""
    names: list[str] = []
    used: set[int] = set()
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.start < start or t.end > end:
            i += 1
            continue
        found = _instrument_at(tokens, i)
        if found is None or tokens[i + found[2] - 1].end > end:
            i += 1
            continue
        if found[0] not in names:
            names.append(found[0])
        used.update(range(i, i + found[2]))
        i += found[2]
    return names, used


@dataclass
class _Timeline:
    events: list[dict[str, Any]] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)  # instrument words read as timeline, not as the line-up

    def add(self, pos: int, action: str, at: str, said: str, instruments: list[str] | None = None) -> None:
        self.events.append(
            {
                "pos": pos,
                "action": action,
                "at": at,
                "instruments": list(instruments or []),
                "said": " ".join(said.split()),
            }
        )


def _read_timeline(
    text: str, tokens: list[_Token], instruments: _InstrumentReading | None = None
) -> _Timeline:
    """Section changes the prompt describes, in the order it tells them.

    Each event: ``action`` ("only", "enter", "exit", "climax", "build", "quiet_start", "quiet_end"),
    ``at`` ("start", "next", "end"), the ``instruments`` it moves and the words that said it.
    """
    tl = _Timeline()
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return not any(x < b and a < y for x, y in taken)

    for m in _START_RE.finditer(text):
        _, right = _clause_bounds(tokens, m.end(), m.end())
        names, used = _instruments_between(tokens, m.end(), right)
        rest = set(_norm_phrase(text[m.end() : right]).split())
        if names:
            tl.add(m.start(), "only", "start", text[m.start() : right], names)
            tl.consumed |= used
        if rest & lx.QUIET_WORDS:
            tl.add(m.start(), "quiet_start", "start", text[m.start() : right])
        taken.append((m.start(), right))
    for m in _START_QUIET_RE.finditer(text):
        if free(*m.span()) and m.group("how").lower() in lx.QUIET_WORDS:
            tl.add(m.start(), "quiet_start", "start", m.group(0))
            taken.append(m.span())
    for m in _SECTION_RE.finditer(text):
        word = m.group(0).lower()
        before = _word_before(text, m.start())
        if not free(*m.span()) or before is None:
            continue
        closing = word in ("outro", "ending", "coda")
        if before in lx.QUIET_WORDS or before in ("piano", "solo"):
            tl.add(
                m.start(),
                "quiet_end" if closing else "quiet_start",
                "end" if closing else "start",
                f"{before} {word}",
            )
            taken.append(m.span())
    for m in _DROP_RE.finditer(text):
        if free(*m.span()):
            tl.add(m.start(), "enter", "next", m.group(0), ["Drums"])
            taken.append(m.span())
    for regex, action in ((_ENTER_RE, "enter"), (_EXIT_RE, "exit")):
        for m in regex.finditer(text):
            if not free(*m.span()):
                continue
            left, _ = _clause_bounds(tokens, m.start(), m.end())
            names, used = _instruments_between(tokens, left, m.start())
            if names:
                tl.add(m.start(), action, "next", text[left : m.end()], names)
                tl.consumed |= used
                taken.append((left, m.end()))
            elif action == "exit" and m.group(0).lower().startswith("fade"):
                tl.add(m.start(), "quiet_end", "end", m.group(0))
                taken.append(m.span())
    for m in _BRING_RE.finditer(text):
        _, right = _clause_bounds(tokens, m.end(), m.end())
        names, used = _instruments_between(tokens, m.end(), right)
        before = _word_before(text, m.start())
        if names and free(m.start(), right) and before in lx.CLAUSE_BREAKS | {None}:
            tl.add(m.start(), "enter", "next", text[m.start() : right], names)
            tl.consumed |= used
            taken.append((m.start(), right))
    for m in _CLIMAX_RE.finditer(text):
        if free(*m.span()):
            tl.add(m.start(), "climax", "end", m.group(0))
            taken.append(m.span())
            break
    if not any(e["action"] == "climax" for e in tl.events):
        for m in _BUILD_RE.finditer(text):
            if free(*m.span()):
                tl.add(m.start(), "build", "end", m.group(0))
                taken.append(m.span())
                break
    for m in _END_RE.finditer(text):
        _, right = _clause_bounds(tokens, m.end(), m.end())
        words = _norm_phrase(text[m.end() : right]).split()
        if not free(m.start(), right) or not words:
            continue
        names, used = _instruments_between(tokens, m.end(), right)
        if set(words[:3]) & lx.QUIET_WORDS:
            tl.add(m.start(), "quiet_end", "end", text[m.start() : right])
        if names and words[0] in ("on", "with") or (names and set(words[:3]) & lx.QUIET_WORDS):
            tl.add(m.start() + 1, "only", "end", text[m.start() : right], names)
            tl.consumed |= used
        taken.append((m.start(), right))
    for m in _FADE_END_RE.finditer(text):
        if free(*m.span()):
            tl.add(m.start(), "quiet_end", "end", m.group(0))
    tl.events.sort(key=lambda e: e["pos"])
    # "solo piano, then strings join", "a cello melody, then the strings come in": the players named before
    # the first change are the opening's line-up.
    changes = [e for e in tl.events if e["action"] in ("enter", "exit")]
    if changes and not any(e["action"] == "only" and e["at"] == "start" for e in tl.events):
        first = changes[0]["pos"]
        left, _ = _clause_bounds(tokens, first, first)
        then_at = max((t.start for t in tokens if t.end <= left and t.word == "then"), default=None)
        head_end = then_at if then_at is not None else left
        names, _ = _instruments_between(tokens, 0, head_end)
        names = [
            n for n in names if not any(n in e["instruments"] for e in changes if e["action"] == "enter")
        ]
        if names:
            tl.add(-1, "only", "start", text[:head_end].rstrip(" ,;"), names)
            tl.events.sort(key=lambda e: e["pos"])
    return tl


def _timeline_summary(events: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{e['action']}{' ' + '+'.join(e['instruments']) if e['instruments'] else ''} ({e['at']})"
        for e in events
    )


# ==================================================================================================
# Assembly
# ==================================================================================================
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


def _hit_label(h: _WordHit) -> str:
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
        round(_clip(value), 3), round(conf, 3), f"{name} {_fmt(value)}: " + "; ".join(r for *_, r in parts)
    )


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _join_phrases(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= INPUT_PREVIEW_CHARS else flat[: INPUT_PREVIEW_CHARS - 1].rstrip() + "…"


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
    n_words = len(text.split())
    short = n_words <= lx.SHORT_PROMPT_WORDS

    ex = _parse_explicit(text, long_text=not short)
    masked = _mask(text, ex.spans)
    tokens = _tokenize(masked)
    timeline = _read_timeline(masked, tokens)
    ensemble = _read_ensemble(text, tokens)
    form = _read_form(tokens)
    apart = timeline.consumed | (ensemble.tokens if ensemble else set())
    instruments = _read_instruments(text, tokens, short=short, skip=frozenset(apart))
    genre_hits, genre_used = _read_genres(text, tokens, instruments.consumed)
    words = _read_words(tokens, instruments.consumed | genre_used)

    proposals: dict[str, Proposal] = {}
    measurements: dict[str, Any] = {}

    # --- explicit values -----------------------------------------------------------------------
    for key, value in ex.values.items():
        proposals[key] = Proposal(value, ex.confidences[key], ex.reasons[key])
    if "meter" not in proposals and words.meter is not None:
        word, meter = words.meter
        proposals["meter"] = Proposal(meter, lx.METER_WORD_CONFIDENCE, f"meter {meter}: prompt says '{word}'")
    explicit_record = {k: (str(v) if isinstance(v, KeySpec) else v) for k, v in ex.values.items()}
    if "meter" in proposals and "meter" not in explicit_record:
        explicit_record["meter"] = proposals["meter"].value
    if ex.decade:
        measurements["decade"] = ex.decade

    for key, names in (
        ("instruments_only", instruments.only),
        ("instruments_add", instruments.add),
        ("instruments_exclude", instruments.exclude),
    ):
        if names:
            said = _quote(_dedupe(instruments.words[key]))
            proposals[key] = Proposal(
                list(names),
                lx.EXPLICIT_CONFIDENCE,
                f"{key.removeprefix('instruments_')} {', '.join(names)}: prompt says {said}",
            )
            explicit_record[key] = list(names)

    if ensemble is not None:
        proposals["ensemble"] = Proposal(
            {
                "noun": ensemble.noun,
                "qualifier": ensemble.qualifier,
                "instruments": list(ensemble.instruments),
            },
            lx.EXPLICIT_CONFIDENCE,
            f"ensemble: prompt says '{ensemble.said}'",
        )
        explicit_record["ensemble"] = ensemble.said
    if timeline.events:
        events = [{k: v for k, v in e.items() if k != "pos"} for e in timeline.events]
        proposals["timeline"] = Proposal(
            events,
            lx.EXPLICIT_CONFIDENCE,
            "timeline: prompt says " + _quote(_dedupe(e["said"] for e in events)),
        )
        measurements["timeline"] = _timeline_summary(events)
    if form is not None:
        said, nf = form
        proposals["form"] = Proposal(
            {"name": nf.name, "ensemble": list(nf.ensemble), "drums": nf.drums},
            lx.FORM_CONFIDENCE,
            f"form {nf.name}: prompt says '{said}'",
        )
        if nf.meter and "meter" not in proposals:
            proposals["meter"] = Proposal(
                nf.meter, lx.FORM_CONFIDENCE, f"meter {nf.meter}: a {said} is in {nf.meter}"
            )
            explicit_record["meter"] = nf.meter

    strong_genres = [h for h in genre_hits if h.confidence >= lx.EXPLICIT_CONFIDENCE]
    if genre_hits:
        best = (strong_genres or genre_hits)[0]
        proposals["genre"] = Proposal(
            best.genre, best.confidence, f"genre {best.genre}: prompt says '{best.words}'"
        )
        measurements["genre_words"] = {h.words: h.genre for h in genre_hits}
        if best.confidence >= lx.EXPLICIT_CONFIDENCE:
            explicit_record["genre"] = best.genre
    measurements["explicit"] = explicit_record

    # --- lexicon ----------------------------------------------------------------------------------
    hits = words.hits
    measurements["words"] = [
        {"word": _hit_label(h), "valence": round(h.valence, 2), "arousal": round(h.arousal, 2)}
        | ({"scale": h.scale} if h.scale != 1.0 else {})
        for h in hits
    ]
    lex_valence = lex_arousal = None
    story_factor = 1.0 if short else lx.LEXICON_STORY_FACTOR
    if hits:
        conf = _lexicon_confidence(len(hits)) * story_factor
        v = _salience_mean([h.valence for h in hits])
        named = _quote(_dedupe(_hit_label(h) for h in hits)[:4])
        lex_valence = (v, conf, f"{named} in the prompt")
    arousal_sources = [(h.arousal, _hit_label(h)) for h in hits] + [(t.arousal, w) for w, t in words.tempo]
    if arousal_sources:
        conf = _lexicon_confidence(len(arousal_sources)) * story_factor
        a = _salience_mean([x for x, _ in arousal_sources])
        named = _quote(_dedupe(w for _, w in arousal_sources)[:4])
        lex_arousal = (a, conf, f"{named} in the prompt")
    if lex_valence or lex_arousal:
        measurements["lexicon"] = {
            k: round(p[0], 3)
            for k, p in (("valence", lex_valence), ("arousal", lex_arousal))
            if p is not None
        }

    if words.tempo:
        word, tw = words.tempo[0]
        proposals["tempo_bpm"] = proposals.get("tempo_bpm") or Proposal(
            float(tw.tempo_bpm), lx.TEMPO_WORD_CONFIDENCE, f"tempo {tw.tempo_bpm:g} BPM: prompt says '{word}'"
        )
        measurements["tempo_words"] = [w for w, _ in words.tempo]
    for key, found in (("register", words.register), ("density", words.density)):
        if found:
            value = round(_mean([x for _, x in found]), 3)
            proposals[key] = Proposal(
                value,
                lx.TEXTURE_WORD_CONFIDENCE,
                f"{key} {value:g}: prompt says {_quote(w for w, _ in found)}",
            )

    # --- sentence model ---------------------------------------------------------------------------
    sem_valence = sem_arousal = None
    setting_tags: list[str] = []
    setting_phrase: str | None = None
    semantic_genre: tuple[str, float] | None = None
    semantic_setting: tuple[Any, float] | None = None
    semantic_tag: str | None = None
    descriptive = [
        t
        for k, t in enumerate(tokens)
        if not t.is_punct
        and t.word not in lx.STOPWORDS
        and k not in instruments.consumed
        and k not in genre_used
        and t.word.isalpha()
    ]
    method = "lexicon"
    if use_semantic and descriptive:
        from weavewave.perceive import semantic as sem

        method = "lexicon+minilm"
        # Genre and instrument words are read exactly above; left in, they drag the scene reading ("lo-fi
        # hip hop" reads as a party), so the sentence model sees the text without them.
        read_apart = instruments.consumed | genre_used | apart
        sem_text = " ".join(_mask(masked, [(tokens[k].start, tokens[k].end) for k in read_apart]).split())
        reading = sem.read(sem_text, temperature=lx.SEMANTIC_TEMPERATURE)
        top_mood, top_cos = reading.mood_matches[0]
        top_setting, top_setting_cos = reading.setting_matches[0]
        anchor, anchor_cos = max(
            ((top_mood.text, top_cos), (top_setting.texts[0], top_setting_cos)), key=lambda p: p[1]
        )
        conf = _semantic_confidence(anchor_cos)
        closest = f"{'story' if not short else 'text'} reads closest to '{anchor}' (cos {anchor_cos:.2f})"
        if conf > 0:
            sem_valence = (reading.valence, conf, closest)
            sem_arousal = (reading.arousal, conf, closest)
        k = lx.SEMANTIC_TOP_K
        measurements["semantic"] = {
            "valence": round(reading.valence, 3),
            "arousal": round(reading.arousal, 3),
            "chunks": reading.chunks,
            "moods": [{"prototype": m.text, "cos": round(c, 3)} for m, c in reading.mood_matches[:k]],
            "genres": [{"genre": g, "cos": round(c, 3)} for g, c in reading.genre_matches[:k]],
            "settings": [{"setting": s.name, "cos": round(c, 3)} for s, c in reading.setting_matches[:k]],
        }
        (g1, c1), (_, c2) = reading.genre_matches[0], reading.genre_matches[1]
        if c1 >= lx.SEMANTIC_GENRE_MIN_COS and c1 - c2 >= lx.SEMANTIC_GENRE_MARGIN:
            semantic_genre = (g1, c1)
        (s1, sc1), (_, sc2) = reading.setting_matches[0], reading.setting_matches[1]
        if (
            sc1 >= lx.SEMANTIC_SETTING_MIN_COS
            and sc1 - sc2 >= lx.SEMANTIC_SETTING_MARGIN
            and _agrees(s1.valence, s1.arousal, lex_valence, lex_arousal)
        ):
            setting_tags = list(s1.tags)
            setting_phrase = s1.phrase
            measurements["setting"] = s1.name
            semantic_setting = (s1, sc1)
        if (
            sem_valence is not None
            and top_cos >= lx.SEMANTIC_TAG_MIN_COS
            and _agrees(top_mood.valence, top_mood.arousal, lex_valence, lex_arousal)
        ):
            semantic_tag = top_mood.tag
    measurements["method"] = method

    feeling = any(h.word in lx.MOOD_WORDS and not h.negated for h in hits)
    for name, lex, sem_p in (("valence", lex_valence, sem_valence), ("arousal", lex_arousal, sem_arousal)):
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
        a = proposals["arousal"]
        energy = round((a.value + 1.0) / 2.0, 3)
        proposals["energy"] = Proposal(
            energy,
            round(a.confidence * lx.ENERGY_FROM_AROUSAL_CONFIDENCE, 3),
            f"energy {energy:.2f}: follows arousal {_fmt(a.value)}",
        )

    # --- tags, caption, suggestions ------------------------------------------------------------------
    ordered_hits = sorted((h for h in hits if not h.negated), key=lambda h: -abs(h.valence) - abs(h.arousal))
    lexicon_tags = [t for h in ordered_hits for t in h.entry.tags]
    model_tags = ([semantic_tag] if semantic_tag else []) + setting_tags
    tags = lexicon_tags + model_tags if short else model_tags + lexicon_tags
    if ex.decade:
        tags.append(ex.decade)
    tags = _dedupe(tags)[: lx.MAX_MOOD_TAGS]
    if tags:
        proposals["mood_tags"] = Proposal(
            tags,
            _mood_tag_confidence(proposals),
            f"mood tags from {_tag_sources(hits, semantic_setting, semantic_tag, ex.decade)}",
        )

    phrases = _dedupe(h.entry.phrase for h in hits if h.entry.phrase and not h.negated)[
        : lx.MAX_CAPTION_PHRASES
    ]
    if phrases and (short or not semantic_setting):
        hint = f"evoking {_join_phrases(phrases)}"
        proposals["caption_hint"] = Proposal(
            hint, lx.LEXICON_MAX_CONFIDENCE, f"caption: scene words {_quote(phrases)} in the prompt"
        )
    elif setting_phrase and semantic_setting:
        hint = f"evoking {setting_phrase}"
        proposals["caption_hint"] = Proposal(
            hint,
            lx.SEMANTIC_SETTING_CONFIDENCE,
            f"caption: text reads closest to the '{semantic_setting[0].name}' setting (cos {semantic_setting[1]:.2f})",
        )

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
    if form is not None and form[1].tempo_range and "tempo_bpm" not in ex.values:
        lo, hi = form[1].tempo_range
        a = proposals["arousal"].value if "arousal" in proposals else 0.0
        bpm = float(round(lo + (hi - lo) * (a + 1.0) / 2.0))
        proposals["tempo_bpm"] = Proposal(
            bpm, lx.FORM_TEMPO_CONFIDENCE, f"tempo {bpm:g} BPM: a {form[0]} is played at {lo:g}-{hi:g} BPM"
        )
    if "genre" not in proposals:
        votes: dict[str, list[str]] = {}
        for h in hits:
            if h.entry.genre and not h.negated:
                votes.setdefault(h.entry.genre, []).append(h.word)
        if votes:
            genre, said = max(votes.items(), key=lambda kv: len(kv[1]))
            conf = lx.GENRE_HINT_CONFIDENCE
            reason = f"genre {genre}: {_quote(_dedupe(said))} in the prompt suggest it"
            if semantic_genre and semantic_genre[0] == genre:
                conf = max(conf, lx.SEMANTIC_GENRE_CONFIDENCE) + lx.COMBINED_SECOND_OPINION * conf
                reason += f"; the text also reads closest to {genre} (cos {semantic_genre[1]:.2f})"
            proposals["genre"] = Proposal(genre, round(min(conf, lx.COMBINED_MAX_CONFIDENCE), 3), reason)
        elif semantic_genre:
            genre, cos = semantic_genre
            proposals["genre"] = Proposal(
                genre,
                lx.SEMANTIC_GENRE_CONFIDENCE,
                f"genre {genre}: text reads closest to {genre} prototypes (cos {cos:.2f})",
            )

    taken = set(instruments.add) | set(instruments.only) | set(instruments.exclude)
    why: dict[str, list[str]] = {}  # reason -> instruments
    if instruments.mentioned:
        said = _quote(_dedupe(instruments.words.get("instruments_suggest", [])))
        why[f"the text mentions {said}"] = list(instruments.mentioned)
    for h in hits:
        if not h.negated and h.entry.instruments:
            why.setdefault(f"suit '{h.word}'", []).extend(h.entry.instruments)
    if semantic_setting:
        why.setdefault(f"suit the '{semantic_setting[0].name}' setting", []).extend(
            semantic_setting[0].instruments
        )
    suggest: list[str] = []
    parts: list[str] = []
    for reason, names in why.items():
        fresh = [n for n in _dedupe(names) if n not in taken and n not in suggest]
        if fresh:
            suggest += fresh
            parts.append(f"{', '.join(fresh)} {reason}")
    if suggest:
        conf = lx.INSTRUMENT_MENTION_CONFIDENCE if instruments.mentioned else lx.INSTRUMENT_HINT_CONFIDENCE
        proposals["instruments_suggest"] = Proposal(
            suggest, conf, f"suggest {', '.join(suggest)}: {'; '.join(parts)}"
        )

    summary = _summary(n_words, proposals, method, explicit_record, measurements.get("setting"))
    observation = Observation(source="text", input=_preview(text), summary=summary, measurements=measurements)
    return Perception(observation=observation, proposals=proposals)


def _mood_tag_confidence(proposals: dict[str, Proposal]) -> float:
    confs = [proposals[k].confidence for k in ("valence", "arousal") if k in proposals]
    return round(max(confs), 3) if confs else lx.INSTRUMENT_HINT_CONFIDENCE


def _tag_sources(
    hits: list[_WordHit], setting: tuple[Any, float] | None, semantic_tag: str | None, decade: str | None
) -> str:
    parts = []
    if hits:
        parts.append(f"{_quote(_dedupe(h.word for h in hits)[:4])} in the prompt")
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
            + " ".join(f"{k} {_fmt(p.value)}" for k, p in (("valence", v), ("arousal", a)) if p is not None)
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
