"""Embedders for the distribution metrics: audio in, one vector per frame out.

An embedder has a ``name`` (the key in results: ``fad[<name>]``) and ``embed(audio, sample_rate)``
returning [shape=(frames, dim)]. ``features`` needs no weights and is the default; neural embedders
(``clap`` in :mod:`weavewave.evaluate.neural`, ``encodec`` in :mod:`weavewave.evaluate.encoders`) load
weights through transformers.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from weavewave.music.analysis import ANALYSIS_SR, analysis_signal

# The `features` embedding, version 1. One vector per second of audio (43 STFT frames of 2048/512 at
# 22.05 kHz), the concatenation of, in this order:
FEATURE_BLOCKS = (
    ("mfcc_mean", 19),  # MFCC 1-19 means (c0, overall level, is left out: masters differ only in gain)
    ("mfcc_std", 12),  # MFCC 1-12 standard deviations: how much the timbre moves within the second
    ("chroma_mean", 12),  # STFT chroma means: harmony
    ("contrast_mean", 7),  # spectral contrast (6 bands + valley) means: peakiness of the spectrum
    ("spectral_shape", 4),  # log2 centroid, log2 bandwidth, log2 rolloff (85 %) in Hz, log10 flatness
    ("rms_db", 1),  # frame RMS in dB, mean
    ("onset", 2),  # onset strength mean and standard deviation: rhythmic activity
    ("zcr", 1),  # zero-crossing rate mean: noisiness
)
FEATURE_DIM = sum(n for _, n in FEATURE_BLOCKS)
FEATURE_WINDOW_FRAMES = 43  # about 1 s
N_FFT, HOP = 2048, 512


class Embedder(Protocol):
    """Audio in, frame embeddings out."""

    name: str

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray: ...


class FeatureEmbedder:
    """``features``: fixed, documented librosa statistics per second (see ``FEATURE_BLOCKS``). No weights.

    It is not VGGish, CLAP or any learned embedding, and results carry its own name, ``fad[features]``.
    Its distances are comparable only with other ``fad[features]`` figures.
    """

    name = "features"

    def __repr__(self) -> str:
        return f"FeatureEmbedder({FEATURE_DIM} dims per second)"

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """[shape=(seconds, FEATURE_DIM)] for ``audio`` [shape=(n,) or (n, channels)]; at least one row."""
        from weavewave.jitcache import librosa as _get_librosa

        librosa = _get_librosa()

        y = analysis_signal(audio, sample_rate)
        if len(y) < N_FFT:
            y = np.pad(y, (0, N_FFT - len(y)))
        spec = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
        power = spec**2
        mel = librosa.feature.melspectrogram(S=power, sr=ANALYSIS_SR)
        mel_db = librosa.power_to_db(mel)
        mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=20)[1:]
        frames = {
            "mfcc": mfcc,
            "chroma": librosa.feature.chroma_stft(S=power, sr=ANALYSIS_SR),
            "contrast": librosa.feature.spectral_contrast(S=spec, sr=ANALYSIS_SR),
            "shape": np.vstack(
                [
                    np.log2(librosa.feature.spectral_centroid(S=spec, sr=ANALYSIS_SR) + 1.0),
                    np.log2(librosa.feature.spectral_bandwidth(S=spec, sr=ANALYSIS_SR) + 1.0),
                    np.log2(librosa.feature.spectral_rolloff(S=spec, sr=ANALYSIS_SR) + 1.0),
                    np.log10(librosa.feature.spectral_flatness(S=spec) + 1e-10),
                ]
            ),
            "rms": librosa.amplitude_to_db(librosa.feature.rms(S=spec, frame_length=N_FFT), ref=1.0),
            "onset": librosa.onset.onset_strength(S=mel_db, sr=ANALYSIS_SR)[None, :],
            "zcr": librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP),
        }
        n = min(f.shape[1] for f in frames.values())
        w = FEATURE_WINDOW_FRAMES
        windows = max(1, n // w)
        rows = []
        for i in range(windows):
            s = slice(i * w, min(n, (i + 1) * w))
            f = {k: v[:, s] for k, v in frames.items()}
            rows.append(
                np.concatenate(
                    [
                        f["mfcc"].mean(axis=1),
                        f["mfcc"][:12].std(axis=1),
                        f["chroma"].mean(axis=1),
                        f["contrast"].mean(axis=1),
                        f["shape"].mean(axis=1),
                        f["rms"].mean(axis=1),
                        [f["onset"].mean(), f["onset"].std()],
                        f["zcr"].mean(axis=1),
                    ]
                )
            )
        return np.asarray(rows, dtype=np.float64)


def get_embedder(name: str, *, model: str | None = None) -> Embedder:
    """An embedder by name: ``features`` (no weights), ``clap`` or ``encodec`` (``model``: hub id or local
    folder; None means the family's default)."""
    from weavewave.errors import BadInputError

    if name == "features":
        return FeatureEmbedder()
    if name == "clap":
        from weavewave.evaluate.neural import ClapEmbedder, load_clap

        return ClapEmbedder(load_clap(model))
    if name == "encodec":
        from weavewave.evaluate.encoders import EncodecEmbedder, load_encodec

        return EncodecEmbedder(load_encodec(model))
    raise BadInputError(
        f"unknown embedder {name!r}: use 'features' (no weights), 'clap' (CLAP weights) or "
        "'encodec' (EnCodec weights)"
    )
