"""MusicLDM through the flow backend: a pretrained CLAP-conditioned latent diffusion model (diffusers'
``MusicLDMPipeline``) for users without a trained flow model.

MusicLDM conditions its UNet on one CLAP embedding (through the UNet's class-embedding projection), the
same kind of vector MusFlow's adapters map images and stories into. So the flow backend drives it with the
CLAP text embedding of each window's caption, or with an adapter's output (an image or story carried into
the pipeline's CLAP space), and keeps its own sampling and long form:

- ``solver``: ``euler`` runs diffusers' ``EulerDiscreteScheduler`` (one UNet call per step), ``midpoint``
  its ``HeunDiscreteScheduler`` (second order, two calls), both built from the pipeline's scheduler config;
  ``steps`` and ``guidance`` as for a flow model (the unconditional row is the CLAP embedding of "", as
  the pipeline's own negative prompt). Both are sigma schedulers (``x = z + sigma * noise``), which is
  what lets a window hold the frames it shares with the music already made.
- Long form: windows of the UNet's trained length (``sample_size`` latent frames, 10.24 s for MusicLDM)
  overlap by ``overlap`` seconds along the latent's time axis; the shared frames are held to the music so
  far along the path (at noise level sigma they are set to ``known + sigma * noise``) and the hold fades
  out over the last ``crossfade`` seconds, as :mod:`.sampling` does for flow models.
- The mel VAE decodes in chunks of a window with context on both sides, the vocoder in one pass; the
  16 kHz mono audio is then mastered like every backend.

The denoising loop is written here over the pipeline's own modules (UNet, scheduler, VAE, vocoder) rather
than through ``MusicLDMPipeline.__call__``: the pipeline has no way to hold frames, and under transformers 5
its prompt encoder receives a model output where it expects a tensor. One window without holding gives the
pipeline's own audio for the same initial noise and embeddings (``tests/test_flow_ldm.py`` checks it).
torch, diffusers and transformers are imported inside functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave._deps import require
from weavewave.errors import BadInputError

PIPELINE_INDEX = "model_index.json"
MUSICLDM = "MusicLDMPipeline"
# The pipelines this option drives, by the class name in their model_index.json.
SUPPORTED = (MUSICLDM,)
DEFAULT_MUSICLDM = "ucsd-reach/musicldm"
# Solver names of the flow backend -> diffusers' sigma schedulers of the same order.
SCHEDULERS = {"euler": "EulerDiscreteScheduler", "midpoint": "HeunDiscreteScheduler"}
# The mel VAE decodes this many windows' worth of latent frames at once, with this share of a window of
# context on each side, so that long pieces keep memory flat (its mid-block attention is global).
DECODE_CONTEXT_SHARE = 0.125
# Seeds of neighbouring windows are spread like a flow model's (see .sampling.WINDOW_SEED_STRIDE).
WINDOW_SEED_STRIDE = 7919


def pipeline_class(ref: str) -> str | None:
    """The ``_class_name`` in ``ref``'s model_index.json (a folder, or a hub id in the local cache), else None.

    Never touches the network.
    """
    from weavewave.neural.models import local_path, looks_like_path

    p = local_path(ref)
    index: str | None = None
    if p is not None:
        index = str(p / PIPELINE_INDEX) if (p / PIPELINE_INDEX).is_file() else None
    elif not looks_like_path(ref):
        index = _cached_file(ref, PIPELINE_INDEX)
    if index is None:
        return None
    try:
        return str(json.loads(Path(index).read_text()).get("_class_name") or "") or None
    except (OSError, ValueError):
        return None


def _cached_file(repo: str, name: str) -> str | None:
    from weavewave._deps import available

    if not available("huggingface_hub"):
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo, name)
    except Exception:  # a malformed id: simply not cached
        return None
    return found if isinstance(found, str) else None


def is_pipeline(ref: str) -> bool:
    """Whether ``ref`` is a diffusers pipeline (a folder or a cached hub id with a model_index.json)."""
    return pipeline_class(ref) is not None


def check_pipeline(ref: str) -> None:
    """Refuse, in one line, a pipeline this option does not drive (no torch)."""
    name = pipeline_class(ref)
    if name is not None and name not in SUPPORTED:
        raise BadInputError(
            f"{ref} holds a {name}, but the flow backend drives only {', '.join(SUPPORTED)}: pass a MusicLDM "
            f"pipeline (e.g. {DEFAULT_MUSICLDM}) or a folder from `weavewave train flow`"
        )


@dataclass
class LoadedLDM:
    """A loaded MusicLDM pipeline and the numbers the sampler needs."""

    pipe: Any
    ref: str
    device: str
    dtype: Any
    sample_rate: int  # the vocoder's
    mel_hop: int  # audio samples per mel frame
    scale: int  # mel frames (and mel bins) per latent frame (and latent bin)
    window: int  # latent frames the UNet was trained on
    cond_dim: int
    clap: Any  # the pipeline's CLAP as a weavewave.evaluate.neural.LoadedModel

    def __repr__(self) -> str:
        return (
            f"LoadedLDM({self.ref!r} on {self.device}, {self.sample_rate} Hz, windows of {self.window_s:g} s, "
            f"CLAP {self.cond_dim} dims)"
        )

    @property
    def frame_rate(self) -> float:
        """Latent frames per second."""
        return self.sample_rate / (self.mel_hop * self.scale)

    @property
    def window_s(self) -> float:
        return self.window / self.frame_rate

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit CLAP text embeddings [shape=(len(texts), cond_dim)] from the pipeline's own CLAP."""
        from weavewave.evaluate.neural import clap_text

        return clap_text(self.clap, list(texts)).astype(np.float32)


