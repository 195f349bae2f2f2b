import json

import pytest

from weavewave.brief import SCHEMA_ID, Key, MusicBrief, Section, json_schema
from weavewave.errors import BadInputError


def make_brief(**over):
    fields = dict(
        caption="A calm piece.",
        duration_s=20.0,
        tempo_bpm=90.0,
        key=Key(tonic="a", mode="m"),
        genre="lo-fi",
        instruments=["rhodes", "bass", "drums"],
        sections=[Section(start_s=0, end_s=10, label="A"), Section(start_s=10, end_s=20, label="B")],
    )
    fields.update(over)
    return MusicBrief(**fields)


def test_normalises_names():
    b = make_brief()
    assert b.key.tonic == "A" and b.key.mode == "minor"
    assert b.genre == "lofi"
    assert b.instruments == ["Electric Piano 1", "Electric Bass (finger)", "Drums"]


def test_json_round_trip_is_exact():
    b = make_brief()
    text = b.to_json()
    again = MusicBrief.from_json(text)
    assert again == b
    assert again.to_json() == text
    data = json.loads(text)
    for field in (
        "schema",
        "caption",
        "duration_s",
        "tempo_bpm",
        "meter",
        "key",
        "mood",
        "genre",
        "instruments",
        "energy",
        "sections",
        "seed",
        "provenance",
    ):
        assert field in data
    assert data["schema"] == SCHEMA_ID
    assert set(data["key"]) == {"tonic", "mode"}
    assert set(data["mood"]) == {"valence", "arousal", "tags"}
    assert set(data["sections"][0]) == {"start_s", "end_s", "label", "energy", "caption", "instruments"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tempo_bpm", 500, "tempo_bpm"),
        ("duration_s", 0, "duration_s"),
        ("duration_s", 601, "duration_s"),
        ("meter", "5/4", "meter"),
        ("genre", "jaz", "genre.*jazz"),
        ("instruments", ["kazooo"], "instruments"),
        ("schema", "other/9", "schema"),
        ("key", {"tonic": "H", "mode": "major"}, "key.tonic"),
        ("mood", {"valence": 2, "arousal": 0, "tags": []}, "mood.valence"),
        ("surprise", 1, "surprise"),
    ],
    ids=lambda v: str(v),
)
def test_validation_names_the_field(field, value, message):
    data = make_brief().to_dict()
    data[field] = value
    with pytest.raises(BadInputError, match=message):
        MusicBrief.from_dict(data)


def test_sections_must_fit_duration():
    data = make_brief().to_dict()
    data["sections"][1]["end_s"] = 30
    with pytest.raises(BadInputError, match="sections.*after duration_s"):
        MusicBrief.from_dict(data)


def test_not_json_is_a_clear_error():
    with pytest.raises(BadInputError, match="not valid JSON.*line 1"):
        MusicBrief.from_json("{nope", origin="x.json")


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        MusicBrief.load(tmp_path / "missing.json")


def test_schema_is_published():
    schema = json_schema()
    assert schema["$id"] == SCHEMA_ID
    assert {"caption", "tempo_bpm", "key", "sections"} <= set(schema["properties"])
