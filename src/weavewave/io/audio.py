"""Writing audio files: 24-bit WAV or FLAC, or MP3, clipped rather than wrapped.

The loudness and peak measurements a master is judged by are in :mod:`weavewave.dsp.loudness`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weavewave.errors import BadInputError

FORMATS = ("wav", "flac", "mp3")

# format -> (libsndfile container, subtype)
_SOUNDFILE_FORMATS = {
    "wav": ("WAV", "PCM_24"),
    "flac": ("FLAC", "PCM_24"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}
# libsndfile's MP3 encoder: constant bitrate, and compression level 0.0 = its highest bitrate (320 kbit/s).
MP3_BITRATE_MODE = "CONSTANT"
MP3_COMPRESSION_LEVEL = 0.0
MP3_SAMPLE_RATES = (32000, 44100, 48000)
# Largest value a 24-bit PCM sample can hold, as a float; writing clips here instead of wrapping around.
PCM24_MAX = 1.0 - 2.0**-23


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, fmt: str = "wav") -> None:
    """Write audio to ``path``: 24-bit WAV (default), 24-bit FLAC, or 320 kbit/s MP3.

    Parameters
    ----------
    path : str or Path
        Destination file. It is written in place: callers that need atomic writes use a temporary path.
    audio : np.ndarray [shape=(n,) or (n, channels)]
        Float samples in -1..1. Anything beyond is clipped, never wrapped around.
    sample_rate : int
        Samples per second. MP3 accepts 32000, 44100 or 48000.
    fmt : str
        One of ``FORMATS``.

    Raises
    ------
    BadInputError
        For an unknown format, an empty or non-finite signal, or a sample rate MP3 cannot hold.
    """
    import soundfile as sf

    if fmt not in FORMATS:
        raise BadInputError(f"unknown audio format {fmt!r}: use one of {', '.join(FORMATS)}")
    data = np.asarray(audio)
    if data.ndim not in (1, 2) or data.shape[0] == 0:
        raise BadInputError(
            f"cannot write audio of shape {data.shape}: expected (samples,) or "
            "(samples, channels) with at least one sample"
        )
    if not np.issubdtype(data.dtype, np.floating):
        raise BadInputError(f"cannot write audio of dtype {data.dtype}: pass float samples in -1..1")
    if not np.all(np.isfinite(data)):
        raise BadInputError("cannot write audio that contains NaN or infinite samples")
    if fmt == "mp3" and int(sample_rate) not in MP3_SAMPLE_RATES:
        raise BadInputError(
            f"MP3 cannot hold {sample_rate} Hz audio: use wav or flac, or one of "
            f"{', '.join(map(str, MP3_SAMPLE_RATES))} Hz"
        )
    data = np.ascontiguousarray(np.clip(data, -1.0, PCM24_MAX))
    container, subtype = _SOUNDFILE_FORMATS[fmt]
    options = (
        {"bitrate_mode": MP3_BITRATE_MODE, "compression_level": MP3_COMPRESSION_LEVEL} if fmt == "mp3" else {}
    )
    sf.write(str(path), data, int(sample_rate), subtype=subtype, format=container, **options)
