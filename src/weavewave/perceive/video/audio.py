"""The video's own sound: level, a loudness curve and onset density of its first audio track."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.io.video import require_av

AUDIO_ANALYSIS_RATE = 16000


def measure_audio(container: Any, p: Path) -> dict[str, Any] | None:
    """RMS level, a per-second level curve and onset density of the first audio track (mono, 16 kHz)."""
    av = require_av()
    stream = container.streams.audio[0]
    try:
        container.seek(0)
    except av.FFmpegError:
        return None
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_ANALYSIS_RATE)
    hop = AUDIO_ANALYSIS_RATE // 50  # 20 ms frames
    energies: list[float] = []
    carry = np.zeros(0, np.float32)
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                x = np.concatenate([carry, out.to_ndarray().reshape(-1)])
                n = len(x) // hop
                if n:
                    blocks = x[: n * hop].reshape(n, hop)
                    energies.extend(np.mean(blocks.astype(np.float64) ** 2, axis=1).tolist())
                carry = x[n * hop :]
    except av.FFmpegError:
        pass  # a damaged audio track is an optional observation: keep what decoded
    if not energies:
        return None
    e = np.asarray(energies)
    rms_db = 10 * math.log10(max(float(e.mean()), 1e-12))
    level_db = 10 * np.log10(np.maximum(e, 1e-12))
    per_second = [
        round(float(v), 1)
        for v in 10 * np.log10(np.maximum(np.add.reduceat(e, np.arange(0, len(e), 50)) / 50, 1e-12))
    ]
    # Onsets: rises of the 20 ms level by more than 6 dB above the previous 100 ms, at least 100 ms apart.
    onsets, last = 0, -10
    for k in range(5, len(level_db)):
        if level_db[k] > -50 and level_db[k] - level_db[k - 5 : k].mean() > 6.0 and k - last >= 5:
            onsets += 1
            last = k
    seconds = len(e) * hop / AUDIO_ANALYSIS_RATE
    return {
        "rms_dbfs": round(rms_db, 1),
        "onsets_per_s": round(onsets / max(seconds, 1e-9), 2),
        "level_curve_dbfs": per_second,
        "silent": rms_db < -60.0,
        "codec": stream.codec_context.name,
    }
