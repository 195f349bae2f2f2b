"""Tokens of a text: words and punctuation with their character spans, and phrase lookup by n-gram."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_NGRAM = 3  # the longest phrase looked up, in words


@dataclass(frozen=True)
class Token:
    word: str  # lower case
    raw: str  # as written
    start: int
    end: int

    @property
    def is_punct(self) -> bool:
        return self.word in {",", ".", ";", ":", "!", "?"}


_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[&,.;:!?]", re.IGNORECASE)


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(0).lower(), m.group(0), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def norm_phrase(name: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", name.lower()))


def ngram(tokens: list[Token], i: int, n: int) -> str | None:
    """The words of tokens[i:i+n] joined by spaces, or None if it runs out or crosses punctuation."""
    span = tokens[i : i + n]
    if len(span) < n or any(t.is_punct for t in span):
        return None
    return " ".join(t.word for t in span)


def longest_match(
    tokens: list[Token], i: int, table: Iterable[str] | dict[str, Any]
) -> tuple[str, int] | None:
    for n in range(MAX_NGRAM, 0, -1):
        gram = ngram(tokens, i, n)
        if gram is not None and gram in table:
            return gram, n
    return None


def text_raw(text: str, tokens: list[Token], i: int, n: int) -> str:
    """The prompt's own spelling of tokens[i:i+n] ("lo-fi", not "lo fi")."""
    return text[tokens[i].start : tokens[i + n - 1].end]


def fmt(x: float) -> str:
    return f"{x:+.2f}"


def quote(words: Iterable[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)
