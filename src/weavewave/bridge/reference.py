"""The reference tune a restyle keeps: its material stored in the brief, its segments laid over the sections.

The audio perceiver only measures (:class:`~weavewave.perceive.audio.AudioPerception`); this step of the
bridge decides what of it the brief keeps (``melody``, ``harmony`` or ``style``, see :data:`KEEP_WORDS`).
"""

from __future__ import annotations

from typing import Any

from weavewave.bridge.caption import instrument_words
from weavewave.brief import MAX_DURATION_S, MusicBrief, Provenance, Section
from weavewave.music.styles import GENRES
from weavewave.perceive.audio import (
    AudioAnalysis,
    AudioPerception,
    Segment,
    reference_material,
    seconds_to_qn,
    segment_caption,
)

KEEP_WORDS = {
    "melody": "keeping the reference's tune and chords",
    "harmony": "keeping the reference's chords under a new tune",
    "style": "keeping the reference's tempo and feel with new material",
}


def attach_reference(brief: MusicBrief, perception: AudioPerception, mode: str) -> MusicBrief:
    """Store the kept material in ``brief`` and lay its sections over the reference's segments.

    Sections follow the reference's segments (scaled if the brief's length differs), each with the
    segment's energy and a caption of its own, unless the user set the length and no segments fit.
    """
    a = perception.analysis
    if a is None:  # pragma: no cover - perceive_audio always sets it
        raise ValueError("the perception carries no analysis")
    material = reference_material(a, mode)
    brief = _whole_tune(brief, a)
    sections = _captioned(brief, a, _segment_sections(brief, a), mode)
    prov = dict(brief.provenance)
    prov["reference"] = Provenance(
        source="audio",
        reason=f"reference mode {mode}: {KEEP_WORDS[mode]} "
        f"({len(material.melody)} melody notes, {len(material.chords)} chords from "
        f"{a.name})",
    )
    if sections:
        prov["sections"] = Provenance(
            source="audio", reason=f"{len(sections)} sections follow the segments detected in {a.name}"
        )
    update: dict[str, Any] = {"reference": material, "provenance": dict(sorted(prov.items()))}
    if sections:
        update["sections"] = sections
    return brief.model_copy(update=update)


def _whole_tune(brief: MusicBrief, a: AudioAnalysis) -> MusicBrief:
    """The brief as long as the whole tune at its own tempo, when the length came from the tune and the
    tempo did not (the user asked for another tempo)."""
    said = brief.provenance.get("duration_s")
    if said is None or said.source != "audio" or abs(brief.tempo_bpm - a.tempo_bpm) <= 1e-6:
        return brief
    duration = round(min(MAX_DURATION_S, a.length_qn * 60.0 / brief.tempo_bpm), 3)
    return MusicBrief.from_dict(
        {**brief.to_dict(), "duration_s": duration, "sections": []}, origin="restyled brief"
    )


def _segment_sections(brief: MusicBrief, a: AudioAnalysis) -> list[Section]:
    """One section per segment of the reference that starts inside the brief, at the brief's tempo."""
    to_qn = seconds_to_qn(a.beat_times, a.tempo_bpm)
    qn_s = 60.0 / brief.tempo_bpm
    sections: list[Section] = []
    for i, seg in enumerate(a.segments):
        start = 0.0 if i == 0 else max(0.0, (float(to_qn(seg.start_s)) - a.origin_qn) * qn_s)
        if start >= brief.duration_s - 1e-3 or (sections and start <= sections[-1].start_s):
            break
        sections.append(Section(start_s=round(start, 4), end_s=round(brief.duration_s, 4), label=seg.label,
                                energy=seg.energy, caption=""))  # fmt: skip
    for i in range(len(sections) - 1):
        sections[i] = sections[i].model_copy(update={"end_s": sections[i + 1].start_s})
    return sections


def _captioned(brief: MusicBrief, a: AudioAnalysis, sections: list[Section], mode: str) -> list[Section]:
    """Each section with its segment's caption, as M2T2M captions segment by segment."""
    style, inst = _style_words(brief)
    out = []
    for sec, seg in zip(sections, a.segments, strict=False):
        moved = Segment(sec.start_s, sec.end_s, seg.label, seg.energy, seg.loudness_db, seg.brightness_hz,
                        seg.onsets_per_s, seg.chords)  # fmt: skip
        caption = segment_caption(
            moved, tempo=brief.tempo_bpm, style=style, instruments=inst, keep=KEEP_WORDS[mode]
        )
        out.append(sec.model_copy(update={"caption": caption}))
    return out


def _style_words(brief: MusicBrief) -> tuple[str, str]:
    names = [instrument_words(i) for i in brief.instruments[:3]]
    return GENRES[brief.genre].description, " and ".join(dict.fromkeys(names))
