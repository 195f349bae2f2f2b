"""The rule-based instruction refiner: what it changes, what it keeps, and what it refuses."""

from __future__ import annotations

import pytest

from weavewave import api
from weavewave.bridge.refine import refine
from weavewave.errors import BadInputError


@pytest.fixture(scope="module")
def base():
    return api.describe(
        text="a walk in the park on a spring morning, pop with piano and drums", seed=1, text_model="lexicon"
    )


def test_genre_instruction(base):
    out = refine(base, "make it jazz")
    assert out.genre == "jazz" and "Tenor Sax" in out.instruments
    assert out.provenance["genre"].source == "instruction"
    assert "make it jazz" in out.provenance["genre"].reason
    # Untouched attributes keep their value and provenance.
    assert out.key == base.key and out.provenance["key"] == base.provenance["key"]


@pytest.mark.parametrize(
    "instruction, faster", [("more energetic", True), ("calmer", False)], ids=["energetic", "calmer"]
)
def test_energy_instructions(base, instruction, faster):
    out = refine(base, instruction)
    assert (out.tempo_bpm > base.tempo_bpm) == faster
    assert (out.energy > base.energy) == faster
    assert (out.mood.arousal > base.mood.arousal) == faster
    assert [s.energy > b.energy for s, b in zip(out.sections, base.sections, strict=False)] == [faster] * min(
        len(out.sections), len(base.sections)
    ) or not base.sections


def test_lullaby_on_music_box(base):
    out = refine(base, "as a gentle lullaby on music box")
    assert out.instruments[0] == "Music Box" and "Drums" not in out.instruments
    assert out.tempo_bpm <= 78 and out.energy <= 0.25 and out.mood.arousal < 0
    assert "lullaby" in out.mood.tags
    assert all("lullaby" in s.caption and "music box" in s.caption for s in out.sections)
    assert out.provenance["caption"].source == "instruction"


def test_christmas_carol(base):
    out = refine(
        base.model_copy(update={"key": base.key.model_copy(update={"mode": "minor"})}),
        "turn it into a christmas carol",
    )
    assert out.key.mode == "major" and out.genre == "classical"
    assert "Glockenspiel" in out.instruments and "Choir Aahs" in out.instruments
    assert "christmas carol" in out.caption.lower()


def test_explicit_tempo_key_and_no_drums(base):
    out = refine(base, "at 92 bpm in D minor, no drums")
    assert out.tempo_bpm == 92 and str(out.key) == "D minor" and "Drums" not in out.instruments


def test_user_controls_are_never_overridden():
    brief = api.describe(text="a calm lake", tempo=120, genre="ambient", text_model="lexicon")
    out = refine(brief, "faster, as rock")
    assert out.tempo_bpm == 120 and out.genre == "ambient"
    assert out.energy > brief.energy  # what the user did not set still changes


@pytest.mark.parametrize("instruction", ["", "   ", "blorp the quux"], ids=["empty", "blank", "nonsense"])
def test_unusable_instructions_are_refused(base, instruction):
    with pytest.raises(BadInputError, match="instruction"):
        refine(base, instruction)


def test_instruction_over_text_through_the_api():
    brief = api.describe(text="a sunny beach", instruction="as jazz", text_model="lexicon")
    assert brief.genre == "jazz" and brief.provenance["genre"].source == "instruction"
