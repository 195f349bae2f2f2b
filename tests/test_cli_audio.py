"""The command line with a reference tune: restyling end to end, describe --audio, and the bad-input table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("librosa")
pytest.importorskip("basic_pitch")

from reference_audio import render_to_wav, tune_arrangement  # noqa: E402
from weavewave.brief import MusicBrief  # noqa: E402
from weavewave.cli import main  # noqa: E402
from weavewave.music.melodic import melodic_similarity, skyline  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
LULLABY = "as a gentle lullaby on music box"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weavewave.cli", *args], capture_output=True, text=True, env=ENV, timeout=300
    )


@pytest.fixture(scope="module")
def tune(tmp_path_factory) -> Path:
    """A short tune (Ode to Joy, half of it) at 120 BPM: a quick reference for the CLI."""
    from reference_audio import ODE_TO_JOY

    arrangement = tune_arrangement(ODE_TO_JOY[:30], tempo=120.0)
    return render_to_wav(arrangement, tmp_path_factory.mktemp("cli-audio") / "tune.wav")


@pytest.fixture(scope="module")
def lullaby(tune, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli-audio-out") / "lullaby"
    r = run("generate", "--audio", str(tune), "--instruction", LULLABY, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "WARNING" not in r.stderr
    return out


def _melody_pitches(midi_path: Path) -> list[int]:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(midi_path))
    lead = next(i for i in pm.instruments if i.name.startswith("melody"))
    return [p for *_, p in skyline([(n.start, n.end, n.pitch) for n in lead.notes])]


def test_generate_restyles_the_tune(lullaby, tune):
    for name in ("music.wav", "music.mid", "brief.json"):
        assert (lullaby / name).is_file()
    brief = MusicBrief.load(lullaby / "brief.json")
    assert brief.instruments[0] == "Music Box" and brief.reference.mode == "melody"
    audio, sr = sf.read(lullaby / "music.wav")
    assert abs(len(audio) / sr - brief.duration_s) < 0.05
    # The lead plays the tune: compare it with the tune's own notes (Ode to Joy's first phrases).
    from reference_audio import ODE_TO_JOY

    truth = [p for p, _ in ODE_TO_JOY[:30]]
    assert melodic_similarity(truth, _melody_pitches(lullaby / "music.mid")) > 0.8


def test_brief_json_reproduces_the_restyle(lullaby, tmp_path):
    r = run("generate", "--brief", str(lullaby / "brief.json"), "--out", str(tmp_path / "again"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again" / "music.mid").read_bytes() == (lullaby / "music.mid").read_bytes()
    assert (tmp_path / "again" / "music.wav").read_bytes() == (lullaby / "music.wav").read_bytes()


def test_describe_audio_prints_the_brief(tune, capsys):
    assert main(["describe", "--audio", str(tune), "--reference-mode", "harmony", "-q"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reference"]["mode"] == "harmony" and data["reference"]["chords"]
    assert data["provenance"]["tempo_bpm"]["source"] == "audio"


def test_generate_jazz_from_the_real_recording(tmp_path):
    """End to end on music21's recording of a C-major scale: the restyle is in C major, its drums play,
    and the brief records that pyin transcribed it."""
    import pretty_midi

    from reference_audio import recording_path

    out = tmp_path / "jazz"
    r = run("generate", "--audio", str(recording_path()), "--instruction", "make it jazz", "--out", str(out))
    assert r.returncode == 0, r.stderr
    brief = MusicBrief.load(out / "brief.json")
    assert str(brief.key) == "C major" and brief.genre == "jazz"
    heard = next(o for o in brief.observations if o.source == "audio")
    assert heard.measurements["transcriber"] == "pyin"
    pm = pretty_midi.PrettyMIDI(str(out / "music.mid"))
    assert sum(len(i.notes) for i in pm.instruments if i.is_drum) > 0


# --- bad input ------------------------------------------------------------------------------------
def _wav(path: Path, seconds: float, *, silent: bool = False) -> Path:
    t = np.arange(int(seconds * 22050)) / 22050
    y = np.zeros_like(t) if silent else 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, y.astype(np.float32), 22050)
    return path


def _truncated(path: Path) -> Path:
    t = np.arange(4 * 22050) / 22050
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


BAD = {
    "missing": (lambda d: d / "nope.wav", "not found"),
    "zero length": (lambda d: (d / "empty.wav").write_bytes(b"") and None or d / "empty.wav", "empty"),
    "corrupt": (
        lambda d: (
            (d / "noise.wav").write_bytes(np.random.default_rng(0).bytes(4096)) and None or d / "noise.wav"
        ),
        "cannot decode",
    ),
    "truncated wav": (lambda d: _truncated(d / "cut.wav"), "truncated"),
    "truncated flac": (lambda d: _truncated(d / "cut.flac"), "truncated"),
    "truncated mp3": (lambda d: _truncated(d / "cut.mp3"), "truncated"),
    "truncated ogg": (lambda d: _truncated(d / "cut.ogg"), "cut off"),
    "too short": (lambda d: _wav(d / "short.wav", 0.5), "at least"),
    "silence": (lambda d: _wav(d / "silence.wav", 5.0, silent=True), "silent"),
    "video as audio": (
        lambda d: (
            (d / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2048)) and None or d / "clip.mp4"
        ),
        "--video",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_audio_input(case, tmp_path, capsys):
    make, words = BAD[case]
    path = make(tmp_path)
    out = tmp_path / "out"
    code = main(["generate", "--audio", str(path), "--instruction", "jazz", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("weavewave: error: ") and err.count("\n") == 1, err
    assert words in err
    assert not out.exists()


def test_too_long_says_the_limit_and_how_to_raise_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WEAVEWAVE_MAX_AUDIO_S", "3")
    code = main(["describe", "--audio", str(_wav(tmp_path / "long.wav", 4.0)), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "limit for --audio is 3 s" in err and "WEAVEWAVE_MAX_AUDIO_S" in err


@pytest.mark.parametrize(
    "args, words",
    [
        (["--text", "calm", "--reference-mode", "style"], "give the tune with --audio"),
        (["--text", "calm", "--instruction", "  "], "empty"),
    ],
    ids=["mode without audio", "blank instruction"],
)
def test_bad_restyle_options(args, words, tmp_path, capsys):
    code = main(["generate", *args, "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and words in err and not (tmp_path / "out").exists()
