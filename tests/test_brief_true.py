"""The brief stays true (issue 12, item 3): derived text follows every edit, and an instruction never
undoes an explicit request."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from weavewave import api
from weavewave.bridge import Controls, apply_controls, keep_fixed, rederive
from weavewave.brief import MusicBrief, Provenance
from weavewave.music.instruments import DRUMS
from weavewave.music.styles import GENRES

LOFI = "A rainy night in Tokyo, lonely and calm, lo-fi hip hop with a soft electric piano"
ROCK_WORDS = GENRES["rock"].description
LOFI_WORDS = GENRES["lofi"].description


@pytest.fixture(scope="module")
def lofi() -> MusicBrief:
    return api.describe(LOFI, duration=20, seed=0)


def _edited(brief: MusicBrief, **fields) -> dict:
    data = brief.to_dict()
    data.update(fields)
    return data


# --- derived text follows edits ---------------------------------------------------------------------
def test_hand_edited_genre_gets_a_rock_caption(lofi, tmp_path):
    path = tmp_path / "brief.json"
    path.write_text(json.dumps(_edited(lofi, genre="rock")))
    out = api.describe(brief=path)
    assert LOFI_WORDS in lofi.caption and ROCK_WORDS not in lofi.caption
    assert ROCK_WORDS in out.caption and LOFI_WORDS not in out.caption
    # The sentence about the inputs is kept word for word.
    assert out.caption.endswith(lofi.caption.split(". ", 1)[1])
    assert all(ROCK_WORDS.capitalize() in s.caption for s in out.sections)
    assert out.provenance["genre"].source == "user" and "was lofi" in out.provenance["genre"].reason
    assert out.provenance["caption"].source == "default"


def test_hand_written_caption_is_kept_and_marked_as_the_users(lofi, tmp_path):
    path = tmp_path / "brief.json"
    path.write_text(json.dumps(_edited(lofi, genre="rock", caption="Slow rain on a tin roof, my words.")))
    out = api.describe(brief=path)
    assert out.caption == "Slow rain on a tin roof, my words."
    assert out.provenance["caption"].source == "user"
    # ... and stays the user's through later edits and instructions; so does the hand-edited genre.
    again = api.describe(brief=out, tempo=100, instruction="as jazz, calmer")
    assert again.caption == "Slow rain on a tin roof, my words." and again.genre == "rock"


def test_small_edit_to_the_caption_is_the_users(lofi):
    tweaked = lofi.caption.replace("calm", "dreamy", 1)
    assert tweaked != lofi.caption
    out = apply_controls(MusicBrief.from_dict(_edited(lofi, caption=tweaked)), Controls(genre="rock"))
    assert out.caption == tweaked and out.provenance["caption"].source == "user"


def test_empty_caption_is_written_from_the_fields(lofi):
    out = apply_controls(MusicBrief.from_dict(_edited(lofi, caption="")), Controls())
    assert out.caption.startswith("A ") and LOFI_WORDS in out.caption


def test_controls_rewrite_section_captions_but_keep_hand_written_ones(lofi):
    data = _edited(lofi)
    data["sections"][0]["caption"] = "Rain starts, just the piano."
    out = apply_controls(MusicBrief.from_dict(data), Controls(genre="rock", tempo=120))
    assert out.sections[0].caption == "Rain starts, just the piano."
    assert all(ROCK_WORDS.capitalize() in s.caption for s in out.sections[1:])
    assert out.provenance["sections.captions"].source == "user"
    assert "120 BPM" in out.caption and out.provenance["tempo_bpm"].source == "user"


def test_hand_edited_tempo_is_fixed_by_the_user(lofi):
    out = api.describe(brief=_edited(lofi, tempo_bpm=66.0), instruction="faster, add strings")
    assert out.tempo_bpm == 66.0 and "66 BPM" in out.caption
    assert out.provenance["tempo_bpm"].source == "user"
    assert "String Ensemble 1" in out.instruments


@pytest.mark.parametrize(
    "request_",
    [
        dict(text=LOFI, duration=20, seed=0),
        dict(text="a waltz in the park", meter="3/4", duration=12, seed=13),
        dict(text="a sunny summer pop song", instruction="calmer, add strings", duration=12, seed=25),
        dict(text="calm piano", duration=8, loop=True, seed=17),
        dict(text="The hero leaves home at dawn. Then strings join. It ends quietly.", duration=24, seed=1),
    ],
    ids=["text", "meter", "instruction", "loop", "timeline"],
)
def test_a_fresh_brief_is_already_true(request_):
    """Re-deriving a brief that nobody edited changes nothing, also after a round trip through JSON."""
    b = api.describe(**request_)
    assert rederive(b) == b
    assert apply_controls(MusicBrief.from_json(b.to_json()), Controls()).to_json() == b.to_json()
    assert "sections.captions" not in b.provenance


def test_loop_caption_follows_the_nudged_tempo():
    b = api.describe("calm piano", duration=8, loop=True, seed=17)
    assert f"{b.tempo_bpm:g} BPM" in b.caption


def test_cli_describe_rewrites_a_stale_caption(lofi, tmp_path):
    path = tmp_path / "brief.json"
    path.write_text(json.dumps(_edited(lofi, genre="rock")))
    done = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", "describe", "--brief", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert ROCK_WORDS in json.loads(done.stdout)["caption"]


# --- an instruction never undoes an explicit request -------------------------------------------------
def test_instruction_does_not_bring_excluded_drums_back():
    b = api.describe("rock, no drums", seed=1, instruction="add strings")
    assert DRUMS not in b.instruments and "String Ensemble 1" in b.instruments
    assert "drums" not in b.caption.split(". ")[0]
    assert b.provenance["instruments.excluded"].source == "text"


def test_instruction_that_names_drums_brings_them_back():
    b = api.describe("rock, no drums", seed=1, instruction="add strings and drums")
    assert DRUMS in b.instruments and "instruments.excluded" not in b.provenance


def test_instruction_sets_the_meter():
    b = api.describe("a sunny pop song", seed=1, duration=6, instruction="in 3/4")
    assert b.meter == "3/4" and b.provenance["meter"].source == "instruction"
    assert "BPM in 3/4" in b.caption
    track = api.generate(brief=b)
    assert track.brief.meter == "3/4" and track.audio.size > 0


def test_unsupported_meter_in_an_instruction_is_bad_input():
    from weavewave.errors import BadInputError

    with pytest.raises(BadInputError, match="5/4"):
        api.describe("a sunny pop song", seed=1, instruction="in 5/4")


def test_explicit_controls_win_over_the_instruction():
    b = api.describe(
        "a sunny pop song", seed=1, meter="6/8", tempo=120, instruction="in 3/4, at 90 bpm, calmer"
    )
    assert b.meter == "6/8" and b.tempo_bpm == 120
    assert b.provenance["meter"].source == "user" and b.provenance["tempo_bpm"].source == "user"
    assert "120 BPM in 6/8" in b.caption


def test_keep_fixed_restores_what_a_provenance_blind_refiner_changed():
    """For refiners that do not read provenance (an LLM): the user's fields and exclusions come back."""
    before = api.describe("rock, no drums", seed=1, tempo=100)
    blind = before.model_copy(
        update={
            "tempo_bpm": 150.0,
            "genre": "jazz",
            "instruments": [*before.instruments, DRUMS],
            "provenance": {
                **before.provenance,
                "tempo_bpm": Provenance(source="instruction", reason="tempo 150: faster"),
                "genre": Provenance(source="instruction", reason="genre jazz: as jazz"),
            },
        }
    )
    out = keep_fixed(before, blind)
    assert out.tempo_bpm == 100 and out.provenance["tempo_bpm"].source == "user"
    assert DRUMS not in out.instruments
    assert out.genre == "jazz" and GENRES["jazz"].description in out.caption and "100 BPM" in out.caption
