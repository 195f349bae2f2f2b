"""Loops: a brief made to repeat seamlessly, on a whole number of bars."""

from __future__ import annotations

from typing import Any

from weavewave.bridge.caption import rederive
from weavewave.bridge.fixed import is_fixed
from weavewave.bridge.sections import rescale_sections, with_sections
from weavewave.brief import MusicBrief, Provenance
from weavewave.music.theory import bar_seconds, beats_per_bar

LOOP_RELABEL = {"intro": "A", "outro": "A"}


def as_loop(brief: MusicBrief) -> MusicBrief:
    """A copy of the brief made to loop: a whole number of bars, no intro or outro, ``loop`` set.

    The tempo is nudged (by less than half a bar over the piece) so the length holds a whole number of
    bars; if the user fixed the tempo (provenance ``user``), the length is nudged instead; if both were
    fixed, neither moves and the loop wraps inside a bar (still without a click). Intro and outro become
    body sections with the energy of the first body section, so the end flows into the start.
    """
    tempo_fixed, duration_fixed = is_fixed(brief, "tempo_bpm"), is_fixed(brief, "duration_s")
    update: dict[str, Any] = {"loop": True}
    prov = dict(brief.provenance)
    bar = bar_seconds(brief.tempo_bpm, brief.meter)
    bars = max(1, round(brief.duration_s / bar))
    exact = abs(bars * bar - brief.duration_s) < 1e-3
    if not exact and not tempo_fixed and not brief.cues:
        # tempo_bpm counts the felt beat; a bar of 6/8 holds two felt beats
        felt_per_bar = 2.0 if brief.meter == "6/8" else beats_per_bar(brief.meter)
        tempo = round(60.0 * felt_per_bar * bars / brief.duration_s, 4)
        update["tempo_bpm"] = tempo
        prov["tempo_bpm"] = Provenance(
            source=prov.get("tempo_bpm", Provenance(source="default", reason="")).source,
            reason=f"tempo {tempo:g}: nudged so the {brief.duration_s:g} s loop holds exactly {bars} bars",
        )
    elif not exact and not duration_fixed and not brief.cues:
        update["duration_s"] = round(bars * bar, 4)
        prov["duration_s"] = Provenance(
            source="default",
            reason=(f"duration {bars * bar:.3f} s: {bars} whole bars, so the loop repeats on a bar line"),
        )
    looped = brief.model_copy(update=update)
    if "duration_s" in update:
        looped = looped.model_copy(update={"sections": rescale_sections(brief, update["duration_s"])})
    if "tempo_bpm" in update and not brief.cues:
        looped = with_sections(looped)
    body_energy = next((s.energy for s in looped.sections if s.label not in LOOP_RELABEL), looped.energy)
    sections = [
        s.model_copy(update={"label": LOOP_RELABEL[s.label], "energy": body_energy})
        if s.label in LOOP_RELABEL
        else s
        for s in looped.sections
    ]
    prov["loop"] = Provenance(source="user", reason="set with --loop: the end leads back into the start")
    data = looped.to_dict()
    data["sections"] = [s.model_dump() for s in sections]
    data["provenance"] = {k: v.model_dump() for k, v in sorted(prov.items())}
    return rederive(MusicBrief.from_dict(data, origin="looped brief"))
