"""The EnCodec FAD embedder with tiny random EnCodec models saved to disk and loaded through weavewave's loader.

Random weights say nothing about music; these tests check the plumbing: loading, frame rate and pooling,
determinism, that different sounds embed differently, the `weavewave eval` path with `fad[encodec-...]`,
and the clear exit-2 error when weights are missing.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("transformers")
pytest.importorskip("torch")

from weavewave.cli import main  # noqa: E402
from weavewave.evaluate import encoders  # noqa: E402
from weavewave.evaluate.neural import MissingWeightsError  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}
HOP = 8 * 5 * 4 * 2  # 320 samples per latent frame at 24 kHz: 75 frames per second, as the real 24 kHz model


def _save_encodec(folder: Path, *, channels: int = 1, normalize: bool = False) -> Path:
    import torch
    from transformers import EncodecConfig, EncodecFeatureExtractor, EncodecModel

    torch.manual_seed(0)
    cfg = EncodecConfig(
        sampling_rate=24000,
        audio_channels=channels,
        normalize=normalize,
        hidden_size=16,
        num_filters=4,
        codebook_size=32,
        codebook_dim=16,
        upsampling_ratios=[8, 5, 4, 2],
        target_bandwidths=[1.5],
        num_lstm_layers=1,
    )
    model = EncodecModel(cfg)
    # Random weight-normed convolutions shrink the signal at every layer, so a tiny random encoder's latents
    # barely move with its input; a fixed gain per layer keeps them following the sound.
    with torch.no_grad():
        for name, p in model.encoder.named_parameters():
            if name.endswith("original0"):
                p.fill_(1.3)
    model.save_pretrained(folder)
    EncodecFeatureExtractor(feature_size=channels, sampling_rate=24000).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_encodec(tmp_path_factory) -> Path:
    return _save_encodec(tmp_path_factory.mktemp("models") / "tiny-encodec")


@pytest.fixture(scope="module")
def embedder(tiny_encodec) -> encoders.EncodecEmbedder:
    return encoders.EncodecEmbedder(encoders.load_encodec(tiny_encodec))


@pytest.fixture(scope="module")
def recording() -> tuple[np.ndarray, int]:
    music21 = pytest.importorskip("music21")
    audio, sr = sf.read(Path(music21.__file__).parent / "audioSearch" / "test_audio.wav", dtype="float32")
    return audio, sr


def _noise(seconds: float, sr: int) -> np.ndarray:
    return (0.3 * np.random.default_rng(7).standard_normal(int(seconds * sr))).astype(np.float32)


def test_loads_through_our_loader_and_is_named_like_the_hub_checkpoints(embedder):
    assert embedder.name == "encodec-tiny-encodec"
    assert type(embedder.loaded.model).__name__ == "EncodecModel"
    assert encoders.encodec_name("facebook/encodec_24khz") == "encodec-24khz"
    assert encoders.encodec_name("/models/encodec_32khz/") == "encodec-32khz"


def test_latents_run_at_the_codec_frame_rate_and_pool_to_one_per_second(embedder, recording):
    audio, sr = recording  # 20 s at 44.1 kHz
    assert embedder.frame_rate == 75 and embedder.per_window == 75
    frames = embedder.frames(audio, sr)
    assert frames.shape == (math.ceil(len(audio) * 24000 / sr / HOP), 16)
    emb = embedder.embed(audio, sr)
    assert emb.shape == (len(frames) // 75, 16) == (20, 16)
    assert np.allclose(emb[3], frames[3 * 75 : 4 * 75].mean(axis=0))  # row i is the mean of second i


def test_long_audio_is_encoded_in_blocks_without_losing_frames(embedder, recording, monkeypatch):
    audio, sr = recording
    monkeypatch.setattr(embedder, "chunk", 4 * 75 * HOP)  # 4 s blocks instead of 30 s
    assert embedder.embed(audio, sr).shape == (20, 16)


def test_embedding_is_deterministic_and_depends_on_the_audio(embedder, recording):
    audio, sr = recording
    a = embedder.embed(audio, sr)
    assert np.array_equal(a, embedder.embed(audio, sr))
    noise = embedder.embed(_noise(20, sr), sr)
    assert np.abs(a - noise).mean() > 0.1
    assert np.abs(a - embedder.embed(audio[::-1].copy(), sr)).mean() > 1e-3


def test_short_and_stereo_input(embedder, recording):
    audio, sr = recording
    assert embedder.embed(audio[:200], sr).shape == (1, 16)  # shorter than one frame: still one row
    stereo = np.stack([audio, audio], axis=1)
    assert np.allclose(embedder.embed(stereo, sr), embedder.embed(audio, sr), atol=1e-6)  # mixed to mono


def test_a_stereo_normalising_codec_gets_two_channels(tmp_path, recording):
    """EnCodec 48 kHz is stereo and normalises loudness: a gain change must not move the embedding."""
    emb = encoders.EncodecEmbedder(
        encoders.load_encodec(_save_encodec(tmp_path / "stereo", channels=2, normalize=True))
    )
    audio, sr = recording
    a = emb.embed(audio, sr)
    assert emb.channels == 2 and a.shape == (20, 16)
    assert np.allclose(a, emb.embed(audio * 0.25, sr), atol=1e-4)


def _write_set(folder: Path, clips: list[np.ndarray], sr: int) -> Path:
    folder.mkdir(parents=True)
    for i, clip in enumerate(clips):
        sf.write(folder / f"clip{i}.wav", clip, sr)
    return folder


def test_eval_cli_reports_fad_encodec(tiny_encodec, recording, tmp_path, capsys):
    audio, sr = recording
    half = len(audio) // 2
    clips = [audio[:half], audio[half:]]
    generated = _write_set(tmp_path / "gen", clips, sr)
    (tmp_path / "runs.jsonl").write_text(
        "\n".join(json.dumps({"audio": f"gen/clip{i}.wav"}) for i in range(2))
    )
    same = _write_set(tmp_path / "same", clips, sr)
    other = _write_set(
        tmp_path / "other", [_noise(10, sr), np.sin(np.arange(half) * 2 * np.pi * 220 / sr) * 0.3], sr
    )
    fads = {}
    for name, ref in (("same", same), ("other", other)):
        out = tmp_path / f"report-{name}"
        code = main(
            [
                "eval",
                str(tmp_path / "runs.jsonl"),
                "--reference",
                str(ref),
                "--embedder",
                "features",
                "--embedder",
                "encodec",
                "--encodec-model",
                str(tiny_encodec),
                "--out",
                str(out),
                "--no-plots",
                "-q",
            ]
        )
        assert code == 0, capsys.readouterr().err
        dist = json.loads((out / "results.json").read_text())["distribution"]
        assert dist["embeddings[encodec-tiny-encodec]"] == {"generated": 20, "reference": 20, "dim": 16}
        assert "fad[features]" in dist and "fad_inf[encodec-tiny-encodec]" in dist
        fads[name] = dist["fad[encodec-tiny-encodec]"]
    assert fads["same"] == pytest.approx(0.0, abs=1e-4)
    assert fads["other"] > 100 * max(fads["same"], 1e-6)
    assert "fad[encodec-tiny-encodec]" in capsys.readouterr().out
    assert generated.exists()


def test_missing_weights_stop_eval_with_exit_2_and_no_report(recording, tmp_path):
    audio, sr = recording
    _write_set(tmp_path / "gen", [audio[: sr * 3]], sr)
    (tmp_path / "runs.jsonl").write_text(json.dumps({"audio": "gen/clip0.wav"}))
    out = tmp_path / "report"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "weavewave.cli",
            "eval",
            str(tmp_path / "runs.jsonl"),
            "--reference",
            str(tmp_path / "gen"),
            "--embedder",
            "encodec",
            "--out",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**ENV, "HF_HUB_CACHE": str(tmp_path / "empty-cache"), "WEAVEWAVE_ENCODEC_MODEL": ""},
    )
    assert r.returncode == 2
    assert r.stderr.startswith(
        "weavewave: error: EnCodec weights not found in the Hugging Face cache "
        "(hub id 'facebook/encodec_24khz')"
    ), r.stderr
    assert (
        "hf download facebook/encodec_24khz --local-dir DIR" in r.stderr and "--encodec-model DIR" in r.stderr
    )
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_or_wrong_folders_give_clear_errors(tmp_path):
    with pytest.raises(
        MissingWeightsError,
        match="EnCodec model folder .* does not exist: check the path given to --encodec-model",
    ):
        encoders.load_encodec(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingWeightsError, match="EnCodec weights not found in that folder"):
        encoders.load_encodec(tmp_path / "empty")
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(encoders.BadInputError, match="holds a 'bert' model, not EnCodec"):
        encoders.load_encodec(tmp_path / "bert")


def test_models_lists_the_eval_role_with_the_loaders_defaults():
    from weavewave.evaluate.neural import DEFAULT_CLAP, DEFAULT_CLIP
    from weavewave.neural.models import model_table

    rows = {r["id"]: r for r in model_table() if r["role"] == "eval"}
    assert {DEFAULT_CLAP, DEFAULT_CLIP, encoders.DEFAULT_ENCODEC, "facebook/encodec_32khz"} <= set(rows)
    assert all(rows[m]["default"] for m in (DEFAULT_CLAP, DEFAULT_CLIP, encoders.DEFAULT_ENCODEC))
    assert not rows["facebook/encodec_32khz"]["default"]
    assert all(r["size"] and r["licence"] and r["present"] in (True, False) for r in rows.values())
