"""The melody chroma MusicGen-Melody is conditioned on, computed here with numpy.

transformers' ``MusicgenMelodyFeatureExtractor`` needs torchaudio, which weavewave never depends on. This
computes the same feature: a power spectrogram (16384-point Hann window, hop 4096, centred with reflect
padding) at 32 kHz, folded into 12 pitch classes by librosa's chroma filter bank (A440 tuning), and reduced
to a one-hot of the strongest pitch class in each frame. Scaling the spectrum does not change an argmax,
so the normalisation of the STFT is irrelevant.
"""

from __future__ import annotations

import functools

import numpy as np

from weavewave.dsp.signal import resample, to_mono

CHROMA_SAMPLE_RATE = 32000
CHROMA_N_FFT = 16384
CHROMA_HOP = 4096
N_CHROMA = 12
CHROMA_FPS = CHROMA_SAMPLE_RATE / CHROMA_HOP  # 7.8125 frames per second


@functools.lru_cache(maxsize=2)
def _filter_bank(sample_rate: int, n_fft: int) -> np.ndarray:
    from weavewave.jitcache import librosa as _get_librosa

    librosa = _get_librosa()

    return librosa.filters.chroma(sr=sample_rate, n_fft=n_fft, tuning=0.0, n_chroma=N_CHROMA).astype(
        np.float64
    )


def melody_chroma(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """One-hot melody chroma of a recording, as MusicGen-Melody expects it.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (n, channels)]
    sample_rate : int

    Returns
    -------
    np.ndarray [shape=(frames, 12), dtype=float32]
        ``frames = 1 + n32 // 4096`` where ``n32`` is the length at 32 kHz; one 1.0 per row, at the
        strongest pitch class (0 = C; silent frames give 0, as the extractor does).
    """
    wav = resample(to_mono(audio), sample_rate, CHROMA_SAMPLE_RATE)
    if wav.shape[0] < CHROMA_N_FFT:  # the extractor pads short clips to one window, centred
        pad = CHROMA_N_FFT - wav.shape[0]
        wav = np.pad(wav, (pad // 2, pad - pad // 2))
    half = CHROMA_N_FFT // 2
    padded = np.pad(wav, (half, half), mode="reflect")
    n_frames = 1 + (padded.shape[0] - CHROMA_N_FFT) // CHROMA_HOP
    window = np.hanning(CHROMA_N_FFT + 1)[:-1]  # periodic Hann, as torch.hann_window
    fb = _filter_bank(CHROMA_SAMPLE_RATE, CHROMA_N_FFT)
    raw = np.empty((n_frames, N_CHROMA))
    block = 64  # frames per FFT batch: bounds memory for long pieces
    for start in range(0, n_frames, block):
        idx = np.arange(start, min(n_frames, start + block))
        frames = np.stack([padded[i * CHROMA_HOP : i * CHROMA_HOP + CHROMA_N_FFT] for i in idx]) * window
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        raw[idx] = power @ fb.T
    one_hot = np.zeros((n_frames, N_CHROMA), np.float32)
    strongest = raw.argmax(axis=1)
    one_hot[np.arange(n_frames), strongest] = 1.0
    return one_hot


def chroma_window(chroma: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """The chroma frames covering ``[start_s, end_s)`` (at least one frame)."""
    a = int(np.floor(start_s * CHROMA_FPS))
    b = max(a + 1, int(np.ceil(end_s * CHROMA_FPS)))
    a = min(a, max(0, chroma.shape[0] - 1))
    return chroma[a : min(b, chroma.shape[0])]
