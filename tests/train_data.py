"""Small training datasets the tests build: sine tones whose captions say which tone they are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Two kinds of row: the caption names the tone, in words the tiny T5 tokenizer knows.
TONES = {"low dark calm": 220.0, "high bright energetic": 880.0}
SAMPLE_RATE = 32000


def tone(freq: float, seconds: float, *, phase: float = 0.0, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def build_tone_dataset(
    folder: Path, *, rows: int = 12, seconds: float = 1.0, drop: str | None = None
) -> Path:
    """A dataset folder in weavewave's format (data/train.jsonl + audio/) of ``rows`` sine-tone segments.

    ``drop`` leaves that column out of every row (for the missing-column test).
    """
    import soundfile as sf

    (folder / "audio").mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    captions = list(TONES)
    for i in range(rows):
        caption = captions[i % len(captions)]
        audio = tone(
            TONES[caption],
            seconds,
            phase=float(rng.uniform(0, 2 * np.pi)),
            level=float(rng.uniform(0.3, 0.6)),
        )
        name = f"audio/tone-{i:03d}.flac"
        sf.write(folder / name, audio, SAMPLE_RATE)
        row = {"id": f"tone-{i:03d}", "audio": name, "caption": caption, "tempo_bpm": None}
        if drop:
            row.pop(drop)
        lines.append(json.dumps(row))
    (folder / "data" / "train.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train.jsonl\n---\n"
    )
    return folder
