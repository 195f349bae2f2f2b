import pytest

from weavewave.errors import BadInputError
from weavewave.music.instruments import DRUMS, family_of, program_of, resolve_instrument
from weavewave.music.styles import GENRES, resolve_genre
from weavewave.music.theory import bar_seconds, parse_key, scale_pitch_classes


@pytest.mark.parametrize(
    ("text", "tonic", "mode"),
    [
        ("F# minor", "F#", "minor"),
        ("Bb major", "Bb", "major"),
        ("c#m", "C#", "minor"),
        ("A dorian", "A", "dorian"),
        ("E flat major", "Eb", "major"),
        ("g", "G", "major"),
        ("Ebm", "Eb", "minor"),
        ("d mixolydian", "D", "mixolydian"),
        ("CM", "C", "major"),
        ("B♭ min", "Bb", "minor"),
    ],
    ids=lambda v: str(v),
)
def test_parse_key_spellings(text, tonic, mode):
    k = parse_key(text)
    assert (k.tonic, k.mode) == (tonic, mode)


@pytest.mark.parametrize("bad", ["H major", "F# minorish", "", "12", "C blues"])
def test_parse_key_rejects(bad):
    with pytest.raises(BadInputError, match="cannot read key"):
        parse_key(bad)


def test_scale_pitch_classes():
    assert scale_pitch_classes("A", "minor") == [9, 11, 0, 2, 4, 5, 7]
    assert scale_pitch_classes("Bb", "major") == [10, 0, 2, 3, 5, 7, 9]


def test_bar_seconds_per_meter():
    assert bar_seconds(120, "4/4") == pytest.approx(2.0)
    assert bar_seconds(120, "3/4") == pytest.approx(1.5)
    assert bar_seconds(60, "6/8") == pytest.approx(2.0)  # two dotted-quarter beats


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("strings", "String Ensemble 1"),
        ("Piano", "Acoustic Grand Piano"),
        ("rhodes", "Electric Piano 1"),
        ("drum kit", DRUMS),
        ("violins", "Violin"),
        ("Tenor Sax", "Tenor Sax"),
        ("upright bass", "Acoustic Bass"),
        ("electric piano", "Electric Piano 1"),
        ("Bagpipe", "Bag pipe"),  # pretty_midi's spelling of program 109
        ("lead 4 chiff", "Lead 4 (chiff)"),  # and of program 83
        ("Honky-tonk Piano", "Honky-tonk Piano"),
    ],
)
def test_instrument_aliases(typed, canonical):
    assert resolve_instrument(typed) == canonical


def test_unknown_instrument_suggests():
    with pytest.raises(BadInputError, match="did you mean.*violin"):
        resolve_instrument("vilon")


def test_instrument_programs_and_families():
    assert program_of("Acoustic Grand Piano") == 0
    assert program_of(DRUMS) == -1
    assert family_of("Cello") == "Strings"
    assert family_of("Synth Bass 1") == "Bass"


def test_gm_table_is_pretty_midis():
    """The 128 names are pretty_midi's (General MIDI 1 spelling for the two it spells differently), and
    every canonical name round-trips through pretty_midi's program and family tables."""
    import pretty_midi

    from weavewave.music.instruments import GM_PROGRAMS, GM_SPELLING

    assert len(GM_PROGRAMS) == 128 and len(set(GM_PROGRAMS)) == 128
    differ = [p for p, name in enumerate(GM_PROGRAMS) if name != pretty_midi.INSTRUMENT_MAP[p]]
    assert differ == sorted(GM_SPELLING) == [83, 109]
    for program, name in enumerate(GM_PROGRAMS):
        assert program_of(name) == program
        assert resolve_instrument(pretty_midi.program_to_instrument_name(program)) == name
        assert family_of(name) == pretty_midi.program_to_instrument_class(program)
    assert program_of("Gunshot") == pretty_midi.instrument_name_to_program("Gunshot") == 127


@pytest.mark.parametrize(
    ("typed", "genre"),
    [
        ("lofi", "lofi"),
        ("lo-fi", "lofi"),
        ("hip hop", "lofi"),
        ("EDM", "electronic"),
        ("Orchestral", "classical"),
        ("film score", "cinematic"),
    ],
)
def test_genre_aliases(typed, genre):
    assert resolve_genre(typed) == genre


def test_unknown_genre_suggests():
    with pytest.raises(BadInputError, match="did you mean 'jazz'"):
        resolve_genre("jaz")


def test_at_least_eight_genres():
    assert len(GENRES) >= 8
