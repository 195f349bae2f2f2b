"""The mllm describer hears audio: a tiny random Qwen2-Audio chat model gets the real recording.

Random weights write noise, so nothing here is about what the model says; the tests check that the
recording reaches the model (resampled to its rate, cut to its window) and that a model without an
audio encoder says so instead of silently dropping it.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tune() -> pathlib.Path:
    """A real 20 s recording (a voice singing a tune) shipped inside music21."""
    music21 = pytest.importorskip("music21")
    return pathlib.Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"


@pytest.fixture()
def heard(monkeypatch):
    """Records what the feature extractor was given and what ``model.generate`` received."""
    from transformers import WhisperFeatureExtractor

    seen: dict = {"extractor": [], "generate": []}
    original = WhisperFeatureExtractor.__call__

    def extractor_spy(self, raw_speech, *args, **kwargs):
        seen["extractor"].append((raw_speech, kwargs))
        return original(self, raw_speech, *args, **kwargs)

    monkeypatch.setattr(WhisperFeatureExtractor, "__call__", extractor_spy)
    return seen


def spy_generate(bundle, seen: dict, monkeypatch) -> None:
    original = bundle.model.generate

    def generate(**kwargs):
        seen["generate"].append(kwargs)
        return original(**{**kwargs, "max_new_tokens": 8})

    monkeypatch.setattr(bundle.model, "generate", generate)


def test_the_loader_knows_which_models_take_audio(tiny_audio_chat, tiny_vision_chat):
    from weavewave.neural.models import ModelCache
    from weavewave.perceive.mllm import load_describer

    cache = ModelCache()
    audio = load_describer(str(tiny_audio_chat), cache=cache)
    assert audio.takes_audio and type(audio.model).__name__ == "Qwen2AudioForConditionalGeneration"
    assert not load_describer(str(tiny_vision_chat), cache=cache).takes_audio


def test_cli_describe_sends_the_tune_to_the_model(
    tiny_audio_chat, tune, heard, monkeypatch, capsys, one_torch_thread
):
    from weavewave import cli
    from weavewave.perceive import mllm

    bundle = mllm.load_describer(str(tiny_audio_chat))  # the shared cache, where the CLI finds it
    spy_generate(bundle, heard, monkeypatch)

    code = cli.main(
        [
            "describe",
            "--audio",
            str(tune),
            "--describer",
            "mllm",
            "--describer-model",
            str(tiny_audio_chat),
            "-q",
        ]
    )
    assert code == 0
    brief = json.loads(capsys.readouterr().out)
    observation = next(o for o in brief["observations"] if o["source"] == "mllm")
    assert observation["input"] == tune.name and "notes" not in observation["measurements"]

    # the processor got the whole 20 s recording at the extractor's 16 kHz, told so explicitly
    [(sent, kwargs)] = heard["extractor"]
    assert kwargs["sampling_rate"] == 16000
    expected = mllm._load_audio(tune, 16000)
    assert len(sent) == 1 and np.allclose(sent[0], expected) and abs(len(expected) / 16000 - 19.99) < 0.01
    # ...and the model got its log-mel features, with a mask covering 20 s of 10 ms frames and one
    # <|AUDIO|> placeholder per encoder frame (4 mel frames each) in the prompt
    [inputs] = heard["generate"]
    features, mask = inputs["input_features"], inputs["feature_attention_mask"]
    assert features.shape == (1, 32, 3000) and features.dtype == bundle.model.dtype
    assert int(mask.sum()) == pytest.approx(2000, abs=2)
    assert float(features[0, :, :2000].std()) > 0.05
    audio_id = bundle.model.config.audio_token_index
    assert int((inputs["input_ids"] == audio_id).sum()) == pytest.approx(500, abs=1)


def test_long_audio_is_cut_to_its_middle(
    tiny_audio_chat, tune, heard, monkeypatch, tmp_path, one_torch_thread
):
    import soundfile as sf

    from weavewave.neural.models import ModelCache
    from weavewave.perceive import mllm

    data, sr = sf.read(str(tune), dtype="float32")
    long = tmp_path / "three-times.wav"
    sf.write(str(long), np.concatenate([data, data * 0.5, data]), sr)  # 60 s, the quiet copy in the middle
    cache = ModelCache()
    spy_generate(mllm.load_describer(str(tiny_audio_chat), cache=cache), heard, monkeypatch)

    p = mllm.perceive_mllm(audio=long, model=str(tiny_audio_chat), cache=cache)
    [(sent, _)] = heard["extractor"]
    full = mllm._load_audio(long, 16000)
    start = (len(full) - 30 * 16000) // 2
    assert len(sent[0]) == 30 * 16000 and np.array_equal(sent[0], full[start : start + 30 * 16000])
    assert int(heard["generate"][0]["feature_attention_mask"].sum()) == 3000
    assert p.observation.measurements["notes"] == [
        "three-times.wav is 60 s long; the model heard the 30 s from 15 s to 45 s"
    ]


def test_a_model_without_audio_says_it_did_not_hear_the_tune(tiny_vision_chat, tune, heard, one_torch_thread):
    from weavewave.perceive import mllm

    p = mllm.perceive_mllm(
        text="a walk by the sea", audio=tune, model=str(tiny_vision_chat), max_new_tokens=8
    )
    assert p.observation.input == "text"
    assert p.observation.measurements["notes"] == [
        f"{tiny_vision_chat} does not take audio, so {tune.name} was not sent to it"
    ]
    assert heard["extractor"] == []


def test_middle_window_keeps_short_audio_whole():
    from weavewave.perceive.mllm import middle_window

    sound = np.arange(10, dtype="float32")
    assert middle_window(sound, 2, 5.0)[1] == 0.0 and len(middle_window(sound, 2, 5.0)[0]) == 10
    cut, start = middle_window(sound, 2, 2.0)
    assert list(cut) == [3, 4, 5, 6] and start == 1.5


def test_an_omni_processor_without_torchvision_is_a_one_line_error(tiny_audio_chat, tmp_path):
    """Qwen2.5-Omni's processor has a video part, which transformers builds only with torchvision."""
    import importlib.util
    import shutil

    from weavewave.errors import MissingDependencyError
    from weavewave.perceive.mllm import load_describer

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here")
    folder = tmp_path / "omni-like"
    shutil.copytree(tiny_audio_chat, folder)
    config = json.loads((folder / "processor_config.json").read_text())
    image = {"image_processor_type": "Qwen2VLImageProcessor", "patch_size": 14, "merge_size": 2}
    (folder / "processor_config.json").write_text(
        json.dumps({**config, "processor_class": "Qwen2_5OmniProcessor", "image_processor": image})
    )
    (folder / "video_preprocessor_config.json").write_text(
        json.dumps(
            {"video_processor_type": "Qwen2VLVideoProcessor", "processor_class": "Qwen2_5OmniProcessor"}
        )
    )
    with pytest.raises(
        MissingDependencyError,
        match=r"processor of .* Qwen2VLVideoProcessor requires the "
        r"Torchvision library",
    ):
        load_describer(str(folder))
