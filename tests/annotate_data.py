"""Music the annotation tests build, with known tempo and key: a click on every beat over a held triad."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
# Triads by key: tonic, third and fifth as frequencies (equal temperament, A4 = 440 Hz).
TRIADS = {
    "A minor": (220.0, 261.63, 329.63),
    "C major": (261.63, 329.63, 392.0),
    "D major": (293.66, 369.99, 440.0),
}


def piece(tempo: float, key: str, seconds: float) -> np.ndarray:
    """Mono float32 [shape=(seconds * SAMPLE_RATE,)]: the key's triad with a damped click on each beat,
    accented on every fourth beat."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    # the triad pulses with the beat (a decaying strike per beat) so the tempo shows in its envelope too
    phase = (t * tempo / 60.0) % 1.0
    env = 0.35 + 0.65 * np.exp(-6.0 * phase)
    y = sum(np.sin(2 * np.pi * f * t) for f in TRIADS[key]) * 0.12 * env
    period = 60.0 / tempo
    click = np.exp(-np.arange(int(0.03 * SAMPLE_RATE)) / (0.004 * SAMPLE_RATE)) * np.sin(
        2 * np.pi * 2000 * np.arange(int(0.03 * SAMPLE_RATE)) / SAMPLE_RATE
    )
    for i, start in enumerate(np.arange(0.0, seconds, period)):
        a = int(start * SAMPLE_RATE)
        b = min(n, a + click.size)
        y[a:b] += click[: b - a] * (0.6 if i % 4 == 0 else 0.35)
    return (y / max(1.0, np.max(np.abs(y)) / 0.9)).astype(np.float32)


def build_music_folder(folder: Path, tracks: dict[str, tuple[float, str, float]]) -> Path:
    """WAV files named by ``tracks`` (name -> (tempo, key, seconds)) in ``folder``."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    for name, (tempo, key, seconds) in tracks.items():
        sf.write(folder / f"{name}.wav", piece(tempo, key, seconds), SAMPLE_RATE)
    return folder
