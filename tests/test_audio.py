"""Audio perception and restyling on real audio: tunes and Bach chorales rendered at test time through
weavewave's own renderer, click tracks, and the real recording that ships with music21."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

pytest.importorskip("librosa")
pytest.importorskip("basic_pitch")

from reference_audio import (  # noqa: E402
    RECORDING_KNOWN_UNTIL_S,
    RECORDING_SCALE_NOTES,
    bach_chorale_paths,
    chorale_arrangement,
    chorale_reference_key,
    click_track,
    melody_pitches,
    note_scores,
    notes_of,
    recording_path,
    render_to_wav,
    tune_arrangement,
)
from weavewave import api  # noqa: E402
from weavewave.brief import MusicBrief  # noqa: E402
from weavewave.generators.symbolic.compose import compose  # noqa: E402
from weavewave.music.analysis import mirex_key_score, tempo_matches  # noqa: E402
from weavewave.music.melodic import melodic_similarity, skyline  # noqa: E402
from weavewave.perceive.audio import (  # noqa: E402
    MONOPHONIC_MAX_POLYPHONY,
    analyse_audio,
    downbeat_phase,
    notes_from_f0,
    perceive_audio,
    polyphony,
)

TUNE_TEMPO = 100.0
LULLABY = "as a gentle lullaby on music box"


@pytest.fixture(scope="module")
def tune(tmp_path_factory) -> pathlib.Path:
    """Ode to Joy over I/V triads on piano, 100 BPM, C major, about 39 s."""
    return render_to_wav(tune_arrangement(tempo=TUNE_TEMPO), tmp_path_factory.mktemp("audio") / "tune.wav")


@pytest.fixture(scope="module")
def heard(tune):
    return perceive_audio(tune)


def test_known_tune_is_measured(heard):
    a = heard.analysis
    assert tempo_matches(a.tempo_bpm, TUNE_TEMPO)
    assert (a.key_tonic, a.key_mode) == (0, "major")
    assert a.meter == "4/4"
    assert (
        a.loudness_lufs is not None
        and a.energy_curve
        and 0 <= min(a.energy_curve) <= max(a.energy_curve) <= 1
    )
    assert a.brightness_hz > 0 and a.onsets_per_s > 1
    # Beats land every 0.6 s.
    assert np.median(np.diff(a.beat_times)) == pytest.approx(60 / TUNE_TEMPO, rel=0.04)
    # The transcribed melody is the tune: interval alignment with the score's melody.
    assert melodic_similarity([p for *_, p in a.melody_s], melody_pitches()) > 0.85
    # Chords come from the C and G triads under it, and are trusted as real harmony.
    roots = {c[2].split(":")[0] for c in a.chords}
    assert {"C", "G"} <= roots
    assert a.chords_from == "audio" and a.harmony.trusted, a.harmony
    assert a.chords == a.detected_chords and a.melody_dropped == 0


def test_observation_segments_and_proposals(heard):
    obs = heard.observation
    assert obs.source == "audio" and obs.input == "tune.wav"
    segments = obs.measurements["segments"]
    assert segments and segments[0]["start_s"] == 0
    assert all(s["caption"].startswith(s["label"]) for s in segments)
    assert len({s["caption"] for s in segments}) == len(segments)
    assert {"tempo_bpm", "key", "energy", "valence", "arousal", "genre", "duration_s"} <= set(heard.proposals)
    assert heard.proposals["tempo_bpm"].confidence == 1.0


def test_describe_fuses_audio_with_provenance(tune):
    brief = api.describe(audio=tune)
    assert brief.provenance["tempo_bpm"].source == "audio"
    assert brief.provenance["key"].source == "audio" and str(brief.key) == "C major"
    assert brief.reference is not None and brief.reference.mode == "melody"
    assert brief.reference.melody and brief.reference.chords
    assert brief.sections and all(s.caption for s in brief.sections)
    assert any(o.source == "audio" for o in brief.observations)


@pytest.fixture(scope="module")
def restyled(tune, heard):
    """The tune restyled as a lullaby in each reference mode: (brief, arrangement, similarity)."""
    transcribed = [p for *_, p in heard.analysis.melody_s]
    out = {}
    for mode in ("melody", "harmony", "style"):
        brief = api.describe(audio=tune, instruction=LULLABY, reference_mode=mode)
        arrangement = compose(brief)
        lead = next(p for p in arrangement.parts if p.role == "melody")
        line = skyline([(n.start, n.end, n.pitch) for n in lead.notes])
        out[mode] = (brief, arrangement, melodic_similarity(transcribed, [p for *_, p in line]))
    return out


def test_melody_mode_keeps_the_tune_and_style_mode_does_not(restyled):
    sim = {mode: round(v[2], 3) for mode, v in restyled.items()}
    assert sim["melody"] > 0.8, sim
    assert sim["style"] < 0.5, sim
    assert sim["melody"] - sim["style"] > 0.4, sim
    assert sim["melody"] - sim["harmony"] > 0.4, sim


def test_modes_keep_what_they_say(restyled):
    melody, harmony, style = (restyled[m][0].reference for m in ("melody", "harmony", "style"))
    assert melody.melody and melody.chords
    assert not harmony.melody and harmony.chords
    assert not style.melody and not style.chords


def _chord_tone_share(brief, arrangement) -> float:
    """Share of accompaniment notes that are tones of the reference chord sounding when they start."""
    from weavewave.generators.symbolic.grid import Grid
    from weavewave.generators.symbolic.harmony import chord_at
    from weavewave.generators.symbolic.reference import reference_spans

    grid = Grid(brief.meter, brief.tempo_bpm)
    spans = reference_spans(brief.reference, brief.key, grid, brief.duration_s / grid.qn_seconds)
    notes = [n for p in arrangement.parts if p.role in ("chords", "pad", "bass") for n in p.notes]
    hits = [n.pitch % 12 in chord_at(spans, n.start / grid.qn_seconds + 0.05).chord.pcs for n in notes]
    return sum(hits) / len(hits)


def test_harmony_and_melody_modes_play_the_reference_chords(restyled):
    for mode in ("harmony", "melody"):
        brief, arrangement, _ = restyled[mode]
        assert _chord_tone_share(brief, arrangement) >= 0.75, mode


def test_lullaby_instruction_is_applied(restyled):
    brief = restyled["melody"][0]
    assert brief.instruments[0] == "Music Box" and "Drums" not in brief.instruments
    assert brief.tempo_bpm <= 78 and brief.energy <= 0.25
    assert brief.provenance["instruments"].source == "instruction"
    assert brief.provenance["tempo_bpm"].source == "instruction"
    # The whole tune at the slower tempo.
    assert brief.duration_s == pytest.approx(brief.reference.length_qn * 60 / brief.tempo_bpm, abs=0.01)
    assert all("lullaby" in s.caption for s in brief.sections)
    assert "lullaby" in brief.caption


def test_brief_json_reproduces_the_restyle(restyled):
    brief, arrangement, _ = restyled["melody"]
    again = compose(MusicBrief.from_json(brief.to_json()))
    assert [(p.name, p.notes) for p in again.parts] == [(p.name, p.notes) for p in arrangement.parts]
    assert json.loads(brief.to_json())["reference"]["melody"]


def test_controls_win_over_the_reference_and_the_instruction(tune):
    brief = api.describe(audio=tune, instruction="faster jazz", tempo=90, key="D minor")
    assert brief.tempo_bpm == 90 and str(brief.key) == "D minor" and brief.genre == "jazz"
    assert brief.provenance["tempo_bpm"].source == "user"
    arrangement = compose(brief)
    lead = next(p for p in arrangement.parts if p.role == "melody")
    tonic_pcs = {n.pitch % 12 for n in lead.notes}
    assert tonic_pcs <= {2, 4, 5, 7, 9, 10, 0}  # the tune moved to D minor: D E F G A Bb C


CHORALES = 6


def test_key_on_rendered_bach_chorales():
    """MIREX weighted key score against the scores' keys (signature + final bass), first chorales."""
    from music21 import corpus

    scores = []
    for path in bach_chorale_paths(CHORALES + 4):
        score = corpus.parse(str(path))
        ref = chorale_reference_key(score)
        if ref is not None:
            scores.append((score, ref))
        if len(scores) == CHORALES:
            break
    from weavewave.generators.symbolic.render import render

    results = []
    for score, ref in scores:
        mix = render(chorale_arrangement(score, tempo=90), workers=1)
        a = analyse_audio(mix.audio.mean(axis=1), mix.sample_rate, transcribe=False)
        results.append(mirex_key_score((a.key_tonic, a.key_mode), ref))
    assert len(results) == CHORALES
    assert np.mean(results) >= 0.6, results


