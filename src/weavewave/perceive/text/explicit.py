"""Explicit requests in a text: tempo, duration, meter, key and mode, with their spans."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from weavewave.brief import MAX_DURATION_S, TEMPO_RANGE
from weavewave.errors import BadInputError
from weavewave.music.theory import METERS, MODE_ALIASES, KeySpec, parse_key
from weavewave.perceive import lexicon as lx
from weavewave.perceive.text.instruments import GENRE_TABLE, INSTRUMENT_TABLE
from weavewave.perceive.text.tokens import MAX_NGRAM, norm_phrase

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
class ExplicitRequests:
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


def word_before(text: str, pos: int) -> str | None:
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


def _parse_tempo(text: str, ex: ExplicitRequests) -> None:
    for pattern in _TEMPO_RES:
        for m in pattern.finditer(text):
            if ex.taken(*m.span()):
                continue
            bpm = float(m.group(1))
            _check_tempo(bpm, f"{bpm:g} BPM")
            ex.set("tempo_bpm", bpm, f"tempo {bpm:g} BPM: prompt says '{m.group(0).strip()}'", m.span())


def _parse_duration(text: str, ex: ExplicitRequests, *, long_text: bool) -> None:
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
        after, before = _word_after(text, m.end()), word_before(text, m.start())
        following = norm_phrase(text[m.end() : m.end() + 40]).split()[:MAX_NGRAM]
        names_music = any(
            " ".join(following[:n]) in GENRE_TABLE or " ".join(following[:n]) in INSTRUMENT_TABLE
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


def _parse_meter(text: str, ex: ExplicitRequests) -> None:
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


def _parse_key(text: str, ex: ExplicitRequests) -> None:
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


def parse_explicit(text: str, *, long_text: bool) -> ExplicitRequests:
    ex = ExplicitRequests()
    _parse_tempo(text, ex)
    _parse_duration(text, ex, long_text=long_text)
    _parse_meter(text, ex)
    _parse_key(text, ex)
    return ex


def mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)
