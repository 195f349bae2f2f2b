"""Model-backed annotation roles: the CLAP reviewer (`--clap-model`, `--clap-threshold`) and the instruct
writer (`--writer-model`).

Tiny random models saved to disk and loaded through weavewave's loaders. Their scores and words are noise,
so the reviewer's threshold is set just above and just below the score the model gives, and the writer's
filled path is checked with a fluent answer put in place of the model's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("librosa")
pytest.importorskip("transformers")

from annotate_data import build_music_folder  # noqa: E402
from tiny_models import one_torch_thread  # noqa: E402, F401
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.train.annotate import annotate  # noqa: E402

STORY = "A girl walks home through the rain. The city lights blur and she hums along."
IMAGE = "a rainy street at night, neon reflections, a lone figure with an umbrella"


def rows_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_chat_llm):
    from tiny_models import build_clap

    root = tmp_path_factory.mktemp("roles")
    music = build_music_folder(root / "music", {"one": (90.0, "A minor", 6.0)})
    return {"root": root, "music": music, "clap": str(build_clap(root / "clap")), "llm": str(tiny_chat_llm)}


@pytest.fixture(scope="module")
def scored(setup):
    """One run that keeps everything (threshold -1): the score the tiny CLAP gives the segment."""
    out = setup["root"] / "scored"
    summary = annotate([setup["music"]], out, segment=6, clap_model=setup["clap"], clap_threshold=-1.0)
    return out, summary, rows_of(out / "data" / "train.jsonl")


def test_clap_score_is_recorded_and_matches_clap(setup, scored):
    import soundfile as sf

    from weavewave.evaluate.neural import clap_score, load_clap

    out, summary, rows = scored
    assert summary.kept == 1 and summary.flagged == 0 and len(rows) == 1
    row = rows[0]
    assert row["review"] == "ok" and -1.0 <= row["clap_score"] <= 1.0
    audio, sr = sf.read(str(setup["music"] / "one.wav"), dtype="float32")
    want = clap_score(load_clap(setup["clap"]), audio[: 6 * sr], sr, row["caption"])
    assert row["clap_score"] == pytest.approx(want, abs=2e-3)
    provenance = json.loads(row["provenance"])
    assert f"{row['clap_score']:.3f}" in provenance["clap_score"] and "clap-clap" in provenance["reviewer"]
    assert "threshold -1" in (out / "README.md").read_text()


@pytest.mark.parametrize("review", ["reject", "correct"])
def test_threshold_just_above_the_score_rejects_or_flags(setup, scored, review):
    score = scored[2][0]["clap_score"]
    out = setup["root"] / f"above-{review}"
    summary = annotate([setup["music"]], out, segment=6, review=review, clap_model=setup["clap"],
                       clap_threshold=score + 0.005)  # fmt: skip
    kept, rejected = rows_of(out / "data" / "train.jsonl"), rows_of(out / "rejected.jsonl")
    if review == "reject":
        assert summary.rejected == 1 and not kept and rejected[0]["review"] == "rejected"
        notes = rejected[0]["review_notes"]
    else:
        assert summary.flagged == 1 and not rejected and kept[0]["review"] == "flagged"
        notes = kept[0]["review_notes"]
        assert "1 flagged by CLAP" in (out / "README.md").read_text()
    assert len(notes) == 1 and notes[0].startswith(f"clap: caption-audio similarity {score:.3f} below")
    assert "clap 1" in (out / "README.md").read_text()  # the card counts the finding by kind


def test_threshold_just_below_the_score_keeps_it(setup, scored):
    score = scored[2][0]["clap_score"]
    out = setup["root"] / "below"
    summary = annotate([setup["music"]], out, segment=6, review="reject", clap_model=setup["clap"],
                       clap_threshold=score - 0.005)  # fmt: skip
    assert summary.kept == 1 and summary.rejected == 0
    assert rows_of(out / "data" / "train.jsonl")[0]["review"] == "ok"


def test_bad_clap_options_are_one_line(setup):
    with pytest.raises(BadInputError, match="--clap-threshold needs --clap-model"):
        annotate([setup["music"]], setup["root"] / "x", clap_threshold=0.2)
    with pytest.raises(BadInputError, match="between -1 and 1"):
        annotate([setup["music"]], setup["root"] / "x", clap_model=setup["clap"], clap_threshold=2.0)
    assert not (setup["root"] / "x").exists()


def test_tiny_writer_loads_and_its_garble_is_left_empty_with_the_reason(setup):
    from weavewave.neural.models import ModelCache
    from weavewave.train.roles import ModelWriter

    writer = ModelWriter(setup["llm"], cache=ModelCache(), max_new_tokens=12)
    out = setup["root"] / "writer-tiny"
    annotate([setup["music"]], out, segment=6, writer=writer)
    (row,) = rows_of(out / "data" / "train.jsonl")
    assert row["writer"].startswith(f"model: {setup['llm']}")
    provenance = json.loads(row["provenance"])
    for name in ("story", "image_prompt"):  # random weights write byte soup: each field is judged on its own
        if row[name]:
            assert provenance[name] == f"written by {setup['llm']} from the caption and attributes"
        else:
            assert f"{name} left empty: the answer was" in row["writer"]
            assert provenance[name].startswith(f"left empty: {setup['llm']}'s the answer was")


def test_writer_fills_story_and_image_prompt_and_names_the_model(setup, monkeypatch):
    from weavewave.neural.models import ModelCache
    from weavewave.train.roles import ModelWriter

    writer = ModelWriter(setup["llm"], cache=ModelCache())
    asked: list[str] = []

    def answer(prompt):
        asked.append(prompt)
        return f"Story: {STORY}" if "short story" in prompt else f'"{IMAGE}"'

    monkeypatch.setattr(writer, "ask", answer)
    out = setup["root"] / "writer-filled"
    annotate([setup["music"]], out, segment=6, writer=writer)
    (row,) = rows_of(out / "data" / "train.jsonl")
    assert row["story"] == STORY and row["image_prompt"] == IMAGE  # label and quotes taken off
    assert row["writer"] == f"model: {setup['llm']}"
    assert json.loads(row["provenance"])["story"].startswith(f"written by {setup['llm']}")
    assert len(asked) == 2 and all(row["caption"].rstrip(".") in p and "A minor" in p for p in asked)
    assert f"writer `model ({setup['llm']})`" in (out / "README.md").read_text()


@pytest.mark.parametrize("said", ["", "   ", "{}{}[]:::;;;", "ok", "\x12 \ufffd eaedi umj maetic"])
def test_empty_or_garbled_answers_are_refused(said):
    from weavewave.train.roles import clean_answer

    text, why = clean_answer(said, 300)
    assert text == "" and why


def test_long_answer_is_cut_at_a_sentence():
    from weavewave.train.roles import clean_answer

    text, why = clean_answer("One fine day the rain fell. " * 30, 120)
    assert why is None and len(text) <= 120 and text.endswith(".")


def test_cli_runs_both_roles(setup):
    out = setup["root"] / "cli"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", "annotate", str(setup["music"]), "--out", str(out), "--segment",
         "6", "--clap-model", setup["clap"], "--clap-threshold", "1", "--writer-model", setup["llm"], "-q"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 flagged by CLAP" in done.stdout
    (row,) = rows_of(out / "data" / "train.jsonl")
    assert row["review"] == "flagged" and row["writer"].startswith("model: ")
    bad = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", "annotate", str(setup["music"]), "--out", str(out / "y"),
         "--clap-threshold", "0.2"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--clap-model" in bad.stderr


def test_audio_describer_hears_the_segment_and_falls_back_on_noise(setup, tiny_audio_chat):
    from weavewave.neural.models import ModelCache
    from weavewave.train.roles import ModelDescriber

    model = str(tiny_audio_chat)
    describer = ModelDescriber(model, cache=ModelCache(), max_new_tokens=8)
    heard = []
    real_ask = describer.ask

    def ask(sound):
        heard.append(sound)
        return real_ask(sound)

    describer.ask = ask
    out = setup["root"] / "describer-tiny"
    annotate([setup["music"]], out, segment=6, describer=describer)
    (row,) = rows_of(out / "data" / "train.jsonl")
    rate = describer.bundle.processor.feature_extractor.sampling_rate
    assert len(heard) == 1 and heard[0].shape == (6 * rate,)  # the segment, at the model's rate
    provenance = json.loads(row["provenance"])
    assert provenance["describer"] == f"mllm ({model})"
    assert (
        provenance["caption"].startswith("written by the analytic describer")
        and model in provenance["caption"]
    )
    assert row["caption"].startswith("a ") and "BPM" in row["caption"]  # random weights: the analytic caption


def test_audio_describer_caption_is_kept_and_reviewed(setup, tiny_audio_chat, monkeypatch):
    from weavewave.neural.models import ModelCache
    from weavewave.train.roles import ModelDescriber

    model = str(tiny_audio_chat)
    describer = ModelDescriber(model, cache=ModelCache())
    said = '{"caption": "a dark ambient drone in C major at 140 BPM with a soft click", "instruments": ["piano"]}'
    monkeypatch.setattr(describer, "ask", lambda sound: said)
    out = setup["root"] / "describer-said"
    annotate([setup["music"]], out, segment=6, describer=describer)
    (row,) = rows_of(out / "data" / "train.jsonl")
    assert (
        row["caption"].startswith("a dark ambient drone in A minor at ") and "140 BPM" not in row["caption"]
    )
    assert row["review"] == "corrected" and any(
        n.startswith("key: caption says C major") for n in row["review_notes"]
    )
    provenance = json.loads(row["provenance"])
    assert provenance["caption"].startswith(f"written by the audio-language model {model}")
    assert provenance["instruments"] == f"heard by {model}: Acoustic Grand Piano"
    assert provenance["tempo_bpm"].startswith("measured")  # the attributes stay the measurements


def test_a_describer_model_without_audio_is_one_line(setup, tiny_vision_chat):
    with pytest.raises(BadInputError, match="does not take audio"):
        annotate([setup["music"]], setup["root"] / "z", describer_model=str(tiny_vision_chat))
    assert not (setup["root"] / "z").exists()
