"""The bridge: observations, explicit controls and an instruction become one MusicBrief.

Two entry points, one fixed order (fuse, reference, picture, loop, refine, enforce controls):

- :func:`build` turns perceptions (from :func:`weavewave.perceive.perceive_request`) into a brief;
- :func:`vary` varies a loaded brief (controls, a loop, an instruction).

The parts, by what each does: :mod:`~weavewave.bridge.controls` (explicit controls, checked and applied),
:mod:`~weavewave.bridge.fuse` (proposals weighed into attributes), :mod:`~weavewave.bridge.sections`
(planned sections and a prompt's timeline), :mod:`~weavewave.bridge.caption` (derived text, re-derived
after every edit), :mod:`~weavewave.bridge.fixed` (what the user fixed, read from provenance),
:mod:`~weavewave.bridge.reference` (a reference tune's kept material), :mod:`~weavewave.bridge.picture`
and :mod:`~weavewave.bridge.tempomap` (scoring to a video), :mod:`~weavewave.bridge.loop`,
:mod:`~weavewave.bridge.refine` and :mod:`~weavewave.bridge.refine_llm` (instructions). Nothing outside the
bridge rewrites a brief.
"""

from __future__ import annotations

from weavewave.bridge.caption import (
    caption_rest,
    derive_section_caption,
    indefinite_article,
    instrument_words,
    rederive,
    write_caption,
)
from weavewave.bridge.controls import Controls, apply_controls, controls_of
from weavewave.bridge.fixed import (
    EXCLUDED_KEY,
    excluded_instruments,
    excluded_provenance,
    fixed_by_user,
    is_fixed,
    keep_fixed,
    mark_hand_edits,
)
from weavewave.bridge.fuse import SOURCE_PRIORITY, SOURCE_WEIGHT, derive_seed, ensemble_instruments, fuse
from weavewave.bridge.pipeline import DEFAULT_REFERENCE_MODE, build, refiner_for, vary
from weavewave.bridge.sections import apply_timeline, rescale_sections, with_sections

__all__ = [
    "DEFAULT_REFERENCE_MODE",
    "EXCLUDED_KEY",
    "SOURCE_PRIORITY",
    "SOURCE_WEIGHT",
    "Controls",
    "apply_controls",
    "apply_timeline",
    "build",
    "caption_rest",
    "controls_of",
    "derive_section_caption",
    "derive_seed",
    "ensemble_instruments",
    "excluded_instruments",
    "excluded_provenance",
    "fixed_by_user",
    "fuse",
    "indefinite_article",
    "instrument_words",
    "is_fixed",
    "keep_fixed",
    "mark_hand_edits",
    "refiner_for",
    "rederive",
    "rescale_sections",
    "vary",
    "with_sections",
    "write_caption",
]
