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
class _Ensemble:
    noun: str  # "trio", "band", "big band"
    qualifier: str  # "string", "jazz", "" when bare
    instruments: tuple[str, ...]  # fixed by the words themselves; empty: the genre decides
    genre: str | None
    said: str
    tokens: set[int]  # qualifier and noun, kept from the instrument reader ("piano trio" is not piano)


def read_ensemble(text: str, tokens: list[Token]) -> _Ensemble | None:
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
            return _Ensemble(noun, qualifier, known[0], known[1], said, used)
        if ("", noun) in lx.NAMED_ENSEMBLES:
            instruments, genre = lx.NAMED_ENSEMBLES[("", noun)]
            return _Ensemble(noun, "", instruments, genre, text_raw(text, tokens, i, n), used)
        return _Ensemble(noun, qualifier, (), None, text_raw(text, tokens, i, n), used)
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


def read_timeline(text: str, tokens: list[Token], instruments: InstrumentReading | None = None) -> _Timeline:
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
        rest = set(norm_phrase(text[m.end() : right]).split())
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
        before = word_before(text, m.start())
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
        before = word_before(text, m.start())
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
        words = norm_phrase(text[m.end() : right]).split()
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


def timeline_summary(events: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{e['action']}{' ' + '+'.join(e['instruments']) if e['instruments'] else ''} ({e['at']})"
        for e in events
    )
