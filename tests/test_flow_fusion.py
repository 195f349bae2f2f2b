"""Several adapters fused into one condition (``--adapter-embed`` repeated): an image through an image
adapter and a story through a story adapter, each into the model's condition space, fused by a weighted
L2-normalised mean; the generation runs for a flow model and for a MusicLDM pipeline; the brief records
every adapter and the fusion; inputs without an adapter and adapters without an input are refused.
Tiny random CLIP, CLAP, VAE, flow model and MusicLDM, saved to disk and loaded through weavewave's loaders."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from generator_contract import contract_brief  # noqa: E402
from tiny_models import one_torch_thread  # noqa: E402, F401  (autouse: one torch thread here)
from weavewave.errors import BadInputError, FieldError  # noqa: E402

DIM = 16  # the tiny CLIP's and CLAP's shared spaces, and the flow model's condition
STORY = "a storm breaks over a grey sea at night"


def cli(*args: str) -> int:
    from weavewave.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        return main(list(args))


def save(folder, *, source: str, embedder: str, source_model: str, target_dim: int, space: str, seed: int):
    import torch

    from weavewave.generators.flow.adapters import AdapterConfig, build_adapter, model_ref, save_adapter

    config = AdapterConfig(
        source=source, source_dim=DIM, target_dim=target_dim, hidden=16, layers=2,
        source_model=model_ref(source_model), source_embedder=embedder, target_space=space,
    )  # fmt: skip
    torch.manual_seed(seed)
    return str(save_adapter(build_adapter(config), config, folder))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A vectors-conditioned flow model, an image adapter (tiny CLIP) and a story adapter (tiny CLAP) into
    its space, one into another model's space, and a photo."""
    from PIL import Image

    from flow_models import build_flow, build_vae
    from tiny_models import build_clap, build_clip
    from weavewave.generators.flow.adapters import condition_space

    root = tmp_path_factory.mktemp("fusion")
    vae = build_vae(root / "vae")
    flow = str(build_flow(root / "flow", vae, cond_dim=DIM, condition="vectors"))
    other = str(build_flow(root / "other", vae, cond_dim=DIM, condition="vectors", seed=1))
    clip, clap = str(build_clip(root / "clip")), str(build_clap(root / "clap"))
    space = condition_space("vectors", None, flow)
    photo = root / "photo.png"
    pixels = np.random.default_rng(0).integers(0, 255, (48, 48, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(photo)
    return {
        "root": root, "flow": flow, "clip": clip, "clap": clap, "photo": str(photo),
        "image": save(root / "image-adapter", source="image", embedder="clip-image", source_model=clip,
                      target_dim=DIM, space=space, seed=0),
        "story": save(root / "story-adapter", source="story", embedder="clap-text", source_model=clap,
                      target_dim=DIM, space=space, seed=1),
        "elsewhere": save(root / "elsewhere", source="story", embedder="clap-text", source_model=clap,
                          target_dim=DIM, space=condition_space("vectors", None, other), seed=2),
    }  # fmt: skip


def condition(world, adapters, inputs, weights=None) -> np.ndarray:
    from weavewave.generators.flow.generator import FlowGenerator

    gen = FlowGenerator(
        model=world["flow"], adapter_embed=adapters, adapter_inputs=inputs, adapter_weights=weights
    )
    return gen.adapted_condition()


def test_two_adapters_fuse_into_a_condition_between_them(world):
    a = condition(world, world["image"], [world["photo"]])
    b = condition(world, world["story"], [STORY])
    fused = condition(world, [world["image"], world["story"]], [[world["photo"]], [STORY]])
    assert fused.shape == (DIM,) and abs(np.linalg.norm(fused) - 1) < 1e-5
    apart = float(a @ b)
    assert apart < 0.95  # the two adapters say different things
    assert float(fused @ a) > apart and float(fused @ b) > apart
    np.testing.assert_allclose(fused, (a + b) / np.linalg.norm(a + b), atol=1e-6)
    # weighted: more weight on the image pulls the condition towards the image's
    heavy = condition(world, [world["image"], world["story"]], [[world["photo"]], [STORY]], weights=[3, 1])
    assert float(heavy @ a) > float(fused @ a) and float(heavy @ b) < float(fused @ b)


def test_fused_generation_records_every_adapter_and_replays(world, tmp_path):
    from weavewave.generators.contract import generator_from_brief

    out = tmp_path / "piece"
    code = cli("generate", "--image", world["photo"], "--text", STORY, "--backend", "flow", "--model",
               world["flow"], "--adapter-embed", world["image"], "--adapter-embed", world["story"],
               "--adapter-weights", "2,1", "--steps", "2", "--duration", "1", "--out", str(out), "-q")  # fmt: skip
    assert code == 0 and (out / "music.wav").stat().st_size > 0
    from weavewave.brief import MusicBrief

    brief = MusicBrief.from_dict(json.loads((out / "brief.json").read_text()))
    options = brief.generator.options
    assert json.loads(options["adapter_embed"]) == [world["image"], world["story"]]
    assert json.loads(options["adapter_inputs"]) == [[world["photo"]], [STORY]]
    assert json.loads(options["adapter_weights"]) == [2.0, 1.0]
    assert options["adapter_fusion"] == "mean"
    again = generator_from_brief(brief)  # the record makes the same condition again
    want = condition(world, [world["image"], world["story"]], [[world["photo"]], [STORY]], weights=[2, 1])
    np.testing.assert_array_equal(again.adapted_condition(), want)


def test_one_adapter_is_recorded_as_before(world):
    from weavewave.request import Request

    req = Request.build(text=STORY, backend="flow", model=world["flow"], adapter_embed=[world["story"]])
    assert req.adapter_embed == world["story"]  # a list of one is the single-adapter path
    options = req.generator_options()
    assert options["adapter_embed"] == world["story"] and options["adapter_inputs"] == [STORY]
    assert "adapter_weights" not in options
    # an HTTP form sends several as JSON text; a single string stays valid
    two = Request.build(image=[world["photo"]], text=STORY, backend="flow", model=world["flow"],
                        adapter_embed=json.dumps([world["image"], world["story"]]), adapter_weights="1,1")  # fmt: skip
    assert two.adapter_embed == [world["image"], world["story"]] and two.adapter_weights == [1.0, 1.0]
    assert two.generator_options()["adapter_inputs"] == [[world["photo"]], [STORY]]


def test_fused_generation_drives_a_musicldm_pipeline(tmp_path):
    from flow_models import build_musicldm
    from tiny_models import build_clap, build_clip
    from weavewave.generators import get_generator
    from weavewave.generators.flow.adapters import model_ref
    from weavewave.neural.models import ModelCache

    ldm = str(build_musicldm(tmp_path / "musicldm", build_clap(tmp_path / "clap")))
    clip = str(build_clip(tmp_path / "clip"))
    space = f"clap-audio:{model_ref(ldm)}"
    image = save(tmp_path / "image", source="image", embedder="clip-image", source_model=clip, target_dim=DIM,
                 space=space, seed=0)  # fmt: skip
    story = save(tmp_path / "story", source="story", embedder="clap-text", source_model=ldm, target_dim=DIM,
                 space=space, seed=1)  # fmt: skip
    from PIL import Image

    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(tmp_path / "photo.png")
    cache = ModelCache()

    def make(**kw):
        gen = get_generator("flow", model=ldm, cache=cache, steps=2, overlap=0.1, **kw)
        return gen.generate(contract_brief(0.5))

    fused = make(adapter_embed=[image, story], adapter_inputs=[[str(tmp_path / "photo.png")], [STORY]])
    assert fused.stats["condition"].startswith("adapters:mean(") and fused.stats["adapter"] == [image, story]
    assert fused.brief.generator.options["adapter_fusion"] == "mean"
    alone = make(adapter_embed=story, adapter_inputs=[STORY])
    assert alone.stats["condition"] == f"adapter:{story}"
    assert np.isfinite(fused.audio).all() and not np.array_equal(fused.audio, alone.audio)


def test_refusals(world):
    from weavewave.generators.flow.generator import FlowGenerator
    from weavewave.request import Request

    both = [world["image"], world["story"]]

    def check(**kw):
        req = Request.build(**{"backend": "flow", "model": world["flow"], **kw})
        req.check_models()
        return req.generator_options()

    with pytest.raises(FieldError, match="no adapter_embed adapts images") as err:  # an input without adapter
        check(image=[world["photo"]], text=STORY, adapter_embed=[world["story"], world["story"]])
    assert "\n" not in str(err.value) and err.value.for_cli().startswith("--image: no --adapter-embed adapts")
    with pytest.raises(FieldError, match="no adapter_embed adapts text"):
        check(image=[world["photo"]], text=STORY, adapter_embed=[world["image"], world["image"]])
    with pytest.raises(FieldError, match="adapts stories: give text TEXT"):  # an adapter without input
        check(image=[world["photo"]], adapter_embed=both)
    with pytest.raises(FieldError, match="3 weights for 2 adapter"):
        check(image=[world["photo"]], text=STORY, adapter_embed=both, adapter_weights="1,2,3")
    with pytest.raises(FieldError, match="weighs several adapters"):
        check(text=STORY, adapter_embed=world["story"], adapter_weights=[1.0])
    with pytest.raises(FieldError, match="every weight must be a positive number"):
        check(image=[world["photo"]], text=STORY, adapter_embed=both, adapter_weights="1,-1")
    # every adapter is checked against the model's space, before any work
    with pytest.raises(BadInputError, match="elsewhere maps into vectors:.* but .* is conditioned on") as err:
        FlowGenerator(model=world["flow"], adapter_embed=[world["image"], world["elsewhere"]],
                      adapter_inputs=[[world["photo"]], [STORY]])  # fmt: skip
    assert "\n" not in str(err.value)
    with pytest.raises(BadInputError, match="2 adapters need one list of inputs each"):
        FlowGenerator(model=world["flow"], adapter_embed=both, adapter_inputs=[world["photo"]])
    code = cli("generate", "--text", STORY, "--backend", "flow", "--model", world["flow"], "--adapter-embed",
               world["image"], "--adapter-embed", world["story"], "--out", str(world["root"] / "no"), "-q")  # fmt: skip
    assert code == 2 and not (world["root"] / "no").exists()
