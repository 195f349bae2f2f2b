"""The musicgen backend on tiny random MusicGen models: loading, conditioning, long form, CLI.

The generator contract every backend passes is in tests/test_contract_musicgen.py."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("transformers")

from generator_contract import check_track_contract  # noqa: E402
from weavewave.brief import Key, MusicBrief  # noqa: E402
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.generators.musicgen.chroma import CHROMA_HOP, CHROMA_SAMPLE_RATE, melody_chroma  # noqa: E402
from weavewave.generators.musicgen.generator import (  # noqa: E402
    Block,
    MusicgenGenerator,
    _place,
    chroma_for,
    plan_blocks,
)
from weavewave.music.styles import GENRES  # noqa: E402
from weavewave.neural.models import ModelCache  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def brief_for(duration=3.0, tempo=100.0, tonic="E", mode="minor", genre="pop", seed=5) -> MusicBrief:
    from weavewave.bridge import with_sections

    b = MusicBrief(
        caption="a calm piano piece",
        duration_s=duration,
        tempo_bpm=tempo,
        key=Key(tonic=tonic, mode=mode),
        genre=genre,
        instruments=list(GENRES[genre].ensemble),
        seed=seed,
    )
    return with_sections(b)


def spy_generate(monkeypatch, generator: MusicgenGenerator) -> list[dict]:
    """Record the keyword arguments and the output of every model.generate call.

    The spy watches ``model.generate``, so the generator takes the stock decoding path here; the fast path
    gets the same block inputs and gives the same codes (tests/test_musicgen_fastpath.py).
    """
    generator.decoder = "stock"
    model = generator.bundle().model
    calls: list[dict] = []
    original = model.generate

    def spy(**kwargs):
        out = original(**kwargs)
        calls.append({**kwargs, "output": out[0].float().numpy().copy()})
        return out

    monkeypatch.setattr(model, "generate", spy)
    return calls


# --- chroma ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("midi", [57, 60, 64, 67, 70], ids=lambda m: f"midi{m}")
def test_chroma_of_a_tone_is_its_pitch_class(midi):
    sr = 44100
    t = np.arange(int(2.0 * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * 2 ** ((midi - 69) / 12) * t)
    chroma = melody_chroma(tone, sr)
    n32 = int(round(len(tone) * CHROMA_SAMPLE_RATE / sr))
    assert chroma.shape == (1 + n32 // CHROMA_HOP, 12)
    assert np.all(chroma.sum(axis=1) == 1.0)
    assert np.all(chroma[2:-2].argmax(axis=1) == midi % 12)


# --- windowing ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "total,window,prompt", [(50, 100, 25), (100, 100, 25), (260, 100, 25), (151, 75, 25)]
)
def test_blocks_cover_the_piece_once(total, window, prompt):
    blocks = plan_blocks(total, window, prompt)
    assert blocks[0].start == 0 and blocks[0].prompt == 0
    assert blocks[-1].end == total
    for a, b in zip(blocks, blocks[1:], strict=False):
        assert b.start == a.end  # no frame generated twice, none skipped
        assert b.prompt == min(prompt, b.start)
    assert all(b.prompt + b.new <= window for b in blocks)


def test_place_drops_the_repeated_prompt_and_crossfades():
    hop, out = 4, np.zeros((1, 40), np.float32)
    first = np.arange(24, dtype=np.float32)[None]  # frames 0..5
    _place(out, first, Block(0, 6, 0), hop, 0)
    # the model repeats frames 4..5 (prompt) slightly differently, then adds frames 6..9
    second = np.concatenate([first[:, 16:24] + 0.5, 100 + np.arange(16, dtype=np.float32)[None]], axis=1)
    _place(out, second, Block(6, 4, 2), hop, 4)
    assert np.array_equal(out[0, :20], first[0, :20])  # before the crossfade: the first block untouched
    assert np.all((out[0, 20:24] > first[0, 20:24]) & (out[0, 20:24] < first[0, 20:24] + 0.5))
    assert np.array_equal(out[0, 24:], 100 + np.arange(16))  # after the seam: only new audio


# --- generation -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache():
    return ModelCache()


def test_model_loads_once_per_cache(tiny_musicgen, cache):
    a = MusicgenGenerator(model=str(tiny_musicgen), cache=cache).bundle()
    b = MusicgenGenerator(model=str(tiny_musicgen), cache=cache, top_k=10).bundle()
    assert a is b and a.sample_rate == 32000 and a.frame_rate == 50 and a.num_codebooks == 4
    assert not a.is_melody


def test_long_form_continues_without_repeating_the_prompt(
    tiny_musicgen, cache, monkeypatch, one_torch_thread
):
    gen = MusicgenGenerator(
        model=str(tiny_musicgen), cache=cache, window_s=1.5, prompt_s=0.5, crossfade_s=0.1
    )
    calls = spy_generate(monkeypatch, gen)
    brief = brief_for(duration=3.2)
    b = gen.bundle()
    audio, windows = gen._generate_audio(b, brief, None, lambda f, m: None)
    hop = b.hop
    assert audio.shape == (1, 160 * hop)  # ceil(3.2 s * 50) frames, exactly
    assert [(w["start_s"], w["end_s"], w["prompt_s"]) for w in windows] == [
        (0.0, 1.5, 0.0),
        (1.5, 2.5, 0.5),
        (2.5, 3.2, 0.5),
    ]
    assert len(calls) == 3 and "decoder_input_ids" not in calls[0]
    for i, (call, w) in enumerate(zip(calls[1:], windows[1:], strict=True), start=1):
        seam = int(w["start_s"] * 50) * hop
        prompt = 25 * hop
        codes = call["decoder_input_ids"]
        assert tuple(codes.shape) == (4, 25)  # the last 0.5 s, as codes
        new = int(round((w["end_s"] - w["start_s"]) * 50))
        assert call["max_new_tokens"] == new + 3
        decoded = call["output"][0]
        assert decoded.shape[0] >= prompt + new * hop
        # after the seam the piece is the model's new audio (up to the next crossfade), not its repetition
        # of the prompt
        kept = new * hop - (3200 if i < 2 else 0)
        assert np.array_equal(audio[0, seam : seam + kept], decoded[prompt : prompt + kept])
        assert not np.allclose(audio[0, seam : seam + prompt], decoded[:prompt])


def check_key(chroma: np.ndarray, tonic: int) -> None:
    """The chroma is in the minor key on ``tonic``: Krumhansl-Kessler picks the tonic, the notes are the
    scale's (natural or harmonic minor)."""
    profile = chroma.mean(axis=0)
    scores = [
        (np.corrcoef(profile, np.roll(kk, t))[0, 1], t) for kk in (KK_MAJOR, KK_MINOR) for t in range(12)
    ]
    assert max(scores)[1] == tonic
    scale = {(tonic + i) % 12 for i in (0, 2, 3, 5, 7, 8, 10, 11)}
    assert profile[sorted(scale)].sum() >= 0.9


