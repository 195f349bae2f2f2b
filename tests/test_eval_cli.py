"""`weavewave eval` end to end, and best-of-N reranking through the API and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import weavewave
from weavewave.brief import MusicBrief
from weavewave.errors import BadInputError
from weavewave.evaluate.report import evaluate
from weavewave.evaluate.rerank import candidate_seed
from weavewave.export.track import save_track

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weavewave.cli", *args], capture_output=True, text=True, env=ENV, timeout=600
    )


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """Two generated pieces in nested folders, as `weavewave generate` writes them."""
    root = tmp_path_factory.mktemp("eval") / "runs"
    for i, (genre, key, tempo) in enumerate((("folk", "D major", 100), ("rock", "E minor", 128))):
        track = weavewave.generate(
            text="a piece", genre=genre, key=key, tempo=tempo, duration=12, seed=i, text_model="lexicon"
        )
        save_track(track, root / "batch" / f"piece{i}")
    return root


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A reference set of real audio: music21's test recording, cut in two."""
    music21 = pytest.importorskip("music21")
    wav = Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"
    audio, sr = sf.read(wav)
    folder = tmp_path_factory.mktemp("reference")
    half = len(audio) // 2
    sf.write(folder / "a.wav", audio[:half], sr)
    (folder / "sub").mkdir()
    sf.write(folder / "sub" / "b.flac", audio[half:], sr)
    return folder


