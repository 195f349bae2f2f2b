"""Perceivers turn one input into an observation plus proposals for the brief.

A perceiver never makes sound. Each returns a :class:`Perception`: the measurements it made (kept in
``brief.json``) and what it proposes for brief attributes, each with a confidence and a reason.

Proposal keys understood by the bridge (values in brackets):

- ``valence``, ``arousal`` [float in -1..1]; ``energy`` [0..1]
- ``register`` [-1..1: low..high]; ``density`` [0..1: sparse..busy]
- ``tempo_bpm`` [float]; ``key`` [:class:`weavewave.music.theory.KeySpec`]; ``mode`` [mode name, when only
  the mode is implied]; ``meter`` ["4/4" | "3/4" | "6/8"]; ``duration_s`` [float]
- ``genre`` [canonical genre name]
- ``instruments_add`` [canonical names the input asked for]; ``instruments_only`` [the whole
  ensemble, e.g. "solo piano"]; ``instruments_exclude`` [names to drop, e.g. "no drums" ->
  ["Drums"]]; ``instruments_suggest`` [timbres that fit, weaker than add]
- ``mood_tags`` [list of words]; ``caption_hint`` [a short phrase about the input for the caption]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weavewave.brief import Observation


@dataclass(frozen=True)
class Proposal:
    """A value a perceiver proposes for one brief attribute."""

    value: Any
    confidence: float  # 0..1; explicit requests ("at 120 bpm") are 1.0
    reason: str  # e.g. "tempo 72: dark, low-saturation image -> low arousal"


@dataclass
class Perception:
    """One perceiver's result for one input."""

    observation: Observation
    proposals: dict[str, Proposal] = field(default_factory=dict)

    def __repr__(self) -> str:
        keys = ", ".join(self.proposals)
        return f"Perception({self.observation.source}: {self.observation.summary!r}; proposes {keys})"
