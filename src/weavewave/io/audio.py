"""Reading and writing audio files: the one audio reader (:func:`read_audio`, and :func:`load_audio` for a
reference tune), and writing 24-bit WAV or FLAC, or MP3, clipped rather than wrapped.

The loudness and peak measurements a master is judged by are in :mod:`weavewave.dsp.loudness`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

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


# --- reading ------------------------------------------------------------------------------------------
MAX_AUDIO_S = 600.0  # ten minutes; raise with the environment variable below
MAX_AUDIO_ENV = "WEAVEWAVE_MAX_AUDIO_S"
MIN_AUDIO_S = 2.0  # shorter than a bar or two: nothing to measure
DECODED_SHARE = 0.9  # fewer decoded frames than this share of the header's count: the file was cut off
SILENCE_DBFS = -60.0  # a reference whose peak stays below this is treated as silence
VIDEO_SIGNATURES = (
    (4, b"ftyp"),
    (0, b"\x1a\x45\xdf\xa3"),
    (8, b"AVI "),
)  # MP4/QuickTime/M4A, Matroska/WebM, AVI


def max_audio_seconds() -> float:
    """The length limit in seconds: ``MAX_AUDIO_S`` unless ``WEAVEWAVE_MAX_AUDIO_S`` raises it."""
    raw = os.environ.get(MAX_AUDIO_ENV)
    if not raw:
        return MAX_AUDIO_S
    try:
        value = float(raw)
    except ValueError:
        raise BadInputError(f"{MAX_AUDIO_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise BadInputError(f"{MAX_AUDIO_ENV}={raw!r} must be a positive number of seconds")
    return value


def _soundfile():
    import soundfile  # a core dependency, imported when a file is read

    return soundfile


def read_audio(path: str | Path, *, max_s: float | None = None) -> tuple[np.ndarray, int]:
    """Decode an audio file (WAV, FLAC, MP3, OGG) to float32 [shape=(n, channels)] at its own rate.

    The one audio reader: refuses missing, empty, video, undecodable, truncated and non-finite files, and
    ones longer than ``max_s`` seconds (checked from the header, before decoding), each with a
    BadInputError that says what to do. Returns the samples and the sample rate.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"audio file not found: {p}; check the path")
    size = p.stat().st_size
    if size == 0:
        raise BadInputError(f"audio file {p.name} is empty (0 bytes); give a WAV, FLAC, MP3 or OGG recording")
    with p.open("rb") as fh:
        head = fh.read(16)
    if any(head[o : o + len(sig)] == sig for o, sig in VIDEO_SIGNATURES):
        raise BadInputError(
            f"{p.name} is a video container (MP4/QuickTime, Matroska/WebM or AVI), not an "
            "audio file: give a video with --video, or convert its sound to WAV/FLAC for --audio"
        )
    sf = _soundfile()
    try:
        with _quiet_native_stderr():
            info = sf.info(str(p))
    except Exception as exc:  # libsndfile raises its own error types, which vary by version
        raise BadInputError(
            f"cannot decode {p.name} as audio ({_reason(exc)}); --audio reads WAV, FLAC, MP3 and "
            "OGG: check the file plays, or convert it"
        ) from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise BadInputError(
            f"{p.name} holds no decodable audio (zero length, or cut off): give a complete "
            "recording with sound in it"
        )
    declared_s = info.frames / info.samplerate
    limit = max_s
    if limit is not None and declared_s > limit:
        raise BadInputError(
            f"{p.name} is {declared_s:.0f} s long; the limit for --audio is {limit:.0f} s. Trim it, "
            f"or raise the limit with {MAX_AUDIO_ENV}=SECONDS"
        )
    _check_wav_complete(p, info, size)
    try:
        with _quiet_native_stderr():
            data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:
        raise BadInputError(
            f"{p.name} is corrupt or truncated ({_reason(exc)}); re-export or re-download it"
        ) from None
    if data.shape[0] == 0:
        raise BadInputError(
            f"{p.name} holds no decodable audio (zero length, or cut off): give a complete "
            "recording with sound in it"
        )
    if data.shape[0] < DECODED_SHARE * info.frames:
        raise BadInputError(
            f"{p.name} is truncated: its header promises {declared_s:.1f} s but only "
            f"{data.shape[0] / sr:.1f} s decode; re-export or re-download it"
        )
    if not np.isfinite(data).all():
        raise BadInputError(f"{p.name} contains invalid samples (NaN or infinity); re-export it")
    return data, int(sr)


def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a reference to mono float32 [shape=(n,)] at its own rate. Raises BadInputError.

    Refuses what :func:`read_audio` refuses, and files over :func:`max_audio_seconds`, too short or
    silent, each with a message that says what to do.
    """
    p = Path(path)
    data, sr = read_audio(p, max_s=max_audio_seconds())
    mono = data.mean(axis=1)
    duration = mono.shape[0] / sr
    if duration < MIN_AUDIO_S:
        raise BadInputError(
            f"{p.name} is only {duration:.2f} s long; give at least {MIN_AUDIO_S:g} s of music"
        )
    peak = float(np.max(np.abs(mono)))
    peak_db = 20 * np.log10(peak) if peak > 0 else -np.inf
    if peak_db < SILENCE_DBFS:
        shown = "-inf" if not np.isfinite(peak_db) else f"{peak_db:.0f}"
        raise BadInputError(
            f"{p.name} is silent (peak {shown} dBFS): a reference needs audible music to "
            "take tempo, key and melody from"
        )
    return mono, int(sr)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence what the C decoders (libsndfile's mpg123) print straight to file descriptor 2, so a bad
    file gives the one-line error and nothing else."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured): nothing to silence
        yield
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _check_wav_complete(p: Path, info: Any, size: int) -> None:
    """A WAV whose data chunk promises more bytes than the file holds was cut off in transfer."""
    if info.format != "WAV":
        return
    with p.open("rb") as fh:
        header = fh.read(4096)
    at = header.find(b"data")
    if at < 0 or at + 8 > len(header):
        return
    declared = int.from_bytes(header[at + 4 : at + 8], "little")
    if declared not in (0, 0xFFFFFFFF) and at + 8 + declared > size:
        missing = at + 8 + declared - size
        raise BadInputError(
            f"{p.name} is truncated: its header promises {declared} bytes of audio but "
            f"{missing} are missing; re-export or re-download it"
        )


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.replace(str(Path.cwd()) + os.sep, "")[:160]
