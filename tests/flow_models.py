"""Tiny flow-backend models for tests: diffusers' real ``AutoencoderOobleck`` class with a tiny config and
random weights, and a tiny velocity model, each saved to disk and loaded back through weavewave's loaders.

Random weights make noise: tests built on them assert plumbing, shapes, determinism and conditioning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# 16 kHz stereo, a latent frame every 4*4*4 = 64 samples (250 frames a second), 8 latent channels.
TINY_VAE = {
    "encoder_hidden_size": 8,
    "downsampling_ratios": [4, 4, 4],
    "channel_multiples": [1, 2, 2],
    "decoder_channels": 8,
    "decoder_input_channels": 8,
    "audio_channels": 2,
    "sampling_rate": 16000,
}
TINY_FLOW = {"hidden": 32, "layers": 2, "heads": 2}
MINILM_DIM = 384


def build_vae(folder: Path, seed: int = 0) -> Path:
    """A tiny random ``AutoencoderOobleck`` saved with ``save_pretrained``."""
    import torch
    from diffusers import AutoencoderOobleck

    torch.manual_seed(seed)
    AutoencoderOobleck(**TINY_VAE).save_pretrained(folder)
    return folder


def build_flow(
    folder: Path,
    vae: Path,
    *,
    frames: int = 128,
    cond_dim: int = MINILM_DIM,
    condition: str = "minilm",
    seed: int = 0,
) -> Path:
    """A tiny random flow model over the tiny VAE's latent (output layers given small random weights, so
    that the condition and the seed reach the audio)."""
    import torch

    from weavewave.generators.flow.model import build_model, save_model

    config = flow_config(vae, frames=frames, cond_dim=cond_dim, condition=condition)
    torch.manual_seed(seed)
    model = build_model(config)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.02)
    save_model(model, config, folder)
    return folder


def flow_config(vae: Path, **kw: Any) -> Any:
    from weavewave.generators.flow.model import FlowConfig

    hop = 1
    for r in TINY_VAE["downsampling_ratios"]:
        hop *= r
    return FlowConfig(
        latent_channels=TINY_VAE["decoder_input_channels"],
        vae=str(vae),
        sample_rate=TINY_VAE["sampling_rate"],
        hop=hop,
        audio_channels=TINY_VAE["audio_channels"],
        **TINY_FLOW,
        **kw,
    )
