"""The musicgen backend passes the generator contract, on tiny random MusicGen models: plain (audio only,
loops with a seam) and steered by our composition (MIDI too, a kept reference tune replayed)."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from generator_contract import GeneratorContract, contract_brief, cue_brief, write_tune  # noqa: E402
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.generators import generator_from_brief, get_generator  # noqa: E402
from weavewave.neural.models import ModelCache  # noqa: E402

WINDOW_S = 2.0  # shorter than the contract's pieces, so they are made in two windows (long form)


from tiny_models import one_torch_thread  # noqa: E402, F401  (autouse: one torch thread here)


@pytest.fixture(scope="module")
def cache():
    return ModelCache()


class TestMusicgenContract(GeneratorContract):
    backend = "musicgen"

    @pytest.fixture(scope="class")
    @classmethod
    def options(cls, tiny_musicgen, cache):
        return {"model": str(tiny_musicgen), "cache": cache, "window": WINDOW_S}

    @pytest.fixture(scope="class")
    @classmethod
    def melody_options(cls, tiny_musicgen_melody, cache):
        return {"model": str(tiny_musicgen_melody), "cache": cache, "window": WINDOW_S}

    @pytest.fixture(scope="class")
    @classmethod
    def runtime_options(cls, cache):
        return {"cache": cache}


class TestSteeredMusicgenContract(TestMusicgenContract):
    """Steered by the chroma of our own composition: MusicGen-Melody, and the score comes with it."""

    @pytest.fixture(scope="class")
    @classmethod
    def options(cls, tiny_musicgen_melody, cache):
        return {"model": str(tiny_musicgen_melody), "cache": cache, "window": WINDOW_S, "steer": "symbolic"}


def test_the_record_holds_what_reproduces_the_piece(tiny_musicgen_melody, cache, tmp_path):
    tune = write_tune(tmp_path / "tune.wav", [60, 62, 64, 65, 67])
    gen = get_generator(
        "musicgen", model=str(tiny_musicgen_melody), cache=cache, melody=str(tune), top_k=50, guidance=2.0
    )
    record = gen.generate(contract_brief(1.5)).brief.generator
    assert record.backend == "musicgen"
    assert record.options["model"] == str(tiny_musicgen_melody)
    assert record.options["decoder"] in ("fast", "stock")
    assert (record.options["top_k"], record.options["guidance"]) == (50, 2.0)
    assert {"top_p", "temperature", "window", "prompt_seconds", "steer"} <= set(record.options)
    assert record.files["melody"].name == "tune.wav" and len(record.files["melody"].sha256) == 64
    brief = contract_brief(1.5).model_copy(update={"generator": record})
    # the melody is recorded by its bytes: it must be given again
    with pytest.raises(BadInputError, match="pass it again with --melody tune.wav"):
        generator_from_brief(brief, cache=cache)
    again = generator_from_brief(brief, cache=cache, melody=str(tune))
    assert again.top_k == 50 and again.guidance_scale == 2.0 and again.model == str(tiny_musicgen_melody)
    # another backend named explicitly wins over the record
    assert generator_from_brief(brief, "symbolic").name == "symbolic"


def test_constructor_keywords_and_public_option_names_both_work(tiny_musicgen, cache):
    by_option = get_generator("musicgen", model=str(tiny_musicgen), cache=cache, guidance=1.5, window=5.0)
    by_keyword = get_generator(
        "musicgen", model=str(tiny_musicgen), cache=cache, guidance_scale=1.5, window_s=5.0
    )
    assert (by_option.guidance_scale, by_option.window_s) == (by_keyword.guidance_scale, by_keyword.window_s)
    assert (by_option.guidance_scale, by_option.window_s) == (1.5, 5.0)


def test_a_video_brief_is_refused_with_what_to_use(tiny_musicgen, cache):
    gen = get_generator("musicgen", model=str(tiny_musicgen), cache=cache)
    with pytest.raises(BadInputError) as err:
        gen.generate(cue_brief())
    assert "\n" not in str(err.value) and "--backend symbolic" in str(err.value)
