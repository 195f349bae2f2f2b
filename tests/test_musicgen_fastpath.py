"""The fast decoding loop as the musicgen backend's decoding path, checked against stock ``generate``.

On tiny random MusicGen and MusicGen-Melody models, mono and stereo: the generator's blocks through
``decoder="fast"`` give the codes ``model.generate`` gives (greedy, and sampled from the same seed) for text,
melody chroma and audio-prompt continuation; whole long-form pieces come out identical; the CLI takes
``--decoder``, and a stereo model goes through the fast loop by default.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("transformers")

from weavewave.errors import BadInputError  # noqa: E402
from weavewave.generators.musicgen.generator import MusicgenGenerator, Sampling, generate_block  # noqa: E402
from weavewave.neural.models import ModelCache  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
GREEDY = Sampling(temperature=0.0, guidance_scale=3.0)
SAMPLED = Sampling(top_k=20, top_p=0.9, temperature=0.8, guidance_scale=3.0)


@pytest.fixture(scope="module")
def cache():
    return ModelCache()


def block_codes(
    b, decoder: str, *, sampling: Sampling, seed: int = 3, new: int = 30, prompt_audio=None, chroma=None
):
    """The codes the block decoded (caught at the codec), and the audio it returned."""
    with codec_spy(b) as seen:
        audio = generate_block(
            b,
            "a calm piano piece with drums",
            new,
            prompt_audio=prompt_audio,
            chroma=chroma,
            sampling=sampling,
            seed=seed,
            decoder=decoder,
        )
    return interleaved(seen, b), audio


@contextlib.contextmanager
def codec_spy(b):
    """Every batch of codes handed to the model's codec while the block runs, in order."""
    seen = []
    original = b.model.audio_encoder.decode

    def spy(codes, *args, **kwargs):
        seen.append(codes.clone())
        return original(codes, *args, **kwargs)

    b.model.audio_encoder.decode = spy
    try:
        yield seen
    finally:
        b.model.audio_encoder.decode = original


