"""CLAP and CLIP metrics with tiny random models saved to disk and loaded through weavewave's own loader.

Random weights say nothing about music; these tests check the plumbing: loading, shapes, ranges,
determinism, naming, and the clear error when weights are missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

transformers = pytest.importorskip("transformers")
pytest.importorskip("torch")

from weavewave.evaluate import neural  # noqa: E402
from weavewave.evaluate.report import evaluate  # noqa: E402


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes, as the tokenizers library defines them."""
    from tokenizers import pre_tokenizers

    return sorted(pre_tokenizers.ByteLevel.alphabet())


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory) -> Path:
    from tiny_models import build_clap

    return build_clap(tmp_path_factory.mktemp("models") / "tiny-clap")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPTokenizer,
        CLIPVisionConfig,
    )

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in _byte_chars():
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    text_cfg = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    vision_cfg = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    model = CLIPModel(
        CLIPConfig(text_config=text_cfg.to_dict(), vision_config=vision_cfg.to_dict(), projection_dim=16)
    )
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    folder = tmp_path_factory.mktemp("models") / "tiny-clip"
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def recording() -> tuple[np.ndarray, int]:
    music21 = pytest.importorskip("music21")
    audio, sr = sf.read(Path(music21.__file__).parent / "audioSearch" / "test_audio.wav", dtype="float32")
    return audio, sr


@pytest.fixture(scope="module")
def clap(tiny_clap):
    return neural.load_clap(tiny_clap)


def test_clap_loads_through_our_loader_and_is_named_by_its_folder(clap):
    assert clap.name == "clap-tiny-clap"
    assert type(clap.model).__name__ == "ClapModel"
    assert neural.short_name("clap", "laion/clap-htsat-unfused") == "clap-laion"


def test_clap_score_is_a_deterministic_cosine(clap, recording):
    audio, sr = recording
    a = neural.clap_score(clap, audio, sr, "a calm piano piece")
    b = neural.clap_score(clap, audio, sr, "a calm piano piece")
    assert -1.0 <= a <= 1.0 and a == b
    assert a != neural.clap_score(clap, audio, sr, "loud heavy metal drums")


def test_clap_embedder_gives_one_unit_vector_per_ten_seconds(clap, recording):
    audio, sr = recording
    emb = neural.ClapEmbedder(clap).embed(audio, sr)
    assert emb.shape == (2, 16)  # the recording is 20 s long
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_tagger_gives_a_distribution_and_kl_behaves(clap, recording):
    audio, sr = recording
    tagger = neural.ClapTagger(clap)
    p = tagger.probabilities(audio, sr)
    assert p.shape == (len(neural.default_tags()),) and p.sum() == pytest.approx(1.0) and (p > 0).all()
    assert neural.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-9)
    assert neural.kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.5 * np.log(2) + 0.5 * np.log(2 / 3), abs=1e-6
    )


def test_image_music_alignment_through_the_caption(tiny_clip, clap, recording, skimage_data):
    clip = neural.load_clip(tiny_clip)
    assert clip.name == "clip-tiny-clip"
    audio, sr = recording
    out = neural.image_music_via_text(
        clip, clap, skimage_data / "coffee.png", audio, sr, "a warm cup of coffee"
    )
    assert -1 <= out["image_text"] <= 1 and -1 <= out["audio_text"] <= 1
    assert out["mean"] == pytest.approx((out["image_text"] + out["audio_text"]) / 2)


