"""The music library: a real LanceDB table on disk, filled from real files (pieces rendered by the composer
with known labels, and music21's recording), searched on both tracks, and used as references."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lancedb")
pytest.importorskip("mutagen")

from library_media import render_labelled  # noqa: E402
from reference_audio import recording_path  # noqa: E402
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.library import open_library  # noqa: E402
from weavewave.library.indexer import add_paths  # noqa: E402
from weavewave.library.search import Query, search  # noqa: E402
from weavewave.library.track import FEATURE_DIM, TEXT_DIM  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RENDERED = 4  # jazz, ambient, rock, folk (library_media.LABELS)


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> tuple[Path, list]:
    """A music folder: four labelled rendered pieces, music21's recording, a corrupt file and a text file."""
    folder = tmp_path_factory.mktemp("music")
    labelled = render_labelled(folder / "rendered", RENDERED, duration=6.0)
    shutil.copy(recording_path(), folder / "recording.wav")
    (folder / "broken.mp3").write_bytes(b"ID3 this is not audio" * 10)
    (folder / "notes.txt").write_text("not music")
    return folder, labelled


@pytest.fixture(scope="module")
def library(music, tmp_path_factory):
    folder, _ = music
    lib = open_library(tmp_path_factory.mktemp("lib") / "library", create=True)
    report = add_paths(lib, [folder])
    return lib, report


def test_add_stores_analysed_tracks_and_lists_what_it_skipped(library, music):
    lib, report = library
    _, labelled = music
    assert report.added == RENDERED + 1 and lib.count() == RENDERED + 1
    assert [s.path.name for s in report.skipped] == ["broken.mp3"]
    assert "broken.mp3" in "\n".join(report.lines())
    assert (lib.folder / "tracks.lance").is_dir()  # a real table on disk
    row = lib.get(lib.rows(where="title = 'Jazz 000'")[0]["id"])
    assert row["genre"] == "jazz" and row["genre_from"] == "tags" and row["artist"] == "weavewave composer"
    assert "Acoustic Grand Piano" in row["instruments"] and "Drums" in row["instruments"]
    assert abs(row["tempo_bpm"] - labelled[0].tempo) / labelled[0].tempo < 0.03
    assert (
        row["key"] == f"{row['key_tonic']} {row['key_mode']}"
    )  # measured (a fifth off on 6 s of jazz is the
    # analysis's business, tested in test_audio.py); the library stores what it measured
    assert row["caption"].startswith(("A ", "An ")) and "BPM" in row["caption"]
    assert len(row["text_vector"]) == TEXT_DIM and len(row["feature_vector"]) == FEATURE_DIM
    assert np.isclose(np.linalg.norm(row["text_vector"]), 1.0, atol=1e-3)
    assert row["chords"] and row["sections"] and len(row["energy_curve"]) == 16


def test_add_is_incremental_and_stores_content_once(library, music, tmp_path):
    lib, _ = library
    folder, _ = music
    again = add_paths(lib, [folder])
    assert again.added == 0 and again.unchanged == RENDERED + 1
    copy = tmp_path / "same-song-other-name.wav"
    shutil.copy(folder / "recording.wav", copy)
    dup = add_paths(lib, [copy])
    assert dup.added == 0 and dup.duplicates == 1 and lib.count() == RENDERED + 1


def test_an_interrupted_add_keeps_its_batches_and_the_next_run_finishes(music, tmp_path, monkeypatch):
    from weavewave.library import indexer

    folder, labelled = music
    lib = open_library(tmp_path / "lib", create=True)
    real = indexer.analyse_track
    calls = []

    def interrupted(path, digest, tags):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third file is analysed
        return real(path, digest, tags)

    monkeypatch.setattr(indexer, "BATCH_ROWS", 2)
    monkeypatch.setattr(indexer, "analyse_track", interrupted)
    with pytest.raises(KeyboardInterrupt):
        add_paths(lib, [folder / "rendered"], text_model="lexicon")
    assert lib.count() == 2  # the first batch was written
    monkeypatch.setattr(indexer, "analyse_track", real)
    resumed = add_paths(lib, [folder / "rendered"], text_model="lexicon")
    assert resumed.unchanged == 2 and resumed.added == RENDERED - 2 and lib.count() == RENDERED


def test_targeted_filters_are_exact(library, music):
    lib, _ = library
    _, labelled = music
    for genre in ("jazz", "rock"):
        hits = search(lib, Query(genre=genre))
        assert hits and {h.row["genre"] for h in hits} == {genre}
        assert all(h.track == "targeted" for h in hits)
    drums = {h.row["title"] for h in search(lib, Query(instrument="drums"))}
    assert drums == {x.title for x in labelled if "drums" in x.instruments}
    lo_hi = search(lib, Query(tempo=(60.0, 100.0)))
    assert lo_hi and all(60.0 <= h.row["tempo_bpm"] <= 100.0 for h in lo_hi)
    minor = search(lib, Query(text="music", key="minor"))
    assert minor and all(h.row["key_mode"] == "minor" for h in minor)