@pytest.fixture(scope="module")
def report(outputs, reference, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("report") / "rep"
    r = run("eval", str(outputs), "--reference", str(reference), "--out", str(out), "-q")
    return out, r


def test_eval_writes_results_and_report(report):
    out, r = report
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == "weavewave.eval/1"
    names = [t["name"] for t in results["tracks"]]
    assert names == ["batch/piece0", "batch/piece1"]
    m = results["tracks"][0]["metrics"]
    for key in (
        "tempo_acc1",
        "tempo_acc2",
        "key_mirex",
        "key_exact",
        "duration_error_s",
        "lufs",
        "true_peak_dbfs",
        "silent",
        "clipping",
        "section_boundary_f3",
        "scale_consistency",
        "pitch_class_entropy",
        "note_density",
        "groove_consistency",
        "melody_distance[folk]",
    ):
        assert key in m, key
    assert m["key_requested"] == "D major" and abs(m["duration_error_s"]) < 0.05
    assert m["lufs"] == pytest.approx(-14.0, abs=1.0) and not m["silent"] and not m["clipping"]
    s = results["summary"]
    assert s["tracks"] == 2 and 0 <= s["key_mirex"] <= 1 and "lufs_std" in s
    assert set(s["melody_distance[folk]"]) == {"interval", "rhythm", "pitch_class", "mean"}
    dist = results["distribution"]
    assert dist["reference_tracks"] == 2
    assert dist["fad[features]"] > 0  # synthesized pieces vs a real recording: far apart
    assert "fad_inf[features]" in dist
    assert "evaluated 2 tracks" in r.stdout and "fad[features]" in r.stdout


def test_report_shows_tables_and_pictures(report):
    from PIL import Image

    out, _ = report
    md = (out / "report.md").read_text()
    assert "| tempo Acc1 (within 4 %) |" in md and "| fad[features] |" in md
    links = [line.split("(")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert len(links) == 2
    for link in links:
        assert (out / link).exists()
    html = (out / "report.html").read_text()
    assert "<table>" in html and "tracks/batch-piece0/overview.png" in html
    pics = sorted(p.name for p in (out / "tracks" / "batch-piece0").iterdir())
    assert pics == sorted(
        ["chroma.png", "loudness.png", "overview.png", "pianoroll.png", "spectrogram.png", "tempo.png"]
    )
    with Image.open(out / "tracks" / "batch-piece0" / "overview.png") as im:
        assert im.width >= 800 and im.height > im.width  # five stacked panels
        # Not blank: a real picture has many distinct colours.
        assert len(im.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 1000


def test_eval_refuses_to_overwrite_and_bad_paths(report, tmp_path):
    out, _ = report
    r = run("eval", str(out.parent), "--out", str(out), "-q")
    assert r.returncode == 2
    r = run("eval", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "does not exist" in r.stderr
    (tmp_path / "lonely").mkdir()
    sf.write(tmp_path / "lonely" / "music.wav", np.zeros(1000), 8000)
    r = run("eval", str(tmp_path / "lonely"), "--out", str(tmp_path / "o2"))
    assert r.returncode == 2 and "no brief.json" in r.stderr
    assert not (tmp_path / "o2").exists()  # nothing left behind


def test_manifest_with_faulty_audio_is_flagged(outputs, tmp_path):
    """A JSONL manifest pointing at a clipped and a silent take: the flags say so."""
    brief = MusicBrief.load(outputs / "batch" / "piece0" / "brief.json")
    sr = 48000
    t = np.arange(12 * sr) / sr
    sf.write(tmp_path / "clipped.wav", np.clip(3 * np.sin(2 * np.pi * 220 * t), -1, 1), sr, subtype="FLOAT")
    sf.write(tmp_path / "silent.wav", np.zeros(12 * sr), sr)
    lines = [
        {"audio": "clipped.wav", "brief": brief.to_dict(), "name": "clipped"},
        {"audio": "silent.wav", "brief": str(outputs / "batch" / "piece0" / "brief.json")},
    ]
    (tmp_path / "runs.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    results = evaluate([tmp_path / "runs.jsonl"], plots=False)
    clipped, silent = (t["metrics"] for t in results["tracks"])
    assert clipped["clipping"] and not clipped["silent"]
    assert silent["silent"] and silent["lufs"] is None
    assert results["summary"]["clipping_tracks"] == 1 and results["summary"]["silent_tracks"] == 1
    (tmp_path / "bad.jsonl").write_text('{"audio": "clipped.wav", "colour": 3}\n')
    with pytest.raises(BadInputError, match="unknown key"):
        evaluate([tmp_path / "bad.jsonl"], plots=False)


# --- reranking ------------------------------------------------------------------------------------------------
def test_candidate_seeds_are_deterministic_and_distinct():
    seeds = [candidate_seed(42, i) for i in range(8)]
    assert seeds[0] == 42 and len(set(seeds)) == 8
    assert seeds == [candidate_seed(42, i) for i in range(8)]
    assert all(0 <= s < 2**32 for s in seeds)


def test_rerank_keeps_the_best_and_records_every_score():
    track = weavewave.generate(
        text="a piece",
        genre="folk",
        key="A minor",
        tempo=96,
        duration=8,
        seed=11,
        text_model="lexicon",
        candidates=3,
        rerank="scale",
    )
    reason = track.brief.provenance["rerank"].reason
    scores = track.stats["rerank"]["scores"]
    assert len(scores) == 3 and [s["seed"] for s in scores] == [candidate_seed(11, i) for i in range(3)]
    assert reason.count("seed ") == 3 and "(kept)" in reason
    kept = track.stats["rerank"]["kept"]
    assert scores[kept]["score"] == max(s["score"] for s in scores)
    assert track.brief.seed == scores[kept]["seed"]
    # The saved brief reproduces the kept candidate exactly.
    again = weavewave.generate(brief=track.brief)
    assert np.array_equal(again.audio, track.audio)


def test_rerank_cli(tmp_path):
    r = run("generate", "--text", "a dance", "--candidates", "2", "--out", str(tmp_path / "a"), "-q")
    assert r.returncode == 2 and "--rerank" in r.stderr and not (tmp_path / "a").exists()
    r = run(
        "generate",
        "--text",
        "a dance",
        "--candidates",
        "2",
        "--rerank",
        "beauty",
        "--out",
        str(tmp_path / "b"),
    )
    assert r.returncode == 2 and "unknown --rerank metric" in r.stderr
    r = run(
        "generate",
        "--text",
        "a dance in G major",
        "--text-model",
        "lexicon",
        "--duration",
        "8",
        "--candidates",
        "2",
        "--rerank",
        "adherence",
        "--seed",
        "5",
        "--out",
        str(tmp_path / "c"),
        "-q",
    )
    assert r.returncode == 0, r.stderr
    brief = json.loads((tmp_path / "c" / "brief.json").read_text())
    assert "best of 2 by adherence" in brief["provenance"]["rerank"]["reason"]