def load_ldm(ref: str, *, device: str = "auto", dtype: str = "auto", cache: Any = None) -> LoadedLDM:
    """Load a MusicLDM pipeline (hub id or folder) once per model cache."""
    from weavewave.neural.models import load_once

    require("diffusers", "neural", "MusicLDM through the flow backend")
    return load_once("flow-ldm", str(ref), _load, device=device, dtype=dtype, cache=cache)


def _where(ref: str) -> tuple[str, bool]:
    """(what to load, local only) for a pipeline hub id or folder."""
    from weavewave.neural.models import hub_is_offline, local_path, looks_like_path

    p = local_path(ref)
    if p is not None:
        if not (p / PIPELINE_INDEX).is_file():
            raise BadInputError(
                f"{p} is not a diffusers pipeline folder (no {PIPELINE_INDEX}): pass the folder that "
                "`hf download` or `save_pretrained` made"
            )
        return str(p), True
    if looks_like_path(ref):
        raise BadInputError(f"pipeline folder {ref} not found: check the path given to --model")
    if _cached_file(ref, PIPELINE_INDEX) is not None:
        return ref, True
    if hub_is_offline():
        folder = ref.rstrip("/").split("/")[-1]
        raise BadInputError(
            f"{ref} is not on this machine and cannot be downloaded here (no network or HF_HUB_OFFLINE=1): "
            f"on a connected machine run `hf download {ref} --local-dir {folder}`, copy the folder here and "
            f"pass --model PATH/{folder}"
        )
    return ref, False


def _load(ref: str, device: str, torch_dtype: Any) -> LoadedLDM:
    import diffusers
    from diffusers.utils import logging as diffusers_logging

    from weavewave.evaluate.neural import MIN_VOCAB, LoadedModel, short_name
    from weavewave.neural.models import quiet_transformers

    quiet_transformers()
    where, local_only = _where(ref)
    check_pipeline(ref)
    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # MusicLDM's deprecation notice is not the user's to act on
    diffusers_logging.disable_progress_bar()
    try:
        pipe = diffusers.MusicLDMPipeline.from_pretrained(
            where, dtype=torch_dtype, local_files_only=local_only
        )
    except (OSError, ValueError, TypeError) as exc:
        raise BadInputError(
            f"cannot load the MusicLDM pipeline from {ref}: {str(exc).splitlines()[0][:200]}"
        ) from None
    finally:
        diffusers_logging.set_verbosity(level)
    if len(pipe.tokenizer) < MIN_VOCAB:
        raise BadInputError(
            f"the CLAP tokenizer of {ref} has only {len(pipe.tokenizer)} tokens, so it did not load properly: "
            "download the pipeline again"
        )
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    from transformers import ClapProcessor

    processor = ClapProcessor(feature_extractor=pipe.feature_extractor, tokenizer=pipe.tokenizer)
    vocoder = pipe.vocoder.config
    unet = pipe.unet.config
    return LoadedLDM(
        pipe=pipe,
        ref=ref,
        device=device,
        dtype=torch_dtype,
        sample_rate=int(vocoder.sampling_rate),
        mel_hop=int(np.prod(vocoder.upsample_rates)),
        scale=int(pipe.vae_scale_factor),
        window=int(unet.sample_size),
        cond_dim=int(unet.projection_class_embeddings_input_dim),
        clap=LoadedModel(short_name("clap", ref), pipe.text_encoder, processor),
    )


def hold_path(x: Any, noise: Any, known: Any, hold: Any, sigma: float) -> Any:
    """``x`` [shape=(1, C, frames, bins)] with its first k frames held to ``known`` at noise level ``sigma``
    (``known + sigma * noise``), by ``hold`` [shape=(k,)] (1: held; 0: free)."""
    if known is None:
        return x
    k = known.shape[2]
    w = hold[None, None, :, None]
    x = x.clone()
    x[:, :, :k] = w * (known + sigma * noise[:, :, :k]) + (1.0 - w) * x[:, :, :k]
    return x


