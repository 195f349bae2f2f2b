"""What the video analysis reports: the scenes and the whole-video measurements."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Scene:
    """One shot (or run of shots joined by fades or dissolves), with its measurements."""

    index: int
    start_s: float
    end_s: float
    boundary: str  # how it starts: "start", "cut", "fade" or "dissolve"
    motion: float
    brightness: float
    saturation: float
    hue_histogram: np.ndarray = field(repr=False)
    keyframe: dict[str, float] = field(default_factory=dict, repr=False)
    energy: float = 0.5
    theme: str = "A"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class VideoAnalysis:
    """What :func:`analyse_video` measured."""

    path: Path
    duration_s: float
    width: int
    height: int
    rotation: int
    frame_rate: float  # mean frames per second actually seen (VFR-safe)
    frames: int
    variable_frame_rate: bool
    cuts: list[float]  # hard-cut times (s)
    fades: list[float]  # fade boundary times (s)
    scenes: list[Scene]
    energy_curve: list[float]  # one value per second, 0..1
    motion: float
    audio: dict[str, Any] | None  # source sound measurements, or None without an audio track
    dissolves: list[float] = field(default_factory=list)  # cross-dissolve middle times (s)

    @property
    def boundaries(self) -> list[float]:
        return sorted(self.cuts + self.fades + self.dissolves)

    @property
    def cuts_per_minute(self) -> float:
        return 60.0 * len(self.boundaries) / max(self.duration_s, 1e-9)