@pytest.mark.parametrize(
    "bpm, beats",
    [(72, 4), (100, 3), (128, 4), (132, 3)],
    ids=["72bpm-4/4", "100bpm-3/4", "128bpm-4/4", "132bpm-3/4"],
)
def test_tempo_and_meter_on_click_tracks(bpm, beats):
    a = analyse_audio(click_track(bpm, 20.0, beats_per_bar=beats), 22050, transcribe=False)
    assert tempo_matches(a.tempo_bpm, bpm), a.tempo_bpm
    assert a.meter == f"{beats}/4"


@pytest.fixture(scope="module")
def recording() -> pathlib.Path:
    """music21's test_audio.wav: a real 20 s monophonic performance of a C-major scale and arpeggio."""
    return recording_path()


@pytest.fixture(scope="module")
def recording_heard(recording):
    return perceive_audio(recording)


def test_real_recording_smoke(recording_heard):
    """music21's test_audio.wav: a real 20 s recording, measured end to end."""
    p = recording_heard
    a = p.analysis
    assert 40 <= a.tempo_bpm <= 240
    assert len(a.melody) >= 10 and all(40 <= n[2] <= 100 for n in a.melody)
    assert a.segments and a.segments[0].caption
    assert a.loudness_lufs is not None
    assert p.observation.summary.startswith("20 s reference")