def test_a_title_named_in_the_prompt_comes_first_with_why(library):
    lib, _ = library
    hits = search(lib, Query(text="something in the style of my track 'Rock 002'", limit=3))
    assert hits[0].row["title"] == "Rock 002" and hits[0].track == "targeted"
    assert "names your track 'Rock 002'" in hits[0].why[0]
    assert all(h.track == "broad" for h in hits[1:])


def test_like_a_file_uses_its_own_analysis_and_leaves_it_out(library, music):
    lib, _ = library
    _, labelled = music
    hits = search(lib, Query(like=str(labelled[2].path), limit=3))
    assert hits and labelled[2].title not in {h.row["title"] for h in hits}
    assert all(h.track == "targeted" and h.why[0].startswith(f"like {labelled[2].path.name}") for h in hits)


def test_cli_search_prints_tracks_and_why(library, capsys):
    from weavewave.cli import main

    lib, _ = library
    assert main(["library", "search", "calm ambient pad", "--library", str(lib.folder), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and data[0]["track"] == "broad" and data[0]["why"] and data[0]["path"]
    assert main(["library", "stats", "--library", str(lib.folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tracks"] == RENDERED + 1


def test_a_missing_library_is_one_clear_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for args in (["library", "list"], ["describe", "--text", "calm"]):
        run = subprocess.run([sys.executable, "-m", "weavewave.cli", *args, "--library", str(tmp_path / "none")],
                             capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "no library there" in lines[0] and "library add" in lines[0]


def test_two_add_runs_at_once_store_each_track_once(music, tmp_path):
    folder, labelled = music
    songs = tmp_path / "songs"
    songs.mkdir()
    for x in labelled[:2]:
        shutil.copy(x.path, songs / x.path.name)
    target = tmp_path / "lib"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "weavewave.cli", "library", "add", str(songs), "--library", str(target), "-q",
               "--text-model", "lexicon"]  # fmt: skip
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    lib = open_library(target)
    rows = lib.rows()
    assert len(rows) == 2 and len({r["content_hash"] for r in rows}) == 2
    assert {r["embedder"] for r in rows} == {"words"}
    with pytest.raises(BadInputError, match="cannot mix"):
        add_paths(lib, [songs], text_model="minilm")


def test_a_reference_lends_its_tempo_to_the_piece(library, music):
    from weavewave import describe, generate
    from weavewave.perceive.audio import analyse_audio

    lib, _ = library
    brief = describe(text="something in the style of my track 'Jazz 000'", library=str(lib.folder), duration=8,
                     text_model="lexicon")  # fmt: skip
    ref = lib.rows(where="title = 'Jazz 000'")[0]
    assert [r.title for r in brief.references] == ["Jazz 000"] and brief.references[0].track == "targeted"
    assert brief.references[0].content_hash == ref["content_hash"] and "tempo_bpm" in brief.references[0].lent
    assert brief.tempo_bpm == pytest.approx(ref["tempo_bpm"], abs=0.01)
    assert brief.provenance["tempo_bpm"].source == "reference"
    assert "from your track 'Jazz 000'" in brief.caption
    assert brief.instruments[:3] == ["Acoustic Grand Piano", "Acoustic Bass", "Drums"]  # from its tags
    track = generate(brief=brief)
    heard = analyse_audio(track.audio.mean(axis=1), track.sample_rate, transcribe=False)
    assert abs(heard.tempo_bpm - ref["tempo_bpm"]) / ref["tempo_bpm"] <= 0.02


def test_an_explicit_tempo_is_never_lent(library):
    from weavewave import describe

    lib, _ = library
    brief = describe(text="in the style of my track 'Rock 002'", tempo=77, library=str(lib.folder),
                     text_model="lexicon")  # fmt: skip
    assert brief.tempo_bpm == 77 and brief.provenance["tempo_bpm"].source == "user"
    assert "tempo_bpm" not in brief.references[0].lent


def test_a_reference_gone_from_disk_is_one_clear_line(library, music, tmp_path):
    from weavewave import describe

    lib, _ = library
    _, labelled = music
    moved = tmp_path / "moved.flac"
    shutil.move(labelled[3].path, moved)
    try:
        with pytest.raises(BadInputError, match=r"is no longer at .*weavewave library remove") as info:
            describe(
                text="in the style of my track 'Folk 003'", library=str(lib.folder), text_model="lexicon"
            )
        assert "\n" not in str(info.value)
    finally:
        shutil.move(moved, labelled[3].path)


def test_a_reference_added_to_the_brief_by_hand_lends(music):
    from weavewave import describe

    _, labelled = music
    plain = describe(text="a calm evening", text_model="lexicon").to_dict()
    plain["references"] = [{"path": str(labelled[1].path), "title": "my pad"}]
    varied = describe(brief=plain)
    assert varied.references[0].lent and varied.provenance["tempo_bpm"].source == "reference"
    assert "from your track 'my pad'" in varied.caption


def test_import_weavewave_does_not_import_lancedb():
    code = "import sys, weavewave, weavewave.cli; print('lancedb' in sys.modules, 'pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert out.stdout.split() == ["False", "False"]


def test_musicgen_follows_the_first_reference_as_melody(library, tiny_musicgen_melody, one_torch_thread):
    from weavewave import generate

    lib, _ = library
    track = generate(text="in the style of my track 'Ambient 001'", library=str(lib.folder), backend="musicgen",
                     model=str(tiny_musicgen_melody), duration=2, window=3, text_model="lexicon")  # fmt: skip
    ref = track.brief.references[0]
    assert ref.title == "Ambient 001"
    assert track.brief.generator is not None
    assert ref.content_hash in {
        f.sha256 for f in track.brief.generator.files.values()
    }  # the melody recording


def test_musicgen_melody_says_which_reference_and_how(library, tiny_musicgen_melody, one_torch_thread):
    from weavewave import generate

    lib, _ = library
    track = generate(text="in the style of my track 'Ambient 001'", library=str(lib.folder), backend="musicgen",
                     model=str(tiny_musicgen_melody), duration=2, window=3, text_model="lexicon")  # fmt: skip
    made = track.brief
    assert track.stats["reference"]["as"] == "melody" and made.generator.options["reference_as"] == "auto"
    assert made.generator.files["reference"].sha256 == made.references[0].content_hash
    assert "melody conditioning" in made.provenance["generator.reference"].reason
    assert made.caption.endswith("MusicGen-Melody follows the melody of your track 'Ambient 001'.")


def test_musicgen_continues_an_excerpt_of_the_reference(
    library, tiny_musicgen, one_torch_thread, monkeypatch
):
    from weavewave import generate

    lib, _ = library
    ask = dict(text="in the style of my track 'Rock 002'", library=str(lib.folder), backend="musicgen",
               model=str(tiny_musicgen), duration=2, window=3, seed=5, text_model="lexicon")  # fmt: skip
    track = generate(**ask)  # a plain MusicGen: auto is an audio prompt
    made = track.brief
    start, end = track.stats["reference"]["excerpt_s"]
    assert track.stats["reference"] == {"track_id": made.references[0].track_id, "title": "Rock 002", "as": "prompt",
                                        "excerpt_s": [start, end]}  # fmt: skip
    assert end - start == pytest.approx(1.0, abs=0.02)  # prompt_seconds: a third of the 3 s window
    assert made.generator.files["reference"].sha256 == made.references[0].content_hash
    assert f"audio prompt: the excerpt {start:g}-{end:g} s" in made.provenance["generator.reference"].reason
    assert made.caption.endswith(
        f"MusicGen continues an excerpt of your track 'Rock 002' ({start:g}-{end:g} s)."
    )
    assert track.audio.shape[0] > 0 and np.isfinite(track.audio).all()
    # the brief makes the same piece again (the caption's note is not read by the model)
    again = generate(brief=made.to_dict())
    assert np.array_equal(again.audio, track.audio)
    # the first window's audio prompt is that excerpt of the reference's own recording (a tiny random
    # EnCodec gives every audio the same codes, so this is checked where the prompt enters the model)
    from weavewave.dsp.signal import resample, to_mono
    from weavewave.generators.musicgen import generator as musicgen
    from weavewave.io.audio import read_audio

    prompts = []
    real = musicgen.generate_block
    monkeypatch.setattr(
        musicgen, "generate_block", lambda *a, **k: prompts.append(k["prompt_audio"]) or real(*a, **k)
    )
    assert np.array_equal(generate(**ask).audio, track.audio)
    audio, sr = read_audio(made.references[0].path)
    expected = resample(to_mono(audio), sr, 32000)[int(start * 32000) : int(round(end * 32000))]
    assert prompts[0].shape == (1, expected.shape[0]) and np.sqrt(np.mean(expected**2)) > 0.01
    assert np.allclose(prompts[0][0], expected, atol=1e-5)
    # without the reference's recording, the chords it lent cannot be kept: refused, not dropped
    with pytest.raises(BadInputError, match="cannot replay the tune or chords kept from a reference"):
        generate(**ask, reference_as="none")


def test_reference_as_melody_needs_a_melody_model(library, tiny_musicgen, one_torch_thread):
    from weavewave import generate

    lib, _ = library
    with pytest.raises(BadInputError, match="needs a MusicGen-Melody model") as info:
        generate(text="in the style of my track 'Rock 002'", library=str(lib.folder), backend="musicgen",
                 model=str(tiny_musicgen), duration=2, window=3, reference_as="melody", text_model="lexicon")  # fmt: skip
    assert "\n" not in str(info.value)
