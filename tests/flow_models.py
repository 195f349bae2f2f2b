"""Tiny flow-backend models for tests: diffusers' real ``AutoencoderOobleck`` class with a tiny config and
random weights, and a tiny velocity model, each saved to disk and loaded back through weavewave's loaders.

Random weights make noise: tests built on them assert plumbing, shapes, determinism and conditioning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# 16 kHz stereo, a latent frame every 4*4*4 = 64 samples (250 frames a second), 8 latent channels.
TINY_VAE = {
    "encoder_hidden_size": 16,  # the encoder gives a mean and a scale: twice the latent channels
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


# The learning test's tones: the class decides the pitch, far enough apart that any encoder tells them apart.
TONE_HZ = (150.0, 400.0, 1100.0, 3000.0)
TONE_SR = 16000


def write_tone_dataset(
    folder: Path, *, per_class: int = 6, seconds: float = 1.0, seed: int = 0, embedding_dim: int = 16
) -> tuple[Path, Any]:
    """An ``audiofolder`` dataset of stereo sine tones whose class sets the pitch (3 % jitter, random phase),
    with a caption per class and a condition vector per class (random unit vectors): returns the folder
    and the vectors [shape=(classes, embedding_dim)]."""
    import json

    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((len(TONE_HZ), embedding_dim)).astype(np.float32)
    basis /= np.linalg.norm(basis, axis=1, keepdims=True)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    t = np.arange(int(seconds * TONE_SR)) / TONE_SR
    for k, hz in enumerate(TONE_HZ):
        for j in range(per_class):
            f = hz * (1 + 0.03 * rng.standard_normal())
            x = 0.5 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
            name = f"tone{k}_{j}.wav"
            sf.write(folder / name, np.stack([x, x], axis=1).astype(np.float32), TONE_SR)
            rows.append(
                {"file_name": name, "caption": f"a pure tone, class {k}", "embedding": basis[k].tolist()}
            )
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder, basis


# A tiny MusicLDM: 16 mel bins, a mel frame every 8*8 = 64 samples at 16 kHz (250 a second), a VAE that
# halves both axes into 4 latent channels, a UNet window of 64 latent frames (0.512 s), CLAP's 16 dimensions.
TINY_LDM_MEL_BINS = 16
TINY_LDM_WINDOW = 64


def build_musicldm(folder: Path, clap: Path, seed: int = 0) -> Path:
    """A tiny random ``MusicLDMPipeline`` built from diffusers' and transformers' real classes (UNet2D with a
    CLAP class-embedding projection, mel ``AutoencoderKL``, ``SpeechT5HifiGan``, the tiny CLAP in ``clap``)
    and saved with ``save_pretrained``."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, MusicLDMPipeline, UNet2DConditionModel
    from transformers import ClapModel, ClapProcessor, SpeechT5HifiGan, SpeechT5HifiGanConfig

    torch.manual_seed(seed)
    text_encoder = ClapModel.from_pretrained(clap)
    processor = ClapProcessor.from_pretrained(clap)
    unet = UNet2DConditionModel(
        sample_size=TINY_LDM_WINDOW,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        mid_block_type=None,
        cross_attention_dim=16,
        class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=text_encoder.config.projection_dim,
        class_embeddings_concat=True,
    )
    vae = AutoencoderKL(
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=8,
        layers_per_block=1,
    )
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=TINY_LDM_MEL_BINS, sampling_rate=16000, upsample_initial_channel=16, upsample_rates=[8, 8],
            upsample_kernel_sizes=[16, 16], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
            normalize_before=False,
        )
    )  # fmt: skip
    with torch.no_grad():  # random HiFi-GAN weights whisper (about 1e-5): make it loud enough to master
        vocoder.conv_post.weight.mul_(3000.0)
    scheduler = DDIMScheduler(
        beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False
    )  # fmt: skip
    pipe = MusicLDMPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=processor.tokenizer, feature_extractor=processor.feature_extractor,
        unet=unet, scheduler=scheduler, vocoder=vocoder,
    )  # fmt: skip
    pipe.save_pretrained(folder)
    return folder