def test_real_recording_is_transcribed_by_pyin_without_octave_errors(recording_heard):
    """A single line goes to pyin (basic-pitch heard this one's twelfths: G5 for C4, A5 for D4), chosen by
    the measured polyphony, and the notes are the scale's: onsets within 50 ms, pitches exact."""
    a = recording_heard.analysis
    m = recording_heard.observation.measurements
    assert a.transcriber == "pyin" and m["transcriber"] == "pyin"
    assert m["polyphony"] <= MONOPHONIC_MAX_POLYPHONY and m["voiced_share"] >= 0.5
    truth = notes_of(RECORDING_SCALE_NOTES, RECORDING_KNOWN_UNTIL_S)
    scores = note_scores(truth, a.melody_s, until_s=RECORDING_KNOWN_UNTIL_S)
    assert scores["octave_or_twelfth_errors"] == 0, scores
    assert scores["f"] >= 0.9, scores
    assert [p for s, _, p in a.melody_s if s < RECORDING_KNOWN_UNTIL_S] == [
        p for _, p in RECORDING_SCALE_NOTES
    ]


def test_chords_keep_basic_pitch(heard):
    """Ode to Joy over triads is polyphonic: basic-pitch transcribes it, as before."""
    assert heard.analysis.transcriber == "basic-pitch"
    assert heard.observation.measurements["polyphony"] > MONOPHONIC_MAX_POLYPHONY


def test_real_recording_is_heard_in_c_major(recording_heard):
    a = recording_heard.analysis
    assert str(a.key) == "C major" and a.key_from == "notes"
    assert "Krumhansl" in recording_heard.proposals["key"].reason


def test_kept_tune_lands_on_strong_beats(recording_heard):
    """The recording's notes fall every other beat; the bar line is put where they land on beats 1 and 3
    (before, all of them sat on 2 and 4), and onsets sit on the eighth grid."""
    a = recording_heard.analysis
    bar = int(a.meter.split("/")[0]) if a.meter else 4
    positions = [start % bar for start, *_ in a.melody]
    strong = [pos for pos in positions if pos in (0.0, 2.0)]
    assert len(strong) >= 0.8 * len(positions), positions
    assert positions.count(0.0) >= 0.3 * len(positions), positions
    assert all(start % 0.5 == 0 for start, *_ in a.melody)


def test_restyles_longer_than_20_s_have_sections(recording, tune):
    """The reference's measured boundaries become brief sections: the recording slowed to a lullaby (about
    30 s) and the 39 s tune each restyle in more than one section, starting where the boundaries are."""
    for path, instruction in ((recording, LULLABY), (tune, "as jazz")):
        brief = api.describe(audio=path, instruction=instruction)
        assert brief.duration_s > 20, brief.duration_s
        assert len(brief.sections) > 1, (path.name, brief.sections)
        assert brief.provenance["sections"].source == "audio"


