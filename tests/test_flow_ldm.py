"""MusicLDM through the flow backend: a tiny random ``MusicLDMPipeline`` (real diffusers and transformers
classes) saved with ``save_pretrained`` and loaded through weavewave's loader; no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("diffusers")

from flow_models import build_flow, build_musicldm, build_vae  # noqa: E402
from generator_contract import GeneratorContract, contract_brief  # noqa: E402
from tiny_models import build_clap, one_torch_thread  # noqa: E402, F401  (autouse: one torch thread here)
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.generators import get_generator  # noqa: E402
from weavewave.neural.models import ModelCache  # noqa: E402

STEPS = 3
OVERLAP_S = 0.1  # the tiny UNet's window is 0.512 s


@pytest.fixture(scope="module")
def cache():
    return ModelCache()


@pytest.fixture(scope="module")
def ldm(tmp_path_factory):
    root = tmp_path_factory.mktemp("ldm")
    return build_musicldm(root / "musicldm", build_clap(root / "clap"))


class TestMusicLDMContract(GeneratorContract):
    backend = "flow"

    @pytest.fixture(scope="class")
    @classmethod
    def options(cls, ldm, cache):
        return {"model": str(ldm), "cache": cache, "steps": STEPS, "overlap": OVERLAP_S}

    @pytest.fixture(scope="class")
    @classmethod
    def runtime_options(cls, cache):
        return {"cache": cache}


def test_a_pipeline_folder_or_hub_id_is_taken_as_musicldm(ldm, tmp_path):
    from weavewave.generators.flow.generator import resolve_model_kind

    assert resolve_model_kind(str(ldm)) == "musicldm"
    assert resolve_model_kind("ucsd-reach/musicldm") == "musicldm"  # flow models have no hub weights
    flow = build_flow(tmp_path / "flow", build_vae(tmp_path / "vae"))
    assert resolve_model_kind(str(flow)) == "flow"
    with pytest.raises(BadInputError, match="use auto, flow, musicldm"):
        resolve_model_kind(str(ldm), "audio")
    other = tmp_path / "other"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(BadInputError, match="drives only MusicLDMPipeline"):
        get_generator("flow", model=str(other))
    with pytest.raises(BadInputError, match="has its own VAE"):
        get_generator("flow", model=str(ldm), vae=str(tmp_path / "vae"))


def test_a_hub_id_that_is_not_here_says_how_to_fetch_it(cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gen = get_generator("flow", model="ucsd-reach/musicldm-not-cached", cache=cache, steps=2)
    with pytest.raises(BadInputError, match="hf download ucsd-reach/musicldm-not-cached"):
        gen.generate(contract_brief(1.0))


def test_one_window_is_the_pipelines_own_audio(ldm, cache):
    """Without holding, the loop here gives what ``MusicLDMPipeline.__call__`` gives for the same initial
    noise, embeddings, scheduler and guidance: the option is MusicLDM, not a look-alike."""
    import torch
    from diffusers import EulerDiscreteScheduler

    from weavewave.generators.flow.ldm import decode, denoise, load_ldm

    m = load_ldm(str(ldm), cache=cache)
    cond = torch.from_numpy(m.embed(["a calm piano piece"]))
    null = torch.from_numpy(m.embed([""]))
    bins = m.pipe.vocoder.config.model_in_dim // m.scale
    noise = torch.randn(
        (1, m.pipe.unet.config.in_channels, m.window, bins), generator=torch.Generator().manual_seed(3)
    )
    ours = decode(m, denoise(m, noise, cond, null, steps=4, guidance=2.5, solver="euler"))
    pipe = m.pipe
    kept = pipe.scheduler
    pipe.scheduler = EulerDiscreteScheduler.from_config(kept.config)
    try:
        theirs = pipe(
            prompt_embeds=cond, negative_prompt_embeds=null, latents=noise.clone(), num_inference_steps=4,
            guidance_scale=2.5, audio_length_in_s=m.window_s,
        ).audios[0]  # fmt: skip
    finally:
        pipe.scheduler = kept
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * max(1e-3, float(np.abs(theirs).max())) + 1e-7)


def test_long_form_windows_are_held_and_recorded(ldm, cache):
    track = get_generator("flow", model=str(ldm), cache=cache, steps=2, overlap=OVERLAP_S).generate(
        contract_brief(1.5)
    )
    windows = track.stats["windows"]
    assert len(windows) >= 3 and windows[0]["held_s"] == 0
    assert all(w["held_s"] >= OVERLAP_S - 0.01 for w in windows[1:]) and windows[-1]["end_s"] >= 1.5
    assert track.stats["pipeline"] == "MusicLDMPipeline" and track.stats["condition"].startswith("clap:")
    options = track.brief.generator.options
    assert (options["model_kind"], options["steps"], options["solver"]) == ("musicldm", 2, "euler")


def test_steps_solver_guidance_and_caption_change_the_audio(ldm, cache):
    def make(**kw):
        brief = contract_brief(0.5, **kw.pop("brief", {}))
        gen = get_generator("flow", model=str(ldm), cache=cache, **{"steps": 2, **kw})
        return gen.generate(brief).audio

    base = make()
    assert not np.array_equal(base, make(steps=3))
    assert not np.array_equal(base, make(solver="midpoint"))
    assert not np.array_equal(base, make(guidance=1.0))
    assert not np.array_equal(base, make(brief={"caption": "a dark drone, distorted and slow"}))
    np.testing.assert_array_equal(base, make())


def test_an_adapter_into_the_pipelines_clap_conditions_it(ldm, cache, tmp_path):
    """An adapter into the pipeline's CLAP space (named by the pipeline: its own CLAP loads through
    ``load_clap``) replaces the caption; one into another space is refused before any work."""
    from weavewave.evaluate.neural import clap_text, load_clap
    from weavewave.generators.flow.adapters import AdapterConfig, build_adapter, model_ref, save_adapter
    from weavewave.generators.flow.ldm import load_ldm

    clap = load_clap(str(ldm))  # the pipeline's CLAP, from its subfolders
    m = load_ldm(str(ldm), cache=cache)
    np.testing.assert_allclose(clap_text(clap, ["warm strings"]), m.embed(["warm strings"]), atol=1e-6)
    dim = m.cond_dim
    config = AdapterConfig(
        source="story", source_dim=dim, target_dim=dim, hidden=16, layers=1, source_model=model_ref(str(ldm)),
        clap_model=model_ref(str(ldm)), source_embedder="clap-text", target_space=f"clap-audio:{model_ref(str(ldm))}",
    )  # fmt: skip
    import torch

    torch.manual_seed(0)
    adapter = save_adapter(build_adapter(config), config, tmp_path / "adapter")

    def make(story: str) -> np.ndarray:
        gen = get_generator(
            "flow", model=str(ldm), cache=cache, steps=2, adapter_embed=str(adapter), adapter_inputs=[story]
        )
        track = gen.generate(contract_brief(0.5))
        assert track.stats["condition"] == f"adapter:{adapter}"
        assert json.loads(track.brief.generator.options["adapter_inputs"]) == [story]
        return track.audio

    assert not np.array_equal(make("a storm over the sea"), make("a child asleep"))
    other = AdapterConfig(**{**config.__dict__, "target_space": "clap-audio:laion/clap-htsat-unfused"})
    save_adapter(build_adapter(other), other, tmp_path / "other")
    with pytest.raises(BadInputError, match="conditioned on its own CLAP"):
        get_generator("flow", model=str(ldm), adapter_embed=str(tmp_path / "other"), adapter_inputs=["x"])


def test_cli_generates_with_a_pipeline_folder(ldm, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", "generate", "--text", "a calm piano piece", "--duration", "1",
         "--backend", "flow", "--model", str(ldm), "--steps", "2", "--solver", "midpoint", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    brief = json.loads((out / "brief.json").read_text())
    assert brief["generator"]["options"]["model_kind"] == "musicldm"
    assert (out / "music.wav").stat().st_size > 0 and not (out / "music.mid").exists()