def interleaved(decoded: list, b):
    """The model's codes [shape=(batch, K, frames)] from what the codec decoded: one call for a mono model;
    a stereo model's codec is mono, so left (even codebooks) then right (odd ones) come one call each."""
    import torch

    assert len(decoded) == b.audio_channels
    channels = [c.reshape(-1, b.num_codebooks // b.audio_channels, c.shape[-1]) for c in decoded]
    codes = torch.stack(channels, dim=2)  # (batch, K / channels, channels, frames)
    return codes.reshape(codes.shape[0], b.num_codebooks, codes.shape[-1])


def prompt_of(b, frames: int) -> np.ndarray:
    """Some audio to continue [shape=(channels, n)]: noise, different in each channel."""
    rng = np.random.default_rng(0)
    return rng.uniform(-0.3, 0.3, (b.audio_channels, frames * b.hop)).astype(np.float32)


def melody_chroma_frames(frames: int) -> np.ndarray:
    """A one-hot chroma walking up the scale, like the steering chroma."""
    chroma = np.zeros((frames, 12), np.float32)
    chroma[np.arange(frames), (np.arange(frames) // 8 * 2) % 12] = 1.0
    return chroma


CASES = {
    "text": dict(melody=False, prompt=0, chroma=False),
    "text-continuation": dict(melody=False, prompt=12, chroma=False),
    "melody": dict(melody=True, prompt=0, chroma=True),
    "melody-continuation": dict(melody=True, prompt=12, chroma=True),
    "melody-text-only": dict(melody=True, prompt=0, chroma=False),
    "stereo-text": dict(melody=False, prompt=0, chroma=False, stereo=True),
    "stereo-text-continuation": dict(melody=False, prompt=12, chroma=False, stereo=True),
    "stereo-melody": dict(melody=True, prompt=0, chroma=True, stereo=True),
    "stereo-melody-continuation": dict(melody=True, prompt=12, chroma=True, stereo=True),
}
MODEL_FIXTURES = {
    (False, False): "tiny_musicgen",
    (True, False): "tiny_musicgen_melody",
    (False, True): "tiny_musicgen_stereo",
    (True, True): "tiny_musicgen_melody_stereo",
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_block_gives_stock_codes(case, request, cache, one_torch_thread):
    import torch

    c = CASES[case]
    stereo = c.get("stereo", False)
    model = request.getfixturevalue(MODEL_FIXTURES[c["melody"], stereo])
    b = MusicgenGenerator(model=str(model), cache=cache).bundle()
    assert b.audio_channels == (2 if stereo else 1)
    kw = dict(
        prompt_audio=prompt_of(b, c["prompt"]) if c["prompt"] else None,
        chroma=melody_chroma_frames(60) if c["chroma"] else None,
    )
    stock, stock_audio = block_codes(b, "stock", sampling=GREEDY, **kw)
    fast, fast_audio = block_codes(b, "fast", sampling=GREEDY, **kw)
    assert fast.shape == (1, 8 if stereo else 4, c["prompt"] + 30)
    assert fast_audio.shape == (2 if stereo else 1, (c["prompt"] + 30) * b.hop)
    assert torch.equal(fast, stock)
    if stereo:  # the two channels are generated, not copied
        assert not torch.equal(fast[:, 0::2, c["prompt"] :], fast[:, 1::2, c["prompt"] :])
        assert not np.array_equal(fast_audio[0], fast_audio[1])
    assert np.array_equal(fast_audio, stock_audio)
    # sampling: the same seed draws the same codes as generate (same processing order, same random state)
    sampled, _ = block_codes(b, "fast", sampling=SAMPLED, **kw)
    assert torch.equal(sampled, block_codes(b, "stock", sampling=SAMPLED, **kw)[0])
    assert torch.equal(sampled, block_codes(b, "fast", sampling=SAMPLED, **kw)[0])  # deterministic
    assert not torch.equal(sampled, block_codes(b, "fast", sampling=SAMPLED, seed=4, **kw)[0])
    assert not torch.equal(sampled[..., c["prompt"] :], fast[..., c["prompt"] :])  # sampling is not greedy


@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(top_k=0, top_p=0.0, temperature=1.0, guidance_scale=1.0),
        Sampling(top_k=5, top_p=0.0, temperature=1.5, guidance_scale=0.0),
        Sampling(top_k=0, top_p=0.5, temperature=1.0, guidance_scale=5.0),
    ],
    ids=["plain", "top-k-hot-no-guidance", "top-p"],
)
def test_fast_sampling_matches_stock_options(sampling, tiny_musicgen, cache, one_torch_thread):
    import torch

    b = MusicgenGenerator(model=str(tiny_musicgen), cache=cache).bundle()
    fast, _ = block_codes(b, "fast", sampling=sampling, new=20)
    assert torch.equal(fast, block_codes(b, "stock", sampling=sampling, new=20)[0])


def test_long_form_piece_is_the_same_through_both_decoders(tiny_musicgen, cache, one_torch_thread):
    from test_musicgen import brief_for

    options = dict(model=str(tiny_musicgen), cache=cache, window_s=1.2, prompt_s=0.4)
    brief = brief_for(duration=2.4)
    fast = MusicgenGenerator(decoder="fast", **options).generate(brief)
    stock = MusicgenGenerator(decoder="stock", **options).generate(brief)
    assert fast.stats["decoder"] == "fast" and stock.stats["decoder"] == "stock"
    assert len(fast.stats["windows"]) == 3  # continuation windows went through the fast loop too
    assert np.array_equal(fast.audio, stock.audio)
    assert MusicgenGenerator(**options).decoder_for(MusicgenGenerator(**options).bundle()) == "fast"  # auto


def test_long_form_melody_windows_are_the_same_through_both_decoders(
    tiny_musicgen_melody, cache, one_torch_thread
):
    """Chroma windows and prompts together (the steered path, without composing a score)."""
    from test_musicgen import brief_for

    brief, chroma = brief_for(duration=2.4), melody_chroma_frames(200)
    audio = {}
    for decoder in ("fast", "stock"):
        gen = MusicgenGenerator(
            model=str(tiny_musicgen_melody),
            cache=cache,
            window_s=1.2,
            prompt_s=0.4,
            decoder=decoder,
            temperature=0.7,
        )
        audio[decoder], windows = gen._generate_audio(gen.bundle(), brief, chroma, lambda f, m: None)
    assert len(windows) == 3 and np.abs(audio["fast"]).max() > 0
    assert np.array_equal(audio["fast"], audio["stock"])


# --- stereo: 8 codebooks, left and right interleaved, each channel delayed as a mono model ---------------
@pytest.mark.parametrize("static", [False, True], ids=["sliced-cache", "fixed-shapes"])
def test_stereo_batch_gives_the_stock_codes(tiny_musicgen_stereo, cache, static, one_torch_thread):
    """Two captions at once through FastMusicgen itself, against ``model.generate``: codes and audio."""
    import torch

    from weavewave.generators.musicgen.fast import FastMusicgen

    b = MusicgenGenerator(model=str(tiny_musicgen_stereo), cache=cache).bundle()
    inputs = b.tokenizer(
        ["a calm piano piece", "happy jazz with drums and bass"], return_tensors="pt", padding=True
    )
    with codec_spy(b) as seen, torch.inference_mode():  # 4 codebooks a channel: 3 steps of delay past the end
        stock_audio = b.model.generate(**inputs, max_new_tokens=40 + 3, do_sample=False, guidance_scale=3.0)
    stock = interleaved(seen, b)
    loop = FastMusicgen(b.model, static_shapes=static)
    fast = loop.generate_codes(inputs.input_ids, inputs.attention_mask, 40, guidance_scale=3.0)
    assert fast.shape == stock.shape == (2, 8, 40)
    assert torch.equal(fast, stock)
    audio = loop.decode(fast)
    assert audio.shape == stock_audio.shape == (2, 2, 40 * b.hop)
    assert torch.equal(audio, stock_audio)
    assert not torch.equal(audio[:, 0], audio[:, 1])


def test_stereo_long_form_is_the_same_through_both_decoders(tiny_musicgen_stereo, cache, one_torch_thread):
    """Stereo continuation windows (the prompt encoded per channel and interleaved), sampled: the whole
    mastered piece is identical, and ``auto`` picks the fast loop for a stereo model."""
    from test_musicgen import brief_for

    options = dict(model=str(tiny_musicgen_stereo), cache=cache, window_s=1.2, prompt_s=0.4, top_k=20)
    brief = brief_for(duration=2.4)
    fast = MusicgenGenerator(**options).generate(brief)
    stock = MusicgenGenerator(decoder="stock", **options).generate(brief)
    assert fast.stats["decoder"] == "fast" and stock.stats["decoder"] == "stock"
    assert len(fast.stats["windows"]) == 3
    assert np.array_equal(fast.audio, stock.audio)
    assert not np.array_equal(fast.audio[:, 0], fast.audio[:, 1])


def test_cli_stereo_model_takes_the_fast_decoder_by_default(tiny_musicgen_stereo, tmp_path):
    out = tmp_path / "stereo"
    r = run(
        "generate",
        "--text",
        "a calm piano piece, 90 bpm",
        "--text-model",
        "lexicon",
        "--backend",
        "musicgen",
        "--model",
        str(tiny_musicgen_stereo),
        "--duration",
        "2",
        "--window",
        "1.2",
        "--prompt-seconds",
        "0.4",
        "--seed",
        "2",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "fast decoder, 2 windows" in r.stdout
    audio, sr = sf.read(out / "music.wav")
    assert sr == 48000 and audio.shape == (2 * 48000, 2)
    left, right = audio.T
    assert np.abs(left).max() > 0 and np.abs(right).max() > 0
    assert np.abs(left - right).mean() > 0.1 * np.abs(left).mean()  # two generated channels, not one copied


def test_unknown_decoder_is_refused(tiny_musicgen):
    with pytest.raises(BadInputError, match="unknown decoder 'turbo'"):
        MusicgenGenerator(model=str(tiny_musicgen), decoder="turbo")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weavewave.cli", *args], capture_output=True, text=True, env=ENV, timeout=300
    )


def test_cli_decoder_fast_and_stock_agree(tiny_musicgen, tmp_path):
    outputs = {}
    for decoder in ("fast", "stock"):
        out = tmp_path / decoder
        r = run(
            "generate",
            "--text",
            "a calm piano piece, 90 bpm",
            "--text-model",
            "lexicon",
            "--backend",
            "musicgen",
            "--model",
            str(tiny_musicgen),
            "--duration",
            "2",
            "--window",
            "1.2",
            "--prompt-seconds",
            "0.4",
            "--seed",
            "2",
            "--top-k",
            "20",
            "--decoder",
            decoder,
            "--out",
            str(out),
        )
        assert r.returncode == 0, r.stderr
        assert f"{decoder} decoder, 2 windows" in r.stdout
        outputs[decoder], sr = sf.read(out / "music.wav")
        assert sr == 48000 and outputs[decoder].shape == (2 * 48000, 2)
    assert np.array_equal(outputs["fast"], outputs["stock"])  # same seed, same sampled piece
    r = run(
        "generate",
        "--text",
        "calm",
        "--backend",
        "musicgen",
        "--model",
        str(tiny_musicgen),
        "--decoder",
        "x",
        "--out",
        str(tmp_path / "bad"),
    )
    assert r.returncode == 2 and "invalid choice: 'x'" in r.stderr and not (tmp_path / "bad").exists()
