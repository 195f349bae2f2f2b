"""The bridge's two entry points: :func:`build` (perceptions -> brief) and :func:`vary` (a loaded brief).

The order is fixed: fuse, reference, picture, loop, refine, enforce controls. Every step reads what the
user fixed from the brief's provenance (source ``user``), so explicit controls always win and an
instruction never undoes an explicit request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from weavewave.bridge.controls import Controls, apply_controls, controls_of
from weavewave.bridge.fixed import keep_fixed
from weavewave.bridge.fuse import fuse
from weavewave.brief import DEFAULT_REFERENCE_MODE, MusicBrief
from weavewave.perceive import Perception, VideoPerception

Refiner = Callable[[MusicBrief, str], MusicBrief]
ReportFn = Callable[[float, str], None]


def build(
    perceptions: list[Perception],
    controls: Controls | Any = None,
    *,
    reference_mode: str | None = None,
    loop: bool = False,
    instruction: str | None = None,
    refiner: Refiner | None = None,
    report: ReportFn | None = None,
) -> MusicBrief:
    """Turn perceptions, explicit controls and an instruction into a brief, in the bridge's fixed order.

    Parameters
    ----------
    perceptions : what the perceivers observed (:func:`weavewave.perceive.perceive_request`), in order.
    controls : a :class:`Controls`, or anything with its fields (a :class:`~weavewave.request.Request`).
    reference_mode : what of a reference tune to keep: ``melody`` (default), ``harmony`` or ``style``.
    loop : make the piece a seamless loop.
    instruction : what to change ("as a lullaby"), applied by ``refiner`` (default: the rule-based one).
    report : progress callback ``(fraction, message)``.
    """
    say = report or (lambda fraction, message: None)
    say(0.9, "writing the brief")
    brief = fuse(perceptions, _controls(controls))
    for p in perceptions:
        if p.observation.source == "audio" and getattr(p, "analysis", None) is not None:
            from weavewave.bridge.reference import attach_reference

            brief = attach_reference(brief, p, reference_mode or DEFAULT_REFERENCE_MODE)  # type: ignore[arg-type]
    for p in perceptions:
        if isinstance(p, VideoPerception) and p.timeline is not None:
            from weavewave.bridge.picture import score_brief

            brief = score_brief(brief, p.timeline)
    if loop:
        brief = _loop(brief)
    return _refine(brief, instruction, refiner, say)


def vary(
    brief: MusicBrief | Mapping[str, Any],
    controls: Controls | Any = None,
    *,
    loop: bool = False,
    instruction: str | None = None,
    refiner: Refiner | None = None,
    report: ReportFn | None = None,
) -> MusicBrief:
    """A loaded brief varied: controls over it (hand edits become the user's), a loop, an instruction.

    A brief already scored to a video or restyled keeps that; only what is asked changes, and the derived
    text (caption, section captions) follows.
    """
    loaded = brief if isinstance(brief, MusicBrief) else MusicBrief.from_dict(dict(brief))
    varied = apply_controls(loaded, _controls(controls))
    if loop and not varied.loop:
        varied = _loop(varied)
    return _refine(varied, instruction, refiner, report or (lambda fraction, message: None))


def _controls(controls: Controls | Any) -> Controls:
    if controls is None:
        return Controls()
    return controls if isinstance(controls, Controls) else controls_of(controls)


def _loop(brief: MusicBrief) -> MusicBrief:
    from weavewave.bridge.loop import as_loop

    return as_loop(brief)


def _refine(brief: MusicBrief, instruction: str | None, refiner: Refiner | None, say: ReportFn) -> MusicBrief:
    """Apply the instruction, then enforce what the user fixed (for refiners that do not read provenance)."""
    if not instruction:
        return brief
    say(0.95, "applying the instruction")
    apply = refiner or refiner_for("rules")
    return keep_fixed(brief, apply(brief, instruction))


def refiner_for(
    name: str = "rules",
    *,
    model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    cache: Any = None,
) -> Refiner:
    """``refine(brief, instruction)``: the rule-based one, or the LLM one (which falls back to the rules)."""
    if name != "llm":
        from weavewave.bridge.refine import refine

        return refine
    from weavewave.bridge.refine_llm import refine as refine_llm
    from weavewave.neural.models import DEFAULT_MODEL

    def refine_with_llm(brief: MusicBrief, instruction: str) -> MusicBrief:
        return refine_llm(brief, instruction, model=model or DEFAULT_MODEL["refiner"], device=device,
                          dtype=dtype, cache=cache)  # fmt: skip

    return refine_with_llm
