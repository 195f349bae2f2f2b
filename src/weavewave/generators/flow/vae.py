"""The audio VAE of the flow backend: diffusers' ``AutoencoderOobleck`` (Stable Audio Open's waveform VAE).

Why this one (see docs/FLOW.md): it encodes stereo 44.1 kHz waveforms straight to a 64-channel latent at
about 21.5 frames a second and decodes them back, so no mel spectrogram and no separate vocoder stand
between the latent and the music; it was trained on music; and its latent is a sequence of frames, which
suits a transformer over frames and windows with crossfaded seams.

A VAE is named by a hub id (``stabilityai/stable-audio-open-1.0``, whose VAE is in its ``vae`` folder) or a
local folder (``save_pretrained`` output, or a pipeline folder with a ``vae`` subfolder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave._deps import require
from weavewave.errors import BadInputError

DEFAULT_VAE = "stabilityai/stable-audio-open-1.0"
VAE_SUBFOLDER = "vae"
# Encoding long recordings in one pass costs memory quadratic in nothing but linear in length: chunks of
# this many latent frames keep the peak flat (the encoder is convolutional, so chunks at frame boundaries
# give nearly the latents of one pass).
ENCODE_CHUNK_FRAMES = 512


@dataclass
class LoadedVAE:
    """A loaded VAE and the numbers the flow model needs."""

    model: Any
    ref: str
    device: str
    sample_rate: int
    hop: int
    audio_channels: int
    latent_channels: int

    def __repr__(self) -> str:
        return (
            f"LoadedVAE({self.ref!r} on {self.device}, {self.sample_rate} Hz, {self.audio_channels} ch, "
            f"{self.latent_channels} latent channels every {self.hop} samples)"
        )

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """Audio [shape=(channels, n)] at ``sample_rate`` -> latent means [shape=(latent_channels, frames)].

        Channels are matched to the VAE (mono repeated, extra channels averaged); ``n`` is padded up to
        whole frames.
        """
        import torch

        x = _match_channels(np.asarray(audio, np.float32), self.audio_channels)
        frames = max(1, math.ceil(x.shape[1] / self.hop))
        x = np.pad(x, ((0, 0), (0, frames * self.hop - x.shape[1])))
        out = []
        step = ENCODE_CHUNK_FRAMES * self.hop
        with torch.inference_mode():
            for s in range(0, x.shape[1], step):
                chunk = torch.from_numpy(np.ascontiguousarray(x[:, s : s + step]))[None].to(self.device)
                out.append(self.model.encode(chunk).latent_dist.mean[0].float().cpu().numpy())
        return np.concatenate(out, axis=1)[:, :frames]

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Latents [shape=(latent_channels, frames)] -> audio [shape=(audio_channels, frames * hop)]."""
        import torch

        z = torch.from_numpy(np.ascontiguousarray(latents, np.float32))[None].to(self.device)
        with torch.inference_mode():
            audio = self.model.decode(z).sample[0].float().cpu().numpy()
        return audio[:, : latents.shape[1] * self.hop]


def _match_channels(x: np.ndarray, channels: int) -> np.ndarray:
    if x.ndim == 1:
        x = x[None]
    if x.shape[0] == channels:
        return x
    mono = x.mean(axis=0, keepdims=True)
    return np.repeat(mono, channels, axis=0)


def _where(ref: str) -> tuple[str, str | None, bool]:
    """(what to load, subfolder, local only) for a VAE hub id or folder."""
    from weavewave.neural.models import cached_snapshot, hub_is_offline, local_path, looks_like_path

    p = local_path(ref)
    if p is not None:
        if (p / "config.json").is_file():
            return str(p), None, True
        if (p / VAE_SUBFOLDER / "config.json").is_file():
            return str(p), VAE_SUBFOLDER, True
        raise BadInputError(
            f"{p} is not a VAE folder (no config.json, nor {VAE_SUBFOLDER}/config.json): pass the folder "
            "that `save_pretrained` or `hf download` made to --vae"
        )
    if looks_like_path(ref):
        raise BadInputError(f"VAE folder {ref} not found: check the path given to --vae")
    if cached_snapshot(ref) is not None:  # a VAE repository of its own
        return ref, None, True
    if hub_is_offline():
        folder = ref.rstrip("/").split("/")[-1]
        raise BadInputError(
            f"VAE {ref} is not on this machine and cannot be downloaded here (no network or "
            f"HF_HUB_OFFLINE=1): on a connected machine run `hf download {ref} --local-dir {folder}`, copy "
            f"the folder here and pass --vae PATH/{folder}"
        )
    return ref, VAE_SUBFOLDER, False


def load_vae(ref: str | Path, *, device: str = "auto", cache: Any = None) -> LoadedVAE:
    """Load an ``AutoencoderOobleck`` (hub id or folder) once per model cache, in fp32 (decoding in half
    precision is audibly worse and the VAE is a small part of the cost)."""
    from weavewave.neural.models import load_once

    require("diffusers", "neural", "the flow backend")
    return load_once("flow-vae", str(ref), _load, device=device, dtype="fp32", cache=cache)


def _load(ref: str, device: str, torch_dtype: Any) -> LoadedVAE:
    from diffusers import AutoencoderOobleck

    where, subfolder, local_only = _where(ref)
    kwargs: dict[str, Any] = {"local_files_only": local_only}
    if subfolder:
        kwargs["subfolder"] = subfolder
    try:
        model = AutoencoderOobleck.from_pretrained(where, **kwargs)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot load the VAE from {ref}: {str(exc).splitlines()[0][:200]}") from None
    model.to(device).eval()  # loaded in fp32; a cast with .to() would skip the VAE's fp32-only modules
    cfg = model.config
    return LoadedVAE(
        model=model,
        ref=ref,
        device=device,
        sample_rate=int(cfg.sampling_rate),
        hop=int(np.prod(cfg.downsampling_ratios)),
        audio_channels=int(cfg.audio_channels),
        latent_channels=int(cfg.decoder_input_channels),
    )
