"""Ensembles, named forms and timelines ("the strings enter, then the drums drop") in a text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from weavewave.perceive import lexicon as lx
from weavewave.perceive.text.explicit import word_before
from weavewave.perceive.text.instruments import InstrumentReading, instrument_at
from weavewave.perceive.text.tokens import Token, longest_match, ngram, norm_phrase, text_raw


@dataclass
class EnsembleReading:
    noun: str  # "trio", "band", "big band"
    qualifier: str  # "string", "jazz", "" when bare
    instruments: tuple[str, ...]  # fixed by the words themselves; empty: the genre decides
    genre: str | None
    said: str
    tokens: set[int]  # qualifier and noun, kept from the instrument reader ("piano trio" is not piano)


def read_ensemble(text: str, tokens: list[Token]) -> EnsembleReading | None:
    """The first ensemble word ("a jazz trio", "string quartet", "big band", "orchestra"), if any."""
    for i, t in enumerate(tokens):
        two = ngram(tokens, i, 2)
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
            said = text_raw(text, tokens, i - 1, n + 1)
            return EnsembleReading(noun, qualifier, known[0], known[1], said, used)
        if ("", noun) in lx.NAMED_ENSEMBLES:
            instruments, genre = lx.NAMED_ENSEMBLES[("", noun)]
            return EnsembleReading(noun, "", instruments, genre, text_raw(text, tokens, i, n), used)
        return EnsembleReading(noun, qualifier, (), None, text_raw(text, tokens, i, n), used)
    return None


def read_form(tokens: list[Token]) -> tuple[str, lx.NamedForm] | None:
    """The first named form ("lullaby", "funeral march", "Christmas carol"), longest phrase first."""
    for i in range(len(tokens)):
        found = longest_match(tokens, i, lx.NAMED_FORMS)
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


def _clause_bounds(tokens: list[Token], start: int, end: int) -> tuple[int, int]:
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


def _instruments_between(tokens: list[Token], start: int, end: int) -> tuple[list[str], set[int]]:
    """Instruments named between two character offsets, ambiguous words included ("strings join")."""
    names: list[str] = []
    used: set[int] = set()
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.start < start or t.end > end:
            i += 1
            continue
        found = instrument_at(tokens, i)
        if found is None or tokens[i + found[2] - 1].end > end:
            i += 1
            continue
        if found[0] not in names:
            names.append(found[0])
        used.update(range(i, i + found[2]))
        i += found[2]
    return names, used


@dataclass
class TimelineReading:
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


@dataclass
class _TimelineReader:
    """State shared by the steps of :func:`read_timeline`: the text, the events so far, the spans read."""

    text: str
    tokens: list[Token]
    tl: TimelineReading = field(default_factory=TimelineReading)
    taken: list[tuple[int, int]] = field(default_factory=list)  # character spans already read

    def free(self, a: int, b: int) -> bool:
        return not any(x < b and a < y for x, y in self.taken)

    def clause_after(self, m: re.Match[str]) -> tuple[int, list[str], set[int]]:
        """End of the clause after a match, with the instruments named in it."""
        _, right = _clause_bounds(self.tokens, m.end(), m.end())
        names, used = _instruments_between(self.tokens, m.end(), right)
        return right, names, used


def _read_starts(r: _TimelineReader) -> None:
    """Opening line-up and quiet start ("starts with piano", "opens on a quiet cello")."""
    for m in _START_RE.finditer(r.text):
        right, names, used = r.clause_after(m)
        rest = set(norm_phrase(r.text[m.end() : right]).split())
        if names:
            r.tl.add(m.start(), "only", "start", r.text[m.start() : right], names)
            r.tl.consumed |= used
        if rest & lx.QUIET_WORDS:
            r.tl.add(m.start(), "quiet_start", "start", r.text[m.start() : right])
        r.taken.append((m.start(), right))
    for m in _START_QUIET_RE.finditer(r.text):
        if r.free(*m.span()) and m.group("how").lower() in lx.QUIET_WORDS:
            r.tl.add(m.start(), "quiet_start", "start", m.group(0))
            r.taken.append(m.span())


def _read_sections(r: _TimelineReader) -> None:
    """Quiet openings and endings named by their section ("a soft intro", "a quiet outro")."""
    for m in _SECTION_RE.finditer(r.text):
        word = m.group(0).lower()
        before = word_before(r.text, m.start())
        if not r.free(*m.span()) or before is None:
            continue
        closing = word in ("outro", "ending", "coda")
        if before in lx.QUIET_WORDS or before in ("piano", "solo"):
            r.tl.add(
                m.start(),
                "quiet_end" if closing else "quiet_start",
                "end" if closing else "start",
                f"{before} {word}",
            )
            r.taken.append(m.span())


def _read_drops(r: _TimelineReader) -> None:
    """The drums come in ("the beat drops")."""
    for m in _DROP_RE.finditer(r.text):
        if r.free(*m.span()):
            r.tl.add(m.start(), "enter", "next", m.group(0), ["Drums"])
            r.taken.append(m.span())


def _read_entries_and_exits(r: _TimelineReader) -> None:
    """Players named before the verb come or go ("the strings enter", "the guitar drops out")."""
    for regex, action in ((_ENTER_RE, "enter"), (_EXIT_RE, "exit")):
        for m in regex.finditer(r.text):
            if not r.free(*m.span()):
                continue
            left, _ = _clause_bounds(r.tokens, m.start(), m.end())
            names, used = _instruments_between(r.tokens, left, m.start())
            if names:
                r.tl.add(m.start(), action, "next", r.text[left : m.end()], names)
                r.tl.consumed |= used
                r.taken.append((left, m.end()))
            elif action == "exit" and m.group(0).lower().startswith("fade"):
                r.tl.add(m.start(), "quiet_end", "end", m.group(0))
                r.taken.append(m.span())


def _read_brings(r: _TimelineReader) -> None:
    """Players named after the verb come in ("bring in the horns")."""
    for m in _BRING_RE.finditer(r.text):
        right, names, used = r.clause_after(m)
        before = word_before(r.text, m.start())
        if names and r.free(m.start(), right) and before in lx.CLAUSE_BREAKS | {None}:
            r.tl.add(m.start(), "enter", "next", r.text[m.start() : right], names)
            r.tl.consumed |= used
            r.taken.append((m.start(), right))


def _read_peak(r: _TimelineReader) -> None:
    """The first climax word, or failing one, the first build word."""
    for m in _CLIMAX_RE.finditer(r.text):
        if r.free(*m.span()):
            r.tl.add(m.start(), "climax", "end", m.group(0))
            r.taken.append(m.span())
            break
    if not any(e["action"] == "climax" for e in r.tl.events):
        for m in _BUILD_RE.finditer(r.text):
            if r.free(*m.span()):
                r.tl.add(m.start(), "build", "end", m.group(0))
                r.taken.append(m.span())
                break


def _read_endings(r: _TimelineReader) -> None:
    """Closing line-up and quiet end ("ends quietly on piano", "fades away")."""
    for m in _END_RE.finditer(r.text):
        _, right = _clause_bounds(r.tokens, m.end(), m.end())
        words = norm_phrase(r.text[m.end() : right]).split()
        if not r.free(m.start(), right) or not words:
            continue
        names, used = _instruments_between(r.tokens, m.end(), right)
        if set(words[:3]) & lx.QUIET_WORDS:
            r.tl.add(m.start(), "quiet_end", "end", r.text[m.start() : right])
        if names and words[0] in ("on", "with") or (names and set(words[:3]) & lx.QUIET_WORDS):
            r.tl.add(m.start() + 1, "only", "end", r.text[m.start() : right], names)
            r.tl.consumed |= used
        r.taken.append((m.start(), right))
    for m in _FADE_END_RE.finditer(r.text):
        if r.free(*m.span()):
            r.tl.add(m.start(), "quiet_end", "end", m.group(0))


def _read_opening_lineup(r: _TimelineReader) -> None:
    """The players named before the first change are the opening's line-up.

    "solo piano, then strings join", "a cello melody, then the strings come in".
    """
    tl, tokens = r.tl, r.tokens
    changes = [e for e in tl.events if e["action"] in ("enter", "exit")]
    if not changes or any(e["action"] == "only" and e["at"] == "start" for e in tl.events):
        return
    first = changes[0]["pos"]
    left, _ = _clause_bounds(tokens, first, first)
    then_at = max((t.start for t in tokens if t.end <= left and t.word == "then"), default=None)
    head_end = then_at if then_at is not None else left
    names, _ = _instruments_between(tokens, 0, head_end)
    names = [n for n in names if not any(n in e["instruments"] for e in changes if e["action"] == "enter")]
    if names:
        tl.add(-1, "only", "start", r.text[:head_end].rstrip(" ,;"), names)
        tl.events.sort(key=lambda e: e["pos"])


def read_timeline(
    text: str, tokens: list[Token], instruments: InstrumentReading | None = None
) -> TimelineReading:
    """Section changes the prompt describes, in the order it tells them.

    Each event: ``action`` ("only", "enter", "exit", "climax", "build", "quiet_start", "quiet_end"),
    ``at`` ("start", "next", "end"), the ``instruments`` it moves and the words that said it.
    """
    r = _TimelineReader(text, tokens)
    # The order matters: each step skips text an earlier one has read.
    for step in (
        _read_starts,
        _read_sections,
        _read_drops,
        _read_entries_and_exits,
        _read_brings,
        _read_peak,
        _read_endings,
    ):
        step(r)
    r.tl.events.sort(key=lambda e: e["pos"])
    _read_opening_lineup(r)
    return r.tl


def timeline_summary(events: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{e['action']}{' ' + '+'.join(e['instruments']) if e['instruments'] else ''} ({e['at']})"
        for e in events
    )
