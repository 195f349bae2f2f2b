"""References from the user's library steer the piece: the music bridge, after VMB.

The first reference lends what the user did not fix: its tempo and meter, its feel (energy, note density),
its harmonic colour (key and mode, and its chords through the restyle machinery's ``harmony`` mode, or
``style`` when its chords were not trustworthy), its form (sections over its segments) and, when its tags
name instruments, its instrumentation. Later references fill what an earlier one could not. Each lent
field gets provenance ``reference`` naming the track, and the caption says what was borrowed from which.

A field is left alone when the user set it (``--tempo``), a loaded brief or an instruction fixed it, a
reference tune (``--audio``) measured it, or the prompt asked for it in so many words ("at 90 bpm").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weavewave.bridge.caption import caption_rest, write_caption
from weavewave.brief import LibraryReference, MusicBrief, Provenance
from weavewave.perceive.audio import AudioPerception

KEPT_SOURCES = frozenset({"user", "brief", "instruction", "audio"})  # sources a reference never overrides
EXPLICIT_TEXT = "prompt says"  # how fuse's reasons mark a value the prompt asked for in so many words
# Words for the caption's "borrowing ..." sentence, by lent field.
LENT_WORDS = {
    "tempo_bpm": "tempo",
    "meter": "meter",
    "key": "key",
    "reference": "chords",
    "energy": "energy",
    "texture.density": "groove density",
    "instruments": "instrumentation",
    "sections": "form",
}


def lendable(brief: MusicBrief, name: str) -> bool:
    """Whether a reference may set ``name``: nobody fixed it, and the prompt did not ask for it explicitly."""
    said = brief.provenance.get(name)
    return said is None or (said.source not in KEPT_SOURCES and EXPLICIT_TEXT not in said.reason)


def lend_references(
    brief: MusicBrief, picks: Sequence[tuple[LibraryReference, AudioPerception, dict[str, Any]]]
) -> MusicBrief:
    """``brief`` steered by ``picks`` (reference, its analysis, its library row), in rank order."""
    if not picks:
        return brief
    rest = caption_rest(brief)
    refs: list[LibraryReference] = []
    borrowed: list[str] = []
    for ref, perception, row in picks:
        brief, lent = _lend_one(brief, ref, perception, row)
        refs.append(ref.model_copy(update={"lent": lent}))
        if lent:
            words = [LENT_WORDS[n] for n in lent if n in LENT_WORDS]
            borrowed.append(
                f"{_list(list(dict.fromkeys(words)))} from your track '{ref.title or ref.track_id}'"
            )
    caption = write_caption(brief)
    if borrowed:
        caption += " Borrowing the " + "; the ".join(borrowed) + "."
    if rest:
        caption += " " + rest
    return brief.model_copy(update={"caption": caption, "references": refs})


def _lend_one(
    brief: MusicBrief, ref: LibraryReference, perception: AudioPerception, row: dict[str, Any]
) -> tuple[MusicBrief, list[str]]:
    a = perception.analysis
    if a is None:  # pragma: no cover - perceive_audio always sets it
        return brief, []
    name = f"your track '{ref.title or ref.track_id}' ({ref.track_id})"
    prov = dict(brief.provenance)
    update: dict[str, Any] = {}
    lent: list[str] = []

    def lend(field: str, value: Any, reason: str) -> None:
        update[field.split(".")[0]] = value
        prov[field] = Provenance(source="reference", reason=f"{reason}: from {name}")
        lent.append(field)

    first = not any(p.source == "reference" for p in brief.provenance.values())
    if lendable(brief, "tempo_bpm") and "tempo_bpm" not in _lent(brief):
        lend("tempo_bpm", round(a.tempo_bpm, 2), f"tempo {a.tempo_bpm:g} BPM")
    if a.meter and lendable(brief, "meter") and "meter" not in _lent(brief):
        lend("meter", a.meter, f"meter {a.meter}")
    if lendable(brief, "key") and "key" not in _lent(brief):
        lend("key", a.key, f"key {a.key}")
    if first and lendable(brief, "energy"):
        lend("energy", a.energy, f"energy {a.energy:.2f}")
    if first and lendable(brief, "texture.density"):
        density = round(float(perception.proposals["density"].value), 3)
        lend("texture.density", brief.texture.model_copy(update={"density": density}),
             f"density {density:.2f} ({a.onsets_per_s:.1f} onsets/s)")  # fmt: skip
    instruments = [i for i in row.get("instruments") or []]
    timeline = any(s.instruments for s in brief.sections)  # a prompt's "then strings join" names players
    if instruments and not timeline and lendable(brief, "instruments") and "instruments" not in _lent(brief):
        lend("instruments", instruments, f"instruments {', '.join(instruments)} named in its tags")
    brief = brief.model_copy(update={**update, "provenance": prov})
    brief = MusicBrief.from_dict(
        brief.to_dict(), origin="brief with references"
    )  # re-validate the lent values
    if first and brief.reference is None and lendable(brief, "sections"):
        from weavewave.bridge.reference import attach_reference

        mode = "harmony" if a.chords_from == "audio" and a.chords else "style"
        brief = attach_reference(brief, perception, mode)
        prov = dict(brief.provenance)
        for field in ("reference", "sections"):
            if field in prov and prov[field].source == "audio":
                prov[field] = Provenance(source="reference", reason=f"{prov[field].reason}: from {name}")
                lent.append(field)
        brief = brief.model_copy(update={"provenance": prov})
    return brief, lent


def _lent(brief: MusicBrief) -> set[str]:
    return {k for k, p in brief.provenance.items() if p.source == "reference"}


def _list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
