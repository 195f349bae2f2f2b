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

Perceivers are registered by kind (:func:`register_perceiver`) and run on a request's inputs by
:func:`perceive_request`; a perceiver that measures more than proposals say returns a typed observation
beside them (:class:`VideoPerception` carries a :class:`VideoTimeline`). Perceivers only observe: the
bridge (:mod:`weavewave.bridge`) turns perceptions into a brief.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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


# --- typed observations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoTimeline:
    """A video's timeline as measured: what the bridge scores the music to.

    Times are in seconds of the video. ``scenes`` holds one mapping per scene with at least ``start_s``,
    ``end_s``, ``energy`` [0..1], ``theme`` (a letter; scenes that look alike share it) and ``caption``.
    ``tempo_range`` is the (low, high) BPM the cutting pace suggests, or None.
    """

    duration_s: float
    cuts_s: tuple[float, ...] = ()
    fades_s: tuple[float, ...] = ()
    dissolves_s: tuple[float, ...] = ()
    scenes: tuple[dict[str, Any], ...] = ()
    tempo_range: tuple[float, float] | None = None

    @property
    def boundaries(self) -> list[float]:
        """Every scene boundary (cuts, fades and dissolves), in order."""
        return sorted([*self.cuts_s, *self.fades_s, *self.dissolves_s])

    def __repr__(self) -> str:
        return (
            f"VideoTimeline({self.duration_s:g} s, {len(self.scenes)} scenes, {len(self.cuts_s)} cuts, "
            f"{len(self.fades_s)} fades, {len(self.dissolves_s)} dissolves, tempo_range={self.tempo_range})"
        )


@dataclass
class VideoPerception(Perception):
    """A Perception of a video that also carries its timeline, for scoring to picture."""

    timeline: VideoTimeline | None = None


# --- the perceiver registry --------------------------------------------------------------------------
class PerceiveContext(Protocol):
    """What a perceiver gets besides the request: a progress callback and a model cache."""

    def report(self, fraction: float, message: str) -> None: ...

    @property
    def cache(self) -> Any: ...


# A perceiver reads its input from the request (``None`` or empty: not given) and returns its perceptions.
PerceiverFn = Callable[[Any, PerceiveContext], list[Perception]]


@dataclass(frozen=True)
class _Context:
    report: Callable[[float, str], None]
    cache: Any = None


@dataclass(frozen=True)
class _Entry:
    kind: str
    loader: str | PerceiverFn  # "package.module:function" is imported only when the perceiver runs

    def load(self) -> PerceiverFn:
        if callable(self.loader):
            return self.loader
        module, _, name = self.loader.partition(":")
        return getattr(importlib.import_module(module), name)


_PERCEIVERS: dict[str, _Entry] = {}


def register_perceiver(kind: str, loader: str | PerceiverFn) -> None:
    """Register the perceiver of one kind of input; it runs after those registered before it.

    ``loader`` is a function ``(request, context) -> list[Perception]`` that returns ``[]`` when the request
    does not hold its input, or its ``"package.module:function"`` path, imported only when a request runs
    (so ``import weavewave`` stays light). Registering a kind again replaces its perceiver in place.
    """
    _PERCEIVERS[kind] = _Entry(kind, loader)


def perceiver_kinds() -> list[str]:
    """The registered kinds, in the order they run (the order of the brief's observations)."""
    return list(_PERCEIVERS)


def perceive_request(
    request: Any, *, report: Callable[[float, str], None] | None = None, cache: Any = None
) -> list[Perception]:
    """Run every registered perceiver on a request's inputs, in registration order.

    The order is part of the contract: it is the order of ``brief.observations`` and feeds the seed
    derived from the inputs, so the same request always gives the same brief.
    """
    context = _Context(report or (lambda fraction, message: None), cache)
    perceptions: list[Perception] = []
    for entry in _PERCEIVERS.values():
        perceptions.extend(entry.load()(request, context))
    return perceptions


def _text(req: Any, ctx: PerceiveContext) -> list[Perception]:
    if req.text is None:
        return []
    from weavewave.perceive.text import perceive_text

    ctx.report(0.1, "reading the text")
    return [perceive_text(req.text, semantic=req.semantic)]


def _images(req: Any, ctx: PerceiveContext) -> list[Perception]:
    out = []
    for i, path in enumerate(req.image):
        from weavewave.perceive.image import perceive_image

        ctx.report(0.3 + 0.3 * i / len(req.image), f"looking at {Path(path).name}")
        out.append(perceive_image(path))
    return out


def _video(req: Any, ctx: PerceiveContext) -> list[Perception]:
    if req.video is None:
        return []
    from weavewave.perceive.video import perceive_video

    ctx.report(0.6, f"watching {Path(req.video).name}")
    return [perceive_video(req.video)]


def _mllm(req: Any, ctx: PerceiveContext) -> list[Perception]:
    """The multimodal model's description, when the request asks for it (``describer="mllm"``)."""
    if req.describer != "mllm":
        return []
    from weavewave.perceive.mllm import perceive_mllm

    ctx.report(0.7, "asking the multimodal model")
    inputs = {"video": req.video} if req.audio is None else {"audio": req.audio}
    return [perceive_mllm(text=req.text, images=list(req.image), **inputs, model=req.describer_model,
                          device=req.device, dtype=req.dtype, cache=ctx.cache)]  # fmt: skip


def _audio(req: Any, ctx: PerceiveContext) -> list[Perception]:
    if req.audio is None:
        return []
    from weavewave.perceive.audio import perceive_audio

    ctx.report(0.75, f"listening to {Path(req.audio).name}")
    return [perceive_audio(req.audio)]


# The order inputs are read in (and listed in the brief). A new kind of input is a module with a
# ``(request, context) -> list[Perception]`` function plus one line here.
register_perceiver("text", _text)
register_perceiver("image", _images)
register_perceiver("video", _video)
register_perceiver("mllm", _mllm)
register_perceiver("audio", _audio)
