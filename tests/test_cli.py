"""End-to-end runs of the real ``weavewave`` command in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import message_lines
from weavewave.brief import MusicBrief

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weavewave.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=300,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def text_piece(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "text"
    r = run(
        "generate",
        "--text",
        "a calm rainy evening, lo-fi with soft piano, 84 bpm, in F minor",
        "--duration",
        "12",
        "--text-model",
        "lexicon",
        "--stems",
        "--seed",
        "3",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    return out


def test_generate_writes_the_contract_files(text_piece):
    for name in ("music.wav", "music.mid", "brief.json"):
        assert (text_piece / name).is_file()
    audio, sr = sf.read(text_piece / "music.wav")
    assert audio.shape[1] == 2 and abs(len(audio) / sr - 12) <= 0.1
    assert np.abs(audio).max() < 1.0
    brief = MusicBrief.load(text_piece / "brief.json")
    assert brief.tempo_bpm == 84 and str(brief.key) == "F minor" and brief.genre == "lofi"
    assert brief.provenance["tempo_bpm"].source == "text"


def test_midi_opens_with_named_tracks(text_piece):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(text_piece / "music.mid"))
    assert len(pm.instruments) >= 2
    assert all(inst.name for inst in pm.instruments)
    assert pm.get_tempo_changes()[1][0] == pytest.approx(84, abs=0.01)


def test_stems_sum_to_the_mix(text_piece):
    mix, sr = sf.read(text_piece / "music.wav")
    stems = sorted((text_piece / "stems").glob("*.wav"))
    assert len(stems) >= 2
    total = sum(sf.read(p)[0] for p in stems)
    # Each stem is its own synth pass with 16-bit output, scaled by the master gain: a few 1e-4 at most.
    assert np.abs(total - mix).max() < 2e-3
    assert np.abs(mix).max() > 0.1  # and the comparison is not between silences


def test_same_seed_same_bytes_and_brief_round_trip(text_piece, tmp_path):
    again = tmp_path / "again"
    r = run("generate", "--brief", str(text_piece / "brief.json"), "--stems", "--out", str(again))
    assert r.returncode == 0, r.stderr
    for name in ("music.wav", "music.mid", "brief.json"):
        assert digest(again / name) == digest(text_piece / name), name


def test_edited_brief_changes_the_piece(text_piece, tmp_path):
    data = json.loads((text_piece / "brief.json").read_text())
    data["tempo_bpm"] = 100
    data["key"] = {"tonic": "D", "mode": "major"}
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    r = run("generate", "--brief", str(edited), "--out", str(tmp_path / "v"))
    assert r.returncode == 0, r.stderr
    brief = MusicBrief.load(tmp_path / "v" / "brief.json")
    assert brief.tempo_bpm == 100 and str(brief.key) == "D major"
    assert digest(tmp_path / "v" / "music.mid") != digest(text_piece / "music.mid")


def test_real_photo(skimage_data, tmp_path):
    r = run(
        "generate",
        "--image",
        str(skimage_data / "coffee.png"),
        "--duration",
        "8",
        "--out",
        str(tmp_path / "p"),
    )
    assert r.returncode == 0, r.stderr
    brief = MusicBrief.load(tmp_path / "p" / "brief.json")
    assert brief.observations[0].source == "image"
    assert "brightness" in json.dumps(brief.observations[0].measurements)
    assert any(p.source == "image" for p in brief.provenance.values())


def test_describe_prints_only_json(tmp_path):
    r = run("describe", "--text", "a joyful folk dance in 3/4", "--text-model", "lexicon", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    brief = MusicBrief.from_json(r.stdout)
    assert brief.meter == "3/4"
    assert not list(tmp_path.iterdir())


def test_schema_command():
    r = run("schema")
    assert r.returncode == 0 and json.loads(r.stdout)["$id"] == "weavewave.brief/1"


def test_flac_format(tmp_path):
    r = run(
        "generate",
        "--text",
        "ambient drone",
        "--text-model",
        "lexicon",
        "--duration",
        "5",
        "--format",
        "flac",
        "--out",
        str(tmp_path / "f"),
    )
    assert r.returncode == 0, r.stderr
    info = sf.info(tmp_path / "f" / "music.flac")
    assert info.format == "FLAC" and abs(info.duration - 5) <= 0.1


def test_help_lists_the_contract_options():
    r = run("generate", "--help")
    for opt in (
        "--text",
        "--image",
        "--brief",
        "--duration",
        "--tempo",
        "--key",
        "--genre",
        "--instruments",
        "--seed",
        "--backend",
        "--out",
        "--format",
        "--stems",
        "--soundfont",
        "--force",
    ):
        assert opt in r.stdout


# --- bad input: exit 2, one clear line, no traceback, nothing left in --out --------------------------


def _truncated_jpeg(tmp_path: Path, skimage_data: Path) -> Path:
    data = (skimage_data / "rocket.jpg").read_bytes()
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 3])
    return p


def _bad_brief(tmp_path: Path) -> Path:
    p = tmp_path / "bad.json"
    p.write_text(
        json.dumps(
            {
                "schema": "weavewave.brief/1",
                "caption": "x",
                "duration_s": 10,
                "tempo_bpm": 999,
                "key": {"tonic": "C", "mode": "major"},
                "genre": "pop",
                "instruments": ["piano"],
            }
        )
    )
    return p


BAD = {
    "missing-image": (lambda t, s: ["--image", str(t / "nope.jpg")], "not found|does not exist|no such"),
    "directory-as-image": (lambda t, s: ["--image", str(t)], "directory|folder|not a file"),
    "text-renamed-png": (
        lambda t, s: ["--image", str((t / "x.png").write_text("hello") and t / "x.png")],
        "not an image",
    ),
    "truncated-jpeg": (
        lambda t, s: ["--image", str(_truncated_jpeg(t, s))],
        "truncated|corrupt|damaged|cannot",
    ),
    "empty-prompt": (lambda t, s: ["--text", "   "], "nothing to make music from"),
    "duration-zero": (lambda t, s: ["--text", "calm", "--duration", "0"], "duration"),
    "duration-too-long": (lambda t, s: ["--text", "calm", "--duration", "601"], "duration"),
    "tempo-low": (lambda t, s: ["--text", "calm", "--tempo", "29"], "tempo"),
    "tempo-high": (lambda t, s: ["--text", "calm", "--tempo", "301"], "tempo"),
    "bad-key": (lambda t, s: ["--text", "calm", "--key", "H sharp major"], "key"),
    "unknown-genre": (lambda t, s: ["--text", "calm", "--genre", "jaz"], "did you mean 'jazz'"),
    "unknown-instrument": (lambda t, s: ["--text", "calm", "--instruments", "piano, vilon"], "did you mean"),
    "invalid-brief": (lambda t, s: ["--brief", str(_bad_brief(t))], "tempo_bpm"),
    "missing-brief": (lambda t, s: ["--brief", str(t / "none.json")], "not found"),
    "missing-soundfont": (lambda t, s: ["--text", "calm", "--soundfont", str(t / "no.sf2")], "soundfont"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input(case, tmp_path, skimage_data):
    make_args, pattern = BAD[case]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    out = tmp_path / "out"
    r = run("generate", *make_args(inputs, skimage_data), "--text-model", "lexicon", "--out", str(out))
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = message_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("weavewave: error:"), r.stderr
    assert "Traceback" not in r.stderr
    import re

    assert re.search(pattern, lines[0], re.IGNORECASE), lines[0]
    assert not out.exists()


def test_existing_output_is_not_overwritten(text_piece, tmp_path):
    before = digest(text_piece / "music.wav")
    r = run(
        "generate",
        "--text",
        "fast rock",
        "--text-model",
        "lexicon",
        "--duration",
        "4",
        "--out",
        str(text_piece),
    )
    assert r.returncode == 2 and "already exists" in r.stderr and "--force" in r.stderr
    assert digest(text_piece / "music.wav") == before
    r = run(
        "generate",
        "--text",
        "fast rock",
        "--text-model",
        "lexicon",
        "--duration",
        "4",
        "--force",
        "--out",
        str(text_piece),
    )
    assert r.returncode == 0, r.stderr
    assert digest(text_piece / "music.wav") != before