def test_missing_weights_give_a_clear_error(tmp_path):
    with pytest.raises(neural.MissingWeightsError, match="model folder .* does not exist"):
        neural.load_clap(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(neural.MissingWeightsError, match="CLAP weights not found in that folder"):
        neural.load_clap(tmp_path / "empty")
    with pytest.raises(neural.MissingWeightsError, match="hf download .* --local-dir DIR"):
        neural.load_clip("no-such-org/no-such-model")


def test_eval_with_clap_and_clip(tiny_clap, tiny_clip, recording, skimage_data, tmp_path):
    """The whole evaluation with neural metrics: CLAP score, image-music alignment, fad[clap-...], tag KL."""
    audio, sr = recording
    half = len(audio) // 2
    ref = tmp_path / "ref"
    ref.mkdir()
    for i, part in enumerate((audio[:half], audio[half:])):
        sf.write(tmp_path / f"take{i}.wav", part, sr)
        sf.write(ref / f"r{i}.wav", part[::-1], sr)  # the same sounds backwards: a different distribution
    brief = {
        "caption": "a melody sung over a quiet room",
        "duration_s": 10.0,
        "tempo_bpm": 90,
        "key": {"tonic": "C", "mode": "major"},
        "genre": "folk",
        "instruments": ["voice"],
    }
    lines = [
        {"audio": f"take{i}.wav", "brief": brief, "image": str(skimage_data / "coffee.png")} for i in range(2)
    ]
    (tmp_path / "runs.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    results = evaluate(
        [tmp_path / "runs.jsonl"],
        reference=ref,
        embedders=("features", "clap"),
        clap_model=str(tiny_clap),
        clip_model=str(tiny_clip),
        plots=False,
    )
    m = results["tracks"][0]["metrics"]
    assert -1 <= m["clap_score[clap-tiny-clap]"] <= 1
    assert "image_music_via_text[clip+clap]" in m and "image_text[clip]" in m
    dist = results["distribution"]
    assert dist["fad[clap-tiny-clap]"] >= 0 and dist["fad[features]"] >= 0
    assert dist["kl[clap-tiny-clap]"] >= 0
    assert "clap_score[clap-tiny-clap]" in results["summary"]


def test_one_forward_pass_per_track(clap, recording, monkeypatch):
    audio, sr = recording
    calls = []
    real = neural._clap_audio_windows
    monkeypatch.setattr(neural, "_clap_audio_windows", lambda *a: calls.append(1) or real(*a))
    clap.last_audio = None
    first = neural.clap_audio_windows(clap, audio, sr)
    neural.clap_score(clap, audio, sr, "a song")
    assert np.array_equal(neural.ClapEmbedder(clap).embed(audio, sr), first)
    assert len(calls) == 1
    neural.clap_audio_windows(clap, audio[::-1].copy(), sr)  # other audio: computed afresh
    assert len(calls) == 2


def test_output_folders_find_their_photo_with_images(tiny_clap, tiny_clip, skimage_data, tmp_path, capsys):
    """brief.json names the photo; --images says where it is, so folders get image-music alignment too."""
    from weavewave.cli import main

    outputs = tmp_path / "outputs"
    assert (
        main(
            [
                "generate",
                "--image",
                str(skimage_data / "coffee.png"),
                "--duration",
                "4",
                "--seed",
                "1",
                "--out",
                str(outputs / "coffee"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "generate",
                "--text",
                "a quiet walk",
                "--text-model",
                "lexicon",
                "--duration",
                "4",
                "--seed",
                "1",
                "--out",
                str(outputs / "walk"),
            ]
        )
        == 0
    )
    models = ["--clap-model", str(tiny_clap), "--clip-model", str(tiny_clip), "--no-plots"]

    assert (
        main(["eval", str(outputs), "--images", str(skimage_data), "--out", str(tmp_path / "r1"), *models])
        == 0
    )
    tracks = {
        t["name"]: t["metrics"] for t in json.loads((tmp_path / "r1" / "results.json").read_text())["tracks"]
    }
    assert -1 <= tracks["coffee"]["image_music_via_text[clip+clap]"] <= 1
    assert "image_music_via_text[clip+clap]" not in tracks["walk"]  # made from text: no photo to compare

    assert main(["eval", str(outputs), "--out", str(tmp_path / "r2"), *models]) == 0  # no --images: no pivot
    tracks = json.loads((tmp_path / "r2" / "results.json").read_text())["tracks"]
    assert not any("image_music_via_text[clip+clap]" in t["metrics"] for t in tracks)

    empty = tmp_path / "no-photos"
    empty.mkdir()
    capsys.readouterr()
    assert main(["eval", str(outputs), "--images", str(empty), "--out", str(tmp_path / "r3"), *models]) == 2
    err = capsys.readouterr().err
    assert "coffee.png" in err and "--images" in err and "Traceback" not in err
    assert not (tmp_path / "r3").exists()
