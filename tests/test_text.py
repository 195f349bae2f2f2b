"""The text perceiver: explicit requests, mood words, and the shipped sentence model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from weavewave.errors import BadInputError, MissingDependencyError
from weavewave.music.theory import KeySpec
from weavewave.perceive import semantic as sem
from weavewave.perceive.text import perceive_text

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def lexical(text: str):
    return perceive_text(text, semantic=False)


def value(text: str, key: str):
    p = lexical(text).proposals.get(key)
    return None if p is None else p.value


# --------------------------------------------------------------------------------------------------
# Explicit requests
# --------------------------------------------------------------------------------------------------
EXPLICIT_CASES = [
    ("120 bpm", {"tempo_bpm": 120.0}),
    ("at 90 beats per minute", {"tempo_bpm": 90.0}),
    ("tempo 100, in the key of Bb", {"tempo_bpm": 100.0, "key": KeySpec("Bb", "major")}),
    ("a ballad in F# minor", {"key": KeySpec("F#", "minor")}),
    ("A dorian groove", {"key": KeySpec("A", "dorian")}),
    ("E flat major, please", {"key": KeySpec("Eb", "major")}),
    ("c#m", {"key": KeySpec("C#", "minor")}),
    ("something in a minor key", {"mode": "minor", "key": None}),
    ("major key, bright", {"mode": "major", "key": None}),
    ("a minor setback ruined my day", {"key": None, "mode": None}),
    ("I am sad", {"key": None}),
    ("in 3/4 time", {"meter": "3/4"}),
    ("6/8 lullaby", {"meter": "6/8"}),
    ("a gentle waltz", {"meter": "3/4"}),
    ("an irish jig", {"meter": "6/8"}),
    ("slow blues in 4", {"meter": "4/4"}),
    ("45 seconds of calm", {"duration_s": 45.0}),
    ("2 minutes long", {"duration_s": 120.0}),
    ("1 min 30", {"duration_s": 90.0}),
    ("a 1:30 cue", {"duration_s": 90.0}),
    ("90 s of rain", {"duration_s": 90.0}),
    ("a 30s clip", {"duration_s": 30.0}),
    ("90s music", {"duration_s": None}),
    ("80s synthpop", {"duration_s": None, "genre": "pop"}),
    ("in the 90s", {"duration_s": None}),
    ("lo-fi beats to study to", {"genre": "lofi"}),
    ("hip hop instrumental", {"genre": "lofi"}),
    ("EDM banger", {"genre": "electronic"}),
    ("house music at 124 bpm", {"genre": "electronic", "tempo_bpm": 124.0}),
    ("a house by the sea", {"genre": None}),
    ("with strings and a cello", {"instruments_add": ["String Ensemble 1", "Cello"]}),
    ("no drums", {"instruments_exclude": ["Drums"], "instruments_add": None}),
    ("without drums", {"instruments_exclude": ["Drums"]}),
    ("drumless and dreamy", {"instruments_exclude": ["Drums"]}),
    ("no percussion, no piano", {"instruments_exclude": ["Drums", "Acoustic Grand Piano"]}),
    (
        "no drums or bass, piano and strings",
        {
            "instruments_exclude": ["Drums", "Electric Bass (finger)"],
            "instruments_add": ["Acoustic Grand Piano", "String Ensemble 1"],
        },
    ),
    ("solo piano", {"instruments_only": ["Acoustic Grand Piano"]}),
    ("just piano and cello", {"instruments_only": ["Acoustic Grand Piano", "Cello"]}),
    ("only guitar", {"instruments_only": ["Acoustic Guitar (steel)"]}),
    ("piano and cello only", {"instruments_only": ["Acoustic Grand Piano", "Cello"]}),
    ("piano solo", {"instruments_only": ["Acoustic Grand Piano"]}),
    (
        "a piano solo over drums",
        {"instruments_only": None, "instruments_add": ["Acoustic Grand Piano", "Drums"]},
    ),
    ("Bbm ballad", {"key": KeySpec("Bb", "minor")}),
    ("In a forest at dawn", {"key": None}),
    ("a heart beat and a lead role", {"instruments_add": None}),
]


@pytest.mark.parametrize(("text", "expected"), EXPLICIT_CASES, ids=[c[0] for c in EXPLICIT_CASES])
def test_explicit_values(text: str, expected: dict) -> None:
    proposals = lexical(text).proposals
    for key, want in expected.items():
        got = proposals.get(key)
        if want is None:
            assert got is None, f"{key}: expected nothing, got {got}"
        else:
            assert got is not None, f"{key}: expected {want!r}, got nothing"
            assert got.value == want
            assert got.confidence >= 0.9
            assert got.reason


def test_everything_at_once() -> None:
    p = lexical("120 bpm lo-fi in F# minor, 3/4, 45 seconds, with strings and a cello, no drums")
    pr = p.proposals
    assert (pr["tempo_bpm"].value, pr["genre"].value, str(pr["key"].value)) == (120.0, "lofi", "F# minor")
    assert (pr["meter"].value, pr["duration_s"].value) == ("3/4", 45.0)
    assert pr["instruments_add"].value == ["String Ensemble 1", "Cello"]
    assert pr["instruments_exclude"].value == ["Drums"]
    assert all(pr[k].confidence == 1.0 for k in ("tempo_bpm", "key", "meter", "duration_s", "genre"))
    assert "lo-fi" in pr["genre"].reason
    explicit = p.observation.measurements["explicit"]
    assert explicit["key"] == "F# minor" and explicit["tempo_bpm"] == 120.0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("at 500 bpm", "500 BPM"),
        ("tempo 12", "12 BPM"),
        ("20 minutes of rain", "20 minutes"),
        ("0 seconds", "0 seconds"),
        ("a 2 hour drone", "2 hour"),
        ("in 7/8", "7/8"),
    ],
    ids=["tempo-high", "tempo-low", "too-long", "zero", "hours", "odd-meter"],
)
def test_out_of_range_requests_raise(text: str, fragment: str) -> None:
    with pytest.raises(BadInputError) as info:
        lexical(text)
    message = str(info.value)
    assert fragment in message and "\n" not in message


def test_empty_text_raises() -> None:
    with pytest.raises(BadInputError):
        perceive_text("   ", semantic=False)


# --------------------------------------------------------------------------------------------------
# Mood words
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("a sad, rainy evening", "a happy, sunny morning"),
        ("lonely and grey", "joyful celebration"),
        ("not happy", "happy"),
        ("funeral", "wedding"),
    ],
    ids=["rainy<sunny", "lonely<joyful", "negation", "funeral<wedding"],
)
def test_valence_direction(lower: str, higher: str) -> None:
    assert value(lower, "valence") < value(higher, "valence")


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("calm", "energetic"), ("slow and peaceful", "fast and exciting"), ("sleepy lullaby", "angry riot")],
    ids=["calm<energetic", "slow<fast", "lullaby<angry"],
)
def test_arousal_direction(lower: str, higher: str) -> None:
    assert value(lower, "arousal") < value(higher, "arousal")


def test_intensifier_strengthens() -> None:
    assert value("very sad", "valence") < value("sad", "valence") < value("slightly sad", "valence") < 0


def test_mood_proposals_are_moderate_and_explained() -> None:
    p = lexical("a lonely rainy night in the city")
    v = p.proposals["valence"]
    assert v.value < 0 and v.confidence < 1
    assert "'lonely'" in v.reason and "'rainy'" in v.reason
    assert p.proposals["caption_hint"].value.startswith("evoking")
    assert "rainy" in p.proposals["mood_tags"].value
    assert 0.0 <= p.proposals["energy"].value <= 1.0
    words = [w["word"] for w in p.observation.measurements["words"]]
    assert "lonely" in words and p.observation.measurements["method"] == "lexicon"


def test_tempo_words_are_soft() -> None:
    tempo = lexical("a slow song").proposals["tempo_bpm"]
    assert tempo.value < 90 and tempo.confidence < 1
    assert lexical("fast and upbeat").proposals["tempo_bpm"].value > 110
    # an explicit number wins over a tempo word
    assert lexical("slow, 140 bpm").proposals["tempo_bpm"].value == 140


def test_scene_hints_are_suggestions() -> None:
    p = lexical("neon cyberpunk streets")
    assert p.proposals["genre"].value == "electronic" and p.proposals["genre"].confidence < 0.5
    assert p.proposals["instruments_suggest"].confidence < 1


def test_observation_is_json_and_short() -> None:
    text = "a lonely rainy night in the city " * 10
    obs = lexical(text).observation
    assert obs.source == "text" and len(obs.input) <= 80 and "\n" not in obs.summary
    json.dumps(obs.model_dump(mode="json"))


def test_deterministic() -> None:
    text = "a waltz in D major for solo piano, very sad, rain on the window"
    a, b = lexical(text), lexical(text)
    assert a.proposals == b.proposals and a.observation == b.observation


# --------------------------------------------------------------------------------------------------
# Sentence model
# --------------------------------------------------------------------------------------------------
needs_model = pytest.mark.skipif(not sem.is_available(), reason="weavewave[semantic] is not installed")

FUNERAL = (
    "They carried her coffin up the hill in the drizzle. Her brother read a few words he could not "
    "finish, and the old friends stood with their hats in their hands until the last one left."
)
BEACH = (
    "By noon the whole gang was on the sand: volleyball, cold drinks, a speaker blasting and everybody "
    "jumping into the waves, shouting and laughing all afternoon."
)
NO_MOOD_WORDS = (
    "The ferry pulled away from the pier at six. Gulls followed the wake while the captain "
    "checked the charts and the deckhands coiled the ropes."
)


@needs_model
def test_semantic_funeral_story_is_negative() -> None:
    p = perceive_text(FUNERAL, semantic=True)
    assert p.observation.measurements["method"] == "lexicon+minilm"
    assert p.proposals["valence"].value < -0.2
    assert "reads closest to" in p.proposals["valence"].reason


@needs_model
def test_semantic_beach_party_is_positive_and_livelier() -> None:
    beach = perceive_text(BEACH, semantic=True).proposals
    funeral = perceive_text(FUNERAL, semantic=True).proposals
    assert beach["valence"].value > 0.2
    assert beach["arousal"].value > funeral["arousal"].value


@needs_model
def test_semantic_setting_without_mood_words() -> None:
    p = perceive_text(NO_MOOD_WORDS, semantic=True)
    settings = p.observation.measurements["semantic"]["settings"]
    assert settings[0]["setting"] in {"ocean", "journey"}
    assert len(settings) == 3 and all(isinstance(s["cos"], float) for s in settings)
    assert "caption_hint" in p.proposals


@needs_model
def test_semantic_is_deterministic() -> None:
    a, b = perceive_text(BEACH, semantic=True), perceive_text(BEACH, semantic=True)
    assert a.proposals == b.proposals and a.observation == b.observation


@needs_model
def test_long_story_is_chunked() -> None:
    story = " ".join([FUNERAL] * 12)
    reading = sem.read(story, temperature=0.04)
    assert reading.chunks > 1
    assert sem.chunk_text(story) == sem.chunk_text(story)


@needs_model
def test_encoder_matches_reference_embeddings() -> None:
    """Golden file made once with sentence-transformers (see its "made_with")."""
    ref = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())
    ours = sem.encode(ref["texts"])
    assert ours.shape == (len(ref["texts"]), 384)
    np.testing.assert_allclose(ours, np.array(ref["embeddings"]), atol=1e-4)


def test_semantic_true_without_model_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sem, "is_available", lambda: False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'weavewave\[semantic\]'"):
        perceive_text("a sad song", semantic=True)
    assert perceive_text("a sad song").observation.measurements["method"] == "lexicon"


def test_lexicon_mode_imports_no_torch() -> None:
    code = (
        "import sys; from weavewave.perceive.text import perceive_text; "
        "perceive_text('a sad rainy night, lo-fi, 80 bpm', semantic=False); "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'tokenizers') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    assert out.stdout.strip() == ""


@needs_model
def test_semantic_mode_runs_the_real_transformers_model() -> None:
    encoder = sem.load_encoder()
    assert type(encoder.model).__name__ == "BertModel"
    assert len(encoder.tokenizer) == 30522


# --------------------------------------------------------------------------------------------------
# Reading stories, ensembles, timelines and named forms (issue 11, point 5)
# --------------------------------------------------------------------------------------------------
DEMO = (
    "A rainy night in Tokyo, neon reflections on wet streets, lonely and calm, lo-fi hip hop with a soft "
    "electric piano"
)


@pytest.mark.parametrize(
    "semantic", [False, pytest.param(True, marks=needs_model)], ids=["lexicon", "minilm"]
)
def test_demo_prompt_reads_lonely_and_calm(semantic: bool) -> None:
    p = perceive_text(DEMO, semantic=semantic).proposals
    assert p["valence"].value < 0 or p["arousal"].value < 0
    assert not {"festive", "danceable"} & set(p["mood_tags"].value)
    assert "party" not in p.get("caption_hint", p["valence"]).reason


@needs_model
def test_a_scene_close_to_a_setting_by_chance_is_not_that_setting() -> None:
    p = perceive_text("heavy rock anthem", semantic=True)
    assert p.observation.measurements.get("setting") is None
    tags = p.proposals["mood_tags"].value if "mood_tags" in p.proposals else []
    assert "festive" not in tags and "wintry" not in tags


@needs_model
def test_feeling_words_outweigh_a_contrary_scene_reading() -> None:
    # The sentence model reads this scene as a dull afternoon; the writer said "tense".
    assert (
        perceive_text("a tense standoff in a desert town at high noon", semantic=True)
        .proposals["arousal"]
        .value
        > 0
    )


@pytest.mark.parametrize(
    ("text", "noun", "instruments"),
    [
        ("a jazz trio", "trio", []),
        ("a string quartet, sad and slow", "quartet", ["Violin", "Viola", "Cello"]),
        ("a classical piano trio", "trio", ["Acoustic Grand Piano", "Violin", "Cello"]),
        (
            "a big band swing number",
            "big band",
            [
                "Alto Sax",
                "Tenor Sax",
                "Trumpet",
                "Trombone",
                "Acoustic Grand Piano",
                "Acoustic Bass",
                "Drums",
            ],
        ),
        (
            "epic music for a full orchestra",
            "orchestra",
            ["String Ensemble 1", "French Horn", "Brass Section", "Flute", "Contrabass", "Timpani"],
        ),
        ("a guitar and violin duo", "duo", []),
    ],
    ids=["jazz-trio", "string-quartet", "piano-trio", "big-band", "orchestra", "duo"],
)
def test_ensemble_words(text: str, noun: str, instruments: list[str]) -> None:
    p = lexical(text).proposals
    assert p["ensemble"].value["noun"] == noun and p["ensemble"].value["instruments"] == instruments
    assert p["ensemble"].confidence == 1.0
    assert "instruments_only" not in p  # "piano trio" is not solo piano


def test_a_band_of_thieves_is_not_an_ensemble() -> None:
    assert "ensemble" not in lexical("a band of thieves escapes at night").proposals


def _actions(text: str) -> list[tuple[str, str, list[str]]]:
    return [(e["action"], e["at"], e["instruments"]) for e in value(text, "timeline") or []]


@pytest.mark.parametrize(
    ("text", "events"),
    [
        (
            "solo piano, then strings join",
            [("only", "start", ["Acoustic Grand Piano"]), ("enter", "next", ["String Ensemble 1"])],
        ),
        (
            "starts with solo piano, drums come in later",
            [("only", "start", ["Acoustic Grand Piano"]), ("enter", "next", ["Drums"])],
        ),
        ("a folk song where the fiddle drops out", [("exit", "next", ["Fiddle"])]),
        ("builds to a huge climax and ends quietly", [("climax", "end", []), ("quiet_end", "end", [])]),
        (
            "slow ambient intro, then the beat drops",
            [("quiet_start", "start", []), ("enter", "next", ["Drums"])],
        ),
        ("a calm piano piece", []),
    ],
    ids=["then-join", "starts-with", "drops-out", "climax-quiet", "intro-drop", "none"],
)
def test_timeline_words(text: str, events: list) -> None:
    assert _actions(text) == events


def test_starts_with_solo_is_the_opening_not_the_whole_ensemble() -> None:
    p = lexical("starts with solo piano, drums come in later, upbeat pop").proposals
    assert "instruments_only" not in p and p["genre"].value == "pop"


def test_a_genre_word_on_a_section_is_not_the_pieces_genre() -> None:
    assert value("slow ambient intro, then the beat drops into energetic techno", "genre") == "electronic"


@pytest.mark.parametrize(
    ("text", "meter", "slowest", "fastest"),
    [
        ("a lullaby my grandmother used to sing", "6/8", 56, 72),
        ("a funeral march, slow and solemn", "4/4", 54, 70),
        ("a military march for a parade", "4/4", 104, 124),
    ],
)
def test_named_forms_bring_meter_and_pace(text: str, meter: str, slowest: float, fastest: float) -> None:
    p = lexical(text).proposals
    assert p["meter"].value == meter
    assert slowest <= p["tempo_bpm"].value <= fastest and p["tempo_bpm"].confidence >= 0.99


def test_an_explicit_tempo_beats_the_forms_pace() -> None:
    assert value("a lullaby at 90 bpm", "tempo_bpm") == 90