def denoise(
    ldm: LoadedLDM,
    noise: Any,
    cond: Any,
    null: Any,
    *,
    steps: int,
    guidance: float,
    solver: str,
    known: Any = None,
    hold: Any = None,
) -> Any:
    """One window: from ``noise`` [shape=(1, C, frames, bins)] to clean latents, as MusicLDM's pipeline
    denoises (UNet on ``class_labels``, guidance against ``null``), with ``solver``'s scheduler and the
    first frames held to ``known`` by ``hold`` (see :func:`hold_path`)."""
    import diffusers
    import torch

    pipe = ldm.pipe
    scheduler = getattr(diffusers, SCHEDULERS[solver]).from_config(pipe.scheduler.config)
    scheduler.set_timesteps(steps, device=noise.device)
    guided = guidance > 1.0
    labels = torch.cat([null, cond]) if guided else cond
    x = hold_path(noise * scheduler.init_noise_sigma, noise, known, hold, float(scheduler.sigmas[0]))
    for t in scheduler.timesteps:
        inp = scheduler.scale_model_input(torch.cat([x, x]) if guided else x, t)
        eps = pipe.unet(inp, t, encoder_hidden_states=None, class_labels=labels, return_dict=False)[0]
        if guided:
            uncond, text = eps.chunk(2)
            eps = uncond + guidance * (text - uncond)
        x = scheduler.step(eps, t, x).prev_sample
        x = hold_path(x, noise, known, hold, float(scheduler.sigmas[scheduler.step_index]))
    return x


def sample_ldm_latents(
    ldm: LoadedLDM,
    conds: list[np.ndarray],
    null: np.ndarray,
    total_frames: int,
    *,
    steps: int,
    guidance: float,
    solver: str,
    seed: int,
    overlap: int,
    crossfade: int,
) -> tuple[Any, list[Any]]:
    """Latents [shape=(1, C, total_frames, bins)] (a torch tensor) made window by window, one condition
    vector [shape=(cond_dim,)] per window of :func:`~weavewave.generators.flow.sampling.plan_windows`."""
    import torch

    from weavewave.generators.flow.sampling import hold_weights, plan_windows

    pipe = ldm.pipe
    channels = int(pipe.unet.config.in_channels)
    bins = int(pipe.vocoder.config.model_in_dim) // ldm.scale
    windows = plan_windows(total_frames, ldm.window, overlap)
    if len(conds) != len(windows):
        raise ValueError(f"{len(conds)} conditions for {len(windows)} windows")
    dtype = pipe.unet.dtype
    out = torch.zeros((1, channels, total_frames, bins), dtype=dtype, device=ldm.device)

    def vec(v: np.ndarray) -> Any:
        return torch.from_numpy(np.asarray(v, np.float32))[None].to(ldm.device, dtype)

    with torch.inference_mode():
        for i, w in enumerate(windows):
            gen = torch.Generator().manual_seed((seed + WINDOW_SEED_STRIDE * i) % 2**63)
            noise = torch.randn((1, channels, w.length, bins), generator=gen).to(ldm.device, dtype)
            known = hold = None
            if w.known:
                known = out[:, :, w.start : w.start + w.known]
                hold = torch.from_numpy(hold_weights(w.known, crossfade)).to(ldm.device, dtype)
            out[:, :, w.start : w.end] = denoise(
                ldm, noise, vec(conds[i]), vec(null), steps=steps, guidance=guidance, solver=solver,
                known=known, hold=hold,
            )  # fmt: skip
    return out, windows


def decode(ldm: LoadedLDM, latents: Any) -> np.ndarray:
    """Latents [shape=(1, C, frames, bins)] -> mono audio [shape=(frames * scale * mel_hop,)] at
    ``sample_rate``: the mel VAE in chunks of a window with context each side, the vocoder in one pass."""
    import torch

    pipe = ldm.pipe
    frames = latents.shape[2]
    context = max(1, int(ldm.window * DECODE_CONTEXT_SHARE))
    mels = []
    with torch.inference_mode():
        for s in range(0, frames, ldm.window):
            a, b = max(0, s - context), min(frames, s + ldm.window + context)
            z = latents[:, :, a:b] / pipe.vae.config.scaling_factor
            mel = pipe.vae.decode(z).sample  # (1, 1, (b - a) * scale, mel bins)
            lo = (s - a) * ldm.scale
            mels.append(mel[:, 0, lo : lo + (min(frames, s + ldm.window) - s) * ldm.scale])
        audio = pipe.vocoder(torch.cat(mels, dim=1))
    return audio[0].float().cpu().numpy()