def test_jazz_restyle_has_drums(recording):
    """A quiet recording's level no longer keeps a jazz restyle's drums out; "no drums" still does."""
    brief = api.describe(audio=recording, instruction="make it jazz")
    assert brief.genre == "jazz" and "Drums" in brief.instruments
    arrangement = compose(brief)
    drums = next(p for p in arrangement.parts if p.is_drum)
    assert drums.notes
    for sec in brief.sections:
        assert any(sec.start_s <= n.start < sec.end_s for n in drums.notes), sec
    plain = api.describe(audio=recording, instruction="make it jazz, no drums")
    assert "Drums" not in plain.instruments


def test_real_recording_restyle_in_c_major(recording, recording_heard):
    """The recording's chroma chords are noise (a single line gives them): they are not trusted, the kept
    tune is re-harmonised in C major, and the restyle is written and heard in C major."""
    from weavewave.evaluate.symbolic import scale_consistency
    from weavewave.generators.symbolic.render import render
    from weavewave.music.analysis import estimate_key, reference_key

    a = recording_heard.analysis
    assert not a.harmony.trusted and a.chords_from == "melody", a.harmony
    obs = recording_heard.observation.measurements
    assert obs["chords_from"] == "melody" and "not trusted" in obs["harmony_reason"]
    brief = api.describe(audio=recording, instruction=LULLABY)
    assert str(brief.key) == "C major"
    ref = brief.reference
    assert ref.chords_from == "melody" and ref.harmony_confidence < 0.6 and ref.harmony_reason
    assert ref.chords[0][2] == "C:maj"
    arrangement = compose(brief)
    assert scale_consistency(arrangement.to_pretty_midi(), "C", "major") >= 0.85
    mix = render(arrangement, workers=1)
    heard_key = estimate_key(mix.audio.mean(axis=1) if mix.audio.ndim == 2 else mix.audio, mix.sample_rate)
    assert mirex_key_score(heard_key[:2], reference_key("C", "major")) >= 0.5, heard_key
    # Harmony mode keeps the same clean chords under a new tune.
    harmony = api.describe(audio=recording, instruction=LULLABY, reference_mode="harmony").reference
    assert harmony.chords == ref.chords and not harmony.melody


# --- pieces, on made-up input ---------------------------------------------------------------------
def test_polyphony_ignores_partials_and_legato():
    line = [(0.0, 1.1, 60), (1.0, 2.1, 62), (2.0, 3.0, 64)]  # legato overlaps of 0.1 s
    partials = [(0.0, 1.0, 72), (0.0, 1.0, 79), (1.0, 2.0, 74), (1.0, 2.0, 81)]  # octaves and twelfths
    chords = [(0.0, 2.0, 60), (0.0, 2.0, 64), (0.0, 2.0, 67)]
    assert polyphony(line + partials) == 0.0
    assert polyphony(chords + line) > 0.8


def test_notes_from_f0_splits_pitches_and_repeats_and_keeps_octave_slips_in_the_note():
    hop = 0.02
    midi = np.array([60.1] * 20 + [62.0] * 20 + [74.0] * 5 + [62.0] * 20 + [np.nan] * 3)
    prob = np.full(midi.size, 0.9)
    rms = np.ones(midi.size)
    rms[52:] = 2.0  # the D is struck again, louder, at frame 52
    notes = notes_from_f0(midi, prob, rms, np.array([0, 20, 52]), hop_s=hop)
    assert [p for *_, p in notes] == [60, 62, 62]
    assert notes[1][1] == pytest.approx(52 * hop)  # the D's octave slip (74) stayed inside it
    assert notes[2][1] == pytest.approx(65 * hop)
    unsure = notes_from_f0(midi, np.full(midi.size, 0.1), rms, np.array([0]), hop_s=hop)
    assert unsure == []


def test_key_from_notes_hears_a_scale_in_its_key():
    from weavewave.music.analysis import key_from_notes

    scale = [(i * 0.5, i * 0.5 + 0.45, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])]
    assert key_from_notes(scale, profile="krumhansl")[:2] == (0, "major")
    in_d = [(s, e, p + 2) for s, e, p in scale]
    assert key_from_notes(in_d, profile="krumhansl")[:2] == (2, "major")


def test_downbeat_phase_follows_long_notes():
    # Half notes on odd beats (1, 3, 5...): the bar starts on beat 1.
    assert downbeat_phase([1.0, 3.0, 5.0, 7.0, 9.0], [2.0] * 5, 4) in (1, 3)
    # Even quarter notes give no reason to move the tracker's bar line.
    assert downbeat_phase([float(i) for i in range(16)], [1.0] * 16, 4) == 0
