"""`weavewave annotate`: real files in, a dataset `datasets.load_dataset` reads out, checked by the reviewer."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("librosa")

from annotate_data import build_music_folder  # noqa: E402
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.train.annotate import Annotation, MeasurementReviewer, Measurements, annotate  # noqa: E402

TRACKS = {"slow": (90.0, "A minor", 12.0), "fast": (128.0, "C major", 12.0)}


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    folder = build_music_folder(tmp_path_factory.mktemp("music") / "mine", TRACKS)
    (folder / "slow.txt").write_text("a sad piano piece at 120 BPM")  # the user's caption, with a wrong tempo
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return folder


@pytest.fixture(scope="module")
def dataset(music, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "mine"
    return out, annotate([music], out, segment=6, licence="CC0, my own recordings")


def test_datasets_loads_the_output(dataset):
    datasets = pytest.importorskip("datasets")
    out, summary = dataset
    assert summary.tracks_done == 2 and summary.kept == 4 and summary.total_rows == 4
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(out.parent / "hf-cache"))
    assert ds.num_rows == 4
    assert {"audio", "caption", "tempo_bpm", "key", "meter", "energy", "mood", "story", "review"} <= set(
        ds.column_names
    )
    for row in ds:
        assert (out / row["audio"]).is_file()
        assert row["story"] == "" and row["image_prompt"] == "" and row["writer"].startswith("none")
        want_tempo, want_key, _ = TRACKS["slow" if row["source"] == "slow.wav" else "fast"]
        assert row["tempo_bpm"] == pytest.approx(want_tempo, rel=0.05)
        assert row["key"] == want_key
        assert json.loads(row["provenance"])["tempo_bpm"].startswith("measured")


def test_reviewer_corrects_the_users_wrong_tempo(dataset):
    out, summary = dataset
    rows = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    slow = [r for r in rows if r["source"] == "slow.wav"]
    assert slow and all(r["review"] == "corrected" for r in slow)
    for r in slow:  # the caption now states the measured tempo
        assert "120 BPM" not in r["caption"] and f"{r['tempo_bpm']:.0f} BPM" in r["caption"]
    assert "caption says 120 BPM" in slow[0]["review_notes"][0]
    assert summary.corrected == 2


def test_unreadable_files_are_skipped_and_listed(dataset):
    out, summary = dataset
    assert [s["path"].split("/")[-1] for s in summary.skipped] == ["broken.wav"]
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert skipped[0]["path"].endswith("broken.wav") and "decode" in skipped[0]["reason"]
    card = (out / "README.md").read_text()
    assert "CC0, my own recordings" in card and "broken.wav" in card and "tempo 2" in card


def test_incremental_and_resumable(music, dataset):
    out, _ = dataset
    again = annotate([music], out, segment=6)
    assert again.tracks_done == 0 and again.tracks_already == 2 and again.total_rows == 4
    # an interrupted run: the state lost one track after its rows were written; it is made again, once
    state = json.loads((out / "annotate_state.json").read_text())
    sha = next(h for h, s in state["sources"].items() if s["path"].endswith("fast.wav"))
    state["sources"][sha]["done"] = False
    (out / "annotate_state.json").write_text(json.dumps(state))
    redone = annotate([music], out, segment=6)
    assert redone.tracks_done == 1 and redone.total_rows == 4
    with pytest.raises(BadInputError, match="--segment 6"):
        annotate([music], out, segment=10)


def measured(tempo=90.0, key="A minor", meter="4/4", lufs=-20.0) -> Measurements:
    return Measurements(tempo_bpm=tempo, key=key, key_correlation=0.8, meter=meter, energy=0.5,
                        loudness_lufs=lufs, brightness_hz=1500.0, onsets_per_s=2.0)  # fmt: skip


def annotation(caption: str) -> Annotation:
    return Annotation(caption, {}, {})


def test_reviewer_rejects_an_injected_wrong_tempo():
    reviewer = MeasurementReviewer("reject")
    wrong = reviewer.review(annotation("a calm piece at 120 BPM in A minor"), measured(tempo=90.0))
    assert wrong.review == "rejected" and "caption says 120 BPM, measured 90 BPM" in wrong.review_notes[0]
    assert reviewer.review(annotation("a calm piece at 92 bpm"), measured()).review == "ok"
    assert reviewer.review(annotation("at 180 BPM, double time"), measured()).review == "ok"
    key = reviewer.review(annotation("a piece in C major"), measured())
    assert key.review == "rejected" and "key" in key.review_notes[0]
    assert reviewer.review(annotation("in 3/4"), measured()).review == "rejected"
    assert reviewer.review(annotation("anything"), measured(lufs=-80.0)).review_notes == [
        "silent: nothing to learn from"
    ]
    fixed = MeasurementReviewer("correct").review(annotation("at 120 BPM in C major"), measured())
    assert fixed.review == "corrected" and fixed.caption == "at 90 BPM in A minor"


def test_empty_folder_is_one_clear_line(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-m", "weavewave.cli", "annotate", str(tmp_path / "empty"), "--out",
                           str(tmp_path / "ds"), "-q"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no audio files found" in proc.stderr
    assert not (tmp_path / "ds").exists()


def test_the_trainer_reads_the_annotated_dataset(dataset, tiny_musicgen, tmp_path):
    pytest.importorskip("peft")
    from weavewave.train.musicgen import TrainConfig, train_musicgen

    out, _ = dataset
    result = train_musicgen(TrainConfig(data=str(out), model=str(tiny_musicgen), out=str(tmp_path / "a"),
                                        max_steps=2, batch_size=2, grad_accum=1, max_segment_s=2.0))  # fmt: skip
    assert result.steps == 2 and result.train_rows == 3 and result.val_rows == 1


def test_segments_per_detected_section(tmp_path):
    from annotate_data import SAMPLE_RATE, piece
    from weavewave.train.annotate import MIN_SEGMENT_S, segment_spans

    # two contrasting halves: 90 BPM in A minor, then 128 BPM in D major
    mono = np.concatenate([piece(90.0, "A minor", 10.0), piece(128.0, "D major", 10.0)])
    spans = segment_spans(mono, SAMPLE_RATE, "sections")
    assert len(spans) >= 2 and all(b - a >= MIN_SEGMENT_S for a, b in spans)
    assert any(abs(b - 10.0) < 1.5 for a, b in spans[:-1])  # a boundary where the music changes
    fixed = segment_spans(mono, SAMPLE_RATE, 6.5)
    assert fixed == [(0.0, 6.5), (6.5, 13.0), (13.0, 19.5)]  # the 0.5 s tail is dropped