def test_steered_conditioning_is_the_chroma_of_our_rendering(
    tiny_musicgen_melody, cache, monkeypatch, one_torch_thread
):
    from weavewave.generators.musicgen.generator import steering_chroma_of
    from weavewave.generators.symbolic.compose import compose

    brief = brief_for(duration=8.0, tempo=96.0, tonic="E", mode="minor", genre="classical")
    gen = MusicgenGenerator(
        model=str(tiny_musicgen_melody), steer="symbolic", cache=cache, window_s=5.0, prompt_s=1.0
    )
    calls = spy_generate(monkeypatch, gen)
    track = gen.generate(brief)
    expected = steering_chroma_of(compose(brief))
    assert len(calls) == 2
    for call, w in zip(calls, track.stats["windows"], strict=True):
        sent = call["input_features"][0].float().numpy()
        assert np.array_equal(sent, chroma_for(expected, w["start_s"] - w["prompt_s"], w["end_s"]))
    # the conditioning is in the requested key, and the score is at the requested tempo
    check_key(expected, 4)
    assert track.arrangement is not None and track.arrangement.tempo_bpm == 96.0
    # another key moves the conditioning with it
    shifted = steering_chroma_of(compose(brief.model_copy(update={"key": Key(tonic="G", mode="minor")})))
    check_key(shifted, 7)
    check_track_contract(track, brief, midi=True)


def test_melody_recording_conditions_the_model(tiny_musicgen_melody, cache, monkeypatch, one_torch_thread):
    music21 = pytest.importorskip("music21")
    from pathlib import Path

    wav = Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"
    gen = MusicgenGenerator(model=str(tiny_musicgen_melody), melody=wav, cache=cache, window_s=3.0)
    calls = spy_generate(monkeypatch, gen)
    gen.generate(brief_for(duration=2.0))
    audio, sr = sf.read(wav)
    expected = chroma_for(melody_chroma(audio, sr), 0.0, 2.0)
    assert np.array_equal(calls[0]["input_features"][0].float().numpy(), expected)


def test_melody_needs_a_melody_model(tiny_musicgen, cache):
    with pytest.raises(BadInputError, match="MusicGen-Melody"):
        MusicgenGenerator(model=str(tiny_musicgen), steer="symbolic", cache=cache).generate(brief_for())


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"window_s": 0.5}, "window"),
        ({"prompt_s": 40.0}, "prompt"),
        ({"top_p": 2.0}, "top-p"),
        ({"steer": "audio"}, "steer"),
        ({"melody": "/no/such.wav"}, "not found"),
    ],
)
def test_bad_options(tiny_musicgen, kw, match):
    with pytest.raises(BadInputError, match=match):
        MusicgenGenerator(model=str(tiny_musicgen), **kw)


