import pytest

from weavewave.bridge import Controls, apply_controls, fuse
from weavewave.brief import Observation
from weavewave.errors import BadInputError
from weavewave.perceive import Perception, Proposal
from weavewave.styles import GENRES
from weavewave.theory import KeySpec, bar_seconds


def perception(source, **proposals):
    obs = Observation(source=source, input=f"{source}-input", summary="test", measurements={"x": 1})
    return Perception(obs, {k: v if isinstance(v, Proposal) else Proposal(v, 0.6, f"{k} from {source}")
                            for k, v in proposals.items()})


def test_explicit_controls_win_over_text_and_image():
    text = perception("text", tempo_bpm=Proposal(140.0, 1.0, "prompt says 140 bpm"), genre=Proposal("rock", 0.9, "rock"))
    image = perception("image", valence=-0.8, arousal=-0.6)
    b = fuse([text, image], Controls(tempo=80, genre="jazz", key="Bb major", duration=12))
    assert b.tempo_bpm == 80 and b.genre == "jazz" and str(b.key) == "Bb major" and b.duration_s == 12
    for attr in ("tempo_bpm", "genre", "key", "duration_s"):
        assert b.provenance[attr].source == "user"


def test_text_beats_image_for_categorical():
    text = perception("text", key=Proposal(KeySpec("D", "dorian"), 1.0, "prompt says D dorian"))
    image = perception("image", mode=Proposal("major", 0.6, "bright image"))
    b = fuse([image, text])
    assert str(b.key) == "D dorian" and b.provenance["key"].source == "text"


def test_continuous_attributes_are_confidence_weighted():
    sad_text = perception("text", valence=Proposal(-0.8, 0.9, "sad words"))
    bright_image = perception("image", valence=Proposal(0.8, 0.3, "bright"))
    b = fuse([sad_text, bright_image])
    assert -0.8 < b.mood.valence < 0
    assert "sad words" in b.provenance["mood.valence"].reason and "bright" in b.provenance["mood.valence"].reason


def test_defaults_fill_everything_with_reasons():
    b = fuse([perception("image", valence=-0.6, arousal=-0.5)])
    assert b.genre in ("ambient", "lofi", "classical", "cinematic")  # calm and dark, nothing named a genre
    lo, hi = GENRES[b.genre].tempo_range
    assert lo <= b.tempo_bpm < (lo + hi) / 2  # low arousal -> lower half of the range
    assert b.key.mode in ("minor", "dorian")
    assert "arousal" in b.provenance["tempo_bpm"].reason
    for attr in ("duration_s", "tempo_bpm", "meter", "key", "genre", "instruments", "energy", "sections",
                 "mood.valence", "mood.arousal", "seed", "caption"):
        assert b.provenance[attr].reason


def test_sections_are_bar_aligned_and_cover_the_piece():
    b = fuse([perception("text", valence=0.5, arousal=0.5)], Controls(duration=60, tempo=100, meter="3/4"))
    bar = bar_seconds(100, "3/4")
    assert b.sections[0].start_s == 0 and b.sections[-1].end_s == pytest.approx(60)
    for prev, nxt in zip(b.sections, b.sections[1:], strict=False):
        assert prev.end_s == nxt.start_s
        assert (nxt.start_s / bar) == pytest.approx(round(nxt.start_s / bar), abs=1e-3)
    labels = [s.label for s in b.sections]
    assert labels[0] == "intro" and labels[-1] == "outro"
    assert max(s.energy for s in b.sections[1:-1]) > b.sections[0].energy
    # Between intro and outro, every section is a whole 4- or 8-bar phrase.
    assert all(round((s.end_s - s.start_s) / bar) in (4, 8) for s in b.sections[1:-1])


@pytest.mark.parametrize("genre", ["pop", "jazz", "electronic", "folk", "cinematic"])
def test_forms_are_phrases_and_differ_by_genre_and_seed(genre):
    forms = set()
    for seed in range(6):
        b = fuse([perception("text", valence=0.3, arousal=0.3)],
                 Controls(duration=90, tempo=120, genre=genre, seed=seed))
        bar = bar_seconds(120, "4/4")
        body = b.sections[1:-1]
        assert all(round((s.end_s - s.start_s) / bar) in (4, 8) for s in body)
        forms.add(tuple(s.label for s in b.sections))
    assert len(forms) >= 2


def test_instrument_requests_exclusions_and_only():
    t = perception("text", genre=Proposal("lofi", 1.0, "lo-fi"),
                   instruments_add=Proposal(["Tenor Sax"], 1.0, "sax"),
                   instruments_exclude=Proposal(["Drums"], 1.0, "no drums"))
    b = fuse([t])
    assert "Tenor Sax" in b.instruments and "Drums" not in b.instruments
    solo = fuse([perception("text", instruments_only=Proposal(["Acoustic Grand Piano"], 1.0, "solo piano"))])
    assert solo.instruments == ["Acoustic Grand Piano"]


def test_excluding_everything_is_bad_input():
    t = perception(
        "text", genre=Proposal("lofi", 1.0, "lofi"),
        instruments_exclude=Proposal(["Electric Piano 1", "Electric Bass (finger)", "Vibraphone", "Drums"], 1.0, "x"))
    with pytest.raises(BadInputError, match="excludes every instrument"):
        fuse([t])


def test_fusion_is_deterministic_and_seed_derived_from_inputs():
    a = fuse([perception("text", valence=0.3)])
    b = fuse([perception("text", valence=0.3)])
    assert a.to_json() == b.to_json()
    obs = Observation(source="text", input="other", summary="t", measurements={})
    c = fuse([Perception(obs, {})])
    assert c.seed != a.seed


@pytest.mark.parametrize("controls", [Controls(duration=0), Controls(duration=601), Controls(tempo=20),
                                      Controls(tempo=301), Controls(key="H minor"), Controls(genre="polka"),
                                      Controls(instruments=["kazoo9"])], ids=str)
def test_bad_controls(controls):
    with pytest.raises(BadInputError):
        fuse([perception("text")], controls)


def test_apply_controls_keeps_edits_and_rescales_sections():
    b = fuse([perception("text", valence=0.4)], Controls(duration=40, tempo=120))
    edited = b.model_copy(update={"caption": "My own words."})
    edited.provenance["caption"] = edited.provenance["caption"].model_copy(update={"source": "user"})
    v = apply_controls(edited, Controls(duration=80, seed=9))
    assert v.caption == "My own words." and v.seed == 9 and v.duration_s == 80
    assert v.sections[-1].end_s == 80
    assert [s.label for s in v.sections] == [s.label for s in b.sections]


def test_seeds_move_the_tempo_within_the_genre_range():
    lo, hi = GENRES["pop"].tempo_range
    tempi = {fuse([perception("text", valence=0.3, arousal=0.0)], Controls(genre="pop", seed=s)).tempo_bpm
             for s in range(4)}
    assert len(tempi) >= 3 and all(lo <= t <= hi for t in tempi)
    # An explicit tempo is never moved.
    assert fuse([perception("text")], Controls(genre="pop", tempo=97, seed=3)).tempo_bpm == 97


def test_a_mood_suits_several_genres_and_the_seed_chooses():
    dark_calm = [fuse([perception("image", valence=-0.5, arousal=-0.5)], Controls(seed=s)).genre for s in range(12)]
    assert len(set(dark_calm)) >= 2 and set(dark_calm) <= {"ambient", "lofi", "classical", "cinematic"}
    assert dark_calm.count("ambient") >= 3  # the nearest genre stays the likeliest
