"""Learned FAD embedders beyond CLAP: EnCodec's continuous latents, loaded through transformers.

``encodec`` embeds audio with the *encoder* of an EnCodec neural codec: the continuous latents just
before residual vector quantisation (128 numbers per frame, 75 frames per second for the 24 kHz
model). They describe how the codec would reconstruct the sound (timbre, texture, dynamics) rather than
what a listener would call it, so ``fad[encodec-…]`` complements ``fad[clap-…]`` (semantic) and
``fad[features]`` (hand-made statistics).

- Default checkpoint: ``facebook/encodec_24khz`` (MIT licence, trained on speech, music and general
  audio). MusicGen decodes through its own codec, ``facebook/encodec_32khz`` (music only, CC-BY-NC 4.0);
  scoring MusicGen output in that codec's own latent space would flatter it, so it is not the default,
  but ``--encodec-model facebook/encodec_32khz`` (or any EnCodec folder) works.
- Input: resampled (scipy polyphase) to the model's rate, mixed to mono or duplicated to stereo to match
  the model's channel count, encoded in blocks of at most ``CHUNK_S`` seconds so memory stays bounded.
- Output: the frames averaged over ``POOL_S`` windows: one vector per second, like ``features``, so a
  three-minute track adds about 180 rows to the Gaussian, not 13 500 highly correlated ones.

torch and transformers are imported inside functions only.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError
from weavewave.evaluate.neural import LoadedModel, load_pretrained, short_name

DEFAULT_ENCODEC = "facebook/encodec_24khz"
ENCODEC_ENV = "WEAVEWAVE_ENCODEC_MODEL"
ENCODEC_FLAG = "--encodec-model"
POOL_S = 1.0  # one embedding per second of audio (the mean of the codec frames in that second)
CHUNK_S = 30.0  # the encoder sees at most this much at once (a whole number of POOL_S windows)


def _torch() -> Any:
    from weavewave.neural.models import require_transformers

    require_transformers()
    import torch

    return torch


def encodec_name(name_or_path: str) -> str:
    """``encodec-24khz`` for Meta's ``facebook/encodec_24khz`` (any ``encodec_*`` folder), else
    ``encodec-<last path part>``: the label in result keys, ``fad[encodec-24khz]``."""
    last = Path(str(name_or_path).rstrip("/")).name
    if last.lower().startswith("encodec_"):
        return "encodec-" + last[len("encodec_") :]
    return short_name("encodec", name_or_path)


def load_encodec(name_or_path: str | Path | None = None) -> LoadedModel:
    """An ``EncodecModel`` + ``EncodecFeatureExtractor``: argument, else $WEAVEWAVE_ENCODEC_MODEL, else
    ``facebook/encodec_24khz``."""
    ref = str(name_or_path or os.environ.get(ENCODEC_ENV) or DEFAULT_ENCODEC)
    return load_pretrained(
        "EnCodec",
        ref,
        model_type="encodec",
        model_cls="EncodecModel",
        processor_cls="EncodecFeatureExtractor",
        default=DEFAULT_ENCODEC,
        flag=ENCODEC_FLAG,
        name=encodec_name(ref),
    )


def match_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """[shape=(n,) or (n, c)] -> [shape=(n, channels)] float32: mixed to mono, or mono duplicated."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    if a.shape[1] == channels:
        return a
    mono = a.mean(axis=1, keepdims=True)
    return np.repeat(mono, channels, axis=1)


def pool_frames(frames: np.ndarray, per_window: int) -> np.ndarray:
    """Means of consecutive ``per_window`` frames [shape=(windows, dim)]; a tail shorter than a window is
    dropped, except that audio shorter than one window still gives one row."""
    if len(frames) < per_window:
        return frames.mean(axis=0, keepdims=True)
    windows = len(frames) // per_window
    return frames[: windows * per_window].reshape(windows, per_window, -1).mean(axis=1)


class EncodecEmbedder:
    """EnCodec encoder latents (pre-quantisation) averaged per second, for ``fad[encodec-…]``."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.name = loaded.name
        cfg = loaded.model.config
        self.sample_rate = int(loaded.processor.sampling_rate)
        self.channels = int(cfg.audio_channels)
        self.hop = int(np.prod(cfg.upsampling_ratios))  # input samples per latent frame
        self.frame_rate = self.sample_rate / self.hop
        self.per_window = max(1, round(POOL_S * self.frame_rate))
        self.chunk = self.per_window * self.hop * max(1, round(CHUNK_S / POOL_S))
        self.dim = int(cfg.hidden_size)
        if self.sample_rate != int(cfg.sampling_rate):
            raise BadInputError(
                f"the EnCodec folder's feature extractor runs at {self.sample_rate} Hz but the model "
                f"at {cfg.sampling_rate} Hz: the folder mixes files from different models"
            )

    def __repr__(self) -> str:
        return (
            f"EncodecEmbedder({self.name!r}, {self.dim} dims, {self.frame_rate:g} frames/s pooled to one per "
            f"{POOL_S:g} s)"
        )

    def frames(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The unpooled latents [shape=(ceil(samples / hop), dim)] at the model's rate."""
        from weavewave.dsp.signal import resample

        torch = _torch()
        x = resample(match_channels(audio, self.channels), sample_rate, self.sample_rate).astype(np.float32)
        if len(x) < self.hop:
            x = np.pad(x, ((0, self.hop - len(x)), (0, 0)))
        out = []
        for start in range(0, len(x), self.chunk):
            piece = x[start : start + self.chunk]
            raw = piece[:, 0] if self.channels == 1 else piece.T
            values = self.loaded.processor(
                raw_audio=raw, sampling_rate=self.sample_rate, return_tensors="pt"
            )["input_values"]
            if self.loaded.model.config.normalize:  # as EncodecModel.encode does: unit RMS of the mono mix
                scale = values.mean(dim=1, keepdim=True).pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-8
                values = values / scale
            with torch.no_grad():
                z = self.loaded.model.encoder(values.to(self.loaded.model.dtype))
            out.append(z[0].T.float().numpy()[: math.ceil(len(piece) / self.hop)])
        return np.vstack(out).astype(np.float64)

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """[shape=(seconds, dim)] for ``audio`` [shape=(n,) or (n, channels)]; at least one row."""
        return pool_frames(self.frames(audio, sample_rate), self.per_window)