def test_broken_tokenizer_is_refused(tmp_path, cache):
    """A folder whose tokenizer lost its vocabulary (the offline T5 pitfall) is a clear error, not noise."""
    import shutil

    from transformers import T5Tokenizer

    from tiny_models import build_musicgen

    folder = build_musicgen(tmp_path / "m")
    shutil.rmtree(folder / "tokenizer.json", ignore_errors=True)
    for f in folder.glob("tokenizer*"):
        f.unlink()
    T5Tokenizer(vocab=[("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)], extra_ids=0).save_pretrained(folder)
    with pytest.raises(BadInputError, match="did not load properly"):
        MusicgenGenerator(model=str(folder), cache=cache).bundle()


# --- command line ---------------------------------------------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weavewave.cli", *args], capture_output=True, text=True, env=ENV, timeout=300
    )


def test_cli_musicgen_long_form(tiny_musicgen, tmp_path):
    out = tmp_path / "mg"
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
        "3",
        "--window",
        "1.5",
        "--prompt-seconds",
        "0.5",
        "--seed",
        "2",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    audio, sr = sf.read(out / "music.wav")
    assert sr == 48000 and audio.shape == (3 * 48000, 2)
    assert (out / "brief.json").is_file() and not (out / "music.mid").exists()


def test_cli_steered_writes_midi(tiny_musicgen_melody, tmp_path):
    out = tmp_path / "steer"
    r = run(
        "generate",
        "--text",
        "a folk tune",
        "--text-model",
        "lexicon",
        "--backend",
        "musicgen",
        "--model",
        str(tiny_musicgen_melody),
        "--steer",
        "symbolic",
        "--tempo",
        "110",
        "--key",
        "A major",
        "--duration",
        "2",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(out / "music.mid"))
    assert pm.get_tempo_changes()[1][0] == pytest.approx(110, abs=0.01)
    assert sf.info(str(out / "music.wav")).duration == pytest.approx(2.0, abs=1e-3)


def test_cli_missing_model_says_how_to_fetch_it(tmp_path):
    r = run(
        "generate",
        "--text",
        "calm",
        "--text-model",
        "lexicon",
        "--backend",
        "musicgen",
        "--model",
        "facebook/musicgen-small",
        "--out",
        str(tmp_path / "x"),
    )
    assert r.returncode == 2
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith(
        "weavewave: error: --model: generator model facebook/musicgen-small is not on this machine"
    )
    assert "hf download facebook/musicgen-small" in line and "--model PATH/musicgen-small" in line
    assert "Traceback" not in r.stderr and not (tmp_path / "x").exists()


def test_cli_models_lists_roles_and_presence(tmp_path):
    import json

    hub = tmp_path / "hub"
    snap = hub / "models--facebook--musicgen-small" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (hub / "models--facebook--musicgen-small" / "refs").mkdir()
    (hub / "models--facebook--musicgen-small" / "refs" / "main").write_text("abc123")
    r = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", "models", "--json"],
        capture_output=True,
        text=True,
        env={**ENV, "HF_HUB_CACHE": str(hub)},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert {row["role"] for row in rows.values()} == {"generator", "describer", "refiner", "eval"}
    assert rows["facebook/musicgen-small"]["present"] is True
    assert rows["facebook/musicgen-melody"]["present"] is False


# --- the fast decoding loop -----------------------------------------------------------------------------
@pytest.mark.parametrize("guidance", [3.0, 1.0], ids=["guidance", "no-guidance"])
@pytest.mark.parametrize("static", [False, True], ids=["sliced-cache", "fixed-shapes"])
def test_fast_path_gives_the_stock_greedy_codes(tiny_musicgen, cache, guidance, static, one_torch_thread):
    import torch

    from weavewave.generators.musicgen.fast import FastMusicgen

    b = MusicgenGenerator(model=str(tiny_musicgen), cache=cache).bundle()
    inputs = b.tokenizer(
        ["a calm piano piece", "happy jazz with drums and bass"], return_tensors="pt", padding=True
    )
    seen = {}
    original = b.model.audio_encoder.decode

    def spy(codes, *args, **kwargs):
        seen["codes"] = codes
        return original(codes, *args, **kwargs)

    b.model.audio_encoder.decode = spy
    try:
        with torch.inference_mode():
            b.model.generate(**inputs, max_new_tokens=40 + 3, do_sample=False, guidance_scale=guidance)
    finally:
        b.model.audio_encoder.decode = original
    fast = FastMusicgen(b.model, static_shapes=static).generate_codes(
        inputs.input_ids, inputs.attention_mask, 40, guidance_scale=guidance
    )
    assert fast.shape == (2, 4, 40)
    assert torch.equal(seen["codes"][0], fast)
